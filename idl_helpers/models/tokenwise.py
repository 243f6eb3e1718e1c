"""Token-wise sentiment models on IMDB (questions I.P2, I.P3, I.P4).

Every model reads a review as padded word ids plus its length, looks the words up in a
*fixed* GloVe matrix, and gives every word a 2-dimensional **sub-score** (negative,
positive) with the same MLP. The models differ only in what the MLP sees and how the
sub-scores become the review's logits:

* :class:`MeanMLP` (I.P2) — the MLP sees one word; review logits = mean of the sub-scores
  over the review's real (non-padding) words.
* :class:`WeightedSumMLP` (I.P3) — a second small network gives every word a scalar
  importance; the weights are a softmax of the importances over the review's real words and
  the review logits are the weighted sum of the sub-scores.
* :class:`RestrictedAttentionMLP` (I.P4) — before the MLP, every word attends to the words
  within ``±k`` positions (learned Q, K, V; scores scaled by ``1/√d``; padding masked out);
  the MLP sees the attention output; review logits = mean over real words.

``forward(ids, lengths)`` returns review logits ``(B, 2)``; ``explain(ids, lengths)`` returns
the per-word quantities the notebooks display (sub-scores, the scalar word score
``positive − negative``, weights, attention).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """``(B, L)`` bool, True on the first ``lengths[b]`` positions (the real words)."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values (B, L, C)`` over the positions where ``mask (B, L)`` is True."""
    m = mask.to(values.dtype).unsqueeze(-1)
    return (values * m).sum(1) / m.sum(1).clamp_min(1.0)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over ``dim`` where ``mask`` is True; masked entries are exactly 0, and a row
    with no allowed entry is all zeros (not NaN)."""
    scores = scores.masked_fill(~mask, float("-inf"))
    any_allowed = mask.any(dim, keepdim=True)
    out = torch.softmax(scores.masked_fill(~any_allowed, 0.0), dim)
    return out.masked_fill(~mask, 0.0)


def mlp(d_in: int, layers: int, width: int, dropout: float, d_out: int = 2) -> nn.Sequential:
    """``layers`` linear layers (``d_in → width → … → width → d_out``), ReLU and dropout between."""
    if layers < 1:
        raise ValueError("an MLP needs at least one layer")
    mods: list[nn.Module] = []
    d = d_in
    for _ in range(layers - 1):
        mods += [nn.Linear(d, width), nn.ReLU(), nn.Dropout(dropout)]
        d = width
    mods.append(nn.Linear(d, d_out))
    return nn.Sequential(*mods)


class _TokenwiseBase(nn.Module):
    """Frozen GloVe lookup + the token-wise MLP; subclasses decide what the MLP sees and how
    sub-scores are pooled."""

    #: True when the MLP sees one word's embedding only (no context)
    per_word = True

    def __init__(self, embeddings, *, layers: int = 10, width: int = 50, dropout: float = 0.1,
                 mlp_in: int | None = None):
        super().__init__()
        emb = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=True, padding_idx=0)
        self.dim = emb.shape[1]
        self.hparams = dict(layers=layers, width=width, dropout=dropout)
        self.mlp = mlp(mlp_in or self.dim, layers, width, dropout)

    def _features(self, x: torch.Tensor, mask: torch.Tensor) -> dict:
        return {"features": x}

    def _pool(self, sub: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, out: dict) -> torch.Tensor:
        return masked_mean(sub, mask)

    def explain(self, ids: torch.Tensor, lengths: torch.Tensor, *, per_position: bool = False) -> dict:
        """Per-word quantities: ``sub_scores (B, L, 2)``, ``word_score (B, L)`` = positive −
        negative sub-score (0 on padding), ``mask``, review ``logits``, plus model-specific
        ``weights`` / ``attention``.

        ``per_position=True`` runs the MLP on every position of the sequence, never the
        score-each-distinct-word-once shortcut of evaluation mode, so that a check comparing the
        scores of a word's occurrences compares independently computed numbers."""
        lengths = torch.as_tensor(lengths, device=ids.device)
        mask = padding_mask(lengths, ids.shape[1])
        x = self.embedding(ids)
        out = self._features(x, mask)
        if self.per_word and not self.training and not per_position:
            # the sub-score depends on the word alone: score each distinct word once (exact;
            # evaluation on 25,000 reviews touches ~50k distinct words instead of 2.5M tokens)
            uniq, inverse = torch.unique(ids, return_inverse=True)
            sub = self.mlp(self.embedding(uniq))[inverse]
        else:
            sub = self.mlp(out["features"])
        out["sub_scores"] = sub
        out["word_score"] = (sub[..., 1] - sub[..., 0]).masked_fill(~mask, 0.0)
        out["mask"] = mask
        out["logits"] = self._pool(sub, x, mask, out)
        return out

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.explain(ids, lengths)["logits"]


class MeanMLP(_TokenwiseBase):
    """I.P2: one MLP per word, review logits = mean of sub-scores over real words."""


class WeightedSumMLP(_TokenwiseBase):
    """I.P3: sub-scores weighted by a softmax (over the review's real words) of a learned
    per-word importance ``a(word)``, a small network on the word's GloVe vector."""

    def __init__(self, embeddings, *, layers: int = 10, width: int = 50, dropout: float = 0.1,
                 importance_layers: int = 2, importance_width: int = 50):
        super().__init__(embeddings, layers=layers, width=width, dropout=dropout)
        self.importance = mlp(self.dim, importance_layers, importance_width, 0.0, d_out=1)
        self.hparams.update(importance_layers=importance_layers, importance_width=importance_width)

    def word_importance(self, ids: torch.Tensor) -> torch.Tensor:
        """The unnormalised importance ``a(word)`` of each id (any shape)."""
        return self.importance(self.embedding(ids)).squeeze(-1)

    def _pool(self, sub, x, mask, out):
        a = self.importance(x).squeeze(-1)
        w = masked_softmax(a, mask, dim=1)
        out["importance"] = a.masked_fill(~mask, 0.0)
        out["weights"] = w
        return (w.unsqueeze(-1) * sub).sum(1)


def window_mask(lengths: torch.Tensor, max_len: int, k: int) -> torch.Tensor:
    """``(B, L, L)`` bool: query ``i`` may attend to key ``j`` iff ``|i − j| ≤ k`` and both are
    real words."""
    pos = torch.arange(max_len, device=lengths.device)
    band = (pos[:, None] - pos[None, :]).abs() <= k
    real = padding_mask(lengths, max_len)
    return band[None] & real[:, :, None] & real[:, None, :]


class RestrictedSelfAttention(nn.Module):
    """Single-head self-attention restricted to a window of ``±k`` positions.

    ``a_ij = softmax_j(q_i·k_j / √d)`` over the real words ``j`` with ``|i − j| ≤ k``;
    output ``o_i = Σ_j a_ij v_j``. Padded keys get weight exactly 0; padded queries output 0.
    """

    def __init__(self, d_in: int, d_att: int | None = None, k: int = 5):
        super().__init__()
        d_att = d_att or d_in
        self.k, self.d_att = int(k), d_att
        self.q = nn.Linear(d_in, d_att)
        self.key = nn.Linear(d_in, d_att)
        self.v = nn.Linear(d_in, d_att)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q, kk, v = self.q(x), self.key(x), self.v(x)
        scores = q @ kk.transpose(1, 2) / math.sqrt(self.d_att)
        attn = masked_softmax(scores, window_mask(lengths, x.shape[1], self.k), dim=-1)
        return attn @ v, attn


def naive_restricted_attention(x, lengths, wq, bq, wk, bk, wv, bv, k: int):
    """Reference implementation with explicit loops (for tests): same maths as
    :class:`RestrictedSelfAttention`, one query and one key at a time."""
    B, L, _ = x.shape
    d = wq.shape[0]
    out = torch.zeros(B, L, wv.shape[0], dtype=x.dtype)
    attn = torch.zeros(B, L, L, dtype=x.dtype)
    for b in range(B):
        n = int(lengths[b])
        for i in range(n):
            qi = x[b, i] @ wq.T + bq
            keys = [j for j in range(max(0, i - k), min(n, i + k + 1))]
            s = torch.stack([(qi @ (x[b, j] @ wk.T + bk)) / math.sqrt(d) for j in keys])
            e = torch.exp(s - s.max())
            a = e / e.sum()
            for jj, j in enumerate(keys):
                attn[b, i, j] = a[jj]
                out[b, i] += a[jj] * (x[b, j] @ wv.T + bv)
    return out, attn


class RestrictedAttentionMLP(_TokenwiseBase):
    """I.P4: restricted self-attention (window ``±k``), then the token-wise MLP on the
    attention output, review logits = mean of sub-scores over real words."""

    def __init__(self, embeddings, *, k: int = 5, d_att: int | None = None, layers: int = 10,
                 width: int = 50, dropout: float = 0.1):
        dim = np.asarray(embeddings).shape[1]
        d_att = d_att or dim
        super().__init__(embeddings, layers=layers, width=width, dropout=dropout, mlp_in=d_att)
        self.attention = RestrictedSelfAttention(dim, d_att, k)
        self.hparams.update(k=int(k), d_att=d_att)

    per_word = False

    def _features(self, x, mask):
        lengths = mask.sum(1)
        o, a = self.attention(x, lengths)
        return {"features": o, "attention": a}



def n_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def explain_texts(model: _TokenwiseBase, data, texts, device: str = "cpu", *, per_position: bool = False) -> list[dict]:
    """Encode ``texts`` with ``data.encode`` and return, per text, the words, whether each is a
    GloVe word (False for ``<unk>`` and words GloVe lacks), the word scores, the sub-scores,
    the review's P(positive), and the weights / attention when the model has them.
    ``per_position`` as in :meth:`_TokenwiseBase.explain`."""
    ids, lengths, toks = data.encode(texts)
    was = model.training
    model.eval()
    out = model.explain(torch.as_tensor(ids, device=device), torch.as_tensor(lengths, device=device),
                        per_position=per_position)
    model.train(was)
    proba = torch.softmax(out["logits"], 1)[:, 1].cpu().numpy()
    rows = []
    for b, words in enumerate(toks):
        n = len(words)
        row = {"text": texts[b], "words": words,
               "known": [bool(i > 1 and data.in_glove[i]) for i in ids[b, :n]],
               "ids": ids[b, :n].tolist(),
               "word_score": out["word_score"][b, :n].cpu().numpy(),
               "sub_scores": out["sub_scores"][b, :n].cpu().numpy(),
               "p_positive": float(proba[b])}
        if "weights" in out:
            row["weights"] = out["weights"][b, :n].cpu().numpy()
            row["importance"] = out["importance"][b, :n].cpu().numpy()
        if "attention" in out:
            row["attention"] = out["attention"][b, :n, :n].cpu().numpy()
        rows.append(row)
    return rows


__all__ = ["MeanMLP", "WeightedSumMLP", "RestrictedAttentionMLP", "RestrictedSelfAttention",
           "naive_restricted_attention", "window_mask", "padding_mask", "masked_mean", "masked_softmax",
           "mlp", "n_parameters", "explain_texts"]
