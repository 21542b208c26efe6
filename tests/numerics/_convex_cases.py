"""Seeded instances of the convex BN program with the exact pattern set.

Shared by the convex-program, solver, certificate and CVXPY cross-check tests;
solutions are memoised so that one solve serves several tests.
"""

from __future__ import annotations

import functools

import numpy as np
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.convex_program import ConvexProblem, ConvexSolution
from bnconvex.numerics.core.whitening import Whitening, whiten
from bnconvex.numerics.solvers import solve_convex


def exact_problem_from_data(X: np.ndarray, y: np.ndarray, beta: float) -> ConvexProblem:
    """Whiten ``X``, enumerate every pattern of ``U'`` and build the program."""
    U = np.asarray(whiten(X).U_prime, dtype=np.float64)
    return ConvexProblem(U, y, beta, enumerate_patterns(U))


def seeded_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian ``X`` (n, d) and labels from a seeded generator."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@functools.lru_cache(maxsize=32)
def exact_case(
    n: int, d: int, seed: int, beta: float
) -> tuple[Whitening, ConvexProblem]:
    """Whitening and exact-pattern problem of the seeded instance (memoised)."""
    X, y = seeded_data(n, d, seed)
    return whiten(X), exact_problem_from_data(X, y, beta)


@functools.lru_cache(maxsize=32)
def ipm_solution(n: int, d: int, seed: int, beta: float) -> ConvexSolution:
    """The ``ipm`` solution of :func:`exact_case` (memoised, tol 1e-9)."""
    return solve_convex(exact_case(n, d, seed, beta)[1], solver="ipm", tol=1e-9)


def cvxpy_blocks(cp, prob: ConvexProblem) -> tuple:
    r"""Independent CVXPY model of the block structure of R1/R5 (test-only).

    One variable pair :math:`(s_i, s'_i)` per pattern, written with explicit
    loops (not the ``cvxpy-clarabel`` plug-in's vectorised model, so that a
    modelling bug would have to be made twice).  Returns the prediction
    :math:`\sum_i D_iU'(s_i - s'_i)`, the penalty sum
    :math:`\sum_i \|s_i\| + \|s'_i\|` and the cone constraints
    :math:`(2D_i - I)U's_i \ge 0`, :math:`(2D_i - I)U's'_i \ge 0`.
    """
    pred, penalty, cons = 0, 0, []
    for i in range(prob.P):
        DU = prob.D[:, i, None] * prob.U_prime
        G = np.where(prob.D[:, i, None], 1.0, -1.0) * prob.U_prime
        s, s2 = cp.Variable(prob.m), cp.Variable(prob.m)
        pred = pred + DU @ (s - s2)
        penalty = penalty + cp.norm(s, 2) + cp.norm(s2, 2)
        cons += [G @ s >= 0, G @ s2 >= 0]
    return pred, penalty, cons
