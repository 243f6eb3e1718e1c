"""Part II, questions 1, 2, 4, 6: the NumPy network, its gradient checker, perplexity, PTB rules."""

import numpy as np
import pytest
import torch

from idl_helpers.theory import gradcheck, rnn_lm_grads as rnn
from idl_helpers.models import bigram, numpy_nn as nn
from idl_helpers.data import ptb
from idl_helpers.theory.derive import beyond, max_error, within


def _small_net(seed=0, dims=(6, 5, 4), B=7):
    rng = np.random.default_rng(seed)
    p = nn.init_params(dims, rng, scale=0.8, dtype=np.float64)
    X = rng.normal(size=(B, dims[0]))
    y = rng.integers(0, dims[2], size=B)
    return p, X, y


def test_gradcheck_passes_on_correct_backward():
    p, X, y = _small_net()
    _, g = nn.loss_and_grads(X, y, p, input_grad=True)
    params = {**p, "x": X}
    rep = gradcheck.check_gradients(lambda: nn.loss(X, y, p), params, g)
    assert rep.passed, rep.table()
    assert set(rep.blocks) == {"W1", "b1", "W2", "b2", "x"}


def test_gradcheck_catches_planted_bug_and_names_the_block():
    p, X, y = _small_net(seed=1)

    def buggy(X, y, p):   # forgets the sigmoid derivative on the hidden layer
        J, g = nn.loss_and_grads(X, y, p)
        B = len(y)
        d = nn.forward(X, p)
        d[np.arange(B), y] -= 1
        dz = (d / B) @ p["W2"].T           # bug: no * h * (1 - h)
        g["W1"], g["b1"] = X.T @ dz, dz.sum(0)
        return J, g

    _, g = buggy(X, y, p)
    rep = gradcheck.check_gradients(lambda: nn.loss(X, y, p), p, g)
    assert not rep.passed
    assert set(rep.failing()) == {"W1", "b1"}
    assert rep.blocks["W2"].worst_rel_error < 1e-6


def test_numpy_network_matches_torch_autograd():
    p, X, y = _small_net(seed=2)
    J, g = nn.loss_and_grads(X, y, p, input_grad=True)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in {**p, "x": X}.items()}
    logits = torch.sigmoid(t["x"] @ t["W1"] + t["b1"]) @ t["W2"] + t["b2"]
    Jt = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    Jt.backward()
    assert J == pytest.approx(float(Jt.detach()), rel=1e-12)
    for k in g:
        np.testing.assert_allclose(g[k], t[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def _tiny_corpus():
    sents = [ptb.pad(s.split()) for s in ["the cat sat", "the dog sat down", "a cat ran", "the the cat"]]
    vocab = ptb.top_vocabulary(sents, 7)
    return bigram.index_sentences(sents, vocab)


def test_vectorised_perplexity_equals_loop():
    c = _tiny_corpus()
    rng = np.random.default_rng(3)
    V = len(c.vocab)
    emb = rng.normal(size=(V, 4)).astype(np.float32)
    p = nn.init_params((4, 3, V), rng)
    vec = bigram.perplexity(emb, p, c, chunk=5)          # several chunks
    loop = bigram.perplexity_loop(emb, p, c.prev, c.next)
    assert vec == pytest.approx(loop, rel=1e-5)
    assert bigram.torch_perplexity(emb, p, c) == pytest.approx(loop, rel=1e-5)


def test_bigram_pairs_match_course_convert_to_lm_dataset():
    c = _tiny_corpus()
    # the course pads with two <s> and skips positions 0 and 1
    course = []
    for s in c.sentences:
        s2 = ["<s>"] + s
        course += [(s2[i - 1], s2[i]) for i in range(2, len(s2))]
    ours = [(c.vocab[a], c.vocab[b]) for a, b in zip(c.prev, c.next)]
    assert ours == course


def test_count_models_are_distributions():
    c = _tiny_corpus()
    counts = bigram.bigram_counts(c)
    bos = c.vocab.index("<s>")
    for P in (bigram.add_k_bigram(counts, c.vocab, 0.5), bigram.kneser_ney_bigram(counts, c.vocab)):
        np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
        assert np.all(P[:, bos] == 0) and np.all(P[:, [i for i in range(len(c.vocab)) if i != bos]] > 0)


def test_course_tokenisation_rules():
    vocab = {"the", "DGDGDGDG", "DG.DG", ",", ".", "n't", "do"}
    # 1,000 has four digits: DG per digit, the thousands comma dropped
    canon = [ptb.canonicalize_word(w, vocab) for w in ["The", "1,000", "3.5", ",", "Zebra", "n't"]]
    assert canon == ["the", "DGDGDGDG", "DG.DG", ",", "UUUNKKK", "n't"]
    toks = bigram.tokenize_text("Don't pay 1,000 dollars.", "course", vocab)
    assert toks == [["<s>", "do", "n't", "UUUNKKK", "DGDGDGDG", "UUUNKKK", ".", "</s>"]]


def test_mikolov_tokenisation_rules():
    vocab = ["<s>", "</s>", "UUUNKKK", "do", "n't", "pay", "N", "dollars", "it", "'s"]
    toks = bigram.tokenize_text("Don't pay 1,000 Dollars; it's 3.5%! Zebra.", "mikolov", vocab)
    assert toks == [["<s>", "do", "n't", "pay", "N", "dollars", "it", "'s", "N", "</s>"],
                    ["<s>", "UUUNKKK", "</s>"]]


def test_rnn_closed_forms_equal_autograd_and_report_forms_do_not():
    for seed in range(3):
        pr = rnn.random_problem(seed=seed)
        fw = rnn.forward(pr["params"], pr["words"], pr["h0"])
        ref = rnn.autograd_reference(pr["params"], pr["words"], pr["h0"], pr["target"])
        assert within(max_error(rnn.max_abs_diff(rnn.grads_at_t(pr["params"], fw, pr["target"]), ref["t"])), 1e-12)
        assert within(max_error(rnn.max_abs_diff(rnn.grads_at_t_minus_1(pr["params"], fw, pr["target"]), ref["t-1"])), 1e-12)
        rep = rnn.report_forms(pr["params"], fw, pr["target"])
        assert all(beyond(v, 1e-3) for v in rnn.max_abs_diff(rep, ref["t"]).values())
        # the report's II.2a forms are exactly the negatives of the true gradients (U aside)
        for k in ("L_x(t)", "I", "H", "h(t-1)"):
            np.testing.assert_allclose(rep[k], -ref["t"][k], atol=1e-12)


def test_comparison_loops_the_pages_call():
    """The II.1b and II.2 pages call these loops; the same verdicts as the per-problem tests above."""
    worst = nn.compare_with_autograd(np.random.default_rng(0), trials=2, dims=(6, 5, 4), batch=8)
    assert set(worst) == {"loss", "W1", "b1", "W2", "b2", "x"} and within(max_error(worst), 1e-12)
    assert within(nn.softmax_ce_autograd_error(10, seed=1), 1e-12)
    for fn, key in [(rnn.grads_at_t, "t"), (rnn.grads_at_t_minus_1, "t-1"), (rnn.bptt, "tied")]:
        assert within(max_error(rnn.compare_with_autograd(fn, key, problems=3, seed=1)), 1e-12)
    # the report's forms fail the same loop
    report = rnn.compare_with_autograd(rnn.report_forms, "t", problems=3)
    assert report["b2"] == float("inf")                     # the report has no b2 form: not a pass
    assert all(beyond(report[k], 1e-3) for k in ("U", "L_x(t)", "I", "H", "h(t-1)"))


def test_bigram_perplexity_in_base_2_from_the_probability_table():
    c = _tiny_corpus()
    rng = np.random.default_rng(3)
    V = len(c.vocab)
    emb = rng.normal(size=(V, 4)).astype(np.float32)
    p = nn.init_params((4, 3, V), rng)
    P = bigram.probability_table(emb, p)
    assert P.shape == (V, V) and P.dtype == np.float64
    pp2 = bigram.perplexity_by_counts(bigram.bigram_counts(c), P, base=2)
    assert pp2 == pytest.approx(bigram.perplexity_loop(emb, p, c.prev, c.next), rel=1e-9)
    assert pp2 == pytest.approx(bigram.perplexity(emb, p, c), rel=1e-6)
