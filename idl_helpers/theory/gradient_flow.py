"""Measure vanishing gradients: the gradient norm at the first layer of deep random networks.

A network of ``depth`` blocks of width ``width`` is built from scratch for every
(activation, skip, depth, seed); a random batch goes through it, the loss is the mean
of a random linear read-out, and autograd gives ``‖∂loss/∂W₁‖`` — the gradient that
reaches the first layer's weights. Everything is float64 so that a gradient of 1e-40
is a number, not an underflow to zero.

Blocks (``act`` is the activation, ``W`` a square linear layer with bias):

* plain:     ``u ← act(W u)``
* residual:  ``u ← u + α·act(W u)``   (a skip connection around every block; ``α = 1``, or
  ``α = 1/√depth`` with ``branch_scale="inv_sqrt_depth"``, the usual way to keep the sum of
  ``depth`` branches from growing — GPT-2's scaled initialisation, Fixup, SkipInit)
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
import torch

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "sigmoid_plus_x": lambda v: torch.sigmoid(v) + v,   # the report's h(x) = σ(x) + x
    "tanh": torch.tanh,
}

LABELS = {"sigmoid": "sigmoid", "relu": "ReLU", "sigmoid_plus_x": "σ(x) + x", "tanh": "tanh"}


def init_std(init: str, fan_in: int) -> float:
    """Weight standard deviation: ``lecun`` 1/√n (a linear layer keeps the norm), ``he`` √(2/n)."""
    if init == "lecun":
        return 1.0 / math.sqrt(fan_in)
    if init == "he":
        return math.sqrt(2.0 / fan_in)
    if init == "default":   # PyTorch's nn.Linear: U(−1/√n, 1/√n)
        return 1.0 / math.sqrt(3 * fan_in)
    raise ValueError(f"unknown init {init!r}; use lecun, he or default")


def first_layer_grad_norm(depth: int, activation: str = "sigmoid", skip: bool = False, *,
                          width: int = 64, batch: int = 32, init: str = "lecun", seed: int = 0,
                          branch_scale: float | str = 1.0) -> float:
    """``‖∂loss/∂W₁‖`` (Frobenius) for a fresh random network of ``depth`` blocks."""
    if depth < 1:
        raise ValueError("depth must be ≥ 1")
    act = ACTIVATIONS[activation]
    g = torch.Generator().manual_seed(seed)
    std = init_std(init, width)
    weights = [torch.randn(width, width, generator=g, dtype=torch.float64) * std for _ in range(depth)]
    biases = [torch.randn(width, generator=g, dtype=torch.float64) * 0.1 for _ in range(depth)]
    readout = torch.randn(width, generator=g, dtype=torch.float64) / math.sqrt(width)
    u = torch.randn(batch, width, generator=g, dtype=torch.float64)
    alpha = 1.0 / math.sqrt(depth) if branch_scale == "inv_sqrt_depth" else float(branch_scale)
    weights[0].requires_grad_(True)
    for W, b in zip(weights, biases):
        z = act(u @ W.T + b)
        u = u + alpha * z if skip else z
    loss = (u @ readout).mean()
    (grad,) = torch.autograd.grad(loss, weights[0])
    return float(grad.norm())


def sweep(depths: Iterable[int], activations: Iterable[str], skips: Iterable[bool] = (False, True),
          seeds: Iterable[int] = (0, 1, 2), init: str = "lecun", branch_scale: float | str = 1.0,
          **kw) -> pd.DataFrame:
    """One row per (activation, init, skip, depth, seed) with the first-layer gradient norm.

    ``variant`` names the block: ``plain``, ``skip`` or ``skip, branch/√depth``. Runs on one
    thread: the matrices are tiny, and thread hand-offs dominate on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _sweep(depths, activations, skips, seeds, init, branch_scale, **kw)
    finally:
        torch.set_num_threads(threads)


def _sweep(depths, activations, skips, seeds, init, branch_scale, **kw) -> pd.DataFrame:
    rows = []
    for activation in activations:
        for skip in skips:
            for depth in depths:
                for s in seeds:
                    variant = "plain" if not skip else (
                        "skip, branch/√depth" if branch_scale == "inv_sqrt_depth" else "skip")
                    rows.append(dict(activation=activation, init=init, variant=variant, depth=int(depth),
                                     seed=int(s), grad_norm=first_layer_grad_norm(
                                         depth, activation, skip, init=init, seed=int(s),
                                         branch_scale=branch_scale, **kw)))
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Geometric mean, min and max over seeds (the figure's line and band).

    A NaN gradient norm in any seed makes its group's statistics NaN (pandas would skip it and
    average the other seeds), so a check built on them fails instead of passing on fewer seeds."""
    logs = df.assign(log10=np.log10(df.grad_norm.clip(lower=1e-300)))
    stats = {"mean": lambda s: float(np.mean(s.to_numpy())), "min": lambda s: float(np.min(s.to_numpy())),
             "max": lambda s: float(np.max(s.to_numpy()))}
    out = (logs.groupby(["activation", "init", "variant", "depth"], sort=False).log10
           .agg(**stats).reset_index())
    out["geo_mean"] = 10 ** out["mean"]
    out["lo"] = 10 ** out["min"]
    out["hi"] = 10 ** out["max"]
    return out.drop(columns=["mean", "min", "max"])


TITLES = {"plain": "without skip connections", "skip": "with skip connections",
          "skip, branch/√depth": "with skips, branches scaled by 1/√depth"}


def plot(summary: pd.DataFrame, axes=None):
    """One panel per variant (plain / skip / …), log-scale y, one line + min–max band per activation."""
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(summary.variant))
    if axes is None:
        _, axes = plt.subplots(1, len(variants), figsize=(5 * len(variants), 4.2), sharey=True, squeeze=False)
        axes = axes[0]
    for ax, variant in zip(axes, variants):
        part = summary[summary.variant == variant]
        for i, ((act, init), grp) in enumerate(part.groupby(["activation", "init"], sort=False)):
            grp = grp.sort_values("depth")
            label = LABELS.get(act, act) + ("" if init == "lecun" else f" ({init} init)")
            ls = "--" if init != "lecun" else "-"
            line, = ax.plot(grp.depth, grp.geo_mean, ls, marker="o", ms=3, label=label)
            ax.fill_between(grp.depth, grp.lo, grp.hi, color=line.get_color(), alpha=0.2)
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set(xlabel="depth (number of layers)", ylabel="‖∂loss/∂W₁‖ (first layer)",
               title=TITLES.get(variant, variant))
        ax.legend(fontsize=8)
    return axes
