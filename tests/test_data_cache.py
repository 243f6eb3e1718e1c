"""Runs that can be trusted: damaged caches are rebuilt, edited sources refused, settings explained.

Each test plants the damage a hostile but fair user reported and checks that it is detected.
All but the CLI check against the real mirror use small generated data in ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idl_helpers import cli, paths
from idl_helpers.data import ChecksumError, DataCorruptError, DataError, Resource, _fetch, fetch, imdb

PER_FOLDER = 5
FOLDERS = ("test/neg", "test/pos", "train/neg", "train/pos")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def review_files(per_folder: int = PER_FOLDER) -> dict[str, bytes]:
    """``relative path -> bytes`` of a tiny data set with the aclImdb layout (ratings agree with labels)."""
    files = {}
    for folder in FOLDERS:
        split, pol = folder.split("/")
        for i in range(per_folder):
            rating = 7 + i % 4 if pol == "pos" else 1 + i % 4
            files[f"{folder}/{i}_{rating}.txt"] = f"Review {i} ({pol}, {split}): {'great' if pol == 'pos' else 'dull'} film.".encode()
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def write_archive(path: Path, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for rel, data in files.items():
            info = tarfile.TarInfo(f"aclImdb/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def manifest(files: dict[str, bytes], prefix: str = "") -> str:
    """The documented manifest digest, computed independently of the library."""
    h = hashlib.sha256()
    for rel in sorted(r for r in files if r.startswith(prefix)):
        h.update(f"{rel}\t{hashlib.sha256(files[rel]).hexdigest()}\n".encode())
    return "sha256:" + h.hexdigest()


def register(monkeypatch, files: dict[str, bytes]) -> None:
    """Make ``files`` the data set whose digests the code knows (as the real ones are registered)."""
    monkeypatch.setattr(imdb, "LABELED_MANIFEST", manifest(files), raising=False)
    monkeypatch.setattr(imdb, "LABELED_FOLDERS", {f: manifest(files, f + "/") for f in FOLDERS}, raising=False)


@pytest.fixture
def tiny_mirror(isolated_data, monkeypatch):
    """A generated ``aclImdb_labeled.tar.gz`` in an empty data directory, registered as the mirror."""
    files = review_files()
    data = write_archive(isolated_data / "aclImdb_labeled.tar.gz", files)
    mirror = Resource("aclImdb_labeled.tar.gz", None, sha256(data), ("aclImdb_labeled.tar.gz",))
    monkeypatch.setattr(imdb, "MIRROR", mirror)
    monkeypatch.setattr(imdb, "RESOURCES", [imdb.ORIGINAL, mirror])
    monkeypatch.setattr(imdb, "EXPECTED_PER_FOLDER", PER_FOLDER)
    return files


def cached_table() -> Path:
    (table,) = (paths.cache_dir() / "imdb").glob("imdb-*.parquet")
    return table


def one_note(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert re.fullmatch(r"note: cached .+ failed verification \(.+\); rebuilding", lines[0]), lines[0]
    return lines[0]


# --------------------------------------------------------------------------- probe 4: edit keeping size + mtime; unreadable files
def test_cached_download_edited_in_place_with_mtime_restored_is_detected(isolated_data, monkeypatch):
    monkeypatch.setattr(_fetch, "RACY_SECONDS", 0.05, raising=False)
    r = Resource("thing.txt", "https://example.org/thing.txt", sha256(b"original"))
    cached = paths.cache_dir() / "downloads" / "thing.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"original")
    time.sleep(0.1)
    assert fetch(r) == cached
    assert any("thing.txt" in k for k in json.loads((paths.cache_dir() / "verified.json").read_text()))
    st = cached.stat()
    with open(cached, "r+b") as fh:
        fh.write(b"tampered")  # same size
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (cached.stat().st_size, cached.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        fetch(r)
    assert not cached.exists()  # a damaged cached copy is deleted


def test_a_remembered_hash_is_used_for_an_unchanged_file(isolated_data, monkeypatch):
    """The stamp still saves the re-hash of a file nobody touched."""
    monkeypatch.setattr(_fetch, "RACY_SECONDS", 0.05, raising=False)
    f = isolated_data / "big.bin"
    f.write_bytes(b"x" * 1000)
    time.sleep(0.1)
    first = _fetch.content_hash(f)
    monkeypatch.setattr(_fetch, "file_hash", lambda *a, **k: pytest.fail("hashed again"))
    assert _fetch.content_hash(f) == first


def test_unreadable_file_is_a_data_error_with_a_hint(isolated_data, monkeypatch, capsys):
    f = isolated_data / "thing.txt"
    f.write_bytes(b"x")

    def denied(path, algorithm="sha256"):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(_fetch, "file_hash", denied)
    with pytest.raises(DataError) as err:
        fetch(Resource("thing.txt", None, sha256(b"x")))
    msg = str(err.value)
    assert "\n" not in msg and str(f) in msg and "Permission denied" in msg
    assert "check its permissions" in msg and paths.DATA_DIR_ENV in msg
