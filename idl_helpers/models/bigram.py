"""Bigram language models on Penn Treebank (NLP Assignment 2, questions 1d, 4 and 6).

* data: :func:`prepare_mikolov` / :func:`prepare_course` turn a PTB variant into padded
  sentences over a 2,000-word vocabulary (``UUUNKKK`` for the rest) and (previous, next)
  index pairs, exactly as the course's ``convert_to_lm_dataset`` pairs them;
* the neural bigram LM (fixed GloVe input → sigmoid hidden → softmax) trained with
  :mod:`idl_helpers.models.numpy_nn` by plain SGD: :func:`train_neural_lm`;
* controlled variants of the course's recipe (:class:`Setting`, :func:`run_settings`,
  :func:`select`, :func:`combine`) for the page's attribution of its gap;
* perplexity, vectorised (:func:`perplexity`) and as a per-example loop
  (:func:`perplexity_loop`, the reference for the test);
* count-based baselines: add-k (:func:`add_k_bigram`) and interpolated Kneser–Ney
  (:func:`kneser_ney_bigram`) conditional probability tables;
* tokenisation of raw text with either variant's rules (:func:`tokenize_text`, II.4b).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from idl_helpers.models import numpy_nn as nn
from idl_helpers.data import ptb

BOS, EOS, UNK = ptb.BOS, ptb.EOS, ptb.UNK


# --------------------------------------------------------------------------- data
@dataclass
class Corpus:
    """Padded sentences of one split, their indices, and the bigram pairs."""

    vocab: list[str]
    sentences: list[list[str]]       # padded: <s> w1 … wn </s>, unknown words already UUUNKKK
    prev: np.ndarray = field(repr=False)
    next: np.ndarray = field(repr=False)
    sentence_of_pair: np.ndarray = field(repr=False)

    @property
    def n_tokens(self) -> int:
        """Predicted tokens (every word and ``</s>``, not ``<s>``)."""
        return len(self.next)

    @property
    def unk_rate(self) -> float:
        return float(np.mean(self.next == self.vocab.index(UNK)))


def index_sentences(sentences: Sequence[Sequence[str]], vocab: Sequence[str]) -> Corpus:
    """(previous word, word) pairs of padded sentences, as the course's ``convert_to_lm_dataset``.

    The course pads with two ``<s>`` and skips the first two positions; with one ``<s>`` and
    every position after it the pairs are the same: (<s>, w1), (w1, w2), …, (wn, </s>).
    """
    index = {w: i for i, w in enumerate(vocab)}
    unk = index[UNK]
    ids = [np.fromiter((index.get(w, unk) for w in s), dtype=np.int64, count=len(s)) for s in sentences]
    prev = np.concatenate([a[:-1] for a in ids]) if ids else np.zeros(0, np.int64)
    nxt = np.concatenate([a[1:] for a in ids]) if ids else np.zeros(0, np.int64)
    sid = np.repeat(np.arange(len(ids)), [len(a) - 1 for a in ids])
    padded = [[w if w in index else UNK for w in s] for s in sentences]
    return Corpus(list(vocab), padded, prev, nxt, sid)


def _mikolov_sentences(split: str) -> list[list[str]]:
    return [ptb.pad([UNK if w == "<unk>" else w for w in s]) for s in ptb.load_mikolov(split)]


def prepare_mikolov(vocab_size: int = 2000) -> dict[str, Corpus]:
    """Mikolov's PTB (``<unk>`` read as ``UUUNKKK``) over its ``vocab_size`` most frequent
    training words (``<s>``, ``</s>``, ``UUUNKKK`` included, as in the course's vocabulary)."""
    train = _mikolov_sentences("train")
    vocab = ptb.top_vocabulary(train, vocab_size)
    return {"train": index_sentences(train, vocab),
            "dev": index_sentences(_mikolov_sentences("valid"), vocab)}


def course_train_available() -> bool:
    """Whether the course's tagged ``ptb-train.txt`` can be had (local data dir, cache or download)."""
    try:
        ptb.fetch(ptb.COURSE["train"])
        return True
    except Exception:  # noqa: BLE001 - any failure to get the file means "not available"
        return False


def prepare_course(vocab_size: int = 2000) -> dict[str, Corpus]:
    """The course's variant: its vocabulary file's top ``vocab_size`` words, its rules."""
    vocab = list(ptb.load_course_vocab(vocab_size)["word"])
    return {split: index_sentences(ptb.load_course(split, vocab_size), vocab)
            for split in ("train", "dev")}


# --------------------------------------------------------------------------- tokenising raw text
_L = "A-Za-z\u00C0-\u024F"
_CLITIC = re.compile(r"(?i)(n't|'s|'re|'ve|'d|'ll|'m)\b")
_TOKEN = re.compile(rf"(?i)n't|'(?:s|re|ve|d|ll|m)\b|[{_L}]+(?:['-][{_L}]+)*'?|\d+(?:[.,]\d+)*|[^\s{_L}\d]")
_SENT_END = re.compile(r"(?<=[.!?])\s+")


def ptb_words(text: str) -> list[str]:
    """Penn-Treebank-style words: clitics (``n't``, ``'s``…) and punctuation split off.

    ``"Don't stop, 1,000 times."`` → ``["Do", "n't", "stop", ",", "1,000", "times", "."]``
    """
    return _TOKEN.findall(_CLITIC.sub(r" \1", text))


def sentences_of(text: str) -> list[str]:
    """Sentences of running text (split after ``. ! ?``); line breaks are spaces."""
    return [s for s in _SENT_END.split(" ".join(text.split())) if s.strip()]


def mikolov_word(word: str) -> str | None:
    """Mikolov's rules: lower-case, numbers → ``N``, punctuation dropped (``None``)."""
    w = word.lower()
    if any(c.isalpha() for c in w):
        return w
    if any(c.isdigit() for c in w):
        return "N"
    return None


def tokenize_text(text: str, variant: str, vocab: Sequence[str]) -> list[list[str]]:
    """Padded sentences of raw ``text`` under ``variant``'s rules (``"mikolov"`` or ``"course"``)."""
    vs = set(vocab)
    out = []
    for sent in sentences_of(text):
        words = ptb_words(sent)
        if variant == "course":
            toks = [ptb.canonicalize_word(w, vs) for w in words]
        elif variant == "mikolov":
            toks = [t for t in (mikolov_word(w) for w in words) if t is not None]
            toks = [t if t in vs else UNK for t in toks]
        else:
            raise ValueError(f"variant must be 'mikolov' or 'course', not {variant!r}")
        if toks:
            out.append(ptb.pad(toks))
    return out


# --------------------------------------------------------------------------- neural bigram LM
def perplexity_from_nll(nll: np.ndarray) -> float:
    return float(np.exp(np.mean(nll)))


def perplexity(emb: np.ndarray, params: nn.Params, corpus: Corpus, chunk: int = 8192) -> float:
    """Dev perplexity, vectorised: ``exp(mean -log p(next | prev))`` over all pairs."""
    with threadpool_limits(1):
        return perplexity_from_nll(nn.nll_per_example(emb[corpus.prev], corpus.next, params, chunk))


def perplexity_loop(emb: np.ndarray, params: nn.Params, prev: Sequence[int], nxt: Sequence[int]) -> float:
    """The same perplexity one example at a time, base 2 as the course's skeleton wrote it."""
    total = 0.0
    for a, b in zip(prev, nxt):
        x = np.asarray(emb[a], dtype=np.float64)
        z = x @ params["W1"].astype(np.float64) + params["b1"]
        h = 1.0 / (1.0 + np.exp(-z))
        theta = h @ params["W2"].astype(np.float64) + params["b2"]
        p = np.exp(theta - theta.max())
        p /= p.sum()
        total += np.log2(p[b])
    return float(2 ** (-total / len(nxt)))


def log_prob_table(emb: np.ndarray, params: nn.Params) -> np.ndarray:
    """``log p(w | u)`` for every context word ``u`` (V × V, the network's float32 path).

    A bigram model has only V distinct contexts, so scoring a corpus needs V forward passes, not
    one per token: :func:`table_perplexity_of` gathers this table at the corpus's pairs (the same
    numbers as :func:`perplexity`, ~100× faster on PTB dev)."""
    with threadpool_limits(1):
        return nn.log_softmax(nn.hidden(emb, params) @ params["W2"] + params["b2"])


def table_perplexity_of(log_p: np.ndarray, corpus: Corpus) -> float:
    """Perplexity of ``corpus`` under a V × V table of log-probabilities."""
    return perplexity_from_nll(-log_p[corpus.prev, corpus.next].astype(np.float64))


@dataclass
class TrainLog:
    iterations: list[int]
    dev_perplexity: list[float]
    train_loss: list[float]              # mean batch loss since the previous evaluation
    wall_time_s: float
    eval_time_s: float
    curves: dict[str, list[float]] = field(default_factory=dict)   # perplexity on each ``score_on`` corpus
    inputs: np.ndarray | None = field(default=None, repr=False)    # the input vectors after training


def train_neural_lm(emb: np.ndarray, train: Corpus, dev: Corpus | None, *, hidden: int = 50,
                    iterations: int = 40_000, batch: int = 50, lr: float = 0.3,
                    anneal_every: int = 20_000, seed: int = 9265, eval_every: int = 2000,
                    dev_eval: Callable[[nn.Params], float] | None = None,
                    score_on: dict[str, Corpus] | None = None, init_scale: float = 1.0,
                    train_rows: Sequence[int] | np.ndarray | None = None,
                    progress: bool = True, blas_threads: int = 1) -> tuple[nn.Params, TrainLog]:
    """SGD on random mini-batches of (previous-word GloVe vector, next word) pairs.

    As the course's script: ``np.random.seed(seed)``, parameters ~ N(0, 1) drawn from it, the
    step halved every ``anneal_every`` iterations (the course's ``sgd.py``; 0: never), batches drawn
    uniformly with replacement. Tiny matrix products are fastest on one BLAS thread
    (``blas_threads``); a multi-threaded BLAS on a busy 2-core machine is ~7× slower. ``dev_eval``
    (default: perplexity on ``dev``, read off :func:`log_prob_table`) runs every ``eval_every``
    iterations and at 0 for the learning curve; so does the perplexity on every corpus of
    ``score_on`` (``log.curves[name]``).

    Departures from the course, for the experiments that explain its number: ``init_scale``
    (the standard deviation of the initial parameters; the course's is 1) and ``train_rows``
    (rows of ``emb`` that SGD also updates, with the input gradient ``dJ/dx``; the course's input
    vectors are fixed). ``emb`` itself is never changed; the trained rows are in ``log.inputs``.
    """
    with threadpool_limits(blas_threads):
        return _train(emb, train, dev, hidden=hidden, iterations=iterations, batch=batch, lr=lr,
                      anneal_every=anneal_every, seed=seed, eval_every=eval_every,
                      dev_eval=dev_eval, score_on=score_on or {}, init_scale=init_scale,
                      train_rows=train_rows, progress=progress)


def _train(emb, train, dev, *, hidden, iterations, batch, lr, anneal_every, seed, eval_every,
           dev_eval, score_on, init_scale, train_rows, progress):
    rs = np.random.RandomState(seed)
    V, d = emb.shape
    emb = np.array(emb, dtype=np.float32, order="C")       # a copy: trained rows change it
    params = nn.init_params((d, hidden, V), rs, scale=init_scale)
    trainable = None
    if train_rows is not None and len(train_rows):
        trainable = np.zeros(V, bool)
        trainable[np.asarray(train_rows)] = True
    corpora = ({"dev": dev} if dev is not None and dev_eval is None else {}) | dict(score_on)
    batches = rs.randint(0, len(train.next), size=(iterations, batch))
    log = TrainLog([], [], [], 0.0, 0.0, {name: [] for name in score_on})
    t0 = time.perf_counter()
    t_eval = 0.0

    def evaluate(it, losses):
        nonlocal t_eval
        te = time.perf_counter()
        log_p = log_prob_table(emb, params) if corpora else None
        ppl = {name: table_perplexity_of(log_p, c) for name, c in corpora.items()}
        if dev_eval is not None:
            log.dev_perplexity.append(dev_eval(params))
        elif dev is not None:
            log.dev_perplexity.append(ppl["dev"])
        for name in score_on:
            log.curves[name].append(ppl[name])
        t_eval += time.perf_counter() - te
        log.iterations.append(it)
        log.train_loss.append(float(np.mean(losses)) if losses else float("nan"))

    bar = None
    if progress:
        from tqdm.std import tqdm  # text bars: no ipywidgets needed, nothing left in saved notebooks
        bar = tqdm(total=iterations, desc="SGD", mininterval=2.0)
    evaluate(0, [])
    losses: list[float] = []
    step = lr
    for it in range(1, iterations + 1):
        idx = batches[it - 1]
        rows = train.prev[idx]
        if trainable is None:
            losses.append(nn.sgd_step(emb[rows], train.next[idx], params, step))
        else:
            J, g = nn.loss_and_grads(emb[rows], train.next[idx], params, input_grad=True)
            for k in nn.NAMES:
                params[k] -= step * g[k]
            keep = trainable[rows]
            np.add.at(emb, rows[keep], -step * g["x"][keep])
            losses.append(J)
        if anneal_every and it % anneal_every == 0:
            step *= 0.5
        if it % eval_every == 0 or it == iterations:
            evaluate(it, losses)
            losses = []
            if bar is not None:
                bar.update(it - bar.n)
                if log.dev_perplexity:
                    bar.set_postfix(dev_ppl=f"{log.dev_perplexity[-1]:.1f}")
    if bar is not None:
        bar.close()
    log.wall_time_s = time.perf_counter() - t0
    log.eval_time_s = t_eval
    log.inputs = emb if trainable is not None else None
    return params, log


# --------------------------------------------------------------------------- controlled variants
@dataclass(frozen=True)
class Setting:
    """One setting of the neural bigram LM; the defaults are the course's recipe.

    ``special``: how the rows GloVe lacks (``<s>``, ``</s>``, ``UUUNKKK``, ``N``, a few hyphenated
    words) are filled — ``"random"`` (GloVe's per-dimension spread), ``"zero"`` or ``"mean"``;
    ``train_inputs``: which input vectors SGD also updates — ``"none"`` (the course's fixed
    vectors), ``"missing"`` (only those rows) or ``"all"``."""

    iterations: int = 40_000
    lr: float = 0.3
    anneal_every: int = 20_000
    hidden: int = 50
    init_scale: float = 1.0
    special: str = "random"
    train_inputs: str = "none"
    batch: int = 50
    seed: int = 9265

    def changes(self) -> dict:
        """The fields that differ from the course's recipe."""
        base = Setting()
        return {k: v for k, v in self.__dict__.items() if getattr(base, k) != v}

    def label(self) -> str:
        """A short description of what differs from the course (``"the course's"`` if nothing)."""
        words = {
            "iterations": lambda v: f"{v:,} iterations",
            "lr": lambda v: f"learning rate {v:g}",
            "anneal_every": lambda v: "constant step" if not v else f"step halved every {v:,}",
            "hidden": lambda v: f"{v} hidden units",
            "init_scale": lambda v: f"initial weights N(0, {v:g}²)",
            "special": lambda v: f"{v} vectors for words GloVe lacks",
            "train_inputs": lambda v: {"all": "all input vectors trained",
                                       "missing": "vectors of words GloVe lacks trained"}.get(v, v),
            "batch": lambda v: f"batch {v}",
            "seed": lambda v: f"seed {v}",
        }
        ch = self.changes()
        return ", ".join(words[k](v) for k, v in ch.items()) if ch else "the course's"


@dataclass
class Run:
    """Perplexity curves of one setting (``curves[name][i]`` at ``iterations[i]``)."""

    setting: Setting
    iterations: list[int]
    curves: dict[str, list[float]]
    train_loss: list[float]
    wall_time_s: float

    def at(self, name: str, iteration: int | None = None) -> float:
        """Perplexity on ``name`` after ``iteration`` steps (default: the setting's length)."""
        it = self.setting.iterations if iteration is None else iteration
        return self.curves[name][self.iterations.index(it)]


def input_matrix(glove, vocab: Sequence[str], special: str = "random", seed: int = 0) -> np.ndarray:
    """GloVe rows of ``vocab``; words GloVe lacks filled as :class:`Setting` ``special`` says."""
    return glove.embedding_matrix(vocab, oov=special, seed=seed)[0]


def run_setting(glove, train: Corpus, setting: Setting, score_on: dict[str, Corpus], *,
                eval_every: int = 2000, emb_seed: int = 0, progress: bool = False) -> Run:
    """Train ``setting`` on ``train`` and score every corpus of ``score_on`` every ``eval_every``."""
    emb = input_matrix(glove, train.vocab, setting.special, emb_seed)
    rows = {"none": None, "all": np.arange(len(train.vocab)),
            "missing": np.flatnonzero(glove.indices(train.vocab) < 0)}[setting.train_inputs]
    _, log = train_neural_lm(emb, train, None, hidden=setting.hidden, iterations=setting.iterations,
                             batch=setting.batch, lr=setting.lr, anneal_every=setting.anneal_every,
                             seed=setting.seed, eval_every=eval_every, score_on=score_on,
                             init_scale=setting.init_scale, train_rows=rows, progress=progress)
    return Run(setting, log.iterations, log.curves, log.train_loss, log.wall_time_s)


def run_settings(glove, train: Corpus, settings: Sequence[Setting], score_on: dict[str, Corpus], *,
                 eval_every: int = 2000, emb_seed: int = 0, progress: bool = False) -> dict[Setting, Run]:
    """:func:`run_setting` for each setting, training once per group that differs only in length.

    The batches are drawn up front from the seeded stream and the step schedule depends only on
    the iteration, so the first N steps of a longer run *are* the N-step run: each group is trained
    for its longest length and the shorter ones are read off its curve (every length must be a
    multiple of ``eval_every``)."""
    groups: dict[Setting, list[Setting]] = {}
    for s in dict.fromkeys(settings):
        if s.iterations % eval_every:
            raise ValueError(f"{s.iterations:,} iterations is not a multiple of eval_every={eval_every:,}")
        groups.setdefault(replace(s, iterations=0), []).append(s)
    out: dict[Setting, Run] = {}
    for members in groups.values():
        longest = max(members, key=lambda s: s.iterations)
        run = run_setting(glove, train, longest, score_on, eval_every=eval_every, emb_seed=emb_seed,
                          progress=progress)
        for s in members:
            n = run.iterations.index(s.iterations) + 1
            out[s] = Run(s, run.iterations[:n], {k: v[:n] for k, v in run.curves.items()},
                         run.train_loss[:n], run.wall_time_s * s.iterations / longest.iterations)
    return {s: out[s] for s in dict.fromkeys(settings)}


def select(candidates: Sequence[Setting], runs: dict[Setting, Run], on: str = "held") -> Setting:
    """The candidate with the lowest perplexity on ``on`` (first one on ties)."""
    return min(candidates, key=lambda s: runs[s].at(on))


def combine(base: Setting, *chosen: Setting) -> Setting:
    """``base`` with every change each of ``chosen`` makes to the course's recipe."""
    ch: dict = {}
    for s in chosen:
        ch.update(s.changes())
    return replace(base, **ch)


def torch_perplexity(emb: np.ndarray, params: nn.Params, corpus: Corpus) -> float:
    """Independent check: the same model in PyTorch (float64, ``cross_entropy``)."""
    import torch

    t = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in params.items()}
    x = torch.as_tensor(np.asarray(emb, dtype=np.float64))[torch.as_tensor(corpus.prev)]
    logits = torch.sigmoid(x @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    ce = torch.nn.functional.cross_entropy(logits, torch.as_tensor(corpus.next), reduction="mean")
    return float(torch.exp(ce))


# --------------------------------------------------------------------------- count-based bigrams
def bigram_counts(corpus: Corpus) -> np.ndarray:
    V = len(corpus.vocab)
    return np.bincount(corpus.prev * V + corpus.next, minlength=V * V).reshape(V, V).astype(np.float64)


def _targets(vocab: Sequence[str]) -> np.ndarray:
    """Words that can follow something: every word but ``<s>``."""
    return np.array([w != BOS for w in vocab])


def add_k_bigram(counts: np.ndarray, vocab: Sequence[str], k: float) -> np.ndarray:
    """P(w | u) = (c(u, w) + k) / (c(u) + k |targets|), a V × V table (rows sum to 1)."""
    tgt = _targets(vocab)
    c = counts * tgt
    P = (c + k * tgt) / (c.sum(1, keepdims=True) + k * tgt.sum())
    return P


def ney_discount(counts: np.ndarray) -> float:
    """Ney et al.'s estimate D = n1 / (n1 + 2 n2) from the counts of counts."""
    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
    return float(n1 / (n1 + 2 * n2))


def kneser_ney_bigram(counts: np.ndarray, vocab: Sequence[str], d: float | None = None) -> np.ndarray:
    """Interpolated Kneser–Ney bigram table.

    P(w|u) = max(c(u,w) − D, 0)/c(u) + D·N1+(u•)/c(u) · P_cont(w), with
    P_cont(w) = N1+(•w)/N1+(••) itself discounted towards the uniform distribution; an unseen
    context u falls back to P_cont.
    """
    d = ney_discount(counts) if d is None else d
    tgt = _targets(vocab)
    c = counts * tgt
    types = (c > 0).astype(np.float64)
    cont = types.sum(0)                                   # N1+(• w)
    n_types = cont.sum()
    p_cont = np.maximum(cont - d, 0) / n_types + d * np.sum(cont > 0) / n_types * tgt / tgt.sum()
    cu = c.sum(1, keepdims=True)
    n_follow = types.sum(1, keepdims=True)               # N1+(u •)
    with np.errstate(invalid="ignore", divide="ignore"):
        P = np.maximum(c - d, 0) / cu + d * n_follow / cu * p_cont[None, :]
    P[cu[:, 0] == 0] = p_cont
    return P


def table_perplexity(P: np.ndarray, corpus: Corpus) -> float:
    return perplexity_from_nll(-np.log(P[corpus.prev, corpus.next]))


# --------------------------------------------------------------------------- II.4a, numerically
_LOGS = {2: np.log2, 10: np.log10, "e": np.log}


def probability_table(emb: np.ndarray, params: nn.Params) -> np.ndarray:
    """``P[u, w] = p(w | u)`` of the neural bigram LM for every context word ``u`` (V × V, float64).

    Computed apart from :func:`perplexity`'s path: float64 throughout, one row per *context
    word* rather than per token, and an explicit ``exp / sum`` softmax rather than a log-softmax,
    so that a perplexity read off this table is an independent number."""
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    h = 1.0 / (1.0 + np.exp(-(np.asarray(emb, dtype=np.float64) @ p64["W1"] + p64["b1"])))
    theta = h @ p64["W2"] + p64["b2"]
    e = np.exp(theta - theta.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def perplexity_by_counts(counts: np.ndarray, probs: np.ndarray, base=2) -> float:
    """``base ** (−Σ n·log_base p / Σ n)``: the perplexity of a text summarised by how often each
    event (a word, or a (previous, next) pair) occurs in it, ``counts``, with the model's
    probability of that event, ``probs`` (same shape), logarithms taken in ``base`` itself
    (``2``, ``10`` or ``"e"``; no change-of-base formula). Events with count 0 are left out. A
    NaN, or a zero probability for a seen event, gives NaN or inf, never a finite number."""
    counts, probs = np.asarray(counts, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    if counts.shape != probs.shape:
        raise ValueError(f"counts {counts.shape} and probabilities {probs.shape} differ in shape")
    seen = counts > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_log = float(np.sum(counts[seen] * _LOGS[base](probs[seen])) / counts[seen].sum())
    return float((np.e if base == "e" else base) ** (-mean_log))


def split_heldout(corpus: Corpus, frac: float = 0.1) -> tuple[Corpus, Corpus]:
    """The last ``frac`` of the sentences as a held-out set (for choosing k), the rest as train."""
    n = len(corpus.sentences)
    cut = int(round(n * (1 - frac)))
    fit = corpus.sentence_of_pair < cut
    mk = lambda m, sents: Corpus(corpus.vocab, sents, corpus.prev[m], corpus.next[m], corpus.sentence_of_pair[m])
    return mk(fit, corpus.sentences[:cut]), mk(~fit, corpus.sentences[cut:])
