"""Every statistical rule of the book, in one place.

All intervals here are **95% intervals** unless a ``level`` says otherwise, and every one is
Student-t where it comes from a handful of seeds (never a normal quantile times the sd of 2–6
seeds). The rules:

* :func:`mean_interval` — the t interval of a mean over seeds (``t_{n-1} · sd / √n``);
* :func:`welch_interval` — two *independent* groups (different seeds or different data): Welch's
  t interval of ``mean(a) − mean(b)`` with the Welch–Satterthwaite degrees of freedom
  (:func:`welch_df`);
* :func:`paired_interval` — *seed twins* (same seeds, same data, one thing changed): the t interval
  of the mean of the per-seed differences (``t_{n-1} · sd(d) / √n``). Use it wherever runs are twins;
* :func:`prediction_half_width` — "is one more run within our noise?": a new run differs from the
  mean of ``n`` seeds by ``t_{n-1} · sd · √(1 + 1/n)`` at most (95%);
* :func:`report_band` — "is the report's single run within our noise?": ``report − mean(ours)``
  carries the seed part (:func:`prediction_half_width`) and the report's own 500-review test set
  (:func:`binomial_half_width`, or a bootstrap sd × z), combined in quadrature. One seed of ours →
  no seed part, and the band is not finite: the comparison is inconclusive, never "1.96 × sd";
* no spread is borrowed from another setting: a group with one run has no interval
  (:func:`welch_interval` returns a non-finite interval, and every verdict built on it says
  "one run: no spread");
* :func:`split_collapsed` — collapsed runs (accuracy near chance) are counted apart; statistics are
  taken over the healthy runs, never folded into one mean ± sd;
* :func:`rises` — the steps of a curve that rise *beyond the noise*: a step counts only when its
  interval excludes 0 (a +0.0003 rise inside the seed noise is no rise).

A "±" printed from these always names what it is: "95% interval", "95% prediction band".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

LEVEL = 0.95
#: the reports measured their IMDB accuracies on this many test reviews (their confusion matrices sum to 500)
REPORT_TEST_REVIEWS = 500
#: a run whose accuracy ends below this has collapsed to (near) chance: the same threshold as
#: :data:`idl_helpers.training.sweep.COLLAPSE_BELOW` (kept equal by a test; not imported, so that this module needs no torch)
COLLAPSE_BELOW = 0.60


def t_quantile(df: float, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom
    (``t_quantile(2) = 4.303``)."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


def z_quantile(level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of the normal distribution (1.960 at 95%): only for
    binomial / bootstrap spreads of a large test set, never for a handful of seeds."""
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2))


def finite(values) -> np.ndarray:
    """The finite numbers of ``values`` (None and NaN dropped), as floats."""
    return np.asarray([float(x) for x in values if x is not None and np.isfinite(float(x))], dtype=float)


@dataclass(frozen=True)
class Interval:
    """A point estimate and its ``level`` interval; ``low``/``high`` are NaN when there is no spread."""
    estimate: float
    low: float
    high: float
    n: int                      # runs (pairs for a paired interval)
    df: float = float("nan")
    kind: str = ""              # "mean" | "welch" | "paired" | "slope"
    level: float = LEVEL
    note: str = ""              # why there is no interval, when there is none

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.low) and np.isfinite(self.high))

    @property
    def half(self) -> float:
        return (self.high - self.low) / 2 if self.ok else float("nan")

    @property
    def excludes_zero(self) -> bool:
        return self.ok and (self.low > 0 or self.high < 0)

    @property
    def text(self) -> str:
        if not self.ok:
            return f"{self.estimate:+.4f} ({self.note or 'no interval'})"
        return f"{self.estimate:+.4f}, {self.level:.0%} interval [{self.low:+.4f}, {self.high:+.4f}]"


def _none(est: float, n: int, kind: str, note: str) -> Interval:
    return Interval(est, float("nan"), float("nan"), n, float("nan"), kind, note=note)


def mean_interval(values, level: float = LEVEL) -> Interval:
    """The t interval of the mean of ``values`` (no interval from fewer than two)."""
    v = finite(values)
    if len(v) == 0:
        return _none(float("nan"), 0, "mean", "no finite numbers")
    m = float(v.mean())
    if len(v) < 2:
        return _none(m, 1, "mean", "one run: no spread")
    half = t_quantile(len(v) - 1, level) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return Interval(m, m - half, m + half, len(v), len(v) - 1, "mean", level)


def welch_df(var_a: float, n_a: int, var_b: float, n_b: int) -> float:
    """Welch–Satterthwaite degrees of freedom of ``mean(a) − mean(b)`` from the sample variances."""
    sa, sb = var_a / n_a, var_b / n_b
    den = sa ** 2 / (n_a - 1) + sb ** 2 / (n_b - 1)
    return (sa + sb) ** 2 / den if den > 0 else float(n_a + n_b - 2)


def welch_interval(a, b, level: float = LEVEL) -> Interval:
    """Welch's t interval of ``mean(a) − mean(b)`` for two independent groups. A group with one run
    has no spread of its own and none is borrowed: no interval ("one run: no spread")."""
    a, b = finite(a), finite(b)
    if len(a) == 0 or len(b) == 0:
        return _none(float("nan"), min(len(a), len(b)), "welch", "no finite numbers in a group")
    est = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return _none(est, min(len(a), len(b)), "welch", "one run: no spread")
    va, vb = float(a.var(ddof=1)), float(b.var(ddof=1))
    se = math.sqrt(va / len(a) + vb / len(b))
    df = welch_df(va, len(a), vb, len(b))
    half = t_quantile(df, level) * se
    return Interval(est, est - half, est + half, len(a) + len(b), df, "welch", level)


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Aligned finite pairs: mappings are matched on their keys (seeds), sequences by position."""
    if isinstance(a, Mapping) or hasattr(a, "index") and not isinstance(a, (list, tuple, np.ndarray)):
        a = dict(a.items()) if not isinstance(a, Mapping) else a
        b = dict(b.items()) if not isinstance(b, Mapping) else b
        keys = [k for k in a if k in b]
        x, y = [a[k] for k in keys], [b[k] for k in keys]
    else:
        x, y = list(a), list(b)
        if len(x) != len(y):
            raise ValueError(f"paired analysis needs seed twins: {len(x)} against {len(y)} runs")
    keep = [(float(p), float(q)) for p, q in zip(x, y) if p is not None and q is not None
            and np.isfinite(float(p)) and np.isfinite(float(q))]
    return np.asarray([p for p, _ in keep]), np.asarray([q for _, q in keep])


def paired_interval(a, b, level: float = LEVEL) -> Interval:
    """The t interval of the mean per-seed difference ``a − b`` of seed twins (``a[i]`` and ``b[i]``
    share seed and data; mappings are matched on their keys): :func:`mean_interval` of the
    differences. One pair: no interval."""
    x, y = _pairs(a, b)
    if len(x) == 0:
        return _none(float("nan"), 0, "paired", "no finite pairs")
    if len(x) < 2:
        return _none(float((x - y).mean()), 1, "paired", "one pair: no spread")
    return replace(mean_interval(x - y, level), kind="paired")


def difference(a, b, *, paired: bool, level: float = LEVEL) -> Interval:
    """:func:`paired_interval` for seed twins, :func:`welch_interval` otherwise."""
    return paired_interval(a, b, level) if paired else welch_interval(a, b, level)


def prediction_half_width(values, level: float = LEVEL) -> float:
    """How far one new run may fall from the mean of ``values`` (``n`` seeds): ``t_{n-1} · sd ·
    √(1 + 1/n)``; NaN for fewer than two (one run has no spread)."""
    v = finite(values)
    if len(v) < 2:
        return float("nan")
    return t_quantile(len(v) - 1, level) * float(v.std(ddof=1)) * math.sqrt(1 + 1 / len(v))


def binomial_half_width(p: float, n: int = REPORT_TEST_REVIEWS, level: float = LEVEL) -> float:
    """The chance spread of an accuracy ``p`` measured on ``n`` test items: ``z · √(p(1−p)/n)``."""
    if p is None or not 0 <= float(p) <= 1:
        return float("nan")
    return z_quantile(level) * math.sqrt(float(p) * (1 - float(p)) / n)


def combine(*half_widths: float) -> float:
    """Independent half-widths combined in quadrature (a NaN part makes the result NaN: a missing
    spread is never read as zero)."""
    hs = [float(h) for h in half_widths if h is not None]
    if any(not np.isfinite(h) for h in hs):
        return float("nan")
    return float(math.sqrt(sum(h * h for h in hs)))


@dataclass(frozen=True)
class Band:
    """The 95% prediction band of ``report − mean(ours)``: its seed part, its test-set part, both."""
    half: float
    seed_half: float
    report_half: float
    n: int
    level: float = LEVEL

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.half))

    @property
    def text(self) -> str:
        if not self.ok:
            why = "one run of ours: no seed spread" if self.n < 2 else "a spread is missing"
            return f"no {self.level:.0%} prediction band ({why})"
        return (f"{self.level:.0%} prediction band ±{self.half:.3f} (seeds: t·sd·√(1+1/n) over {self.n} seeds "
                f"±{self.seed_half:.3f}; the report's {REPORT_TEST_REVIEWS}-review test set ±{self.report_half:.3f})")


def report_band(ours, *, report_p: float | None = None, report_sd: float | None = None,
                n_test: int = REPORT_TEST_REVIEWS, level: float = LEVEL) -> Band:
    """The band within which the report's single run would fall if it measured the same thing as
    ours: the seed part :func:`prediction_half_width` of our per-seed ``ours`` and the report's
    test-set part — ``z × report_sd`` (a bootstrap sd of a ``n_test``-item accuracy) when given, else
    :func:`binomial_half_width` of ``report_p`` — combined in quadrature. Fewer than two seeds: not
    finite (the comparison is inconclusive)."""
    v = finite(ours)
    seed = prediction_half_width(v, level)
    if report_sd is not None and np.isfinite(report_sd):
        rep = z_quantile(level) * float(report_sd)
    elif report_p is not None:
        rep = binomial_half_width(report_p, n_test, level)
    else:
        rep = float("nan")
    return Band(combine(seed, rep), seed, rep, len(v), level)


@dataclass(frozen=True)
class Split:
    """Runs split into healthy and collapsed ones (accuracy below :data:`COLLAPSE_BELOW`)."""
    healthy: list
    collapsed: list

    @property
    def text(self) -> str:
        n = len(self.healthy) + len(self.collapsed)
        if not self.collapsed:
            return f"{n} run(s), none collapsed"
        return (f"{len(self.collapsed)} of {n} run(s) collapsed (accuracy below {COLLAPSE_BELOW:.2f}); "
                f"statistics over the {len(self.healthy)} healthy run(s)")


def split_collapsed(values, collapsed: Sequence[bool] | None = None, below: float = COLLAPSE_BELOW) -> Split:
    """Healthy and collapsed values: ``collapsed`` flags when given (e.g. :attr:`sweep.Outcome.collapsed`),
    else every value below ``below``. Non-finite values are dropped."""
    vals = [float(x) if x is not None else float("nan") for x in values]
    flags = list(collapsed) if collapsed is not None else [v < below for v in vals]
    if len(flags) != len(vals):
        raise ValueError("one collapse flag per value")
    healthy = [v for v, c in zip(vals, flags) if np.isfinite(v) and not c]
    bad = [v for v, c in zip(vals, flags) if np.isfinite(v) and c]
    return Split(healthy, bad)


@dataclass(frozen=True)
class Step:
    start: object
    end: object
    change: Interval            # value at ``end`` − value at ``start``

    @property
    def rises(self) -> bool:
        return self.change.ok and self.change.low > 0

    @property
    def falls(self) -> bool:
        return self.change.ok and self.change.high < 0


def steps(groups: Mapping, *, paired: bool, level: float = LEVEL) -> list[Step]:
    """The change from each setting to the next (in the mapping's order), each with its interval:
    paired over seeds when the runs at each setting are seed twins (``groups[x]``: a mapping
    seed → value), Welch otherwise."""
    xs = list(groups)
    return [Step(a, b, difference(groups[b], groups[a], paired=paired, level=level)) for a, b in zip(xs, xs[1:])]


def rises(groups: Mapping, *, paired: bool, level: float = LEVEL) -> list[Step]:
    """The steps that rise beyond the noise: their interval lies above 0. A step whose interval
    contains 0 (or that has none) is not a rise."""
    return [s for s in steps(groups, paired=paired, level=level) if s.rises]


__all__ = ["Band", "COLLAPSE_BELOW", "Interval", "LEVEL", "REPORT_TEST_REVIEWS", "Split", "Step", "binomial_half_width",
           "combine", "difference", "finite", "mean_interval", "paired_interval", "prediction_half_width",
           "report_band", "rises", "split_collapsed", "steps", "t_quantile", "welch_df", "welch_interval",
           "z_quantile"]
