"""Solve methods: one registry, one option vocabulary, one result base class.

:data:`METHODS` holds every method of the project by name; :func:`solve` runs
one.  Every method takes the options of
:data:`bnconvex.numerics.result.COMMON_OPTIONS` (``tol`` = target certified
relative gap, ``max_iter`` = budget of the iterations the result reports,
``time_limit``, ``verbose``; defined in :mod:`bnconvex.numerics.result`) plus
its own (:meth:`Method.options`); any other option is an
:class:`~bnconvex.numerics.errors.InputError` naming it.  Every method returns
a :class:`~bnconvex.numerics.result.SolveResult`.

=====================  =================  =====================================
method                 problem            one iteration (unit of ``max_iter``)
=====================  =================  =====================================
``working-set``        ConvexProblem      primal-dual IPM iteration (all rounds)
``ipm``                ConvexProblem      Newton step of the barrier phase
``cvxpy-clarabel``     ConvexProblem      Clarabel interior-point iteration
``fullscale-admm``     ConvexProblem      ADMM step
``fullscale-al``       ConvexProblem      FISTA step (all AL rounds)
``loss-barrier``       BlockProgram       Newton step (all centrings)
=====================  =================  =====================================

The three plug-in modules of the convex BN program (CVXPY
``reductions/solvers`` style; :data:`SOLVERS`, the ``bnconvex solve
--solver`` choices) expose ``name``, ``is_installed()`` and
``solve(problem, *, tol, max_iter, time_limit, verbose) -> ConvexSolution``;
the full-scale methods (:func:`bnconvex.numerics.fullscale.solve_fullscale`)
take the program's ``U'``, ``y``, ``beta`` and ``D``, with
``viol_tol = tol * max(1, ||y||)`` unless given.

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

import dataclasses
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from bnconvex.numerics._validation import check_positive_int, check_positive_real
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    ConvexSolution,
    check_problem,
)
from bnconvex.numerics.errors import InputError, SolverError
from bnconvex.numerics.result import COMMON_OPTIONS, SolveResult
from bnconvex.numerics.solvers import cvxpy_clarabel, ipm, loss_barrier, working_set

__all__ = ["DEFAULT_SOLVER", "METHODS", "SOLVERS", "Method", "solve", "solve_convex"]

#: Plug-in used when none is named (``solve_convex``, ``bnconvex solve``, the claims).
DEFAULT_SOLVER = working_set.name

#: Registered plug-ins of the convex BN program by name (``bnconvex solve --solver``).
SOLVERS: dict[str, ModuleType] = {
    mod.name: mod for mod in (ipm, working_set, cvxpy_clarabel)
}


def _always() -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Method:
    """One registered solve method.

    Attributes
    ----------
    name : str
    problem : type
        The problem type it solves (``ConvexProblem`` or ``BlockProgram``).
    run : callable
        ``run(problem, **options) -> SolveResult``.
    extras : tuple of str
        Its own options, beyond :data:`~bnconvex.numerics.result.COMMON_OPTIONS`.
    is_installed : callable
        Whether its optional dependencies can be imported.
    """

    name: str
    problem: type
    run: Callable[..., SolveResult]
    extras: tuple[str, ...] = ()
    is_installed: Callable[[], bool] = _always

    def options(self) -> tuple[str, ...]:
        """Every option the method accepts (common ones first)."""
        return COMMON_OPTIONS + self.extras


def _keyword_extras(fn: Callable, *skip: str) -> tuple[str, ...]:
    """Keyword parameters of ``fn`` that are not common options nor ``skip``."""
    params = inspect.signature(fn).parameters.values()
    return tuple(
        p.name
        for p in params
        if p.kind is p.KEYWORD_ONLY and p.name not in COMMON_OPTIONS + skip
    )


def _plugin(mod: ModuleType) -> Method:
    def run(problem: ConvexProblem, **options: Any) -> SolveResult:
        return mod.solve(problem, **options)  # looked up per call

    extras = _keyword_extras(mod.solve)
    return Method(mod.name, ConvexProblem, run, extras, mod.is_installed)


def _fullscale(method: str) -> Method:
    """Wrap the full-scale ``method`` ("admm" or "al") for a :class:`ConvexProblem`."""
    from bnconvex.numerics.fullscale.solver import solve_fullscale

    def run(
        problem: ConvexProblem,
        *,
        tol: float = 1e-6,
        max_iter: int = 20_000,
        time_limit: float | None = None,
        verbose: bool = False,
        **extras: Any,
    ) -> SolveResult:
        extras.setdefault("viol_tol", tol * max(1.0, float(np.linalg.norm(problem.y))))
        return solve_fullscale(
            problem.U_prime,
            problem.y,
            problem.beta,
            problem.D,
            method=method,
            tol=tol,
            max_iter=max_iter,
            time_limit=time_limit,
            verbose=verbose,
            **extras,
        )

    extras = _keyword_extras(solve_fullscale, "method")
    return Method(f"fullscale-{method}", ConvexProblem, run, extras)


def _registry() -> dict[str, Method]:
    methods = [_plugin(mod) for mod in SOLVERS.values()]
    methods += [_fullscale("admm"), _fullscale("al")]
    barrier = loss_barrier.solve_block_program
    methods.append(
        Method(
            loss_barrier.name,
            loss_barrier.BlockProgram,
            barrier,
            _keyword_extras(barrier),
        )
    )
    return {m.name: m for m in methods}


#: Every solve method of the project, by name (module docstring).
METHODS: dict[str, Method] = _registry()


def solve(problem: Any, *, method: str = DEFAULT_SOLVER, **options: Any) -> SolveResult:
    """Solve ``problem`` with the registered ``method``.

    Parameters
    ----------
    problem : ConvexProblem or BlockProgram
        Of the type the method solves (:attr:`Method.problem`).
    method : str
        A key of :data:`METHODS`.
    **options
        Options of :meth:`Method.options`.

    Returns
    -------
    SolveResult
        The method's own subclass of it.

    Raises
    ------
    InputError
        Unknown method, a problem of the wrong type, an option the method does
        not take (the message names it), ``tol <= 0``, ``max_iter < 1`` or a
        negative or NaN ``time_limit``.
    SolverError
        The method's optional dependencies are not installed.
    """
    if method not in METHODS:
        raise InputError(f"`method` must be one of {sorted(METHODS)}; got {method!r}")
    entry = METHODS[method]
    if not isinstance(problem, entry.problem):
        raise InputError(
            f"`problem` must be a {entry.problem.__name__} for method {method!r}; "
            f"got {type(problem).__name__}"
        )
    return _run(entry, problem, options)


def solve_convex(
    problem: ConvexProblem, *, solver: str = DEFAULT_SOLVER, **options: Any
) -> ConvexSolution:
    """Solve a :class:`ConvexProblem` with the method ``solver``.

    Parameters
    ----------
    problem : ConvexProblem
    solver : str
        A key of :data:`METHODS` whose problem type is ``ConvexProblem``.
    **options
        ``tol``, ``max_iter``, ``time_limit``, ``verbose`` and the method's own.

    Returns
    -------
    ConvexSolution or FullScaleSolution
        A :class:`~bnconvex.numerics.result.SolveResult` with blocks
        ``S_plus``, ``S_minus`` of shape (P, m).

    Raises
    ------
    InputError, SolverError
        As :func:`solve`.
    """
    check_problem(problem)
    convex = sorted(k for k, m in METHODS.items() if m.problem is ConvexProblem)
    if solver not in convex:
        raise InputError(f"`solver` must be one of {convex}; got {solver!r}")
    return _run(METHODS[solver], problem, options)


def _run(entry: Method, problem: Any, options: dict[str, Any]) -> SolveResult:
    unknown = sorted(set(options) - set(entry.options()))
    if unknown:
        raise InputError(
            f"`{unknown[0]}` is not an option of solver {entry.name!r}; "
            f"its options: {', '.join(entry.options())}"
        )
    _check_options(options)
    if not entry.is_installed():
        raise SolverError(
            f"solver {entry.name!r} is not installed; try `pip install cvxpy clarabel`"
        )
    return entry.run(problem, **options)


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
