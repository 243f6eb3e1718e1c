"""The scorecard for a terminal: one line per question in a plain fixed-width table.

``idl-book scorecard`` prints :func:`summary_lines` (built from the public functions of
:mod:`idl_book.scorecard`), ``--full`` every recorded number, ``--json`` the rows as JSON.
Pages that are not current (stale, failed or interrupted re-runs, damaged) are marked in the
``page`` column, so a terminal reader sees what the book's banners say.
"""

from __future__ import annotations

import json

import pandas as pd

#: the terminal table's width limit
WIDTH = 120
#: (column, width); the last column takes what is left
COLUMNS = (("question", 9), ("verdict", 20), ("ours", 16), ("report", 34), ("page", 0))


def clip(text, width: int) -> str:
    text = " ".join(str(text).split())  # one line: newlines and runs of spaces become one space
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def page_marks(statuses) -> dict[str, str]:
    """``{notebook: "stale: …"}`` for the :class:`~idl_book.page_status.PageStatus` not current."""
    return {p.name: f"{p.state}: {p.detail}" for p in statuses if not p.ok}


def _ours(row: pd.Series, ours_columns: list[str]) -> str:
    """The most thorough profile's value that is there (columns are most thorough first)."""
    for c in ours_columns:
        v = row.get(c)
        if v is not None and not (isinstance(v, float) and pd.isna(v)) and str(v).strip() not in ("", "—", "-"):
            return f"{v} ({c[len('ours ('):-1]})" if len(ours_columns) > 1 else str(v)
    return "—"


#: the states of :mod:`idl_book.page_status` a page that is not current can be in
STATES = ("stale", "failed", "interrupted", "damaged", "missing")


def _mark(status) -> str:
    """`` [stale]`` (or ``[stale/failed]`` for a question answered on several pages) from the
    summary's ``page status`` cell (``"stale: …"`` or ``"page: stale: …; page2: failed: …"``)."""
    status = str(status or "")
    found = []
    for part in status.split("; "):
        words = [w.strip() for w in part.split(":")]
        hit = next((w for w in words[:2] if w in STATES), None)
        if hit and hit not in found:
            found.append(hit)
    return f" [{'/'.join(found)}]" if found else ""


def rows(summary: pd.DataFrame) -> list[dict]:
    """The summary's rows as plain dicts (what ``--json`` prints)."""
    out = []
    for rec in summary.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in rec.items()})
    return out


def summary_lines(summary: pd.DataFrame, width: int = WIDTH) -> list[str]:
    """One line per question: id, verdict, our number (most thorough profile), the report's
    headline and the page, marked ``[stale]``/``[failed]``/… when it is not current."""
    ours_columns = [c for c in summary.columns if str(c).startswith("ours (")]
    fixed = sum(w + 1 for _, w in COLUMNS[:-1])
    widths = [w for _, w in COLUMNS[:-1]] + [max(width - fixed, 10)]
    lines = [" ".join(clip(name, w).ljust(w) for (name, _), w in zip(COLUMNS, widths)).rstrip()]
    lines.append(" ".join("-" * w for w in widths))
    for _, row in summary.iterrows():
        mark = _mark(row.get("page status", ""))
        cells = [row.get("question", ""), row.get("verdict", ""), _ours(row, ours_columns),
                 row.get("report", ""), f"{row.get('page', '')}{mark}"]
        page_w = widths[-1]
        page = cells[-1] if len(cells[-1]) <= page_w else clip(str(row.get("page", "")), page_w - len(mark)) + mark
        lines.append(" ".join([*(clip(c, w).ljust(w) for c, w in zip(cells[:-1], widths[:-1])),
                               page]).rstrip())
    return [ln[:width] for ln in lines]


def counts_line(summary: pd.DataFrame) -> str:
    counts = summary["verdict"].value_counts()
    marked = summary.get("page status")
    bad = 0 if marked is None else int(sum(str(v) not in ("", "—", "-", "nan") for v in marked))
    return (f"{len(summary)} questions: " + ", ".join(f"{n} {v}" for v, n in counts.items())
            + (f"; {bad} rows from pages that are not current (`idl-book status`)" if bad else ""))


def as_json(summary: pd.DataFrame) -> str:
    return json.dumps(rows(summary), indent=1, default=str)
