"""One page's records beside the report's numbers: the table every page ends with.

It lives in the course package (the book's scorecard, :mod:`idl_book.scorecard`, imports it, never
the other way round) and depends only on the registry (:mod:`idl_helpers.core.reports`) and
:mod:`idl_helpers.core.tables`, so editing the scorecard does not make every page stale.
"""

from __future__ import annotations

import math

import pandas as pd

from idl_helpers.core import reports, tables

#: colours of the "ours" column: a failed check in red, a number nobody ran in grey (the
#: scorecard's :data:`idl_book.scorecard.VERDICT_STYLE` for the same words)
OURS_STYLE = {
    "FAILED": "color: #cf222e; font-weight: bold",
    "not run": "color: #8c959f",
}


def fmt_ours(v) -> str:
    """One of our values as the tables show it (checks: "passed"/"FAILED")."""
    if isinstance(v, bool):
        return "passed" if v else "FAILED"
    return tables.fmt(v)


def fmt_report(v) -> str:
    """A report's number as transcribed (all its digits), or its claim."""
    if tables._is_missing(v):
        return tables.MISSING
    if isinstance(v, bool):
        return "passed" if v else "FAILED"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1000 and v.is_integer() else f"{v:g}"
    return str(v)


def _number(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def difference(ours, theirs):
    """ours − report, when both are numbers (else None, shown as "—")."""
    a, b = _number(ours), _number(theirs)
    return None if a is None or b is None else a - b


def compare(records: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Records (ours) joined with the report's numbers on ``(question, metric)``, as text. The
    report column comes from the registry only, never from a record."""
    ours = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    cols = ["question", "metric", "report", "ours", "difference", "data", "profile", "device"]
    if ours.empty:
        return pd.DataFrame(columns=cols)
    reg = reports.table()[["question", "metric", "value"]].rename(columns={"value": "report"})
    df = ours.drop(columns=[c for c in ("report",) if c in ours]).merge(reg, on=["question", "metric"], how="left")
    diffs = [difference(o, r) for o, r in zip(df["value"], df["report"])]
    data = df["data_variant"] if "data_variant" in df else [None] * len(df)
    out = pd.DataFrame({
        "question": df["question"], "metric": df["metric"],
        "report": [fmt_report(v) for v in df["report"]], "ours": [fmt_ours(v) for v in df["value"]],
        "difference": tables.format_column(diffs, "difference"),
        "data": [tables.fmt(v) for v in data], "profile": [tables.fmt(v) for v in df["profile"]],
        "device": [tables.fmt(v) for v in df["device"]],
    }, columns=cols)
    return out.reset_index(drop=True)


def show_compare(records: list[dict] | pd.DataFrame, caption: str = "") -> tables.Table:
    """:func:`compare` as a readable table: run context stated once, failed checks coloured."""
    card = compare(records)
    colour = lambda v: OURS_STYLE.get(v, "")  # noqa: E731
    return tables.show(card, caption=caption, context=("question", *tables.CONTEXT_COLUMNS),
                       colours={"ours": colour})
