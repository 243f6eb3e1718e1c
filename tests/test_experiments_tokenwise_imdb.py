"""idl_helpers.experiments.tokenwise_imdb: the settings of pages 20–22 and the comparison page's claims."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from idl_helpers.analysis import attribution
from idl_helpers.experiments import tokenwise_imdb as ex
from idl_helpers.core.environment import PROFILES, settings

TABLES = {"20_I_P2_tokenwise_mlp": ex.P2_PROFILES, "21_I_P3_weighted_sum": ex.P3_PROFILES,
          "22_I_P4_restricted_attention": ex.P4_PROFILES}


@pytest.mark.parametrize("page", TABLES)
def test_every_profile_has_the_shared_settings(page):
    table = TABLES[page]
    for p in PROFILES:
        cfg = settings(p, **table)              # raises when the profiles set different keys
        assert (cfg.batch_size, cfg.lr, cfg.val_fraction, cfg.pca_dims) == (ex.BATCH_SIZE, ex.LR, ex.VAL_FRACTION[p],
                                                                            ex.PCA_DIMS)
    assert table["full"]["epochs"] == 15 and table["full"]["n_test"] is None


def test_the_report_table_and_the_scheduling_guess():
    assert ex.GUESS in ex.REPORT_TABLE and ex.GUESS == (ex.MLP["layers"], ex.MLP["width"], ex.MLP["dropout"])
    assert all(c in ex.P2_PROFILES[p]["configs"] for p in PROFILES for c in ex.REPORT_TABLE)


def test_metric_names_of_the_comparison():
    assert ex.metric_name("test accuracy", "") == "test accuracy"
    assert ex.metric_name("test F1", "best mlp") == "test F1 | best mlp"


def _page(records):
    """A ComparisonPage over the given (question, metric, value, extra) rows, recording into a list."""
    page = ex.ComparisonPage.__new__(ex.ComparisonPage)
    added = []
    page.rec = SimpleNamespace(add=lambda q, m, v, **kw: added.append((q, m, v, kw)))
    page.recorded = pd.DataFrame([{"question": q, "metric": m, "value": v, "extra": e} for q, m, v, e in records])
    return page, added


def test_the_cross_page_claims_are_judged_from_the_recorded_seeds(monkeypatch):
    monkeypatch.setattr(ex, "_glue", lambda name, value: None)
    plain, weighted, attention = [0.80, 0.81, 0.79], [0.85, 0.86, 0.84], [0.82, 0.83, 0.84]
    page, added = _page([("I.P2", "test accuracy | mlp layers=10 width=50 dropout=0.1", 0.8, {"per_seed": plain}),
                         ("I.P3", "test accuracy", 0.85, {"per_seed": weighted}),
                         ("I.P4", "test accuracy", 0.83, {"per_seed": attention})])
    page.claims()
    got = {(q, m): v for q, m, v, _ in added}
    want_w = attribution.claim_verdict(weighted, plain).verdict                 # weighted − plain
    want_a = attribution.claim_verdict(weighted, attention).verdict             # weighted − attention
    assert got == {("I.P3", "claim: the weighted sum beats the plain average (10×50 MLP)"): want_w,
                   ("I.P4", "claim: restricted attention falls below the weighted sum"): want_a}


def test_a_claim_without_results_is_inconclusive(monkeypatch):
    monkeypatch.setattr(ex, "_glue", lambda name, value: None)
    page, added = _page([("I.P3", "test accuracy", 0.85, {"per_seed": [0.85, 0.86]})])
    page.claims()
    assert [v for _, _, v, _ in added] == [attribution.INCONCLUSIVE] * 2


def test_the_comparison_reads_a_pages_extras_and_seeds():
    page, _ = _page([("I.P3", "test accuracy", 0.85, {"per_seed": [0.85, None, float("nan"), 0.86]}),
                     ("I.P4", "test accuracy", 0.83, None)])
    assert page.extra("I.P3", "test accuracy")["per_seed"][0] == 0.85
    assert page.extra("I.P4", "test accuracy") == {} == page.extra("I.P2", "test accuracy")   # no dict / not run
    assert page.per_seed("I.P3", "test accuracy") == [0.85, 0.86]
    assert page.per_seed("I.P4", "test accuracy") == []
    assert page.test_runs("I.P3", "").healthy == [0.85, 0.86]


def test_the_probe_trend_is_recorded_once_per_page_and_feeds_the_input_representation_row():
    rows = []
    page = ex.WeightedSumPage.__new__(ex.WeightedSumPage)
    page.rec = SimpleNamespace(add=lambda q, metric, value, **extra: rows.append((q, metric, value)))
    page._dim_trend({25: [0.74], 10: [0.70], 50: [0.78]}, " | best mlp")
    assert page.dims == [10, 25, 50] and page.dim_extrap > 0
    assert rows == [("I.P3", "test accuracy per doubling of the GloVe dimension (probe, 10–50-d) | best mlp",
                     page.dim_trend.estimate)]
    cause = page._dim_cause({"mean": 0.8}, 6_000, 4)
    assert "10/25/50-d probe trend continued (6,000 reviews, 4 epochs)" in cause.setting
    assert cause.kind == "extrapolation"
