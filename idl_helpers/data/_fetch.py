"""Find a data file: local data directory first, then the cache, then the canonical URL.

Every file the book reads is a :class:`Resource` with its canonical download and
checksum. :func:`fetch` returns a path only after the file's checksum matched:

1. ``$IDL_DATA_DIR`` (read only; several relative names may be tried),
2. the cache (``$IDL_CACHE_DIR``, default ``~/.cache/idl-book/downloads``),
3. a download with pooch (skipped when ``$IDL_OFFLINE`` is set).

A file with the wrong checksum is never used: a damaged cached copy is deleted and
downloaded again; a damaged copy in the data directory is reported and skipped.
When nothing usable is found the error names the file, its URL and the variable to set.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths


class DataError(RuntimeError):
    """Base class of the data layer's errors."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A file is in none of the places looked at and cannot be downloaded."""


class ChecksumError(DataError):
    """A file's checksum does not match the registry's."""


class DataCorruptError(DataError):
    """A file has the right name but cannot be read completely (e.g. a truncated archive)."""


@dataclass(frozen=True)
class Resource:
    """One file: its name, canonical URL, checksum (``sha256:…`` / ``md5:…``) and local names."""

    name: str
    url: str | None
    known_hash: str | None
    local_names: tuple[str, ...] = ()
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def candidates(self) -> list[str]:
        return list(self.local_names) or [self.name]


def file_hash(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp_file() -> Path:
    return paths.cache_dir() / "verified.json"


def _read_stamps() -> dict:
    try:
        return json.loads(_stamp_file().read_text())
    except (OSError, ValueError):
        return {}


def verify(path: Path, known_hash: str | None) -> tuple[bool, str]:
    """``(matches, actual_hash)``. Results are remembered by (path, size, mtime)."""
    if known_hash is None:
        return True, "sha256:" + file_hash(path)
    algorithm, _, expected = known_hash.partition(":")
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{algorithm}"
    stamps = _read_stamps()
    actual = stamps.get(key)
    if actual is None:
        actual = file_hash(path, algorithm)
        stamps[key] = actual
        try:
            with paths.atomic_path(_stamp_file()) as tmp:
                tmp.write_text(json.dumps(stamps))
        except OSError:
            pass
    return actual == expected, f"{algorithm}:{actual}"


def downloads_dir() -> Path:
    d = paths.cache_dir() / "downloads"
    d.mkdir(parents=True, exist_ok=True)
    return d


def where(resource: Resource) -> list[Path]:
    """Every place :func:`fetch` would look at, in order."""
    places = []
    root = paths.data_dir()
    if root is not None:
        places += [root / rel for rel in resource.candidates()]
    places.append(downloads_dir() / resource.name)
    return places


def _help(resource: Resource) -> str:
    lines = [f"  looked in: {', '.join(str(p) for p in where(resource))}"]
    if resource.url:
        lines.append(f"  canonical download: {resource.url}" +
                     (f" ({resource.known_hash})" if resource.known_hash else ""))
    lines.append(f"  fix: put {resource.candidates()[0]!r} in a directory and set "
                 f"{paths.DATA_DIR_ENV}=/that/directory"
                 + ("" if not resource.url else f", or go online (unset {paths.OFFLINE_ENV}) to download it"))
    return "\n".join(lines)


def fetch(resource: Resource, *, download: bool = True) -> Path:
    """The verified local path of ``resource`` (see the module docstring)."""
    mismatches: list[str] = []
    root = paths.data_dir()
    if root is not None:
        for rel in resource.candidates():
            p = root / rel
            if p.is_file():
                ok, actual = verify(p, resource.known_hash)
                if ok:
                    return p
                mismatches.append(f"{p}: expected {resource.known_hash}, got {actual}")
    cached = downloads_dir() / resource.name
    if cached.is_file():
        ok, actual = verify(cached, resource.known_hash)
        if ok:
            return cached
        mismatches.append(f"{cached}: expected {resource.known_hash}, got {actual} (deleted)")
        cached.unlink()
    if not download or paths.offline() or not resource.url:
        if mismatches:
            raise ChecksumError(
                f"{resource.name}: checksum mismatch, the file is not used:\n  "
                + "\n  ".join(mismatches) + "\n" + _help(resource))
        why = "downloads are disabled ($IDL_OFFLINE)" if paths.offline() else \
              "it has no download address" if not resource.url else "download=False"
        raise DataNotFoundError(f"{resource.name} not found and {why}.\n" + _help(resource))
    import pooch

    try:
        got = pooch.retrieve(resource.url, known_hash=resource.known_hash, fname=resource.name,
                             path=downloads_dir(), progressbar=True)
    except ValueError as exc:  # pooch: hash mismatch after download
        raise ChecksumError(f"{resource.name}: downloaded file failed its checksum: {exc}\n"
                            + _help(resource)) from exc
    except Exception as exc:  # network errors of every kind
        raise DataNotFoundError(f"{resource.name} could not be downloaded ({exc.__class__.__name__}: "
                                f"{exc}).\n" + _help(resource)) from exc
    return Path(got)


def status(resource: Resource) -> dict:
    """Where a resource would come from now, without downloading it."""
    try:
        p = fetch(resource, download=False)
        return {"name": resource.name, "status": "ok", "path": str(p)}
    except ChecksumError as exc:
        return {"name": resource.name, "status": "checksum mismatch", "path": str(exc).splitlines()[1].strip()}
    except DataNotFoundError:
        return {"name": resource.name, "status": "missing", "path": resource.url or "-"}
