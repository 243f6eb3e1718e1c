"""The reports' own numbers, keyed by question id and metric name.

Transcribed once from ``COURSEWORK.md`` into ``report_numbers.json`` beside this
file. A notebook that reproduces a number records it under the *same*
``(question, metric)`` pair (see :func:`metrics_for`), so the scorecard can put
the report's value and ours side by side without anyone typing numbers twice.

Metric names read ``"<measure> | <setting>"``, e.g. ``"test accuracy | gru act=tanh"``.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources

import pandas as pd


@lru_cache(maxsize=1)
def _entries() -> tuple[dict, ...]:
    text = resources.files("idl_helpers.core").joinpath("report_numbers.json").read_text()
    return tuple(json.loads(text)["entries"])


def table() -> pd.DataFrame:
    """All transcribed report numbers: question, metric, value, kind, source, note."""
    df = pd.DataFrame(list(_entries()))
    if "note" not in df:
        df["note"] = None
    return df


def metrics_for(question: str) -> list[str]:
    """The metric names the registry knows for one question (use these when recording)."""
    return [e["metric"] for e in _entries() if e["question"] == question]


def value(question: str, metric: str):
    """The report's value for ``(question, metric)``; ``KeyError`` if none was transcribed."""
    for e in _entries():
        if e["question"] == question and e["metric"] == metric:
            return e["value"]
    raise KeyError(f"no report number for ({question!r}, {metric!r}); known: {metrics_for(question)}")


def questions() -> list[str]:
    seen: dict[str, None] = {}
    for e in _entries():
        seen.setdefault(e["question"], None)
    return list(seen)


# ---------------------------------------------------------------------------------------------
# headlines: the one number (or verdict) of each question that the scorecard and the boxes show

#: the report's headline for a question that has several registry entries (others: its first entry)
HEADLINE = {
    "I.P1.a": "test accuracy | rnn act=relu",
    "I.P1.b": "test accuracy | gru act=tanh",
    "I.P2": "test accuracy | best mlp",
    "I.P3": "test accuracy",
    "I.P4": "test accuracy",
    "II.1d": "dev perplexity",
}

#: the page (notebook stem) that answers each question's headline, for every question whose headline
#: is a measurement (kind other than ``check``). That page must record the headline, and a
#: ``number`` headline as a finite number: :meth:`idl_helpers.core.results.Context.finish` fails it otherwise.
#: (Other pages may record the same question, e.g. 12_I_P1b_parameter_matched or the comparison page.)
ANSWERED_ON = {
    "I.P1.a": "10_I_P1a_rnn",
    "I.P1.b": "11_I_P1b_gru",
    "I.P2": "20_I_P2_tokenwise_mlp",
    "I.P3": "21_I_P3_weighted_sum",
    "I.P4": "22_I_P4_restricted_attention",
    "II.1d": "03_II_1d_4b_bigram_lm",
    "II.3b": "10_II_3_char_lm",
    "II.4b": "03_II_1d_4b_bigram_lm",
    "II.5a": "20_II_5ade_dan",
    "II.5b": "21_II_5bc_dan_sweeps",
    "II.5c": "21_II_5bc_dan_sweeps",
    "II.5d": "20_II_5ade_dan",
    "II.5e": "20_II_5ade_dan",
}


def headline(question: str) -> dict:
    """The registry entry shown for ``question``: :data:`HEADLINE`'s metric, else its first entry."""
    rows = [e for e in _entries() if e["question"] == question]
    if not rows:
        raise KeyError(f"no report entry for question {question!r}")
    if question in HEADLINE:
        hit = [e for e in rows if e["metric"] == HEADLINE[question]]
        if hit:
            return dict(hit[0])
    return dict(rows[0])


def headlines_of(notebook: str) -> list[str]:
    """The questions whose headline ``notebook`` (a page's stem) answers (:data:`ANSWERED_ON`)."""
    return [q for q, page in ANSWERED_ON.items() if page == notebook]


def _bad_number(value) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    try:
        return not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def headline_problems(notebook: str, records: list[dict]) -> list[str]:
    """What is wrong with the headlines a page answers, one sentence each (empty: nothing).

    For each question of :func:`headlines_of` the page's last record of the headline metric must
    exist; a ``number`` headline must be a finite number (not NaN/inf/None, not text such as
    ``"nan"`` or ``"diverged"``), any other kind a non-empty value."""
    out = []
    for q in headlines_of(notebook):
        head = headline(q)
        hit = [r for r in records if r.get("question") == q and r.get("metric") == head["metric"]]
        if not hit:
            out.append(f"{q}: the headline {head['metric']!r} was not recorded")
            continue
        v = hit[-1].get("value")
        if head["kind"] == "number" and _bad_number(v):
            out.append(f"{q}: the headline {head['metric']!r} was recorded as {v!r}, not a finite number")
        elif head["kind"] != "number" and (v is None or not str(v).strip()
                                           or str(v).strip().lower() in ("nan", "inf", "-inf", "none")):
            out.append(f"{q}: the headline {head['metric']!r} was recorded as {v!r}")
    return out


class HeadlineError(RuntimeError):
    """A page did not record a headline it answers, or recorded it as NaN/inf/None."""


# ---------------------------------------------------------------------------------------------
# every transcribed number against its own question's text in the sources

#: registry numbers that are not literally in their question's text, and why. Each is checked
#: another way in :func:`source_problems` (``"derived"``: recomputed from entries that are checked).
DERIVED = {
    ("I.P1.a", "test accuracy | rnn act=sigmoid"):
        "the course text gives only 'sigmoid ≈ tanh+5 points': recorded as tanh's .584 + 0.05",
}


def number_forms(v) -> set[str]:
    """How a registry number can be written in the course text: ``0.764`` → ``.764``/``0.764``;
    ``33793`` → ``33793`` (thousands separators are removed from the text before matching)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return set()
    forms = {f"{v:g}", repr(v)}
    if float(v).is_integer():
        forms.add(str(int(v)))
    forms |= {f.lstrip("0") for f in forms if f.startswith("0.")}
    return {f for f in forms if f}


def _occurs(form: str, text: str) -> bool:
    """``form`` as a whole number in ``text``: not part of a longer number (``.88`` is not in ``.885``)."""
    return re.search(r"(?<![\d.])" + re.escape(form) + r"(?!\d)", text) is not None


def coursework_sections(text: str) -> dict[str, str]:
    """``{question id: its own rows}`` of COURSEWORK.md's tables (a question with several rows,
    like I.P1.a, gets them all), thousands separators removed."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^\|\s*(I{1,2}\.[A-Za-z0-9.]+)\s*\|", line)
        if m:
            out.setdefault(m.group(1), []).append(line.replace(",", ""))
    return {q: "\n".join(rows) for q, rows in out.items()}


def raw_report_sections(raw_part1: str) -> dict[str, str]:
    """The parts of the first raw report (``seeds/000_…txt``) that hold numbers COURSEWORK.md
    abbreviates ("train 60 .9203 … 100 .9707"): the GRU hidden-size table, under I.P1.b."""
    end = raw_part1.find("RNN vs GRU")
    start = raw_part1.rfind("Analyzing the hidden-dimension", 0, max(end, 0))
    if start < 0 or end < 0:
        return {}
    return {"I.P1.b": raw_part1[start:end].replace(",", "")}


def _raw_table_value(section: str, row: str, column: str) -> str | None:
    """The cell of a tab-separated table in the raw report: the ``row`` line ("Train") under the
    header line whose cells include ``column`` ("80")."""
    lines = section.splitlines()
    for i, line in enumerate(lines):
        header = line.split("\t")
        if column in [h.strip() for h in header]:
            col = [h.strip() for h in header].index(column)
            for nxt in lines[i + 1:i + 3]:
                if nxt.startswith(row):
                    cells = re.findall(r"\d*\.\d+|\d+", nxt)
                    if len(cells) == len(header) - 1 and col >= 1:
                        return cells[col - 1]
            return None
    return None


#: where an accuracy / F1 / ROC AUC stands in a "tanh .584/.676/.5841" triple of the course text
_TRIPLE_INDEX = {"test accuracy": 0, "test F1": 1, "test ROC AUC": 2}
#: how the course text labels a measure where it names it ("train .8533, test .844, F1 .8465, AUC .908")
_LABEL = {"train accuracy": "train", "test accuracy": "test", "test F1": "F1", "test ROC AUC": "AUC"}


def _own_place(section: str, metric: str) -> str | None:
    """The part of a question's rows that gives ``metric``'s setting, when the rows list settings as
    ``"· <setting> <numbers>"`` (``act=relu`` → the ``ReLU …`` part, ``hidden=60`` → the ``60 …``
    part); for a ``measure | act=…`` metric, just its number of the accuracy/F1/AUC triple (a
    ``re-run`` setting: the second triple). ``None`` when the rows do not list the setting so."""
    measure, _, setting = metric.partition(" | ")
    labelled = re.findall(rf"\b{_LABEL.get(measure, '^$')} (\.\d+)", section)
    if len(labelled) == 1:  # "best: train .8533, test .844, F1 .8465, AUC .908"
        return labelled[0]
    if measure not in _TRIPLE_INDEX:
        return None

    def pick(seg: str) -> str:
        triples = re.findall(r"(\.\d+)/(\.\d+)/(\.\d+)", seg)
        if not triples:
            return seg
        which = 1 if "re-run" in setting else 0
        return triples[which][_TRIPLE_INDEX[measure]] if which < len(triples) else ""

    if not setting:  # a question with one setting: its one triple (I.P3 ".87/.8752/.9368")
        cells = section.split("|")
        triples = re.findall(r"(\.\d+)/(\.\d+)/(\.\d+)", section)
        return pick(cells[-2] if len(cells) > 2 else section) if len(triples) == 1 else None
    m = re.search(r"(?:act|hidden)=(\w+)", setting)
    if not m:
        return None
    token = m.group(1)
    for seg in re.split(r"[·|;]", section):
        if re.match(rf"\s*(?:test\s+)?(?:[A-Za-z]+-)?{re.escape(token)}(?![\w-])", seg, flags=re.I):
            return pick(seg)
    return None


def source_problems(coursework: str, raw_part1: str | None = None, entries=None) -> list[str]:
    """Every registry number that does not appear in its own question's text, one sentence each.

    A number is looked up in its question's rows of COURSEWORK.md (so a number copied from another
    question is caught even though it is in the course text); where COURSEWORK.md abbreviates (the
    GRU train accuracies by hidden size), in the raw report's table, at its row and column; the
    :data:`DERIVED` entries are recomputed from their stated rule."""
    entries = list(entries if entries is not None else _entries())
    sections = coursework_sections(coursework)
    raw = raw_report_sections(raw_part1) if raw_part1 else {}
    by_key = {(e["question"], e["metric"]): e["value"] for e in entries}
    out = []
    for e in entries:
        if e["kind"] != "number":
            continue
        q, metric, v = e["question"], e["metric"], e["value"]
        key = (q, metric)
        if key == ("I.P1.a", "test accuracy | rnn act=sigmoid"):
            tanh = by_key.get(("I.P1.a", "test accuracy | rnn act=tanh"))
            ok = tanh is not None and abs(v - (tanh + 0.05)) < 1e-9 and "tanh+5 points" in sections.get(q, "")
            if not ok:
                out.append(f"{q} {metric!r} = {v!r}: not the course text's 'tanh+5 points' ({tanh!r} + 0.05)")
            continue
        forms = number_forms(v)
        m = re.match(r"^train accuracy \| gru hidden=(\d+)$", metric)
        if m and q in raw:  # at its own row and column of the raw report's table
            cell = _raw_table_value(raw[q], "Train", m.group(1))
            if cell is None or cell.lstrip("0") not in {f.lstrip("0") for f in forms}:
                out.append(f"{q} {metric!r} = {v!r}: the raw report's GRU table says {cell!r}")
            continue
        place = _own_place(sections.get(q, ""), metric)
        if place is not None:  # the setting's own part of the row ("ReLU .816/.8175/.8908")
            if not any(_occurs(f, place) for f in forms):
                out.append(f"{q} {metric!r} = {v!r}: not where the course text gives it ({place.strip()!r})")
            continue
        if any(_occurs(f, sections.get(q, "")) for f in forms):
            continue
        elsewhere = [k for k, s in sections.items() if k != q and any(_occurs(f, s) for f in forms)]
        out.append(f"{q} {metric!r} = {v!r}: not in {q}'s own text"
                   + (f" (it is in {', '.join(elsewhere)}'s)" if elsewhere else ""))
    return out
