"""The attribution of II.1d's gap: the generic table/verdict helper and the bigram variants it runs."""

import math

import numpy as np
import pytest

from idl_helpers.models import bigram, numpy_nn as nn
from idl_helpers.analysis import attribution
from idl_helpers.analysis.attribution import Row
from idl_helpers.data import ptb


# --------------------------------------------------------------------------- attribution.verdict
def test_verdict_explained_lists_every_cause_that_reaches_the_target_best_first():
    rows = [Row("length", "2x", 130.0, 144.0), Row("init", "0.1", 101.0, 144.0), Row("lr", "3", 109.0, 144.0)]
    v = attribution.verdict(rows, 119.0, target_name="add-1")
    assert v.status == "explained" and v.explained
    assert [r.cause for r in v.explaining] == ["init", "lr"]
    assert v.best.cause == "init" and v.share > 1
    assert v.text.startswith("explained by init (0.1: 101.0) and by lr (3: 109.0)") and "add-1's 119.0" in v.text


def test_verdict_partly_and_not_explained():
    rows = [Row("length", "2x", 135.0, 144.0), Row("hidden", "100", 143.0, 144.0)]
    v = attribution.verdict(rows, 119.0, target_name="add-1")          # 9 of 25 points: 36%
    assert v.status == "partly explained" and not v.explained and v.best.cause == "length"
    assert v.share == pytest.approx(9 / 25) and "36%" in v.text
    # the same rows, but the move is within the seed-to-seed noise: not explained
    assert attribution.verdict(rows, 119.0, noise=10.0).status == "not explained"
    # nothing closes a quarter of the gap
    v = attribution.verdict([Row("hidden", "100", 143.0, 144.0), Row("special", "zero", 154.0, 144.0)], 119.0)
    assert v.status == "not explained" and v.explaining == () and v.text.startswith("not explained")
    # no rows, or only NaN values, explain nothing
    assert attribution.verdict([], 119.0).status == "not explained"
    assert attribution.verdict([Row("x", "y", math.nan, 144.0)], 119.0).status == "not explained"


def test_verdict_no_gap_and_higher_is_better():
    assert attribution.verdict([Row("a", "b", 100.0, 110.0)], 119.0).status == "no gap"
    acc = [Row("epochs", "20", 0.86, 0.80), Row("dropout", "0.5", 0.81, 0.80)]
    v = attribution.verdict(acc, 0.85, lower_is_better=False, target_name="the report")
    assert v.status == "explained" and v.best.cause == "epochs" and "above the report's" in v.text
    v = attribution.verdict(acc, 0.90, lower_is_better=False)
    assert v.status == "partly explained" and v.share == pytest.approx(0.6)


def test_attribution_table_and_standing():
    df = attribution.table([("lr", "3", 109.0, 144.0), Row("hidden", "100", 150.0, 144.0)], target=119.0,
                           target_name="add-1")
    assert list(df["change vs reference"]) == [-35.0, 6.0]
    assert df["share of the gap to add-1 closed"].tolist() == pytest.approx([35 / 25, -6 / 25])
    assert attribution.standing(100.0, {"add-1": 119.0, "KN": 69.0, "bad": math.nan}) == \
        "beats add-1 (119.0); loses to KN (69.0)"


# --------------------------------------------------------------------------- the variants
class _FakeGlove:
    """The two methods :func:`bigram.run_setting` uses, over a tiny vocabulary; '<s>' and 'UUUNKKK' unknown."""

    def __init__(self, vocab, dim=4):
        self.vocab, self.dim = list(vocab), dim
        self.rows = np.random.default_rng(0).normal(size=(len(vocab), dim)).astype(np.float32)

    def indices(self, words):
        return np.array([-1 if w in (ptb.BOS, ptb.UNK) else self.vocab.index(w) for w in words])

    def embedding_matrix(self, vocab, *, oov="zero", seed=0, dtype=np.float32):
        idx = self.indices(vocab)
        out = np.zeros((len(vocab), self.dim), dtype)
        out[idx >= 0] = self.rows[idx[idx >= 0]]
        if oov == "random":
            out[idx < 0] = np.random.default_rng(seed).normal(size=((idx < 0).sum(), self.dim))
        elif oov == "mean":
            out[idx < 0] = self.rows.mean(0)
        return out, None


def _corpus():
    sents = [ptb.pad(s.split()) for s in ["the cat sat", "the dog sat down", "a cat ran", "the the cat", "a dog ran"]]
    return bigram.index_sentences(sents, ptb.top_vocabulary(sents, 8))


def test_table_perplexity_equals_the_per_token_path():
    c = _corpus()
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(len(c.vocab), 4)).astype(np.float32)
    p = nn.init_params((4, 3, len(c.vocab)), rng)
    assert bigram.table_perplexity_of(bigram.log_prob_table(emb, p), c) == pytest.approx(bigram.perplexity(emb, p, c),
                                                                                        rel=1e-6)


def test_run_settings_reads_shorter_runs_off_the_longest_and_selects_on_held_out():
    c = _corpus()
    g = _FakeGlove(c.vocab)
    S = bigram.Setting
    short, long_, other = S(iterations=20, hidden=3, batch=4), S(iterations=40, hidden=3, batch=4), \
        S(iterations=20, hidden=3, batch=4, lr=1.0)
    runs = bigram.run_settings(g, c, [short, long_, other], {"held": c}, eval_every=10)
    alone = bigram.run_setting(g, c, short, {"held": c}, eval_every=10)
    assert runs[short].iterations == [0, 10, 20] and runs[long_].iterations == [0, 10, 20, 30, 40]
    np.testing.assert_allclose(runs[short].curves["held"], alone.curves["held"], rtol=1e-12)
    np.testing.assert_allclose(runs[long_].curves["held"][:3], alone.curves["held"], rtol=1e-12)
    assert bigram.select([short, long_, other], runs) == min([short, long_, other], key=lambda s: runs[s].at("held"))
    with pytest.raises(ValueError, match="multiple of eval_every"):
        bigram.run_settings(g, c, [S(iterations=15)], {"held": c}, eval_every=10)


def test_trained_rows_change_only_those_rows_and_leave_the_input_untouched():
    c = _corpus()
    emb = np.random.default_rng(2).normal(size=(len(c.vocab), 4)).astype(np.float32)
    before = emb.copy()
    rows = [c.vocab.index(ptb.BOS), c.vocab.index("the")]
    _, log = bigram.train_neural_lm(emb, c, c, hidden=3, iterations=30, batch=4, lr=1.0, eval_every=10,
                                    train_rows=rows, progress=False)
    np.testing.assert_array_equal(emb, before)
    changed = np.flatnonzero(np.any(log.inputs != before, axis=1))
    assert set(changed) == set(rows)
    _, fixed = bigram.train_neural_lm(emb, c, c, hidden=3, iterations=30, batch=4, lr=1.0, eval_every=10,
                                      progress=False)
    assert fixed.inputs is None and len(fixed.dev_perplexity) == 4


def test_setting_labels_and_combine():
    S = bigram.Setting
    assert S().label() == "the course's" and S().changes() == {}
    both = bigram.combine(S(), S(lr=3.0), S(init_scale=0.1), S())
    assert both == S(lr=3.0, init_scale=0.1)
    assert both.label() == "learning rate 3, initial weights N(0, 0.1²)"
    assert S(anneal_every=0, train_inputs="all").label() == "constant step, all input vectors trained"
