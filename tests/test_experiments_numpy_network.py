"""The II.1a–c checks of idl_helpers.experiments.numpy_network: they pass on the right formulas, and the planted
bug is wrong exactly where it should be."""

import numpy as np

from idl_helpers.models import numpy_nn as nn
from idl_helpers.experiments import numpy_network as ex


def test_symbolic_checks_pass():
    assert ex.batched_softmax_ce_check(2, 3, labels=[1, 0])
    assert ex.input_gradient_check(2, 2, 2, 0, points=2)


def test_input_gradient_check_fails_on_the_planted_bug():
    assert not ex.input_gradient_check(2, 2, 2, 0, points=2, forget_sigmoid_derivative=True)


def test_planted_bug_changes_only_the_first_layer_and_input():
    rng = np.random.default_rng(0)
    p = nn.init_params((4, 3, 3), rng, scale=1.0, dtype=np.float64)
    X, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    _, good = nn.loss_and_grads(X, y, p, input_grad=True)
    _, bad = ex.buggy_loss_and_grads(X, y, p)
    for k in ("W2", "b2"):
        assert np.allclose(good[k], bad[k])
    for k in ("W1", "b1", "x"):
        assert not np.allclose(good[k], bad[k])
