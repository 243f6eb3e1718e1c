"""Derivatives of compositions, built programmatically for any depth (question I.T1).

Every builder returns a pair of SymPy expressions the notebooks compare with
:func:`idl_helpers.theory.derive.same`: the function itself (differentiate it with ``sp.diff``)
and the report's closed form of its derivative, assembled from partial derivatives
evaluated at the right inner points. Functions are undefined ``sympy.Function`` objects
unless concrete ones are passed, so a passed check holds for *every* differentiable
function, not for one hand-picked example.

The vector form of the chain rule (a product of Jacobians) is checked against
``torch.autograd.functional.jacobian`` with :class:`TanhLayer` compositions.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp
import torch

from idl_helpers.theory.derive import max_error

x = sp.Symbol("x", real=True)


# ---------------------------------------------------------------------------- helpers
def functions(prefix: str, n: int, start: int = 1) -> list[sp.Function]:
    """``[f1, f2, …, fn]`` as undefined SymPy functions."""
    return [sp.Function(f"{prefix}{i}") for i in range(start, start + n)]


def partial(f, args: Sequence[sp.Expr], k: int) -> sp.Expr:
    """``∂f/∂(argument k)`` evaluated at ``args`` (0-based ``k``), for any (undefined) ``f``.

    Built with fresh dummy variables, so ``partial(f, (x + y, 2*x), 0)`` is
    ``Subs(Derivative(f(_u0, _u1), _u0), (_u0, _u1), (x + y, 2*x))`` — the partial derivative
    of ``f`` in its first slot, *then* evaluated at the inner point.
    """
    dummies = sp.symbols(f"_u0:{len(args)}", real=True)
    body = f(*dummies)
    return sp.Subs(sp.diff(body, dummies[k]), dummies, tuple(args))


def partials_as_functions(expr: sp.Expr) -> sp.Expr:
    """Name every first partial derivative: ``∂f/∂(slot k)`` at a point becomes ``f_k(point)``.

    SymPy writes the partial of an undefined ``f`` in slot ``k`` as
    ``Subs(Derivative(f(…, ξ, …), ξ), ξ, point)`` with its own dummy names, which makes
    ``simplify`` slow and the random-point fallback of ``derive.same`` slower. Replacing each
    by a new undefined function ``f_k`` of the point (1-based ``k``) turns both sides into
    plain expressions; first partials of an arbitrary function are independent of each
    other, so equality is neither gained nor lost.
    """
    from sympy.core.function import AppliedUndef

    def name(F, k, args):
        return sp.Function(f"{F.func.__name__}_{k + 1}")(*args)

    def from_subs(s):
        d = s.expr
        if not (isinstance(d, sp.Derivative) and isinstance(d.expr, AppliedUndef)
                and len(d.variable_count) == 1 and d.variable_count[0][1] == 1):
            return s
        F, v = d.expr, d.variable_count[0][0]
        if list(F.args).count(v) != 1:
            return s
        point = dict(zip(s.variables, s.point))
        return name(F, list(F.args).index(v), [a.xreplace(point) for a in F.args])

    def from_derivative(d):
        F = d.expr
        if not (isinstance(F, AppliedUndef) and len(d.variable_count) == 1 and d.variable_count[0][1] == 1):
            return d
        v = d.variable_count[0][0]
        if list(F.args).count(v) != 1 or any(v in a.free_symbols for a in F.args if a != v):
            return d
        return name(F, list(F.args).index(v), F.args)

    out = expr.replace(lambda e: isinstance(e, sp.Subs), from_subs)
    return out.replace(lambda e: isinstance(e, sp.Derivative), from_derivative)


def derivative_at(f, arg: sp.Expr) -> sp.Expr:
    """``f'(arg)`` for a one-argument function."""
    return partial(f, (arg,), 0)


# ---------------------------------------------------------------------------- I.T1.1
def substitution_example(f=None):
    """``f(g(x, y, z))`` with ``g = (x + y, 2x, z)`` and the report's ``∂/∂x = f₁ + 2 f₂``."""
    y, z = sp.symbols("y z", real=True)
    f = f or sp.Function("f")
    inner = (x + y, 2 * x, z)
    expr = f(*inner) if isinstance(f, sp.FunctionClass) else f.subs(dict(zip(sp.symbols("x1:4"), inner)))
    if isinstance(f, sp.FunctionClass):
        closed = partial(f, inner, 0) * 1 + partial(f, inner, 1) * 2 + partial(f, inner, 2) * 0
    else:  # f given as an expression in x1, x2, x3
        x1, x2, x3 = sp.symbols("x1:4")
        at = dict(zip((x1, x2, x3), inner))
        closed = sp.diff(f, x1).subs(at) + 2 * sp.diff(f, x2).subs(at)
    return expr, closed


# ---------------------------------------------------------------------------- I.T1.2
def compose(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """``f1(f2(…fn(arg)))`` — the first function is the outermost."""
    out = arg
    for f in reversed(fs):
        out = f(out)
    return out


def chain_rule(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """The report's product ``df1/df2 · df2/df3 ⋯ dfn/dx``, each factor at its inner point."""
    inner = [compose(fs[i + 1:], arg) for i in range(len(fs))]   # argument of f_i
    return sp.Mul(*[derivative_at(f, a) for f, a in zip(fs, inner)])


class TanhLayer(torch.nn.Module):
    """``f(u) = tanh(A u + b)`` with its Jacobian in closed form: ``diag(1 − f²) A``."""

    def __init__(self, n_in: int, n_out: int, generator: torch.Generator | None = None,
                 dtype=torch.float64):
        super().__init__()
        self.A = torch.randn(n_out, n_in, generator=generator, dtype=dtype) / n_in ** 0.5
        self.b = torch.randn(n_out, generator=generator, dtype=dtype) * 0.1

    def forward(self, u):
        return torch.tanh(self.A @ u + self.b)

    def jacobian(self, u):
        return (1 - self(u) ** 2)[:, None] * self.A


def random_layers(dims: Sequence[int], seed: int = 0) -> list[TanhLayer]:
    """Layers ``f1, …, fn`` with ``fn: R^dims[-1] → R^dims[-2]``, …, ``f1: R^dims[1] → R^dims[0]``."""
    g = torch.Generator().manual_seed(seed)
    n = len(dims) - 1
    return [TanhLayer(dims[i + 1], dims[i], generator=g) for i in range(n)]


def composed(layers: Sequence[TanhLayer]):
    def fn(u):
        for layer in reversed(layers):
            u = layer(u)
        return u
    return fn


def jacobian_product(layers: Sequence[TanhLayer], u: torch.Tensor) -> torch.Tensor:
    """``J_f1(f2(…)) · J_f2(…) ⋯ J_fn(u)`` from each layer's closed-form Jacobian."""
    points = [u]
    for layer in reversed(layers[1:]):            # inputs of f_{n-1}, …, f_1
        points.append(layer(points[-1]))
    jacs = [layer.jacobian(p) for layer, p in zip(reversed(layers), points)]   # J_fn, …, J_f1
    out = jacs[0]
    for J in jacs[1:]:
        out = J @ out
    return out


def jacobian_errors(trials: int, seed: int = 0, product=None) -> dict:
    """I.T1.2's vector check: for ``trials`` random compositions (3–5 :class:`TanhLayer` s, sizes
    2–8, float64), the largest ``|product − autograd|`` of the Jacobian and of the gradient form
    (a one-output layer on top, the transposed product as a vector).

    ``product(layers, u)`` is the closed form judged (default :func:`jacobian_product`). Returns
    ``{"jacobian": …, "gradient": …, "shapes": [(J shape, dims x→…→f1), …]}``; the errors are
    reduced with :func:`idl_helpers.theory.derive.max_error`, so a NaN in any trial gives ``inf``.
    """
    product = product or jacobian_product
    g = torch.Generator().manual_seed(seed)
    jac, grad, shapes = [], [], []
    for t in range(trials):
        n = int(torch.randint(3, 6, (1,), generator=g))
        dims = [int(d) for d in torch.randint(2, 9, (n + 1,), generator=g)]
        layers = random_layers(dims, seed=seed * 1000 + t)
        u = torch.randn(dims[-1], generator=g, dtype=torch.float64)
        J = product(layers, u)
        J_ref = torch.autograd.functional.jacobian(composed(layers), u)
        jac.append(max_error(J, J_ref))
        shapes.append((tuple(J.shape), tuple(reversed(dims))))
        head = random_layers([1, dims[0]], seed=t)[0]
        grad_form = product([head] + layers, u)[0]              # (J_head J_1 … J_n)ᵀ as a vector
        v = u.clone().requires_grad_(True)
        (grad_ref,) = torch.autograd.grad(composed([head] + layers)(v).sum(), v)
        grad.append(max_error(grad_form, grad_ref))
    return {"jacobian": max_error(jac), "gradient": max_error(grad), "shapes": shapes}


# ---------------------------------------------------------------------------- I.T1.4
def nested(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """``f1(x, f2(x, f3(… f_{n-1}(x, fn(x)))))``; ``fn`` takes only ``x``."""
    out = fs[-1](arg)
    for f in reversed(fs[:-1]):
        out = f(arg, out)
    return out


def nested_total_derivative(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """The report's sum over paths:

    ``∂f1/∂x + Σ_{i=2..n} (Π_{j=2..i} ∂f_{j-1}/∂f_j) ∂f_i/∂x``

    where ``∂f_i/∂x`` is the partial in the *explicit* ``x`` slot (for ``fn``: its derivative),
    ``∂f_{j-1}/∂f_j`` the partial in the second slot, all evaluated at the nested point.
    """
    n = len(fs)
    inner = [nested(fs[i:], arg) for i in range(n)]          # inner[i] = value of f_{i+1}
    def d_dx(i):                                             # ∂f_{i+1}/∂x, explicit slot
        if i == n - 1:
            return derivative_at(fs[i], arg)
        return partial(fs[i], (arg, inner[i + 1]), 0)
    def d_next(i):                                           # ∂f_{i+1}/∂f_{i+2}
        return partial(fs[i], (arg, inner[i + 1]), 1)
    total = d_dx(0)
    for i in range(1, n):
        total += sp.Mul(*[d_next(j) for j in range(i)]) * d_dx(i)
    return total


def nested_report_intermediate_line(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """The report's *intermediate* line for ``df_{n-2}/dx`` exactly as printed.

    Its last term reads ``∂f_{n-2}/∂f_{n-1} · ∂f_{n-1}/∂x · ∂f_n/∂x`` — a typo for
    ``∂f_{n-2}/∂f_{n-1} · ∂f_{n-1}/∂f_n · ∂f_n/∂x``. Kept to show that the check rejects it.
    Uses the last three functions of ``fs`` (``f_{n-2}, f_{n-1}, f_n``).
    """
    a, b, c = fs[-3:]
    vc = c(arg)
    vb = b(arg, vc)
    return (partial(a, (arg, vb), 0) + partial(a, (arg, vb), 1) * partial(b, (arg, vc), 0)
            + partial(a, (arg, vb), 1) * partial(b, (arg, vc), 0) * derivative_at(c, arg))


# ---------------------------------------------------------------------------- I.T1.5
def skip_from_input(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """The question's form, generalised: ``f1(x + f2(x + f3(… x + fn(x))))``.

    For ``(f, g, h)`` this is ``f(x + g(x + h(x)))``: every skip adds the *input* ``x``.
    """
    out = arg + fs[-1](arg)
    for f in reversed(fs[1:-1]):
        out = arg + f(out)
    return fs[0](out)


def skip_derivatives(fs: Sequence, arg: sp.Expr = x) -> list[sp.Expr]:
    """``[d1, …, dn]`` in the report's order: ``d1 = fn'(x)``, …, ``dn = f1'(inner)``."""
    n = len(fs)
    d = [derivative_at(fs[-1], arg)]
    u = arg + fs[-1](arg)
    for f in reversed(fs[1:-1]):
        d.append(derivative_at(f, u))
        u = arg + f(u)
    d.append(derivative_at(fs[0], u))
    assert len(d) == n
    return d


def skip_closed_form(d: Sequence[sp.Expr]) -> sp.Expr:
    """``d_n + d_{n-1} d_n + … + d1 ⋯ dn`` (for n = 3: ``d3 + d2 d3 + d1 d2 d3``)."""
    n = len(d)
    return sp.Add(*[sp.Mul(*d[k:]) for k in range(n - 1, -1, -1)])


def residual_stream(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """The ResNet form ``u ← u + f(u)`` (each skip adds the previous *output*), then ``f1``."""
    u = arg
    for f in reversed(fs[1:]):
        u = u + f(u)
    return fs[0](u)


def residual_closed_form(fs: Sequence, arg: sp.Expr = x) -> sp.Expr:
    """``f1'(u) · Π (1 + f_i'(u_i))`` — every path through any subset of blocks."""
    u, factors = arg, []
    for f in reversed(fs[1:]):
        factors.append(1 + derivative_at(f, u))
        u = u + f(u)
    return derivative_at(fs[0], u) * sp.Mul(*factors)


# ---------------------------------------------------------------------------- I.T1.3
def sigmoid(v: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-v))
