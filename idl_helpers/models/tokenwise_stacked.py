"""Several token-wise models of one shape trained side by side (seeds, windows, input dimensions).

:class:`StackedTokenwise` takes ``K`` models of :mod:`idl_helpers.models.tokenwise` of one kind and one
shape (e.g. the same configuration built under ``K`` seeds, or restricted-attention models with
different windows ``k``, or models whose fixed embedding tables differ, e.g. PCA projections padded
with zeros to one width) and stacks every trainable parameter along a new leading dimension. One
forward pass computes all ``K`` members with batched matrix products. Measured on one CPU core, a
step's arithmetic is what costs (≈ 75 ms per 10 × 50 MLP member and batch of 128 reviews, growing
linearly with ``K``): the stack saves the per-member Python overhead and gives the second core larger
products to share, it does not make a member's arithmetic cheaper. Its dropout draws one scaled mask
per layer, about half the cost of ``F.dropout`` on a CPU.
:func:`idl_helpers.training.train.fit_stacked` trains it: the summed loss gives each member exactly the
gradient of its own loss and Adam is element-wise, so each member trains as it would alone (its
own batch order from its own seed; only the dropout masks come from a shared random stream).

:func:`idl_helpers.training.tokenwise.fit_members` is the notebooks' entry point: it builds the stack, trains it with the per-epoch
curve on a **validation** split and measures every member once on the test split.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

from idl_helpers.models import tokenwise as tw
from idl_helpers.models.stacking import Stacked


def _linears(seq: nn.Sequential) -> list[str]:
    return [str(i) for i, m in enumerate(seq) if isinstance(m, nn.Linear)]


def _dropout(h: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Inverted dropout with member k's rate ``p[k]`` on h (K, N, C): each entry is kept with
    probability ``1 − p[k]`` and scaled by ``1 / (1 − p[k])`` (as ``F.dropout``). The scaled mask is
    drawn once and multiplied in, which on a CPU takes about half the time of ``F.dropout``."""
    if bool((p == p[0]).all()):
        keep = 1.0 - float(p[0])
        mask = torch.empty_like(h).bernoulli_(keep).div_(keep)
    else:
        keep = (1.0 - p).view(-1, 1, 1).to(h.dtype)
        mask = (torch.rand_like(h) < keep).to(h.dtype).div_(keep)
    return h * mask


class StackedTokenwise(Stacked):
    """``K`` token-wise models (:class:`~idl_helpers.models.tokenwise.MeanMLP`,
    :class:`~idl_helpers.models.tokenwise.WeightedSumMLP` or
    :class:`~idl_helpers.models.tokenwise.RestrictedAttentionMLP`) of one kind and shape as one model.

    ``forward(ids, lengths)`` takes (K, B, T) and (K, B) — each member its own batch — or (1, B, T)
    and (1, B) — one batch for all — and returns logits (K, B, 2); member ``k`` computes exactly what
    ``members[k]`` computes (checked in the tests). Restricted-attention members may differ in their
    window ``k``, members may differ in their dropout rate, and members may carry different fixed embedding tables of one shape.
    :meth:`member` gives member ``k`` back as a plain model with its current weights."""

    def __init__(self, members: list[tw._TokenwiseBase]):
        super().__init__()
        if not members:
            raise ValueError("no members")
        kind = type(members[0])
        shape = {n: tuple(p.shape) for n, p in members[0].named_parameters() if p.requires_grad}
        for m in members[1:]:
            if type(m) is not kind:
                raise ValueError(f"members differ in kind: {kind.__name__} vs {type(m).__name__}")
            other = {n: tuple(p.shape) for n, p in m.named_parameters() if p.requires_grad}
            if other != shape:
                raise ValueError("members differ in shape")
            if m.embedding.weight.shape != members[0].embedding.weight.shape:
                raise ValueError("members' embedding tables differ in shape")
        self.K = len(members)
        self.kind = kind
        self.register_buffer("dropouts", torch.tensor([float(m.hparams["dropout"]) for m in members]))
        self._stack(members, list(shape))
        first = members[0].embedding.weight
        self.shared_embedding = all(m.embedding.weight is first or torch.equal(m.embedding.weight, first)
                                    for m in members[1:])
        emb = first.detach() if self.shared_embedding else torch.stack([m.embedding.weight.detach() for m in members])
        self.register_buffer("emb", emb.clone())
        self.mlp_layers = _linears(members[0].mlp)
        self.imp_layers = _linears(members[0].importance) if kind is tw.WeightedSumMLP else []
        if kind is tw.RestrictedAttentionMLP:
            self.register_buffer("windows", torch.tensor([m.attention.k for m in members]))
            self.d_att = members[0].attention.d_att
        self.per_word = kind is not tw.RestrictedAttentionMLP
        self._members = members                  # a plain list: templates for member(), not submodules

    # -- parameters -------------------------------------------------------------------------
    def _p(self, name: str) -> torch.Tensor:
        return self.params[name.replace(".", "__")]

    def member(self, k: int) -> tw._TokenwiseBase:
        """Member ``k`` as a standalone model (a copy of its current weights)."""
        tmpl = self._members[k]
        m = copy.deepcopy(tmpl).to(self.emb.device)
        with torch.no_grad():
            own = dict(m.named_parameters())
            for n, p in self.stacked().items():
                own[n].copy_(p[k])
        m.train(tmpl.training)
        return m

    # -- the computation ----------------------------------------------------------------------
    def _linear(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        """x (K, N, d_in) → (K, N, d_out) with member k's ``prefix`` Linear."""
        w, b = self._p(f"{prefix}.weight"), self._p(f"{prefix}.bias")
        return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))

    def _mlp(self, x: torch.Tensor, module: str, layers: list[str], dropout: float) -> torch.Tensor:
        """x (K, ..., d) → (K, ..., d_out): member k's MLP ``module`` (``dropout``: 0 = none, else
        each member's own dropout rate, in training mode)."""
        lead = x.shape[:-1]
        h = x.reshape(self.K, -1, x.shape[-1])
        for j, name in enumerate(layers):
            h = self._linear(f"{module}.{name}", h)
            if j < len(layers) - 1:
                h = F.relu(h)
                if dropout and self.training:
                    h = _dropout(h, self.dropouts)
        return h.reshape(*lead, h.shape[-1])

    def _lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (K or 1, ...) → embeddings (K, ..., d)."""
        if self.shared_embedding:
            x = self.emb[ids]
            return x.expand(self.K, *x.shape[1:]) if x.shape[0] == 1 else x
        ids = ids.expand(self.K, *ids.shape[1:]) if ids.shape[0] == 1 else ids
        V = self.emb.shape[1]
        offs = (torch.arange(self.K, device=ids.device) * V).view(self.K, *([1] * (ids.dim() - 1)))
        return self.emb.reshape(self.K * V, -1)[ids + offs]

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = ids.shape[-1]
        mask = torch.arange(T, device=ids.device) < lengths.unsqueeze(-1)         # (K|1, B, T)
        if self.per_word and not self.training and ids.shape[0] == 1:
            # a word's sub-score (and importance) depends on the word alone: score each distinct
            # word once (exact), as the plain models do in evaluation mode
            uniq, inverse = torch.unique(ids[0], return_inverse=True)
            xe = self._lookup(uniq.unsqueeze(0))                                  # (K, U, d)
            sub = self._mlp(xe, "mlp", self.mlp_layers, 0.0)[:, inverse]          # (K, B, T, 2)
            imp = (self._mlp(xe, "importance", self.imp_layers, 0.0)[..., 0][:, inverse]
                   if self.imp_layers else None)
        else:
            x = self._lookup(ids)                                                 # (K, B, T, d)
            if self.kind is tw.RestrictedAttentionMLP:
                x = self._attend(x, mask)
            sub = self._mlp(x, "mlp", self.mlp_layers, 1.0)
            imp = self._mlp(x, "importance", self.imp_layers, 0.0)[..., 0] if self.imp_layers else None
        mask = mask.expand(self.K, *mask.shape[1:])
        if imp is not None:
            w = tw.masked_softmax(imp, mask, dim=-1)
            return (w.unsqueeze(-1) * sub).sum(-2)
        return tw.masked_mean(sub.reshape(-1, T, 2), mask.reshape(-1, T)).view(self.K, -1, 2)

    def _attend(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        K, B, T, d = x.shape
        flat = x.reshape(K, B * T, d)
        q, kk, v = (self._linear(f"attention.{n}", flat).view(K, B, T, -1) for n in ("q", "key", "v"))
        scores = q @ kk.transpose(-1, -2) / math.sqrt(self.d_att)                # (K, B, T, T)
        pos = torch.arange(T, device=x.device)
        band = (pos[:, None] - pos[None, :]).abs()[None] <= self.windows.view(K, 1, 1)   # (K, T, T)
        m = mask.expand(K, *mask.shape[1:])
        allowed = band[:, None] & m[:, :, :, None] & m[:, :, None, :]
        attn = tw.masked_softmax(scores, allowed, dim=-1)
        return attn @ v


def build(kind, embeddings, seed: int, **kw) -> tw._TokenwiseBase:
    """``kind(embeddings, **kw)`` initialised under ``torch.manual_seed(seed)`` (as the pages build
    a single model), without disturbing the caller's random stream."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return kind(embeddings, **kw)


__all__ = ["StackedTokenwise", "build"]
