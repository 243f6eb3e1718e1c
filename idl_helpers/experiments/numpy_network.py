"""II.1a–c — the one-hidden-layer network: what page 02 runs.

The network itself (forward, backward, the PyTorch twin) is :mod:`idl_helpers.models.numpy_nn`, the gradient check
:mod:`idl_helpers.theory.gradcheck`; this module holds the page's settings and its three symbolic/planted checks:

* :func:`batched_softmax_ce_check` — II.1a in batched form: dJ/dΘ = (Ŷ − Y)/B, with SymPy;
* :func:`input_gradient_check` — II.1b: the closed form of dJ/dx against SymPy's derivative;
* :func:`buggy_loss_and_grads` — II.1c: a backward pass with the sigmoid's derivative forgotten, which the
  gradient check must flag.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from idl_helpers.models import numpy_nn as nn
from idl_helpers.theory.derive import numerically_equal, same

PROFILES = dict(
    smoke=dict(sym_sizes=[(2, 3, 3)], sym_points=2, all_classes=False, batch=8, dims=(6, 5, 4), trials=3),
    quick=dict(sym_sizes=[(2, 3, 3), (3, 4, 3)], sym_points=3, all_classes=True, batch=16, dims=(10, 8, 6),
               trials=10),
    full=dict(sym_sizes=[(2, 3, 3), (3, 4, 3), (3, 4, 5)], sym_points=8, all_classes=True, batch=32,
              dims=(20, 12, 9), trials=20))
VECTOR_FORM_SIZES = [(2, 3), (3, 4)]     # (batch B, classes K) of the batched softmax-CE check


def batched_softmax_ce_check(B: int, K: int, labels) -> bool:
    """SymPy: the gradient of the mean cross-entropy over a symbolic B×K logit matrix equals (Ŷ − Y)/B."""
    Theta = sp.Matrix(B, K, lambda i, j: sp.Symbol(f"theta_{i}{j}", real=True))
    Y = sp.Matrix(B, K, lambda i, j: int(labels[i] == j))
    Yhat = sp.Matrix(B, K, lambda i, j: sp.exp(Theta[i, j]) / sum(sp.exp(Theta[i, m]) for m in range(K)))
    J = -sum(Y[i, j] * sp.log(Yhat[i, j]) for i in range(B) for j in range(K)) / B
    grad = sp.Matrix(B, K, lambda i, j: sp.diff(J, Theta[i, j]))
    return all(same(g, r) for g, r in zip(grad, (Yhat - Y) / B))


def vector_form() -> dict:
    """The batched check for each (B, K) of VECTOR_FORM_SIZES, with a fixed spread of true classes."""
    return {(B, K): batched_softmax_ce_check(B, K, labels=[(3 * i + 1) % K for i in range(B)])
            for B, K in VECTOR_FORM_SIZES}


def input_gradient_check(d: int, H: int, K: int, k: int, points: int, *, forget_sigmoid_derivative: bool = False
                         ) -> bool:
    """SymPy: dJ/dx of the symbolic network (input d, hidden H, classes K, true class k) against the closed form
    [(ŷ − y) W2ᵀ ∘ σ(z)(1 − σ(z))] W1ᵀ, compared at ``points`` random points in high precision.
    ``forget_sigmoid_derivative`` plants II.1c's bug in the closed form (the check must then fail)."""
    mat = lambda name, r, c: sp.Matrix(r, c, lambda i, j: sp.Symbol(f"{name}_{i}{j}", real=True))
    x, W1, b1, W2, b2 = mat("x", 1, d), mat("U", d, H), mat("c", 1, H), mat("V", H, K), mat("e", 1, K)
    sig = lambda m: m.applyfunc(lambda v: 1 / (1 + sp.exp(-v)))
    z = x * W1 + b1
    h = sig(z)
    theta = h * W2 + b2
    denom = sum(sp.exp(t) for t in theta)
    y_hat = theta.applyfunc(lambda t: sp.exp(t) / denom)
    y = sp.Matrix(1, K, lambda i, j: int(j == k))
    J = -sp.log(y_hat[k])
    autodiff = sp.Matrix(1, d, lambda i, j: sp.diff(J, x[j]))
    dsigma = h.applyfunc(lambda s: 1 if forget_sigmoid_derivative else s * (1 - s))
    closed = ((y_hat - y) * W2.T).multiply_elementwise(dsigma) * W1.T
    return all(numerically_equal(a, c, trials=points) for a, c in zip(autodiff, closed))


def input_gradient_checks(cfg) -> dict:
    """The closed form for every size of the profile and every true class (smoke: the first only)."""
    return {(d, H, K, k): input_gradient_check(d, H, K, k, cfg.sym_points)
            for d, H, K in cfg.sym_sizes for k in (range(K) if cfg.all_classes else [0])}


def buggy_loss_and_grads(X, y, p):
    """``numpy_nn.loss_and_grads`` with a classic bug: the sigmoid's derivative h(1 − h) is left out of δz."""
    J, g = nn.loss_and_grads(X, y, p)
    d = nn.forward(X, p)
    d[np.arange(len(y)), y] -= 1
    dz = (d / len(y)) @ p["W2"].T                # bug: the factor h * (1 - h) is missing
    g["W1"], g["b1"], g["x"] = X.T @ dz, dz.sum(0), dz @ p["W1"].T
    return J, g
