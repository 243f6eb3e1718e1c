"""Every statistical rule of :mod:`idl_helpers.analysis.stats` against a textbook value.

Each test fails when its rule is broken the way the issue found it broken: t replaced by the normal
quantile, seed twins analysed unpaired, a one-run group given another run's spread, collapsed runs
folded into the healthy ones, a rise inside the noise counted as a rise.
"""

import math

import numpy as np
import pytest

from idl_helpers.analysis import attribution as A
from idl_helpers.analysis import stats

# Student's sleep data (Cushny & Peebles 1905, as in R's `sleep`): extra hours of sleep of the same
# ten patients under two drugs — seed twins in our terms.
DRUG_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
DRUG_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

# Welch's t-test, Wikipedia's first worked example: t = −2.46, ν ≈ 24.99
WELCH_A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
WELCH_A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def test_t_quantiles_are_the_tables_values():
    # two-sided 95%: the t table's column t_{0.975}
    assert stats.t_quantile(2) == pytest.approx(4.303, abs=5e-4)
    assert stats.t_quantile(4) == pytest.approx(2.776, abs=5e-4)
    assert stats.t_quantile(9) == pytest.approx(2.262, abs=5e-4)
    assert stats.z_quantile() == pytest.approx(1.960, abs=5e-4)
    # the t interval of a mean of three seeds is 4.303 · sd / √3, not 1.96 · sd / √3
    iv = stats.mean_interval([0.80, 0.82, 0.84])
    assert iv.half == pytest.approx(4.303 * 0.02 / math.sqrt(3), rel=1e-3)
    assert not stats.mean_interval([0.8]).ok


def test_welch_degrees_of_freedom_and_interval_match_the_worked_example():
    iv = stats.welch_interval(WELCH_A1, WELCH_A2)
    assert iv.df == pytest.approx(24.99, abs=0.01)
    se = (iv.high - iv.low) / 2 / stats.t_quantile(iv.df)
    assert iv.estimate / se == pytest.approx(-2.46, abs=0.005)          # the example's t statistic
    # and R's t.test(extra ~ group, data = sleep): Welch df 17.776, interval [-3.3655, 0.2055]
    w = stats.welch_interval(DRUG_1, DRUG_2)
    assert w.df == pytest.approx(17.776, abs=1e-3)
    assert (w.low, w.high) == pytest.approx((-3.3654832, 0.2054832), abs=1e-6)


def test_paired_interval_matches_students_sleep_data_and_is_used_for_twins():
    # R: t.test(extra ~ group, data = sleep, paired = TRUE): mean −1.58, df 9, 95% [−2.4598858, −0.7001142]
    p = stats.paired_interval(DRUG_1, DRUG_2)
    assert p.df == 9 and p.estimate == pytest.approx(-1.58)
    assert (p.low, p.high) == pytest.approx((-2.4598858, -0.7001142), abs=1e-6)
    # seed twins keyed by seed are matched on the seed, not on the order
    by_seed_1 = {s: v for s, v in zip(range(10), DRUG_1)}
    by_seed_2 = {s: v for s, v in reversed(list(zip(range(10), DRUG_2)))}
    assert stats.paired_interval(by_seed_1, by_seed_2).low == pytest.approx(p.low)
    # the same numbers read as independent groups cannot tell the drugs apart; read as twins they can
    assert A.claim_verdict(DRUG_2, DRUG_1, paired=True).verdict == A.HOLDS
    assert A.claim_verdict(DRUG_2, DRUG_1).verdict == A.INCONCLUSIVE
    assert "paired" in A.claim_verdict(DRUG_2, DRUG_1, paired=True).detail
    with pytest.raises(ValueError):
        stats.paired_interval([1, 2, 3], [1, 2])                     # not twins


def test_prediction_band_is_t_times_sd_times_sqrt_one_plus_one_over_n():
    seeds = [0.80, 0.82, 0.84]                 # sd 0.02, n 3: 4.303 · 0.02 · √(4/3) = 0.0994
    assert stats.prediction_half_width(seeds) == pytest.approx(4.303 * 0.02 * math.sqrt(4 / 3), rel=1e-3)
    # the report's 500 reviews at p = 0.8: 1.96 · √(0.8 · 0.2 / 500) = 0.0351
    assert stats.binomial_half_width(0.8) == pytest.approx(0.0351, abs=1e-4)
    band = stats.report_band(seeds, report_p=0.8)
    assert band.half == pytest.approx(math.hypot(0.0994, 0.0351), abs=2e-4)
    assert band.half > math.hypot(1.96 * 0.02, 0.0351) + 0.04          # far wider than 1.96 × sd
    # a bootstrap sd of the report's measurement replaces the binomial part
    assert stats.report_band(seeds, report_sd=0.01).report_half == pytest.approx(0.0196, abs=1e-4)
    # one seed: no seed interval, no band, and the gap verdict says inconclusive
    one = stats.report_band([0.80], report_p=0.8)
    assert not one.ok and "one run" in one.text
    v, _, _ = A.report_gap(0.95, [0.80], [])
    assert v.verdict == A.INCONCLUSIVE and "no seed spread" in v.text
    # a gap inside the t band but outside a 1.96 × sd band is within noise
    v, band, _ = A.report_gap(0.90, seeds, [])
    assert v.verdict == A.WITHIN_NOISE and abs(v.gap) > math.hypot(1.96 * 0.02, 0.0268)


def test_no_spread_is_borrowed_for_a_one_run_group():
    assert not stats.welch_interval([0.85], [0.70, 0.71, 0.72]).ok
    v = A.claim_verdict([0.85], [0.70, 0.71, 0.72])
    assert v.verdict == A.INCONCLUSIVE and "one run: no spread" in v.text
    with pytest.raises(TypeError):
        A.claim_verdict([0.85], [0.70], sd=0.01)                          # no spread can be passed in
    assert np.isnan(stats.combine(0.03, float("nan")))


def test_collapsed_runs_are_counted_not_averaged():
    # the RNN-128 case: two healthy seeds and one collapsed to chance
    accs = [0.84, 0.85, 0.50]
    s = stats.split_collapsed(accs)
    assert s.healthy == [0.84, 0.85] and s.collapsed == [0.50] and "1 of 3" in s.text
    assert stats.prediction_half_width(s.healthy) < 0.15 < stats.prediction_half_width(accs)
    # explicit flags (a run that fell from its own best) win over the threshold
    assert stats.split_collapsed([0.84, 0.70], [False, True]).collapsed == [0.70]
    from idl_helpers.training import sweep
    assert stats.COLLAPSE_BELOW == sweep.COLLAPSE_BELOW


def test_a_rise_counts_only_when_its_interval_excludes_zero():
    # II.5b: accuracy falls with p, with a +0.0003 "rise" from 0.3 to 0.5 far inside the seed noise
    seeds = (0, 1, 2)
    noise = {0: 0.004, 1: -0.006, 2: 0.002}
    curve = {0.0: 0.760, 0.1: 0.758, 0.3: 0.752, 0.5: 0.7523, 0.7: 0.745}
    twins = {p: {s: m + noise[s] + 0.003 * ((s * 7 + int(p * 10)) % 3 - 1) for s in seeds} for p, m in curve.items()}
    assert stats.rises(twins, paired=True) == []
    verdict, text = A.falls_verdict(twins, paired=True)
    assert verdict == A.HOLDS and "no step rises" in text
    # a real rise (+0.02 on every seed) is one
    bumped = {p: ({s: v + 0.02 for s, v in d.items()} if p == 0.5 else d) for p, d in twins.items()}
    up = stats.rises(bumped, paired=True)
    assert [(s.start, s.end) for s in up] == [(0.3, 0.5)]
    assert A.falls_verdict(bumped, paired=True)[0] == "holds in part"
    # one seed per setting: no interval, so nothing rises and nothing is established
    single = {p: {0: m} for p, m in curve.items()}
    assert stats.rises(single, paired=True) == [] and A.falls_verdict(single, paired=True)[0] == A.INCONCLUSIVE
