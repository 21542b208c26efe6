"""Turning a solver's raw blocks into an honest :class:`ConvexSolution`."""

from __future__ import annotations

from typing import Literal

import numpy as np
from bnconvex.numerics.core.certificate import Certificate, certify_predictions
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    ConvexSolution,
    cone_violation,
    convex_objective,
    predict,
)
from bnconvex.numerics.status import SolverStatus

StopReason = Literal["converged", "max_iter", "time", "stalled"]

_STATUS_OF_REASON = {
    "max_iter": SolverStatus.MAX_ITERATIONS,
    "time": SolverStatus.TIME_LIMIT,
}


def certify_blocks(
    problem: ConvexProblem, S_plus: np.ndarray, S_minus: np.ndarray
) -> Certificate:
    """Dual certificate of a point of ``problem`` (valid for its pattern set)."""
    return certify_predictions(
        problem,
        predict(problem, S_plus, S_minus),
        convex_objective(problem, S_plus, S_minus),
        with_universal=False,
    )


def is_certified(
    problem: ConvexProblem, cert: Certificate, violation: float, tol: float
) -> bool:
    """Whether the relative gap and the violation / ``max(1, ||y||)`` are <= ``tol``."""
    scale = max(1.0, float(np.linalg.norm(problem.y)))
    return cert.relative_gap <= tol and violation <= tol * scale


def finish(
    problem: ConvexProblem,
    S_plus: np.ndarray,
    S_minus: np.ndarray,
    *,
    solver: str,
    tol: float,
    reason: StopReason,
    iterations: int,
    seconds: float,
    dropped: np.ndarray | None = None,
    history: list | None = None,
    cert: Certificate | None = None,
) -> ConvexSolution:
    """Certify ``(S_plus, S_minus)`` and pick the status honestly.

    ``OPTIMAL`` only when :func:`is_certified`; otherwise the stop reason decides
    between ``MAX_ITERATIONS``, ``TIME_LIMIT`` and ``INACCURATE``.
    """
    cert = cert if cert is not None else certify_blocks(problem, S_plus, S_minus)
    viol = cone_violation(problem, S_plus, S_minus)
    if is_certified(problem, cert, viol, tol):
        status = SolverStatus.OPTIMAL
    else:
        status = _STATUS_OF_REASON.get(reason, SolverStatus.INACCURATE)
    return ConvexSolution(
        S_plus=S_plus,
        S_minus=S_minus,
        objective=cert.objective,
        lower_bound=cert.lower_bound,
        gap=cert.gap,
        status=status,
        iterations=int(iterations),
        seconds=float(seconds),
        max_violation=viol,
        solver=solver,
        dropped_patterns=np.zeros(0, np.intp) if dropped is None else dropped,
        history=[] if history is None else history,
        certificate=cert,
    )
