"""idl_helpers.experiments.recurrent_imdb: the settings of pages 10–12 and the small helpers they share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from idl_helpers.models import recurrent
from idl_helpers.experiments import recurrent_imdb as ex
from idl_helpers.core.environment import PROFILES, settings

TABLES = {"10_I_P1a_rnn": ex.P1A_PROFILES, "11_I_P1b_gru": ex.P1B_PROFILES,
          "12_I_P1b_parameter_matched": ex.MATCHED_PROFILES}


@pytest.mark.parametrize("page", TABLES)
def test_every_profile_has_the_shared_imdb_settings(page):
    table = TABLES[page]
    for p in PROFILES:
        cfg = settings(p, **table)              # raises when the profiles set different keys
        assert cfg.glove_dim == ex.GLOVE_DIM and cfg.val_fraction == ex.VAL_FRACTION[p]
    assert table["full"]["epochs"] == 15 and table["full"]["probe_epochs"] is None   # the report's recipe
    assert table["smoke"]["n_train"] and table["quick"]["probe_epochs"] == 15       # quick measures the missing epochs


def test_counted_parameters_are_the_formula_and_the_reports():
    assert ex.count("rnn", 100, 64) == recurrent.param_count("rnn", 100, 64) == 12_673
    assert ex.count("gru", 100, 64) == recurrent.param_count("gru", 100, 64) == 33_793


def test_acc_and_by_seed_leave_out_unhealthy_runs():
    run = lambda seed, a, ok=True: SimpleNamespace(run=SimpleNamespace(seed=seed), metrics={"accuracy": a}, ok=ok)
    g = [run(0, 0.8), run(1, 0.5, ok=False), run(2, 0.7)]
    assert ex.acc(g) == [0.8, 0.7]
    assert ex.by_seed(g) == {0: 0.8, 2: 0.7}


def test_healthy_mean_leaves_collapsed_runs_out_of_the_mean():
    run = lambda a: SimpleNamespace(run=SimpleNamespace(seed=0), metrics={"accuracy": a}, ok=True)
    split, mean = ex.healthy_mean([run(0.80), run(0.82), run(0.50)])
    assert split.collapsed == [0.50] and mean == pytest.approx(0.81)
    assert ex.healthy_mean([])[1] != ex.healthy_mean([])[1]          # NaN: no healthy run


@pytest.mark.parametrize("page, qid, cell", [(ex.RNNPage, "I.P1.a", "rnn"), (ex.GRUPage, "I.P1.b", "gru")])
def test_the_shared_page_code_is_told_its_question_cell_and_titles(page, qid, cell):
    assert (page.QID, page.CELL) == (qid, cell)
    for title in (page.HISTORY_TITLE, page.DIVERGED_TITLE):
        assert "{act}" in title and title.format(act="tanh")
    assert page.CONFUSION_TITLE.format(act="tanh", seed=7).endswith("(seed 7)")


class _Rec:
    def __init__(self):
        self.rows = []

    def add(self, q, metric, value, **extra):
        self.rows.append((q, metric, value, extra))


def _bare(page, **attrs):
    """A page object without a notebook context: only what a shared helper reads."""
    p = page.__new__(page)
    p.rec, p.seed = _Rec(), 10
    for k, v in attrs.items():
        setattr(p, k, v)
    return p


@pytest.mark.parametrize("page", [ex.RNNPage, ex.GRUPage, ex.MatchedPage])
def test_every_page_counts_its_seeds_up_from_the_context_seed_and_records_claims_under_its_question(page):
    p = _bare(page)
    assert p.take(3) == [10, 11, 12] and p.take(0) == []
    v = SimpleNamespace(verdict="holds", estimate=0.1, low=0.05, high=0.15)
    p._record_claim("x beats y", v)
    assert p.rec.rows == [(page.QID, "claim: x beats y", "holds", dict(estimate=0.1, low=0.05, high=0.15))]


def test_the_500_review_band_is_the_mean_bootstrap_std_and_nan_without_runs():
    assert _bare(ex.RNNPage, noise={"a": {"std": 0.01}, "b": {"std": 0.03}})._half_width() == pytest.approx(0.0392)
    assert _bare(ex.GRUPage, noise={})._half_width() != _bare(ex.GRUPage, noise={})._half_width()


def test_the_dimension_trend_of_any_per_run_value_extrapolates_to_the_reports_glove():
    run = lambda a, t: SimpleNamespace(ok=True, metrics={"accuracy": a}, history=SimpleNamespace(final={"train_acc": t}))
    groups = {10: [run(0.70, 0.80), run(0.72, 0.81)], 25: [run(0.74, 0.84)], 50: [run(0.76, 0.86), run(0.78, 0.88)]}
    p = _bare(ex.GRUPage, cfg=SimpleNamespace(glove_dim=50))
    trend, extrap = p._dim_trend(groups)
    assert trend.estimate > 0 and extrap == pytest.approx(trend.estimate)        # 50 → 100-d: one doubling
    tr, tr_extrap = p._dim_trend(groups, lambda o: o.history.final["train_acc"], what="slope")
    assert tr.estimate > 0 and tr_extrap == pytest.approx(tr.estimate)
