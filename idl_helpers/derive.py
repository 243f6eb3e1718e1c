"""Checking derivations: is a hand-derived expression the same as SymPy's?

``same(a, b)`` is the one question every theory notebook asks. It first tries
symbolic simplification of ``a - b``; when that leaves something it cannot decide,
it evaluates the difference at random points (free functions are replaced by
random concrete ones), so a wrong derivation is always caught even when simplify
is not strong enough to prove a right one.
"""

from __future__ import annotations

import random
import sympy as sp


def _simplifies_to_zero(expr: sp.Expr) -> bool:
    for f in (sp.simplify, lambda e: sp.simplify(sp.expand(sp.powsimp(sp.expand_log(e, force=True), force=True)))):
        try:
            if f(expr) == 0:
                return True
        except (TypeError, NotImplementedError):  # pragma: no cover - simplify gave up
            pass
    return False


def _random_function_values(expr: sp.Expr, rng: random.Random) -> sp.Expr:
    """Replace every undefined function ``f(…)`` by a random smooth concrete function."""
    reps = {}
    for app in expr.atoms(sp.core.function.AppliedUndef):
        fn = app.func
        if fn in reps:
            continue
        args = sp.symbols(f"_a0:{len(app.args)}")
        coeffs = [sp.Rational(rng.randint(-9, 9) or 1, rng.randint(1, 5)) for _ in args]
        body = sp.sin(sum(c * a for c, a in zip(coeffs, args)) + sp.Rational(rng.randint(1, 9), 7)) \
            + sp.Rational(rng.randint(-5, 5), 3) * sp.prod(args)
        reps[fn] = sp.Lambda(args, body)
    return expr.subs(reps).doit() if reps else expr.doit()


def numerically_equal(a: sp.Expr, b: sp.Expr, trials: int = 8, seed: int = 0,
                      positive: bool = False, tol: float = 1e-9) -> bool:
    """``a == b`` at ``trials`` random points (random concrete functions for free ones)."""
    rng = random.Random(seed)
    diff = sp.sympify(a - b)
    for _ in range(trials):
        d = _random_function_values(diff, rng)
        free = sorted(d.free_symbols, key=str)
        point = {s: (rng.uniform(0.1, 2.0) if positive or s.is_positive else rng.uniform(-2.0, 2.0)) for s in free}
        val = complex(sp.N(d.subs(point), 30))
        if abs(val) > tol:
            return False
    return True


def same(a: sp.Expr, b: sp.Expr, *, trials: int = 8, seed: int = 0) -> bool:
    """True when ``a`` and ``b`` are the same expression (symbolically, else at random points)."""
    diff = sp.sympify(a) - sp.sympify(b)
    if _simplifies_to_zero(diff):
        return True
    return numerically_equal(sp.sympify(a), sp.sympify(b), trials=trials, seed=seed)
