"""Independent checks of derivation steps: substitute random rationals, compare exactly.

Nothing here calls ``simplify`` on the symbolic step.  Each free symbol gets a
random rational respecting its sign assumption (generic-size indices get a
random ``n`` and indices in ``1..n``), each undefined function a random
rational quadratic polynomial; the substituted ``source`` and ``expr`` are
then numbers, compared exactly: rationals directly, algebraic numbers through
their minimal polynomial (``x`` iff the number is 0), and only numbers
involving logarithms (the logistic conjugate) by a 120-digit evaluation that
must be below 1e-100.
"""

from __future__ import annotations

import random
from typing import Any

import sympy as sp
from bnconvex.theory.symbols import INDICES, d, l, m, n, r

_X = sp.Symbol("x")


def random_rational(sym: sp.Symbol, rng: random.Random) -> sp.Rational:
    """A non-zero rational in [-4, 4] with the sign ``sym`` is assumed to have."""
    value = sp.Rational(rng.randint(1, 40), rng.randint(1, 11))
    if sym.is_positive or sym.is_nonnegative:
        return value
    return -value if rng.random() < 0.5 else value


def _random_polynomial(arity: int, rng: random.Random) -> sp.Lambda:
    xs = sp.symbols(f"u0:{arity}")
    terms = [1, *xs, *(a * b for i, a in enumerate(xs) for b in xs[i:])]
    coeffs = [sp.Rational(rng.randint(-9, 9), rng.randint(1, 5)) for _ in terms]
    return sp.Lambda(xs, sum(c * t for c, t in zip(coeffs, terms, strict=True)))


def instantiate(
    expr: Any, point: dict[sp.Basic, Any], functions: dict[Any, sp.Lambda]
) -> Any:
    """Substitute numbers and concrete polynomials, then evaluate sums/derivatives."""
    out = sp.sympify(expr)
    for f, poly in functions.items():
        out = out.replace(f, poly)
    return out.xreplace(point).doit()


def random_point(exprs: list[Any], rng: random.Random) -> tuple[dict, dict]:
    """Values for every free symbol and undefined function of ``exprs``."""
    free = set().union(*(sp.sympify(e).free_symbols for e in exprs))
    indexed = set().union(*(sp.sympify(e).atoms(sp.Indexed) for e in exprs))
    # vector entries (and their names) are filled in later by fill_indexed
    free = {s for s in free if not isinstance(s, sp.Indexed)}
    free -= {a.base.label for a in indexed}
    point: dict[sp.Basic, Any] = {}
    if free & ({n, d, r, m} | set(INDICES)):
        size, dim = rng.randint(2, 6), rng.randint(1, 4)
        point[n], point[d], point[r], point[m] = (
            sp.Integer(size),
            sp.Integer(dim),
            sp.Integer(size),
            sp.Integer(rng.randint(1, 4)),
        )
        if l in free:
            point[l] = sp.Integer(rng.randint(1, dim))
        free.discard(l)
        point.update(
            {idx: sp.Integer(rng.randint(1, size)) for idx in INDICES if idx in free}
        )
    for sym in sorted(free - set(point), key=str):
        point[sym] = random_rational(sym, rng)
    calls = set().union(
        *(sp.sympify(e).atoms(sp.core.function.AppliedUndef) for e in exprs)
    )
    functions = {c.func: _random_polynomial(len(c.args), rng) for c in calls}
    return point, functions


def fill_indexed(values: list[Any], rng: random.Random) -> list[Any]:
    """Give every entry ``h[3]`` of a generic vector one random rational, shared."""
    atoms = set().union(*(sp.sympify(v).atoms(sp.Indexed) for v in values))
    point = {a: random_rational(a, rng) for a in sorted(atoms, key=str)}
    return [sp.sympify(v).xreplace(point) for v in values]


def is_exact_zero(value: sp.Expr) -> bool:
    """Decide ``value == 0`` for a closed-form number without ``simplify``."""
    value = sp.sympify(value)
    if value.is_Rational:
        return value == 0
    if value.has(sp.log, sp.exp):
        return abs(sp.N(value, 120)) < sp.Float("1e-100")
    return sp.minimal_polynomial(value, _X) == _X


def entries(value: Any) -> list[Any]:
    """Entries of a matrix, or the value itself."""
    return list(value) if isinstance(value, sp.MatrixBase) else [value]
