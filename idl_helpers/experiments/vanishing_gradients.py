"""Page I.T1.3–I.T1.5: vanishing gradients, paths through nested functions, skip connections.

Each function is one step of the page's answer: the symbolic facts about σ' and (σ + x)'
(:func:`activation_facts`), the gradient that reaches the first layer of deep random networks
(:func:`measure_first_layer_gradients`, :func:`describe_measured`, :func:`record_measured`), the sum over
paths of a nested function (:func:`check_paths`) and the two skip-connection forms (:func:`check_skips`).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import sympy as sp
from IPython.display import Markdown, Math, display

from idl_helpers.theory import calculus as C
from idl_helpers.theory import gradient_flow as G
from idl_helpers.theory.derive import max_error, same, within

NAME = "02_I_T1_3_5_vanishing_gradients"
DATA_VARIANT = "symbolic / random networks"
#: depths of the symbolic checks; depths, seeds and width of the measured random networks
SETTINGS = dict(smoke=dict(depths=(3, 4), net_depths=(1, 5, 20, 50), seeds=2, width=32),
                quick=dict(depths=(3, 4, 5), net_depths=tuple(range(1, 51)), seeds=5, width=64),
                full=dict(depths=(3, 4, 5), net_depths=tuple(range(1, 51)), seeds=10, width=128))
x = C.x
P = C.partials_as_functions   # f_k(point) := ∂f/∂(slot k) at point (see the previous page)


def show_equation(lhs, rhs) -> None:
    """Display ``lhs = rhs`` with one term of the sum on the right per line (SymPy's own order), so
    that a derivative with several paths fits the page's column instead of one line that scrolls."""
    terms = rhs.as_ordered_terms() if isinstance(rhs, sp.Add) else [rhs]
    body = r" \\ &\quad + ".join(sp.latex(t) for t in terms)
    display(Math(rf"\begin{{aligned}} {sp.latex(lhs)} &= {body} \end{{aligned}}"))


#: the activations and initialisations whose first-layer gradient the page records
VARIANTS = [("sigmoid", "lecun"), ("relu", "lecun"), ("relu", "he"), ("sigmoid_plus_x", "lecun")]


def activation_facts() -> SimpleNamespace:
    """σ' ≤ 1/4 with its maximum at 0 and zero tails; (σ + x)' = σ' + 1 ∈ [1, 5/4]; ReLU' ∈ {0, 1}.
    Prints what it derived; ``sigmoid_ok`` / ``h_ok`` say whether every claim held."""
    sig = C.sigmoid(x)
    d_sig = sp.diff(sig, x)
    identity = (same(sp.Rational(1, 4) - d_sig, (sig - sp.Rational(1, 2)) ** 2)
                and same(d_sig, sig * (1 - sig)))
    critical = sp.solve(sp.diff(d_sig, x), x)
    max_sig = sp.simplify(d_sig.subs(x, 0))
    tails = (sp.limit(d_sig, x, sp.oo), sp.limit(d_sig, x, -sp.oo))
    h = sig + x
    d_h = sp.diff(h, x)
    h_bounds = (sp.simplify(d_h.subs(x, 0)), sp.limit(d_h, x, sp.oo), sp.limit(d_h, x, -sp.oo))
    h_ge_1 = same(d_h - 1, d_sig)      # h' − 1 is σ', which the identity shows is in (0, 1/4]
    relu_d = sp.diff(sp.Max(0, x), x)
    print("σ'(x) =", sp.simplify(d_sig), "| critical points of σ':", critical, "| σ'(0) =", max_sig,
          "| limits:", tails)
    print("h'(x) = σ'(x) + 1: h'(0) =", h_bounds[0], "| limits:", h_bounds[1:],
          "| h' − 1 == σ':", h_ge_1)
    print("ReLU' =", relu_d)
    grid = np.linspace(-8, 8, 2001)
    num_max = float(np.max(np.exp(-grid) / (1 + np.exp(-grid)) ** 2))
    print(f"numeric max of σ' on a grid over [−8, 8]: {num_max:.6f}")
    sigmoid_ok = (identity and critical == [0] and max_sig == sp.Rational(1, 4) and tails == (0, 0)
                  and within(max_error(num_max, 0.25), 1e-6))
    h_ok = h_ge_1 and h_bounds == (sp.Rational(5, 4), 1, 1)
    return SimpleNamespace(max_sig=max_sig, sigmoid_ok=sigmoid_ok, h_ok=h_ok)


def activation_figure() -> None:
    """σ, ReLU and σ + x with their derivatives: one factor each of the chain-rule product."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    t = np.linspace(-6, 6, 400)
    s = 1 / (1 + np.exp(-t))
    axes[0].plot(t, s, label="σ(x)")
    axes[0].plot(t, np.maximum(t, 0), label="ReLU(x)")
    axes[0].plot(t, s + t, label="σ(x) + x")
    axes[0].set(title="activation", xlabel="x", ylim=(-2, 4))
    axes[0].legend()
    axes[1].plot(t, s * (1 - s), label="σ' ≤ 1/4")
    axes[1].plot(t, (t > 0).astype(float), label="ReLU' ∈ {0, 1}")
    axes[1].plot(t, s * (1 - s) + 1, label="(σ + x)' ∈ [1, 5/4]")
    axes[1].axhline(0.25, color="grey", ls=":", lw=1)
    axes[1].set(title="derivative (one factor of the chain-rule product)", xlabel="x")
    axes[1].legend(fontsize=8)
    plt.tight_layout()
    plt.show()


@dataclass
class Measured:
    """The first-layer gradient norms of the random networks, summarised per depth and variant."""
    summary: pd.DataFrame
    deepest: int

    def geo(self, act: str, variant: str, depth: int, init: str = "lecun") -> float:
        s = self.summary
        row = s[(s.activation == act) & (s.variant == variant) & (s.depth == depth) & (s.init == init)]
        return float(row.geo_mean.iloc[0])

    def ratio(self, act: str, variant: str, init: str = "lecun") -> float:
        """The deepest network's gradient over the one-layer network's."""
        return self.geo(act, variant, self.deepest, init) / self.geo(act, variant, 1, init)


def measure_first_layer_gradients(cfg, seed: int) -> Measured:
    """For every depth of the profile and ``cfg.seeds`` seeds: sigmoid, ReLU and σ + x networks
    (LeCun init; ReLU also He) without skips, with unit skips and with branches scaled by 1/√depth.
    Plots the three panels; returns the summary (the table of depths 1, 10 and the deepest is the
    cell's output)."""
    acts = ["sigmoid", "relu", "sigmoid_plus_x"]
    seeds = range(seed, seed + cfg.seeds)
    frames = []
    for skip, scale in [(False, 1.0), (True, 1.0), (True, "inv_sqrt_depth")]:
        frames.append(G.sweep(cfg.net_depths, acts, skips=[skip], seeds=seeds, width=cfg.width,
                              branch_scale=scale))
        frames.append(G.sweep(cfg.net_depths, ["relu"], skips=[skip], seeds=seeds, width=cfg.width,
                              init="he", branch_scale=scale))
    runs = pd.concat(frames, ignore_index=True)
    summary = G.summarise(runs)
    G.plot(summary)
    plt.suptitle(f"Gradient norm at the first layer vs depth ({cfg.seeds} seeds, width {cfg.width}, "
                 "log scale)", y=1.02)
    plt.tight_layout()
    plt.show()
    return Measured(summary, max(cfg.net_depths))


def depth_table(m: Measured) -> pd.DataFrame:
    """Geometric-mean gradient norm at depths 1, 10 and the deepest, one row per variant."""
    s = m.summary
    return (s[s.depth.isin([1, 10, m.deepest])]
            .pivot_table(index=["variant", "activation", "init"], columns="depth", values="geo_mean",
                         sort=False)
            .rename(columns=lambda d: f"depth {d}"))


def describe_measured(m: Measured) -> Markdown:
    """What the figure shows, in sentences computed from the measured networks."""
    L = m.deepest
    per_layer = m.ratio("sigmoid", "plain") ** (1 / max(L - 1, 1))
    he_plain = m.geo("relu", "plain", L, "he")
    scaled = {G.LABELS[a] + (" (He)" if i == "he" else ""): m.geo(a, "skip, branch/√depth", L, i)
              for a, i in VARIANTS}
    outside = {k: v for k, v in scaled.items() if not 0.1 <= v <= 10}
    h_ratio = m.ratio("sigmoid_plus_x", "plain")
    lines = [
        f"* **sigmoid** loses a factor of about {per_layer:.2f} per layer: at depth {L} the first layer's "
        f"gradient is {m.ratio('sigmoid', 'plain'):.1e} of what a one-layer network gets — it cannot learn;",
        f"* **ReLU** with the norm-preserving initialisation still shrinks (each layer zeroes about half the "
        f"units), to {m.ratio('relu', 'plain'):.1e} of the one-layer gradient at depth {L}; with **He** "
        f"initialisation the gradient at depth {L} is {he_plain:.2g}, "
        + ("within a factor of 10 of 1: ReLU fixes vanishing gradients only together with the right initialisation;"
           if 0.1 <= he_plain <= 10 else "so even He initialisation does not keep it near 1;"),
        "* **σ(x) + x** " + ("never vanishes, as the report argues, and grows instead (factors ≥ 1): "
                             if h_ratio >= 1 else "shrinks after all: ")
        + f"{h_ratio:.2g} × the one-layer gradient at depth {L}.",
        "",
        f"With a skip around every layer (middle panel) the sigmoid network keeps {m.ratio('sigmoid', 'skip'):.2g} × "
        f"its one-layer gradient at depth {L}, but adding {L} unit-scale branches makes the others explode: "
        f"ReLU × {m.ratio('relu', 'skip'):.1e} (He: × {m.ratio('relu', 'skip', 'he'):.1e}), "
        f"σ + x × {m.ratio('sigmoid_plus_x', 'skip'):.1e}. Scaling every branch by $1/\\sqrt{{L}}$ (right panel), "
        "as modern deep networks do in one form or another (normalisation layers, GPT-2's scaled "
        f"initialisation, Fixup/SkipInit), stops the explosion: at depth {L} the gradients are "
        + ", ".join(f"{k} {v:.2g}" for k, v in scaled.items()) + "; "
        + ("all within a factor of 10 of 1." if not outside else
           "within a factor of 10 of 1 except " + ", ".join(f"{k} ({v:.2g})" for k, v in outside.items())
           + ", which the scaling keeps from exploding but not from shrinking."),
    ]
    return Markdown("\n".join(lines))


def record_measured(rec, m: Measured, cfg, facts: SimpleNamespace) -> float:
    """Record the deepest networks' gradients (I.T1.3 without skips, I.T1.5 with) and check the
    claims: sigmoid loses ≥ 10¹⁰ between depth 1 and the deepest, σ + x does not shrink. Returns the
    sigmoid's depth ratio."""
    deepest = m.deepest
    ratio_sigmoid = m.ratio("sigmoid", "plain")
    ratio_h = m.ratio("sigmoid_plus_x", "plain")
    print(f"depth {deepest} / depth 1, no skips: sigmoid {ratio_sigmoid:.1e}, σ(x)+x {ratio_h:.1e}")
    for act, init in VARIANTS:
        for variant in ["plain", "skip", "skip, branch/√depth"]:
            name = (f"first-layer gradient norm at depth {deepest}: {G.LABELS[act]}"
                    + (" (He init)" if init == "he" else "")
                    + ("" if variant == "plain" else f", {variant}"))
            rec.add("I.T1.3" if variant == "plain" else "I.T1.5", name,
                    m.geo(act, variant, deepest, init), seeds=cfg.seeds, width=cfg.width,
                    statistic="geometric mean over seeds")
    rec.check("I.T1.3", facts.sigmoid_ok and facts.h_ok and within(ratio_sigmoid, 1e-10)
              and np.isfinite(ratio_h) and ratio_h >= 1,
              what="check",
              max_sigmoid_derivative=str(facts.max_sig), h_derivative_range="[1, 5/4]",
              sigmoid_depth_ratio=ratio_sigmoid, sigma_plus_x_depth_ratio=ratio_h, depth=deepest)
    return ratio_sigmoid


def check_paths(rec, cfg) -> None:
    """I.T1.4: d/dx of f₁(x, f₂(x, …)) is the sum over the paths from x (SymPy's diff, every depth of
    the profile); the report's intermediate line as printed (a typo) is rejected."""
    paths_ok = {}
    for n in cfg.depths:
        fs = C.functions("f", n)
        paths_ok[n] = same(P(sp.diff(C.nested(fs), x)), P(C.nested_total_derivative(fs)))
    fs = C.functions("f", 3)
    show_equation(sp.Derivative(C.nested(fs), x), P(C.nested_total_derivative(fs)))
    print("sum over paths == diff:", paths_ok)
    typo_rejected = not same(P(sp.diff(C.nested(fs), x)), P(C.nested_report_intermediate_line(fs)))
    print("the intermediate line as printed (typo) is rejected:", typo_rejected)
    rec.check("I.T1.4", all(paths_ok.values()) and typo_rejected, what="check",
              depths=list(cfg.depths), report_typo_rejected=typo_rejected)


def check_skips(rec, cfg, m: Measured, ratio_sigmoid: float) -> None:
    """I.T1.5: the closed form d3 + d2 d3 + d1 d2 d3 of f(x + g(x + h(x))) and the ResNet form
    d3 (1 + d1)(1 + d2) against SymPy's diff; their limits; and the measured sigmoid network with skips."""
    deepest = m.deepest
    skip_ok, resnet_ok = {}, {}
    for n in cfg.depths:
        fs = C.functions("f", n)
        skip_ok[n] = same(P(sp.diff(C.skip_from_input(fs), x)),
                          P(C.skip_closed_form(C.skip_derivatives(fs))))
        resnet_ok[n] = same(P(sp.diff(C.residual_stream(fs), x)), P(C.residual_closed_form(fs)))
    f, g, h = sp.Function("f"), sp.Function("g"), sp.Function("h")
    d1, d2, d3 = C.skip_derivatives([f, g, h])
    derivative = sp.diff(C.skip_from_input([f, g, h]), x)
    show_equation(sp.Derivative(C.skip_from_input([f, g, h]), x), P(C.skip_closed_form([d1, d2, d3])))
    D1, D2, D3 = sp.symbols("d1 d2 d3", real=True)
    closed = C.skip_closed_form([D1, D2, D3])
    limit_ok = sp.limit(sp.limit(closed, D1, 0), D2, 0) == D3
    counter = sp.simplify(closed.subs({D1: 0, D2: -1}))
    # the plain composition gives d1 d2 d3, each factor at its own point
    plain_ok = same(P(sp.diff(C.compose([f, g, h]), x)), P(C.chain_rule([f, g, h])))
    differs = not same(P(derivative), P(C.residual_closed_form([f, g, h])))
    print("closed form d3 + d2 d3 + d1 d2 d3 == diff:", skip_ok,
          "| ResNet form d3 (1+d1)(1+d2) == diff of u ← u + g(u):", resnet_ok)
    print("limit d1, d2 → 0:", sp.limit(sp.limit(closed, D1, 0), D2, 0),
          "| at d1 = 0, d2 = −1:", counter,
          "| plain f(g(h(x))) gives d1 d2 d3:", plain_ok, "| the two skip forms differ:", differs)
    ratio_skip = m.ratio("sigmoid", "skip")
    print(f"sigmoid with skips: depth {deepest} / depth 1 = {ratio_skip:.2f} "
          f"(without skips: {ratio_sigmoid:.1e})")
    rec.check("I.T1.5", all(skip_ok.values()) and all(resnet_ok.values()) and limit_ok
              and counter == 0
              and plain_ok and differs and 1e-2 < ratio_skip < 1e2, what="check",
              closed_form="d3 + d2 d3 + d1 d2 d3", depths=list(cfg.depths),
              sigmoid_skip_depth_ratio=ratio_skip,
              depth=deepest)
