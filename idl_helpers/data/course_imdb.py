"""The ``course`` data variant: the course's own IMDB pipeline, re-implemented on the mirror.

What the course's starter code did (read in the public copy of the exercise, repository
``damebrown/IDL_ex2``, file ``loader.py`` (``get_dataset``), used by ``sentiment.py`` of the same
repository; Keras 2.x / TensorFlow 2.x, 2020-21). This module describes and re-implements
that behaviour; none of its code is copied.

1. **Data.** One table of the 50,000 labeled IMDB reviews (the course read Kaggle's
   ``IMDB Dataset.csv``, the same reviews as aclImdb's labeled train + test; here they come
   from :func:`.imdb.load_imdb`, in its order: split, label, id). Label 1 = positive.
2. **Shuffle.** ``np.random.permutation(50000)`` on the whole table, **without a seed** in
   the course (every run drew another split). Here the permutation is
   ``np.random.RandomState(seed).permutation(50000)``, the same legacy generator the course's
   call used, with the seed recorded in :attr:`CourseIMDB.data_variant`.
3. **Cleaning** (``normalize_texts`` → ``preprocess_text`` in ``loader.py``), in this order:
   ``str.lower()``; HTML tags ``<[^>]+>`` removed (replaced by nothing, so ``a<br />b`` becomes
   ``ab``); every character that is not an ASCII letter ``[^a-zA-Z]`` replaced by a space;
   "single character removal" ``\\s+[a-zA-Z]\\s+`` → one space; runs of whitespace → one
   space. The single-letter rule is a regular-expression substitution, so it has the quirks
   of one: a letter at the very start or end of the text survives (there is no whitespace on
   one side), and of consecutive single letters only every other one is removed (the match
   consumes the space the next one needed: ``x a b c y`` → ``x b y``). We keep the quirks.
4. **Tokenizer.** Keras ``Tokenizer(num_words=5000)`` fitted on all 50,000 cleaned texts
   (train and test, after the shuffle). Its rules, confirmed in the Keras source
   (repository ``keras-team/keras-preprocessing``, file ``keras_preprocessing/text.py``:
   ``text_to_word_sequence``, ``Tokenizer.fit_on_texts``, ``Tokenizer.texts_to_sequences``):
   words come from lower-casing, replacing each of the default ``filters``
   ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~`` plus tab and newline by the split character ``' '``,
   splitting on ``' '`` and dropping empty strings; ``word_counts`` is an ordered dict in
   order of first occurrence, and the index sorts it by count descending with Python's
   stable sort, so **ties keep first-occurrence order**; ids start at 1 (0 is reserved);
   ``texts_to_sequences`` keeps a word only if its id is ``< num_words`` (ids 1…4,999: the
   4,999 most frequent words) and silently **drops** every other word (no ``oov_token``).
5. **Split.** The first 500 shuffled rows are the test set, the other 49,500 the training
   set (the course fitted the tokenizer before splitting). ``loader.py`` then overwrote the
   first three *test texts* (not their labels) with three hand-written sentences
   (:data:`OWN_TEST_TEXTS`); :func:`prepare_course_imdb` does the same unless
   ``own_test_texts=False``.
6. **Window.** ``pad_sequences(maxlen=100, padding='post')`` with the default
   ``truncating='pre'`` and ``value=0`` (repository ``keras-team/keras-preprocessing``, file
   ``keras_preprocessing/sequence.py``): a longer sequence keeps its **last** 100 ids, a
   shorter one is written from position 0 and zero-padded after.
7. **Embeddings.** GloVe 6B (the course: 100-d, ``glove.6B.100d.txt``): row *i* is the vector
   of the word with id *i*, a zero vector where GloVe lacks the word and for id 0. The course
   built rows for every word of the index (about 100k); only rows < 5,000 can ever be looked
   up, so :attr:`CourseIMDB.embeddings` holds those 5,000 rows. The layer was frozen, so the
   report's parameter counts exclude it.

Not part of the data but worth knowing when a model consumes it: ``sentiment.py`` feeds all
100 steps to the recurrent cell with no mask, so after a short review the cell keeps running
over zero vectors; :attr:`CourseSplit.lengths` counts the real ids for whoever wants a mask,
and a faithful model ignores it.

Cost: cleaning the 50,000 reviews is a few seconds (once per process, it does not depend on
the seed); fitting and encoding a seed's split a few more. Nothing is cached on disk beyond
the data layer's verified IMDB table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np

#: the course's constants (``loader.py``: ``MAX_FEATURES``, ``MAX_LENGTH`` and the ``[:500]`` split)
NUM_WORDS = 5000
MAX_LEN = 100
N_TEST = 500
N_TOTAL = 50_000
#: the seed used when none is given (the course had none; see the module docstring)
DEFAULT_SEED = 0
#: the three sentences ``loader.py`` wrote over the first three test texts ("ADD YOUR OWN TEST TEXT")
OWN_TEST_TEXTS = ("great movie if you like to suffer",
                  "i thought that it will be a waste of time but the movie was perfect",
                  "huge waste of time")
#: Keras' default ``Tokenizer`` / ``text_to_word_sequence`` filters (note: no apostrophe)
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

_TAG = re.compile(r"<[^>]+>")
_NON_LETTER = re.compile(r"[^a-zA-Z]")
_SINGLE_LETTER = re.compile(r"\s+[a-zA-Z]\s+")
_SPACES = re.compile(r"\s+")


# ----------------------------------------------------------------------------- cleaning

def course_clean(text: str) -> str:
    """The course's cleaning of one review (rule 3 of the module docstring), quirks included."""
    s = _TAG.sub("", text.lower())
    s = _NON_LETTER.sub(" ", s)
    s = _SINGLE_LETTER.sub(" ", s)
    return _SPACES.sub(" ", s)


def keras_words(text: str, filters: str = KERAS_FILTERS, lower: bool = True, split: str = " ") -> list[str]:
    """Keras' ``text_to_word_sequence``: lower-case, each filter character → ``split``,
    split on ``split``, empty strings dropped (only ``split`` separates words: other
    whitespace such as ``\\r`` stays inside a word, as in Keras)."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


# ----------------------------------------------------------------------------- tokenizer

class KerasTokenizer:
    """Keras' ``Tokenizer(num_words=…)`` with default filters, ``lower=True``, ``split=' '``, no
    ``oov_token``: the rules of rule 4 in the module docstring. ``num_words=None`` keeps every word."""

    def __init__(self, num_words: int | None = NUM_WORDS):
        self.num_words = num_words
        self.word_counts: Counter[str] = Counter()  # a dict: insertion order = first occurrence
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    def fit_on_texts(self, texts: Iterable[str]) -> "KerasTokenizer":
        for text in texts:
            self.word_counts.update(keras_words(text))
        # stable sort on the count alone: equal counts keep their first-occurrence order
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)
        self.word_index = {w: i for i, (w, _) in enumerate(ranked, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        return self

    @property
    def kept(self) -> dict[str, int]:
        """The words ``texts_to_sequences`` keeps: those whose id is below ``num_words``."""
        if not self.num_words:
            return self.word_index
        return {w: i for w, i in self.word_index.items() if i < self.num_words}

    def texts_to_sequences(self, texts: Iterable[str]) -> list[list[int]]:
        """Each text's ids in order; words not kept (rare or never seen) are dropped silently."""
        kept = self.kept
        return [[kept[w] for w in keras_words(t) if w in kept] for t in texts]

    def vocabulary(self) -> list[str]:
        """Word of each reachable id: ``vocab[0] = '<pad>'``, ``vocab[i]`` for ``1 ≤ i < num_words``."""
        n = len(self.word_index) + 1 if not self.num_words else min(self.num_words, len(self.word_index) + 1)
        return ["<pad>"] + [self.index_word[i] for i in range(1, n)]


def pad_sequences(sequences: Sequence[Sequence[int]], maxlen: int, *, padding: str = "post",
                  truncating: str = "pre", value: int = 0, dtype=np.int32) -> np.ndarray:
    """Keras' ``pad_sequences`` for integer sequences (``padding`` defaults to the course's
    ``'post'``; ``truncating`` to Keras' default ``'pre'``, which keeps the last ``maxlen``)."""
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError(f"padding and truncating must be 'pre' or 'post', not {padding!r}/{truncating!r}")
    out = np.full((len(sequences), maxlen), value, dtype=dtype)
    for row, s in enumerate(sequences):
        if not len(s):
            continue
        t = list(s[-maxlen:]) if truncating == "pre" else list(s[:maxlen])
        if padding == "post":
            out[row, :len(t)] = t
        else:
            out[row, maxlen - len(t):] = t
    return out


def course_shuffle(n: int, seed: int) -> np.ndarray:
    """The permutation of the table's rows: the course's ``np.random.permutation(n)`` drawn from
    ``np.random.RandomState(seed)`` (the course drew it from the unseeded global generator)."""
    return np.random.RandomState(seed).permutation(n)


def split_rows(n: int, seed: int, n_test: int = N_TEST) -> tuple[np.ndarray, np.ndarray]:
    """``(test_rows, train_rows)`` of the table: the first ``n_test`` shuffled rows, then the rest."""
    perm = course_shuffle(n, seed)
    return perm[:n_test], perm[n_test:]


def glove_matrix(vocab: Sequence[str], glove) -> tuple[np.ndarray, "object"]:
    """Row i = GloVe vector of ``vocab[i]``; row 0 (padding) and words GloVe lacks are zero."""
    words, report = glove.embedding_matrix(list(vocab[1:]), oov="zero")
    return np.vstack([np.zeros((1, glove.dim), np.float32), words]), report


# ----------------------------------------------------------------------------- the data set

@dataclass
class CourseSplit:
    ids: np.ndarray          # (n, max_len) int32, 0 = padding after the review's ids
    labels: np.ndarray       # (n,) int64, 1 = positive
    rows: np.ndarray         # (n,) row of each review in imdb.load_imdb()'s table
    texts: list[str] = field(repr=False)  # the cleaned texts that were encoded

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        """Real (non-padding) ids per row, at least 1 (a model that masks needs ≥ 1 step)."""
        return np.maximum((self.ids != 0).sum(1), 1).astype(np.int64)


@dataclass
class CourseIMDB:
    train: CourseSplit
    test: CourseSplit
    vocab: list[str]            # vocab[i] = word of id i (< num_words); vocab[0] = '<pad>'
    embeddings: np.ndarray      # (num_words, dim) float32 GloVe rows, zero for id 0 and words GloVe lacks
    oov: object                 # glove.OOVReport over vocab[1:]
    seed: int
    num_words: int
    max_len: int
    glove_source: str
    data_variant: str


@lru_cache(maxsize=1)
def _cleaned_table() -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray]:
    """``(raw texts, cleaned texts, labels)`` of the 50,000 reviews in load_imdb()'s order (once per process)."""
    from . import imdb  # pandas, lazily

    df = imdb.load_imdb(progress=False)
    raw = tuple(df["text"].tolist())
    if len(raw) != N_TOTAL:
        raise ValueError(f"expected {N_TOTAL:,} labeled reviews, found {len(raw):,}")
    return raw, tuple(course_clean(t) for t in raw), df["label"].to_numpy().astype(np.int64)


def build(cleaned: Sequence[str], labels: np.ndarray, *, seed: int, embed, n_test: int = N_TEST,
          num_words: int = NUM_WORDS, max_len: int = MAX_LEN, own_test_texts: Sequence[str] = ()):
    """The course pipeline on any table of cleaned texts (rules 2 and 4–7), for the real data and
    for tests: ``embed(vocab) -> (matrix, oov report)``. Returns
    ``(train, test, tokenizer, vocab, embeddings, oov)``."""
    labels = np.asarray(labels)
    test_rows, train_rows = split_rows(len(cleaned), seed, n_test)
    perm = np.concatenate([test_rows, train_rows])
    shuffled = [cleaned[i] for i in perm]
    tok = KerasTokenizer(num_words).fit_on_texts(shuffled)  # all texts, after the shuffle, before the split
    test_texts = shuffled[:n_test]
    for k, t in enumerate(own_test_texts[:n_test]):
        test_texts[k] = t
    train_texts = shuffled[n_test:]
    test = CourseSplit(pad_sequences(tok.texts_to_sequences(test_texts), max_len), labels[test_rows],
                       test_rows, test_texts)
    train = CourseSplit(pad_sequences(tok.texts_to_sequences(train_texts), max_len), labels[train_rows],
                        train_rows, train_texts)
    vocab = tok.vocabulary()
    emb, oov = embed(vocab)
    return train, test, tok, vocab, emb, oov


def describe(seed: int, glove_source: str, dim: int, *, own_test_texts: bool, n_test: int = N_TEST,
             n_train: int = N_TOTAL - N_TEST, num_words: int = NUM_WORDS, max_len: int = MAX_LEN,
             n_oov: int | None = None) -> str:
    """The ``data_variant`` sentence: every rule of the pipeline, with the seed."""
    own = (" The first 3 test texts are replaced, as in the course's loader, by its three hand-written "
           "sentences (their labels are those of the reviews they replace)." if own_test_texts else "")
    oov = f" ({n_oov:,} of the {num_words - 1:,} words lack a vector)" if n_oov is not None else ""
    return (f"course pipeline (damebrown/IDL_ex2 loader.py, re-implemented): the {N_TOTAL:,} labeled "
            f"aclImdb reviews as one table, shuffled with np.random.RandomState(seed={seed}).permutation "
            f"(the course shuffled without a seed); the first {n_test:,} rows are the test set, the other "
            f"{n_train:,} the training set.{own} Cleaning: lower-case, HTML tags removed, every non-letter "
            f"to a space, single letters between spaces dropped (regex, so a first/last letter stays). "
            f"Keras-compatible Tokenizer(num_words={num_words:,}) fitted on all {N_TOTAL:,} texts: ids by "
            f"count, ties by first occurrence; texts_to_sequences drops every word outside the "
            f"{num_words - 1:,} most frequent; pad_sequences(maxlen={max_len}, padding='post', "
            f"truncating='pre'): the last {max_len} kept words, zero-padded after. Embeddings: GloVe 6B "
            f"{dim}-d from {glove_source} (the course used 100-d), zero for padding and for words GloVe "
            f"lacks{oov}.")


def prepare_course_imdb(seed: int = DEFAULT_SEED, glove_dim: int = 50, *, own_test_texts: bool = True,
                        num_words: int = NUM_WORDS, max_len: int = MAX_LEN) -> CourseIMDB:
    """The course's data (see the module docstring) for one shuffle ``seed``, as NumPy arrays."""
    from . import glove as glove_mod

    _, cleaned, labels = _cleaned_table()
    g = glove_mod.load_glove(glove_dim)
    train, test, _, vocab, emb, oov = build(
        cleaned, labels, seed=seed, num_words=num_words, max_len=max_len,
        embed=lambda v: glove_matrix(v, g), own_test_texts=OWN_TEST_TEXTS if own_test_texts else ())
    text = describe(seed, g.source, g.dim, own_test_texts=own_test_texts, n_train=len(train),
                    n_test=len(test), num_words=num_words, max_len=max_len, n_oov=oov.n_oov)
    return CourseIMDB(train, test, vocab, emb, oov, seed, num_words, max_len, g.source, text)


# ----------------------------------------------------------------------------- duplicates

def count_duplicates(texts: Sequence[str], seed: int, n_test: int = N_TEST) -> int:
    """How many of the ``n_test`` test texts of ``seed``'s split occur exactly among its training texts."""
    test_rows, train_rows = split_rows(len(texts), seed, n_test)
    train = {texts[i] for i in train_rows}
    return sum(texts[i] in train for i in test_rows)


def duplicate_counts(seeds: Iterable[int] = (DEFAULT_SEED,)) -> dict[int, dict[str, int]]:
    """Per seed, test reviews (of 500) with an exact duplicate among the 49,500 training reviews,
    ``{"cleaned": …, "raw": …}``: after the course's cleaning, and as the raw review text."""
    raw, cleaned, _ = _cleaned_table()
    return {s: {"cleaned": count_duplicates(cleaned, s), "raw": count_duplicates(raw, s)} for s in seeds}


__all__ = ["CourseIMDB", "CourseSplit", "KerasTokenizer", "DEFAULT_SEED", "MAX_LEN", "NUM_WORDS", "N_TEST",
           "OWN_TEST_TEXTS", "build", "count_duplicates", "course_clean", "course_shuffle", "describe",
           "glove_matrix", "keras_words", "pad_sequences", "prepare_course_imdb", "split_rows",
           "duplicate_counts"]
