"""Results files, the report registry and the scorecard built from them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from idl_helpers.core import environment, reports, results
from idl_helpers.core.environment import ProfileError, settings
from idl_book.scorecard import compare, scorecard

COURSEWORK = environment.REPO_ROOT.parent / "shared" / "COURSEWORK.md"


@pytest.fixture
def results_root(tmp_path, monkeypatch):
    monkeypatch.setenv(environment.RESULTS_DIR_ENV, str(tmp_path / "results"))
    return tmp_path / "results"


def test_recorder_writes_every_field(results_root):
    rec = results.Recorder("nb", profile="quick", seed=3, device="cpu (test)", data_variant="v1")
    rec.add("I.P3", "test accuracy", np.float32(0.8125), wall_time_s=1.23456, epochs=2)
    rec.add("II.1d", "dev perplexity", float("nan"))
    path = rec.save()
    assert path == results_root / "quick" / "nb.json"
    payload = json.loads(path.read_text())
    for key in ("notebook", "profile", "seed", "device", "wall_time_s", "versions", "git_commit", "records"):
        assert key in payload
    r = payload["records"][0]
    assert r == {"question": "I.P3", "metric": "test accuracy", "value": 0.8125, "profile": "quick", "seed": 3,
                 "device": "cpu (test)", "data_variant": "v1", "wall_time_s": 1.235, "extra": {"epochs": 2}}
    assert payload["records"][1]["value"] == "nan"  # JSON has no NaN: kept visible as text
    assert {"torch", "numpy", "python"} <= set(payload["versions"])
    df = results.load("quick")
    assert list(df["question"]) == ["I.P3", "II.1d"] and (df["notebook"] == "nb").all()


def test_failed_check_raises_and_is_recorded(results_root):
    rec = results.Recorder("nb", profile="smoke", seed=0, device="cpu")
    rec.check("II.1a", True, error=0.0)
    with pytest.raises(AssertionError, match="II.1b"):
        rec.check("II.1b", False, error=1.0)
    saved = json.loads((results_root / "smoke" / "nb.json").read_text())
    assert [r["value"] for r in saved["records"]] == ["passed", "FAILED"]


def test_unknown_profile_is_refused():
    with pytest.raises(ProfileError, match="smoke, quick, full"):
        results.Recorder("nb", profile="fast", seed=0, device="cpu")
    with pytest.raises(ProfileError):
        settings("quick", smoke={"a": 1}, quick={"a": 2})  # full missing
    with pytest.raises(ProfileError):
        settings("quick", smoke={"a": 1}, quick={"b": 2}, full={"a": 3})
    assert settings("full", smoke={"a": 1}, quick={"a": 2}, full={"a": 3}).a == 3


def test_registry_is_well_formed():
    t = reports.table()
    assert not t.duplicated(["question", "metric"]).any()
    assert set(t["kind"]) <= {"number", "check", "figure", "trend", "list", "essay"}
    assert reports.value("II.1d", "dev perplexity") == 112.862
    assert reports.value("I.P1.b", "parameters | rnn hidden=128") == 33_793
    with pytest.raises(KeyError):
        reports.value("II.1d", "no such metric")


@pytest.mark.skipif(not COURSEWORK.exists(), reason="COURSEWORK.md not beside the repository")
def test_registry_covers_every_question_of_coursework():
    text = COURSEWORK.read_text()
    ids = set(re.findall(r"^\| (I+\.[A-Z0-9.a-z–-]+) \|", text, flags=re.M))
    ids = {i for i in ids if "–" not in i}  # "I.P2–4" is a group row, covered by I.P2/I.P3/I.P4
    ids |= {"I.T2", "I.T3"}  # theory questions 2 and 3 are prose sections, not table rows
    assert ids <= set(reports.questions()), ids - set(reports.questions())


# Every transcribed number against its *own* question's text (the former whole-text search here let a
# number copied from another question pass): tests/test_registry.py.


def test_headline_map_lives_in_the_registry():
    from idl_book import scorecard

    assert scorecard.HEADLINE is reports.HEADLINE
    assert reports.headline("I.P1.a")["metric"] == "test accuracy | rnn act=relu"
    assert reports.headline("II.6")["kind"] == "check"                    # no HEADLINE entry: its first
    assert reports.headlines_of("03_II_1d_4b_bigram_lm") == ["II.1d", "II.4b"]
    assert reports.headlines_of("12_I_P1b_parameter_matched") == []
    with pytest.raises(KeyError):
        reports.headline("I.P9")


def test_missing_files_reads_only_pages_that_write_results(results_root):
    rec = results.Recorder("nb", profile="quick", seed=0, device="cpu")
    rec.add("I.P3", "test accuracy", 0.8)
    rec.save()
    wrote = lambda name: {"book/results/quick/" + name + ".json": "x"}     # what the runner recorded
    log = {"profile": "quick", "notebooks": [
        {"name": "nb", "status": "ok", "inputs": {"idl_helpers/core/results.py": "x"}, "results": wrote("nb")},
        {"name": "gone", "status": "ok", "finished_utc": "T", "inputs": {"idl_helpers/core/results.py": "x"},
         "results": wrote("gone")},
        {"name": "failed", "status": "failed", "inputs": {"idl_helpers/core/results.py": "x"}},
        # a log from before the runner recorded results files: setup's module among the inputs says it wrote
        {"name": "old_gone", "status": "ok", "finished_utc": "T", "inputs": {"idl_helpers/core/notebook.py": "x"}},
        # the scorecard reads results (results.py is its input too) and never writes them
        {"name": "scorecard", "status": "ok", "inputs": {"idl_helpers/core/results.py": "x"}, "results": {}}]}
    (results_root / "runs-quick.json").write_text(json.dumps(log))
    missing = results.missing_files()
    assert len(missing) == 2 and missing[0].startswith(str(results_root / "quick" / "gone.json"))
    assert missing[1].startswith(str(results_root / "quick" / "old_gone.json"))
    with pytest.raises(results.ResultsError, match="gone.json: missing"):
        results.load("quick")
    del log["notebooks"][1], log["notebooks"][2]
    (results_root / "runs-quick.json").write_text(json.dumps(log))
    assert list(results.load("quick")["notebook"]) == ["nb"]


def test_scorecard_joins_on_question_and_metric(results_root):
    rec = results.Recorder("nb", profile="quick", seed=0, device="cpu")
    rec.add("II.1d", "dev perplexity", 150.0, data_variant="ptb-mikolov")
    rec.check("II.6", True)
    rec.save()
    card = scorecard("quick")
    row = card[(card.question == "II.1d") & (card.metric == "dev perplexity")].iloc[0]
    assert row.report == "112.862" and row.ours == "150" and row.difference == "+37.14"  # the report's digits as given
    assert (card[card.question == "II.6"].ours == "passed").all()
    assert (card[card.question == "I.P3"].ours == "not run").all()
    assert compare([]).empty


def test_scorecard_formats_small_numbers_and_missing_report_values(results_root):
    rec = results.Recorder("nb", profile="quick", seed=0, device="cpu")
    rec.add("I.T1.3", "gradient ratio at depth 50", 1.5e-31)
    rec.add("I.T1.3", "gradient ratio at depth 1", 0.5)
    rec.add("I.P3", "test accuracy", 0.8)  # a real difference beside the missing ones
    rec.check("I.T1.3", True)
    rec.save()
    card = scorecard("quick")
    rows = card[card.metric.str.startswith("gradient ratio")]
    assert list(rows.ours) == ["1.5e-31", "0.5"]
    assert list(rows.difference) == ["—", "—"]  # no report number: no difference, not "+nan"
    assert card[(card.question == "I.T1.3") & (card.metric == "check")].difference.tolist() == ["—"]
    assert card[(card.question == "I.P3") & (card.metric == "test accuracy")].difference.tolist() == ["-0.07"]


def test_every_page_says_which_profile_and_settings_it_shows():
    from idl_helpers.core.environment import settings_sentence, settings_table

    per = dict(smoke=dict(epochs=1, n_train=256, lr=1e-3), quick=dict(epochs=5, n_train=None, lr=1e-3),
               full=dict(epochs=15, n_train=None, lr=1e-3))
    quick = settings_sentence("quick", per)
    assert quick == ("This page shows the `quick` run, smaller than the reports' settings (`full`): "
                     "epochs 5 (full: 15).")
    assert settings_sentence("full", per) == "This page shows the `full` run (the reports' settings)."
    table = settings_table(dict(per, full=dict(per["full"], probe=None, acts={"tanh": 3}, grid=tuple(range(20, 120, 10)),
                                               n_train=25_000)) | {p: dict(per[p], probe=2, acts={"tanh": 1},
                                               grid=(20,)) for p in ("smoke", "quick")})
    assert "| epochs | 1 | 5 | 15 |" in table and "| training examples | 256 | all | 25,000 |" in table
    assert "| probe | 2 | 2 | off |" in table and "| acts | tanh 1 | tanh 1 | tanh 3 |" in table
    assert "| grid | 20 | 20 | 10 values, 20 … 110 |" in table and "None" not in table and "lr" not in table
    same = {p: dict(lr=1e-3) for p in ("smoke", "quick", "full")}
    assert "same under every profile" in settings_sentence("smoke", same)
