"""The theory pages' experiments modules (I.T1.3–5, I.T2, I.T3): the claims they check hold, and a
planted error makes the page's check fail."""

from __future__ import annotations

import pandas as pd
import pytest

from idl_helpers.core.results import Recorder
from idl_helpers.experiments import vanishing_gradients as vg


def test_the_activation_facts_hold(capsys):
    facts = vg.activation_facts()
    assert facts.sigmoid_ok and facts.h_ok and str(facts.max_sig) == "1/4"
    assert "σ'(0) = 1/4" in capsys.readouterr().out


def _measured(sigmoid_deep: float) -> vg.Measured:
    rows = [dict(activation=a, variant=v, depth=d, init=i, geo_mean=(sigmoid_deep if (a, v, d) == ("sigmoid", "plain", 50)
                                                                    else 1.0))
            for a, i in vg.VARIANTS for v in ("plain", "skip", "skip, branch/√depth") for d in (1, 50)]
    return vg.Measured(pd.DataFrame(rows), deepest=50)


def test_the_depth_ratio_is_the_deepest_over_one_layer():
    assert _measured(1e-12).ratio("sigmoid", "plain") == pytest.approx(1e-12)
    assert _measured(1e-12).ratio("relu", "skip", "he") == 1.0


def test_a_sigmoid_gradient_that_does_not_vanish_fails_the_check(tmp_path, monkeypatch):
    monkeypatch.setenv("IDL_RESULTS_DIR", str(tmp_path))
    facts = vg.activation_facts()
    cfg = type("Cfg", (), {"seeds": 2, "width": 8})()
    rec = Recorder(vg.NAME, profile="smoke", seed=0, device="cpu")
    assert vg.record_measured(rec, _measured(1e-12), cfg, facts) == pytest.approx(1e-12)
    rec = Recorder(vg.NAME, profile="smoke", seed=0, device="cpu")
    with pytest.raises(AssertionError, match="I.T1.3"):
        vg.record_measured(rec, _measured(1e-3), cfg, facts)   # planted: sigmoid keeps 1e-3 of its gradient


def test_a_long_derivative_is_shown_one_term_per_line(monkeypatch):
    """The sum over paths of f1(x, f2(x, f3(x))) has three terms: shown on three aligned lines (a single
    line was wider than the page), and the lines are SymPy's own terms of the expression."""
    import sympy as sp

    from idl_helpers.theory import calculus as C

    shown = []
    monkeypatch.setattr(vg, "display", lambda m: shown.append(m.data))
    fs = C.functions("f", 3)
    rhs = vg.P(C.nested_total_derivative(fs))
    vg.show_equation(sp.Derivative(C.nested(fs), vg.x), rhs)
    (latex,) = shown
    assert latex.startswith(r"\begin{aligned}") and latex.endswith(r"\end{aligned}")
    lines = latex.split(r"\\")
    assert len(lines) == len(rhs.as_ordered_terms()) == 3
    assert all(sp.latex(t) in line for t, line in zip(rhs.as_ordered_terms(), lines))
