"""Token-wise models (I.P2–I.P4): restricted attention against a naive double loop, exact
zeros outside the window and on padding, padding-independence of sub-scores, pooling only
over real words."""

import numpy as np
import pytest
import torch

from idl_helpers.models import tokenwise as tw

V, D, L = 40, 6, 12


@pytest.fixture()
def emb():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(V, D)).astype(np.float32)
    e[0] = 0.0  # padding row, as in prepare_imdb
    return e


def batch(lengths, max_len=L, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, V, (len(lengths), max_len), generator=g)
    lengths = torch.tensor(lengths)
    ids[~tw.padding_mask(lengths, max_len)] = 0
    return ids, lengths


@pytest.mark.parametrize("k", [0, 1, 3, 20])
def test_attention_matches_double_loop(k):
    torch.manual_seed(0)
    att = tw.RestrictedSelfAttention(D, 5, k=k).double()
    x = torch.randn(3, L, D, dtype=torch.float64)
    lengths = torch.tensor([L, 7, 1])
    out, a = att(x, lengths)
    ref_out, ref_a = tw.naive_restricted_attention(
        x, lengths, att.q.weight, att.q.bias, att.key.weight, att.key.bias, att.v.weight, att.v.bias, k)
    mask = tw.padding_mask(lengths, L)
    torch.testing.assert_close(a, ref_a, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out[mask], ref_out[mask], rtol=1e-10, atol=1e-12)
    assert torch.all(out[~mask] == 0)


def test_double_loop_reference_catches_wrong_window():
    """A planted off-by-one (window k+1 instead of k) is detected by the comparison."""
    torch.manual_seed(0)
    att = tw.RestrictedSelfAttention(D, 5, k=2).double()
    x = torch.randn(2, L, D, dtype=torch.float64)
    lengths = torch.tensor([L, 9])
    _, a = att(x, lengths)
    _, wrong = tw.naive_restricted_attention(
        x, lengths, att.q.weight, att.q.bias, att.key.weight, att.key.bias, att.v.weight, att.v.bias, 3)
    assert not torch.allclose(a, wrong)


@pytest.mark.parametrize("k", [0, 2, 5])
def test_attention_zero_outside_window_and_on_padding(emb, k):
    torch.manual_seed(0)
    model = tw.RestrictedAttentionMLP(emb, k=k, layers=2, width=8)
    ids, lengths = batch([L, 5, 1, 8])
    a = model.explain(ids, lengths)["attention"]
    i = torch.arange(L)
    outside = (i[:, None] - i[None, :]).abs() > k
    assert torch.all(a[:, outside] == 0.0)
    for b, n in enumerate(lengths.tolist()):
        assert torch.all(a[b, :, n:] == 0.0)  # padded keys
        assert torch.all(a[b, n:, :] == 0.0)  # padded queries
        torch.testing.assert_close(a[b, :n].sum(1), torch.ones(n))  # real rows are distributions
        inside = ~outside[:n, :n]
        assert torch.all(a[b, :n, :n][inside] > 0)  # every real neighbour in the window is used


@pytest.mark.parametrize("cls,kw", [(tw.MeanMLP, {}), (tw.WeightedSumMLP, {}),
                                    (tw.RestrictedAttentionMLP, {"k": 3})])
def test_sub_scores_do_not_depend_on_padding(emb, cls, kw):
    torch.manual_seed(0)
    model = cls(emb, layers=3, width=8, dropout=0.1, **kw).eval()
    ids, lengths = batch([7, 4, 10], max_len=10)
    base = model.explain(ids, lengths)
    for extra in (0, 3, 50):  # pad the same reviews to 10 + extra positions
        longer = torch.cat([ids, torch.zeros(len(ids), extra, dtype=ids.dtype)], 1)
        out = model.explain(longer, lengths)
        for b, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(out["sub_scores"][b, :n], base["sub_scores"][b, :n])
        torch.testing.assert_close(out["logits"], base["logits"])
    # each review alone, with no padding at all
    for b, n in enumerate(lengths.tolist()):
        alone = model.explain(ids[b:b + 1, :n], lengths[b:b + 1])
        torch.testing.assert_close(alone["sub_scores"][0], base["sub_scores"][b, :n])
        torch.testing.assert_close(alone["logits"][0], base["logits"][b])


@pytest.mark.parametrize("cls,kw", [(tw.MeanMLP, {}), (tw.WeightedSumMLP, {}),
                                    (tw.RestrictedAttentionMLP, {"k": 2})])
def test_words_beyond_length_are_ignored(emb, cls, kw):
    """Garbage ids after a review's length change nothing: pooling sees real words only."""
    torch.manual_seed(0)
    model = cls(emb, layers=2, width=8, **kw).eval()
    ids, lengths = batch([6, 3], max_len=10)
    garbage = ids.clone()
    garbage[~tw.padding_mask(lengths, 10)] = 7
    torch.testing.assert_close(model(garbage, lengths), model(ids, lengths))


def test_mean_pooling_is_mean_over_real_words(emb):
    torch.manual_seed(0)
    model = tw.MeanMLP(emb, layers=2, width=8).eval()
    ids, lengths = batch([6, 2, 10], max_len=10)
    out = model.explain(ids, lengths)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out["logits"][b], out["sub_scores"][b, :n].mean(0))


def test_weighted_sum_softmax_over_real_words_only(emb):
    torch.manual_seed(0)
    model = tw.WeightedSumMLP(emb, layers=2, width=8).eval()
    ids, lengths = batch([6, 1, 10], max_len=10)
    out = model.explain(ids, lengths)
    w = out["weights"]
    for b, n in enumerate(lengths.tolist()):
        a = model.word_importance(ids[b, :n])
        torch.testing.assert_close(w[b, :n], torch.softmax(a, 0))
        assert torch.all(w[b, n:] == 0.0)
        torch.testing.assert_close(out["logits"][b], (w[b, :n, None] * out["sub_scores"][b, :n]).sum(0))


def test_unmasked_mean_would_fail_padding_check(emb, monkeypatch):
    """Planted bug: averaging over all positions (padding included) makes the logits depend on
    the padding, and the padding check notices."""
    monkeypatch.setattr(tw, "masked_mean", lambda v, m: v.mean(1))
    model = tw.MeanMLP(emb, layers=2, width=8).eval()
    ids, lengths = batch([4], max_len=6)
    longer = torch.cat([ids, torch.zeros(1, 20, dtype=ids.dtype)], 1)
    assert not torch.allclose(model(ids, lengths), model(longer, lengths))


def test_window_zero_attention_is_tokenwise(emb):
    """k = 0: every word attends only to itself, so a word's sub-score ignores its neighbours."""
    torch.manual_seed(0)
    model = tw.RestrictedAttentionMLP(emb, k=0, layers=2, width=8).eval()
    ids = torch.tensor([[5, 9, 5, 3], [5, 11, 12, 5]])
    s = model.explain(ids, torch.tensor([4, 4]))["sub_scores"]
    torch.testing.assert_close(s[0, 0], s[1, 3])
    model.attention.k = 2  # with a window the same word in different contexts scores differently
    s = model.explain(ids, torch.tensor([4, 4]))["sub_scores"]
    assert not torch.allclose(s[0, 0], s[1, 3])


def test_models_learn_a_planted_rule(emb):
    """Each model fits a toy task (label = whether word 2 occurs) well above chance (0.5)."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, V, (128, 6), generator=g)
    y = (torch.rand(128, generator=g) < 0.5).long()
    ids[y == 1, 3] = 2
    lengths = torch.full((128,), 6)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest on a shared machine
    try:
        for cls, kw in [(tw.MeanMLP, {}), (tw.WeightedSumMLP, {}), (tw.RestrictedAttentionMLP, {"k": 2})]:
            torch.manual_seed(0)
            m = cls(emb, layers=2, width=16, dropout=0.0, **kw)
            opt = torch.optim.Adam(m.parameters(), lr=1e-2)
            for _ in range(100):
                loss = torch.nn.functional.cross_entropy(m(ids, lengths), y)
                opt.zero_grad(); loss.backward(); opt.step()
            acc = float((m(ids, lengths).argmax(1) == y).float().mean())
            assert acc > 0.9, (cls.__name__, acc)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("cls", [tw.MeanMLP, tw.WeightedSumMLP])
def test_eval_shortcut_scores_each_distinct_word_like_the_token_path(emb, cls):
    """In eval mode the per-word models score each distinct word once; same numbers as running
    the MLP on every token."""
    torch.manual_seed(0)
    model = cls(emb, layers=3, width=8).eval()
    ids, lengths = batch([10, 3, 7], max_len=10)
    fast = model.explain(ids, lengths)
    model.per_word = False
    slow = model.explain(ids, lengths)
    torch.testing.assert_close(fast["sub_scores"], slow["sub_scores"])
    torch.testing.assert_close(fast["logits"], slow["logits"])


class _Texts:
    """The part of ``imdb_glove`` data that ``explain_texts`` uses: ``encode`` and ``in_glove``."""

    def __init__(self, n_words):
        self.words = [f"w{i}" for i in range(n_words)]
        self.in_glove = np.ones(n_words, dtype=bool)

    def encode(self, texts):
        toks = [t.split() for t in texts]
        ids = np.zeros((len(toks), max(map(len, toks)) + 3), dtype=np.int64)     # some padding
        for b, t in enumerate(toks):
            ids[b, : len(t)] = [self.words.index(w) for w in t]
        return ids, np.array([len(t) for t in toks]), toks


TEXTS = ["w5 w7 w5 w9 w5", "w3 w3 w8 w2 w11 w3", "w4 w6"]


@pytest.mark.parametrize("cls", [tw.MeanMLP, tw.WeightedSumMLP])
def test_every_occurrence_scored_on_its_own_gets_the_same_score(emb, cls):
    """I.P2/I.P3's check: ``per_position=True`` runs the MLP on every position (no per-distinct-word
    shortcut); the occurrences of a repeated word still agree, weights included."""
    from idl_helpers.analysis import word_scores as ws

    torch.manual_seed(0)
    model = cls(emb, layers=3, width=8).eval()
    data = _Texts(V)
    rep = ws.occurrence_spread(model, data, TEXTS, ["a", "b", "c"])
    assert list(rep["word"]) == ["w5", "w3"] and list(rep["positions"]) == [[0, 2, 4], [0, 1, 5]]
    assert ("weights spread" in rep) == (cls is tw.WeightedSumMLP)
    assert ws.largest_spread(rep) <= 1e-6
    # the per-position path is the token path, and agrees with the shortcut
    ids, lengths, _ = data.encode(TEXTS)
    ids, lengths = torch.as_tensor(ids), torch.as_tensor(lengths)
    slow = model.explain(ids, lengths, per_position=True)
    torch.testing.assert_close(slow["sub_scores"], model.explain(ids, lengths)["sub_scores"])


def test_occurrence_check_can_fail_on_a_context_model(emb):
    """The same measurement on restricted attention (scores depend on the neighbours) sees a spread,
    so the I.P2/I.P3 check is not true by construction."""
    from idl_helpers.analysis import word_scores as ws

    torch.manual_seed(0)
    model = tw.RestrictedAttentionMLP(emb, k=2, layers=2, width=16).eval()
    assert ws.largest_spread(ws.occurrence_spread(model, _Texts(V), TEXTS, ["a", "b", "c"])) > 1e-3
