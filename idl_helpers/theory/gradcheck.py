"""Central-difference gradient check that reports the worst relative error per parameter block.

    report = check_gradients(f, params, grads)

``f()`` returns the scalar loss for the *current* contents of the arrays in ``params``
(they are perturbed in place and restored); ``grads`` holds the analytic gradients to
judge. For each block, each checked entry i gets

    numeric_i = (f(p_i + eps) - f(p_i - eps)) / (2 eps)
    rel_i     = |analytic_i - numeric_i| / max(|analytic_i| + |numeric_i|, floor)

and the block's verdict is ``max_i rel_i <= tol`` — taken with :func:`idl_helpers.theory.derive.max_error`,
so a NaN or infinite entry (on either side) makes the block's error ``inf`` and the block fail. Work in float64: with float32 the
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

from idl_helpers.theory.derive import max_error, within


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
        """The worst block's error; ``inf`` if any block is NaN/inf or there are no blocks."""
        return max_error([b.worst_rel_error for b in self.blocks.values()])

    @property
    def passed(self) -> bool:
        return within(self.worst, self.tol)

    def failing(self) -> list[str]:
        return [k for k, b in self.blocks.items() if not within(b.worst_rel_error, self.tol)]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "block": b.name, "shape": "×".join(map(str, b.shape)) or "scalar", "entries checked": b.checked,
            "worst relative error": b.worst_rel_error, "at index": b.worst_index,
            "analytic": b.analytic, "numeric": b.numeric,
            "verdict": "ok" if within(b.worst_rel_error, self.tol) else "WRONG",
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
        idxs, ana, num = [], [], []
        for fi in flat_idx:
            idx = np.unravel_index(int(fi), p.shape)
            old = p[idx].copy()
            p[idx] = old + eps
            fp = f()
            p[idx] = old - eps
            fm = f()
            p[idx] = old
            idxs.append(tuple(int(i) for i in idx))
            num.append((fp - fm) / (2 * eps))
            ana.append(float(np.asarray(g)[idx]))
        ana_a, num_a = np.array(ana, dtype=np.float64), np.array(num, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            rel = np.abs(ana_a - num_a) / np.maximum(np.abs(ana_a) + np.abs(num_a), floor)
        worst = max_error(rel)                                 # inf if any entry is NaN/inf
        if len(rel):
            bad = np.flatnonzero(~np.isfinite(rel))
            at = int(bad[0]) if len(bad) else int(np.argmax(rel))   # show the first non-finite entry
            where, a_w, n_w = idxs[at], float(ana_a[at]), float(num_a[at])
        else:
            where, a_w, n_w = (), float("nan"), float("nan")
        out[name] = BlockResult(name, tuple(p.shape), len(flat_idx), worst, where, a_w, n_w)
    return GradCheckReport(out, tol)
