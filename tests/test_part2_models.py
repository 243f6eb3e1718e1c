"""Behaviour of the Part II models: the Deep Averaging Network (II.5) and the character GRU LM (II.3b)."""

import math

import numpy as np
import pytest
import torch

from idl_helpers.models.char_lm import (CharGRU, CharVocab, held_out_loss, random_chunks, sample, sequence_loss,
                                 split_text, stepwise_loss, train_char_lm)
from idl_helpers.models.dan import DAN, bag_of_words, mean_vectors, report_dan, word_contributions

torch.set_num_threads(1)


def _embeddings(vocab=30, dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(vocab, dim, generator=g)
    emb[0] = 0.0
    return emb.numpy()


def _batch(vocab=30, B=5, L=12, seed=1):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, L + 1, (B,), generator=g)
    lengths[0] = L
    ids = torch.randint(2, vocab, (B, L), generator=g)
    ids[torch.arange(L)[None] >= lengths[:, None]] = 0
    return ids, lengths


# ----------------------------------------------------------------------------- DAN


def test_average_is_mean_of_real_tokens_and_ignores_padding():
    emb = _embeddings()
    model = DAN(emb, hidden=(8,)).eval()
    ids, lengths = _batch()
    expected = torch.stack([torch.as_tensor(emb)[ids[b, :lengths[b]]].mean(0) for b in range(len(ids))])
    assert torch.allclose(model.average(ids, lengths), expected, atol=1e-6)
    # whatever sits beyond a review's length must not matter, even a non-zero padding vector
    model.embedding.weight.data[0] = 5.0
    junk = ids.clone()
    beyond = torch.arange(ids.shape[1])[None] >= lengths[:, None]
    junk[beyond] = torch.randint(2, 30, (int(beyond.sum()),))
    assert torch.allclose(model(ids, lengths), model(junk, lengths), atol=1e-6)
    assert torch.allclose(model.average(ids, lengths), expected, atol=1e-6)


def test_numpy_mean_vectors_and_bag_of_words_match_the_model():
    emb = _embeddings()
    ids, lengths = _batch()
    model = DAN(emb, hidden=()).eval()
    assert np.allclose(mean_vectors(ids.numpy(), lengths.numpy(), emb), model.average(ids, lengths).numpy(), atol=1e-6)
    x = bag_of_words(ids.numpy(), 30).toarray()
    for b in range(len(ids)):
        assert set(np.flatnonzero(x[b])) == set(ids[b, :lengths[b]].tolist()) and x[b].max() == 1


def test_word_dropout_off_in_eval_and_drops_whole_words_in_train():
    vocab, L = 64, 40
    # one-hot word vectors: an average then reveals exactly which tokens were kept
    emb = np.eye(vocab, dtype=np.float32)
    emb[0] = 0
    model = DAN(emb, hidden=(4,), word_dropout=0.5)
    ids = torch.arange(2, 2 + L)[None].repeat(200, 1)
    lengths = torch.full((200,), L)
    model.eval()
    assert torch.allclose(model.average(ids, lengths), model.average(ids, lengths))
    assert torch.allclose(model.average(ids, lengths)[:, 2:2 + L], torch.full((200, L), 1 / L))
    model.train()
    torch.manual_seed(0)
    avg = model.average(ids, lengths)[:, 2:2 + L]
    kept = avg > 0
    # every kept word has the full weight 1/k, every dropped word weight 0: whole words, no partial scaling
    k = kept.sum(1, keepdim=True).float()
    assert torch.allclose(avg, kept.float() / k, atol=1e-6)
    assert abs(float(kept.float().mean()) - 0.5) < 0.03
    assert bool((k > 0).all())


def test_word_dropout_never_empties_a_review():
    emb = _embeddings()
    model = DAN(emb, hidden=(), word_dropout=0.99).train()
    ids = torch.tensor([[5, 0, 0], [7, 8, 0]])
    for _ in range(20):
        assert torch.isfinite(model(ids, torch.tensor([1, 2]))).all()
        assert model.token_mask(ids, torch.tensor([1, 2])).sum(1).min() >= 1


def test_depth_and_activations_build_the_reports_models():
    emb = _embeddings(dim=50)
    widths = [[m.out_features for m in report_dan(emb, depth=k).head if isinstance(m, torch.nn.Linear)]
              for k in range(5)]
    assert widths == [[2], [450, 2], [450, 100, 2], [450, 100, 50, 2], [450, 100, 50, 10, 2]]
    mixed = DAN(emb, activations=["leaky_relu", "relu", "hardswish", "relu"])
    names = [type(m).__name__ for m in mixed.head if not isinstance(m, torch.nn.Linear)]
    assert names == ["LeakyReLU", "ReLU", "Hardswish", "ReLU"]
    with pytest.raises(ValueError):
        DAN(emb, hidden=(4, 4), activations=["relu"])


def test_contributions_of_a_linear_head_are_exact():
    emb = _embeddings()
    model = DAN(emb, hidden=()).eval()
    ids, lengths = _batch()
    contrib, f0, f = word_contributions(model, ids, lengths, steps=4)
    w = model.head[0].weight
    wdiff = (w[1] - w[0]).detach()
    e = torch.as_tensor(emb)[ids]
    expected = (e @ wdiff) / lengths[:, None]
    expected[torch.arange(ids.shape[1])[None] >= lengths[:, None]] = 0
    assert torch.allclose(contrib, expected, atol=1e-6)
    logits = model(ids, lengths)
    assert torch.allclose(contrib.sum(1) + f0, logits[:, 1] - logits[:, 0], atol=1e-5)


def test_contributions_of_a_deep_head_sum_to_the_logit_difference():
    emb = _embeddings(dim=10)
    torch.manual_seed(0)
    model = DAN(emb, hidden=(32, 16), activations=["relu", "hardswish"]).eval()
    ids, lengths = _batch()
    contrib, f0, f = word_contributions(model, ids, lengths, steps=512)
    logits = model(ids, lengths)
    assert torch.allclose(f, logits[:, 1] - logits[:, 0], atol=1e-5)
    gap = (contrib.sum(1) - (f - f0)).abs().max()
    assert float(gap) < 1e-3 * float((f - f0).abs().max() + 1)
    # a planted bug (forgetting the 1/n of the average) is caught by the same identity
    assert not torch.allclose(contrib.sum(1) * lengths, f - f0, atol=1e-3)
    # against a reference average b, the shares add up to f(avg) − f(b)
    b = torch.randn(10, generator=torch.Generator().manual_seed(5)) * 0.3
    cb, fb, f2 = word_contributions(model, ids, lengths, steps=512, baseline=b)
    logits_b = model.head(b[None])[0]
    assert torch.allclose(fb, (logits_b[1] - logits_b[0]).expand_as(fb), atol=1e-5)
    assert float((cb.sum(1) - (f2 - fb)).abs().max()) < 1e-3 * float((f2 - fb).abs().max() + 1)


# ----------------------------------------------------------------------------- char LM

TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 20


def test_vocab_round_trip_and_split():
    vocab = CharVocab.from_text(TEXT)
    data = vocab.encode(TEXT)
    assert vocab.decode(data) == TEXT
    train, held = split_text(data, 0.1)
    assert len(train) + len(held) == len(data) and abs(len(held) - 0.1 * len(data)) <= 1
    x, y = random_chunks(train, 50, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 50) and torch.equal(x[:, 1:], y[:, :-1])


def test_batched_gru_loss_equals_step_by_step_loop():
    vocab = CharVocab.from_text(TEXT)
    data = vocab.encode(TEXT)
    torch.manual_seed(0)
    model = CharGRU(len(vocab), hidden=16).double()
    x, y = random_chunks(data, 60, 3, torch.Generator().manual_seed(1))
    batched, looped = sequence_loss(model, x, y), stepwise_loss(model, x, y)
    assert abs(batched.item() - looped.item()) < 1e-10
    g1 = torch.autograd.grad(batched, list(model.parameters()))
    g2 = torch.autograd.grad(stepwise_loss(model, x, y), list(model.parameters()))
    assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(g1, g2))


def test_sampling_is_reproducible_with_a_seed():
    vocab = CharVocab.from_text(TEXT)
    torch.manual_seed(0)
    model = CharGRU(len(vocab), hidden=16)
    a = sample(model, vocab, "To be", 80, temperature=1.0, seed=3)
    b = sample(model, vocab, "To be", 80, temperature=1.0, seed=3)
    c = sample(model, vocab, "To be", 80, temperature=1.0, seed=4)
    assert a == b and a != c and a.startswith("To be") and len(a) == 85


def test_training_lowers_held_out_loss_below_uniform():
    vocab = CharVocab.from_text(TEXT)
    train, held = split_text(vocab.encode(TEXT), 0.2)
    torch.manual_seed(0)
    model = CharGRU(len(vocab), hidden=32)
    hist = train_char_lm(model, train, held, iterations=60, chunk_len=40, batch_size=8, lr=0.01,
                         eval_every=20, progress=False)
    assert hist.held_loss[-1] < 0.6 * math.log(len(vocab))
    assert abs(held_out_loss(model, held, 40) - hist.held_loss[-1]) < 1e-9
