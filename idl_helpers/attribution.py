"""Which measured cause explains a gap between our number and a target?

An *attribution* is a list of controlled experiments, each changing one thing (a cause) from a
reference setting and measuring the same quantity::

    rows = [Row("training length", "160,000 iterations", 131.0, reference=146.2),
            Row("learning rate", "lr = 1.0", 125.3, reference=146.2)]
    attribution.table(rows)                     # cause | setting | value | change vs reference
    attribution.verdict(rows, target=119.2, target_name="add-1").text

:func:`verdict` reads only the numbers: a cause *explains* the gap when its value alone reaches
the target, *partly explains* it when it closes at least ``min_share`` of the distance from its
reference to the target (and more than ``noise``), and otherwise the gap is *not explained*.
Nothing here knows what is being measured; lower is better unless ``lower_is_better=False``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd


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
