"""Part I theory (I.T1–I.T3): the derivation builders, the gradient-flow measurement and the modules."""

import itertools

import pytest
import sympy as sp
import torch

from idl_helpers.models import architectures as A
from idl_helpers.theory import calculus as C
from idl_helpers.theory import gradient_flow as G
from idl_helpers.models import text_to_image as T
from idl_helpers.theory.derive import same

x = C.x
P = C.partials_as_functions


# ------------------------------------------------------------------ I.T1 derivations
def test_substitution_rule_and_a_wrong_derivative_is_rejected():
    f = sp.Function("f")
    expr, closed = C.substitution_example(f)
    assert same(P(sp.diff(expr, x)), P(closed))
    y, z = sp.symbols("y z", real=True)
    forgot_factor_2 = C.partial(f, (x + y, 2 * x, z), 0) + C.partial(f, (x + y, 2 * x, z), 1)
    assert not same(P(sp.diff(expr, x)), P(forgot_factor_2))
    # the same verdicts without the renaming of partials (slower, SymPy's own Subs objects)
    assert same(sp.diff(expr, x), closed)
    assert not same(sp.diff(expr, x), forgot_factor_2)


@pytest.mark.parametrize("n", [3, 4])
def test_chain_rule_nested_paths_and_skips_match_sympy(n):
    fs = C.functions("f", n)
    assert same(P(sp.diff(C.compose(fs), x)), P(C.chain_rule(fs)))
    assert same(P(sp.diff(C.nested(fs), x)), P(C.nested_total_derivative(fs)))
    assert same(P(sp.diff(C.skip_from_input(fs), x)), P(C.skip_closed_form(C.skip_derivatives(fs))))
    assert same(P(sp.diff(C.residual_stream(fs), x)), P(C.residual_closed_form(fs)))


def test_planted_errors_are_caught():
    fs = C.functions("f", 3)
    # the report's intermediate line has ∂f_{n-1}/∂x where ∂f_{n-1}/∂f_n belongs
    assert not same(P(sp.diff(C.nested(fs), x)), P(C.nested_report_intermediate_line(fs)))
    # dropping one path from the sum
    total = C.nested_total_derivative(fs)
    one_path = sp.Add.make_args(sp.expand(total))[0]
    assert not same(P(sp.diff(C.nested(fs), x)), P(total - one_path))
    # the chain rule with one factor at the wrong point
    f1, f2, f3 = fs
    wrong_point = C.derivative_at(f1, f3(x)) * C.derivative_at(f2, f3(x)) * C.derivative_at(f3, x)
    assert not same(P(sp.diff(C.compose(fs), x)), P(wrong_point))
    # skip-from-input and ResNet-style skips are different functions with different derivatives
    assert not same(P(sp.diff(C.skip_from_input(fs), x)), P(C.residual_closed_form(fs)))


def test_renaming_partials_keeps_raw_verdicts():
    fs = C.functions("f", 3)
    raw = sp.diff(C.nested(fs), x)
    assert same(raw, C.nested_total_derivative(fs)) == same(P(raw), P(C.nested_total_derivative(fs))) is True
    assert P(C.partial(sp.Function("f"), (x, x**2), 1)) == sp.Function("f_2")(x, x**2)


def test_sigmoid_derivative_bound():
    sig = C.sigmoid(x)
    d = sp.diff(sig, x)
    assert same(sp.Rational(1, 4) - d, (sig - sp.Rational(1, 2)) ** 2)
    assert sp.solve(sp.diff(d, x), x) == [0] and d.subs(x, 0) == sp.Rational(1, 4)


@pytest.mark.parametrize("dims", [[2, 3, 6, 4, 5], [1, 7, 2, 8], [4, 4, 4, 4, 4, 4]])
def test_jacobian_product_equals_autograd(dims):
    layers = C.random_layers(dims, seed=len(dims))
    u = torch.randn(dims[-1], dtype=torch.float64)
    J = C.jacobian_product(layers, u)
    ref = torch.autograd.functional.jacobian(C.composed(layers), u)
    assert J.shape == (dims[0], dims[-1])
    torch.testing.assert_close(J, ref, rtol=1e-12, atol=1e-14)
    # a wrong order of the factors is not the Jacobian
    if len(set(dims)) == 1:
        points = [u]
        for layer in reversed(layers[1:]):
            points.append(layer(points[-1]))
        jacs = [l.jacobian(p) for l, p in zip(reversed(layers), points)]
        wrong = jacs[0]
        for Jk in jacs[1:]:
            wrong = wrong @ Jk
        assert not torch.allclose(wrong, ref)


# ------------------------------------------------------------------ gradient flow
def test_sigmoid_gradient_vanishes_without_skips_and_not_with_them():
    kw = dict(width=16, batch=8, seed=0)
    shallow = G.first_layer_grad_norm(1, "sigmoid", **kw)
    deep = G.first_layer_grad_norm(25, "sigmoid", **kw)
    deep_skip = G.first_layer_grad_norm(25, "sigmoid", skip=True, **kw)
    assert deep / shallow < 1e-8
    assert 1e-2 < deep_skip / shallow < 1e2
    assert G.first_layer_grad_norm(25, "sigmoid_plus_x", **kw) > G.first_layer_grad_norm(1, "sigmoid_plus_x", **kw)


def test_first_layer_grad_norm_matches_nn_module():
    """The hand-built network's gradient equals the same network written with nn.Linear."""
    depth, width, batch = 4, 8, 5
    got = G.first_layer_grad_norm(depth, "relu", skip=True, width=width, batch=batch, seed=3)
    g = torch.Generator().manual_seed(3)
    std = G.init_std("lecun", width)
    Ws = [torch.randn(width, width, generator=g, dtype=torch.float64) * std for _ in range(depth)]
    bs = [torch.randn(width, generator=g, dtype=torch.float64) * 0.1 for _ in range(depth)]
    readout = torch.randn(width, generator=g, dtype=torch.float64) / width ** 0.5
    u = torch.randn(batch, width, generator=g, dtype=torch.float64)
    layers = [torch.nn.Linear(width, width, dtype=torch.float64) for _ in range(depth)]
    with torch.no_grad():
        for lin, W, b in zip(layers, Ws, bs):
            lin.weight.copy_(W); lin.bias.copy_(b)
    for lin in layers:
        u = u + torch.relu(lin(u))
    (u @ readout).mean().backward()
    assert got == pytest.approx(float(layers[0].weight.grad.norm()), rel=1e-12)


# ------------------------------------------------------------------ I.T2 modules
def test_architecture_shapes_and_reference_counts():
    frames = A.log_spectrogram(torch.randn(2, 16_000))
    assert frames.shape == (2, 101, 201)
    assert A.SpeechBiLSTM(n_freq=201, hidden=16, n_out=50, layers=1)(frames).shape == (2, 101, 50)
    ids = torch.randint(0, 500, (2, 40)); seg = torch.zeros_like(ids); seg[:, 10:] = 1
    start, end = A.SpanQA(vocab=500, d=32, heads=2, layers=1)(ids, seg)
    assert start.shape == end.shape == (2, 40)
    spans = A.best_span(start, end, seg.bool(), max_len=5)
    assert ((spans[:, 0] >= 10) & (spans[:, 0] <= spans[:, 1]) & (spans[:, 1] - spans[:, 0] < 5)).all()
    assert A.SentimentCLS(vocab=500, d=32, heads=2, layers=1)(ids).shape == (2,)
    # the torchvision reference implementations have exactly these parameter counts
    assert A.n_params(A.AlexNet()) == 61_100_840
    assert A.n_params(A.ResNet18()) == 11_689_512
    assert A.WordTranslator(50, 40, 64)(torch.randn(3, 50)).shape == (3, 40)


def test_best_span_finds_a_planted_answer():
    start = torch.full((1, 12), -5.0); end = torch.full((1, 12), -5.0)
    start[0, 6], end[0, 8] = 5.0, 5.0
    start[0, 1] = 9.0                                    # outside the paragraph: must be ignored
    allowed = torch.zeros(1, 12, dtype=torch.bool); allowed[0, 4:11] = True
    assert A.best_span(start, end, allowed).tolist() == [[6, 8]]


def test_ctc_greedy_decode_merges_repeats_and_drops_blanks():
    path = torch.tensor([[0, 3, 3, 0, 3, 5, 5, 0]])
    log_probs = torch.nn.functional.one_hot(path, 6).float().log()
    assert A.ctc_greedy_decode(log_probs) == [[3, 3, 5]]


def test_procrustes_recovers_a_rotation():
    import numpy as np
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10)); R = A.rotation(10, seed=1)
    assert np.allclose(A.procrustes(X, X @ R), R, atol=1e-10)


# ------------------------------------------------------------------ I.T3 modules
def test_text_to_image_shapes():
    s = T.TextEncoder(vocab=500, d=32, layers=1, heads=2)(torch.randint(0, 500, (3, 9)))
    z = T.TextToLatent(d_text=32, d_latent=16)(s)
    assert z.shape == (3, 4, 16)
    img = torch.rand(3, 3, 64, 64)
    assert T.ImageEncoder(d_latent=16, width=8)(img).shape == (3, 4, 16)
    assert T.ImageDecoder(d_latent=16, width=8)(z).shape == (3, 3, 64, 64)


def test_permutation_attention_keys_values_and_assignment():
    att = T.PermutationAttention(d=5, d_query=7, d_k=6)
    z, q = torch.randn(4, 4, 5), torch.randn(4, 3, 7)
    out, w = att(z, q)
    assert out.shape == (4, 3, 4, 5) and w.shape == (4, 3, 24)
    assert torch.allclose(w.sum(-1), torch.ones(4, 3))
    # the values are exactly the 24 orderings of the quadrant vectors
    vals = att.orderings(z)
    for i, p in enumerate(itertools.permutations(range(4))):
        assert torch.equal(vals[:, i], z[:, list(p)].flatten(1))
    # the score of an ordering decomposes over positions → Hungarian == argmax over 24
    S = att.position_scores(z, q)
    best = T.permutation_index(T.best_by_assignment(S))
    assert torch.equal(best, att.scores(z, q).argmax(-1))


def test_attention_concentrates_on_the_correct_ordering():
    torch.manual_seed(0)
    att = T.PermutationAttention(d=8, d_query=32, d_k=32)
    _, describe = T.train_permutation_attention(att, steps=120, batch=64, seed=0)
    g = torch.Generator().manual_seed(5)
    z, s, truth, _ = T.make_scenes(200, noise=0.0, generator=g, describe=describe)
    with torch.no_grad():
        _, w = att(z, s[:, None])
    correct = T.permutation_index(truth)
    assert float(w[:, 0].gather(1, correct[:, None]).mean()) > 0.5       # chance: 1/24
    assert float((w[:, 0].argmax(1) == correct).float().mean()) > 0.85
    # an untrained attention does not: the check can fail
    fresh = T.PermutationAttention(d=8, d_query=32, d_k=32)
    with torch.no_grad():
        _, w0 = fresh(z, s[:, None])
    assert float(w0[:, 0].gather(1, correct[:, None]).mean()) < 0.2
