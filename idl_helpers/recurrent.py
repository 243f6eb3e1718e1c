"""Recurrent cells written from their equations, and a many-to-one review classifier.

Two cells, both with a selectable activation ``"none" | "tanh" | "sigmoid" | "relu"``
(for the GRU it is the activation of the *candidate* state; its gates stay sigmoids):

* :class:`ElmanRNN` — ``h_t = act(W_x x_t + W_h h_{t-1} + b)``
* :class:`GRU` — gates ``r, z``, candidate ``n`` and ``h_t = (1 - z) * n + z * h_{t-1}``, with
  ``reset="before"`` (Cho et al. 2014, and the report's ``Linear([x, r*h])``):
  ``n = act(W_nx x + W_nh (r * h) + b_n)``; or ``reset="after"`` (what ``torch.nn.GRU`` does):
  ``n = act(W_nx x + b_n + r * (W_nh h + b_hn))``.

Neither uses ``nn.RNN``/``nn.GRU``. Speed comes from two plain tricks that leave the
equations readable: the input projections ``W_x x_t + b`` of all time steps are one matrix
product before the loop, and the loop only does the ``h``-dependent part.

:class:`RecurrentClassifier` embeds ids with fixed GloVe vectors, runs a cell over the
review and classifies from the hidden state after the review's **last real token**
(``lengths - 1``): padding after the review cannot change the prediction.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = ("none", "tanh", "sigmoid", "relu")


def activation(name: str):
    """The element-wise function for an activation name (``"none"`` is the identity)."""
    try:
        return {"none": lambda v: v, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}") from None


def _uniform_(params, hidden_size: int) -> None:
    # the same initialisation as torch.nn.RNN/GRU: U(-1/sqrt(h), 1/sqrt(h))
    bound = 1.0 / math.sqrt(hidden_size)
    for p in params:
        nn.init.uniform_(p, -bound, bound)


def _last_real(states: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """``states`` is (T, B, H); the state after step ``lengths - 1`` of each sequence."""
    if lengths is None:
        return states[-1]
    idx = (lengths.to(states.device).long() - 1).clamp(min=0)
    return states[idx, torch.arange(states.shape[1], device=states.device)]


class ElmanRNN(nn.Module):
    """``h_t = act(W_x x_t + W_h h_{t-1} + b)`` over a batch-first sequence.

    One bias vector: the report's ``Linear([x, h] -> h)`` has ``(d + h) h + h`` parameters, and so
    does this cell (``torch.nn.RNNCell`` carries two biases, whose sum plays the role of ``b``).
    """

    def __init__(self, input_size: int, hidden_size: int, act: str = "tanh"):
        super().__init__()
        self.input_size, self.hidden_size, self.act_name = input_size, hidden_size, act
        self.act = activation(act)
        self.W_x = nn.Parameter(torch.empty(hidden_size, input_size))
        self.W_h = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(hidden_size))
        _uniform_(self.parameters(), hidden_size)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step of the equation, for a single time step (used by tests and readers)."""
        return self.act(x_t @ self.W_x.T + h @ self.W_h.T + self.b)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, h0: torch.Tensor | None = None):
        """``x`` is (B, T, d). Returns ``(states (B, T, H), last real state (B, H))``."""
        B, T, _ = x.shape
        # all input projections at once; unbind (not xp[t]) so backward stacks the T gradients
        # once instead of building a full-size zero tensor per step
        xp = (x @ self.W_x.T + self.b).transpose(0, 1).unbind(0)
        h = x.new_zeros(B, self.hidden_size) if h0 is None else h0
        W_hT = self.W_h.T
        states = []
        for t in range(T):
            h = self.act(torch.addmm(xp[t], h, W_hT))
            states.append(h)
        S = torch.stack(states)
        return S.transpose(0, 1), _last_real(S, lengths)


class GRU(nn.Module):
    """A gated recurrent unit written from its equations (gate order ``r, z, n`` as in PyTorch).

    ``r = σ(W_rx x + W_rh h + b_r)``, ``z = σ(W_zx x + W_zh h + b_z)``, candidate ``n`` as in the
    module docstring, ``h' = (1 - z) * n + z * h``. ``reset="before"`` has ``3((d + h) h + h)``
    parameters (the report's three ``Linear([x, h] -> h)``); ``reset="after"`` adds the bias
    ``b_hn`` inside the reset product (``h`` more), which makes it equal to ``torch.nn.GRUCell``.
    """

    def __init__(self, input_size: int, hidden_size: int, act: str = "tanh", reset: str = "before"):
        super().__init__()
        if reset not in ("before", "after"):
            raise ValueError("reset must be 'before' (Cho et al.) or 'after' (torch.nn.GRU)")
        self.input_size, self.hidden_size, self.act_name, self.reset = input_size, hidden_size, act, reset
        self.act = activation(act)
        self.W_x = nn.Parameter(torch.empty(3 * hidden_size, input_size))   # rows: r, z, n
        self.W_h = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.b = nn.Parameter(torch.empty(3 * hidden_size))
        self.b_hn = nn.Parameter(torch.empty(hidden_size)) if reset == "after" else None
        _uniform_(self.parameters(), hidden_size)

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step written literally from the equations (slow; the reference for ``forward``)."""
        H = self.hidden_size
        gx = x_t @ self.W_x.T + self.b
        r = torch.sigmoid(gx[:, :H] + h @ self.W_h[:H].T)
        z = torch.sigmoid(gx[:, H:2 * H] + h @ self.W_h[H:2 * H].T)
        if self.reset == "before":
            n = self.act(gx[:, 2 * H:] + (r * h) @ self.W_h[2 * H:].T)
        else:
            n = self.act(gx[:, 2 * H:] + r * (h @ self.W_h[2 * H:].T + self.b_hn))
        return (1 - z) * n + z * h

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, h0: torch.Tensor | None = None):
        """``x`` is (B, T, d). Returns ``(states (B, T, H), last real state (B, H))``."""
        B, T, _ = x.shape
        H = self.hidden_size
        xp = (x @ self.W_x.T + self.b).transpose(0, 1)  # (T, B, 3H): input side of every gate, all steps
        xr_all, xn_all = xp[:, :, :2 * H].unbind(0), xp[:, :, 2 * H:].unbind(0)  # see ElmanRNN.forward
        h = x.new_zeros(B, H) if h0 is None else h0
        states = []
        if self.reset == "before":
            W_rzT, W_nT = self.W_h[:2 * H].T, self.W_h[2 * H:].T
            for t in range(T):
                xr, xn = xr_all[t], xn_all[t]
                r, z = torch.sigmoid(torch.addmm(xr, h, W_rzT)).chunk(2, 1)
                n = self.act(torch.addmm(xn, r * h, W_nT))
                h = n + z * (h - n)                      # = (1 - z) * n + z * h
                states.append(h)
        else:
            W_hT = self.W_h.T
            bias_h = torch.cat([self.b_hn.new_zeros(2 * H), self.b_hn])
            for t in range(T):
                gh = torch.addmm(bias_h, h, W_hT)           # (B, 3H)
                r, z = torch.sigmoid(xr_all[t] + gh[:, :2 * H]).chunk(2, 1)
                n = self.act(torch.addcmul(xn_all[t], r, gh[:, 2 * H:]))
                h = n + z * (h - n)
                states.append(h)
        S = torch.stack(states)
        return S.transpose(0, 1), _last_real(S, lengths)


CELLS = {"rnn": ElmanRNN, "gru": GRU}


class RecurrentClassifier(nn.Module):
    """Fixed embeddings → recurrent cell → last real hidden state → output head → 2 logits.

    ``head_hidden=32, single_logit=True`` (the default) is the head that reproduces the report's
    parameter counts exactly (12,673 for the RNN and 33,793 for the GRU at d=100, h=64):
    ``Linear(h, 32) → ReLU → Linear(32, 1)``. One logit ``s`` is returned as the pair ``(0, s)``,
    so softmax cross-entropy over the pair is exactly logistic loss on ``s`` and every shared
    tool (``train.fit``, metrics) sees two-class logits. ``head_hidden=None`` gives a single
    ``Linear(h, 2)``.
    """

    def __init__(self, embeddings, cell: str = "gru", hidden_size: int = 64, act: str = "tanh", *,
                 head_hidden: int | None = 32, single_logit: bool = True, reset: str = "before"):
        super().__init__()
        emb = torch.as_tensor(embeddings, dtype=torch.float32)
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=True, padding_idx=0)
        d = emb.shape[1]
        if cell == "rnn":
            self.rnn = ElmanRNN(d, hidden_size, act)
        elif cell == "gru":
            self.rnn = GRU(d, hidden_size, act, reset=reset)
        else:
            raise ValueError(f"cell must be one of {tuple(CELLS)}")
        n_out = 1 if single_logit else 2
        self.single_logit = single_logit
        self.head = (nn.Linear(hidden_size, n_out) if head_hidden is None else
                     nn.Sequential(nn.Linear(hidden_size, head_hidden), nn.ReLU(), nn.Linear(head_hidden, n_out)))
        self.config = dict(cell=cell, hidden_size=hidden_size, act=act, head_hidden=head_hidden,
                           single_logit=single_logit, reset=reset, input_size=d)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = int(lengths.max())                 # steps after the longest review in the batch are all padding
        x = self.embedding(ids[:, :T])
        _, last = self.rnn(x, lengths)
        out = self.head(last)
        return torch.cat([torch.zeros_like(out), out], 1) if self.single_logit else out


def n_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def param_count(cell: str, input_size: int, hidden_size: int, *, head_hidden: int | None = 32,
                single_logit: bool = True, reset: str = "before") -> int:
    """Trainable parameters of :class:`RecurrentClassifier`, from the formula.

    Cell: ``k((d + h) h + h)`` with ``k = 1`` (RNN) or ``3`` (GRU; ``+ h`` for ``reset="after"``).
    Head: ``(h + 1) c + (c + 1) o`` with ``c = head_hidden`` (or ``(h + 1) o`` without it).
    """
    d, h = input_size, hidden_size
    k = {"rnn": 1, "gru": 3}[cell]
    cell_params = k * ((d + h) * h + h) + (h if cell == "gru" and reset == "after" else 0)
    o = 1 if single_logit else 2
    head = (h + 1) * o if head_hidden is None else (h + 1) * head_hidden + (head_hidden + 1) * o
    return cell_params + head


__all__ = ["ACTIVATIONS", "ElmanRNN", "GRU", "RecurrentClassifier", "activation", "n_trainable", "param_count"]
