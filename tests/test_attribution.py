"""Attribution tables and verdicts: each verdict can come out each way."""

import numpy as np

from idl_helpers.analysis import attribution as A
from idl_helpers.data.imdb_glove import Split, validation_split


def test_gap_verdict_within_noise_explained_and_not_explained():
    causes = [A.Cause("training length", "5 → 15 epochs", 0.85, 0.80),
              A.Cause("implementation", "ours → nn.GRU", 0.805, 0.80),
              A.Cause("GloVe 100-d", "trend 10→50-d continued", 0.82, 0.80, kind="extrapolation")]
    v = A.gap_verdict(0.81, 0.80, causes, noise=0.035)
    assert v.verdict == A.WITHIN_NOISE and "within noise" in v.text
    v = A.gap_verdict(0.87, 0.80, causes, noise=0.035)
    assert v.verdict == A.EXPLAINED and v.causes == ["training length"] and "explained by training length" in v.text
    v = A.gap_verdict(0.95, 0.80, causes, noise=0.035)
    assert v.verdict == A.NOT_EXPLAINED and v.residual < -0.035 and "not explained" in v.text
    assert v.gap < 0 and "ours − report -0.150" in v.text          # one sign convention: ours − report
    # an extrapolation alone never explains a gap
    v = A.gap_verdict(0.84, 0.80, causes[2:], noise=0.01)
    assert v.verdict == A.NOT_EXPLAINED and v.extrapolated > 0 and "not a measurement" in v.text
    # a cause pointing away from the report does not count
    v = A.gap_verdict(0.89, 0.80, [A.Cause("x", "", 0.75, 0.80)], noise=0.035)
    assert v.verdict == A.NOT_EXPLAINED and v.explained == 0
    table = A.attribution_table(0.89, 0.80, causes)
    assert list(table["cause"])[0].startswith("ours − report") and len(table) == 4
    assert np.isclose(table["effect"].iloc[0], 0.80 - 0.89)
    # no band (one seed of ours) → inconclusive, never a verdict from a borrowed band
    assert A.gap_verdict(0.95, 0.80, causes, noise=float("nan")).verdict == A.INCONCLUSIVE


def test_claim_verdict_holds_does_not_hold_inconclusive():
    assert A.claim_verdict([0.85, 0.86, 0.84], [0.70, 0.72, 0.69]).verdict == A.HOLDS
    assert A.claim_verdict([0.70, 0.72, 0.69], [0.85, 0.86, 0.84]).verdict == A.DOES_NOT_HOLD
    assert A.claim_verdict([0.80, 0.60, 0.75], [0.70, 0.78, 0.62]).verdict == A.INCONCLUSIVE
    # one run per group: inconclusive, and no spread can be passed in from elsewhere
    assert A.claim_verdict([0.85], [0.70]).verdict == A.INCONCLUSIVE
    # a tiny but certain difference is not an effect of the size a claim needs
    assert A.claim_verdict([0.801, 0.802, 0.8015], [0.800, 0.8005, 0.8002], min_effect=0.02).verdict == A.DOES_NOT_HOLD
    assert "95% interval" in A.claim_verdict([1, 2, 3], [0, 1, 2]).text


def test_within_verdict_each_way():
    assert A.within_verdict([0.801, 0.803, 0.802], [0.800, 0.802, 0.801], 0.01).verdict == A.HOLDS
    assert A.within_verdict([0.85, 0.851, 0.852], [0.80, 0.801, 0.802], 0.01).verdict == A.DOES_NOT_HOLD
    assert A.within_verdict([0.80, 0.70], [0.78, 0.75], 0.01).verdict == A.INCONCLUSIVE


def test_trend_verdict_each_way():
    x = np.repeat([20, 40, 60, 80, 100], 2)
    up = 0.001 * x + np.tile([0.002, -0.002], 5)
    assert A.trend_verdict(x, up).verdict == A.HOLDS
    assert A.trend_verdict(x, -up).verdict == A.DOES_NOT_HOLD
    noisy = np.tile([0.05, -0.05, 0.03, -0.04, 0.01], 2)
    assert A.trend_verdict(x, noisy).verdict == A.INCONCLUSIVE
    assert A.trend_verdict([1, 2], [1, 2]).verdict == A.INCONCLUSIVE


def test_noise_helpers():
    assert np.isclose(A.combine_noise(0.03, 0.04), 0.05)
    assert np.isnan(A.combine_noise(0.03, float("nan")))       # a missing spread is not zero
    assert np.isnan(A.seed_half_width([0.8]))
    assert A.seed_half_width([0.8, 0.82, 0.81]) > 0


def test_validation_split_is_stratified_fixed_and_disjoint():
    labels = np.array([0] * 600 + [1] * 400)
    split = Split(np.arange(1000)[:, None], np.ones(1000, int), labels, np.arange(1000), np.zeros(1000, int),
                  [str(i) for i in range(1000)])
    tr, va = validation_split(split, 0.1, seed=3)
    assert len(va) == 100 and len(tr) == 900 and (va.labels == 1).sum() == 40
    assert not set(tr.review_ids) & set(va.review_ids)
    tr2, va2 = validation_split(split, 0.1, seed=3)
    assert np.array_equal(va.review_ids, va2.review_ids)
    assert not np.array_equal(validation_split(split, 0.1, seed=4)[1].review_ids, va.review_ids)
