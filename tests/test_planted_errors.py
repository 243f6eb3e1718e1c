"""The planted errors the checks used to miss (issue 18: "13 of 21 caught").

Each test plants one mutation — in a temporary copy of the results, in the registry, in a tiny
notebook or through ``monkeypatch`` — and asserts that a check catches it; each also shows that
the same check passes without the plant, so it is not a check that always fails.

1. a headline made NaN            → the page's execution fails; its status is not "current"
2. a headline record deleted      → the page's execution fails
3. a whole results file deleted   → the scorecard (results.load) says which file is missing
4. a claim direction flipped (23) → its recorded verdict disagrees with the per-seed numbers
5. the answer box's report = ours → the box's report cell is not the registry's number
6. a report number replaced by another number of the course text → tests/test_registry.py, and once here
7. t replaced by normal quantiles → the seed interval is not the textbook t-interval
8. best seed picked on test       → sweep.seed_stats' pick is not the validation pick
9. the 500-review band tripled    → the band is not the binomial textbook value
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from idl_helpers.core import environment, reports, results
from idl_helpers.training import sweep
from idl_helpers.analysis import attribution
from idl_book import answer_box, runner
from idl_book import scorecard as S
from idl_helpers.core.results import OURS_STYLE, compare, fmt_report
from idl_helpers.core.results import Context
from idl_book.page_status import library_inputs, page_status
from idl_helpers.training.train import History

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"
NAN = float("nan")


@pytest.fixture
def results_root(tmp_path, monkeypatch):
    monkeypatch.setenv(environment.RESULTS_DIR_ENV, str(tmp_path / "results"))
    return tmp_path / "results"


def _context(name: str, records: list[tuple], profile: str = "quick") -> Context:
    rec = results.Recorder(name, profile=profile, seed=0, device="cpu")
    for q, metric, value in records:
        rec.add(q, metric, value)
    return Context(name, profile, 0, "cpu", rec)


# ------------------------------------------------------------------ 1, 2: a NaN or missing headline
@pytest.mark.parametrize("value", [NAN, float("inf"), None, "nan", "diverged", True])
def test_a_headline_that_is_not_a_finite_number_fails_finish_after_saving(results_root, value):
    ctx = _context("10_I_P1a_rnn", [("I.P1.a", "test accuracy | rnn act=relu", value),
                                    ("I.P1.a", "test accuracy | rnn act=tanh", 0.6)])
    with pytest.raises(reports.HeadlineError, match=r"I\.P1\.a: the headline 'test accuracy \| rnn act=relu'"):
        ctx.finish()
    saved = json.loads((results_root / "quick" / "10_I_P1a_rnn.json").read_text())   # saved first
    assert [r["metric"] for r in saved["records"]] == ["test accuracy | rnn act=relu", "test accuracy | rnn act=tanh"]


def test_a_deleted_headline_record_fails_finish(results_root):
    ctx = _context("21_I_P3_weighted_sum", [("I.P3", "test F1", 0.8)])          # accuracy deleted
    with pytest.raises(reports.HeadlineError, match="'test accuracy' was not recorded"):
        ctx.finish(show=False)
    ctx = _context("21_II_5bc_dan_sweeps", [("II.5b", "word dropout sweep", "holds: …")])  # II.5c's trend deleted
    with pytest.raises(reports.HeadlineError, match=r"II\.5c: the headline 'depth 0\.\.4' was not recorded"):
        ctx.finish(show=False)


def test_finish_passes_a_finite_headline_and_pages_that_do_not_answer_it(results_root):
    ok = _context("10_I_P1a_rnn", [("I.P1.a", "test accuracy | rnn act=relu", 0.81)])
    table = ok.finish()
    assert "0.816" in table.frame.to_string()                                   # the registry's number beside ours
    # other pages that record the question without answering its headline are not failed
    assert _context("12_I_P1b_parameter_matched", [("I.P1.b", "test accuracy | rnn hidden=128", 0.8)]).finish(show=False)
    assert _context("23_I_P2_4_comparison", [("I.P3", "claim: x", "holds")]).finish(show=False)
    assert reports.headline_problems("10_I_P1a_rnn", [{"question": "I.P1.a", "metric": "test accuracy | rnn act=relu",
                                                         "value": 0.0}]) == []


def test_every_measured_question_has_its_answering_page_and_the_book_records_it():
    """The map finish() reads covers every question whose headline is a measurement, names real
    pages, and the committed results of those pages pass the check (it is not failing the book)."""
    measured = {q for q in reports.questions() if reports.headline(q)["kind"] != "check"}
    assert set(reports.ANSWERED_ON) == measured
    stems = {p.stem for p in (ROOT / "notebooks").rglob("*.ipynb")}
    assert set(reports.ANSWERED_ON.values()) <= stems
    assert S.HEADLINE is reports.HEADLINE                                       # one map, two names
    for f in sorted(RESULTS.glob("*/*.json")):
        payload = json.loads(f.read_text())
        assert reports.headline_problems(payload["notebook"], payload["records"]) == [], f


def test_finish_needs_no_scorecard():
    """Every page records the page framework's imports as its inputs: the scorecard is not one of them."""
    names = {p.name for p in library_inputs(ROOT / "notebooks" / "part1" / "01_I_T1_1_2_chain_rule.ipynb")}
    assert {"results.py", "environment.py", "reports.py", "tables.py", "report_numbers.json"} <= names
    assert "scorecard.py" not in names
    assert "__init__.py" not in names   # the layer packages' docstring-only __init__ files run nothing


def test_a_theory_page_records_only_the_page_framework_and_its_theory_modules():
    """Issue 19: a fix to the data layer, a model or the scorecard stales no theory page."""
    inputs = {p.relative_to(ROOT).as_posix() for p in
              library_inputs(ROOT / "notebooks" / "part1" / "01_I_T1_1_2_chain_rule.ipynb")}
    assert {p.split("/")[1] for p in inputs} == {"core", "theory"}, inputs
    assert {"idl_helpers/theory/calculus.py", "idl_helpers/theory/derive.py"} <= inputs
    assert len(inputs) + 1 <= 8, sorted(inputs)          # with the notebook itself: at most 8 recorded inputs
    assert all(S.VERDICT_STYLE[k] == v for k, v in OURS_STYLE.items())        # same colours as before


def test_a_page_reading_one_data_set_records_no_other_data_set():
    """The data package's ``__init__`` imports no data set: the PTB page does not go stale when the IMDB
    or GloVe loader changes."""
    names = {p.name for p in library_inputs(ROOT / "notebooks" / "part2" / "05_II_6_bigram_direction.ipynb")}
    assert "ptb.py" in names and not names & {"imdb.py", "glove.py", "shakespeare.py", "resources.py"}, names


PARAMS = 'profile = "smoke"\nseed = 0\ndevice = "auto"\ndata_dir = ""'


def _tiny_page(src: Path, value: str) -> None:
    cells = [nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(
                 "from idl_helpers.core.results import setup\n"
                 "ctx = setup('10_I_P1a_rnn', profile=profile, seed=seed, device=device, data_dir=data_dir)\n"
                 f"ctx.recorder.add('I.P1.a', 'test accuracy | rnn act=relu', {value})\nctx.finish(show=False)")]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                        "display_name": "Python 3"}})
    (src / "part1").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, src / "part1" / "10_I_P1a_rnn.ipynb")


def test_a_nan_headline_fails_the_page_run_and_its_status(tmp_path):
    """The issue's case, end to end through the runner (one kernel): a page that records its
    headline as NaN is "failed" in the run log, never "current", and lands nothing in the book. (A re-run that
    fails beside an older good run: the runner keeps that run and status says "failed" —
    tests/test_runner.py.)"""
    src, book = tmp_path / "notebooks", tmp_path / "book"
    _tiny_page(src, "float('nan')")
    run = runner.run_notebooks("smoke", source_root=src, book_root=book, progress=False)
    assert run[0].status == "failed" and "HeadlineError" in run[0].error and "not a finite number" in run[0].error
    state = {p.name: p for p in page_status("smoke", source_root=src, book_root=book)}["10_I_P1a_rnn"]
    assert state.state == "missing" and not state.ok                          # never "current"
    log = json.loads((book / "results" / "runs-smoke.json").read_text())["notebooks"][0]
    assert log["status"] == "failed" and "HeadlineError" in log["last_attempt"]["error"]
    assert not (book / "results" / "smoke" / "10_I_P1a_rnn.json").exists()


# ------------------------------------------------------------------ 3: a whole results file deleted
def test_a_deleted_results_file_is_reported_missing(tmp_path):
    root = tmp_path / "results"
    shutil.copytree(RESULTS, root)
    assert results.missing_files(root) == []
    before = S.summary(root).set_index("question")
    assert before.loc["I.P1.a", "ours (full)"] != "—"
    (root / "full" / "10_I_P1a_rnn.json").unlink()
    assert len(results.missing_files(root)) == 1 and "10_I_P1a_rnn.json: missing" in results.missing_files(root)[0]
    with pytest.raises(results.ResultsError, match=r"full/10_I_P1a_rnn\.json: missing, but runs-full\.json says"):
        S.summary(root)                                        # not the quick number with a silent "—" for full
    with pytest.raises(results.ResultsError, match="missing"):
        results.load("full", root)
    assert len(results.load("quick", root))                    # the other profile is whole and still reads


# ------------------------------------------------------------------ 4: a claim direction flipped in notebook 23
#: notebook 23's claims: (question, metric) → the two per-seed groups it compares, a − b (the page's cell)
CLAIMS_23 = {
    ("I.P3", "claim: the weighted sum beats the plain average (10×50 MLP)"):
        (("I.P3", "test accuracy"), ("I.P2", "test accuracy | mlp layers=10 width=50 dropout=0.1")),
    ("I.P4", "claim: restricted attention falls below the weighted sum"):
        (("I.P3", "test accuracy"), ("I.P4", "test accuracy")),
}
_INTERVAL = re.compile(r": ([+-]\d*\.\d+), 95% interval \[([+-]\d*\.\d+), ([+-]\d*\.\d+)\]")


def claim_problems(records: list[dict]) -> list[str]:
    """Claims whose recorded verdict contradicts their own interval, and notebook 23's claims that
    differ from the verdict recomputed from the per-seed numbers the other pages recorded."""
    out = []
    by_key = {(r["question"], r["metric"]): r for r in records}
    for r in records:
        if not str(r["metric"]).startswith("claim: "):
            continue
        text = (r.get("extra") or {}).get("text", "")
        m = _INTERVAL.search(text)
        if m and not text.startswith(str(r["value"])):
            out.append(f"{r['metric']}: recorded {r['value']!r} but its text says {text!r}")
        if m and r["value"] in ("holds", "does not hold", "inconclusive"):
            est, lo, hi = (float(x) for x in m.groups())
            want = "holds" if lo > 0 else "does not hold" if hi < 0 else "inconclusive"
            if r["value"] != want:
                out.append(f"{r['metric']}: {r['value']!r} with interval [{lo}, {hi}]")
        if (r["question"], r["metric"]) in CLAIMS_23 and r["notebook"] == "23_I_P2_4_comparison":
            a, b = (by_key.get(k) for k in CLAIMS_23[(r["question"], r["metric"])])
            if a is None or b is None:
                continue
            v = attribution.claim_verdict(a["extra"]["per_seed"], b["extra"]["per_seed"])
            if v.verdict != r["value"] or not m or abs(float(m.group(1)) - v.estimate) > 6e-4:
                out.append(f"{r['metric']}: recorded {r['value']!r} ({text}); the per-seed numbers give "
                           f"{v.verdict!r} ({v.estimate:+.3f})")
    return out


def _records(profile: str) -> list[dict]:
    return [{**r, "notebook": json.loads(f.read_text())["notebook"]}
            for f in sorted((RESULTS / profile).glob("*.json")) for r in json.loads(f.read_text())["records"]]


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_a_flipped_claim_direction_in_notebook_23_is_caught(profile):
    recs = _records(profile)
    assert claim_problems(recs) == []
    claim = next(r for r in recs if r["metric"] == "claim: restricted attention falls below the weighted sum")
    a, b = (next(r for r in recs if (r["question"], r["metric"]) == k) for k in CLAIMS_23[(claim["question"], claim["metric"])])
    # the page's cell with the groups swapped: what a flipped direction records
    flipped = attribution.claim_verdict(b["extra"]["per_seed"], a["extra"]["per_seed"],
                                        what="weighted sum − restricted attention, test accuracy")
    planted = [dict(r, value=flipped.verdict, extra={"text": flipped.text}) if r is claim else r for r in recs]
    assert any("restricted attention" in p for p in claim_problems(planted))
    # and the recorded word flipped by hand, its text left as it was
    word = {"holds": "does not hold", "does not hold": "holds", "inconclusive": "holds"}[claim["value"]]
    assert claim_problems([dict(r, value=word) if r is claim else r for r in recs])


# ------------------------------------------------------------------ 5: the answer box's report column
def report_cell_problems(rows: dict[str, list[dict]]) -> list[str]:
    """Answer-box rows whose report cell is not the registry's headline number."""
    out = []
    for stem, page in rows.items():
        for r in page:
            if r["report"] == "claim" or r["measure"] == "claim":
                continue
            head = reports.headline(r["question"])
            if head["kind"] != "number":
                continue
            want = fmt_report(reports.value(r["question"], r["measure"]))
            if r["report"].split(" ± ")[0] != want:
                out.append(f"{stem} {r['question']}: report {r['report']!r}, the registry says {want!r}")
    return out


def test_the_answer_box_report_column_comes_only_from_the_registry(tmp_path):
    root = tmp_path / "book" / "results" / "full"
    root.mkdir(parents=True)
    ours = 0.777
    payload = {"schema": 1, "notebook": "21_I_P3_weighted_sum", "profile": "full", "seed": 0, "device": "cpu",
               "started_utc": "2026-01-01T00:00:00+00:00", "wall_time_s": 1.0, "versions": {}, "git_commit": "x",
               "records": [{"question": "I.P3", "metric": "test accuracy", "value": ours, "profile": "full", "seed": 0,
                            "device": "cpu", "data_variant": None, "wall_time_s": None, "report": ours,
                            "extra": {"report": ours, "report_value": ours, "std": 0.01, "per_seed": [0.77, 0.78, 0.781]}}]}
    (root / "21_I_P3_weighted_sum.json").write_text(json.dumps(payload))
    rows = answer_box.rows_by_page(tmp_path)
    row = next(r for r in rows["21_I_P3_weighted_sum"] if r["question"] == "I.P3")
    assert row["report"].startswith("0.87 ± ") and row["ours"].startswith("0.777")
    assert report_cell_problems(rows) == []
    assert "<td>0.87 ± " in answer_box.box(rows["21_I_P3_weighted_sum"])
    assert list(compare(payload["records"])["report"]) == ["0.87"]              # the page's own closing table
    planted = {k: [dict(r, report=r["ours"]) for r in v] for k, v in rows.items()}   # report column set to ours
    assert report_cell_problems(planted) == ["21_I_P3_weighted_sum I.P3: report '0.777 (95% interval ±0.015, 3 seeds)', "
                                             "the registry says '0.87'"]


def test_the_books_answer_boxes_show_the_registry_numbers():
    assert report_cell_problems(answer_box.rows_by_page(ROOT)) == []


# ------------------------------------------------------------------ 6: a report number from another question
def test_a_report_number_replaced_by_another_questions_is_caught(monkeypatch):
    coursework = environment.REPO_ROOT.parent / "shared" / "COURSEWORK.md"
    raw = coursework.parent / "seeds" / "000_bdd68209f7329d04.txt"
    if not (coursework.exists() and raw.exists()):
        pytest.skip("COURSEWORK.md / seeds/ not beside the repository")
    text = coursework.read_text()
    assert reports.source_problems(text, raw.read_text()) == []
    planted = tuple(dict(e, value=0.844) if (e["question"], e["metric"]) == ("I.P3", "test accuracy") else e
                    for e in reports._entries())                     # I.P2's test accuracy, in the course text
    assert "0.844" in text.replace(".844", "0.844")
    monkeypatch.setattr(reports, "_entries", lambda: planted)
    assert reports.source_problems(text, raw.read_text()) == [
        "I.P3 'test accuracy' = 0.844: not where the course text gives it ('.87')"]


# ------------------------------------------------------------------ 7: t replaced by normal quantiles
T_975_2 = 4.302652729749464          # Student t, 2 degrees of freedom, 97.5% (textbook tables: 4.303)


def t_interval_problem() -> str:
    values = [0.80, 0.82, 0.85]
    sd = float(np.std(values, ddof=1))
    textbook = T_975_2 * sd / math.sqrt(3)
    got = attribution.seed_half_width(values)
    return "" if abs(got - textbook) < 1e-9 else f"seed_half_width {got:.6f}, textbook t-interval {textbook:.6f}"


def test_normal_quantiles_instead_of_t_are_caught(monkeypatch):
    assert t_interval_problem() == ""
    from idl_helpers.analysis import stats

    monkeypatch.setattr(stats, "t_quantile", lambda df, level=stats.LEVEL: stats.z_quantile(level))
    assert "textbook t-interval" in t_interval_problem()


# ------------------------------------------------------------------ 8: best seed picked on test
def _outcome(seed: int, val: float, test: float, curve: str = "val_acc") -> sweep.Outcome:
    hist = History(epochs=[{"epoch": 1, "train_acc": 0.9, curve: val - 0.01}, {"epoch": 2, "train_acc": 0.9, curve: val}])
    return sweep.Outcome(sweep.Run("rnn", 8, "relu", seed=seed), 10, hist,
                         {"accuracy": test, "f1": test, "roc_auc": test},
                         selected={"accuracy": test, "f1": test, "roc_auc": test})


def selection_problem(outcomes) -> str:
    """seed_stats' best run must be the one with the best validation accuracy (read here from the
    histories themselves), and there must be none when the curve is the test split."""
    st = sweep.seed_stats(outcomes)
    if any("val_acc" not in o.history.epochs[0] for o in outcomes):
        return "" if st["best"] is None else f"picked seed {st['best'].run.seed} without a validation curve"
    want = max(outcomes, key=lambda o: o.history.epochs[-1]["val_acc"])
    return "" if st["best"] is want else f"picked seed {st['best'].run.seed}, validation picks seed {want.run.seed}"


def test_a_best_seed_picked_on_test_is_caught(monkeypatch):
    outs = [_outcome(0, val=0.86, test=0.80), _outcome(1, val=0.84, test=0.83), _outcome(2, val=0.82, test=0.81)]
    assert selection_problem(outs) == "" and sweep.seed_stats(outs)["best_on_test"] is outs[1]
    on_test = [_outcome(0, 0.80, 0.80, "test_acc"), _outcome(1, 0.83, 0.83, "test_acc")]
    assert selection_problem(on_test) == ""                                     # no curve but test: no pick
    with pytest.raises(ValueError, match="chosen on the test split"):
        sweep.seed_stats(on_test, which="selected")
    assert sweep.selection_table({"g": on_test}).empty
    # plant: the pick reads the test accuracy
    monkeypatch.setattr(sweep.Outcome, "val_acc", property(lambda o: o.metrics["accuracy"]))
    assert selection_problem(outs) == "picked seed 1, validation picks seed 0"
    monkeypatch.undo()
    # plant: a test-split curve taken for a validation curve (the old fallback)
    monkeypatch.setattr(sweep, "picks_on_validation", lambda o: True)
    assert selection_problem(on_test) == "picked seed 1 without a validation curve"


# ------------------------------------------------------------------ 9: the 500-review band tripled
def band_problem(p: float = 0.816) -> str:
    textbook = 1.959964 * math.sqrt(p * (1 - p) / 500)                          # binomial, 500 reviews
    got = S.noise_half_width("I.P1.a", "test accuracy | rnn act=relu", p)
    return "" if abs(got - textbook) < 1e-5 else f"band ±{got:.4f}, binomial ±{textbook:.4f}"


def test_a_tripled_500_review_band_is_caught(monkeypatch, results_root):
    assert band_problem() == ""
    results.Recorder("10_I_P1a_rnn", profile="quick", seed=0, device="cpu").save()
    assert S.summary().set_index("question").loc["I.P1.a", "report"] == "0.816 ± 0.034"
    monkeypatch.setattr(S, "REPORT_TEST_REVIEWS", 500 / 9)                     # the band × 3
    assert band_problem() == "band ±0.1019, binomial ±0.0340"
    assert S.summary().set_index("question").loc["I.P1.a", "report"] != "0.816 ± 0.034"
