"""Processed data in the cache, written with a record of its content and verified when read.

Every processed form the data layer caches (the IMDB table, the encoded IMDB matrices,
GloVe matrices parsed from the zip) goes through these two functions:

* :func:`write_verified` writes the file atomically, then a sidecar ``<name>.json``
  (also atomic) with the sha256 of the file's bytes and ``meta``: what the file was built
  from (the checksum of its source) and what it must contain (row counts, shapes).
* :func:`read_verified` uses the file only when the sidecar exists, its ``meta`` equals
  what the caller expects now, the file's sha256 equals the recorded one, and the caller's
  ``reader`` (which also checks counts and label balance) succeeds. Anything else (a
  truncated or rewritten file, a missing or damaged sidecar, a file built from another
  source, a reader error) prints one line on stderr::

      note: cached IMDB table imdb-….parquet failed verification (content hash differs …); rebuilding

  deletes both files and returns ``None``, so the caller rebuilds. A damaged cache is
  never used and never a crash.

The file's hash comes from :func:`._fetch.content_hash`, which remembers it by path,
inode, size, mtime and ctime (ctime cannot be set back), so a large verified file is not
re-read on every load. Two processes building the same cache at once each write whole
files; in the rare interleaving where the surviving file and sidecar come from different
writers, the next reader sees a hash mismatch and rebuilds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from idl_helpers.core import environment
from ._fetch import DataError, content_hash

T = TypeVar("T")

#: bump when the sidecar's layout changes
FORMAT = 1


def sidecar(path: Path) -> Path:
    """The record of ``path``: ``<name>.json`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_verified(path: Path, writer: Callable[[Path], Any], meta: dict) -> Path:
    """Write ``path`` with ``writer(tmp)`` (atomically), then its sidecar with its sha256 and ``meta``."""
    path = Path(path)
    with environment.atomic_path(path) as tmp:
        writer(tmp)
        digest = content_hash(tmp)
        size = tmp.stat().st_size
    record = {"format": FORMAT, "file": path.name, "sha256": digest, "size": size, "meta": meta}
    with environment.atomic_path(sidecar(path)) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _differences(expected: dict, found: Any) -> str:
    if not isinstance(found, dict):
        return "its record has no description of its source"
    keys = sorted(set(expected) | set(found), key=str)
    diff = [f"{k}: {found.get(k)!r}, now expected {expected.get(k)!r}" for k in keys
            if expected.get(k) != found.get(k)]
    return "built for something else (" + "; ".join(diff)[:300] + ")"


def check(path: Path, expect: dict) -> str | None:
    """Why ``path`` cannot be trusted (``None`` when its sidecar vouches for it); no reading of the data."""
    path, side = Path(path), sidecar(path)
    if not side.exists():
        return "it has no verification record" if path.exists() else "it is missing"
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
        stored, size = record["sha256"], record["size"]
        if record.get("format") != FORMAT:
            return f"its record has format {record.get('format')!r}, not {FORMAT}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"its verification record is unreadable ({exc.__class__.__name__})"
    if record.get("meta") != expect:
        return _differences(expect, record.get("meta"))
    if not path.exists():
        return "the file is missing"
    actual_size = path.stat().st_size
    if actual_size != size:
        return f"{actual_size:,} bytes, its record says {size:,}: truncated or rewritten"
    if content_hash(path) != stored:
        return "its content hash differs from its record: changed after it was written"
    return None


def discard(path: Path) -> None:
    """Delete a cache file and its sidecar (missing ones are fine)."""
    for p in (Path(path), sidecar(path)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # the rebuild's atomic replace still succeeds or reports the problem


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def read_verified(path: Path, reader: Callable[[Path], T], expect: dict, *, what: str | None = None) -> T | None:
    """``reader(path)`` when ``path`` passes verification (see the module docstring), else ``None``.

    ``reader`` should raise (any exception) when the loaded content is not what it should be
    (row counts, label balance, shapes); that, too, discards the file. ``None`` without a note
    when the file was never built.
    """
    path = Path(path)
    if not path.exists() and not sidecar(path).exists():
        return None
    label = f"{what} {path.name}" if what else str(path)
    try:
        reason = check(path, expect)
        if reason is None:
            return reader(path)
    except DataError as exc:
        reason = str(exc).splitlines()[0]
    except Exception as exc:  # ArrowInvalid, BadZipFile, ValueError, OSError, …: all mean "damaged"
        reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"[:300]
    note(f"cached {label} failed verification ({reason}); rebuilding")
    discard(path)
    return None


__all__ = ["FORMAT", "check", "discard", "read_verified", "sidecar", "write_verified"]
