"""IMDB Large Movie Review Dataset v1.0 (Maas et al., 2011): 25,000 train + 25,000 test reviews.

Sources, in order:

1. an extracted ``aclImdb/`` directory in ``$IDL_DATA_DIR``;
2. ``aclImdb_labeled.tar.gz`` in ``$IDL_DATA_DIR`` (the offline mirror: the same 50,000
   labeled reviews without ``unsup/`` and the ``.feat`` files; checked by sha256);
3. the canonical ``aclImdb_v1.tar.gz`` (md5-checked), local or downloaded (84 MB).

An extracted directory is used only when its labeled review files are exactly the
data set's: the sha256 of every ``{train,test}/{pos,neg}/ID_RATING.txt`` file, listed by
relative path, hashes to :data:`LABELED_MANIFEST` (:func:`directory_manifest`; hashing
the 50,000 files takes about half a second). Otherwise it is refused with an error that
names the directory, the folders that differ and, when an archive is at hand to compare
with, the first differing file. Other files (``unsup/``, ``*.feat``, ``README``) are ignored.

The reviews are parsed once into a parquet file in the cache, keyed by the source's
checksum (for a directory: its manifest digest, so a repaired file changes the key) and
verified on every read (:mod:`._cache`: content hash, rows, label balance, ratings);
later loads read that file in well under a second.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks

from idl_helpers.core import environment
from ._cache import read_verified, write_verified
from ._fetch import DataCorruptError, DataError, DataNotFoundError, Resource, fetch, unreadable

ORIGINAL = Resource(
    name="aclImdb_v1.tar.gz",
    url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    known_hash="md5:7c2ac02c03563afcf9b574c7e56c153a",
    local_names=("aclImdb_v1.tar.gz",),
    description="Large Movie Review Dataset v1.0 (84 MB)",
)
MIRROR = Resource(
    name="aclImdb_labeled.tar.gz",
    url=None,  # a local re-pack of ORIGINAL's labeled part; it is never downloaded
    known_hash="sha256:8071fe7cc17d21b19a3c9718ed68ffc8bb6c7490959bbe8c8994e5217ea99046",
    local_names=("aclImdb_labeled.tar.gz",),
    description="the 50,000 labeled reviews of aclImdb_v1 (offline mirror, 28 MB)",
)
RESOURCES = [ORIGINAL, MIRROR]

EXPECTED_PER_FOLDER = 12_500
_NAME = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_FILE = re.compile(r"\d+_\d+\.txt")
FOLDERS = ("test/neg", "test/pos", "train/neg", "train/pos")
COLUMNS = ["split", "id", "rating", "label", "text"]
#: bump when the cached table's layout or the rules that build it change
TABLE_VERSION = 2

#: :func:`manifest_digest` of the 50,000 labeled review files, computed from
#: ``aclImdb_labeled.tar.gz`` (sha256 8071fe7c…); aclImdb_v1.tar.gz holds the same files
LABELED_MANIFEST = "sha256:4b0bfdfe140012ba264b743f2f135941b854bb46af27666f7613982147fe8a1a"
#: the same digest over each folder's 12,500 files, to say which folder differs
LABELED_FOLDERS = {
    "test/neg": "sha256:612454b98aeae40aaac7ab7f36907b29c12b918f290880cac8ee22ac60186c33",
    "test/pos": "sha256:9213bbe5ca27860fbfe26ee34a6f4c077f2a333055a81491569aca112c9cf4be",
    "train/neg": "sha256:9cfd6931c80b68e94facfb4ffe93a7c00c5c3ca240dd37450fd0047081bdae10",
    "train/pos": "sha256:dfb9548b1b24f3c6ef344451af9c4d3df931aaea3b547c69190df60e2e73d395",
}


def manifest_digest(entries) -> str:
    """``sha256:`` of the lines ``"<relative path>\\t<sha256 hex of the file>\\n"``, sorted by path."""
    h = hashlib.sha256()
    for rel, digest in sorted(entries):
        h.update(f"{rel}\t{digest}\n".encode("utf-8"))
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """The labeled review files of an ``aclImdb/`` tree: ``(relative path, sha256)`` pairs."""

    entries: tuple[tuple[str, str], ...]

    @property
    def digest(self) -> str:
        return manifest_digest(self.entries)

    def folder(self, name: str) -> list[tuple[str, str]]:
        return [e for e in self.entries if e[0].startswith(name + "/")]

    def differences(self, reference: "Manifest | None" = None) -> list[str]:
        """What differs from the registered digests (and, given ``reference``, the first differing file)."""
        out = []
        for name in FOLDERS:
            files = self.folder(name)
            if len(files) != EXPECTED_PER_FOLDER:
                out.append(f"{name}/ has {len(files):,} review files, expected {EXPECTED_PER_FOLDER:,}")
            elif manifest_digest(files) != LABELED_FOLDERS.get(name):
                out.append(f"{name}/ has {len(files):,} files but their content differs")
        if reference is not None:
            mine, theirs = dict(self.entries), dict(reference.entries)
            for rel in sorted(set(mine) | set(theirs)):
                if mine.get(rel) != theirs.get(rel):
                    what = ("is missing" if rel not in mine else "is not in the data set" if rel not in theirs
                            else "differs from the archive's copy")
                    out.append(f"first differing file: {rel} {what}")
                    break
        return out


def _directory_files(root: Path):
    """``(relative path, path)`` of every labeled review file under ``root``, sorted."""
    found = []
    for name in FOLDERS:
        folder = root / name
        try:
            with os.scandir(folder) as it:
                found += [(f"{name}/{e.name}", Path(e.path)) for e in it if _FILE.fullmatch(e.name) and e.is_file()]
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise unreadable(folder, exc) from exc
    return sorted(found)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from exc


def directory_manifest(root: str | Path) -> Manifest:
    """The :class:`Manifest` of an extracted ``aclImdb/`` directory (every labeled file is hashed)."""
    return Manifest(tuple((rel, hashlib.sha256(_read_bytes(p)).hexdigest())
                          for rel, p in _directory_files(Path(root))))


def archive_manifest(path: str | Path) -> Manifest:
    """The :class:`Manifest` of the labeled review files in a ``.tar.gz`` with the ``aclImdb/`` layout."""
    entries = []
    try:
        with tarfile.open(path, "r:gz") as tf:
            for m in tf:
                match = _NAME.search(m.name) if m.isfile() else None
                if match:
                    rel = m.name[match.start():].lstrip("/").split("/", 1)[1]
                    entries.append((rel, hashlib.sha256(tf.extractfile(m).read()).hexdigest()))
    except PermissionError as exc:
        raise unreadable(Path(path), exc) from exc
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataCorruptError(f"{path}: the archive is truncated or damaged ({exc.__class__.__name__}: "
                               f"{exc})") from exc
    return Manifest(tuple(sorted(entries)))


def _reference_manifest() -> Manifest | None:
    """A verified local archive's manifest, to name the first differing file (``None`` if there is none)."""
    for resource in (MIRROR, ORIGINAL):
        try:
            return archive_manifest(fetch(resource, download=False))
        except DataError:
            continue
    return None


def check_directory(root: str | Path, manifest: Manifest | None = None) -> str:
    """The manifest digest of ``root`` when it holds exactly the data set's labeled reviews.

    Otherwise :class:`DataCorruptError` naming the directory and what differs.
    """
    root = Path(root)
    manifest = manifest or directory_manifest(root)
    digest = manifest.digest
    if digest == LABELED_MANIFEST:
        return digest
    ref = _reference_manifest()
    diffs = manifest.differences(ref) or [f"content digest {digest}, expected {LABELED_MANIFEST}"]
    raise DataCorruptError(
        f"{root}: this aclImdb/ directory is not the data set's {4 * EXPECTED_PER_FOLDER:,} labeled reviews, "
        f"so it is not used: {'; '.join(diffs)}. Restore it (extract aclImdb_v1.tar.gz again) or move it "
        f"out of {root.parent} to use aclImdb_labeled.tar.gz or aclImdb_v1.tar.gz instead")


def _rows_from_names(items) -> pd.DataFrame:
    rows = []
    for name, read in items:
        m = _NAME.search(name)
        if m:
            split, polarity, rid, rating = m.groups()
            rows.append((split, int(rid), int(rating), int(polarity == "pos"), read()))
    return pd.DataFrame(rows, columns=COLUMNS)


def read_archive(path: str | Path, progress: bool = True) -> pd.DataFrame:
    """Every labeled review in a ``.tar.gz`` with the ``aclImdb/`` layout.

    A truncated or damaged archive raises :class:`DataCorruptError`.
    """
    path = Path(path)
    try:
        with tarfile.open(path, "r:gz") as tf:
            members = (m for m in tqdm(tf, desc=f"reading {path.name}", unit=" files",
                                       disable=not progress, mininterval=1.0) if m.isfile())
            items = ((m.name, (lambda m=m: tf.extractfile(m).read().decode("utf-8"))) for m in members)
            df = _rows_from_names(items)
    except PermissionError as exc:
        raise unreadable(path, exc) from exc
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataCorruptError(f"{path}: the archive is truncated or damaged ({exc.__class__.__name__}: "
                               f"{exc}); delete it and download it again") from exc
    return df


def read_directory(root: str | Path, expect_digest: str | None = None) -> pd.DataFrame:
    """Every labeled review under an extracted ``aclImdb/`` directory.

    With ``expect_digest``, the bytes parsed must have that manifest digest (so a file
    changed between the check and the read is not used).
    """
    root = Path(root)
    items, entries = [], []
    for rel, p in _directory_files(root):
        data = _read_bytes(p)
        entries.append((rel, hashlib.sha256(data).hexdigest()))
        items.append((f"aclImdb/{rel}", (lambda data=data: data.decode("utf-8"))))
    if expect_digest is not None and manifest_digest(entries) != expect_digest:
        raise DataCorruptError(f"{root}: the review files changed while they were read; run again")
    return _rows_from_names(items)


def check_counts(df: pd.DataFrame, source: str) -> None:
    """The complete data set has 12,500 reviews in each of train/test × pos/neg, each once,
    and every label agrees with its rating (negative ≤ 4, positive ≥ 7)."""
    counts = df.groupby(["split", "label"]).size()
    bad = {k: int(v) for k, v in counts.items() if v != EXPECTED_PER_FOLDER}
    if bad or len(counts) != 4:
        raise DataCorruptError(f"{source}: expected {EXPECTED_PER_FOLDER:,} reviews per split and label, "
                               f"found {counts.to_dict()}")
    wrong = int(((df["label"] == 1) != (df["rating"] >= 7)).sum())
    if wrong:
        raise DataCorruptError(f"{source}: {wrong:,} reviews have a label that contradicts their rating")
    if df.duplicated(["split", "label", "id"]).any():
        raise DataCorruptError(f"{source}: some reviews appear twice")


def source() -> tuple[str, Path, str]:
    """``(variant, path, fingerprint)`` of the IMDB source that :func:`load_imdb` would read."""
    root = environment.data_dir()
    if root is not None and (root / "aclImdb").is_dir():
        d = root / "aclImdb"
        return "extracted aclImdb/ directory", d, check_directory(d)
    try:
        p = fetch(MIRROR, download=False)
        return "aclImdb_labeled.tar.gz (offline mirror of the 50k labeled reviews)", p, MIRROR.known_hash
    except DataNotFoundError:
        pass
    p = fetch(ORIGINAL)
    return "aclImdb_v1.tar.gz (original)", p, ORIGINAL.known_hash


def load_imdb(split: str | None = None, *, progress: bool = True) -> pd.DataFrame:
    """IMDB reviews: columns ``split, id, rating, label`` (1 = positive) ``, text``.

    ``split`` is ``"train"``, ``"test"`` or ``None`` for both. Rows are sorted by
    split, label and id, so the order does not depend on the archive's order.
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None, not {split!r}")
    variant, path, fingerprint = source()
    key = re.sub(r"[^A-Za-z0-9]+", "-", fingerprint)[:40]
    cached = environment.cache_dir() / "imdb" / f"imdb-v{TABLE_VERSION}-{key}.parquet"
    expect = {"source": fingerprint, "table": TABLE_VERSION, "columns": COLUMNS,
              "rows": 4 * EXPECTED_PER_FOLDER, "per_split_and_label": EXPECTED_PER_FOLDER}

    def read(p: Path) -> pd.DataFrame:
        df = pd.read_parquet(p)
        if list(df.columns) != COLUMNS or len(df) != expect["rows"]:
            raise DataCorruptError(f"{len(df):,} rows with columns {list(df.columns)}")
        check_counts(df, "the table")
        return df

    df = read_verified(cached, read, expect, what="IMDB table")
    if df is None:
        df = read_directory(path, fingerprint) if path.is_dir() else read_archive(path, progress=progress)
        check_counts(df, str(path))
        df = df.sort_values(["split", "label", "id"], ascending=[False, True, True], ignore_index=True)
        write_verified(cached, lambda tmp: df.to_parquet(tmp, index=False), expect)
    if split is not None:
        df = df[df["split"] == split].reset_index(drop=True)
    df.attrs.update(variant=variant, fingerprint=fingerprint)
    return df


def variant() -> str:
    return source()[0]
