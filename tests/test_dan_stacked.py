"""The stacked DAN trainer (``idl_helpers.training.dan.fit_dans``) against separate ``train.fit`` runs.

II.5a–d train several DANs (seeds, activations, word-dropout values) side by side as one
:class:`~idl_helpers.models.dan.StackedDAN`. Each member must be the run ``fit`` would make alone with
the same seed: the same weights, curves, validation-selected epoch and test numbers.
"""

import math

import numpy as np
import pytest
import torch

from idl_helpers.models.dan import DAN, StackedDAN
from idl_helpers.training.dan import fit_dans
from idl_helpers.training.train import fit

torch.set_num_threads(1)

MIXED = ["leaky_relu", "hardswish"]


def _reviews(n, seed, V=60, T=15):
    rng = np.random.default_rng(seed)
    ids = rng.integers(2, V, (n, T))
    lengths = rng.integers(1, T + 1, n)
    ids[np.arange(T)[None] >= lengths[:, None]] = 0
    return torch.tensor(ids), torch.tensor(lengths), torch.tensor((ids[:, 0] % 2).astype(np.int64))


def _emb(V=60, d=6):
    e = np.random.default_rng(5).normal(size=(V, d)).astype(np.float32)
    e[0] = 0
    return e


def _alone(kw, seeds, train, val, test, epochs=3):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        out.append(fit(DAN(_emb(), **kw), train, val, epochs=epochs, batch_size=8, lr=1e-2, seed=s, progress=False,
                       final_test=test, keep_best=True, eval_name="val"))
    return out


def _same(a, b, tol=1e-5):
    pa, pb = dict(a.model.named_parameters()), dict(b.final_model.named_parameters())
    for name in pa:
        if pa[name].requires_grad:
            assert torch.allclose(pa[name], pb[name], atol=tol, rtol=0), name
    assert len(a.history.epochs) == len(b.history.epochs)
    for ea, eb in zip(a.history.epochs, b.history.epochs):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert math.isclose(ea[key], eb[key], abs_tol=tol), key
    assert a.history.best_epoch == b.best_epoch
    np.testing.assert_allclose(a.test_proba, b.final_proba, atol=tol)
    np.testing.assert_allclose(a.selected_proba, b.selected_proba, atol=tol)
    assert a.selected_metrics["accuracy"] == b.selected_test["accuracy"]


@pytest.mark.parametrize("kw", [dict(hidden=(12, 7)), dict(hidden=(12, 7), activations=MIXED, word_dropout=0.3),
                                dict(hidden=())], ids=["relu", "mixed+dropout", "linear"])
def test_each_member_is_the_run_fit_makes_alone(kw):
    train, val, test = _reviews(100, 1), _reviews(40, 2), _reviews(50, 3)
    seeds = [0, 1, 2]
    alone = _alone(kw, seeds, train, val, test)
    together = fit_dans(StackedDAN.from_seeds(_emb(), seeds, **kw), train, val, seeds=seeds, epochs=3,
                        batch_size=8, lr=1e-2, test=test)
    for a, b in zip(alone, together):
        _same(a, b)
    # the members really differ (so the comparison above compared something)
    assert np.abs(together[0].final_proba - together[1].final_proba).max() > 1e-4


def test_members_with_different_activations_and_dropout_in_one_stack():
    """Concatenated stacks (all-ReLU and mixed activations; word dropout 0 and 0.5) train each member
    as alone, and the selected model is the one of the validation-best epoch."""
    train, val, test = _reviews(100, 1), _reviews(40, 2), _reviews(50, 3)
    kws = [dict(hidden=(12, 7)), dict(hidden=(12, 7), activations=MIXED, word_dropout=0.5)]
    stack = StackedDAN.concat([StackedDAN.from_seeds(_emb(), [0, 1], **kw) for kw in kws])
    together = fit_dans(stack, train, val, seeds=[0, 1, 0, 1], epochs=4, batch_size=8, lr=1e-2, test=test)
    alone = _alone(kws[0], [0, 1], train, val, test, epochs=4) + _alone(kws[1], [0, 1], train, val, test, epochs=4)
    for a, b in zip(alone, together):
        _same(a, b)
        acc = b.history.series("val_acc")
        assert b.best_epoch == int(np.argmax(acc)) + 1
        assert "test_acc" in b.history.epochs[0]
        assert math.isclose(b.history.epochs[b.best_epoch - 1]["test_acc"], b.selected_test["accuracy"],
                            abs_tol=1e-6)
        logits = b.model.eval()(test[0], test[1])
        np.testing.assert_allclose(torch.softmax(logits, 1)[:, 1].detach().numpy(), b.selected_proba, atol=1e-5)
    assert together[2].model.activation_names == MIXED and together[2].model.word_dropout == 0.5


def test_selected_test_without_per_epoch_test_pass():
    train, val, test = _reviews(100, 1), _reviews(40, 2), _reviews(50, 3)
    a = fit_dans(StackedDAN.from_seeds(_emb(), [0, 1], hidden=(8,)), train, val, seeds=[0, 1], epochs=3,
                 batch_size=8, lr=1e-2, test=test)
    b = fit_dans(StackedDAN.from_seeds(_emb(), [0, 1], hidden=(8,)), train, val, seeds=[0, 1], epochs=3,
                 batch_size=8, lr=1e-2, test=test, test_every_epoch=False)
    for ra, rb in zip(a, b):
        assert "test_acc" not in rb.history.epochs[0]
        np.testing.assert_allclose(ra.selected_proba, rb.selected_proba, atol=1e-6)
        assert ra.selected_test == rb.selected_test


def test_a_diverging_member_leaves_the_others_alone():
    train, val, test = _reviews(64, 1), _reviews(30, 2), _reviews(30, 3)
    stack = StackedDAN.from_seeds(_emb(), [0, 1], hidden=(8,))
    with torch.no_grad():
        stack.stacked()["0.weight"][1].fill_(float("nan"))
    runs = fit_dans(stack, train, val, seeds=[0, 1], epochs=2, batch_size=8, lr=1e-2, test=test)
    assert runs[1].diverged and runs[1].selected_test is None
    torch.manual_seed(0)
    alone = fit(DAN(_emb(), hidden=(8,)), train, val, epochs=2, batch_size=8, lr=1e-2, seed=0, progress=False,
                final_test=test)
    np.testing.assert_allclose(runs[0].final_proba, alone.test_proba, atol=1e-5)
