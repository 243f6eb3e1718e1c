"""Checking derivations: is a hand-derived expression the same as SymPy's?

``same(a, b)`` is the one question every theory notebook asks. It first tries
symbolic simplification of ``a - b``; when that leaves something it cannot decide,
it evaluates the difference at random points (free functions are replaced by
random concrete ones), so a wrong derivation is always caught even when simplify
is not strong enough to prove a right one.

Every numeric comparison in the book goes through :func:`max_error` and :func:`within`.
A running maximum (``m = max(m, e)``, or ``if e > m: m = e``) silently drops a NaN (every
comparison with NaN is False), so a NaN gradient would "pass"; :func:`max_error` returns
``inf`` whenever any compared value is NaN or infinite, the shapes differ or nothing was
compared, and :func:`within` is False for ``inf`` and NaN. :func:`beyond` is the test for the opposite claim ("the wrong formula is
rejected"), and is False for a NaN too.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping

import numpy as np
import sympy as sp


def _array(x) -> np.ndarray:
    """``x`` (a NumPy array, a torch tensor, a Python or NumPy scalar) as a float/complex array."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):          # a torch tensor, without importing torch
        x = x.detach().cpu()
        x = x if x.is_complex() else x.double()
        return x.numpy()
    a = np.asarray(x)
    if a.dtype == object:
        raise TypeError(f"cannot compare values of type {type(x).__name__}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.complexfloating)):
        a = a.astype(np.float64)                             # bool / int
    return a


def _is_collection(x) -> bool:
    return isinstance(x, (Mapping, list, tuple)) or (
        isinstance(x, Iterable) and not isinstance(x, (str, bytes, np.ndarray)) and not hasattr(x, "detach"))


def _leaf_error(a, b, relative: bool, floor: float) -> float:
    a = _array(a)
    if b is None:
        err = np.abs(a)
    else:
        b = _array(b)
        if a.shape != b.shape and b.ndim != 0:
            return math.inf                                  # no silent broadcasting
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            err = np.abs(a - b)
            if relative:
                err = np.where(err == 0, 0.0, err / np.maximum(np.abs(b), floor))
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return math.inf
    if err.size == 0:
        return math.inf                                      # nothing compared: not a pass
    if not np.isfinite(err).all():
        return math.inf
    return float(err.max())


def max_error(a, b=None, *, relative: bool = False, floor: float = 0.0) -> float:
    """Largest ``|a − b|`` (``|a|`` when ``b`` is None) over every compared entry, NaN-safe.

    ``a`` and ``b`` may be arrays, torch tensors, scalars, or (nested) lists, tuples, dicts
    and other iterables of them; collections are compared item by item (dicts key by key),
    arrays entry by entry, and ``b`` may be a scalar compared with every entry of ``a``.
    ``relative=True`` divides by ``max(|b|, floor)`` (``b`` is the reference).

    Returns ``math.inf`` — which no tolerance accepts — when any entry on either side is NaN
    or infinite, when shapes, lengths or keys differ, or when there is nothing to compare.
    """
    if _is_collection(a) or _is_collection(b):
        if b is None or not _is_collection(b):
            items = list(a.values()) if isinstance(a, Mapping) else list(a)
            pairs = [(x, b) for x in items]
        elif isinstance(a, Mapping) or isinstance(b, Mapping):
            if not (isinstance(a, Mapping) and isinstance(b, Mapping)) or set(a) != set(b):
                return math.inf
            pairs = [(a[k], b[k]) for k in a]
        else:
            if not _is_collection(a):
                return math.inf
            xs, ys = list(a), list(b)
            if len(xs) != len(ys):
                return math.inf
            pairs = list(zip(xs, ys))
        if not pairs:
            return math.inf
        errs = [max_error(x, y, relative=relative, floor=floor) for x, y in pairs]
        return math.inf if any(not math.isfinite(e) for e in errs) else max(errs)
    return _leaf_error(a, b, relative, floor)


def within(err, tol: float) -> bool:
    """``err <= tol`` for a finite error; False for NaN and infinity."""
    err = float(err)
    return math.isfinite(err) and err <= tol


def beyond(err, tol: float) -> bool:
    """``err > tol`` for a finite error (a wrong formula is rejected); False for NaN and infinity,
    which mean the comparison itself broke, not that the formula was shown to differ."""
    err = float(err)
    return math.isfinite(err) and err > tol


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
        point = {s: sp.Float(rng.uniform(0.1, 2.0) if positive or s.is_positive else rng.uniform(-2.0, 2.0))
                 for s in free}
        try:
            # xreplace, not subs: the same numbers, without subs' pattern matching, which took a minute
            # per true class on the II.1b network's derivatives (xreplace: about a second)
            val = complex(sp.N(d.xreplace(point), 30))
        except (TypeError, ValueError):          # no number at this point (unevaluated, zoo, …)
            return False
        if not within(max_error(val), tol):      # NaN or inf at a random point is a failure, not a pass
            return False
    return True


def same(a: sp.Expr, b: sp.Expr, *, trials: int = 8, seed: int = 0) -> bool:
    """True when ``a`` and ``b`` are the same expression (symbolically, else at random points)."""
    diff = sp.sympify(a) - sp.sympify(b)
    if _simplifies_to_zero(diff):
        return True
    return numerically_equal(sp.sympify(a), sp.sympify(b), trials=trials, seed=seed)
