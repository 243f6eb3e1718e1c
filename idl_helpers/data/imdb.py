"""IMDB Large Movie Review Dataset v1.0 (Maas et al., 2011): 25,000 train + 25,000 test reviews.

Sources, in order:

1. an extracted ``aclImdb/`` directory in ``$IDL_DATA_DIR``;
2. ``aclImdb_labeled.tar.gz`` in ``$IDL_DATA_DIR`` (the offline mirror: the same 50,000
   labeled reviews without ``unsup/`` and the ``.feat`` files; checked by sha256);
3. the canonical ``aclImdb_v1.tar.gz`` (md5-checked), local or downloaded (84 MB).

The reviews are parsed once into a parquet file in the cache (keyed by the source's
checksum) and verified on every read (:mod:`._cache`: content hash, rows, label balance,
ratings); later loads read that file in well under a second.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from pathlib import Path

import pandas as pd
from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks

from .. import paths
from ._cache import read_verified, write_verified
from ._fetch import DataCorruptError, DataNotFoundError, Resource, fetch, unreadable

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
COLUMNS = ["split", "id", "rating", "label", "text"]
#: bump when the cached table's layout or the rules that build it change
TABLE_VERSION = 2


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


def read_directory(root: str | Path) -> pd.DataFrame:
    """Every labeled review under an extracted ``aclImdb/`` directory."""
    root = Path(root)
    files = sorted(root.glob("*/*/*.txt"))
    items = ((f"aclImdb/{f.relative_to(root).as_posix()}", (lambda f=f: f.read_text(encoding="utf-8")))
             for f in files)
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
    root = paths.data_dir()
    if root is not None and (root / "aclImdb").is_dir():
        d = root / "aclImdb"
        fingerprint = "dir-" + str(sum(1 for _ in d.glob("*/*/*.txt")))
        return "extracted aclImdb/ directory", d, fingerprint
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
    cached = paths.cache_dir() / "imdb" / f"imdb-v{TABLE_VERSION}-{key}.parquet"
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
        df = read_directory(path) if path.is_dir() else read_archive(path, progress=progress)
        check_counts(df, str(path))
        df = df.sort_values(["split", "label", "id"], ascending=[False, True, True], ignore_index=True)
        write_verified(cached, lambda tmp: df.to_parquet(tmp, index=False), expect)
    if split is not None:
        df = df[df["split"] == split].reset_index(drop=True)
    df.attrs.update(variant=variant, fingerprint=fingerprint)
    return df


def variant() -> str:
    return source()[0]
