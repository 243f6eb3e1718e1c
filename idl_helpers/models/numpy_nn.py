"""The one-hidden-layer network of NLP Assignment 2, question 1, in NumPy.

    z = x W1 + b1,   h = sigmoid(z),   theta = h W2 + b2,   y_hat = softmax(theta),
    J = mean over the batch of CE(y, y_hat)

Rows are examples (the course's row-vector convention), labels are class indices
(equivalent to one-hot ``y``). Everything is vectorised over the batch; the backward
pass is the closed form of questions 1a/1b:

    dJ/dtheta = (y_hat - y) / B
    dJ/dW2 = h^T dtheta          dJ/db2 = sum_rows dtheta
    dJ/dz  = (dtheta W2^T) * h * (1 - h)
    dJ/dW1 = x^T dz              dJ/db1 = sum_rows dz
    dJ/dx  = dz W1^T
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import numpy as np
from scipy.special import expit

from idl_helpers.theory.derive import max_error

Params = Dict[str, np.ndarray]
NAMES = ("W1", "b1", "W2", "b2")


def init_params(dims: Tuple[int, int, int], rng: np.random.Generator | np.random.RandomState,
                scale: float = 1.0, dtype=np.float32) -> Params:
    """Normal(0, scale²) for every weight and bias.

    ``scale=1`` is the course's initialisation (``np.random.randn`` for the whole flat
    parameter vector); the parameters are drawn in the course's flat order W1, b1, W2, b2.
    """
    d_in, d_h, d_out = dims
    n = (d_in + 1) * d_h + (d_h + 1) * d_out
    flat = rng.standard_normal(n) * scale if hasattr(rng, "standard_normal") else rng.randn(n) * scale
    return unflatten(flat.astype(dtype), dims)


def unflatten(flat: np.ndarray, dims: Tuple[int, int, int]) -> Params:
    """The course's flat parameter vector → ``{W1, b1, W2, b2}`` (views, no copy)."""
    d_in, d_h, d_out = dims
    sizes = [d_in * d_h, d_h, d_h * d_out, d_out]
    shapes = [(d_in, d_h), (d_h,), (d_h, d_out), (d_out,)]
    out, ofs = {}, 0
    for name, size, shape in zip(NAMES, sizes, shapes):
        out[name] = flat[ofs:ofs + size].reshape(shape)
        ofs += size
    if ofs != flat.size:
        raise ValueError(f"flat vector has {flat.size} entries, dims {dims} need {ofs}")
    return out


def hidden(X: np.ndarray, p: Params) -> np.ndarray:
    return expit(X @ p["W1"] + p["b1"])


def log_softmax(theta: np.ndarray) -> np.ndarray:
    m = theta.max(axis=1, keepdims=True)
    shifted = theta - m
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def forward(X: np.ndarray, p: Params) -> np.ndarray:
    """Class probabilities ``y_hat`` (B × K)."""
    return np.exp(log_softmax(hidden(X, p) @ p["W2"] + p["b2"]))


def loss(X: np.ndarray, y: np.ndarray, p: Params) -> float:
    """Mean cross-entropy (nats) of integer labels ``y``."""
    lp = log_softmax(hidden(X, p) @ p["W2"] + p["b2"])
    return float(-lp[np.arange(len(y)), y].mean())


def loss_and_grads(X: np.ndarray, y: np.ndarray, p: Params, *, input_grad: bool = False,
                   ) -> Tuple[float, Params]:
    """Mean cross-entropy and its gradient for every parameter (and ``"x"`` if asked)."""
    B = X.shape[0]
    rows = np.arange(B)
    h = hidden(X, p)
    theta = h @ p["W2"] + p["b2"]
    theta -= theta.max(axis=1, keepdims=True)
    e = np.exp(theta)
    s = e.sum(axis=1, keepdims=True)
    J = float(np.mean(np.log(s[:, 0]) - theta[rows, y]))
    d_theta = e / s                     # y_hat
    d_theta[rows, y] -= 1.0             # y_hat - y
    d_theta /= B
    g = {"W2": h.T @ d_theta, "b2": d_theta.sum(axis=0)}
    dz = (d_theta @ p["W2"].T) * h * (1.0 - h)
    g["W1"] = X.T @ dz
    g["b1"] = dz.sum(axis=0)
    if input_grad:
        g["x"] = dz @ p["W1"].T
    return J, g


def sgd_step(X: np.ndarray, y: np.ndarray, p: Params, lr: float) -> float:
    """One in-place SGD step on a batch; returns the batch loss before the step."""
    J, g = loss_and_grads(X, y, p)
    for k in NAMES:
        p[k] -= lr * g[k]
    return J


def nll_per_example(X: np.ndarray, y: np.ndarray, p: Params, chunk: int = 8192) -> np.ndarray:
    """``-log y_hat[y]`` for every row, in chunks (memory stays at chunk × K)."""
    out = np.empty(len(y), dtype=np.float64)
    for a in range(0, len(y), chunk):
        lp = log_softmax(hidden(X[a:a + chunk], p) @ p["W2"] + p["b2"])
        out[a:a + chunk] = -lp[np.arange(len(lp)), y[a:a + chunk]]
    return out


# --------------------------------------------------------------------------- checks (II.1a, II.1b)
def torch_loss_and_grads(X: np.ndarray, y: np.ndarray, p: Params) -> Tuple[float, Params]:
    """The same network in PyTorch (float64): mean cross-entropy and autograd's gradient of every
    parameter and of the input ``"x"``."""
    import torch

    t = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in {**p, "x": X}.items()}
    logits = torch.sigmoid(t["x"] @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    J = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y))
    J.backward()
    return float(J.detach()), {k: v.grad.numpy() for k, v in t.items()}


def compare_with_autograd(rng: np.random.Generator, *, trials: int, dims: Tuple[int, int, int], batch: int,
                          loss_and_grads: Callable = loss_and_grads) -> Dict[str, float]:
    """Largest ``|NumPy − autograd|`` of the loss and of every gradient (``W1 … b2`` and ``x``) over
    ``trials`` random float64 problems (II.1b, check 2).

    ``loss_and_grads(X, y, p, input_grad=True)`` is the implementation judged (default: this
    module's). Errors are reduced with :func:`idl_helpers.theory.derive.max_error`: a NaN in any trial
    makes that quantity's error ``inf``.
    """
    errs: Dict[str, list] = {}
    for _ in range(trials):
        p = init_params(dims, rng, scale=1.0, dtype=np.float64)
        X = rng.normal(size=(batch, dims[0]))
        y = rng.integers(0, dims[2], size=batch)
        J, g = loss_and_grads(X, y, p, input_grad=True)
        Jt, gt = torch_loss_and_grads(X, y, p)
        errs.setdefault("loss", []).append(max_error(J, Jt))
        for k in list(g) + [k for k in gt if k not in g]:
            errs.setdefault(k, []).append(max_error(g[k], gt[k]) if k in g and k in gt else float("inf"))
    return {k: max_error(v) for k, v in errs.items()}


def softmax_minus_onehot(theta, k: int):
    """The closed form of II.1a: ``∂CE/∂θ = softmax(θ) − onehot(k)`` (a torch vector)."""
    import torch

    return torch.softmax(theta, 0) - torch.nn.functional.one_hot(torch.tensor(k), theta.shape[0])


def softmax_ce_autograd_error(trials: int, seed: int = 0, closed_form: Callable = softmax_minus_onehot,
                              scale: float = 30.0) -> float:
    """Largest ``|autograd − closed_form|`` of ``∂CE/∂θ`` over ``trials`` random cases (II.1a, check 2):
    ``K ∈ [2, 50)`` classes, float64 logits ``N(0, scale²)`` (large enough that a naive softmax
    would overflow), a random true class. ``inf`` if any case gives a NaN or infinite entry."""
    import torch

    g = torch.Generator().manual_seed(seed)
    errs = []
    for _ in range(trials):
        K = int(torch.randint(2, 50, (1,), generator=g))
        theta = (torch.randn(K, generator=g, dtype=torch.float64) * scale).requires_grad_()
        k = int(torch.randint(0, K, (1,), generator=g))
        torch.nn.functional.cross_entropy(theta[None], torch.tensor([k])).backward()
        errs.append(max_error(theta.grad, closed_form(theta.detach(), k)))
    return max_error(errs)
