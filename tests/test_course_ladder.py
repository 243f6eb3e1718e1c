"""The attribution ladder of issue 20 (idl_helpers.experiments.course_ladder): rungs, verdict rule, extrapolation.

Fast (no data, no training): the rung definitions, and the verdict rule against hand-computed numbers; one
heavy test (`make test-heavy`) trains tiny models on one worker and on two and checks the numbers agree.
"""

import math

import pytest

from idl_helpers.experiments import course_ladder as cl
from idl_helpers.core.environment import PROFILES


def test_each_rung_adds_exactly_one_change_to_the_previous():
    assert [r.key for r in cl.RUNGS] == ["ours", "window", "split", "test", "glove100"]
    assert cl.changed_settings(cl.RUNGS[0], cl.RUNGS[0]) == []
    changes = [cl.changed_settings(a, b) for a, b in zip(cl.RUNGS, cl.RUNGS[1:])]
    assert changes == [["window"], ["split"], ["test"], ["glove_dim"]]


def test_rung_endpoints_are_ours_and_the_course():
    first, last = cl.RUNGS[0], cl.RUNGS[-1]
    assert first.glove_dim == cl.GLOVE_DIM == 50 and last.glove_dim == cl.REPORT_GLOVE_DIM == 100
    assert first.window.startswith("ours") and last.window.startswith("course")
    assert first.split.startswith("aclImdb") and last.split.startswith("course")
    assert "500" in last.test and "chosen on them" in last.test        # test-set selection, labelled so
    assert [r.measured for r in cl.RUNGS] == [True, True, True, True, False]   # 100-d: extrapolated


def test_profiles_set_the_same_keys_and_full_uses_the_reports_settings():
    assert set(cl.PROFILES) == set(PROFILES)
    assert len({frozenset(v) for v in cl.PROFILES.values()}) == 1
    full = cl.PROFILES["full"]
    assert full["epochs"] == 15 and full["n_seeds"] >= 3 and full["n_report"] == 500
    assert full["n_train"] is None and full["n_test"] is None and full["n_course_train"] is None
    assert all(p["n_seeds"] >= 3 for p in cl.PROFILES.values())


def test_models_are_the_pages_headline_configurations():
    by = {m.question: m for m in cl.MODELS}
    assert set(by) == {"I.P1.a", "I.P1.b", "I.P2", "I.P3", "I.P4"}
    assert (by["I.P1.a"].cell, by["I.P1.a"].act) == ("rnn", "relu")
    assert (by["I.P1.b"].cell, by["I.P1.b"].act) == ("gru", "tanh")
    assert dict(by["I.P4"].kw) == {"k": 5, "layers": 10, "width": 50, "dropout": 0.1}


# hand computation: three seeds with sd 0.01 → one run's 95% prediction band t(2, .975)·0.01·√(4/3)
# = 4.302653·0.01·1.154701 = 0.049683 (each seed was measured on its own 500 reviews: no binomial part added)
BAND = 0.049683


@pytest.mark.parametrize("ours, predicted, verdict", [
    ([0.70, 0.71, 0.72], [0.79, 0.80, 0.81], cl.EXPLAINED),       # after 0.000 ≤ band
    ([0.59, 0.60, 0.61], [0.72, 0.73, 0.74], cl.PARTLY),          # after 0.070 > band, ≤ 0.200 − band = 0.150
    ([0.70, 0.71, 0.72], [0.72, 0.73, 0.74], cl.NOT_EXPLAINED),   # after 0.070 > 0.090 − band = 0.040
    ([0.70, 0.71, 0.72], [0.86, 0.87, 0.88], cl.NOT_EXPLAINED),   # overshoot: after 0.070, before 0.090
    ([0.70, 0.71, 0.72], [0.80], cl.INCONCLUSIVE),                # one seed: no band
    ([0.77, 0.78, 0.79], [0.79, 0.80, 0.81], cl.WITHIN_NOISE),    # before 0.020 ≤ band: nothing to attribute
])
def test_verdict_rule_against_hand_computed_values(ours, predicted, verdict):
    v = cl.ladder_verdict(0.80, ours, predicted)
    assert v.verdict == verdict
    if verdict != cl.INCONCLUSIVE:
        assert v.noise == pytest.approx(BAND, abs=2e-6)
        assert v.ours == pytest.approx(sum(ours) / 3) and v.predicted == pytest.approx(sum(predicted) / 3)
    assert v.text.startswith(verdict)


def test_a_band_reaching_chance_makes_agreement_inconclusive_but_not_a_miss():
    # band = t(2, .975)·sd·√(1 + 1/3) = 4.303 · 0.15 · 1.1547 = 0.745: 0.70 − 0.745 reaches a coin's 0.5
    wide = cl.ladder_verdict(0.80, [0.70, 0.71, 0.72], [0.55, 0.70, 0.85])
    assert wide.reaches_chance and wide.verdict == cl.INCONCLUSIVE          # would be "within noise already"
    assert wide.noise == pytest.approx(0.7454, abs=1e-3) and "reaches chance" in wide.text
    explained = cl.ladder_verdict(0.80, [0.60, 0.61, 0.62], [0.55, 0.80, 1.05])
    assert explained.verdict == cl.INCONCLUSIVE                             # would be "explained"
    # band 0.100 around 0.55 reaches chance, yet the report (0.80) lies outside it: still a miss
    sd = 0.1 / (4.302653 * (4 / 3) ** 0.5)
    miss = cl.ladder_verdict(0.80, [0.60, 0.61, 0.62], [0.55 - sd, 0.55, 0.55 + sd])
    assert miss.reaches_chance and miss.noise == pytest.approx(0.1, abs=1e-4)
    assert miss.verdict == cl.NOT_EXPLAINED and "reaches chance" not in miss.text


def test_band_edge_counts_as_explained():
    v = cl.ladder_verdict(0.80, [0.70, 0.71, 0.72], [0.80 - BAND + 0.0001 - 0.01, 0.80 - BAND + 0.0001,
                                                     0.80 - BAND + 0.0001 + 0.01])
    assert v.verdict == cl.EXPLAINED


def test_extrapolation_continues_each_seeds_slope_one_doubling():
    trend = {25: {0: 0.70, 1: 0.72, 2: math.nan}, 50: {0: 0.80, 1: 0.78, 2: 0.75}}
    out = cl.extrapolate({0: 0.85, 1: 0.80, 2: 0.77}, trend)
    assert out == pytest.approx({0: 0.95, 1: 0.86})        # slope 0.10 and 0.06 per doubling; seed 2: no slope


def test_rows_effects_are_paired_differences_and_rung_four_is_marked_extrapolated():
    seeds = (0, 1, 2)
    base = {0: 0.70, 1: 0.72, 2: 0.74}
    acc = {"rnn": {"ours": base, "window": {s: v + 0.01 * (s + 1) for s, v in base.items()},
                   "split": {s: v + 0.02 for s, v in base.items()}, "test": {s: v + 0.03 for s, v in base.items()},
                   "glove100": {s: v + 0.05 for s, v in base.items()}}}
    rows = cl.ladder_rows(acc, models=cl.MODELS[:1])
    eff = {r["key"]: r["effect"] for r in rows}
    assert math.isnan(eff["ours"])
    assert eff["window"] == pytest.approx(0.02)                        # mean of 0.01, 0.02, 0.03
    # paired t interval of (0.01, 0.00, −0.01): mean 0, sd 0.01 → ±4.302653·0.01/√3 = ±0.024841
    w = next(r for r in rows if r["key"] == "split")
    assert w["effect"] == pytest.approx(0.0, abs=1e-12) and w["high"] == pytest.approx(0.024841, abs=1e-6)
    assert eff["test"] == pytest.approx(0.01) and eff["glove100"] == pytest.approx(0.02)
    assert [r["kind"] for r in rows] == ["measured"] * 4 + ["extrapolation"]
    assert [r["changes"] for r in rows] == ["", "window", "split", "test", "glove_dim"]
    assert all(set(r["per_seed"]) == set(seeds) for r in rows)


def test_claims_are_judged_on_every_measured_rung():
    hi, lo = {0: 0.80, 1: 0.82, 2: 0.81}, {0: 0.70, 1: 0.71, 2: 0.73}
    acc = {k: {r.key: (hi if k == "gru" else lo) for r in cl.RUNGS if r.measured} for k in ("gru", "rnn")}
    rows = cl.claims(acc)
    assert [r["key"] for r in rows] == ["ours", "window", "split", "test"]      # only the GRU-vs-RNN claim has data
    assert {r["verdict"] for r in rows} == {"holds"}


def test_records_use_the_pages_question_ids_and_ladder_metric_names():
    class Rec:
        def __init__(self):
            self.records = []

        def add(self, question, metric, value, **extra):
            self.records.append((question, metric, value))

    base = {0: 0.70, 1: 0.72, 2: 0.74}
    acc = {m.key: {r.key: {s: v + 0.01 * i for s, v in base.items()} for i, r in enumerate(cl.RUNGS)}
           for m in cl.MODELS}
    rows = cl.ladder_rows(acc)
    verdicts = cl.verdicts(acc)
    rec = Rec()
    cl.record(rec, rows, verdicts, cl.claims(acc))
    assert {q for q, _, _ in rec.records} == {"I.P1.a", "I.P1.b", "I.P2", "I.P3", "I.P4"}
    assert all(m.startswith("ladder: ") for _, m, _ in rec.records)
    got = {(q, m): v for q, m, v in rec.records}
    assert got[("I.P1.b", "ladder: predicted test accuracy (last rung)")] == pytest.approx(0.76)
    assert got[("I.P1.b", "ladder: verdict")] == verdicts["gru"][0].verdict
    notes = {"ours": {"train": 9, "validation": 1, "test": 5}, "course": {"train": 9, "held-out": 4, "report test": 2},
             "seeds": [0, 1, 2], "oov": "3 of 4,999 words (0.1%) not in GloVe"}
    prose = cl.summary(verdicts, cl.claims(acc), notes)
    assert set(prose) == {"ladder_verdicts", "ladder_verdicts_measured", "ladder_claims", "ladder_sizes"}
    # the data sizes and the course vocabulary's GloVe coverage are prose, not a printed dict
    assert "rung 3 on the first 2 of them; seeds 0, 1, 2" in prose["ladder_sizes"]
    assert prose["ladder_sizes"].endswith("the course's vocabulary: 3 of 4,999 words (0.1%) not in GloVe")


def test_every_claim_compares_models_the_ladder_trains_and_claim_models_get_no_verdict():
    keys = {m.key for m in cl.MODELS} | {m.key for m in cl.CLAIM_MODELS}
    assert len(keys) == len(cl.MODELS) + len(cl.CLAIM_MODELS)
    for q, _, a, b in cl.CLAIMS:
        assert a in keys and b in keys
        other = next((m for m in cl.CLAIM_MODELS if m.key in (a, b)), None)
        assert other is None or other.question == q
    rnn128 = next(m for m in cl.CLAIM_MODELS if m.key == "rnn128")
    assert (rnn128.cell, rnn128.act, rnn128.hidden) == ("rnn", "relu", 128)
    # rows and verdicts are the five headline models only, even when claim models have numbers
    base = {0: 0.70, 1: 0.72, 2: 0.74}
    acc = {m.key: {r.key: dict(base) for r in cl.RUNGS if r.measured or m in cl.MODELS}
           for m in cl.MODELS + cl.CLAIM_MODELS}
    assert {r["model"] for r in cl.ladder_rows(acc)} == {m.label for m in cl.MODELS}
    assert set(cl.verdicts(acc)) == {m.key for m in cl.MODELS}
    assert len({c["claim"] for c in cl.claims(acc)}) == len(cl.CLAIMS)


def test_summary_says_which_claims_change_verdict_with_the_pipeline():
    hi, lo = {0: 0.80, 1: 0.82, 2: 0.81}, {0: 0.70, 1: 0.71, 2: 0.73}
    acc = {"gru": {r.key: hi for r in cl.RUNGS if r.measured},
           "rnn": {r.key: (lo if r.key in ("ours", "window") else hi) for r in cl.RUNGS if r.measured}}
    notes = {"ours": {"train": 1, "validation": 1, "test": 1}, "course": {"train": 1, "held-out": 1, "report test": 1},
             "seeds": [0, 1, 2], "oov": "0 of 4,999 words not in GloVe"}
    text = cl.summary({}, cl.claims(acc), notes, models=())["ladder_claims"]
    assert "0 of 1 claims keep one verdict" in text and "changes with the pipeline for: GRU beats RNN (ReLU, 64)" in text


@pytest.mark.heavy  # four worker processes start (≈ 20–30 s under load): `make test` stays under 5 min
def test_train_models_gives_the_same_numbers_on_one_worker_or_two():
    """The ladder shares its runs out over the cores (recurrent stacks, then token-wise stacks, each also on
    PCA-projected vectors for the dimension trend): the worker count changes the time only. Each model's
    per-seed numbers stay under its own key (and dimension) and seed."""
    import numpy as np
    from types import SimpleNamespace

    from idl_helpers.data.imdb_glove import Split

    rng = np.random.default_rng(0)
    n, L = 48, 10
    ids = rng.integers(1, 30, (n, L)).astype(np.int64)
    labels = (ids[:, 0] % 2).astype(np.int64)
    split = Split(ids, np.full(n, L, np.int64), labels, np.arange(n), np.zeros(n), [""] * n)
    data = cl.RungData(rng.standard_normal((30, 4)).astype(np.float32), split, split, split, "tiny")
    models = (cl.Model("r", "rnn", "I.P1.a", cell="rnn", act="relu", hidden=6),
              cl.Model("g", "gru", "I.P1.b", cell="gru", act="tanh", hidden=6),
              cl.Model("m", "mlp", "I.P2", tokenwise="MeanMLP", kw=(("layers", 2), ("width", 8), ("dropout", 0.1))),
              cl.Model("w", "wsum", "I.P3", tokenwise="WeightedSumMLP", kw=(("layers", 2), ("width", 8),
                                                                           ("dropout", 0.1))))
    one, two = (cl.train_models(models, data, [3, 4], SimpleNamespace(epochs=1, workers=w), trend=models[::2],
                                trend_dims=(2,)) for w in (1, 2))
    assert list(one) == ["r", "g", "m", "w", ("r", 2), ("m", 2)] and all(list(one[k]) == [3, 4] for k in one)
    assert one == two
    # not one model's numbers under every key (the tiny token-wise models both stay at the majority class
    # after one step, so only the recurrent ones can tell)
    assert one["r"] != one["g"] and one["r"] != one[("r", 2)]
