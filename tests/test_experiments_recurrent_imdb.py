"""idl_helpers.experiments.recurrent_imdb: the settings of pages 10–12 and the small helpers they share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from idl_helpers.models import recurrent
from idl_helpers.experiments import recurrent_imdb as ex
from idl_helpers.core.profiles import PROFILES, settings

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
