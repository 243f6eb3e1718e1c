"""Bad input, on small generated fixtures: missing, damaged, truncated and re-downloaded files."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idl_helpers.core import environment
from idl_helpers.data import ChecksumError, DataCorruptError, DataNotFoundError, Resource, fetch, glove, imdb


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_imdb_archive(path: Path, per_folder: int = 2) -> bytes:
    """A tiny archive with the aclImdb layout."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for split in ("train", "test"):
            for pol, rating in (("pos", 9), ("neg", 2)):
                for i in range(per_folder):
                    data = f"A {pol} review number {i} of {split}.<br />Fine.".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{pol}/{i}_{rating}.txt")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def test_missing_file_offline_names_file_url_and_variable(isolated_data):
    r = Resource("thing.txt", "https://example.org/data/thing.txt", "sha256:" + "0" * 64, ("sub/thing.txt",))
    with pytest.raises(DataNotFoundError) as err:
        fetch(r)
    msg = str(err.value)
    assert "thing.txt" in msg and "https://example.org/data/thing.txt" in msg
    assert environment.DATA_DIR_ENV in msg and str(isolated_data / "sub" / "thing.txt") in msg


def test_local_file_with_wrong_checksum_is_never_used(isolated_data):
    (isolated_data / "thing.txt").write_bytes(b"tampered")
    r = Resource("thing.txt", "https://example.org/thing.txt", sha256(b"original"))
    with pytest.raises(ChecksumError) as err:
        fetch(r)
    assert "checksum mismatch" in str(err.value) and sha256(b"tampered") in str(err.value)
    (isolated_data / "thing.txt").write_bytes(b"original")
    assert fetch(r) == isolated_data / "thing.txt"


def test_md5_checksums_are_supported(isolated_data):
    (isolated_data / "x.bin").write_bytes(b"abc")
    r = Resource("x.bin", None, "md5:" + hashlib.md5(b"abc").hexdigest())
    assert fetch(r).read_bytes() == b"abc"


@pytest.fixture
def http_server(tmp_path):
    """A file server on the loopback interface (the only network a test may use)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_damaged_cached_copy_is_deleted_and_downloaded_again(isolated_data, http_server, monkeypatch):
    root, url = http_server
    (root / "thing.txt").write_bytes(b"good data")
    r = Resource("thing.txt", f"{url}/thing.txt", sha256(b"good data"))
    cached = environment.cache_dir() / "downloads" / "thing.txt"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"damaged")
    with pytest.raises(ChecksumError):  # offline: the damaged copy is refused, not used
        fetch(r)
    assert not cached.exists()
    monkeypatch.setenv(environment.OFFLINE_ENV, "0")
    cached.write_bytes(b"damaged again")
    assert fetch(r).read_bytes() == b"good data"


def test_download_failing_its_checksum_is_refused(isolated_data, http_server, monkeypatch):
    root, url = http_server
    (root / "thing.txt").write_bytes(b"served but wrong")
    monkeypatch.setenv(environment.OFFLINE_ENV, "0")
    with pytest.raises(ChecksumError):
        fetch(Resource("thing.txt", f"{url}/thing.txt", sha256(b"what we expect")))
    assert not (environment.cache_dir() / "downloads" / "thing.txt").exists()


def test_unreachable_download_is_a_clear_error(isolated_data, http_server, monkeypatch):
    _, url = http_server
    monkeypatch.setenv(environment.OFFLINE_ENV, "0")
    with pytest.raises(DataNotFoundError, match="could not be downloaded"):
        fetch(Resource("absent.txt", f"{url}/absent.txt", sha256(b"x")))


def test_imdb_archive_reader_and_truncation(tmp_path):
    data = make_imdb_archive(tmp_path / "ok.tar.gz")
    df = imdb.read_archive(tmp_path / "ok.tar.gz", progress=False)
    assert len(df) == 8 and set(df.split) == {"train", "test"} and df.label.sum() == 4
    assert set(df.rating) == {2, 9}
    with pytest.raises(DataCorruptError, match="expected 12,500"):
        imdb.check_counts(df, "tiny")
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataCorruptError, match="truncated or damaged"):
        imdb.read_archive(tmp_path / "cut.tar.gz", progress=False)


def test_imdb_incomplete_directory_is_detected(isolated_data, tmp_path):
    make_imdb_archive(tmp_path / "a.tar.gz")
    with tarfile.open(tmp_path / "a.tar.gz") as tf:
        tf.extractall(isolated_data, filter="data")
    with pytest.raises(DataCorruptError, match="expected 12,500"):
        imdb.load_imdb(progress=False)


def test_imdb_missing_everywhere_offline(isolated_data):
    with pytest.raises(DataNotFoundError, match="aclImdb_v1.tar.gz"):
        imdb.load_imdb(progress=False)


def test_glove_from_zip_and_bad_rows(isolated_data, monkeypatch):
    rng = np.random.default_rng(0)
    words = ["the", "movie", "good"]
    vecs = rng.normal(size=(3, 100)).astype(np.float32)
    text = "".join(w + " " + " ".join(f"{x:.5f}" for x in v) + "\n" for w, v in zip(words, vecs))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("glove.6B.100d.txt", text)
    (isolated_data / "glove.6B.zip").write_bytes(buf.getvalue())
    fake = Resource("glove.6B.zip", glove.ZIP.url, "md5:" + hashlib.md5(buf.getvalue()).hexdigest(),
                    glove.ZIP.local_names)
    monkeypatch.setattr(glove, "ZIP", fake)
    glove.load_glove.cache_clear()
    g = glove.load_glove(100)
    assert len(g) == 3 and g.dim == 100
    np.testing.assert_allclose(g.vector("good"), vecs[2], atol=1e-5)
    glove.load_glove.cache_clear()
    # the real md5 of glove.6B.zip does not match our fake file: refused
    monkeypatch.setattr(glove, "ZIP", Resource("glove.6B.zip", glove.ZIP.url, "md5:056ea991adb4740ac6bf1b6d9b50408b",
                                               glove.ZIP.local_names))
    (environment.cache_dir() / "glove").rename(environment.cache_dir() / "glove-old")
    with pytest.raises(ChecksumError):
        glove.load_glove(100)
    glove.load_glove.cache_clear()
    with pytest.raises(DataCorruptError, match="line 2"):
        glove.parse_glove_text(["a 1 2 3", "b 1 2"])


def test_atomic_path_gives_each_writer_its_own_temporary_file(tmp_path):
    final = tmp_path / "cache" / "x.npz"
    with environment.atomic_path(final) as a, environment.atomic_path(final) as b:
        assert a != b and a.suffix == b.suffix == ".npz"
        np.savez(a, v=np.arange(3))
        np.savez(b, v=np.arange(5))
        assert not final.exists()  # nothing is visible before a writer finishes
    assert np.load(final)["v"].tolist() == [0, 1, 2]  # b finished first, then a: the last writer wins, whole
    with pytest.raises(RuntimeError):
        with environment.atomic_path(tmp_path / "cache" / "y.txt") as t:
            t.write_text("half")
            raise RuntimeError("writer died")
    assert sorted(p.name for p in final.parent.iterdir()) == ["x.npz"]  # no debris, no partial file


def _load_imdb_in_a_fresh_process(cache: str) -> tuple[int, str]:
    import os

    os.environ[environment.CACHE_DIR_ENV] = cache
    df = imdb.load_imdb(progress=False)
    return len(df), hashlib.sha1(pd.util.hash_pandas_object(df, index=False).values.tobytes()).hexdigest()


def test_parallel_notebooks_can_build_the_same_cache(mirror, tmp_path, monkeypatch, capsys):
    """Two kernels started together (idl-book run --jobs 2, cold cache in CI) both build the
    IMDB parquet; both must get the complete data set."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        got = list(pool.map(_load_imdb_in_a_fresh_process, [str(tmp_path / "cache")] * 2))
    assert got[0] == got[1] and got[0][0] == 50_000
    left = sorted(p.name for p in (tmp_path / "cache" / "imdb").iterdir())
    assert len(left) == 2 and left[0].startswith("imdb-") and left[0].endswith(".parquet")  # no temp files
    assert left[1] == left[0] + ".json"  # the table's verification record
    monkeypatch.setenv(environment.CACHE_DIR_ENV, str(tmp_path / "cache"))
    capsys.readouterr()
    assert len(imdb.load_imdb(progress=False)) == 50_000
    assert "note:" not in capsys.readouterr().err  # the survivor passes verification: not rebuilt
