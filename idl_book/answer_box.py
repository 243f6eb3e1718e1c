"""A Sphinx extension: every question page opens with its answer.

Under the page title it puts a one-line verdict and a compact table — question, the report's
headline, ours (with the 95% interval of our seed mean where several seeds were run), the difference (ours − report) and the
verdict — for each question the page answers. Every cell comes from the results files the
notebook wrote when it was executed and from the registry of the reports' numbers, through
:func:`idl_book.scorecard.summary` (the scorecard's own per-question verdicts), so the box
can never disagree with the scorecard, and nothing in it is typed in. Where the page also
recorded a gap attribution (``attribution verdict | …``), its verdict is shown under the
table. The box is computed when the book is built, so editing it never makes a page stale.

A book built without its results (a copy of ``book/`` alone) gets no boxes.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from .sphinx_status import rewrite_book_pages

#: the summary columns with our value, most thorough profile first
_OURS = ("full", "quick", "smoke")


def _spread(records: pd.DataFrame, question: str, metric: str, profile: str) -> str:
    """" (95% interval ±h, n seeds)" of our seed mean (t over the healthy seeds, :mod:`idl_helpers.analysis.stats`;
    collapsed runs counted apart) when the notebook recorded its per-seed numbers."""
    from idl_helpers.analysis import stats

    hit = records[(records["question"] == question) & (records["metric"] == metric)
                  & (records["profile"] == profile)]
    if hit.empty:
        return ""
    extra = hit.iloc[-1]["extra"]
    if not isinstance(extra, dict) or not isinstance(extra.get("per_seed"), (list, tuple)):
        return ""
    split = stats.split_collapsed(extra["per_seed"])
    iv = stats.mean_interval(split.healthy)
    col = f", {len(split.collapsed)} collapsed run(s) left out" if split.collapsed else ""
    if not iv.ok:
        if split.healthy:
            return f" (one healthy seed: no interval{col})"
        return f" (all {len(split.collapsed)} runs collapsed)" if split.collapsed else ""
    return f" (95% interval ±{iv.half:.3f}, {iv.n} seeds{col})"


def _number(text) -> float | None:
    try:
        return float(str(text).split(" ")[0].replace(",", ""))
    except ValueError:
        return None


def rows_by_page(root: Path) -> dict[str, list[dict]]:
    """``{notebook stem: [answer row, …]}`` for the questions whose answer is on that page."""
    from idl_helpers.core import results
    from . import scorecard

    card = scorecard.summary(Path(root) / "book" / "results")
    records = results.load(root=Path(root) / "book" / "results")
    out: dict[str, list[dict]] = {}
    WHY.clear()
    for _, r in card.iterrows():
        pages = [p for p in str(r["page"]).split(", ") if p and p != "—"]
        if not pages:
            continue
        profile = next((p for p in _OURS if f"ours ({p})" in r and r[f"ours ({p})"] not in ("—", None)), None)
        ours = r[f"ours ({profile})"] if profile else "—"
        metric = r["measure"]
        row = {"question": r["question"], "measure": metric, "report": r["report"], "ours": ours,
               "profile": profile or "—", "verdict": r["verdict"], "difference": "—"}
        if profile and metric != "claim" and len(records):
            row["ours"] = f"{ours}{_spread(records, r['question'], metric, profile)}"
            a, b = _number(ours), _number(r["report"])
            if a is not None and b is not None:
                row["difference"] = f"{a - b:+.3g}"
        out.setdefault(pages[0], []).append(row)
    if len(records):
        for stem, mine in records.groupby("notebook", sort=False):
            profile = next((p for p in _OURS if p in set(mine["profile"])), None)
            mine = mine[mine["profile"] == profile]
            metric = mine["metric"].astype(str)
            for _, c in mine[metric.str.startswith("claim: ")].iterrows():
                v, e = str(c["value"]), c["extra"] if isinstance(c["extra"], dict) else {}
                ours = "—"
                try:
                    est = float(e["estimate"] if "estimate" in e else e["slope"])  # a trend records its slope
                    lo, hi = float(e["low"]), float(e["high"])
                    if all(x == x for x in (est, lo, hi)):
                        ours = f"{est:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                except (KeyError, TypeError, ValueError):
                    pass
                out.setdefault(stem, []).append({
                    "question": c["question"], "measure": c["metric"][len("claim: "):], "report": "claim",
                    "ours": ours, "profile": profile, "verdict": claim_word(v),
                    "difference": "—"})
            for _, w in mine[metric.str.startswith("attribution verdict")].iterrows():
                e = w["extra"]
                text = e.get("text") if isinstance(e, dict) and e.get("text") else str(w["value"])
                label = w["metric"].split("|", 1)[1].strip() if "|" in w["metric"] else w["question"]
                WHY.setdefault(stem, []).append((f"{w['question']}, {label}", text))
        _ladder_whys(records, out)
    return out


#: the page that walks each IMDB gap to the course's own data pipeline (issue 20)
LADDER_PAGE = "24_I_course_pipeline_ladder"


def _ladder_whys(records: pd.DataFrame, out: dict[str, list[dict]]) -> None:
    """The course-pipeline ladder's verdict for each question, under the page that answers it: the
    ladder page records ``ladder: verdict`` per question; the box of the question's own page says
    what it found (with the profile it was run under and a link), so a reader of I.P2 learns there
    how much of the gap the course's loader explains."""
    mine = records[(records["notebook"] == LADDER_PAGE) & (records["metric"] == "ladder: verdict")]
    if mine.empty:
        return
    profile = next((p for p in _OURS if p in set(mine["profile"])), None)
    home: dict[str, str] = {}  # the question's headline page: the first with a number (not a claim) for it
    for stem, rows in out.items():
        for r in rows:
            if stem != LADDER_PAGE and r["report"] != "claim":
                home.setdefault(r["question"], stem)
    for _, v in mine[mine["profile"] == profile].iterrows():
        stem = home.get(v["question"])
        if stem is None:
            continue
        e = v["extra"] if isinstance(v["extra"], dict) else {}
        text = str(e.get("text") or v["value"])
        WHY.setdefault(stem, []).append(
            (f"{v['question']}, the course's own data pipeline ({profile} run)", text, f"{LADDER_PAGE}.html"))


#: a claim's verdict as recorded → the word the box shows: the recorded word itself (one vocabulary:
#: the page, the box and the scorecard print the same word)
CLAIM_VERDICT = {w: w for w in ("holds", "does not hold", "inconclusive", "holds in part")}
def claim_word(recorded) -> str:
    """The verdict word of a recorded claim (``"holds: …"`` → ``"holds"``), as the scorecard reads it."""
    from .scorecard import _trend_verdict

    return _trend_verdict(recorded)


#: {notebook stem: [(what, attribution verdict text[, link]), …]}, filled by :func:`rows_by_page`
WHY: dict[str, list[tuple]] = {}


def one_line(rows: list[dict]) -> str:
    """The page's verdict in one sentence, counted from its rows."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    parts = [f"{n} {v}" for v, n in counts.items()]
    if len(rows) == 1:
        r = rows[0]
        if r["measure"] == "claim":
            return f"{r['question']}: {r['verdict']} — {r['ours']}."
        return (f"{r['question']}: ours {r['ours']} against the report's {r['report']} — "
                f"<b>{html.escape(r['verdict'])}</b>.")
    qs = list(dict.fromkeys(r["question"] for r in rows))
    return (f"{', '.join(qs)}: of the report's {len(rows)} headline numbers and claims answered on this page, "
            + ", ".join(parts) + ".")


def box(rows: list[dict], whys: list[tuple] = ()) -> str:
    """The HTML of the answer box; ``whys``: the page's gap attributions, ``(what, verdict)`` or
    ``(what, verdict, link)``."""
    from .scorecard import VERDICT_STYLE

    cols = ["question", "measure", "report", "ours", "profile", "difference"]
    constant = {k: rows[0][k] for k in ("question", "profile") if len({r[k] for r in rows}) == 1}
    cols = [k for k in cols if k not in constant]
    head = "<tr>" + "".join(f"<th>{k}</th>" for k in cols) + "<th>verdict</th></tr>"
    body = []
    for r in rows:
        style = VERDICT_STYLE.get(r["verdict"], "color: #8c959f" if r["verdict"] == "inconclusive" else "")
        body.append("<tr>" + "".join(f"<td>{html.escape(str(r[k]))}</td>" for k in cols)
                    + f'<td style="{style}">{html.escape(str(r["verdict"]))}</td></tr>')
    shown = constant.get("profile")
    context = (f"From the <code>{html.escape(shown)}</code> run"
               + ("" if shown in ("full", None) else
                  " (the reports' own settings, <code>full</code>, have not been run for this page yet)")
               + ". " if shown else "")
    whys = "".join(f"<p><b>Why ours differs ({html.escape(w[0])}):</b> {html.escape(w[1])}"
                   + (f' (<a href="{html.escape(w[2])}">the ladder, rung by rung</a>)' if len(w) > 2 else "")
                   + "</p>" for w in whys)
    line = one_line(rows)
    if "<b>" not in line:
        line = html.escape(line)
    return ('<div class="admonition tip idl-answer"><p class="admonition-title">The answer, from the '
            'recorded runs</p>'
            f"<p>{line}</p>"
            f'<div class="table-wrapper"><table class="table" style="font-size: 0.9em"><thead>{head}</thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{whys}"
            f'<p><small>{context}Read from this page\'s results files and the reports\' registry when the book was '
            'built (the verdicts are the <a href="../scorecard.html">scorecard</a>\'s); '
            "every ± is a 95% interval (ours: t over seeds; the report's: the chance band of its 500 reviews); "
            "a claim's <i>ours</i> is the measured effect with its 95% interval; <i>difference</i> is ours − "
            "report; the details follow below.</small></p></div>\n")


_H1_END = re.compile(r"</h1>", re.IGNORECASE)


def insert_after_title(body: str, html_box: str) -> str:
    m = _H1_END.search(body)
    return body[: m.end()] + "\n" + html_box + body[m.end():] if m else html_box + body


def _builder_inited(app) -> None:
    root = Path(app.srcdir)
    try:
        app.env.idl_answers = rows_by_page(root) if (root / "book" / "results").is_dir() else {}
        app.env.idl_answer_whys = dict(WHY)
    except Exception as e:  # a damaged results file: the scorecard page says which; no box here
        from sphinx.util import logging

        logging.getLogger(__name__).warning(f"answer boxes left out: {e}")
        app.env.idl_answers, app.env.idl_answer_whys = {}, {}


def _page_context(app, pagename, templatename, context, doctree) -> None:
    stem = pagename.rsplit("/", 1)[-1]
    rows = getattr(app.env, "idl_answers", {}).get(stem)
    if rows and "body" in context and pagename.startswith("book/part"):
        whys = getattr(app.env, "idl_answer_whys", {}).get(stem, [])
        context["body"] = insert_after_title(context["body"], box(rows, whys))


def setup(app):
    app.connect("builder-inited", _builder_inited)
    app.connect("env-get-outdated", rewrite_book_pages)
    app.connect("html-page-context", _page_context)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
