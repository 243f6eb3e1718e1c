"""Stacked token-wise models (I.P2–I.P4 train seeds, windows and input dimensions side by side):
member k of the stack computes exactly what the plain model k computes, in training (dropout off)
and in evaluation (with the distinct-word shortcut), and fit_stacked trains each member as alone."""

import numpy as np
import pytest
import torch

from idl_helpers.models import tokenwise as tw
from idl_helpers.models.tokenwise_stacked import StackedTokenwise, build

from test_tokenwise import D, L, V, batch, emb  # noqa: F401 (emb is a fixture)

KINDS = [(tw.MeanMLP, {}), (tw.WeightedSumMLP, {}), (tw.RestrictedAttentionMLP, {"k": 2})]


def members(cls, kw, emb, seeds=(0, 1, 2)):
    return [build(cls, emb, s, layers=3, width=8, dropout=0.0, **kw) for s in seeds]


@pytest.mark.parametrize("cls,kw", KINDS)
@pytest.mark.parametrize("train_mode", [False, True])
def test_member_k_of_the_stack_is_model_k(emb, cls, kw, train_mode):
    ms = members(cls, kw, emb)
    stack = StackedTokenwise(ms).train(train_mode)
    ids, lengths = batch([12, 5, 1, 9])
    with torch.no_grad():
        shared = stack(ids.unsqueeze(0), lengths.unsqueeze(0))          # one batch for all
        own = stack(torch.stack([ids, ids.flip(0), ids]), torch.stack([lengths, lengths.flip(0), lengths]))
        for k, m in enumerate(ms):
            ref = m.train(train_mode)(ids, lengths)
            assert torch.allclose(shared[k], ref, atol=1e-5)
        assert torch.allclose(own[1], ms[1](ids.flip(0), lengths.flip(0)), atol=1e-5)
        assert torch.allclose(stack.member(2)(ids, lengths), ms[2](ids, lengths), atol=1e-6)


def test_windows_and_embeddings_may_differ_per_member(emb):
    other = emb.copy()
    other[:, 3:] = 0.0                                              # a "projection" padded with zeros
    ms = [build(tw.RestrictedAttentionMLP, e, 0, k=k, layers=2, width=8, dropout=0.0)
          for e, k in ((emb, 0), (other, 3), (emb, 5))]
    stack = StackedTokenwise(ms).eval()
    assert not stack.shared_embedding
    ids, lengths = batch([12, 7])
    with torch.no_grad():
        out = stack(ids.unsqueeze(0), lengths.unsqueeze(0))
        for k, m in enumerate(ms):
            assert torch.allclose(out[k], m.eval()(ids, lengths), atol=1e-5)


def test_members_of_different_shape_are_refused(emb):
    with pytest.raises(ValueError):
        StackedTokenwise([build(tw.MeanMLP, emb, 0, layers=3, width=8), build(tw.MeanMLP, emb, 0, layers=3, width=9)])
    with pytest.raises(ValueError):
        StackedTokenwise([build(tw.MeanMLP, emb, 0, layers=3, width=8), build(tw.WeightedSumMLP, emb, 0, layers=3, width=8)])


def test_fit_stacked_trains_each_member_as_alone(emb):
    """No dropout: the stacked run of two seeds equals two plain fits (same init, same batch order)."""
    from idl_helpers.training.train import fit, fit_stacked

    ids, lengths = batch([L] * 48 + [4] * 16, seed=3)
    y = (ids[:, 0] % 2).long()
    data = (ids, lengths, y)
    ms = members(tw.WeightedSumMLP, {}, emb, seeds=(0, 1))
    plain = [build(tw.WeightedSumMLP, emb, s, layers=3, width=8, dropout=0.0) for s in (0, 1)]
    res = fit_stacked(StackedTokenwise(ms), data, data, seeds=[0, 1], epochs=2, batch_size=16, lr=1e-2,
                      eval_name="val")
    for k, s in enumerate((0, 1)):
        alone = fit(plain[k], data, data, epochs=2, batch_size=16, lr=1e-2, seed=s, progress=False, eval_name="val")
        assert abs(res[k].history.final["val_loss"] - alone.history.final["val_loss"]) < 1e-4
        assert res[k].history.final["val_acc"] == alone.history.final["val_acc"]


def test_members_may_differ_in_dropout_and_eval_ignores_it(emb):
    ms = [build(tw.MeanMLP, emb, 0, layers=3, width=8, dropout=p) for p in (0.15, 0.3)]
    stack = StackedTokenwise(ms)
    ids, lengths = batch([12, 6])
    with torch.no_grad():
        out = stack.eval()(ids.unsqueeze(0), lengths.unsqueeze(0))
        for k, m in enumerate(ms):
            assert torch.allclose(out[k], m.eval()(ids, lengths), atol=1e-5)
        stack.train()
        h = torch.ones(2, 20000, 1)
        from idl_helpers.models.tokenwise_stacked import _dropout
        kept = (_dropout(h, stack.dropouts) > 0).float().mean(1).squeeze()
        assert abs(float(kept[0]) - 0.85) < 0.02 and abs(float(kept[1]) - 0.7) < 0.02


def test_shared_dropout_rate_keeps_its_share_and_scales():
    from idl_helpers.models.tokenwise_stacked import _dropout
    h = torch.ones(3, 40000, 1)
    out = _dropout(h, torch.tensor([0.1, 0.1, 0.1]))
    kept = out > 0
    assert abs(float(kept.float().mean()) - 0.9) < 0.01
    assert torch.allclose(out[kept], torch.tensor(1 / 0.9))


def test_a_stack_computes_the_same_numbers_after_other_draws_and_in_a_worker(emb):
    """Dropout on: a stack draws its masks from a stream of its own (seeded by its first seed), so it gives
    the same numbers whatever was drawn before it and in a worker process — the I.P2–I.P4 pages train
    their stacks side by side on two workers, or one after another on one, with the same numbers."""
    from idl_helpers.core import parallel
    from idl_helpers.data.imdb_glove import Split
    from idl_helpers.training.tokenwise import fit_stack

    ids, lengths = batch([L] * 48 + [4] * 16, seed=3)
    y = (ids[:, 0] % 2).long()
    n = len(y)
    split = Split(ids.numpy(), lengths.numpy(), y.numpy(), np.arange(n), np.zeros(n), [""] * n)
    specs = [(tw.MeanMLP, emb, s, dict(layers=3, width=8, dropout=0.3)) for s in (0, 1)]
    job = (specs, split, split, split, [0, 1], 2, 16, 1e-2, "cpu", "", False)

    def numbers(res):
        return [(r["proba"].tolist(), r["fit"].history.epochs[-1]["train_loss"]) for r in res]

    first = numbers(fit_stack(*job))
    torch.rand(1000)                               # what another stack's dropout would have drawn
    assert numbers(fit_stack(*job)) == first
    assert numbers(parallel.start(fit_stack, *job, workers=2).result()) == first
