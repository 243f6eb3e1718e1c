"""Every number of the report registry against its own question's text in the course material.

``test_registry_numbers_appear_in_the_sources`` (test_results.py, before) searched the whole of
COURSEWORK.md and the raw report: a report number replaced by another number of the course text
(e.g. I.P3's .87 replaced by I.P2's .844) passed. Here each number must stand in its *own*
question's rows of COURSEWORK.md — where the rows list settings ("ReLU .816/.8175/.8908"), in its
own setting's part and at its place in the accuracy/F1/AUC triple — and the GRU train accuracies
that COURSEWORK.md abbreviates ("train 60 .9203 … 100 .9707") at their row and column of the raw
report's table (:func:`idl_helpers.core.reports.source_problems`).
"""

from __future__ import annotations

import re

import pytest

from idl_helpers.core import environment, reports

SHARED = environment.REPO_ROOT.parent / "shared"
COURSEWORK = SHARED / "COURSEWORK.md"
RAW_PART1 = SHARED / "seeds" / "000_bdd68209f7329d04.txt"

#: entries that cannot be found literally in their question's text, and why (checked by their rule)
DERIVED = {
    ("I.P1.a", "test accuracy | rnn act=sigmoid"):
        "the course text says only 'sigmoid ≈ tanh+5 points'; the registry records tanh's .584 + 0.05",
}

pytestmark = pytest.mark.skipif(not (COURSEWORK.exists() and RAW_PART1.exists()),
                                reason="COURSEWORK.md / seeds/ not beside the repository")


@pytest.fixture(scope="module")
def sources():
    return COURSEWORK.read_text(), RAW_PART1.read_text()


def _entries():
    return [dict(e) for e in reports._entries()]


def _numbers(text: str) -> set[float]:
    return {float(x) for x in re.findall(r"(?<![\d.])(\d*\.\d+|\d{3,})(?![\d.])", text)}


def test_every_registry_number_is_in_its_own_questions_text(sources):
    assert reports.source_problems(*sources) == []


def test_the_derived_entries_are_listed_with_their_reason():
    assert set(reports.DERIVED) == set(DERIVED)
    sigmoid = reports.value(*next(iter(DERIVED)))
    assert sigmoid == pytest.approx(reports.value("I.P1.a", "test accuracy | rnn act=tanh") + 0.05)


def _replace(entries, key, value):
    out = [dict(e) for e in entries]
    hit = [e for e in out if (e["question"], e["metric"]) == key]
    assert len(hit) == 1, key
    hit[0]["value"] = value
    return out


def test_a_number_replaced_by_another_questions_number_is_caught(sources):
    """For every registry number: replace it by a number that stands in another question's rows of
    COURSEWORK.md but not in its own; the check names that entry."""
    coursework, raw = sources
    sections = reports.coursework_sections(coursework)
    entries = _entries()
    planted = 0
    for e in entries:
        if e["kind"] != "number":
            continue
        own = _numbers(sections.get(e["question"], ""))
        foreign = sorted(v for q, s in sections.items() if q != e["question"] for v in _numbers(s) - own
                         if (v < 1) == (e["value"] < 1))
        assert foreign, e
        bad = _replace(entries, (e["question"], e["metric"]), foreign[len(foreign) // 2])
        problems = reports.source_problems(coursework, raw, bad)
        assert problems and problems[0].startswith(f"{e['question']} {e['metric']!r}"), (e, problems)
        assert len(problems) == 1 or e["metric"] == "test accuracy | rnn act=tanh", problems  # sigmoid = tanh + .05
        planted += 1
    assert planted >= 60


@pytest.mark.parametrize("key, value", [
    (("I.P1.a", "test accuracy | rnn act=relu"), 0.764),           # none's accuracy, same question
    (("I.P1.a", "test F1 | rnn act=relu"), 0.8908),                # its own AUC, one place over
    (("I.P1.a", "test accuracy | rnn act=relu, re-run"), 0.816),   # the first run's, not the re-run's
    (("I.P1.a", "test accuracy | rnn relu hidden=70"), 0.817),     # the neighbouring hidden size
    (("I.P1.b", "test accuracy | gru act=relu"), 0.89),            # tanh's
    (("I.P1.b", "train accuracy | gru hidden=80"), 0.9589),        # hidden 90's, from the raw table
    (("I.P1.b", "test ROC AUC | rnn hidden=128"), 0.8257),         # its F1
    (("I.P2", "test accuracy | best mlp"), 0.8533),                # the train accuracy
    (("I.P3", "test F1"), 0.9368),
    (("I.P1.a", "test accuracy | rnn act=sigmoid"), 0.584),        # derived: not tanh + 5 points
])
def test_a_number_moved_within_its_own_question_is_caught(sources, key, value):
    problems = reports.source_problems(*sources, _replace(_entries(), key, value))
    assert len(problems) == 1 and problems[0].startswith(f"{key[0]} {key[1]!r}"), problems


def test_number_forms_and_whole_number_matching():
    assert reports.number_forms(0.764) >= {".764", "0.764"}
    assert "33793" in reports.number_forms(33793) and reports.number_forms("claim") == set()
    assert reports._occurs(".88", "none .88/.8885") and not reports._occurs(".88", "none .885/.8885")
    assert not reports._occurs(".86", "0.862") and not reports._occurs("12", "112.862")
