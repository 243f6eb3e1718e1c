"""Why does our number differ from the report's? Tables of measured causes, and verdicts.

Two generic tools, used by every page that puts a report's number beside ours:

* :func:`attribution_table` / :func:`gap_verdict` — rows ``(cause, setting, value, reference)``:
  *value* is our number with one cause moved toward the report's setting, *reference* our number
  without that change, so ``effect = value − reference`` is the measured worth of that cause. The
  verdict compares the gap ``ours − report`` (the book's one sign convention) with the 95%
  prediction band (:func:`idl_helpers.analysis.stats.report_band`, via :func:`report_gap`) and with the sum
  of the measured effects: ``"within noise"``, ``"explained by …"``, ``"not explained"``, or
  ``"inconclusive"`` when one seed of ours gives no band. Only rows of ``kind="effect"`` can
  explain: ``kind="extrapolation"`` (a trend continued beyond what was measured) is shown and its
  size reported but never counts; any other kind (``"noise"``: a spread; ``"diagnostic"``: a change
  the report did not make) is informational.
* :func:`claim_verdict` (two groups of per-seed numbers: is ``a > b``?), :func:`trend_verdict`
  (does ``y`` grow with ``x``?) and :func:`falls_verdict` (does it fall step by step?) —
  ``"holds"`` when the 95% interval of the difference (slope) lies above zero (and above
  ``min_effect``), ``"does not hold"`` when it lies entirely below ``min_effect``,
  ``"inconclusive"`` otherwise. Intervals are Student-t — paired over seeds for seed twins, Welch
  for independent groups — and come from :mod:`idl_helpers.analysis.stats`, which owns every statistical
  rule; a group of one run has no interval and borrows none.
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

from idl_helpers.analysis import stats

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
WITHIN_NOISE, EXPLAINED, NOT_EXPLAINED = "within noise", "explained", "not explained"


def _t(df: float, level: float) -> float:
    return stats.t_quantile(df, level)


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
    """The report's number, ours, and one row per cause with its measured effect. The first row is
    the gap, ``ours − report`` (the book's one sign convention): a cause explains it when its effect
    has the opposite sign."""
    import pandas as pd

    rows = [{"cause": "ours − report (the gap to explain)", "setting": "", "value": ours, "reference": report,
             "effect": ours - report, "kind": "gap", "note": ""}]
    rows += [{"cause": c.cause, "setting": c.setting, "value": c.value, "reference": c.reference,
              "effect": c.effect, "kind": c.kind, "note": c.note} for c in causes]
    df = pd.DataFrame(rows)
    return df.round({"value": digits, "reference": digits, "effect": digits})


@dataclass
class GapVerdict:
    verdict: str                  # WITHIN_NOISE | EXPLAINED | NOT_EXPLAINED | INCONCLUSIVE
    gap: float                    # ours − report
    noise: float                  # the 95% prediction band's half-width (NaN: none, e.g. one seed)
    explained: float              # sum of the measured effects that move ours toward the report
    causes: list[str] = field(default_factory=list)
    extrapolated: float = 0.0

    @property
    def residual(self) -> float:
        """What is left of ``ours − report`` once the measured causes are applied to ours."""
        return self.gap + self.explained

    @property
    def text(self) -> str:
        g = f"ours − report {self.gap:+.3f}"
        band = f"95% prediction band ±{self.noise:.3f}"
        if self.verdict == INCONCLUSIVE:
            if not np.isfinite(self.gap):
                return "inconclusive (no healthy run of ours, or no report number: nothing to judge)"
            return f"inconclusive ({g}; one run of ours: no seed spread, so no 95% prediction band to judge it by)"
        if self.verdict == WITHIN_NOISE:
            return f"within noise ({g}, {band})"
        extra = (f"; the extrapolated trend would add {-self.extrapolated:+.3f} (not a measurement)"
                 if self.extrapolated else "")
        if self.verdict == EXPLAINED:
            return f"explained by {', '.join(self.causes)} ({g}, measured {self.explained:+.3f}, {band}){extra}"
        by = f" by {', '.join(self.causes)}" if self.causes else ""
        return (f"not explained ({g}; measured causes{by} account for {self.explained:+.3f}, "
                f"residual {self.residual:+.3f} beyond the {band}){extra}")


def gap_verdict(report: float, ours: float, causes: list[Cause], noise: float) -> GapVerdict:
    """``"within noise"`` when ``|ours − report| ≤ noise``; else ``"explained by …"`` when the
    measured effects that point toward the report (kind ``"effect"``) bring the residual within the
    noise; else ``"not explained"``. ``noise`` is the half-width of the 95% prediction band of
    ``ours − report`` (:func:`stats.report_band`); a non-finite one (one seed of ours: no spread) →
    ``"inconclusive"``, never a band borrowed from elsewhere."""
    gap = float(ours) - float(report)
    noise = abs(float(noise))
    extrapolated = sum(c.effect for c in causes if c.kind == "extrapolation" and np.isfinite(c.effect)
                       and c.effect * gap < 0)
    if not np.isfinite(noise):
        return GapVerdict(INCONCLUSIVE, gap, noise, 0.0, [], extrapolated)
    towards = [c for c in causes if c.kind == "effect" and np.isfinite(c.effect) and c.effect * gap < 0]
    towards.sort(key=lambda c: -abs(c.effect))
    if abs(gap) <= noise:
        return GapVerdict(WITHIN_NOISE, gap, noise, 0.0, [], extrapolated)
    used, total = [], 0.0
    for c in towards:                              # largest first, until the residual is within noise
        used.append(c.cause)
        total += c.effect
        if abs(gap + total) <= noise:
            return GapVerdict(EXPLAINED, gap, noise, total, used, extrapolated)
    return GapVerdict(NOT_EXPLAINED, gap, noise, total, used, extrapolated)


def noise_causes(band: stats.Band, ours: float) -> list[Cause]:
    """The two informational rows of a prediction band (kind ``"noise"``): its seed part and the
    report's test-set part, each as a 95% half-width."""
    return [Cause("seed spread", f"95% prediction band of one run, t·sd·√(1+1/n) over {band.n} seed(s)"
                  + ("" if np.isfinite(band.seed_half) else ": one run, no spread"),
                  ours + band.seed_half, ours, kind="noise"),
            Cause(f"{stats.REPORT_TEST_REVIEWS}-review test set", "95% chance band of the report's single measurement",
                  ours + band.report_half, ours, kind="noise")]


def report_gap(report: float, per_seed, causes: list[Cause], *, report_sd: float | None = None):
    """``(GapVerdict, Band, rows)``: our per-seed numbers' mean against the report's single run,
    judged by the 95% prediction band (:func:`stats.report_band`: seeds by t, the report's
    500 reviews by ``report_sd`` — a bootstrap sd — or the binomial spread of ``report``). ``rows``:
    ``causes`` plus the two noise rows."""
    v = stats.finite(per_seed)
    ours = float(v.mean()) if len(v) else float("nan")
    band = stats.report_band(v, report_p=report, report_sd=report_sd)
    rows = list(causes) + noise_causes(band, ours)
    if not (np.isfinite(report) and np.isfinite(ours)):       # nothing to judge: never "explained" or "within noise"
        return GapVerdict(INCONCLUSIVE, float("nan"), band.half, 0.0, []), band, rows
    return gap_verdict(report, ours, rows, band.half), band, rows


def combine_noise(*half_widths: float) -> float:
    """Independent ± half-widths combined in quadrature; a missing (NaN) one makes the result NaN."""
    return stats.combine(*half_widths)


def seed_half_width(values, level: float = 0.95) -> float:
    """Half-width of the ``level`` t-interval of the mean of per-seed ``values`` (nan for < 2)."""
    return stats.mean_interval(values, level).half


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


def claim_verdict(a, b, *, min_effect: float = 0.0, paired: bool = False, level: float = 0.95,
                  what: str = "mean difference") -> ClaimVerdict:
    """Does "``a`` is larger than ``b``" hold, given per-seed numbers of each?

    The ``level`` t interval of ``mean(a) − mean(b)`` — paired over seeds (:func:`stats.paired_interval`)
    when ``paired`` (seed twins: same seeds, same data; mappings are matched on their seed keys),
    Welch otherwise: above ``max(0, min_effect)`` → holds; entirely below ``min_effect`` → does not
    hold; otherwise inconclusive. A group with one run has no spread and none is borrowed:
    inconclusive ("one run: no spread")."""
    iv = stats.difference(a, b, paired=paired, level=level)
    how = "paired over seeds" if paired else "Welch"
    if not np.isfinite(iv.estimate):
        return ClaimVerdict(INCONCLUSIVE, float("nan"), float("nan"), float("nan"), "no finite numbers in a group")
    if not iv.ok:
        return ClaimVerdict(INCONCLUSIVE, iv.estimate, float("nan"), float("nan"),
                            f"{what} {iv.estimate:+.3f}, {iv.note}")
    n = f"{iv.n} seed pairs" if paired else f"{len(stats.finite(a))} vs {len(stats.finite(b))} runs"
    return ClaimVerdict(_decide(iv.estimate, iv.low, iv.high, min_effect), iv.estimate, iv.low, iv.high,
                        f"{what}, {n}, {how}")


def within_verdict(a, b, margin: float, *, paired: bool = False, level: float = 0.95,
                   what: str = "mean difference") -> ClaimVerdict:
    """Are ``a`` and ``b`` equal within ``± margin``? Holds when the whole ``level`` interval of
    ``mean(a) − mean(b)`` (as in :func:`claim_verdict`, paired for seed twins) lies inside
    ``(−margin, margin)``, does not hold when it lies entirely outside, inconclusive otherwise."""
    v = claim_verdict(a, b, paired=paired, level=level, what=what)
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


def falls_verdict(groups, *, paired: bool, level: float = 0.95, what: str = "accuracy") -> tuple[str, str]:
    """Does the quantity fall as the setting grows (``groups``: setting → per-seed values, in order;
    for seed twins, mappings seed → value)? ``(verdict, text)``: *holds* when the last setting is
    below the first beyond the noise (interval of last − first below 0) and no step rises beyond
    the noise (:func:`stats.rises`: a step counts only when its interval excludes 0); *holds in part*
    when it falls overall but some step rises beyond the noise; *does not hold* when the last is
    above the first beyond the noise; otherwise *inconclusive*."""
    xs = list(groups)
    if len(xs) < 2:
        return INCONCLUSIVE, "fewer than two settings"
    overall = stats.difference(groups[xs[-1]], groups[xs[0]], paired=paired, level=level)
    up = stats.rises(groups, paired=paired, level=level)
    how = "paired over seeds" if paired else "Welch"
    text = f"{what} at {xs[-1]} − at {xs[0]}: {overall.text} ({how})"
    if not overall.ok:
        return INCONCLUSIVE, text
    if overall.high < 0:
        if not up:
            return HOLDS, text + "; no step rises beyond the noise"
        return "holds in part", text + "; but it rises beyond the noise " + ", ".join(
            f"from {s.start} to {s.end} ({s.change.text})" for s in up)
    if overall.low > 0:
        return DOES_NOT_HOLD, text
    return INCONCLUSIVE, text


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
           "NOT_EXPLAINED", "WITHIN_NOISE", "attribution_table", "claim_verdict", "combine_noise", "falls_verdict",
           "gap_verdict", "noise_causes", "report_gap", "seed_half_width", "trend_verdict", "within_verdict",
           "Row", "Verdict", "gap_share", "table", "verdict", "standing"]
