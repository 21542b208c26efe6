r"""The exact convex program of a two-layer BN-ReLU network (paper.md R1).

A :class:`ConvexProblem` holds the whitened data ``U_prime``, the labels, the
regularisation coefficient (always convention A) and the activation patterns
``D``; solvers in :mod:`bnconvex.numerics.solvers` return a
:class:`ConvexSolution`.

Notes
-----
The program, for patterns :math:`D_1, \dots, D_P` (columns of ``D``) and
:math:`U' = [U, 1/\sqrt{n}] \in \mathbb{R}^{n \times m}`, is

.. math::

    \min_{S^+, S^- \in \mathbb{R}^{P \times m}}
    \tfrac12 \Big\| \sum_{i=1}^P D_i U' (s_i - s'_i) - y \Big\|_2^2
    + \beta \sum_{i=1}^P (\|s_i\|_2 + \|s'_i\|_2)
    \quad \text{s.t.} \quad (2D_i - I) U' s_i \ge 0,\;
    (2D_i - I) U' s'_i \ge 0,

where :math:`s_i` is row ``i`` of ``S_plus`` and :math:`s'_i` row ``i`` of
``S_minus``.  It is a second-order cone program; its optimal value equals the
optimal value of the non-convex BN network (convention A, enough neurons) when
``D`` is the complete arrangement of :math:`U'`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from bnconvex.numerics._validation import (
    check_beta,
    check_finite,
    check_labels,
    check_matrix,
    check_patterns,
)
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.result import SolveResult

__all__ = [
    "ConvexProblem",
    "ConvexSolution",
    "cone_violation",
    "convex_objective",
    "predict",
]


@dataclasses.dataclass(frozen=True)
class ConvexProblem:
    r"""Data of the convex BN program (convention A).

    Parameters
    ----------
    U_prime : array_like, shape (n, m)
        Whitened data :math:`U' = [U, 1/\sqrt n]`, ``m = r + 1 <= n``.
    y : array_like, shape (n,)
        Labels (scalar output).
    beta : float
        Weight-decay coefficient in convention A (``beta_std / sqrt(n)`` for
        standard BN), ``> 0``.
    D : array_like, shape (n, P)
        Activation patterns, column ``i`` the diagonal of :math:`D_i`; bool or
        0/1 values, no all-zero column (the empty pattern is never in a set).

    Raises
    ------
    InputError
        On a shape mismatch (the message names ``U_prime``, ``y`` or ``D``),
        non-finite values, non-0/1 or all-zero pattern columns, or
        ``beta <= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> U = np.linalg.qr(np.c_[np.arange(4.0) - 1.5, np.ones(4)])[0]
    >>> prob = ConvexProblem(U, [1.0, -1.0, 0.5, 2.0], 0.1, np.eye(4, dtype=bool))
    >>> prob.n, prob.m, prob.P
    (4, 2, 4)
    """

    U_prime: np.ndarray
    y: np.ndarray
    beta: float
    D: np.ndarray

    def __post_init__(self) -> None:
        U = check_matrix(self.U_prime, "U_prime")
        n, m = U.shape
        if m > n:
            raise InputError(
                f"`U_prime` must have at most n={n} columns (m = rank + 1); "
                f"got shape {U.shape}"
            )
        y = check_labels(self.y, n, "y")
        if y.ndim != 1:
            raise InputError(f"`y` must be 1-D (scalar output); got shape {y.shape}")
        object.__setattr__(self, "U_prime", U)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "beta", check_beta(self.beta))
        object.__setattr__(self, "D", check_patterns(self.D, n, "D"))

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.U_prime.shape[0])

    @property
    def m(self) -> int:
        """Block dimension ``r + 1``."""
        return int(self.U_prime.shape[1])

    @property
    def P(self) -> int:
        """Number of patterns."""
        return int(self.D.shape[1])


@dataclasses.dataclass
class ConvexSolution(SolveResult):
    """Result of a convex solve, always with its certified gap.

    The attributes of :class:`~bnconvex.numerics.result.SolveResult`
    (``objective``, ``lower_bound`` -- the dual value of
    :mod:`bnconvex.numerics.core.certificate`, valid for this program --,
    ``gap``, ``relative_gap``, ``status`` -- ``OPTIMAL`` only when the relative
    gap and the violation meet ``tol`` --, ``iterations``, ``seconds``,
    ``max_violation`` -- :func:`cone_violation` of the returned point --,
    ``solver``, ``history``, ``bound_kind``), and:

    Attributes
    ----------
    S_plus, S_minus : ndarray, shape (P, m)
        Blocks :math:`s_i`, :math:`s'_i` (rows; zero rows for dropped patterns).
    dropped_patterns : ndarray of int
        Indices of patterns whose cone has (numerically) empty interior and
        was left out of the solve; their blocks are zero.
    certificate : Certificate or None
        The :class:`bnconvex.numerics.core.certificate.Certificate` behind
        ``lower_bound`` (its ``constraint_bound`` is the rigorous dual
        constraint bound at the returned point's residual): a caller that needs
        the certificate with another bound kind or the universal bound passes
        it to ``certify_predictions(..., constraint_bound=...)`` instead of
        solving the cone norms again.  None from solvers that do not set it.
    """

    S_plus: np.ndarray
    S_minus: np.ndarray
    dropped_patterns: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros(0, dtype=np.intp)
    )
    certificate: Any = None


def check_problem(problem: Any) -> ConvexProblem:
    """Return ``problem`` if it is a :class:`ConvexProblem`, else raise InputError."""
    if not isinstance(problem, ConvexProblem):
        raise InputError(
            f"`problem` must be a ConvexProblem; got {type(problem).__name__}"
        )
    return problem


def _check_blocks(problem: ConvexProblem, S: Any, name: str) -> np.ndarray:
    """Return blocks ``S`` as a finite float64 ``(P, m)`` array, or raise."""
    arr = np.asarray(S, dtype=np.float64)
    if arr.shape != (problem.P, problem.m):
        raise InputError(
            f"`{name}` must have shape (P, m) = ({problem.P}, {problem.m}); "
            f"got {arr.shape}"
        )
    check_finite(arr, name)
    return arr


def predict(problem: ConvexProblem, S_plus: Any, S_minus: Any) -> np.ndarray:
    r"""Prediction :math:`\hat y = \sum_i D_i U' (s_i - s'_i)`.

    Parameters
    ----------
    problem : ConvexProblem
    S_plus, S_minus : array_like, shape (P, m)

    Returns
    -------
    ndarray, shape (n,)

    Notes
    -----
    On the cones :math:`(2D_i - I)U's_i \ge 0` this is the output of the
    network whose neuron :math:`i` has pre-activation :math:`U's_i`:
    :math:`(U's_i)_+ = D_iU's_i`.
    """
    S = _check_blocks(problem, S_plus, "S_plus") - _check_blocks(
        problem, S_minus, "S_minus"
    )
    return np.sum(problem.D * (problem.U_prime @ S.T), axis=1)


def convex_objective(problem: ConvexProblem, S_plus: Any, S_minus: Any) -> float:
    r"""Objective of the convex program at blocks ``(S_plus, S_minus)``.

    Parameters
    ----------
    problem : ConvexProblem
    S_plus, S_minus : array_like, shape (P, m)
        Finite blocks :math:`s_i`, :math:`s'_i` (rows).

    Returns
    -------
    float

    Notes
    -----
    :math:`\tfrac12\|\hat y - y\|_2^2 + \beta \sum_i (\|s_i\|_2 + \|s'_i\|_2)`
    with :math:`\hat y` from :func:`predict`.  The cone constraints are not
    checked here (see :func:`cone_violation`).
    """
    resid = predict(problem, S_plus, S_minus) - problem.y
    norms = (
        np.linalg.norm(np.asarray(S_plus, float), axis=1).sum()
        + np.linalg.norm(np.asarray(S_minus, float), axis=1).sum()
    )
    return float(0.5 * resid @ resid + problem.beta * norms)


def cone_violation(problem: ConvexProblem, S_plus: Any, S_minus: Any) -> float:
    r"""Largest cone violation over both block sets.

    Parameters
    ----------
    problem : ConvexProblem
    S_plus, S_minus : array_like, shape (P, m)
        Finite blocks.

    Returns
    -------
    float
        0.0 for a feasible point.

    Notes
    -----
    :math:`\max_i \max_k \bigl(-(2D_i - I) U' s_i\bigr)_{k,+}`, and the same
    for :math:`s'_i`: an absolute violation in the units of :math:`U's`.
    """
    sign = np.where(problem.D, 1.0, -1.0)
    worst = 0.0
    for S, name in ((S_plus, "S_plus"), (S_minus, "S_minus")):
        Z = problem.U_prime @ _check_blocks(problem, S, name).T
        worst = max(worst, float(np.max(-sign * Z, initial=0.0)))
    return worst
