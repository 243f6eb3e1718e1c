"""Why does our number differ from the report's? Tables of measured causes, and verdicts.

Two generic tools, used by every page that puts a report's number beside ours:

* :func:`attribution_table` / :func:`gap_verdict` — rows ``(cause, setting, value, reference)``:
  *value* is our number with one cause moved toward the report's setting, *reference* our number
  without that change, so ``effect = value − reference`` is the measured worth of that cause. The
  verdict compares the gap ``report − ours`` with the noise band and with the sum of the measured
  effects: ``"within noise"``, ``"explained by …"`` or ``"not explained"``. Only rows of
  ``kind="effect"`` can explain: ``kind="extrapolation"`` (a trend continued beyond what was
  measured) is shown and its size reported but never counts; any other kind (``"noise"``: a
  spread; ``"diagnostic"``: a change the report did not make) is informational.
* :func:`claim_verdict` (two groups of per-seed numbers: is ``a > b``?) and :func:`trend_verdict`
  (does ``y`` grow with ``x``?) — ``"holds"`` when the 95% interval of the difference (slope) lies
  above zero (and above ``min_effect``), ``"does not hold"`` when it lies entirely below
  ``min_effect`` (with the default 0: the opposite is established), ``"inconclusive"`` otherwise. Intervals are
  Student-t (Welch for two groups), so two or three seeds give honest, wide intervals.
* :func:`table` / :func:`verdict` / :func:`standing` — a ranking of controlled experiments
  (:class:`Row`: cause, setting, value, reference) against a *target* another method reaches
  (e.g. add-1 smoothing's perplexity): a cause *explains* the gap when its value alone reaches the
  target, *partly explains* it when it closes at least ``min_share`` of the distance, else the gap is
  *not explained* (lower is better unless ``lower_is_better=False``). Used by II.1d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
WITHIN_NOISE, EXPLAINED, NOT_EXPLAINED = "within noise", "explained", "not explained"


def _t(df: float, level: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class Cause:
    """One row of an attribution table (see the module docstring)."""
    cause: str
    setting: str
    value: float
    reference: float
    kind: str = "effect"          # "effect" | "extrapolation" | "noise" | "diagnostic"
    note: str = ""

    @property
    def effect(self) -> float:
        return float(self.value) - float(self.reference)


def attribution_table(report: float, ours: float, causes: list[Cause], digits: int = 3):
    """The report's number, ours, and one row per cause with its measured effect."""
    import pandas as pd

    rows = [{"cause": "report − ours (the gap to explain)", "setting": "", "value": report, "reference": ours,
             "effect": report - ours, "kind": "gap", "note": ""}]
    rows += [{"cause": c.cause, "setting": c.setting, "value": c.value, "reference": c.reference,
              "effect": c.effect, "kind": c.kind, "note": c.note} for c in causes]
    df = pd.DataFrame(rows)
    return df.round({"value": digits, "reference": digits, "effect": digits})


@dataclass
class GapVerdict:
    verdict: str                  # WITHIN_NOISE | EXPLAINED | NOT_EXPLAINED
    gap: float
    noise: float
    explained: float              # sum of the measured effects that move ours toward the report
    causes: list[str] = field(default_factory=list)
    extrapolated: float = 0.0

    @property
    def residual(self) -> float:
        return self.gap - self.explained

    @property
    def text(self) -> str:
        g = f"gap {self.gap:+.3f}"
        if self.verdict == WITHIN_NOISE:
            return f"within noise ({g}, noise ±{self.noise:.3f})"
        extra = (f"; the extrapolated trend would add {self.extrapolated:+.3f} (not a measurement)"
                 if self.extrapolated else "")
        if self.verdict == EXPLAINED:
            return f"explained by {', '.join(self.causes)} ({g}, measured {self.explained:+.3f}, noise ±{self.noise:.3f}){extra}"
        by = f" by {', '.join(self.causes)}" if self.causes else ""
        return (f"not explained ({g}; measured causes{by} account for {self.explained:+.3f}, "
                f"residual {self.residual:+.3f} beyond the noise ±{self.noise:.3f}){extra}")


def gap_verdict(report: float, ours: float, causes: list[Cause], noise: float) -> GapVerdict:
    """``"within noise"`` when ``|report − ours| ≤ noise``; else ``"explained by …"`` when the
    measured effects that point toward the report (kind ``"effect"``) bring the residual within the
    noise; else ``"not explained"``. ``noise`` is a ± half-width (e.g. the 95% chance band of the
    report's 500-review measurement combined with our seed spread, :func:`combine_noise`)."""
    gap = float(report) - float(ours)
    noise = abs(float(noise))
    towards = [c for c in causes if c.kind == "effect" and np.isfinite(c.effect) and c.effect * gap > 0]
    towards.sort(key=lambda c: -abs(c.effect))
    extrapolated = sum(c.effect for c in causes if c.kind == "extrapolation" and np.isfinite(c.effect)
                       and c.effect * gap > 0)
    if abs(gap) <= noise:
        return GapVerdict(WITHIN_NOISE, gap, noise, 0.0, [], extrapolated)
    used, total = [], 0.0
    for c in towards:                              # largest first, until the residual is within noise
        used.append(c.cause)
        total += c.effect
        if abs(gap - total) <= noise:
            return GapVerdict(EXPLAINED, gap, noise, total, used, extrapolated)
    return GapVerdict(NOT_EXPLAINED, gap, noise, total, used, extrapolated)


def combine_noise(*half_widths: float) -> float:
    """Independent ± half-widths combined in quadrature."""
    return float(math.sqrt(sum(float(h) ** 2 for h in half_widths if h is not None and np.isfinite(h))))


def seed_half_width(values, level: float = 0.95) -> float:
    """± half-width of the ``level`` t-interval of the mean of per-seed ``values`` (nan for < 2)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) < 2:
        return float("nan")
    return _t(len(v) - 1, level) * float(v.std(ddof=1)) / math.sqrt(len(v))


@dataclass
class ClaimVerdict:
    verdict: str                  # HOLDS | DOES_NOT_HOLD | INCONCLUSIVE
    estimate: float
    low: float
    high: float
    detail: str = ""

    @property
    def text(self) -> str:
        if not np.isfinite(self.low):
            return f"{self.verdict} ({self.detail})"
        return f"{self.verdict} ({self.detail}: {self.estimate:+.3f}, 95% interval [{self.low:+.3f}, {self.high:+.3f}])"


def _decide(est: float, lo: float, hi: float, min_effect: float) -> str:
    if lo > max(0.0, min_effect):
        return HOLDS
    if hi < min_effect:
        return DOES_NOT_HOLD
    return INCONCLUSIVE


def claim_verdict(a, b, *, min_effect: float = 0.0, sd: float | None = None, level: float = 0.95,
                  what: str = "mean difference") -> ClaimVerdict:
    """Does "``a`` is larger than ``b``" hold, given per-seed numbers of each?

    The ``level`` Welch t-interval of ``mean(a) − mean(b)``: above ``max(0, min_effect)`` →
    holds; entirely below ``min_effect`` → does not hold; otherwise inconclusive. A group with one
    number has no spread of its own: give ``sd`` (the spread one number is known to carry, e.g. a
    bootstrap) or the verdict is inconclusive."""
    a = np.asarray([x for x in a if x is not None and np.isfinite(x)], dtype=float)
    b = np.asarray([x for x in b if x is not None and np.isfinite(x)], dtype=float)
    if len(a) == 0 or len(b) == 0:
        return ClaimVerdict(INCONCLUSIVE, float("nan"), float("nan"), float("nan"), "no finite numbers in a group")
    est = float(a.mean() - b.mean())
    va = a.var(ddof=1) if len(a) > 1 else (sd ** 2 if sd is not None else float("nan"))
    vb = b.var(ddof=1) if len(b) > 1 else (sd ** 2 if sd is not None else float("nan"))
    if not (np.isfinite(va) and np.isfinite(vb)):
        return ClaimVerdict(INCONCLUSIVE, est, float("nan"), float("nan"),
                            f"{what} {est:+.3f} from {len(a)} vs {len(b)} run(s): no spread to judge it by")
    se2 = va / len(a) + vb / len(b)
    if se2 == 0:
        lo = hi = est
    else:
        num = se2 ** 2
        den = ((va / len(a)) ** 2 / max(len(a) - 1, 1)) + ((vb / len(b)) ** 2 / max(len(b) - 1, 1))
        df = num / den if den > 0 else max(len(a) + len(b) - 2, 1)
        half = _t(df, level) * math.sqrt(se2)
        lo, hi = est - half, est + half
    return ClaimVerdict(_decide(est, lo, hi, min_effect), est, lo, hi, f"{what}, {len(a)} vs {len(b)} runs")


def within_verdict(a, b, margin: float, *, level: float = 0.95, what: str = "mean difference") -> ClaimVerdict:
    """Are ``a`` and ``b`` equal within ``± margin``? Holds when the whole ``level`` interval of
    ``mean(a) − mean(b)`` (as in :func:`claim_verdict`) lies inside ``(−margin, margin)``, does not
    hold when it lies entirely outside, inconclusive otherwise."""
    v = claim_verdict(a, b, level=level, what=what)
    if not np.isfinite(v.low):
        return v
    if -margin < v.low and v.high < margin:
        verdict = HOLDS
    elif v.low >= margin or v.high <= -margin:
        verdict = DOES_NOT_HOLD
    else:
        verdict = INCONCLUSIVE
    return ClaimVerdict(verdict, v.estimate, v.low, v.high, f"{v.detail}, margin ±{margin:g}")


def trend_verdict(x, y, *, min_effect: float = 0.0, level: float = 0.95, what: str = "slope") -> ClaimVerdict:
    """Does ``y`` grow with ``x``? The ``level`` t-interval of the least-squares slope (per unit of
    ``x``), decided as in :func:`claim_verdict` (``min_effect`` in units of ``y`` per unit ``x``)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        return ClaimVerdict(INCONCLUSIVE, float("nan"), float("nan"), float("nan"), f"{len(x)} point(s): no slope")
    xc = x - x.mean()
    slope = float((xc * (y - y.mean())).sum() / (xc ** 2).sum())
    resid = y - y.mean() - slope * xc
    se = math.sqrt(float((resid ** 2).sum()) / (len(x) - 2) / float((xc ** 2).sum()))
    half = _t(len(x) - 2, level) * se
    return ClaimVerdict(_decide(slope, slope - half, slope + half, min_effect), slope, slope - half, slope + half,
                        f"{what}, {len(x)} runs")


# --- a ranking of controlled experiments against a target (II.1d) ---------------------------

@dataclass(frozen=True)
class Row:
    cause: str          # what was changed ("learning rate")
    setting: str        # to what ("lr = 1.0")
    value: float        # the measured quantity with that change
    reference: float    # the same quantity in the reference setting, measured the same way


@dataclass(frozen=True)
class Verdict:
    status: str                  # "explained" | "partly explained" | "not explained" | "no gap"
    text: str                    # one line, built from the numbers
    best: Row | None             # the row that got closest to the target
    share: float                 # share of the gap that ``best`` closes (1 = reaches the target)
    explaining: tuple[Row, ...]  # every row that reaches the target

    @property
    def explained(self) -> bool:
        return self.status in ("explained", "no gap")


def _rows(rows: Iterable[Row | Sequence]) -> list[Row]:
    return [r if isinstance(r, Row) else Row(*r) for r in rows]


def gap_share(row: Row, target: float, *, lower_is_better: bool = True) -> float:
    """Share of the distance from ``row.reference`` to ``target`` that ``row`` closes (1: reaches
    it exactly, above 1: goes past it, negative: moves away); NaN when there is no gap."""
    sign = 1.0 if lower_is_better else -1.0
    gap = sign * (row.reference - target)
    return sign * (row.reference - row.value) / gap if gap > 0 else float("nan")


def table(rows: Iterable[Row | Sequence], *, value_name: str = "value",
          reference_name: str = "reference", target: float | None = None,
          target_name: str = "target", lower_is_better: bool = True) -> pd.DataFrame:
    """``cause | setting | value | reference | change vs reference`` (change = value − reference),
    and with a ``target`` the share of the gap to it each row closes (:func:`gap_share`)."""
    rs = _rows(rows)
    out = pd.DataFrame({
        "cause": [r.cause for r in rs],
        "setting": [r.setting for r in rs],
        value_name: [float(r.value) for r in rs],
        reference_name: [float(r.reference) for r in rs],
        "change vs reference": [float(r.value) - float(r.reference) for r in rs],
    })
    if target is not None:
        out[f"share of the gap to {target_name} closed"] = [gap_share(r, target, lower_is_better=lower_is_better)
                                                            for r in rs]
    return out


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if math.isfinite(x) else str(x)


def verdict(rows: Iterable[Row | Sequence], target: float, *, target_name: str = "the target",
            lower_is_better: bool = True, min_share: float = 0.25, noise: float = 0.0,
            value_name: str = "") -> Verdict:
    """Whether any single measured cause closes the gap from its reference to ``target``.

    * ``explained``: some row's value reaches ``target`` (all such rows are listed, best first);
    * ``partly explained``: the best row closes at least ``min_share`` of its gap, and by more
      than ``noise`` (e.g. the seed-to-seed spread), but does not reach the target;
    * ``not explained``: no row does (including no rows at all, or only NaN values);
    * ``no gap``: the reference already reaches the target, so there is nothing to explain.
    """
    rs = [r for r in _rows(rows) if math.isfinite(r.value) and math.isfinite(r.reference)]
    sign = 1.0 if lower_is_better else -1.0
    what = f"{value_name} " if value_name else ""
    better = "below" if lower_is_better else "above"
    if rs and all(sign * (r.reference - target) <= 0 for r in rs):
        return Verdict("no gap", f"no gap to explain: the reference {what}{_fmt(rs[0].reference)} already "
                       f"reaches {target_name}'s {_fmt(target)}", None, 1.0, ())

    def share(r: Row) -> float:
        g = gap_share(r, target, lower_is_better=lower_is_better)
        return 1.0 if math.isnan(g) else g

    if not rs:
        return Verdict("not explained", "not explained: no cause was measured", None, 0.0, ())
    ranked = sorted(rs, key=lambda r: sign * r.value)
    best = ranked[0]
    reach = tuple(r for r in ranked if sign * (r.value - target) <= 0)
    if reach:
        parts = [f"{r.cause} ({r.setting}: {_fmt(r.value)})" for r in reach]
        text = (f"explained by {' and by '.join(parts)}: {better} {target_name}'s {_fmt(target)}, "
                f"from {_fmt(best.reference)} in the reference setting")
        return Verdict("explained", text, best, share(best), reach)
    s = share(best)
    moved = sign * (best.reference - best.value)
    if s >= min_share and moved > noise:
        text = (f"partly explained: the best single cause, {best.cause} ({best.setting}), takes the {what}"
                f"from {_fmt(best.reference)} to {_fmt(best.value)}, {s:.0%} of the way to {target_name}'s "
                f"{_fmt(target)}, which it does not reach")
        return Verdict("partly explained", text, best, s, ())
    text = (f"not explained: no cause tried closes {min_share:.0%} of the gap to {target_name}'s {_fmt(target)} "
            f"(best: {best.cause}, {best.setting}, {_fmt(best.value)} from {_fmt(best.reference)})")
    return Verdict("not explained", text, best, s, ())


def standing(value: float, others: dict[str, float], *, lower_is_better: bool = True,
             fmt=_fmt) -> str:
    """``"beats add-1 (119.2); loses to Kneser–Ney (69.3)"``: where ``value`` stands among
    ``others`` (a tie counts as neither; NaN values are left out)."""
    sign = 1.0 if lower_is_better else -1.0
    ok = {k: v for k, v in others.items() if math.isfinite(v)}
    beats = [f"{k} ({fmt(v)})" for k, v in ok.items() if sign * (value - v) < 0]
    loses = [f"{k} ({fmt(v)})" for k, v in ok.items() if sign * (value - v) > 0]
    ties = [f"{k} ({fmt(v)})" for k, v in ok.items() if value == v]
    parts = ([f"beats {', '.join(beats)}"] if beats else []) + ([f"loses to {', '.join(loses)}"] if loses else []) \
        + ([f"ties with {', '.join(ties)}"] if ties else [])
    return "; ".join(parts) if parts else "has nothing to compare with"


__all__ = ["Cause", "ClaimVerdict", "DOES_NOT_HOLD", "EXPLAINED", "GapVerdict", "HOLDS", "INCONCLUSIVE",
           "NOT_EXPLAINED", "WITHIN_NOISE", "attribution_table", "claim_verdict", "combine_noise", "gap_verdict",
           "seed_half_width", "trend_verdict", "within_verdict",
           "Row", "Verdict", "gap_share", "table", "verdict", "standing"]
