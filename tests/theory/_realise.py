"""Concrete exact centred SVDs that satisfy the named hypotheses, for step tests.

A general step over matrix symbols (``U``, ``Sigma``, ``V``, ``X``, ``C`` of
symbolic size) is checked here without SymPy's matrix algebra: the sizes
``n, d, r`` become integers, every matrix symbol an explicit exact matrix,
and the two sides are compared entry by entry.  The realisation satisfies
the hypotheses by construction (and the tests check each hypothesis on it):

* ``U = H[:, 1:] Q[:, :r]`` with ``H`` the Householder reflection that maps
  ``e_1`` to ``1/sqrt(n)`` (so its other columns are orthonormal and
  orthogonal to ``1``) and ``Q`` a Cayley-transform orthogonal matrix of a
  random rational skew-symmetric matrix;
* ``V`` the first ``r`` columns of another Cayley matrix, ``Sigma`` a positive
  rational diagonal, ``X = U Sigma V^T + 1 m^T`` with a random mean ``m``;
* ``C = I - 11^T/n``.

Entries are rational when ``n`` is a perfect square and lie in
``Q(sqrt(n))`` otherwise; both are compared exactly.
"""

from __future__ import annotations

import random
from typing import Any

import sympy as sp
from bnconvex.theory.symbols import d, n, r
from sympy.matrices.expressions import MatrixExpr

from ._substitution import random_rational


def _rational(rng: random.Random) -> sp.Rational:
    return sp.Rational(rng.randint(-9, 9), rng.randint(1, 5))


def cayley(size: int, rng: random.Random) -> sp.Matrix:
    """Exact rational orthogonal ``(I - A)(I + A)^{-1}``, ``A`` random skew."""
    A = sp.zeros(size, size)
    for a in range(size):
        for b in range(a + 1, size):
            A[a, b] = _rational(rng)
            A[b, a] = -A[a, b]
    eye = sp.eye(size)
    return (eye - A) * (eye + A).inv()


def centred_basis(size: int) -> sp.Matrix:
    """``size x (size-1)``: orthonormal columns, each orthogonal to ``1``."""
    u = sp.Matrix([1 if k == 0 else 0 for k in range(size)]) - sp.ones(
        size, 1
    ) / sp.sqrt(size)
    H = sp.eye(size) - 2 * u * u.T / (u.T * u)[0, 0]
    return H[:, 1:].applyfunc(sp.radsimp)


def realise(sizes: tuple[int, int, int], rng: random.Random) -> dict[str, sp.Matrix]:
    """Explicit ``U, Sigma, V, X, C`` of sizes ``(n, d, r)``, ``r <= min(n-1, d)``."""
    size, dim, rank = sizes
    assert rank <= min(size - 1, dim), sizes
    U = (centred_basis(size) * cayley(size - 1, rng)[:, :rank]).applyfunc(sp.radsimp)
    V = cayley(dim, rng)[:, :rank]
    Sigma = sp.diag(
        *(sp.Rational(rng.randint(1, 30), rng.randint(1, 7)) for _ in range(rank))
    )
    mean = sp.Matrix([_rational(rng) for _ in range(dim)])
    X = U * Sigma * V.T + sp.ones(size, 1) * mean.T
    C = sp.eye(size) - sp.ones(size, size) / size
    return {"U": U, "Sigma": Sigma, "V": V, "X": X, "C": C}


def instantiate(
    expr: Any,
    sizes: tuple[int, int, int],
    mats: dict[str, sp.Matrix],
    rng: random.Random,
    scalars: dict[sp.Symbol, sp.Rational],
) -> Any:
    """Substitute sizes, matrices and scalars; ``mats`` and ``scalars`` are shared.

    A matrix symbol missing from ``mats`` (a free vector ``w``, ``q``, ...) and
    a scalar missing from ``scalars`` get random rationals, stored so that
    both sides of a step see the same values.
    """
    size, dim, rank = sizes
    out = sp.sympify(expr).xreplace(
        {n: sp.Integer(size), d: sp.Integer(dim), r: sp.Integer(rank)}
    )

    def matrix_of(sym: sp.MatrixSymbol) -> sp.ImmutableMatrix:
        if sym.name not in mats:
            mats[sym.name] = sp.Matrix(
                *sym.shape, lambda a, b: random_rational(sp.Symbol("x"), rng)
            )
        assert mats[sym.name].shape == sym.shape, (sym.name, sym.shape)
        return sp.ImmutableMatrix(mats[sym.name])

    out = out.replace(lambda e: isinstance(e, sp.MatrixSymbol), matrix_of)
    for sym in sorted(out.free_symbols, key=str):
        if not isinstance(sym, sp.MatrixSymbol) and sym not in scalars:
            scalars[sym] = random_rational(sym, rng)
    out = out.xreplace(scalars).doit()
    if isinstance(out, MatrixExpr) and not isinstance(out, sp.MatrixBase):
        out = out.as_explicit()
    return out
