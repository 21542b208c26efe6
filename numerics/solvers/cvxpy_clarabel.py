"""``cvxpy-clarabel``: the same program through CVXPY and Clarabel (optional).

A reference for tests and benchmarks only (``pip install cvxpy clarabel``);
the project's own solvers are :mod:`~bnconvex.numerics.solvers.working_set` (the
default) and :mod:`~bnconvex.numerics.solvers.ipm`.  The point
Clarabel returns is certified by the same dual certificate as ours.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np
from bnconvex.numerics.core.convex_program import ConvexProblem, ConvexSolution
from bnconvex.numerics.errors import SolverError
from bnconvex.numerics.solvers._common import finish

name = "cvxpy-clarabel"


def is_installed() -> bool:
    """Whether both ``cvxpy`` and ``clarabel`` can be imported."""
    return all(
        importlib.util.find_spec(mod) is not None for mod in ("cvxpy", "clarabel")
    )


def _build(problem: ConvexProblem):
    import cvxpy as cp

    U, D = problem.U_prime, problem.D.astype(float)
    sign = 2.0 * D - 1.0
    Sp = cp.Variable((problem.P, problem.m))
    Sm = cp.Variable((problem.P, problem.m))
    yhat = cp.sum(cp.multiply(D, U @ (Sp - Sm).T), axis=1)
    penalty = cp.sum(cp.norm(Sp, 2, axis=1)) + cp.sum(cp.norm(Sm, 2, axis=1))
    objective = cp.Minimize(
        0.5 * cp.sum_squares(yhat - problem.y) + problem.beta * penalty
    )
    cons = [cp.multiply(sign, U @ Sp.T) >= 0, cp.multiply(sign, U @ Sm.T) >= 0]
    return cp.Problem(objective, cons), Sp, Sm


def solve(
    problem: ConvexProblem,
    *,
    tol: float = 1e-9,
    max_iter: int = 500,
    time_limit: float = 60.0,
    verbose: bool = False,
) -> ConvexSolution:
    r"""Solve with Clarabel (tolerances ``tol``); status from our certificate.

    Parameters
    ----------
    problem : ConvexProblem
    tol : float
        Clarabel's ``tol_gap_abs``, ``tol_gap_rel`` and ``tol_feas``, and the
        certified relative gap / violation needed for ``OPTIMAL``.
    max_iter : int
        Clarabel's iteration limit.
    time_limit : float
        Seconds.
    verbose : bool
        Clarabel's own output.

    Returns
    -------
    ConvexSolution
        ``solver = "cvxpy-clarabel"``.

    Raises
    ------
    SolverError
        When CVXPY/Clarabel are missing, fail or return no point.

    Notes
    -----
    The model is vectorised: :math:`\hat y = \sum_i D_i U'(s_i - s'_i)` as
    ``sum(D * (U (S+ - S-)^T), axis=1)`` and the cones as
    ``(2D - 1) * (U S^T) >= 0``.  Clarabel's own status is not trusted: the
    returned point is certified by
    :func:`bnconvex.numerics.core.certificate.certify_predictions` like every
    plug-in's.
    """
    import cvxpy as cp

    if not is_installed():
        raise SolverError("solver 'cvxpy-clarabel' needs `pip install cvxpy clarabel`")
    start = time.perf_counter()
    prob, Sp, Sm = _build(problem)
    try:
        prob.solve(
            solver=cp.CLARABEL,
            verbose=verbose,
            max_iter=max_iter,
            time_limit=time_limit,
            tol_gap_abs=tol,
            tol_gap_rel=tol,
            tol_feas=tol,
        )
    except cp.error.SolverError as exc:
        raise SolverError(f"Clarabel failed: {exc}") from exc
    if Sp.value is None:
        raise SolverError(f"Clarabel returned no point (status {prob.status})")
    iters = int(prob.solver_stats.num_iters or 0)
    reason = "converged" if prob.status == cp.OPTIMAL else "stalled"
    return finish(
        problem,
        np.asarray(Sp.value),
        np.asarray(Sm.value),
        solver=name,
        tol=tol,
        reason=reason,
        iterations=iters,
        seconds=time.perf_counter() - start,
    )
