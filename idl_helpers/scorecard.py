"""Our recorded numbers beside the report's: the scorecard table.

Everything here reads the results JSON files and the transcribed registry
(:mod:`idl_helpers.reports`); nothing is typed in.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import reports, results
from .profiles import PROFILES


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "—"
    if isinstance(v, bool):
        return "passed" if v else "FAILED"
    if isinstance(v, float):
        if v != 0 and abs(v) < 1e-3:
            return f"{v:.2e}"  # gradient errors, vanishing norms: 1e-31 is not 0.0000
        return f"{v:,.4g}" if abs(v) >= 1 else f"{v:.4f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _diff(ours, theirs):
    """ours − report, when both are numbers (else None, shown as "—")."""
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return None
    try:
        d = float(ours) - float(theirs)
    except (TypeError, ValueError):
        return None
    return None if d != d else d  # NaN: one side has no number


def compare(records: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """Records (ours) joined with the report's numbers on ``(question, metric)``."""
    ours = records if isinstance(records, pd.DataFrame) else pd.DataFrame(records)
    if ours.empty:
        return pd.DataFrame(columns=["question", "metric", "report", "ours", "difference", "profile", "device"])
    reg = reports.table()[["question", "metric", "value"]].rename(columns={"value": "report"})
    df = ours.merge(reg, on=["question", "metric"], how="left")
    # formatted straight away: stored in a column, None would become NaN next to real differences
    diffs = [_diff(o, r) for o, r in zip(df["value"], df["report"])]
    out = pd.DataFrame({
        "question": df["question"], "metric": df["metric"],
        "report": [_fmt(v) for v in df["report"]], "ours": [_fmt(v) for v in df["value"]],
        "difference": [("—" if d is None else f"{d:+.4f}") for d in diffs],
        "data": df.get("data_variant"), "profile": df["profile"], "device": df["device"],
    })
    return out.reset_index(drop=True)


def scorecard(profile: str | None = None, root: Path | None = None) -> pd.DataFrame:
    """One row per recorded number of ``profile`` (or of the most thorough profile present),
    plus one row per report number nobody has reproduced yet (``ours`` = "not run")."""
    df = results.load(root=root)
    if profile is None and not df.empty:
        present = set(df["profile"])
        profile = next((p for p in reversed(PROFILES) if p in present), None)
    if profile is not None:
        df = df[df["profile"] == profile]
    table = compare(df)
    reg = reports.table()
    done = set(zip(table["question"], table["metric"]))
    done_questions = set(table["question"])
    missing = reg[[(q, m) not in done and not (k != "number" and q in done_questions)
                   for q, m, k in zip(reg["question"], reg["metric"], reg["kind"])]]
    todo = pd.DataFrame({"question": missing["question"], "metric": missing["metric"],
                         "report": [_fmt(v) for v in missing["value"]], "ours": "not run",
                         "difference": "—", "data": None, "profile": profile, "device": None})
    full = pd.concat([table, todo], ignore_index=True)
    order = {q: i for i, q in enumerate(reports.questions())}
    full["_o"] = full["question"].map(lambda q: order.get(q, len(order)))
    return full.sort_values(["_o", "question"], kind="stable").drop(columns="_o").reset_index(drop=True)
