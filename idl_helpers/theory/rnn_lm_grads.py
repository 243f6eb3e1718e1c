"""Closed-form gradients of the RNN language model of NLP Assignment 2, question 2, in NumPy.

Row-vector convention, as in the assignment:

    e(t) = x(t) L,   h(t) = sigmoid(h(t-1) H + e(t) I + b1),   y_hat(t) = softmax(h(t) U + b2),
    J(t) = CE(y(t), y_hat(t))

Shapes: L (|V| × d), I (d × Dh), H (Dh × Dh), b1 (Dh), U (Dh × |V|), b2 (|V|).

:func:`grads_at_t` (II.2a) and :func:`grads_at_t_minus_1` (II.2b) are the corrected closed
forms; :func:`report_forms` reads the report's printed formulas literally, so the notebook
can show where they disagree with autograd; :func:`autograd_reference` computes the same
quantities with PyTorch, with separate copies of the shared weights for steps t and t−1 so
that each step's contribution can be compared on its own.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from idl_helpers.theory.derive import max_error

Arrays = Dict[str, np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def random_problem(V: int = 7, d: int = 4, Dh: int = 5, seed: int = 0) -> dict:
    """Random float64 parameters, a 3-word window (t−2, t−1, t), h(t−3) and the target y(t)."""
    rng = np.random.default_rng(seed)
    p = {"L": rng.normal(size=(V, d)), "I": rng.normal(size=(d, Dh)) * 0.7,
         "H": rng.normal(size=(Dh, Dh)) * 0.7, "b1": rng.normal(size=Dh) * 0.3,
         "U": rng.normal(size=(Dh, V)), "b2": rng.normal(size=V) * 0.3}
    words = rng.integers(0, V, size=3)
    return {"params": p, "words": words, "h0": sigmoid(rng.normal(size=Dh)), "target": int(rng.integers(0, V))}


def forward(params: Arrays, words: np.ndarray, h0: np.ndarray) -> dict:
    """Hidden states h(t−2), h(t−1), h(t) from h(t−3) = ``h0`` and the three input words."""
    hs, es = [h0], []
    for w in words:
        e = params["L"][w]
        es.append(e)
        hs.append(sigmoid(hs[-1] @ params["H"] + e @ params["I"] + params["b1"]))
    z = hs[-1] @ params["U"] + params["b2"]
    y_hat = np.exp(z - z.max())
    y_hat /= y_hat.sum()
    return {"h": hs, "e": es, "y_hat": y_hat}


def grads_at_t(params: Arrays, fw: dict, target: int) -> Arrays:
    """II.2a, corrected: δ1 = ŷ − y, δ2 = (δ1 Uᵀ) ∘ h(t) ∘ (1 − h(t))."""
    h_t, h_prev, e_t = fw["h"][-1], fw["h"][-2], fw["e"][-1]
    d1 = fw["y_hat"].copy()
    d1[target] -= 1.0
    d2 = (d1 @ params["U"].T) * h_t * (1 - h_t)
    return {"U": np.outer(h_t, d1), "b2": d1, "L_x(t)": d2 @ params["I"].T,
            "I": np.outer(e_t, d2), "H": np.outer(h_prev, d2), "b1": d2,
            "h(t-1)": d2 @ params["H"].T}


def grads_at_t_minus_1(params: Arrays, fw: dict, target: int) -> Arrays:
    """II.2b, corrected: δ3 = (δ2 Hᵀ) ∘ h(t−1) ∘ (1 − h(t−1)); the t−1 terms of the BPTT sum."""
    g = grads_at_t(params, fw, target)
    h_prev, h_prev2, e_prev = fw["h"][-2], fw["h"][-3], fw["e"][-2]
    d3 = g["h(t-1)"] * h_prev * (1 - h_prev)
    return {"L_x(t-1)": d3 @ params["I"].T, "I": np.outer(e_prev, d3),
            "H": np.outer(h_prev2, d3), "b1": d3}


def report_forms(params: Arrays, fw: dict, target: int) -> Arrays:
    """The report's final expressions for II.2a read literally (row vectors; ``[y − ŷ]`` a row).

    * ``L_x``:  ``U·[y − ŷ]·I·h(1−h)`` — read with the only shapes that multiply,
      ``((y − ŷ) Uᵀ ∘ h(1−h)) Iᵀ``: the correct form with the sign flipped.
    * ``I``:    ``[y − ŷ] U [e · h(1−h)]`` → ``eᵀ ((y − ŷ) Uᵀ ∘ h(1−h))``: sign flipped.
    * ``H``:    ``[y − ŷ] U [h(t−1) · h(1−h)]`` → ``h(t−1)ᵀ ((y − ŷ) Uᵀ ∘ h(1−h))``: sign flipped.
    * ``h(t-1)``: ``[y − ŷ] U [Hᵀ · h(1−h)]`` → ``((y − ŷ) Uᵀ ∘ h(1−h)) Hᵀ``: sign flipped.
    * ``U``: the derivation stops at ∂ŷ_i/∂U = h ŷ_i(1 − ŷ_i), the diagonal of the softmax
      Jacobian only; chained with ∂J/∂ŷ = −1/ŷ_k it gives column k = −h(1 − ŷ_k) and zero
      elsewhere, whereas column j ≠ k should be h ŷ_j.
    """
    h_t, h_prev, e_t = fw["h"][-1], fw["h"][-2], fw["e"][-1]
    y = np.zeros_like(fw["y_hat"])
    y[target] = 1.0
    r = ((y - fw["y_hat"]) @ params["U"].T) * h_t * (1 - h_t)
    U = np.zeros_like(params["U"])
    U[:, target] = -h_t * (1 - fw["y_hat"][target])
    return {"U": U, "L_x(t)": r @ params["I"].T, "I": np.outer(e_t, r), "H": np.outer(h_prev, r),
            "h(t-1)": r @ params["H"].T}


def autograd_reference(params: Arrays, words: np.ndarray, h0: np.ndarray, target: int) -> dict:
    """PyTorch autograd of J(t), with untied copies of I, H, b1 and the embeddings per step.

    Returns ``{"t": {...}, "t-1": {...}, "tied": {...}}``; ``tied`` are the ordinary BPTT
    gradients of the shared weights (the sum over all steps).
    """
    import torch

    T = lambda a: torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
    U, b2 = T(params["U"]), T(params["b2"])
    steps = [{"I": T(params["I"]), "H": T(params["H"]), "b1": T(params["b1"]),
              "e": T(params["L"][w])} for w in words]
    h = T(h0)
    hs = [h]
    for s in steps:
        h = torch.sigmoid(h @ s["H"] + s["e"] @ s["I"] + s["b1"])
        h.retain_grad()
        hs.append(h)
    J = torch.nn.functional.cross_entropy((h @ U + b2)[None], torch.tensor([target]))
    J.backward()
    g = lambda x: x.grad.numpy().copy()
    st, sp = steps[-1], steps[-2]
    out = {"t": {"U": g(U), "b2": g(b2), "L_x(t)": g(st["e"]), "I": g(st["I"]), "H": g(st["H"]),
                 "b1": g(st["b1"]), "h(t-1)": g(hs[-2])},
           "t-1": {"L_x(t-1)": g(sp["e"]), "I": g(sp["I"]), "H": g(sp["H"]), "b1": g(sp["b1"])},
           "loss": float(J.detach())}
    out["tied"] = {k: sum(g(s[k]) for s in steps) for k in ("I", "H", "b1")}
    return out


def max_abs_diff(a: Arrays, b: Arrays) -> Dict[str, float]:
    """``max |a[k] − b[k]|`` per key of ``a``; ``inf`` for a key with a NaN/inf entry, a shape
    mismatch, or missing from ``b``."""
    return {k: max_error(a[k], b[k]) if k in b else float("inf") for k in a}


def compare_with_autograd(fn: Callable[[Arrays, dict, int], Arrays], key: str, *, problems: int,
                          V: int = 7, d: int = 4, Dh: int = 5, seed: int = 0) -> Dict[str, float]:
    """Largest ``|fn − autograd|`` per gradient over ``problems`` random problems (II.2a/b).

    ``fn(params, forward, target)`` is a closed form (:func:`grads_at_t`, :func:`grads_at_t_minus_1`,
    :func:`bptt`) and ``key`` the part of :func:`autograd_reference` it is judged against
    (``"t"``, ``"t-1"``, ``"tied"``). Problem ``i`` uses seed ``seed * 100_000 + i``. Errors are
    collected and reduced with :func:`idl_helpers.theory.derive.max_error`, so a NaN in any problem makes
    that gradient's error ``inf`` instead of being skipped by a running ``max``.
    """
    errs: Dict[str, list] = {}
    for i in range(problems):
        pr = random_problem(V, d, Dh, seed=seed * 100_000 + i)
        fw = forward(pr["params"], pr["words"], pr["h0"])
        ref = autograd_reference(pr["params"], pr["words"], pr["h0"], pr["target"])[key]
        got = fn(pr["params"], fw, pr["target"])
        for k in list(got) + [k for k in ref if k not in got]:
            errs.setdefault(k, []).append(max_error(got[k], ref[k]) if k in got and k in ref else float("inf"))
    return {k: max_error(v) for k, v in errs.items()}


def bptt(params: Arrays, fw: dict, target: int) -> Arrays:
    """Full back-propagation through every step of the window: the tied-weight gradients of J(t)
    with respect to I, H and b1 (the sum of the per-step terms δ_s = (δ_{s+1} Hᵀ) ∘ h(s) ∘ (1 − h(s)))."""
    g = grads_at_t(params, fw, target)
    d = g["b1"]
    out = {"I": np.zeros_like(params["I"]), "H": np.zeros_like(params["H"]), "b1": np.zeros_like(params["b1"])}
    n = len(fw["e"])
    for s in range(n, 0, -1):                 # fw["h"][s] is the state after word s−1
        out["I"] += np.outer(fw["e"][s - 1], d)
        out["H"] += np.outer(fw["h"][s - 1], d)
        out["b1"] += d
        h = fw["h"][s - 1]
        d = (d @ params["H"].T) * h * (1 - h)
    return out
