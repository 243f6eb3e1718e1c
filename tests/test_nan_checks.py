"""A NaN never passes a check.

``worst = max(worst, err)`` and ``if rel > worst`` skip a NaN (every comparison with NaN is
False), so planted NaN gradients used to pass the II.2a, I.T1.2 and II.1c checks. Every check
now reduces its errors with :func:`idl_helpers.theory.derive.max_error` (``inf`` for any NaN/inf) and
judges them with :func:`within` / :func:`beyond` (False for NaN/inf). Each test below plants a
NaN in the very library function a page calls and expects the page's verdict to be "failed".
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from idl_helpers.theory import calculus as C, gradcheck, gradient_flow as G
from idl_helpers.models import bigram, numpy_nn as nn
from idl_helpers.theory import rnn_lm_grads as rnn
from idl_helpers.analysis import word_scores as ws
from idl_helpers.data import ptb
from idl_helpers.theory.derive import beyond, max_error, numerically_equal, same, within

NAN, INF = float("nan"), float("inf")
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the helper itself
@pytest.mark.parametrize("a, b", [
    ([1.0, NAN], None), ([NAN, 1.0], None),                       # a NaN first or last
    (np.array([0.0, NAN, 0.0]), np.zeros(3)), (np.zeros(3), np.array([0.0, NAN, 0.0])),
    (np.array([1.0, INF]), np.array([1.0, INF])),                  # inf − inf is not 0
    (torch.tensor([0.0, NAN]), torch.zeros(2)),
    ({"x": 1e-20, "y": NAN}, None), ({"x": 1.0}, {"x": NAN}),
    (NAN, NAN), (complex(NAN, 0), 0.0),
    (np.zeros(3), np.zeros((3, 1))),                               # no silent broadcasting
    ({"x": 0.0}, {"y": 0.0}), ([0.0, 0.0], [0.0]),                 # keys / lengths differ
    ([], None), (np.zeros(0), np.zeros(0)),                         # nothing compared
])
def test_max_error_is_inf_for_nan_inf_mismatch_or_nothing(a, b):
    err = max_error(a, b)
    assert err == INF
    assert not within(err, 1e300) and not beyond(err, 0.0)


def test_max_error_values_and_verdicts():
    assert max_error([np.ones(2), 3.0], [np.ones(2) * 1.5, 3.0]) == 0.5
    assert max_error(torch.tensor([1.0, 2.0]), np.array([1.0, 2.25])) == 0.25
    assert max_error({"a": np.zeros((2, 2))}.values()) == 0.0
    assert max_error(np.ones(4), 1.0) == 0.0                        # a scalar reference
    assert max_error(110.0, 100.0, relative=True) == pytest.approx(0.1)
    assert max_error(0.0, 0.0, relative=True) == 0.0 and max_error(1.0, 0.0, relative=True) == INF
    assert within(1e-13, 1e-12) and not within(NAN, 1.0) and not within(INF, INF)
    assert beyond(1.0, 0.5) and not beyond(NAN, 0.5) and not beyond(INF, 0.5)


def test_the_old_running_max_would_have_passed():
    """Why the helper exists: both old idioms lose a NaN; max_error does not."""
    errs = [1e-14, NAN, 2e-14]
    worst = 0.0
    for e in errs:
        worst = max(worst, e)
    assert worst < 1e-12                                            # the old verdict: passed
    assert not within(max_error(errs), 1e-12)                       # the new one: failed


# ------------------------------------------------------------------ derive (symbolic / random points)
def test_random_point_evaluation_rejects_nan_and_complex_infinity():
    x = sp.Symbol("x", real=True)
    assert not numerically_equal(sp.nan, 0) and not numerically_equal(sp.zoo, 0)
    assert not numerically_equal(x * sp.nan, x)
    assert not same(sp.nan, sp.nan) and not same(sp.zoo, sp.zoo)
    assert numerically_equal(sp.sin(x) ** 2 + sp.cos(x) ** 2, 1)    # and a true identity still passes


# ------------------------------------------------------------------ II.1c: the gradient checker
def _net(seed=0):
    rng = np.random.default_rng(seed)
    p = nn.init_params((6, 5, 4), rng, scale=0.8, dtype=np.float64)
    return p, rng.normal(size=(7, 6)), rng.integers(0, 4, size=7)


@pytest.mark.parametrize("where", [(0, 0), (2, 3), (5, 4)])        # first, middle, last entry of W1
def test_gradcheck_fails_on_a_nan_analytic_gradient(where):
    p, X, y = _net()
    _, g = nn.loss_and_grads(X, y, p)
    g["W1"][where] = NAN
    rep = gradcheck.check_gradients(lambda: nn.loss(X, y, p), p, g)
    assert not rep.passed and rep.failing() == ["W1"]
    assert rep.blocks["W1"].worst_rel_error == INF and rep.blocks["W1"].worst_index == where
    assert rep.worst == INF and set(rep.table().query("verdict == 'WRONG'")["block"]) == {"W1"}


def test_gradcheck_fails_when_the_loss_is_nan():
    """The numeric side: a loss that returns NaN for some perturbation."""
    p, X, y = _net(1)
    _, g = nn.loss_and_grads(X, y, p)
    base = float(p["b2"][1])
    loss = lambda: NAN if p["b2"][1] != base else nn.loss(X, y, p)     # NaN while b2[1] is perturbed
    rep = gradcheck.check_gradients(loss, p, g)
    assert not rep.passed and rep.failing() == ["b2"]


def test_gradcheck_fails_on_a_nan_producing_model():
    """A model whose backward pass is NaN everywhere (log of a negative number)."""
    p, X, y = _net(2)

    def nan_grads(X, y, p):
        J, g = nn.loss_and_grads(X, y, p)
        with np.errstate(invalid="ignore"):
            g["W2"] = g["W2"] * np.log(-1.0)
        return J, g

    _, g = nan_grads(X, y, p)
    rep = gradcheck.check_gradients(lambda: nn.loss(X, y, p), p, g)
    assert not rep.passed and "W2" in rep.failing()


# ------------------------------------------------------------------ II.1a (autograd part) and II.1b
def test_softmax_ce_check_fails_on_a_nan_closed_form():
    assert within(nn.softmax_ce_autograd_error(5, seed=0), 1e-12)   # the page's check, as is

    def planted(theta, k):
        out = nn.softmax_minus_onehot(theta, k)
        out[-1] = NAN
        return out

    assert not within(nn.softmax_ce_autograd_error(5, seed=0, closed_form=planted), 1e-12)


@pytest.mark.parametrize("block", ["x", "W1", "b2"])
def test_numpy_network_autograd_check_fails_on_a_nan_gradient(block):
    calls = []

    def planted(X, y, p, input_grad=False):
        J, g = nn.loss_and_grads(X, y, p, input_grad=input_grad)
        calls.append(1)
        if len(calls) == 2:                                          # only in the second trial
            g[block].flat[-1] = NAN
        return J, g

    worst = nn.compare_with_autograd(np.random.default_rng(0), trials=3, dims=(6, 5, 4), batch=8,
                                     loss_and_grads=planted)
    assert worst[block] == INF and not within(max_error(worst), 1e-12)
    assert all(within(v, 1e-12) for k, v in worst.items() if k != block)
    good = nn.compare_with_autograd(np.random.default_rng(0), trials=3, dims=(6, 5, 4), batch=8)
    assert within(good["x"], 1e-12) and list(good) == ["loss", "W2", "b2", "W1", "b1", "x"]


def test_numpy_network_autograd_check_fails_on_a_nan_loss():
    def planted(X, y, p, input_grad=False):
        J, g = nn.loss_and_grads(X, y, p, input_grad=input_grad)
        return NAN, g

    worst = nn.compare_with_autograd(np.random.default_rng(0), trials=2, dims=(6, 5, 4), batch=8,
                                     loss_and_grads=planted)
    assert worst["loss"] == INF


# ------------------------------------------------------------------ I.T1.2: Jacobian products
def test_jacobian_check_fails_on_a_nan_in_one_trial():
    good = C.jacobian_errors(5, seed=0)
    assert within(good["jacobian"], 1e-12) and within(good["gradient"], 1e-12)
    calls = []

    def planted(layers, u):
        J = C.jacobian_product(layers, u)
        calls.append(1)
        if len(calls) == 5:                                          # the 3rd trial's Jacobian
            J = J.clone()
            J[0, 0] = NAN
        return J

    bad = C.jacobian_errors(5, seed=0, product=planted)
    assert bad["jacobian"] == INF and not within(bad["jacobian"], 1e-12)
    assert within(bad["gradient"], 1e-12)                           # the planted NaN is only in one


# ------------------------------------------------------------------ II.2a / II.2b: RNN LM gradients
@pytest.mark.parametrize("fn, key, block", [(rnn.grads_at_t, "t", "H"), (rnn.grads_at_t_minus_1, "t-1", "I"),
                                            (rnn.bptt, "tied", "b1")])
def test_rnn_gradient_checks_fail_on_a_planted_nan(fn, key, block):
    good = rnn.compare_with_autograd(fn, key, problems=4)
    assert within(max_error(good), 1e-10)
    calls = []

    def planted(params, fw, target):
        g = fn(params, fw, target)
        calls.append(1)
        if len(calls) == 3:                                          # one entry, in one problem only
            g[block] = np.array(g[block], dtype=float)
            g[block].flat[0] = NAN
        return g

    bad = rnn.compare_with_autograd(planted, key, problems=4)
    assert bad[block] == INF and not within(max_error(bad), 1e-10)
    assert all(within(v, 1e-10) for k, v in bad.items() if k != block)


def test_rnn_missing_gradient_is_not_a_pass():
    def forgets(params, fw, target):
        g = rnn.grads_at_t(params, fw, target)
        del g["U"]
        return g

    assert rnn.compare_with_autograd(forgets, "t", problems=2)["U"] == INF
    assert rnn.max_abs_diff({"U": np.zeros(2)}, {}) == {"U": INF}


# ------------------------------------------------------------------ II.4a: perplexity in two bases
def test_perplexity_by_counts_equals_per_token_and_fails_on_nan_or_zero():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(6))
    tokens = rng.integers(0, 6, 200)
    counts = np.bincount(tokens, minlength=6)
    per_token = float(np.exp(-np.mean(np.log(probs[tokens]))))
    for base in (2, 10, "e"):
        assert within(max_error(bigram.perplexity_by_counts(counts, probs, base=base), per_token, relative=True), 1e-12)
    bad = probs.copy()
    bad[tokens[0]] = NAN
    assert not within(max_error(bigram.perplexity_by_counts(counts, bad), per_token, relative=True), 1e-6)
    zero = probs.copy()
    zero[tokens[0]] = 0.0
    assert bigram.perplexity_by_counts(counts, zero) == INF          # a seen event with probability 0
    unseen = counts.copy()
    unseen[tokens[0]] = 0
    assert math.isfinite(bigram.perplexity_by_counts(unseen, zero))  # an unseen one does not count
    with pytest.raises(ValueError):
        bigram.perplexity_by_counts(counts, probs[:-1])


def test_bigram_probability_table_matches_the_evaluation_path_and_a_nan_fails():
    sents = [ptb.pad(s.split()) for s in ["the cat sat", "the dog sat down", "a cat ran", "the the cat"]]
    vocab = ptb.top_vocabulary(sents, 7)
    c = bigram.index_sentences(sents, vocab)
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(len(vocab), 4)).astype(np.float32)
    p = nn.init_params((4, 3, len(vocab)), rng)
    P = bigram.probability_table(emb, p)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    ppl = bigram.perplexity(emb, p, c)                                  # base e, per token, float32
    pp2 = bigram.perplexity_by_counts(bigram.bigram_counts(c), P, base=2)
    assert within(max_error(pp2, ppl, relative=True), 1e-6)
    assert beyond(max_error(float(2 ** np.log(ppl)), ppl, relative=True), 1e-2)   # mixed bases rejected
    p["W2"][0, c.next[0]] = NAN
    assert not within(max_error(bigram.perplexity_by_counts(bigram.bigram_counts(c), bigram.probability_table(emb, p), 2),
                                ppl, relative=True), 1e-6)


# ------------------------------------------------------------------ I.P2 / I.P3: repeated words
def _rows(scores, weights=None):
    r = {"words": ["very", "good", "very", "very"], "word_score": np.asarray(scores, dtype=float)}
    if weights is not None:
        r["weights"] = np.asarray(weights, dtype=float)
    return [r]


def test_repeated_word_spread_is_inf_for_nan_or_when_nothing_repeats():
    ok = ws.repeated_words(_rows([0.5, 0.1, 0.5, 0.5]), ["s"])
    assert ws.largest_spread(ok) == 0.0
    for bad_scores in ([NAN, 0.1, 0.5, 0.5], [0.5, 0.1, 0.5, NAN], [0.5, 0.1, INF, 0.5]):
        assert ws.largest_spread(ws.repeated_words(_rows(bad_scores), ["s"])) == INF
    w = ws.repeated_words(_rows([0.5, 0.1, 0.5, 0.5], [0.2, 0.4, 0.2, NAN]), ["s"], keys=("word_score", "weights"))
    assert "weights spread" in w and ws.largest_spread(w) == INF
    none = ws.repeated_words([{"words": ["a", "b"], "word_score": np.zeros(2)}], ["s"])
    assert len(none) == 0 and ws.largest_spread(none) == INF         # nothing checked is not a pass


# ------------------------------------------------------------------ I.T1.3: gradient-norm summaries
def test_gradient_flow_summary_keeps_a_nan_seed():
    df = G.sweep([1, 3], ["sigmoid"], skips=[False], seeds=[0, 1], width=8)
    df.loc[0, "grad_norm"] = NAN
    s = G.summarise(df)
    assert math.isnan(s.loc[s.depth == 1, "geo_mean"].iloc[0])      # not the other seed's value
    assert np.isfinite(s.loc[s.depth == 3, "geo_mean"].iloc[0])


# ------------------------------------------------------------------ the old idioms are gone
_OLD = [re.compile(r"max\(\s*worst"), re.compile(r">\s*worst\b"), re.compile(r"worst\s*=\s*max\(")]


def _code_cells(path: Path):
    nb = json.loads(path.read_text())
    for c in nb["cells"]:
        if c["cell_type"] == "code":
            yield "".join(c["source"])


def test_no_running_max_accumulation_left_in_checks():
    offenders = []
    for nb in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        for src in _code_cells(nb):
            offenders += [f"{nb.name}: {m.group(0)}" for pat in _OLD for m in pat.finditer(src)]
    for py in sorted((ROOT / "idl_helpers").rglob("*.py")):
        offenders += [f"{py.name}: {m.group(0)}" for pat in _OLD for m in pat.finditer(py.read_text())]
    assert not offenders, offenders
