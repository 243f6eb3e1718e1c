"""The Deep Averaging Network (Iyyer et al., 2015) over batches of token ids (question II.5).

A review is the average of its words' (fixed GloVe) vectors, followed by an MLP::

    model = DAN(data.embeddings, hidden=(450, 100, 50, 10), activations="relu", word_dropout=0.3)
    logits = model(ids, lengths)          # ids (B, L) right-padded with 0, lengths (B,)

The average is an embedding lookup and a masked mean over the real tokens of the batch
(trimmed to the longest review in the batch), never a dense reviews × length × dim tensor
of the whole data set. Word dropout (training only) removes whole tokens before the
average: the review is then the mean of the words that survived.

:func:`word_contributions` splits the logit difference (positive − negative) into one
number per token. Because the average is linear in the word vectors, the integrated
gradient ``g`` of the MLP along the straight path from a reference average ``b`` (the
empty review ``0``, or a typical review) to the review's average gives each token ``i`` of
an ``n``-token review the share ``g · (e_i − b) / n``; the shares add up to
``f(avg) − f(b)`` (exactly for a linear head, up to the quadrature error of the path
integral otherwise).

Several DANs of one width are trained side by side as one :class:`StackedDAN` by
:func:`idl_helpers.training.dan.fit_dans` (each member with its own initialisation, batch order and word-dropout draws,
exactly as a separate run; ``tests/test_part2_models.py`` checks this against
:func:`idl_helpers.training.train.fit`). Model selection there uses a validation split only; the test
split is measured for the selected epoch (and, to measure what picking on test would be worth,
at every epoch, never used to choose).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from idl_helpers.models.stacking import Stacked

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "hardswish": nn.Hardswish, "tanh": nn.Tanh}

#: the report's hidden widths; depth k uses the first k of them
REPORT_HIDDEN = (450, 100, 50, 10)


def _activations(activations: str | Sequence[str], n: int) -> list[str]:
    names = [activations] * n if isinstance(activations, str) else list(activations)
    if len(names) != n:
        raise ValueError(f"{n} hidden layers need {n} activations, got {names}")
    unknown = [a for a in names if a not in ACTIVATIONS]
    if unknown:
        raise ValueError(f"unknown activations {unknown}; known: {sorted(ACTIVATIONS)}")
    return names


class DAN(nn.Module):
    """Average of word vectors → [Linear → activation] × len(hidden) → Linear(·, n_classes)."""

    def __init__(self, embeddings, hidden: Sequence[int] = REPORT_HIDDEN, activations: str | Sequence[str] = "relu",
                 word_dropout: float = 0.0, n_classes: int = 2, freeze: bool = True):
        super().__init__()
        if not 0.0 <= word_dropout < 1.0:
            raise ValueError("word_dropout must be in [0, 1)")
        emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=freeze, padding_idx=0)
        self.word_dropout = float(word_dropout)
        self.activation_names = _activations(activations, len(hidden))
        layers: list[nn.Module] = []
        width = emb.shape[1]
        for h, act in zip(hidden, self.activation_names):
            layers += [nn.Linear(width, h), ACTIVATIONS[act]()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.head = nn.Sequential(*layers)

    def token_mask(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` float mask of the tokens that enter the average: the real tokens, and in
        training mode each kept with probability ``1 − word_dropout`` (a review that would lose
        every token keeps all of them)."""
        mask = torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]
        if self.training and self.word_dropout > 0:
            keep = mask & (torch.rand(mask.shape, device=ids.device) >= self.word_dropout)
            empty = keep.sum(1) == 0
            mask = torch.where(empty[:, None], mask, keep)
        return mask.float()

    def average(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Masked mean of the word vectors, ``(B, dim)``."""
        width = int(lengths.max())
        ids = ids[:, :width]
        mask = self.token_mask(ids, lengths)
        summed = torch.einsum("bl,bld->bd", mask, self.embedding(ids))
        return summed / mask.sum(1, keepdim=True).clamp_min(1.0)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.average(ids, lengths))


def report_dan(embeddings, depth: int = 4, **kwargs) -> DAN:
    """The report's model with ``depth`` hidden layers (widths 450, 100, 50, 10 in that order)."""
    if not 0 <= depth <= len(REPORT_HIDDEN):
        raise ValueError(f"depth must be 0..{len(REPORT_HIDDEN)}")
    return DAN(embeddings, hidden=REPORT_HIDDEN[:depth], **kwargs)


def word_contributions(model: DAN, ids: torch.Tensor, lengths: torch.Tensor, steps: int = 1024,
                       baseline: torch.Tensor | None = None):
    """Per-token shares of the logit difference (see the module docstring).

    ``baseline`` is the reference average ``b`` (``(dim,)``; default: zeros, the empty review).
    Returns ``(contrib, fb, f)``: ``contrib (B, L)`` (0 at padding), the logit difference at the
    baseline ``fb (B,)`` and of the review ``f (B,)``; ``contrib.sum(1) ≈ f − fb``.
    """
    was = model.training
    model.eval()
    width = int(lengths.max())
    ids = ids[:, :width]
    with torch.no_grad():
        mask = model.token_mask(ids, lengths)
        emb = model.embedding(ids)
        b = torch.zeros(emb.shape[-1], dtype=emb.dtype, device=emb.device) if baseline is None \
            else torch.as_tensor(baseline, dtype=emb.dtype, device=emb.device)
        per_token = (emb - b) * (mask / mask.sum(1, keepdim=True))[..., None]           # (e_i − b) / n
        avg = per_token.sum(1) + b
    alphas = ((torch.arange(steps, dtype=avg.dtype) + 0.5) / steps).to(avg.device)     # midpoint rule
    path = (b + alphas[:, None, None] * (avg - b)[None]).requires_grad_(True)           # (S, B, d)
    logits = model.head(path)
    diff = logits[..., 1] - logits[..., 0]
    (grad,) = torch.autograd.grad(diff.sum(), path)
    g = grad.mean(0)                                                                    # (B, d)
    with torch.no_grad():
        contrib = torch.einsum("bld,bd->bl", per_token, g)
        ends = model.head(torch.stack([b.expand_as(avg), avg]))
        fb, f = (ends[..., 1] - ends[..., 0]).unbind(0)
    model.train(was)
    return contrib, fb, f


def contributions_by_word(words: Sequence[str], contrib) -> "dict[str, float]":
    """Sum a review's per-token contributions over repeated words: ``{word: total}``,
    largest absolute total first."""
    totals: dict[str, float] = {}
    for w, c in zip(words, np.asarray(contrib, dtype=float)):
        totals[w] = totals.get(w, 0.0) + float(c)
    return dict(sorted(totals.items(), key=lambda kv: -abs(kv[1])))


def mean_vectors(ids: np.ndarray, lengths: np.ndarray, embeddings: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """The DAN's input, precomputed in NumPy: each review's mean word vector ``(N, dim)``
    (padding rows of ``embeddings`` must be zero, as in :func:`~idl_helpers.data.imdb_glove.prepare_imdb`)."""
    out = np.zeros((len(ids), embeddings.shape[1]), dtype=np.float32)
    for i in range(0, len(ids), chunk):
        out[i:i + chunk] = embeddings[ids[i:i + chunk]].sum(1) / np.maximum(lengths[i:i + chunk], 1)[:, None]
    return out


def bag_of_words(ids: np.ndarray, vocab_size: int):
    """Binary word-presence matrix (SciPy CSR, ``(N, vocab_size)``) of id rows; ids 0 (padding)
    and 1 (unknown) are left out. A linear model on it gives every word its own weight."""
    import scipy.sparse as sparse

    rows = np.repeat(np.arange(len(ids)), ids.shape[1])
    cols = ids.ravel()
    keep = cols > 1
    x = sparse.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])),
                          shape=(len(ids), vocab_size))
    x.data[:] = 1.0
    return x



# --- several DANs of one width, trained side by side ---------------------------------------------

@torch.no_grad()
def masked_mean(embedding: nn.Embedding, ids: torch.Tensor, lengths: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Each review's mean word vector ``(N, dim)``, as :meth:`DAN.average` computes it in evaluation
    mode (no word dropout), in chunks of ``chunk`` reviews."""
    out = []
    for s in range(0, len(ids), chunk):
        i, n = ids[s:s + chunk], lengths[s:s + chunk]
        width = int(n.max())
        mask = (torch.arange(width, device=i.device)[None, :] < n[:, None]).float()
        summed = torch.einsum("bl,bld->bd", mask, embedding(i[:, :width]))
        out.append(summed / mask.sum(1, keepdim=True).clamp_min(1.0))
    return torch.cat(out)


class StackedDAN(Stacked):
    """``K`` :class:`DAN` s with the same hidden widths as one model (weights ``(K, out, in)``).

    Members may differ in their activations and word dropout; they share the fixed embedding.
    ``head(x)`` maps ``(K, B, dim)`` averages to ``(K, B, C)`` logits with batched matrix products;
    :meth:`average` takes each member's own batch ``(K, B, T)``, ``(K, B)`` and, in training mode,
    drops words for member ``k`` with its own generator ``generators[k]`` (the draws a separate run
    would make from the global generator: see :meth:`from_seeds`). Members are independent: the
    sum of their losses has, for member ``k``, exactly the gradient of member ``k``'s own loss, and
    Adam is element-wise, so one optimizer trains each member as it would be trained alone.
    """

    def __init__(self, members: Sequence[DAN], generators: Sequence[torch.Generator | None] | None = None):
        super().__init__()
        if not members:
            raise ValueError("no members")
        shape = [tuple(p.shape) for p in members[0].head.parameters()]
        for m in members[1:]:
            if [tuple(p.shape) for p in m.head.parameters()] != shape:
                raise ValueError("members differ in their widths")
            if not torch.equal(m.embedding.weight, members[0].embedding.weight):
                raise ValueError("members must share their (fixed) embeddings")
        if any(m.embedding.weight.requires_grad for m in members):
            raise ValueError("StackedDAN trains the MLP only: the embeddings must be frozen")
        self.K = len(members)
        self.embedding = members[0].embedding
        self._stack([m.head for m in members], [n for n, _ in members[0].head.named_parameters()])
        self.n_layers = len(self.names) // 2
        self.activation_names = [list(m.activation_names) for m in members]
        self.word_dropout = [m.word_dropout for m in members]
        self.generators = list(generators) if generators is not None else [None] * self.K
        if len(self.generators) != self.K:
            raise ValueError(f"{self.K} members but {len(self.generators)} generators")
        self._acts = {name: cls() for name, cls in ACTIVATIONS.items()}
        self._template = [members[0]]            # a list, so it is not registered as a submodule

    @classmethod
    def from_seeds(cls, embeddings, seeds: Sequence[int], **dan_kwargs) -> "StackedDAN":
        """Members built as ``torch.manual_seed(s); DAN(embeddings, **dan_kwargs)`` for each seed;
        member ``s``'s word-dropout generator continues the global generator from where that
        separate run would (right after building the model)."""
        members, gens = [], []
        for s in seeds:
            torch.manual_seed(s)
            members.append(DAN(embeddings, **dan_kwargs))
            g = torch.Generator()
            g.set_state(torch.get_rng_state())
            gens.append(g)
        return cls(members, gens)

    @staticmethod
    def concat(stacks: Sequence["StackedDAN"]) -> "StackedDAN":
        """One stack of the members of ``stacks`` (in order), their generators included."""
        members = [s.member(k) for s in stacks for k in range(s.K)]
        return StackedDAN(members, [g for s in stacks for g in s.generators])

    def member(self, k: int) -> DAN:
        """Member ``k`` as a standalone :class:`DAN` (a copy of its current weights)."""
        tmpl = self._template[0]
        m = DAN.__new__(DAN)
        nn.Module.__init__(m)
        m.embedding = self.embedding
        m.word_dropout = self.word_dropout[k]
        m.activation_names = list(self.activation_names[k])
        layers: list[nn.Module] = []
        for li, mod in enumerate(tmpl.head):
            if isinstance(mod, nn.Linear):
                layers.append(nn.Linear(mod.in_features, mod.out_features).to(mod.weight.device))
            else:
                layers.append(ACTIVATIONS[m.activation_names[li // 2]]())
        m.head = nn.Sequential(*layers)
        with torch.no_grad():
            own = dict(m.head.named_parameters())
            for n, p in self.stacked().items():
                own[n].copy_(p[k])
        m.train(self.training)
        return m

    def _activate(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        names = [a[layer] for a in self.activation_names]
        first = names[0]
        out = self._acts[first](z)
        for other in dict.fromkeys(names):
            if other == first:
                continue
            pick = torch.tensor([n == other for n in names], device=z.device)[:, None, None]
            out = torch.where(pick, self._acts[other](z), out)
        return out

    def head(self, x: torch.Tensor) -> torch.Tensor:
        P = self.stacked()
        for layer in range(self.n_layers):
            w, b = P[f"{2 * layer}.weight"], P[f"{2 * layer}.bias"]
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))
            if layer < self.n_layers - 1:
                x = self._activate(layer, x)
        return x

    def average(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(K, B, dim)`` means of each member's batch; word dropout in training mode."""
        width = int(lengths.max())
        ids = ids[..., :width]
        mask = torch.arange(width, device=ids.device) < lengths[..., None]                 # (K, B, W)
        if self.training and any(p > 0 for p in self.word_dropout):
            r = torch.ones(mask.shape, device=ids.device)
            for k, (p, g) in enumerate(zip(self.word_dropout, self.generators)):
                if p > 0:
                    wk = int(lengths[k].max())                         # the width a separate run sees
                    draw = torch.rand((ids.shape[1], wk), generator=g) if g is not None else \
                        torch.rand((ids.shape[1], wk))
                    r[k, :, :wk] = draw.to(ids.device)
            p = torch.tensor(self.word_dropout, device=ids.device)[:, None, None]
            keep = mask & (r >= p)
            empty = keep.sum(-1) == 0
            mask = torch.where(empty[..., None], mask, keep)
        mask = mask.float()
        K, B = ids.shape[:2]
        # the masked sum without building the (K, B, W, dim) vectors: a weighted bag of the embedding rows
        summed = nn.functional.embedding_bag(ids.reshape(K * B, -1), self.embedding.weight, mode="sum",
                                             per_sample_weights=mask.reshape(K * B, -1)).view(K, B, -1)
        return summed / mask.sum(-1, keepdim=True).clamp_min(1.0)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.average(ids, lengths))




__all__ = ["StackedDAN", "masked_mean", "DAN", "ACTIVATIONS", "REPORT_HIDDEN", "report_dan", "word_contributions", "contributions_by_word",
           "mean_vectors", "bag_of_words"]
