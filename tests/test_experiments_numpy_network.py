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


def test_equal_at_random_points_uses_derive_points_and_rejects_nan():
    import sympy as sp
    from idl_helpers.theory.derive import numerically_equal
    a, b = sp.symbols("a b", real=True)
    for lhs, rhs, equal in ((sp.exp(a) * sp.exp(b), sp.exp(a + b), True),
                            (sp.sin(a) ** 2, 1 - sp.cos(a) ** 2 + a * 1e-6, False)):
        assert ex.equal_at_random_points(lhs, rhs, 3) is numerically_equal(lhs, rhs, trials=3) is equal
    assert not ex.equal_at_random_points(a / (a - a), a, 1)                 # zoo at every point: not a pass


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
