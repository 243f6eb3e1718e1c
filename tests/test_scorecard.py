"""The scorecard's one-row-per-question summary: verdicts, profile columns, links, page status."""

from __future__ import annotations

import json
import re

import pytest

from idl_helpers.core import environment, reports, results
from idl_book import scorecard as S


@pytest.fixture
def results_root(tmp_path, monkeypatch):
    monkeypatch.setenv(environment.RESULTS_DIR_ENV, str(tmp_path / "results"))
    return tmp_path / "results"


def _record(nb, profile, question, metric, value):
    rec = results.Recorder(nb, profile=profile, seed=0, device="cpu")
    rec.add(question, metric, value)
    return rec


def test_one_row_per_question_with_verdicts(results_root):
    rec = results.Recorder("10_I_P1a_rnn", profile="quick", seed=0, device="cpu")
    rec.add("I.P1.a", "test accuracy | rnn act=relu", 0.80)       # report .816, ±.034: within noise
    rec.save()
    rec = results.Recorder("20_I_P2_tokenwise_mlp", profile="quick", seed=0, device="cpu")
    rec.add("I.P2", "test accuracy | best mlp", 0.70)              # report .844: below
    rec.save()
    rec = results.Recorder("03_II_1d_4b_bigram_lm", profile="quick", seed=0, device="cpu")
    rec.add("II.1d", "dev perplexity", 150.0)                      # report 112.862: above
    rec.save()
    rec = results.Recorder("05_II_6_bigram_direction", profile="quick", seed=0, device="cpu")
    rec.check("II.6", True)
    rec.save()
    rec = results.Recorder("21_II_5bc_dan_sweeps", profile="quick", seed=0, device="cpu")
    rec.add("II.5b", "word dropout sweep", "does not hold: accuracy 0.74 at p=0 → 0.75 at p=0.7")
    rec.save()
    s = S.summary().set_index("question")
    assert list(s.index) == reports.questions()
    assert s.loc["I.P1.a", "verdict"] == "matches within noise"
    assert s.loc["I.P2", "verdict"] == "below" and s.loc["II.1d", "verdict"] == "above"
    assert s.loc["II.6", "verdict"] == "verified" and s.loc["II.5b", "verdict"] == "does not hold"
    assert s.loc["I.P3", "verdict"] == "not run"
    # the recorded verdict word itself, never reinterpreted (II.5c recorded "inconclusive", once shown as "shown")
    assert S._trend_verdict("holds in part: falls overall; but not at every step") == "holds in part"
    assert S._trend_verdict("inconclusive: 0→2 layers +0.018") == "inconclusive"
    assert S._trend_verdict("holds: accuracy falls") == "holds" and S._trend_verdict("a figure") == "shown"
    # full has no results yet: its column exists and shows "—"; quick has ours
    assert (s["ours (full)"] == "—").all() and s.loc["I.P1.a", "ours (quick)"] == "0.8"
    assert s.loc["II.1d", "page"] == "03_II_1d_4b_bigram_lm"
    assert s.loc["I.P1.a", "report"] == "0.816 ± 0.034"     # the report's 500-review chance spread
    assert "page status" not in s.columns


def test_most_thorough_profile_decides_and_page_status_column(results_root):
    _record("20_I_P2_tokenwise_mlp", "quick", "I.P2", "test accuracy | best mlp", 0.70).save()
    _record("20_I_P2_tokenwise_mlp", "full", "I.P2", "test accuracy | best mlp", 0.85).save()
    s = S.summary(page_status={"20_I_P2_tokenwise_mlp": "stale"}).set_index("question")
    assert s.loc["I.P2", "ours (full)"] == "0.85" and s.loc["I.P2", "ours (quick)"] == "0.7"
    assert s.loc["I.P2", "verdict"] == "matches within noise"   # full's 0.85, not quick's 0.70
    assert s.loc["I.P2", "page status"] == "stale" and s.loc["I.P3", "page status"] == "—"


def test_failed_check_is_a_failed_verdict(results_root):
    rec = results.Recorder("01_II_1a_4a_softmax_perplexity", profile="quick", seed=0, device="cpu")
    rec.add("II.1a", "check", "FAILED")
    rec.save()
    assert S.summary().set_index("question").loc["II.1a", "verdict"] == "FAILED"


def test_links_are_relative_to_the_scorecard_page(results_root):
    rec = results.Recorder("10_I_P1a_rnn", profile="quick", seed=0, device="cpu")
    rec.check("I.P1.a", True, what="padding")
    rec.save()
    assert S.page_href("10_I_P1a_rnn") == "part1/10_I_P1a_rnn.html"
    assert S.page_href("21_II_5bc_dan_sweeps") == "part2/21_II_5bc_dan_sweeps.html"
    html = S.summary_table().html
    assert '<a href="part1/10_I_P1a_rnn.html">I.P1.a</a>' in html
    cells = re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", html)
    assert "nan" not in " ".join(cells).lower()


def test_every_number_is_folded_per_part_and_timings_have_no_nan(results_root):
    _record("10_I_P1a_rnn", "quick", "I.P1.a", "test accuracy | rnn act=relu", 0.8).save()
    _record("05_II_6_bigram_direction", "quick", "II.6", "check", "passed").save()
    html = S.every_number("quick").html
    assert html.count("<details") == 2 and "Part I ·" in html and "Part II ·" in html
    results_root.mkdir(parents=True, exist_ok=True)
    for profile, names in (("quick", ["a", "b"]), ("smoke", ["a"])):
        log = {"profile": profile, "notebooks": [{"name": n, "status": "ok", "wall_time_s": 1.234,
                                                  "finished_utc": "2026-01-01T00:00:00Z"} for n in names]}
        (results_root / f"runs-{profile}.json").write_text(json.dumps(log))
    t = S.timings()
    assert list(t["notebook"]) == ["a", "b", "all notebooks (sum)"]
    shown = S.tables.show(t)
    assert shown.frame.loc[1, "smoke: wall time (s)"] == "—" and shown.frame.loc[0, "quick: wall time (s)"] == "1.2"
    assert "nan" not in shown.frame.to_string().lower()


def test_timings_say_when_the_last_re_run_did_not_finish(results_root):
    results_root.mkdir(parents=True, exist_ok=True)
    log = {"profile": "quick", "notebooks": [
        {"name": "a", "status": "ok", "wall_time_s": 3.0, "finished_utc": "2026-01-01T00:00:00Z",
         "last_attempt": {"status": "failed", "at": "2026-01-02T00:00:00Z"}},
        {"name": "b", "status": "ok", "wall_time_s": 2.0, "finished_utc": "2026-01-01T00:00:00Z"}]}
    (results_root / "runs-quick.json").write_text(json.dumps(log))
    t = S.timings().set_index("notebook")
    assert t.loc["a", "quick: status"] == "ok; last re-run failed at 2026-01-02T00:00:00Z"
    assert t.loc["b", "quick: status"] == "ok"
    assert t.loc["all notebooks (sum)", "quick: wall time (s)"] == 5.0


def test_number_verdict_uses_the_one_prediction_band_over_healthy_seeds():
    """The scorecard judges a seed mean by the same rule as the page's gap verdict
    (:func:`idl_helpers.analysis.stats.report_band`): seeds by t over the healthy runs, with the report's
    binomial band; one seed → inconclusive; a collapsed run is left out, not averaged in."""
    from idl_helpers.analysis import attribution, stats

    q, m, report = "I.P1.a", "test accuracy | rnn act=relu", 0.816
    seeds = [0.73, 0.77, 0.81]                      # mean 0.77: outside the report's ±0.034 alone,
    band = stats.report_band(seeds, report_p=report)  # inside the prediction band of three seeds
    assert abs(0.77 - report) > S.noise_half_width(q, m, report) and abs(0.77 - report) <= band.half
    assert S.number_verdict(q, m, 0.77, report, seeds) == "matches within noise"
    assert S.number_verdict(q, m, 0.77, report) == "below"                 # no per-seed numbers: binomial only
    assert attribution.report_gap(report, seeds, [])[0].verdict == attribution.WITHIN_NOISE   # the page agrees
    assert S.number_verdict(q, m, 0.77, report, [0.77]) == "inconclusive"   # one seed: no band
    # two healthy seeds far below and one collapsed: the collapsed run neither lowers the mean nor widens the band
    assert S.number_verdict(q, m, 0.62, report, [0.70, 0.701, 0.45]) == "below"
    assert S.number_verdict(q, m, 0.62, report, [0.70, 0.45]) == "inconclusive"


def test_the_plus_minus_after_a_report_number_is_the_band_its_verdict_used(results_root):
    """With per-seed numbers the verdict is judged on the seeds' prediction band combined with the report's
    chance spread, and that band — not the narrower chance spread alone — is what "±" shows, so a row
    never reads "0.739 vs 0.844 ± 0.032: matches within noise"."""
    from idl_helpers.analysis import stats

    rec = results.Recorder("20_I_P2_tokenwise_mlp", profile="quick", seed=0, device="cpu")
    rec.add("I.P2", "test accuracy | best mlp", 0.74, per_seed=[0.73, 0.75])
    rec.save()
    s = S.summary().set_index("question")
    band = stats.report_band([0.73, 0.75], report_p=0.844)
    assert s.loc["I.P2", "verdict"] == "matches within noise" and band.half > 0.844 - 0.74
    assert s.loc["I.P2", "report"] == f"0.844 ± {band.half:.3f}"
    assert S.verdict_band("I.P2", "test accuracy | best mlp", 0.844, [0.74]) is None      # one seed: no band
    assert S.verdict_band("I.P2", "test accuracy | best mlp", 0.844) == S.noise_half_width(
        "I.P2", "test accuracy | best mlp", 0.844)
