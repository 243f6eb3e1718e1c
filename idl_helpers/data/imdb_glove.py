"""IMDB reviews as padded id matrices over a GloVe-initialised vocabulary.

One call gives every IMDB experiment the same inputs::

    data = prepare_imdb(max_len=100, glove_dim=50)
    data.train.ids      # (25000, 100) int64, 0 = padding, right-padded
    data.train.lengths  # real tokens per review (≥ 1)
    data.embeddings     # (V, d) float32; rows 0 (padding), 1 (<unk>) and words GloVe lacks are zero
    data.in_glove       # (V,) bool, False for padding, <unk> and words GloVe lacks
    data.oov            # OOVReport: how many vocabulary words GloVe lacks

The vocabulary is every token of both splits (the embeddings are fixed, so test words
leak no labels); tokens missing from GloVe keep their own id with a zero vector, so
per-word displays can mark them. New text (:meth:`EncodedIMDB.encode`) maps words the
data never contained to ``<unk>`` (id 1, zero vector). Encoded matrices are cached per
(source checksum, max_len, tokenizer version) and verified when read (:mod:`.data._cache`:
content hash, shapes, id range); a damaged file is rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from idl_helpers.core import environment
from idl_helpers.data import glove as glove_mod
from idl_helpers.data import imdb
from idl_helpers.data._cache import read_verified, write_verified
from idl_helpers.data.text import TOKENIZER_VERSION, letters_tokens, tokenize_all

PAD, UNK = "<pad>", "<unk>"


@dataclass
class Split:
    ids: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    review_ids: np.ndarray
    ratings: np.ndarray
    texts: list[str] = field(repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "Split":
        return Split(self.ids[index], self.lengths[index], self.labels[index], self.review_ids[index],
                     self.ratings[index], [self.texts[i] for i in index])

    def tensors(self, device: str = "cpu"):
        """``(ids, lengths, labels)`` as torch tensors on ``device``."""
        import torch

        return (torch.as_tensor(self.ids, device=device), torch.as_tensor(self.lengths, device=device),
                torch.as_tensor(self.labels, device=device))


@dataclass
class EncodedIMDB:
    vocab: list[str]
    embeddings: np.ndarray
    in_glove: np.ndarray
    oov: glove_mod.OOVReport
    train: Split
    test: Split
    max_len: int
    variant: str

    def __post_init__(self):
        self._index = pd.Index(self.vocab)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
        """Encode new texts with the same rule: ``(ids, lengths, tokens)``; words the data never
        contained get the ``<unk>`` id 1 (a zero vector, like every word GloVe lacks)."""
        toks = tokenize_all(texts, self.max_len)
        ids = np.zeros((len(toks), self.max_len), dtype=np.int64)
        lengths = np.zeros(len(toks), dtype=np.int64)
        for i, t in enumerate(toks):
            idx = self._index.get_indexer(t)
            idx[idx < 0] = 1
            ids[i, : len(t)] = idx
            lengths[i] = len(t)
        return ids, lengths, toks

    def word_in_glove(self, word: str) -> bool:
        i = self._index.get_indexer([word])[0]
        return bool(i > 1 and self.in_glove[i])


def _encode_all(df: pd.DataFrame, max_len: int):
    toks = tokenize_all(df["text"].tolist(), max_len)
    vocab = [PAD, UNK] + sorted({w for t in toks for w in t} - {PAD, UNK})
    index = pd.Index(vocab)
    ids = np.zeros((len(toks), max_len), dtype=np.int64)
    lengths = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
    flat = index.get_indexer([w for t in toks for w in t])
    rows = np.repeat(np.arange(len(toks)), lengths)
    cols = np.concatenate([np.arange(n) for n in lengths]) if len(toks) else np.array([], int)
    ids[rows, cols] = flat
    return vocab, ids, lengths


def _encoded(df: pd.DataFrame, max_len: int):
    """``(vocab, ids, lengths)`` of ``df``'s texts, from the verified cache or encoded now."""
    source = df.attrs["fingerprint"]  # the checksum of the reviews' source (see imdb.load_imdb)
    key = f"v{TOKENIZER_VERSION}-u2-L{max_len}-{re.sub(r'[^A-Za-z0-9]+', '-', source)[:24]}"
    cache = environment.cache_dir() / "imdb" / f"encoded-{key}.npz"
    expect = {"source": source, "rows": len(df), "max_len": max_len, "tokenizer": TOKENIZER_VERSION}

    def read(p):
        with np.load(p, allow_pickle=False) as z:
            vocab, ids, lengths = z["vocab"].tolist(), z["ids"], z["lengths"]
        if ids.shape != (len(df), max_len) or lengths.shape != (len(df),):
            raise ValueError(f"ids {ids.shape} / lengths {lengths.shape}, expected ({len(df)}, {max_len})")
        if vocab[:2] != [PAD, UNK] or (ids.size and not 0 <= ids.min() <= ids.max() < len(vocab)):
            raise ValueError("ids outside the vocabulary")
        if lengths.size and not 0 <= lengths.min() <= lengths.max() <= max_len:
            raise ValueError("lengths outside [0, max_len]")
        return vocab, ids, lengths

    got = read_verified(cache, read, expect, what="encoded IMDB")
    if got is None:
        got = _encode_all(df, max_len)
        vocab, ids, lengths = got
        write_verified(cache, lambda tmp: np.savez(tmp, vocab=np.asarray(vocab, dtype=str), ids=ids,
                                                   lengths=lengths), expect)
    return got


def balanced_subset(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Indices of a random subset of ``n`` rows, half of each label (all rows when ``n`` is None)."""
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    take = np.concatenate([rng.choice(pos, n // 2, replace=False), rng.choice(neg, n - n // 2, replace=False)])
    return np.sort(take)


def validation_split(split: Split, fraction: float = 0.1, seed: int = 0) -> tuple[Split, Split]:
    """``(train, validation)``: a stratified random ``fraction`` of ``split`` held out for model
    selection (best epoch, best setting, best seed), the rest to train on. Fixed by ``seed``; each
    label keeps its share (``round(fraction × count)`` of each held out); both parts keep the
    original row order."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(split.labels):
        rows = np.flatnonzero(split.labels == label)
        held.append(rng.choice(rows, int(round(fraction * len(rows))), replace=False))
    held = np.sort(np.concatenate(held))
    keep = np.setdiff1d(np.arange(len(split)), held)
    return split.subset(keep), split.subset(held)


def prepare_imdb(max_len: int = 100, glove_dim: int = 50, *, n_train: int | None = None,
                 n_test: int | None = None, seed: int = 0, oov: str = "zero") -> EncodedIMDB:
    """Encoded IMDB (see the module docstring); ``n_train``/``n_test`` take balanced random subsets."""
    df = imdb.load_imdb(progress=False)
    variant = df.attrs.get("variant", "?")
    vocab, ids, lengths = _encoded(df, max_len)
    g = glove_mod.load_glove(glove_dim)
    emb, report = g.embedding_matrix(vocab[2:], oov=oov, seed=seed)
    emb = np.vstack([np.zeros((2, g.dim), np.float32), emb])
    in_glove = np.concatenate([[False, False], g.indices(vocab[2:]) >= 0])
    # reviews with no letter at all would have length 0: give them one padding step
    lengths = np.maximum(lengths, 1)
    splits = {}
    for name, n in (("train", n_train), ("test", n_test)):
        rows = np.flatnonzero(df["split"].to_numpy() == name)
        full = Split(ids[rows], lengths[rows], df["label"].to_numpy()[rows].astype(np.int64),
                     df["id"].to_numpy()[rows], df["rating"].to_numpy()[rows], df["text"].iloc[rows].tolist())
        splits[name] = full.subset(balanced_subset(full.labels, n, seed + (name == "test")))
    return EncodedIMDB(vocab, emb, in_glove, report, splits["train"], splits["test"], max_len, variant)


__all__ = ["EncodedIMDB", "Split", "balanced_subset", "letters_tokens", "prepare_imdb", "validation_split"]
