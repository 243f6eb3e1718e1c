"""Central-difference gradient check that reports the worst relative error per parameter block.

    report = check_gradients(f, params, grads)

``f()`` returns the scalar loss for the *current* contents of the arrays in ``params``
(they are perturbed in place and restored); ``grads`` holds the analytic gradients to
judge. For each block, each checked entry i gets

    numeric_i = (f(p_i + eps) - f(p_i - eps)) / (2 eps)
    rel_i     = |analytic_i - numeric_i| / max(|analytic_i| + |numeric_i|, floor)

and the block's verdict is ``max_i rel_i <= tol``. Work in float64: with float32 the
difference quotient alone has relative error ~1e-3. In float64 the quotient's round-off is
about 1e-16·|f|/eps ≈ 1e-11 in absolute terms, which is a large *relative* error for entries
whose true gradient is tiny; ``floor`` keeps those entries from dominating (below it, the
error is judged relative to ``floor``). A real bug gives relative errors near 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Mapping

import numpy as np
import pandas as pd


@dataclass
class BlockResult:
    name: str
    shape: tuple
    checked: int
    worst_rel_error: float
    worst_index: tuple
    analytic: float
    numeric: float


@dataclass
class GradCheckReport:
    blocks: Dict[str, BlockResult]
    tol: float

    @property
    def worst(self) -> float:
        return max(b.worst_rel_error for b in self.blocks.values())

    @property
    def passed(self) -> bool:
        return self.worst <= self.tol

    def failing(self) -> list[str]:
        return [k for k, b in self.blocks.items() if b.worst_rel_error > self.tol]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "block": b.name, "shape": "×".join(map(str, b.shape)) or "scalar", "entries checked": b.checked,
            "worst relative error": b.worst_rel_error, "at index": b.worst_index,
            "analytic": b.analytic, "numeric": b.numeric,
            "verdict": "ok" if b.worst_rel_error <= self.tol else "WRONG",
        } for b in self.blocks.values()])

    def as_dict(self) -> dict:
        return {k: b.worst_rel_error for k, b in self.blocks.items()}


def check_gradients(f: Callable[[], float], params: Mapping[str, np.ndarray],
                    grads: Mapping[str, np.ndarray], *, eps: float = 1e-5, tol: float = 1e-5,
                    floor: float = 1e-5, max_entries: int | None = None,
                    rng: np.random.Generator | None = None) -> GradCheckReport:
    """Compare ``grads`` with central differences of ``f`` for every block in ``grads``.

    ``max_entries`` checks a random subset of each large block (``rng`` picks it).
    """
    rng = rng or np.random.default_rng(0)
    out: Dict[str, BlockResult] = {}
    for name, g in grads.items():
        p = params[name]
        if p.shape != np.shape(g):
            raise ValueError(f"{name}: parameter shape {p.shape} but gradient shape {np.shape(g)}")
        flat_idx = np.arange(p.size)
        if max_entries is not None and p.size > max_entries:
            flat_idx = rng.choice(p.size, max_entries, replace=False)
        worst, where, a_w, n_w = -1.0, (), 0.0, 0.0
        for fi in flat_idx:
            idx = np.unravel_index(int(fi), p.shape)
            old = p[idx].copy()
            p[idx] = old + eps
            fp = f()
            p[idx] = old - eps
            fm = f()
            p[idx] = old
            num = (fp - fm) / (2 * eps)
            ana = float(np.asarray(g)[idx])
            rel = abs(ana - num) / max(abs(ana) + abs(num), floor)
            if rel > worst:
                worst, where, a_w, n_w = rel, tuple(int(i) for i in idx), ana, num
        out[name] = BlockResult(name, tuple(p.shape), len(flat_idx), float(worst), where, a_w, float(n_w))
    return GradCheckReport(out, tol)
