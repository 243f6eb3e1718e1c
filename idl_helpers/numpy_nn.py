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

from typing import Dict, Tuple

import numpy as np
from scipy.special import expit

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
