"""Our recorded numbers beside the report's: the scorecard tables.

Everything here reads the results JSON files and the transcribed registry
(:mod:`idl_helpers.core.reports`); nothing is typed in.

* :func:`summary` — one row per question: the report's headline, ours under each profile,
  a verdict ("matches within noise", "below", "above", "verified", …) and a link to the page;
* :func:`scorecard` — every recorded number (and every report number nobody reproduced yet);
* :func:`compare` — one notebook's records beside the report's (what each page ends with);
* :func:`timings` — how long each notebook took, per profile, from the runner's logs.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd

import numpy as np

from idl_helpers.core import environment, reports, results, tables
from idl_helpers.analysis import stats
# the comparison table and its formatting live with the pages (core/results.py uses them without the
# scorecard); _number is its one number parser (to become public at results.py's next change, which
# stales every page: the core merge already staled them for other reasons and did not rename it)
from idl_helpers.core.results import _number, compare, fmt_ours, fmt_report, show_compare
from idl_helpers.core.environment import PROFILES

#: the report's headline number for a question that has several (others: its first registry entry)
HEADLINE = reports.HEADLINE
#: the report measured its IMDB accuracies on this many test reviews (its confusion matrices sum to 500)
REPORT_TEST_REVIEWS = 500
#: numbers without a noise model match when they agree to this relative tolerance
RELATIVE_TOLERANCE = 0.005
#: verdict → CSS (green: agrees, amber: differs, red: wrong, grey: nothing to compare)
VERDICT_STYLE = {
    "matches within noise": "color: #1a7f37; font-weight: bold",
    "matches": "color: #1a7f37; font-weight: bold",
    "verified": "color: #1a7f37; font-weight: bold",
    "holds": "color: #1a7f37; font-weight: bold",
    "shown": "color: #0969da",
    "below": "color: #bc4c00; font-weight: bold",
    "above": "color: #bc4c00; font-weight: bold",
    "does not hold": "color: #bc4c00; font-weight: bold",
    "holds in part": "color: #9a6700; font-weight: bold",
    "inconclusive": "color: #8c959f",
    "not tested": "color: #8c959f",
    "FAILED": "color: #cf222e; font-weight: bold",
    "not run": "color: #8c959f",
}
#: the words a claim or trend is recorded with (:mod:`idl_helpers.analysis.attribution`); the scorecard and the
#: answer boxes print the recorded word itself, so a page, its box and the scorecard never disagree
CLAIM_WORDS = ("holds in part", "holds", "does not hold", "inconclusive", "not tested")
_ACCURACY_LIKE = re.compile(r"^(test|train) (accuracy|F1|ROC AUC)\b")


def page_href(notebook: str) -> str:
    """The built page of a notebook, relative to the scorecard page (``book/scorecard.html``)."""
    m = re.match(r"^\d+_(I{1,2})_", notebook)
    part = {"I": "part1", "II": "part2"}.get(m.group(1)) if m else None
    return f"{part}/{notebook}.html" if part else f"{notebook}.html"




def _most_thorough(present) -> str | None:
    present = set(present)
    return next((p for p in reversed(PROFILES) if p in present), None)


def scorecard(profile: str | None = None, root: Path | None = None) -> pd.DataFrame:
    """One row per recorded number of ``profile`` (or of the most thorough profile present),
    plus one row per report number nobody has reproduced yet (``ours`` = "not run")."""
    df = results.load(root=root)
    if profile is None and not df.empty:
        profile = _most_thorough(df["profile"])
    if profile is not None:
        df = df[df["profile"] == profile]
    table = compare(df)
    reg = reports.table()
    done = set(zip(table["question"], table["metric"]))
    done_questions = set(table["question"])
    missing = reg[[(q, m) not in done and not (k != "number" and q in done_questions)
                   for q, m, k in zip(reg["question"], reg["metric"], reg["kind"])]]
    todo = pd.DataFrame({"question": missing["question"], "metric": missing["metric"],
                         "report": [fmt_report(v) for v in missing["value"]], "ours": "not run",
                         "difference": tables.MISSING, "data": tables.MISSING,
                         "profile": profile or tables.MISSING, "device": tables.MISSING})
    full = pd.concat([table, todo], ignore_index=True)
    order = {q: i for i, q in enumerate(reports.questions())}
    full["_o"] = full["question"].map(lambda q: order.get(q, len(order)))
    return full.sort_values(["_o", "question"], kind="stable").drop(columns="_o").reset_index(drop=True)


def part_of(question: str) -> str:
    return "II" if question.startswith("II.") else "I"


def every_number(profile: str | None = None, root: Path | None = None, *, open: bool = False) -> tables.HTMLBlock:
    """:func:`scorecard`, one folded table per part of the book."""
    card = scorecard(profile, root)
    colour = lambda v: VERDICT_STYLE.get(v, "")  # noqa: E731
    blocks = []
    for part, title in (("I", "Part I · Introduction to Deep Learning, Exercise 2"), ("II", "Part II · NLP Assignment 2")):
        rows = card[[part_of(q) == part for q in card["question"]]].reset_index(drop=True)
        done = int((rows["ours"] != "not run").sum())
        t = tables.show(rows, colours={"ours": colour})
        blocks.append(tables.details(f"{title}: every number ({len(rows)} rows, {done} with a result of ours)", t,
                                     open=open).html)
    return tables.HTMLBlock("\n".join(blocks), text=f"every number, profile {profile}")


# ---------------------------------------------------------------------------------------------
# one row per question


def noise_half_width(question: str, metric: str, report_value) -> float | None:
    """Half-width (95%) of the chance spread of the report's number, where we have a model of it:
    an accuracy-like number measured on the report's 500 test reviews (binomial,
    :func:`stats.binomial_half_width`)."""
    p = _number(report_value)
    if p is None or not 0 < p < 1 or not _ACCURACY_LIKE.match(metric) or not question.startswith("I.P"):
        return None
    return stats.binomial_half_width(p, REPORT_TEST_REVIEWS)


def _band(question: str, metric: str, report_value, per_seed=None) -> tuple[float | None, list | None]:
    """``(half-width, healthy seeds)``: the band of :func:`verdict_band` and, where per-seed numbers
    decide the verdict, the healthy seeds it is centred on (else ``None``)."""
    hw = noise_half_width(question, metric, report_value)
    if hw is None or per_seed is None:
        return hw, None
    healthy = stats.split_collapsed(per_seed).healthy
    band = stats.report_band(healthy, report_p=_number(report_value))
    return (band.half if band.ok else None), healthy


def verdict_band(question: str, metric: str, report_value, per_seed=None) -> float | None:
    """The 95% half-width :func:`number_verdict` judges with: the prediction band of our healthy seeds
    combined with the report's 500-review chance spread (:func:`stats.report_band`) when there are
    per-seed numbers, else that chance spread alone; ``None`` where there is no noise model or fewer
    than two healthy seeds. The scorecard prints it after the report's number, so "±" there always
    means the band the verdict used."""
    return _band(question, metric, report_value, per_seed)[0]


def number_verdict(question: str, metric: str, ours, report_value, per_seed=None) -> str:
    """Our number against the report's. With our per-seed numbers (``per_seed``) and a report
    accuracy on 500 reviews: the book's one rule, :func:`stats.report_band` over the healthy seeds
    (collapsed runs left out) — the same band the page's gap verdict uses; fewer than two healthy
    seeds → ``"inconclusive"``. Without per-seed numbers: the report's binomial band alone, or a
    relative tolerance for numbers without a noise model."""
    a, b = _number(ours), _number(report_value)
    if a is None:
        return "not run" if tables._is_missing(ours) else "shown"
    if b is None:
        return "shown"
    hw, healthy = _band(question, metric, report_value, per_seed)   # the one band rule, also printed as "±"
    if healthy is not None:
        if hw is None:                                                # fewer than two healthy seeds
            return "inconclusive"
        a = float(np.mean(healthy))
    tol = hw if hw is not None else RELATIVE_TOLERANCE * abs(b)
    if abs(a - b) <= tol:
        return "matches within noise" if hw is not None else "matches"
    return "below" if a < b else "above"


def _trend_verdict(text) -> str:
    """The verdict word a claim or trend was recorded with (``"holds: …"`` → ``"holds"``), unchanged;
    a text that starts with no verdict word is ``"shown"``."""
    s = str(text).strip().lower()
    return next((w for w in CLAIM_WORDS if s.startswith(w)), "shown")


def _per_seed(record) -> list | None:
    extra = record.get("extra") if hasattr(record, "get") else None
    seeds = extra.get("per_seed") if isinstance(extra, dict) else None
    return list(seeds) if isinstance(seeds, (list, tuple)) else None


def _headline(question: str, reg: pd.DataFrame) -> pd.Series:
    rows = reg[reg["question"] == question]
    if question in HEADLINE:
        hit = rows[rows["metric"] == HEADLINE[question]]
        if len(hit):
            return hit.iloc[0]
    return rows.iloc[0]


def summary(root: Path | None = None, *, page_status: dict[str, str] | None = None,
            profiles: list[str] | None = None) -> pd.DataFrame:
    """One row per question id: the report's headline, ours under each profile, a verdict, the page.

    ``profiles``: the "ours" columns (default: ``full`` and ``quick`` always, ``smoke`` when it
    has results). The verdict uses the most thorough profile that has the number.
    ``page_status`` (notebook stem → e.g. "stale", "last re-run failed at …") adds a column.
    ``page``: the notebooks that recorded the question (the first one answers it).
    """
    df = results.load(root=root)
    present = set(df["profile"]) if len(df) else set()
    if profiles is None:
        profiles = [p for p in reversed(PROFILES) if p in ("full", "quick") or p in present]
    reg = reports.table()
    rows = []
    for q in reports.questions():
        head = _headline(q, reg)
        mine = df[df["question"] == q] if len(df) else df
        kind, metric = head["kind"], head["metric"]
        row = {"question": q, "measure": "claim" if kind == "check" else metric,
               "report": f"a {head['value']}" if kind == "figure" else fmt_report(head["value"])}
        verdict_by_profile, band_by_profile = {}, {}
        pages: list[str] = []
        for p in profiles:
            here = mine[mine["profile"] == p] if len(mine) else mine
            if kind == "check":
                checks = here[[isinstance(v, str) and v in ("passed", "FAILED") for v in here["value"]]] if len(here) else here
                if len(checks):
                    n_fail = int((checks["value"] == "FAILED").sum())
                    row[f"ours ({p})"] = (f"{len(checks)} checks passed" if len(checks) > 1 else "passed") \
                        if n_fail == 0 else f"{n_fail} of {len(checks)} FAILED"
                    verdict_by_profile[p] = "verified" if n_fail == 0 else "FAILED"
                    pages += list(checks["notebook"])
                else:
                    row[f"ours ({p})"] = tables.MISSING
            else:
                hit = here[here["metric"] == metric] if len(here) else here
                if len(hit):
                    v = hit.iloc[-1]["value"]
                    row[f"ours ({p})"] = fmt_ours(v)
                    verdict_by_profile[p] = (number_verdict(q, metric, v, head["value"], _per_seed(hit.iloc[-1]))
                                             if kind == "number"
                                             else _trend_verdict(v) if kind == "trend" else "shown")
                    if kind == "number":
                        band_by_profile[p] = verdict_band(q, metric, head["value"], _per_seed(hit.iloc[-1]))
                    pages += list(hit["notebook"])
                else:
                    row[f"ours ({p})"] = tables.MISSING
            if len(here):
                pages += list(here["notebook"])
        best = _most_thorough(verdict_by_profile)
        row["verdict"] = verdict_by_profile[best] if best else "not run"
        # "±": the band the shown verdict used (seeds and the report's chance spread), else the chance spread
        hw = band_by_profile.get(best) if best in band_by_profile else (
            noise_half_width(q, metric, head["value"]) if kind == "number" else None)
        if hw is not None:
            row["report"] += f" ± {hw:.3f}"
        pages = list(dict.fromkeys(pages))  # first seen first, each once
        row["page"] = ", ".join(pages) or tables.MISSING
        if page_status is not None:
            row["page status"] = "; ".join(f"{n}: {page_status[n]}" if len(pages) > 1 else page_status[n]
                                           for n in pages if n in page_status) or tables.MISSING
        rows.append(row)
    return pd.DataFrame(rows)


def _question_cell(question: str, pages: str) -> str:
    """The question id linking to its page; further pages as small numbered links."""
    stems = [p for p in pages.split(", ") if p and p != tables.MISSING]
    if not stems:
        return html.escape(question)
    first = f'<a href="{html.escape(page_href(stems[0]))}">{html.escape(question)}</a>'
    more = " ".join(f'<a href="{html.escape(page_href(n))}" title="{html.escape(n)}">+{html.escape(n[:2])}</a>'
                    for n in stems[1:])
    return first + (f" <small>{more}</small>" if more else "")


def summary_table(root: Path | None = None, *, page_status: dict[str, str] | None = None,
                  profiles: list[str] | None = None) -> tables.Table:
    """:func:`summary` as a coloured table; each question id links to the page that answers it."""
    df = summary(root, page_status=page_status, profiles=profiles)
    df["question"] = [_question_cell(q, p) for q, p in zip(df["question"], df["page"])]
    df = df.drop(columns="page")
    colour = lambda v: VERDICT_STYLE.get(v, "")  # noqa: E731
    note = ("± after a report's accuracy: the 95% band its verdict used — our seeds' prediction band (t) "
            "combined with the chance spread of the report's 500-review test set (binomial); that chance "
            "spread alone where we have no per-seed numbers. "
            "Each question links to its page; +NN: a further page.")
    return tables.show(df, colours={"verdict": colour}, html_columns=("question",), note=note)


def timings(root: Path | None = None) -> pd.DataFrame:
    """Wall time (s) of each notebook under each profile, from ``runs-<profile>.json``; "—" where a
    notebook was not run under a profile."""
    root = Path(root) if root else environment.results_dir()
    rows = []
    for p in PROFILES:
        log_file = root / f"runs-{p}.json"
        if not log_file.exists():
            continue
        log = json.loads(log_file.read_text())
        for nb in log.get("notebooks", []):
            attempt = nb.get("last_attempt")  # a re-run that did not finish: the page shows an older run
            status = f"{nb.get('status')}; last re-run {attempt['status']} at {attempt['at']}" if attempt \
                else nb.get("status")
            rows.append({"notebook": nb["name"], "profile": p, "wall time (s)": nb.get("wall_time_s"),
                         "status": status, "finished (UTC)": nb.get("finished_utc")})
    if not rows:
        return pd.DataFrame(columns=["notebook"])
    t = pd.DataFrame(rows)
    order = [p for p in PROFILES if p in set(t["profile"])]
    wide = pd.DataFrame({"notebook": list(dict.fromkeys(t["notebook"]))})
    for p in order:
        sub = t[t["profile"] == p].set_index("notebook")
        wide[f"{p}: wall time (s)"] = [round(float(sub.loc[n, "wall time (s)"]), 1)
                                       if n in sub.index and _number(sub.loc[n, "wall time (s)"]) is not None
                                       else None for n in wide["notebook"]]
        wide[f"{p}: status"] = [sub.loc[n, "status"] if n in sub.index else None for n in wide["notebook"]]
    last = t.groupby("notebook")["finished (UTC)"].max()
    wide["last run (UTC)"] = [last.get(n) for n in wide["notebook"]]
    total = {"notebook": "all notebooks (sum)"}
    for p in order:
        col = wide[f"{p}: wall time (s)"]
        total[f"{p}: wall time (s)"] = round(float(col.dropna().sum()), 1)
        total[f"{p}: status"] = f"{int(col.notna().sum())} run"
    return pd.concat([wide, pd.DataFrame([total])], ignore_index=True)


__all__ = ["HEADLINE", "VERDICT_STYLE", "compare", "every_number", "noise_half_width", "number_verdict", "verdict_band",
           "page_href", "scorecard", "show_compare", "summary", "summary_table", "timings"]
