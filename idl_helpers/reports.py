"""The reports' own numbers, keyed by question id and metric name.

Transcribed once from ``COURSEWORK.md`` into ``report_numbers.json`` beside this
file. A notebook that reproduces a number records it under the *same*
``(question, metric)`` pair (see :func:`metrics_for`), so the scorecard can put
the report's value and ours side by side without anyone typing numbers twice.

Metric names read ``"<measure> | <setting>"``, e.g. ``"test accuracy | gru act=tanh"``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import pandas as pd


@lru_cache(maxsize=1)
def _entries() -> tuple[dict, ...]:
    text = resources.files("idl_helpers").joinpath("report_numbers.json").read_text()
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
