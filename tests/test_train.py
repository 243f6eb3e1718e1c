"""The shared training loop: curves, final evaluation set, divergence."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from idl_helpers.training.metrics import bootstrap_accuracy, classification_metrics
from idl_helpers.training.train import fit


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g)
    return x, (x[:, 0] + 0.3 * x[:, 1] > 0).long()


def test_curve_on_a_subset_final_metrics_on_the_whole_set():
    train, test = _data(400, 0), _data(300, 1)
    curve = (test[0][:50], test[1][:50])
    torch.manual_seed(0)
    m1 = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    r = fit(m1, train, curve, epochs=3, batch_size=32, lr=1e-2, progress=False, final_test=test)
    assert len(r.history.epochs) == 3 and r.test_metrics["n"] == 300 and len(r.test_proba) == 300
    with torch.no_grad():
        expected = torch.softmax(m1(test[0]), 1)[:, 1].numpy()
    np.testing.assert_allclose(r.test_proba, expected, rtol=1e-5, atol=1e-6)
    assert r.test_metrics == classification_metrics(test[1].numpy(), expected)
    # the same seed without final_test trains the same model; its metrics are on the curve set
    torch.manual_seed(0)
    m2 = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    r2 = fit(m2, train, curve, epochs=3, batch_size=32, lr=1e-2, progress=False)
    assert r2.test_metrics["n"] == 50
    assert [e["train_loss"] for e in r2.history.epochs] == [e["train_loss"] for e in r.history.epochs]


def test_divergence_is_recorded_not_reported_as_a_number():
    train, test = _data(200, 0), _data(100, 1)
    model = nn.Linear(5, 2)
    r = fit(model, (train[0] * 1e30, train[1]), test, epochs=3, batch_size=32, lr=1e30, progress=False)
    assert r.history.diverged and "became" in r.history.message
    assert r.test_metrics is None and r.test_proba is None


def test_metrics_and_small_test_set_noise():
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.array([0.1, 0.6, 0.4, 0.9]))
    assert m["accuracy"] == 0.5 and m["confusion"] == [[1, 1], [1, 1]] and m["roc_auc"] == 0.75
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 25_000)
    pred = np.where(rng.random(25_000) < 0.8, truth, 1 - truth)  # 80% accurate
    b = bootstrap_accuracy(truth, pred, size=500, n_boot=2000)
    # a 500-review estimate of an 80% classifier: std sqrt(.8 * .2 / 500) ≈ 0.018
    assert math.isclose(b["std"], math.sqrt(0.8 * 0.2 / 500), rel_tol=0.1)
    assert b["ci95_low"] < 0.8 < b["ci95_high"]


def _poison_last_step(model, n_steps):
    """A gradient hook that turns the gradient of the ``n_steps``-th backward pass into NaN, so
    the optimizer's *last* step writes NaN weights after the last loss was already finite."""
    calls = {"n": 0}

    def hook(g):
        calls["n"] += 1
        return g * float("nan") if calls["n"] == n_steps else g

    next(model.parameters()).register_hook(hook)
    return calls


def test_nan_on_the_last_step_is_recorded_as_diverged_without_metrics():
    train, test = _data(64, 0), _data(40, 1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    epochs, batch = 2, 32                              # 2 steps per epoch: the 4th is the last
    calls = _poison_last_step(model, n_steps=epochs * 2)
    r = fit(model, train, test, epochs=epochs, batch_size=batch, lr=1e-2, progress=False)
    assert calls["n"] == 4
    assert r.history.diverged and "NaN" in r.history.message
    assert r.test_metrics is None and r.test_proba is None          # no metric code ran on NaN outputs
    # the healthy first epoch is kept; the poisoned one is not recorded with a test accuracy
    assert [e["epoch"] for e in r.history.epochs] == [1]
    assert all(math.isfinite(e["test_acc"]) and math.isfinite(e["test_loss"]) for e in r.history.epochs)


def test_overflowing_outputs_on_the_final_set_are_diverged_not_a_crash():
    """Finite weights, but outputs that overflow on the final test set: no ROC AUC of NaN."""
    train, test = _data(64, 0), _data(40, 1)
    huge = (test[0] * 1e39, test[1])                    # inf in float32
    model = nn.Linear(5, 2)
    r = fit(model, train, test, epochs=1, batch_size=32, lr=1e-2, progress=False, final_test=huge)
    assert r.history.diverged and r.test_metrics is None and r.test_proba is None
    assert len(r.history.epochs) == 1                   # the curve set was fine


def test_evaluate_gives_no_accuracy_for_nan_outputs():
    from idl_helpers.training.train import evaluate

    model = nn.Linear(5, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    loss, acc, proba = evaluate(model, _data(20, 0))
    assert math.isnan(loss) and math.isnan(acc) and np.isnan(proba).any()


# --- several models trained as one stacked model ------------------------------------------------

from idl_helpers.models.recurrent import RecurrentClassifier, StackedRecurrentClassifier  # noqa: E402
from idl_helpers.training.train import fit_stacked  # noqa: E402


def _reviews(n, seed, V=40, T=12):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, V, (n, T))
    lengths = rng.integers(3, T + 1, n)
    ids[np.arange(T)[None] >= lengths[:, None]] = 0
    return torch.tensor(ids), torch.tensor(lengths), torch.tensor((ids[:, 0] % 2).astype(np.int64))


def _emb(V=40, d=6):
    e = torch.tensor(np.random.default_rng(5).normal(size=(V, d)), dtype=torch.float32)
    e[0] = 0
    return e


def _build(cell, seeds, **kw):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(RecurrentClassifier(_emb(), cell, 8, **kw))
    return out


def test_fit_stacked_trains_each_member_as_fit_trains_it_alone():
    """Batch order from each seed, per-member clipping, curves, best epoch, final and selected test
    metrics: all as separate fit() runs, to float rounding (1e-6) after three epochs."""
    torch.set_num_threads(1)
    train, val, test = _reviews(96, 1), _reviews(40, 2), _reviews(50, 3)
    for cell, kw in (("gru", {"act": "tanh"}), ("rnn", {"act": "relu"})):
        seeds, clips = [0, 1, 2], [None, 0.01, None]
        alone = [fit(m, train, val, epochs=3, batch_size=32, lr=1e-2, seed=s, progress=False, final_test=test,
                     clip_grad_norm=c, keep_best=True, eval_name="val")
                 for m, s, c in zip(_build(cell, seeds, **kw), seeds, clips)]
        together = fit_stacked(StackedRecurrentClassifier(_build(cell, seeds, **kw)), train, val, seeds=seeds,
                               epochs=3, batch_size=32, lr=1e-2, final_test=test, clip_grad_norm=clips,
                               keep_best=True, eval_name="val")
        for a, b in zip(alone, together):
            pa, pb = dict(a.model.named_parameters()), dict(b.model.named_parameters())
            for name in pa:
                assert torch.allclose(pa[name], pb[name], atol=1e-6, rtol=0), (cell, name)
            for ea, eb in zip(a.history.epochs, b.history.epochs):
                for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
                    assert math.isclose(ea[key], eb[key], abs_tol=1e-6), (cell, key)
            np.testing.assert_allclose(a.test_proba, b.test_proba, atol=1e-6)
            assert a.history.best_epoch == b.history.best_epoch
            assert a.selected_metrics == b.selected_metrics
        # clipping changed the clipped member's training (so the check above compared something)
        plain = fit(_build(cell, [1], **kw)[0], train, val, epochs=3, batch_size=32, lr=1e-2, seed=1,
                    progress=False, final_test=test)
        assert np.abs(plain.test_proba - together[1].test_proba).max() > 1e-4


def test_one_members_divergence_leaves_the_others_as_if_alone():
    torch.set_num_threads(1)
    train, val = _reviews(64, 1), _reviews(30, 2)
    members = _build("rnn", [0, 1], act="relu")
    with torch.no_grad():
        members[1].rnn.W_h.fill_(1e30)                 # member 1's outputs overflow at once
    res = fit_stacked(StackedRecurrentClassifier(members), train, val, seeds=[0, 1], epochs=2, batch_size=32,
                      lr=1e-2)
    assert res[1].history.diverged and res[1].test_metrics is None and res[1].test_proba is None
    alone = fit(_build("rnn", [0], act="relu")[0], train, val, epochs=2, batch_size=32, lr=1e-2, seed=0,
                progress=False)
    assert not res[0].history.diverged
    np.testing.assert_allclose(res[0].test_proba, alone.test_proba, atol=1e-6)


def test_clip_grad_norm_bounds_every_step():
    train, test = _data(200, 0), _data(50, 1)
    torch.manual_seed(0)
    model = nn.Linear(5, 2)
    norms = []
    orig = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **k):
        params = list(params)
        orig(params, max_norm, *a, **k)
        norms.append(float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))))

    torch.nn.utils.clip_grad_norm_ = spy
    try:
        fit(model, (train[0] * 100, train[1]), test, epochs=1, batch_size=32, lr=1e-3, progress=False,
            clip_grad_norm=0.1)
    finally:
        torch.nn.utils.clip_grad_norm_ = orig
    assert norms and max(norms) <= 0.1 + 1e-5
