"""The token-wise pages' attribution helpers: seed statistics, PCA tables, training-length and
dimension rows, and a gap verdict that never claims "explained" from missing numbers."""

import math

import numpy as np

from idl_helpers.analysis import attribution
from idl_helpers.analysis.tokenwise_attribution import (answer_row, dimension_trend, gap, length_cause, pca_tables,
                                               seed_stats, verdict_text)
from idl_helpers.training.train import History


def run(acc, val=0.8, train=0.9):
    return {"metrics": None if acc is None else {"accuracy": acc}, "val_acc": val, "train_acc": train}


def test_seed_stats_mean_spread_and_diverged_runs():
    st = seed_stats([run(0.80), run(0.82), run(0.84), run(None)])
    assert math.isclose(st["mean"], 0.82) and st["n"] == 3
    assert math.isclose(st["std"], 0.02) and st["half"] > 0.02
    one = seed_stats([run(0.8)])
    assert one["std"] == 0.0 and math.isnan(one["half"])


def test_pca_tables_keep_zero_rows_and_lose_information_with_fewer_dims():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(50, 8)).astype(np.float32) * np.linspace(3, 0.1, 8)
    e[:2] = 0
    t = pca_tables(e, (2, 8))
    assert (t[2][:2] == 0).all() and (t[2][:, 2:] == 0).all()
    # the full projection keeps all distances; two components keep less of them
    d = lambda m: np.linalg.norm(m[2:, None] - m[None, 2:], axis=-1)
    assert np.allclose(d(t[8]), d(e), atol=1e-4)
    assert not np.allclose(d(t[2]), d(e), atol=1e-2)


def hist(vals):
    h = History()
    h.epochs = [{"epoch": i + 1, "val_acc": v, "train_acc": v} for i, v in enumerate(vals)]
    return h


def test_length_cause_is_an_extrapolation_when_short_and_nothing_at_15():
    short = length_cause([hist([0.70, 0.74, 0.76, 0.78])], 4)
    assert short.kind == "extrapolation" and math.isclose(short.effect, 0.02 * 11)
    full = length_cause([hist([0.8] * 15)], 15)
    assert full.kind == "effect" and full.effect == 0


def test_dimension_trend_extrapolates_per_doubling():
    tr, ext = dimension_trend({10: [0.70], 25: [0.70 + 0.02 * math.log2(2.5)], 50: [0.70 + 0.02 * math.log2(5)]}, 50)
    assert math.isclose(tr.estimate, 0.02, abs_tol=1e-9) and math.isclose(ext, 0.02)


def test_gap_verdict_explains_only_with_measured_effects():
    st = seed_stats([run(0.80), run(0.81), run(0.79)])
    causes = [attribution.Cause("training length", "x", 0.86, 0.80)]
    _, v, band = gap(0.87, st, 0.01, causes)
    assert v.verdict == attribution.EXPLAINED and band > 0
    extrap = [attribution.Cause("input", "x", 0.86, 0.80, kind="extrapolation")]
    _, v2, _ = gap(0.87, st, 0.01, extrap)
    assert v2.verdict == attribution.NOT_EXPLAINED


def test_planted_nan_never_explains():
    """A diverged headline (NaN mean) or NaN effects must not produce "explained" or "within noise"."""
    st = seed_stats([run(None), run(None)])
    _, v, _ = gap(0.87, st, float("nan"), [attribution.Cause("training length", "x", float("nan"), float("nan"))])
    assert v.verdict == attribution.INCONCLUSIVE and "not judged" in verdict_text(v)
    ok = seed_stats([run(0.80), run(0.80)])
    _, v2, _ = gap(0.87, ok, 0.01, [attribution.Cause("training length", "x", float("nan"), 0.80)])
    assert v2.verdict == attribution.NOT_EXPLAINED
    assert "nan" in answer_row("x", 0.87, st, verdict_text(v))["ours (95% interval over seeds)"]
