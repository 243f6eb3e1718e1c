"""Recurrent cells written from their equations, and a many-to-one review classifier.

Two cells, both with a selectable activation ``"none" | "tanh" | "sigmoid" | "relu"``
(for the GRU it is the activation of the *candidate* state; its gates stay sigmoids):

* :class:`ElmanRNN` — ``h_t = act(W_x x_t + W_h h_{t-1} + b)``
* :class:`GRU` — gates ``r, z``, candidate ``n`` and ``h_t = (1 - z) * n + z * h_{t-1}``, with
  ``reset="before"`` (Cho et al. 2014, and the report's ``Linear([x, r*h])``):
  ``n = act(W_nx x + W_nh (r * h) + b_n)``; or ``reset="after"`` (what ``torch.nn.GRU`` does):
  ``n = act(W_nx x + b_n + r * (W_nh h + b_hn))``.

Neither uses ``nn.RNN``/``nn.GRU``. Each cell's ``step`` is the equation written literally
(one time step); ``forward_autograd`` is the loop over those equations that autograd
differentiates (the reference the fast path is tested against). The fast path that training
uses computes exactly the same function and gradients with fewer operations:

* the input projections ``W_x x_t + b`` of all time steps are one matrix product before the loop;
* the loop is a hand-written autograd ``Function`` (:func:`elman_scan`, :func:`gru_scan`):
  the forward pass stores the gates, the backward pass is back-propagation through time
  written out (a dozen tensor operations per step instead of autograd's graph of ~40), and the
  recurrent weight gradient is **one** matrix product over all steps at the end;
* every tensor carries a leading *member* dimension ``K``: :class:`StackedRecurrentClassifier`
  trains ``K`` independent models (seeds, variants) of the same shape as one batched model
  (``torch.bmm``), so the per-operation overhead of the time loop is paid once for all of them.
  Members never mix: each member's output and gradient are those of the single model with its
  weights (``tests/test_recurrent.py`` checks it to 1e-6).

:class:`RecurrentClassifier` embeds ids with fixed GloVe vectors, runs a cell over the
review and classifies from the hidden state after the review's **last real token**
(``lengths - 1``): padding after the review cannot change the prediction.
:class:`TorchRecurrentClassifier` is the same classifier around ``torch.nn.RNN``/``nn.GRU``
(the implementation check).
"""

from __future__ import annotations

import contextlib
import copy
import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from idl_helpers.models.stacking import Stacked

ACTIVATIONS = ("none", "tanh", "sigmoid", "relu")
INITS = ("uniform", "orthogonal")


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


# --------------------------------------------------------------------------------------------
# The fast recurrences: tensors are (K members, T steps, B sequences, features)
# --------------------------------------------------------------------------------------------

class Workspace:
    """Buffers the recurrences reuse from one training step to the next.

    Writing into freshly allocated memory costs a page fault per 4 KiB the first time it is
    touched, and the large per-step buffers (all states, all gates: tens of MB) would be fresh
    on every batch. Inside ``with reuse_buffers():`` the recurrences take their buffers from
    here and hand them back once the backward pass (or the evaluation) no longer needs them.
    A buffer is only reused after it was given back, so two forward passes before a backward
    pass each get their own; reusing one that autograd still holds (``retain_graph``) bumps its
    version counter and autograd raises instead of computing a wrong gradient.
    """

    def __init__(self):
        self._free: dict[tuple, list[torch.Tensor]] = {}

    def take(self, shape, like: torch.Tensor) -> torch.Tensor:
        free = self._free.get((tuple(shape), like.dtype, like.device))
        return free.pop() if free else like.new_empty(shape)

    def give(self, *tensors: torch.Tensor) -> None:
        for t in tensors:
            if t is not None:
                self._free.setdefault((tuple(t.shape), t.dtype, t.device), []).append(t)


_WORKSPACE: Workspace | None = None


@contextlib.contextmanager
def reuse_buffers(ws: Workspace | None = None):
    """Let the recurrences reuse their large buffers (see :class:`Workspace`) inside the block."""
    global _WORKSPACE
    old, _WORKSPACE = _WORKSPACE, (ws or Workspace())
    try:
        yield _WORKSPACE
    finally:
        _WORKSPACE = old


def _take(ws: Workspace | None, shape, like: torch.Tensor) -> torch.Tensor:
    return ws.take(shape, like) if ws is not None else like.new_empty(shape)


def _give(ws: Workspace | None, *tensors) -> None:
    if ws is not None:
        ws.give(*tensors)


def _act_(name: str, t: torch.Tensor) -> None:
    """Apply the activation in place."""
    if name == "tanh":
        t.tanh_()
    elif name == "sigmoid":
        t.sigmoid_()
    elif name == "relu":
        t.relu_()
    elif name != "none":
        raise ValueError(f"unknown activation {name!r}; choose one of {ACTIVATIONS}")


def _act_grad_into(name: str, y: torch.Tensor, g: torch.Tensor, out: torch.Tensor) -> None:
    """``out = g * f'(x)``, written from the output ``y = f(x)``."""
    if name == "tanh":
        torch.addcmul(g, g, y * y, value=-1.0, out=out)          # g (1 - y²)
    elif name == "sigmoid":
        # y (1 - y), not y - y²: for a saturated y ≈ 0, y² is a denormal float, and arithmetic on
        # denormals is ~100x slower on a CPU (a sigmoid RNN ran 5x slower per epoch)
        torch.mul(g, y * (1 - y), out=out)
    elif name == "relu":
        torch.mul(g, y > 0, out=out)                              # relu'(0) = 0, as in autograd
    else:
        out.copy_(g)


def _ends(ends: torch.Tensor | None, K: int, T: int, B: int, device) -> torch.Tensor:
    """Index of each sequence's last real step, (K, B) long; ``None`` means the last step."""
    if ends is None:
        return torch.full((K, B), T - 1, dtype=torch.long, device=device)
    return ends.to(device=device, dtype=torch.long).clamp(0, T - 1).expand(K, B)


def _end_masks(ends: torch.Tensor, dtype) -> dict[int, torch.Tensor]:
    """For every step where some sequence ends: a (K, B, 1) mask of those sequences."""
    return {int(t): (ends == t).unsqueeze(-1).to(dtype) for t in torch.unique(ends).tolist()}


def _gather_last(Hall: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
    """``Hall`` is (K, T + 1, B, H) with the initial state first; the state after step ``ends``."""
    K, _, B, _ = Hall.shape
    k = torch.arange(K, device=Hall.device)[:, None]
    b = torch.arange(B, device=Hall.device)[None, :]
    return Hall[k, ends + 1, b]


def _from_outputs(dh, dS, t: int, masks: dict, dlast):
    """``dh`` plus what the loss sends to the state after step ``t`` directly: through the
    all-states output (``dS``) and, for the sequences that end at ``t``, through the last state."""
    if dS is not None:
        dh = dh + dS[:, t]
    m = masks.get(t)
    if m is not None:
        dh = torch.addcmul(dh, dlast, m)
    return dh


def _project(ws, x, W_x, b):
    """``xp[k] = x[k] W_x[k]ᵀ + b[k]`` for all steps at once: (K, T, B, G); ``x`` is (K or 1, T, B, d)."""
    Kx, T, B, d = x.shape
    K, G, _ = W_x.shape
    xp = _take(ws, (K, T, B, G), x)
    if Kx == K:
        torch.baddbmm(b.unsqueeze(1), x.reshape(K, T * B, d), W_x.transpose(1, 2), out=xp.view(K, T * B, G))
    else:                                            # one input for every member
        x2 = x.reshape(T * B, d)
        for k in range(K):
            torch.addmm(b[k], x2, W_x[k].T, out=xp[k].view(T * B, G))
    return xp


def _input_grads(dG, x, W_x, need_x: bool):
    """Gradients of ``W_x``, ``b`` (and ``x``) from the gradient ``dG`` (K, T, B, G) of ``xp``."""
    K, T, B, G = dG.shape
    d = x.shape[-1]
    dGf = dG.view(K, T * B, G)
    dW_x = torch.bmm(dGf.transpose(1, 2), x.reshape(K, T * B, d))
    db = torch.bmm(dGf.new_ones(K, 1, T * B), dGf)[:, 0]          # column sums, as one product
    dx = torch.bmm(dGf, W_x).view(K, T, B, d) if need_x else None
    return dW_x, db, dx


class _ElmanScan(torch.autograd.Function):
    """``h_{t+1} = act(x_t W_xᵀ + b + h_t W_hᵀ)`` for all steps; outputs (all states, last real states)."""

    @staticmethod
    def forward(ctx, x, W_x, b, W_h, h0, ends, act, release):
        ws = _WORKSPACE
        xp = _project(ws, x, W_x, b)
        K, T, B, H = xp.shape
        Hall = _take(ws, (K, T + 1, B, H), xp)
        Hall[:, 0] = 0 if h0 is None else h0
        W_hT = W_h.transpose(1, 2)
        hs, xs = Hall.unbind(1), xp.unbind(1)
        for t in range(T):
            torch.baddbmm(xs[t], hs[t], W_hT, out=hs[t + 1])
            _act_(act, hs[t + 1])
        _give(ws, xp)
        ctx.save_for_backward(x, W_x, Hall, W_h, ends)
        ctx.act, ctx.ws, ctx.release = act, ws, release
        ctx.set_materialize_grads(False)
        return Hall[:, 1:], _gather_last(Hall, ends)

    @staticmethod
    @once_differentiable
    def backward(ctx, dS, dlast):
        x, W_x, Hall, W_h, ends = ctx.saved_tensors
        ws = ctx.ws
        K, T1, B, H = Hall.shape
        T = T1 - 1
        masks = _end_masks(ends, Hall.dtype) if dlast is not None else {}
        dA = _take(ws, (K, T, B, H), Hall)       # gradient of the pre-activations = of xp
        dh = Hall.new_zeros(K, B, H)              # gradient of the state after step t
        hs, das = Hall.unbind(1), dA.unbind(1)
        for t in range(T - 1, -1, -1):
            dh = _from_outputs(dh, dS, t, masks, dlast)
            _act_grad_into(ctx.act, hs[t + 1], dh, das[t])
            dh = torch.bmm(das[t], W_h)
        # dW_h = Σ_t da_tᵀ h_{t-1}: one product over all steps
        dW_h = torch.bmm(dA.view(K, T * B, H).transpose(1, 2), Hall[:, :T].reshape(K, T * B, H))
        dW_x, db, dx = _input_grads(dA, x, W_x, ctx.needs_input_grad[0])
        _give(ws, dA, Hall, *ctx.release)
        return dx, dW_x, db, dW_h, (dh if ctx.needs_input_grad[4] else None), None, None, None


class _GRUScan(torch.autograd.Function):
    """The GRU recurrence for all steps (``reset`` "before" or "after"); outputs as :class:`_ElmanScan`."""

    @staticmethod
    def forward(ctx, x, W_x, b, W_h, b_hn, h0, ends, act, reset, release):
        ws = _WORKSPACE
        xp = _project(ws, x, W_x, b)
        K, T, B, G = xp.shape
        H = G // 3
        Hall = _take(ws, (K, T + 1, B, H), xp)
        Hall[:, 0] = 0 if h0 is None else h0
        S = _take(ws, (K, T, B, 2 * H), xp)       # sigmoid outputs [r, z]
        N = _take(ws, (K, T, B, H), xp)           # candidate n
        X = _take(ws, (K, T, B, H), xp)           # before: r * h_{t-1};  after: W_nh h_{t-1} + b_hn
        W_rzT, W_nT = W_h[:, :2 * H].transpose(1, 2), W_h[:, 2 * H:].transpose(1, 2)
        bias_n = b_hn.unsqueeze(1) if reset == "after" else None
        # per-step views, made once (unbind) rather than by indexing in the loop
        hs, ss, ns, us = Hall.unbind(1), S.unbind(1), N.unbind(1), X.unbind(1)
        xrz, xn = xp[..., :2 * H].unbind(1), xp[..., 2 * H:].unbind(1)
        for t in range(T):
            h, s, n, u = hs[t], ss[t], ns[t], us[t]
            torch.baddbmm(xrz[t], h, W_rzT, out=s)
            s.sigmoid_()
            r, z = s[..., :H], s[..., H:]
            if reset == "before":
                torch.mul(r, h, out=u)
                torch.baddbmm(xn[t], u, W_nT, out=n)
            else:
                torch.baddbmm(bias_n, h, W_nT, out=u)
                torch.addcmul(xn[t], r, u, out=n)
            _act_(act, n)
            torch.addcmul(n, z, h - n, out=hs[t + 1])          # n + z (h - n) = (1 - z) n + z h
        _give(ws, xp)
        ctx.save_for_backward(x, W_x, Hall, S, N, X, W_h, ends)
        ctx.act, ctx.reset, ctx.ws, ctx.release = act, reset, ws, release
        ctx.set_materialize_grads(False)
        return Hall[:, 1:], _gather_last(Hall, ends)

    @staticmethod
    @once_differentiable
    def backward(ctx, dS, dlast):
        x, W_x, Hall, S, N, X, W_h, ends = ctx.saved_tensors
        ws = ctx.ws
        K, T1, B, H = Hall.shape
        T = T1 - 1
        before = ctx.reset == "before"
        masks = _end_masks(ends, Hall.dtype) if dlast is not None else {}
        W_rz, W_n = W_h[:, :2 * H], W_h[:, 2 * H:]
        dG = _take(ws, (K, T, B, 3 * H), Hall)    # gradient of xp (the gates' input side)
        dX = None if before else _take(ws, (K, T, B, H), Hall)   # after: gradient of W_nh h + b_hn
        buf = Hall.new_empty(K, B, 2 * H)         # [dr, dz]
        dr, dz = buf[..., :H], buf[..., H:]
        dh = Hall.new_zeros(K, B, H)
        hs, ss, ns, xs = Hall.unbind(1), S.unbind(1), N.unbind(1), X.unbind(1)
        dgss, dgns = dG[..., :2 * H].unbind(1), dG[..., 2 * H:].unbind(1)
        dxs = None if before else dX.unbind(1)
        for t in range(T - 1, -1, -1):
            dh = _from_outputs(dh, dS, t, masks, dlast)
            s, n, h = ss[t], ns[t], hs[t]
            r, z = s[..., :H], s[..., H:]
            hz = dh * z                                   # through the z * h_{t-1} path
            dn = dh - hz                                  # (1 - z) dh
            dgn = dgns[t]
            _act_grad_into(ctx.act, n, dn, dgn)
            if before:
                du = torch.bmm(dgn, W_n)                  # gradient of r * h_{t-1}
                torch.mul(du, h, out=dr)
                dh_prev = torch.addcmul(hz, du, r)
            else:
                dx_t = dxs[t]
                torch.mul(dgn, r, out=dx_t)               # gradient of W_nh h + b_hn
                torch.mul(dgn, xs[t], out=dr)
                dh_prev = torch.baddbmm(hz, dx_t, W_n)
            torch.mul(dh, h - n, out=dz)
            dgs = dgss[t]
            torch.mul(buf, s * (1 - s), out=dgs)          # through the sigmoids (no denormal s², see above)
            dh = torch.baddbmm(dh_prev, dgs, W_rz)
        Hprev = Hall[:, :T].reshape(K, T * B, H)
        dGf = dG.view(K, T * B, 3 * H)
        dW_rz = torch.bmm(dGf[..., :2 * H].transpose(1, 2), Hprev)
        if before:
            dW_n = torch.bmm(dGf[..., 2 * H:].transpose(1, 2), X.view(K, T * B, H))
            db_hn = None
        else:
            dW_n = torch.bmm(dX.view(K, T * B, H).transpose(1, 2), Hprev)
            db_hn = dX.sum((1, 2)) if ctx.needs_input_grad[4] else None
        dW_x, db, dx = _input_grads(dG, x, W_x, ctx.needs_input_grad[0])
        _give(ws, dG, dX, Hall, S, N, X, *ctx.release)
        return (dx, dW_x, db, torch.cat([dW_rz, dW_n], 1), db_hn, (dh if ctx.needs_input_grad[5] else None),
                None, None, None, None)


def _needs_grad(*ts) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in ts)


@torch.no_grad()
def _infer(kind, x, W_x, b, W_h, b_hn, h0, ends, act, reset, states, release):
    """The same recurrence without autograd: keeps only the running state (evaluation)."""
    ws = _WORKSPACE
    xp = _project(ws, x, W_x, b)
    K, T, B, G = xp.shape
    H = W_h.shape[2]
    h = xp.new_zeros(K, B, H) if h0 is None else h0
    last = xp.new_zeros(K, B, H)
    masks = _end_masks(ends, torch.bool)
    out = []
    if kind == "rnn":
        W_hT = W_h.transpose(1, 2)
    else:
        W_rzT, W_nT = W_h[:, :2 * H].transpose(1, 2), W_h[:, 2 * H:].transpose(1, 2)
        bias_n = b_hn.unsqueeze(1) if reset == "after" else None
    for t in range(T):
        if kind == "rnn":
            h = torch.baddbmm(xp[:, t], h, W_hT)
            _act_(act, h)
        else:
            s = torch.baddbmm(xp[:, t, :, :2 * H], h, W_rzT).sigmoid_()
            r, z = s[..., :H], s[..., H:]
            if reset == "before":
                n = torch.baddbmm(xp[:, t, :, 2 * H:], r * h, W_nT)
            else:
                n = torch.addcmul(xp[:, t, :, 2 * H:], r, torch.baddbmm(bias_n, h, W_nT))
            _act_(act, n)
            h = torch.addcmul(n, z, h - n)
        if states:
            out.append(h)
        m = masks.get(t)
        if m is not None:
            last = torch.where(m, h, last)
    _give(ws, xp, *release)
    return (torch.stack(out, 1) if states else None), last


def elman_scan(x, W_x, b, W_h, h0=None, ends=None, act="tanh", states=False, release=()):
    """The Elman recurrence for ``K`` members: inputs ``x`` (K or 1, T, B, d), weights with a
    leading member dimension (``W_x`` (K, H, d), ``b`` (K, H), ``W_h`` (K, H, H)).

    Returns ``(states (K, T, B, H) or None, last real states (K, B, H))``; ``ends`` (K, B) is
    each sequence's last real step (default: the last step). ``release``: workspace buffers to
    give back once no longer needed (the caller's ``x``)."""
    K, T, B = W_x.shape[0], x.shape[1], x.shape[2]
    ends = _ends(ends, K, T, B, x.device)
    if not _needs_grad(x, W_x, b, W_h, h0):
        return _infer("rnn", x, W_x, b, W_h, None, h0, ends, act, "before", states, release)
    if x.shape[0] != K:
        x = x.expand(K, *x.shape[1:])
    S, last = _ElmanScan.apply(x.contiguous(), W_x, b, W_h, h0, ends, act, tuple(release))
    return (S if states else None), last


def gru_scan(x, W_x, b, W_h, b_hn=None, h0=None, ends=None, act="tanh", reset="before", states=False,
             release=()):
    """The GRU recurrence for ``K`` members (``W_x`` (K, 3H, d), ``b`` (K, 3H), ``W_h`` (K, 3H, H),
    rows ``r, z, n``; ``b_hn`` (K, H) for ``reset="after"``). Arguments and result as :func:`elman_scan`."""
    K, T, B = W_x.shape[0], x.shape[1], x.shape[2]
    ends = _ends(ends, K, T, B, x.device)
    if reset == "after" and b_hn is None:
        raise ValueError("reset='after' needs b_hn")
    b_hn = b_hn if reset == "after" else None
    if not _needs_grad(x, W_x, b, W_h, b_hn, h0):
        return _infer("gru", x, W_x, b, W_h, b_hn, h0, ends, act, reset, states, release)
    if x.shape[0] != K:
        x = x.expand(K, *x.shape[1:])
    S, last = _GRUScan.apply(x.contiguous(), W_x, b, W_h, b_hn, h0, ends, act, reset, tuple(release))
    return (S if states else None), last


# --------------------------------------------------------------------------------------------
# The cells (one model) and the classifier
# --------------------------------------------------------------------------------------------

def _batch_first_call(cell, x, lengths, h0):
    """Shared ``forward`` of the cells: batch-first (B, T, d) in, ``(states (B, T, H), last (B, H))`` out."""
    B = x.shape[0]
    ends = None if lengths is None else (lengths.to(x.device).long() - 1).view(1, B)
    h0 = None if h0 is None else h0.unsqueeze(0)
    S, last = cell.scan(x.transpose(0, 1).unsqueeze(0), ends, h0, states=True)
    return S[0].transpose(0, 1), last[0]


class ElmanRNN(nn.Module):
    """``h_t = act(W_x x_t + W_h h_{t-1} + b)`` over a batch-first sequence.

    One bias vector: the report's ``Linear([x, h] -> h)`` has ``(d + h) h + h`` parameters, and so
    does this cell (``torch.nn.RNNCell`` carries two biases, whose sum plays the role of ``b``).
    """

    kind = "rnn"

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

    def scan(self, x, ends=None, h0=None, states=False):
        """The fast recurrence over time-major inputs ``x`` (1, T, B, d) (see :func:`elman_scan`)."""
        return elman_scan(x, self.W_x.unsqueeze(0), self.b.unsqueeze(0), self.W_h.unsqueeze(0), h0, ends,
                          self.act_name, states)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, h0: torch.Tensor | None = None):
        """``x`` is (B, T, d). Returns ``(states (B, T, H), last real state (B, H))``."""
        return _batch_first_call(self, x, lengths, h0)

    def forward_autograd(self, x: torch.Tensor, lengths: torch.Tensor | None = None, h0: torch.Tensor | None = None):
        """The same as :meth:`forward`, as a plain loop that autograd differentiates (the reference)."""
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

    kind = "gru"

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

    def scan(self, x, ends=None, h0=None, states=False):
        """The fast recurrence over time-major inputs ``x`` (1, T, B, d) (see :func:`gru_scan`)."""
        b_hn = None if self.b_hn is None else self.b_hn.unsqueeze(0)
        return gru_scan(x, self.W_x.unsqueeze(0), self.b.unsqueeze(0), self.W_h.unsqueeze(0), b_hn, h0, ends,
                        self.act_name, self.reset, states)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, h0: torch.Tensor | None = None):
        """``x`` is (B, T, d). Returns ``(states (B, T, H), last real state (B, H))``."""
        return _batch_first_call(self, x, lengths, h0)

    def forward_autograd(self, x: torch.Tensor, lengths: torch.Tensor | None = None, h0: torch.Tensor | None = None):
        """The same as :meth:`forward`, as a plain loop that autograd differentiates (the reference)."""
        B, T, _ = x.shape
        H = self.hidden_size
        xp = (x @ self.W_x.T + self.b).transpose(0, 1)  # (T, B, 3H): input side of every gate, all steps
        xr_all, xn_all = xp[:, :, :2 * H].unbind(0), xp[:, :, 2 * H:].unbind(0)  # see ElmanRNN
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


def _orthogonal_recurrent_(cell: nn.Module) -> None:
    """Each ``H × H`` block of ``W_h`` (one per gate) becomes a random orthogonal matrix."""
    H = cell.hidden_size
    with torch.no_grad():
        for i in range(cell.W_h.shape[0] // H):
            nn.init.orthogonal_(cell.W_h[i * H:(i + 1) * H])


def _head(hidden_size: int, head_hidden: int | None, single_logit: bool) -> nn.Module:
    """The classifier head on the last hidden state: Dense(head_hidden, ReLU) → one logit (or two), or
    a single linear layer when ``head_hidden`` is None."""
    n_out = 1 if single_logit else 2
    return (nn.Linear(hidden_size, n_out) if head_hidden is None else
            nn.Sequential(nn.Linear(hidden_size, head_hidden), nn.ReLU(), nn.Linear(head_hidden, n_out)))


def _classify(P: dict, ids, lengths, embedding, cfg: dict):
    """The classifier's forward for ``K`` members at once; ``P`` maps parameter names to
    (K, ...) tensors. ``ids`` (K or 1, B, T), ``lengths`` (K or 1, B). Returns logits (K, B, 2)."""
    K = P["rnn.W_x"].shape[0]
    T = int(lengths.max())                 # steps after the longest review in the batch are all padding
    ids_tm = ids[..., :T].transpose(1, 2)                              # (K or 1, T, B)
    Kx, _, B = ids_tm.shape
    release = ()
    if _WORKSPACE is not None and not embedding.weight.requires_grad:
        x = _WORKSPACE.take((Kx, T, B, embedding.embedding_dim), embedding.weight)
        with torch.no_grad():
            torch.index_select(embedding.weight, 0, ids_tm.reshape(-1), out=x.view(-1, embedding.embedding_dim))
        release = (x,)                     # handed back by the recurrence when it is done with it
    else:
        x = embedding(ids_tm)                                          # (K or 1, T, B, d)
    ends = (lengths.long() - 1).clamp(min=0).expand(K, B)
    if cfg["cell"] == "rnn":
        _, last = elman_scan(x, P["rnn.W_x"], P["rnn.b"], P["rnn.W_h"], None, ends, cfg["act"], release=release)
    else:
        _, last = gru_scan(x, P["rnn.W_x"], P["rnn.b"], P["rnn.W_h"], P.get("rnn.b_hn"), None, ends, cfg["act"],
                           cfg["reset"], release=release)
    if cfg["head_hidden"] is None:
        out = torch.baddbmm(P["head.bias"].unsqueeze(1), last, P["head.weight"].transpose(1, 2))
    else:
        z = torch.relu(torch.baddbmm(P["head.0.bias"].unsqueeze(1), last, P["head.0.weight"].transpose(1, 2)))
        out = torch.baddbmm(P["head.2.bias"].unsqueeze(1), z, P["head.2.weight"].transpose(1, 2))
    return torch.cat([torch.zeros_like(out), out], -1) if cfg["single_logit"] else out


class RecurrentClassifier(nn.Module):
    """Fixed embeddings → recurrent cell → last real hidden state → output head → 2 logits.

    ``head_hidden=32, single_logit=True`` (the default) is the head that reproduces the report's
    parameter counts exactly (12,673 for the RNN and 33,793 for the GRU at d=100, h=64):
    ``Linear(h, 32) → ReLU → Linear(32, 1)``. One logit ``s`` is returned as the pair ``(0, s)``,
    so softmax cross-entropy over the pair is exactly logistic loss on ``s`` and every shared
    tool (``train.fit``, metrics) sees two-class logits. ``head_hidden=None`` gives a single
    ``Linear(h, 2)``.

    ``init="orthogonal"`` draws the model exactly as ``"uniform"`` (the default, PyTorch's own
    scheme) and then replaces each gate's block of the recurrent matrix ``W_h`` by a random
    orthogonal matrix, so the two variants of one seed share every other weight.
    """

    def __init__(self, embeddings, cell: str = "gru", hidden_size: int = 64, act: str = "tanh", *,
                 head_hidden: int | None = 32, single_logit: bool = True, reset: str = "before",
                 init: str = "uniform"):
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
        self.single_logit = single_logit
        self.head = _head(hidden_size, head_hidden, single_logit)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}")
        if init == "orthogonal":
            _orthogonal_recurrent_(self.rnn)
        self.config = dict(cell=cell, hidden_size=hidden_size, act=act, head_hidden=head_hidden,
                           single_logit=single_logit, reset=reset if cell == "gru" else "before",
                           input_size=d, init=init)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        P = {n: p.unsqueeze(0) for n, p in self.named_parameters() if p.requires_grad}
        return _classify(P, ids.unsqueeze(0), lengths.unsqueeze(0), self.embedding, self.config)[0]


class StackedRecurrentClassifier(Stacked):
    """``K`` :class:`RecurrentClassifier` s of one shape as one model, to be trained side by side.

    Every trainable parameter of the members is stacked along a new leading dimension (the
    member); the frozen embedding is shared. ``forward(ids, lengths)`` takes (K, B, T) and (K, B)
    — each member its own batch — or (1, B, T) and (1, B) — one batch for all — and returns
    logits (K, B, 2). Members are independent: the sum of their losses has, for member ``k``,
    exactly the gradient of member ``k``'s own loss, so one optimizer over the stacked
    parameters trains each member as it would be trained alone (Adam is element-wise).
    :meth:`member` gives member ``k`` back as a plain :class:`RecurrentClassifier`.
    """

    def __init__(self, members: list[RecurrentClassifier]):
        super().__init__()
        if not members:
            raise ValueError("no members")
        cfg = {k: v for k, v in members[0].config.items() if k != "init"}
        for m in members[1:]:
            other = {k: v for k, v in m.config.items() if k != "init"}
            if other != cfg:
                raise ValueError(f"members differ in shape or kind: {cfg} vs {other}")
            if m.embedding.weight is not members[0].embedding.weight and \
                    not torch.equal(m.embedding.weight, members[0].embedding.weight):
                raise ValueError("members must share their (fixed) embeddings")
        self.K = len(members)
        self.config = members[0].config
        self.embedding = members[0].embedding
        self._stack(members, [n for n, p in members[0].named_parameters() if p.requires_grad])
        self._template = [members[0]]             # a list, so it is not registered as a submodule

    def member_parameters(self, k: int) -> dict[str, torch.Tensor]:
        return {n: p[k] for n, p in self.stacked().items()}

    def member(self, k: int) -> RecurrentClassifier:
        """Member ``k`` as a standalone model (a copy of its current weights)."""
        tmpl = self._template[0]
        m = copy.deepcopy(tmpl, memo={id(tmpl.embedding): self.embedding})   # shares the fixed embedding
        with torch.no_grad():
            own = dict(m.named_parameters())
            for n, p in self.member_parameters(k).items():
                own[n].copy_(p)
        return m

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return _classify(self.stacked(), ids, lengths, self.embedding, self.config)


class TorchRecurrentClassifier(nn.Module):
    """The classifier of :class:`RecurrentClassifier` around ``torch.nn.RNN`` / ``torch.nn.GRU``
    (PyTorch's own cells, their own initialisation); the same head and last-real-token readout.
    ``nn.RNN`` offers ``tanh`` and ``relu`` only, ``nn.GRU`` a ``tanh`` candidate only."""

    def __init__(self, embeddings, cell: str = "gru", hidden_size: int = 64, act: str = "tanh", *,
                 head_hidden: int | None = 32, single_logit: bool = True):
        super().__init__()
        emb = torch.as_tensor(embeddings, dtype=torch.float32)
        self.embedding = nn.Embedding.from_pretrained(emb, freeze=True, padding_idx=0)
        d = emb.shape[1]
        if cell == "rnn":
            if act not in ("tanh", "relu"):
                raise ValueError("torch.nn.RNN has only tanh and relu")
            self.rnn = nn.RNN(d, hidden_size, nonlinearity=act)
        elif cell == "gru":
            if act != "tanh":
                raise ValueError("torch.nn.GRU has only a tanh candidate")
            self.rnn = nn.GRU(d, hidden_size)
        else:
            raise ValueError(f"cell must be one of {tuple(CELLS)}")
        self.single_logit = single_logit
        self.head = _head(hidden_size, head_hidden, single_logit)
        self.config = dict(cell=cell, hidden_size=hidden_size, act=act, head_hidden=head_hidden,
                           single_logit=single_logit, input_size=d, impl="torch")

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = int(lengths.max())
        states, _ = self.rnn(self.embedding(ids[:, :T].t()))             # (T, B, H)
        out = self.head(_last_real(states, lengths))
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


__all__ = ["ACTIVATIONS", "ElmanRNN", "GRU", "INITS", "RecurrentClassifier", "StackedRecurrentClassifier",
           "TorchRecurrentClassifier", "Workspace", "activation", "elman_scan", "gru_scan", "n_trainable",
           "param_count", "reuse_buffers"]
