"""Solver status constants (CVXPY ``settings.py`` style: constants, not dicts)."""

from __future__ import annotations

import enum

__all__ = ["SolverStatus"]


class SolverStatus(str, enum.Enum):
    """Outcome of a solve, reported honestly together with the duality gap.

    ``OPTIMAL``
        Stopping tolerances met: relative duality gap and constraint violation
        below the requested tolerances.
    ``INACCURATE``
        The solver stopped (stagnation, numerical trouble) with a feasible point
        whose certified gap is above the tolerance.
    ``MAX_ITERATIONS``
        The iteration budget ran out first.
    ``TIME_LIMIT``
        The wall-time budget ran out first.
    ``INFEASIBLE``
        No feasible point was found (should not happen for the convex BN program,
        whose feasible set always contains zero).
    """

    OPTIMAL = "optimal"
    INACCURATE = "inaccurate"
    MAX_ITERATIONS = "max_iterations"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"

    def __str__(self) -> str:
        return self.value
