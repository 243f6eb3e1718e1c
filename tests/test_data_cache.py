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

from idl_helpers.core import environment
from idl_book import cli
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
    (table,) = (environment.cache_dir() / "imdb").glob("imdb-*.parquet")
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
    cached = environment.cache_dir() / "downloads" / "thing.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"original")
    time.sleep(0.1)
    assert fetch(r) == cached
    assert any("thing.txt" in k for k in json.loads((environment.cache_dir() / "verified.json").read_text()))
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
    assert "check its permissions" in msg and environment.DATA_DIR_ENV in msg


# --------------------------------------------------------------------------- probe 1: truncated parquet
def test_truncated_cached_table_is_rebuilt_not_a_crash(tiny_mirror, capsys):
    df = imdb.load_imdb(progress=False)
    table = cached_table()
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    again = imdb.load_imdb(progress=False)
    pd.testing.assert_frame_equal(again, df)
    assert "IMDB table" in one_note(capsys.readouterr().err)
    assert table.read_bytes() == data  # rebuilt in place, whole
    imdb.load_imdb(progress=False)
    assert capsys.readouterr().err == ""  # and trusted again without a note


# --------------------------------------------------------------------------- probe 2: rewritten parquet
def _tamper(df: pd.DataFrame, drop: int, flip: int) -> pd.DataFrame:
    bad = df.drop(index=range(drop)).reset_index(drop=True)
    bad.loc[: flip - 1, "label"] = 1 - bad.loc[: flip - 1, "label"]
    return bad


def test_rewritten_table_with_rows_dropped_and_labels_flipped_is_rebuilt(tiny_mirror, capsys):
    df = imdb.load_imdb(progress=False)
    table = cached_table()
    _tamper(df, drop=2, flip=2).to_parquet(table, index=False)  # the probe: 500 dropped, 100 flipped
    capsys.readouterr()
    again = imdb.load_imdb(progress=False)
    pd.testing.assert_frame_equal(again, df)
    note = one_note(capsys.readouterr().err)
    assert "truncated or rewritten" in note or "content hash differs" in note


def _swap_labels(df: pd.DataFrame) -> pd.DataFrame:
    """One positive and one negative training review change labels: the balance is kept."""
    bad = df.copy()
    train = bad.index[bad.split == "train"]
    i, j = train[bad.label[train] == 0][0], train[bad.label[train] == 1][0]
    bad.loc[[i, j], "label"] = [1, 0]
    return bad


@pytest.mark.parametrize("tamper, reason", [(lambda df: _tamper(df, drop=2, flip=0), "18 rows"),
                                            (lambda df: _tamper(df, drop=0, flip=1), "expected 5 reviews"),
                                            (_swap_labels, "contradicts their rating")])
def test_rewritten_table_with_a_forged_record_is_still_caught(tiny_mirror, capsys, tamper, reason):
    """Someone who also rewrites the sidecar's hash is still caught by the counts, balance and ratings."""
    df = imdb.load_imdb(progress=False)
    table = cached_table()
    tamper(df).to_parquet(table, index=False)
    side = table.with_name(table.name + ".json")
    record = json.loads(side.read_text())
    record.update(sha256=hashlib.sha256(table.read_bytes()).hexdigest(), size=table.stat().st_size)
    side.write_text(json.dumps(record))
    capsys.readouterr()
    pd.testing.assert_frame_equal(imdb.load_imdb(progress=False), df)
    assert reason in one_note(capsys.readouterr().err)


def test_table_built_from_another_source_is_not_used(tiny_mirror, capsys, isolated_data, monkeypatch):
    """The cache is keyed by the source's checksum: a different archive gives a different table."""
    df = imdb.load_imdb(progress=False)
    files = dict(tiny_mirror)
    files["train/pos/0_7.txt"] = b"A different first review."
    data = write_archive(isolated_data / "aclImdb_labeled.tar.gz", files)
    other = Resource("aclImdb_labeled.tar.gz", None, sha256(data), ("aclImdb_labeled.tar.gz",))
    monkeypatch.setattr(imdb, "MIRROR", other)
    new = imdb.load_imdb(progress=False)
    assert (new.text != df.text).sum() == 1 and "A different first review." in set(new.text)
    assert new.attrs["fingerprint"] == other.known_hash != df.attrs["fingerprint"]


# --------------------------------------------------------------------------- encoded matrices, GloVe zip cache
def test_encoded_matrices_damaged_or_rewritten_are_rebuilt(tiny_mirror, capsys):
    from idl_helpers.data.imdb_glove import prepare_imdb

    data = prepare_imdb(max_len=12)
    (npz,) = (environment.cache_dir() / "imdb").glob("encoded-*.npz")
    raw = npz.read_bytes()
    npz.write_bytes(raw[: len(raw) // 3])
    capsys.readouterr()
    again = prepare_imdb(max_len=12)
    np.testing.assert_array_equal(again.train.ids, data.train.ids)
    assert "encoded IMDB" in one_note(capsys.readouterr().err)
    with np.load(npz) as z:
        vocab, ids, lengths = z["vocab"], z["ids"], z["lengths"]
    np.savez(npz, vocab=vocab, ids=np.roll(ids, 1, axis=0), lengths=lengths)  # rows shuffled
    assert npz.suffix == ".npz" and npz.exists()
    capsys.readouterr()
    np.testing.assert_array_equal(prepare_imdb(max_len=12).test.ids, data.test.ids)
    one_note(capsys.readouterr().err)


def test_glove_matrix_from_the_zip_damaged_is_rebuilt(isolated_data, monkeypatch, capsys):
    import zipfile

    from idl_helpers.data import glove

    vecs = np.random.default_rng(0).normal(size=(3, 100)).astype(np.float32)
    text = "".join(w + " " + " ".join(f"{x:.5f}" for x in v) + "\n" for w, v in zip(["a", "b", "c"], vecs))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("glove.6B.100d.txt", text)
    (isolated_data / "glove.6B.zip").write_bytes(buf.getvalue())
    monkeypatch.setattr(glove, "ZIP", Resource("glove.6B.zip", None, "md5:" + hashlib.md5(buf.getvalue()).hexdigest(),
                                               glove.ZIP.local_names))
    glove.load_glove.cache_clear()
    first = np.asarray(glove.load_glove(100).vectors).copy()
    (npy,) = (environment.cache_dir() / "glove").glob("*.npy")
    npy.write_bytes(npy.read_bytes()[:-40])  # truncated
    glove.load_glove.cache_clear()
    capsys.readouterr()
    np.testing.assert_array_equal(np.asarray(glove.load_glove(100).vectors), first)
    assert "GloVe vectors" in one_note(capsys.readouterr().err)
    glove.load_glove.cache_clear()


# --------------------------------------------------------------------------- the helper itself
def test_verified_cache_helper_refuses_every_kind_of_damage(tmp_path, capsys):
    from idl_helpers.data._cache import read_verified, sidecar, write_verified

    p = tmp_path / "c" / "thing.txt"
    read = lambda q: q.read_text()  # noqa: E731
    assert read_verified(p, read, {"v": 1}) is None and capsys.readouterr().err == ""  # never built: no note
    write_verified(p, lambda t: t.write_text("content"), {"v": 1})
    assert read_verified(p, read, {"v": 1}) == "content"
    assert read_verified(p, read, {"v": 2}) is None  # built from something else
    assert "built for something else" in one_note(capsys.readouterr().err) and not p.exists()
    for damage, reason in [(lambda: sidecar(p).unlink(), "no verification record"),
                           (lambda: sidecar(p).write_text("{not json"), "record is unreadable"),
                           (lambda: p.write_text("CONTENT"), "content hash differs")]:
        write_verified(p, lambda t: t.write_text("content"), {"v": 1})
        damage()
        assert read_verified(p, read, {"v": 1}) is None
        assert reason in one_note(capsys.readouterr().err)
        assert not p.exists() and not sidecar(p).exists()
    write_verified(p, lambda t: t.write_text("content"), {"v": 1})

    def picky(q):
        raise ValueError("not what it should be")
    assert read_verified(p, picky, {"v": 1}) is None
    assert "ValueError: not what it should be" in one_note(capsys.readouterr().err)


def test_every_cache_write_goes_through_the_verified_helper():
    """No processed-data cache is written with a bare atomic_path (the stamps file is not data;
    results files and the run log are the book's records, written by results.py and runner.py)."""
    root = Path(__file__).resolve().parent.parent
    uses = {str(p.relative_to(root)) for pkg in ("idl_helpers", "idl_book") for p in (root / pkg).rglob("*.py")
            if "atomic_path(" in p.read_text()}
    assert uses == {"idl_helpers/core/environment.py", "idl_helpers/data/_fetch.py", "idl_helpers/data/_cache.py",
                    "idl_helpers/core/results.py", "idl_book/runner.py"}, uses


# --------------------------------------------------------------------------- probe 3: edited aclImdb/
def test_edited_directory_is_refused_naming_directory_folder_and_file(isolated_data, monkeypatch):
    files = review_files()
    root = write_tree(isolated_data / "aclImdb", files)
    register(monkeypatch, files)
    monkeypatch.setattr(imdb, "EXPECTED_PER_FOLDER", PER_FOLDER)
    assert len(imdb.load_imdb(progress=False)) == 4 * PER_FOLDER
    edited = root / "train/pos/3_10.txt"
    edited.write_bytes(b"Replaced by someone: not the review.")
    with pytest.raises(DataCorruptError) as err:
        imdb.load_imdb(progress=False)
    msg = str(err.value)
    assert str(root) in msg and "train/pos/" in msg and "not used" in msg
    assert "test/neg" not in msg  # only the folder that differs is named
    # with a verified archive at hand, the first differing file is named too
    data = write_archive(isolated_data / "aclImdb_labeled.tar.gz", files)
    monkeypatch.setattr(imdb, "MIRROR", Resource("aclImdb_labeled.tar.gz", None, sha256(data), ("aclImdb_labeled.tar.gz",)))
    with pytest.raises(DataCorruptError, match=r"first differing file: train/pos/3_10\.txt differs"):
        imdb.load_imdb(progress=False)
    # a missing file is named as such
    edited.unlink()
    with pytest.raises(DataCorruptError, match=r"train/pos/ has 4 review files, expected 5.*3_10\.txt is missing"):
        imdb.load_imdb(progress=False)


def test_directory_cache_is_keyed_by_content_so_a_repair_is_seen(isolated_data, monkeypatch):
    """The probe: the old key (the file count) kept serving an edited text after the repair."""
    files = review_files()
    root = write_tree(isolated_data / "aclImdb", files)
    monkeypatch.setattr(imdb, "EXPECTED_PER_FOLDER", PER_FOLDER)
    rel, good = "train/neg/2_3.txt", files["train/neg/2_3.txt"].decode()
    edited = dict(files, **{rel: b"An edited review."})
    write_tree(root, edited)
    register(monkeypatch, edited)  # pretend the edited set were the registered one: it is used
    assert "An edited review." in set(imdb.load_imdb(progress=False).text)
    write_tree(root, files)  # repaired (same file count)
    register(monkeypatch, files)
    df = imdb.load_imdb(progress=False)
    assert "An edited review." not in set(df.text) and good in set(df.text)
    assert df.attrs["fingerprint"] == manifest(files)


def test_registered_digest_is_the_mirrors(mirror):
    """The constant in the code is the manifest of the real mirror's 50,000 labeled reviews."""
    path = mirror / "aclImdb_labeled.tar.gz"
    if not path.exists():
        pytest.skip("aclImdb_labeled.tar.gz not in the data directory")
    m = imdb.archive_manifest(path)
    assert len(m.entries) == 50_000 and m.digest == imdb.LABELED_MANIFEST
    assert all(imdb.manifest_digest(m.folder(f)) == d for f, d in imdb.LABELED_FOLDERS.items())


def test_unreadable_review_file_in_a_directory_is_a_data_error(isolated_data, monkeypatch):
    write_tree(isolated_data / "aclImdb", review_files())
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "1_8.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(DataError, match=r"cannot read .*1_8\.txt.*check its permissions"):
        imdb.load_imdb(progress=False)


# --------------------------------------------------------------------------- settings and CLI messages
def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_fetch_unknown_name_exits_2_naming_the_known_ones(capsys):
    assert cli.main(["data", "fetch", "nosuchname"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: unknown data set or file 'nosuchname'; known: imdb, glove, ptb, shakespeare, ")
    assert "aclImdb_v1.tar.gz" in line


def test_fetch_imdb_with_only_optional_files_missing_exits_0(mirror, capsys):
    if not (mirror / "aclImdb_labeled.tar.gz").exists() or (mirror / "aclImdb_v1.tar.gz").exists():
        pytest.skip("needs the mirror archive without the original")
    assert cli.main(["data", "fetch", "imdb"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^aclImdb_v1\.tar\.gz: missing \(ok\): not needed while", out, re.M), out
    assert re.search(r"^aclImdb_labeled\.tar\.gz: /", out, re.M), out


def test_fetch_imdb_with_nothing_exits_1(isolated_data, capsys):
    assert cli.main(["data", "fetch", "imdb"]) == 1
    err = capsys.readouterr().err
    assert "error: aclImdb_v1.tar.gz" in err and "missing (ok)" not in err


def test_fetch_imdb_reports_a_refused_directory(isolated_data, capsys):
    """load_imdb reads an aclImdb/ directory first, so `data fetch imdb` must not pass a bad one."""
    write_tree(isolated_data / "aclImdb", review_files())  # not the registered data set
    assert cli.main(["data", "fetch", "imdb"]) == 1
    assert "error: " + str(isolated_data / "aclImdb") + ": this aclImdb/ directory" in capsys.readouterr().err


def test_data_dir_that_is_a_file_is_named_as_such(tmp_path, monkeypatch, capsys):
    f = tmp_path / "data.txt"
    f.write_text("not a directory")
    monkeypatch.setenv(environment.DATA_DIR_ENV, str(f))
    with pytest.raises(DataError, match=rf"^{environment.DATA_DIR_ENV}=.*data\.txt is not a directory"):
        environment.data_dir()
    with pytest.raises(DataError, match="is not a directory"):
        fetch(Resource("x.txt", None, None))
    assert cli.main(["data", "fetch", "ptb"]) == 2
    assert "is not a directory" in _one_error_line(capsys.readouterr().err)


def test_cache_dir_that_is_a_file_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    f = tmp_path / "cache.txt"
    f.write_text("")
    monkeypatch.setenv(environment.CACHE_DIR_ENV, str(f))
    assert cli.main(["data", "status"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{environment.CACHE_DIR_ENV}={f} is not a directory" in line


# --------------------------------------------------------------------------- CI: no mirror is a failure
def _pytest_with_conftest(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parent
    (tmp_path / "conftest.py").write_text((root / "conftest.py").read_text())
    (tmp_path / "test_needs_data.py").write_text("def test_needs_data(mirror):\n    assert mirror.is_dir()\n")
    full = {**os.environ, "PYTHONPATH": str(root.parent), **env}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_needs_data.py"],
                          cwd=tmp_path, env=full, capture_output=True, text=True, timeout=120)


def test_missing_mirror_skips_locally_and_fails_when_data_is_required(tmp_path):
    missing = str(tmp_path / "no-such-dir")
    local = _pytest_with_conftest(tmp_path, IDL_DATA_DIR=missing, IDL_REQUIRE_DATA="")
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout
    ci = _pytest_with_conftest(tmp_path, IDL_DATA_DIR=missing, IDL_REQUIRE_DATA="1")
    assert ci.returncode == 1 and "IDL_REQUIRE_DATA=1" in ci.stdout, ci.stdout
    ci_run = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert re.search(r"^export IDL_REQUIRE_DATA=1$", ci_run, re.M)
