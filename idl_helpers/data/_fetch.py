"""Find a data file: local data directory first, then the cache, then the canonical URL.

Every file the book reads is a :class:`Resource` with its canonical download and
checksum. :func:`fetch` returns a path only after the file's checksum matched:

1. ``$IDL_DATA_DIR`` (read only; several relative names may be tried),
2. the cache (``$IDL_CACHE_DIR``, default ``~/.cache/idl-book/downloads``),
3. a download with pooch (skipped when ``$IDL_OFFLINE`` is set).

A file with the wrong checksum is never used: a damaged cached copy is deleted and
downloaded again; a damaged copy in the data directory is reported and skipped.
When nothing usable is found the error names the file, its URL and the variable to set.

Hashing a large file on every load would cost seconds, so :func:`content_hash` remembers
a file's hash under a key of its path, device, inode, size, ``mtime_ns`` **and**
``ctime_ns``. Size and mtime alone are not enough: an edit that keeps the size and sets
the mtime back (``os.utime``) would go unnoticed. The kernel sets ``ctime`` on every
write, ``utime``, ``chmod`` and rename, and no user call can set it back, so an edited
file never matches its old key. A hash is remembered only for a file whose ctime is at
least :data:`RACY_SECONDS` old: on a file system with coarse timestamps, an edit in the
same clock tick as the check that recorded the hash could otherwise keep the same ctime
(git's "racily clean" rule). Such files are simply hashed again next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from idl_helpers.core import environment
from idl_helpers.core.environment import (ChecksumError, DataConfigError, DataCorruptError, DataError,  # noqa: F401 (re-exported)
                      DataNotFoundError, DataUnreadableError)


def unreadable(path: Path, exc: OSError) -> DataUnreadableError:
    """The one-line error for a file that exists but cannot be read, with what to do about it."""
    where = "$" + (environment.CACHE_DIR_ENV if _under(path, _cache_root()) else environment.DATA_DIR_ENV)
    return DataUnreadableError(
        f"cannot read {path} ({exc.__class__.__name__}: {exc.strerror or exc}); check its permissions "
        f"(ls -l {path}) or set {where} to a directory whose files you can read")


def _cache_root() -> Path | None:
    try:
        return environment.cache_dir()
    except DataError:
        return None


def _under(path: Path, root: Path | None) -> bool:
    try:
        return root is not None and Path(path).resolve().is_relative_to(root.resolve())
    except OSError:
        return False


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


#: a file's hash is remembered only once its ctime is this many seconds old (see the module docstring)
RACY_SECONDS = 2.0


def _stamp_file() -> Path:
    return environment.cache_dir() / "verified.json"


def _read_stamps() -> dict:
    try:
        return json.loads(_stamp_file().read_text())
    except (OSError, ValueError):
        return {}


def _stamp_key(path: Path, st: os.stat_result, algorithm: str) -> str:
    return (f"{path.resolve()}|dev={st.st_dev}|ino={st.st_ino}|size={st.st_size}|mtime={st.st_mtime_ns}"
            f"|ctime={st.st_ctime_ns}|{algorithm}")


def content_hash(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of ``path``'s content, remembered by (path, inode, size, mtime, ctime).

    See the module docstring for why this key cannot be fooled by an edit that restores
    size and mtime. A file that cannot be read raises :class:`DataUnreadableError`.
    """
    path = Path(path)
    try:
        st = path.stat()
        key = _stamp_key(path, st, algorithm)
        known = _read_stamps().get(key)
        if known is not None:
            return known
        actual = file_hash(path, algorithm)
        after = path.stat()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise unreadable(path, exc) from exc
    if _stamp_key(path, after, algorithm) == key and time.time() - st.st_ctime_ns / 1e9 >= RACY_SECONDS:
        stamps = _read_stamps()
        prefix = key.split("|", 1)[0] + "|"
        stamps = {k: v for k, v in stamps.items() if not k.startswith(prefix)}  # older versions of this file
        stamps[key] = actual
        try:
            with environment.atomic_path(_stamp_file()) as tmp:
                tmp.write_text(json.dumps(stamps))
        except OSError:
            pass
    return actual


def verify(path: Path, known_hash: str | None) -> tuple[bool, str]:
    """``(matches, actual_hash)``; the hash comes from :func:`content_hash`."""
    if known_hash is None:
        return True, "sha256:" + content_hash(path)
    algorithm, _, expected = known_hash.partition(":")
    actual = content_hash(path, algorithm)
    return actual == expected, f"{algorithm}:{actual}"


def downloads_dir() -> Path:
    """The download cache, created if needed; one that cannot be created is a :class:`DataConfigError`
    naming it and ``$IDL_CACHE_DIR`` (not a bare PermissionError)."""
    d = environment.cache_dir() / "downloads"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataConfigError(f"the download cache {d} cannot be created ({exc.strerror or exc}); "
                              f"make it writable or set {environment.CACHE_DIR_ENV} to a writable directory") from None
    return d


def _not_writable(d: Path, exc: OSError) -> DataConfigError:
    return DataConfigError(f"the download cache {d} is not writable ({exc.strerror or exc}); "
                           f"make it writable or set {environment.CACHE_DIR_ENV} to a writable directory")


def where(resource: Resource) -> list[Path]:
    """Every place :func:`fetch` would look at, in order."""
    places = []
    root = environment.data_dir()
    if root is not None:
        places += [root / rel for rel in resource.candidates()]
    places.append(downloads_dir() / resource.name)
    return places


def _help(resource: Resource) -> str:
    lines = [f"  looked in: {', '.join(str(p) for p in where(resource))}"]
    root = environment.data_dir()
    if root is not None and not root.exists():
        lines.append(f"  note: {environment.DATA_DIR_ENV}={root} does not exist")
    if resource.url:
        lines.append(f"  canonical download: {resource.url}" +
                     (f" ({resource.known_hash})" if resource.known_hash else ""))
    lines.append(f"  fix: put {resource.candidates()[0]!r} in a directory and set "
                 f"{environment.DATA_DIR_ENV}=/that/directory"
                 + ("" if not resource.url else f", or go online (unset {environment.OFFLINE_ENV}) to download it"))
    return "\n".join(lines)


def fetch(resource: Resource, *, download: bool = True) -> Path:
    """The verified local path of ``resource`` (see the module docstring)."""
    mismatches: list[str] = []
    root = environment.data_dir()
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
        try:
            cached.unlink()
        except OSError as exc:
            raise _not_writable(cached.parent, exc) from None
    if not download or environment.offline() or not resource.url:
        if mismatches:
            raise ChecksumError(
                f"{resource.name}: checksum mismatch, the file is not used:\n  "
                + "\n  ".join(mismatches) + "\n" + _help(resource))
        why = "downloads are disabled ($IDL_OFFLINE)" if environment.offline() else \
              "it has no download address" if not resource.url else "download=False"
        raise DataNotFoundError(f"{resource.name} not found and {why}.\n" + _help(resource))
    import pooch

    if not os.access(downloads_dir(), os.W_OK):
        raise _not_writable(downloads_dir(), PermissionError(13, "Permission denied"))
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
    except DataUnreadableError as exc:
        return {"name": resource.name, "status": "unreadable", "path": str(exc)}
    except DataConfigError as exc:
        return {"name": resource.name, "status": "cache unusable", "path": str(exc)}
