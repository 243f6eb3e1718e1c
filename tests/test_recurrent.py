"""The from-scratch recurrent cells against PyTorch's own, gradients, parameter counts, padding."""

import pytest
import torch
from torch import nn

from idl_helpers.models.recurrent import GRU, ElmanRNN, RecurrentClassifier, n_trainable, param_count


def _seq(B=5, T=7, d=6, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, d, generator=g, dtype=dtype)


def _loop(cell, x, hidden_size=8):
    h = torch.zeros(x.shape[0], hidden_size, dtype=x.dtype)
    out = []
    for t in range(x.shape[1]):
        h = cell(x[:, t], h)
        out.append(h)
    return torch.stack(out, 1)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_rnn_equals_torch_rnncell(act):
    torch.manual_seed(1)
    ref = nn.RNNCell(6, 8, nonlinearity=act)
    ours = ElmanRNN(6, 8, act)
    with torch.no_grad():
        ours.W_x.copy_(ref.weight_ih)
        ours.W_h.copy_(ref.weight_hh)
        ours.b.copy_(ref.bias_ih + ref.bias_hh)   # two biases in torch, one (their sum) in ours
    x = _seq()
    states, last = ours(x)
    expected = _loop(ref, x)
    assert torch.allclose(states, expected, atol=1e-6, rtol=0)
    assert torch.allclose(last, expected[:, -1], atol=1e-6, rtol=0)


def test_gru_after_equals_torch_grucell():
    torch.manual_seed(2)
    ref = nn.GRUCell(6, 8)
    ours = GRU(6, 8, "tanh", reset="after")
    H = 8
    with torch.no_grad():
        ours.W_x.copy_(ref.weight_ih)
        ours.W_h.copy_(ref.weight_hh)
        b = ref.bias_ih.clone()
        b[:2 * H] += ref.bias_hh[:2 * H]             # r and z biases simply add up
        ours.b.copy_(b)
        ours.b_hn.copy_(ref.bias_hh[2 * H:])         # the candidate's hidden bias sits inside r * (...)
    x = _seq()
    states, _ = ours(x)
    assert torch.allclose(states, _loop(ref, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("reset", ["before", "after"])
@pytest.mark.parametrize("act", ["none", "tanh", "sigmoid", "relu"])
def test_gru_fast_forward_equals_literal_step(reset, act):
    """The loop with precomputed input projections equals the equations written out per step."""
    torch.manual_seed(3)
    cell = GRU(6, 8, act, reset=reset)
    x = _seq()
    fast, _ = cell(x)
    assert torch.allclose(fast, _loop(cell.step, x), atol=1e-6, rtol=0)


def test_gru_before_differs_from_after():
    """The two reset placements are different models (guards against a mode switch that does nothing)."""
    torch.manual_seed(4)
    a = GRU(6, 8, reset="before")
    b = GRU(6, 8, reset="after")
    with torch.no_grad():
        b.W_x.copy_(a.W_x), b.W_h.copy_(a.W_h), b.b.copy_(a.b), b.b_hn.zero_()
    x = _seq()
    assert (a(x)[0] - b(x)[0]).abs().max() > 1e-3


@pytest.mark.parametrize("cls,kw", [(ElmanRNN, {"act": "tanh"}), (ElmanRNN, {"act": "relu"}),
                                    (GRU, {"reset": "before"}), (GRU, {"reset": "after", "act": "sigmoid"})])
def test_gradcheck_float64(cls, kw):
    torch.manual_seed(5)
    cell = cls(3, 4, **kw).double()
    x = _seq(B=2, T=4, d=3, dtype=torch.float64).requires_grad_()
    params = tuple(cell.parameters())
    lengths = torch.tensor([4, 2])
    # input gradients, then every parameter's gradient (through functional_call)
    assert torch.autograd.gradcheck(lambda x: cell(x, lengths)[1], (x,), eps=1e-6, atol=1e-6)
    names = [n for n, _ in cell.named_parameters()]
    leaves = tuple(p.detach().clone().requires_grad_() for p in params)
    fn = lambda *ps: torch.func.functional_call(cell, dict(zip(names, ps)), (x.detach(), lengths))[1]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-6)


def test_param_counts_formula_and_report():
    emb100 = torch.zeros(10, 100)
    rnn = RecurrentClassifier(emb100, "rnn", 64)
    gru = RecurrentClassifier(emb100, "gru", 64)
    # the report's counts, reproduced with GloVe 100-d (our reconstruction of its architecture)
    assert n_trainable(rnn) == param_count("rnn", 100, 64) == 12_673
    assert n_trainable(gru) == param_count("gru", 100, 64) == 33_793
    for cell, d, h, kw in [("rnn", 50, 128, {}), ("gru", 50, 64, {"reset": "after"}),
                           ("gru", 50, 20, {"head_hidden": None, "single_logit": False}), ("rnn", 7, 3, {})]:
        m = RecurrentClassifier(torch.zeros(4, d), cell, h, **kw)
        assert n_trainable(m) == param_count(cell, d, h, **kw)
    # the embedding is fixed: it holds parameters but none are trained
    assert not rnn.embedding.weight.requires_grad


def test_gru_after_has_torch_parameter_count_minus_merged_biases():
    ours, ref = GRU(50, 64, reset="after"), nn.GRU(50, 64)
    # torch keeps b_ir, b_hr and b_iz, b_hz separately; their sums are one bias each in ours
    assert sum(p.numel() for p in ref.parameters()) - n_trainable(ours) == 2 * 64


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_padding_does_not_change_prediction(cell):
    torch.manual_seed(6)
    emb = torch.randn(30, 5)
    emb[0] = 0
    model = RecurrentClassifier(emb, cell, 8, "relu").eval()
    ids = torch.randint(2, 30, (4, 12))
    lengths = torch.tensor([12, 7, 3, 1])
    for i, n in enumerate(lengths):
        ids[i, n:] = 0
    base = model(ids, lengths)
    # more padding, and garbage where the padding is: the last real state must not move
    longer = torch.cat([ids, torch.zeros(4, 20, dtype=ids.dtype)], 1)
    garbage = longer.clone()
    for i, n in enumerate(lengths):
        garbage[i, n:] = torch.randint(2, 30, (32 - n,))
    assert torch.allclose(model(longer, lengths), base, atol=1e-6)
    assert torch.allclose(model(garbage, lengths), base, atol=1e-6)
    # and each review alone, unpadded, gives the same logits as inside the padded batch
    for i, n in enumerate(lengths):
        alone = model(ids[i:i + 1, :n], lengths[i:i + 1])
        assert torch.allclose(alone, base[i:i + 1], atol=1e-6)
    # reading the state after the last padded step (what running all T steps gives) would differ
    _, last_all = model.rnn(model.embedding(ids))
    _, last_real = model.rnn(model.embedding(ids), lengths)
    assert (last_all[1:] - last_real[1:]).abs().max() > 1e-4


def test_single_logit_head_is_logistic_loss():
    torch.manual_seed(7)
    model = RecurrentClassifier(torch.randn(10, 4), "gru", 6)
    ids, lengths = torch.randint(1, 10, (8, 5)), torch.full((8,), 5)
    y = torch.randint(0, 2, (8,))
    logits = model(ids, lengths)
    assert torch.all(logits[:, 0] == 0)
    bce = nn.functional.binary_cross_entropy_with_logits(logits[:, 1], y.float())
    assert torch.allclose(nn.functional.cross_entropy(logits, y), bce, atol=1e-6)


def test_unknown_activation_rejected():
    with pytest.raises(ValueError):
        ElmanRNN(3, 4, "softplus")


# --- the fast path (hand-written backward, stacked members, reused buffers) ----------------------

from idl_helpers.models.recurrent import (StackedRecurrentClassifier, TorchRecurrentClassifier, Workspace,  # noqa: E402
                                   reuse_buffers)


def _grads(fn, params):
    for p in params:
        p.grad = None
    fn().backward()
    return [p.grad.clone() for p in params]


@pytest.mark.parametrize("cls,kw", [(ElmanRNN, {"act": a}) for a in ("none", "tanh", "sigmoid", "relu")] +
                         [(GRU, {"act": a, "reset": r}) for a in ("none", "tanh", "sigmoid", "relu")
                          for r in ("before", "after")])
def test_fast_path_equals_autograd_reference(cls, kw):
    """Outputs and every gradient (inputs, weights, through the states and the last real state)
    of the hand-written backward equal autograd's on the loop over the equations."""
    torch.manual_seed(8)
    cell = cls(5, 7, **kw).double()
    x = _seq(B=4, T=9, d=5, dtype=torch.float64).requires_grad_()
    lengths = torch.tensor([9, 4, 1, 6])
    w = torch.randn(4, 9, 7, dtype=torch.float64)
    params = [x] + list(cell.parameters())

    def loss(f):
        S, last = f(x, lengths)
        return (S * w).sum() + (last ** 2).sum()

    S1, l1 = cell(x, lengths)
    S2, l2 = cell.forward_autograd(x, lengths)
    assert torch.allclose(S1, S2, atol=1e-12) and torch.allclose(l1, l2, atol=1e-12)
    for g1, g2 in zip(_grads(lambda: loss(cell), params), _grads(lambda: loss(cell.forward_autograd), params)):
        assert torch.allclose(g1, g2, atol=1e-10, rtol=0)


def _members(cell, K, emb, **kw):
    out = []
    for k in range(K):
        torch.manual_seed(100 + k)
        out.append(RecurrentClassifier(emb, cell, 8, **kw))
    return out


@pytest.mark.parametrize("cell,kw", [("rnn", {"act": "relu"}), ("rnn", {"act": "tanh", "head_hidden": None}),
                                     ("gru", {"act": "tanh"}), ("gru", {"act": "sigmoid", "reset": "after"}),
                                     ("gru", {"act": "none", "single_logit": False})])
def test_stacked_members_equal_single_models(cell, kw):
    """Each member's logits and gradients in the stacked model are those of the single model
    (same seed, same weights) on that member's own batch, to 1e-6."""
    torch.manual_seed(9)
    emb = torch.randn(30, 6)
    emb[0] = 0
    K, B, T = 3, 5, 11
    singles = _members(cell, K, emb, **kw)
    stacked = StackedRecurrentClassifier(_members(cell, K, emb, **kw))
    ids = torch.randint(2, 30, (K, B, T))
    lengths = torch.randint(1, T + 1, (K, B))
    y = torch.randint(0, 2, (K, B))
    logits = stacked(ids, lengths)
    losses = torch.stack([nn.functional.cross_entropy(logits[k], y[k]) for k in range(K)])
    losses.sum().backward()
    for k, m in enumerate(singles):
        out = m(ids[k], lengths[k])
        assert torch.allclose(logits[k], out, atol=1e-6, rtol=0)
        nn.functional.cross_entropy(out, y[k]).backward()
        for name, p in m.named_parameters():
            if p.requires_grad:
                g = stacked.params[name.replace(".", "__")].grad[k]
                assert torch.allclose(g, p.grad, atol=1e-6, rtol=0), name
        # and the member handed back is the same model
        assert torch.allclose(stacked.member(k)(ids[k], lengths[k]), out, atol=1e-6)
    # one batch shared by all members (evaluation) gives each member's own logits
    with torch.no_grad():
        shared = stacked(ids[:1], lengths[:1])
        for k, m in enumerate(singles):
            assert torch.allclose(shared[k], m(ids[0], lengths[0]), atol=1e-6)


def test_reused_buffers_give_the_same_gradients_and_never_share_live_ones():
    torch.manual_seed(10)
    emb = torch.randn(30, 6)
    m = RecurrentClassifier(emb, "gru", 8)
    ids, lengths = torch.randint(2, 30, (4, 10)), torch.tensor([10, 3, 7, 10])
    y = torch.tensor([0, 1, 1, 0])
    params = [p for p in m.parameters() if p.requires_grad]
    ref = _grads(lambda: nn.functional.cross_entropy(m(ids, lengths), y), params)
    ws = Workspace()
    for _ in range(3):                                 # buffers handed back and reused
        with reuse_buffers(ws):
            got = _grads(lambda: nn.functional.cross_entropy(m(ids, lengths), y), params)
        assert all(torch.equal(a, b) for a, b in zip(ref, got))
    with reuse_buffers(ws):                            # two forward passes before the backward passes
        l1 = nn.functional.cross_entropy(m(ids, lengths), y)
        l2 = nn.functional.cross_entropy(m(ids.flip(0), lengths.flip(0)), y.flip(0))
        g2 = torch.autograd.grad(l2, params)
        g1 = torch.autograd.grad(l1, params)
    assert all(torch.equal(a, b) for a, b in zip(ref, g1))


@pytest.mark.parametrize("cell,act", [("gru", "tanh"), ("rnn", "relu"), ("rnn", "tanh")])
def test_torch_classifier_equals_ours_with_copied_weights(cell, act):
    """The nn.RNN / nn.GRU classifier reads the same last real state through the same head: with
    its weights copied into ours (GRU: reset after, merged biases) the logits agree."""
    torch.manual_seed(11)
    emb = torch.randn(30, 6)
    ref = TorchRecurrentClassifier(emb, cell, 8, act)
    ours = RecurrentClassifier(emb, cell, 8, act, reset="after" if cell == "gru" else "before")
    H = 8
    with torch.no_grad():
        r = ref.rnn
        ours.rnn.W_x.copy_(r.weight_ih_l0)
        ours.rnn.W_h.copy_(r.weight_hh_l0)
        if cell == "gru":
            b = r.bias_ih_l0.clone()
            b[:2 * H] += r.bias_hh_l0[:2 * H]
            ours.rnn.b.copy_(b)
            ours.rnn.b_hn.copy_(r.bias_hh_l0[2 * H:])
        else:
            ours.rnn.b.copy_(r.bias_ih_l0 + r.bias_hh_l0)
        ours.head.load_state_dict(ref.head.state_dict())
    ids, lengths = torch.randint(2, 30, (5, 12)), torch.tensor([12, 1, 5, 9, 12])
    assert torch.allclose(ours(ids, lengths), ref(ids, lengths), atol=1e-5)


def test_orthogonal_init_changes_only_the_recurrent_blocks():
    emb = torch.randn(10, 6)
    torch.manual_seed(12)
    a = RecurrentClassifier(emb, "gru", 8)
    torch.manual_seed(12)
    b = RecurrentClassifier(emb, "gru", 8, init="orthogonal")
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        if n == "rnn.W_h":
            for i in range(3):
                blk = q[i * 8:(i + 1) * 8]
                assert torch.allclose(blk @ blk.T, torch.eye(8), atol=1e-5)
            assert not torch.allclose(p, q)
        else:
            assert torch.equal(p, q), n
