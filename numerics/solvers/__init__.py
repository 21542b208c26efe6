"""Solver plug-ins for the convex BN program (CVXPY ``reductions/solvers`` style).

Each plug-in module exposes ``name``, ``is_installed()`` and
``solve(problem, *, tol, max_iter, time_limit, verbose) -> ConvexSolution``.

``working-set``
    Block working sets around a primal-dual (Mehrotra) interior-point method
    with Nesterov-Todd scaling and an active-set polish (NumPy + SciPy only);
    the default (:data:`DEFAULT_SOLVER`).
``ipm``
    The project's own barrier interior-point method over all ``2P`` blocks
    with an active-set polish (NumPy + SciPy only); slower when ``P`` is
    large, kept as an independent second solver.
``cvxpy-clarabel``
    CVXPY + Clarabel, when installed; a reference for tests and benchmarks.

Every plug-in returns a point certified by
:mod:`bnconvex.numerics.core.certificate`; the status is ``OPTIMAL`` only when the
certified relative gap and the cone violation are within ``tol``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from bnconvex.numerics._validation import check_positive_int, check_positive_real
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    ConvexSolution,
    check_problem,
)
from bnconvex.numerics.errors import InputError, SolverError
from bnconvex.numerics.solvers import cvxpy_clarabel, ipm, working_set

__all__ = ["DEFAULT_SOLVER", "SOLVERS", "solve_convex"]

#: Plug-in used when none is named (``solve_convex``, ``bnconvex solve``, the claims).
DEFAULT_SOLVER = working_set.name

#: Registered plug-ins by name.
SOLVERS: dict[str, ModuleType] = {
    mod.name: mod for mod in (ipm, working_set, cvxpy_clarabel)
}


def solve_convex(
    problem: ConvexProblem, *, solver: str = DEFAULT_SOLVER, **options: Any
) -> ConvexSolution:
    """Solve ``problem`` with the plug-in ``solver``.

    Parameters
    ----------
    problem : ConvexProblem
    solver : str
        A key of :data:`SOLVERS`.
    **options
        ``tol``, ``max_iter``, ``time_limit``, ``verbose`` (and plug-in extras).

    Returns
    -------
    ConvexSolution

    Raises
    ------
    InputError
        Unknown solver name, a problem of the wrong type, ``tol <= 0``,
        ``max_iter < 1`` or a negative or NaN ``time_limit``.
    SolverError
        The plug-in is not installed.
    """
    check_problem(problem)
    if solver not in SOLVERS:
        raise InputError(f"`solver` must be one of {sorted(SOLVERS)}; got {solver!r}")
    _check_options(options)
    plugin = SOLVERS[solver]
    if not plugin.is_installed():
        raise SolverError(
            f"solver {solver!r} is not installed; try `pip install cvxpy clarabel`"
        )
    return plugin.solve(problem, **options)


def _check_options(options: dict[str, Any]) -> None:
    """Validate the options all plug-ins share: ``tol``, ``max_iter``, ``time_limit``.

    ``time_limit = 0`` is allowed: the solver stops after its first outer
    iteration with status ``TIME_LIMIT``.
    """
    if "tol" in options:
        check_positive_real(options["tol"], "tol")
    if "max_iter" in options:
        check_positive_int(options["max_iter"], "max_iter")
    if "time_limit" in options:
        limit = options["time_limit"]
        try:
            ok = not isinstance(limit, (bool, str)) and float(limit) >= 0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(
                f"`time_limit` must be a non-negative number of seconds; got {limit!r}"
            )
