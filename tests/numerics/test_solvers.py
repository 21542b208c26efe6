import numpy as np
import pytest
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.closed_form import highdim_optimum
from bnconvex.numerics.core.convex_program import ConvexProblem, convex_objective
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.solvers import SOLVERS, ipm, solve_convex
from bnconvex.numerics.status import SolverStatus
from bnconvex.verify.strategies import highdim_instances, regression_instances
from hypothesis import given, settings

from tests.common.assertions import assert_rel_close
from tests.numerics._convex_cases import (
    exact_case,
    exact_problem_from_data,
    ipm_solution,
)

# (n, d, seed, beta): exact pattern sets with P = 57 .. 755 patterns
CASES = [
    (6, 2, 0, 0.1),
    (8, 3, 1, 0.05),
    (10, 2, 2, 0.3),
    (10, 3, 3, 0.02),
    (14, 3, 4, 0.1),
]


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "n{}-d{}-seed{}-beta{}".format(*c)
)
def test_ipm_is_certified_on_exact_patterns(case):
    sol = ipm_solution(*case)
    prob = exact_case(*case)[1]
    assert sol.status is SolverStatus.OPTIMAL, (
        f"status {sol.status}, gap {sol.relative_gap:.2e}"
    )
    # certified relative gap <= 1e-9 bounds the relative objective error by 1e-9
    assert 0 <= sol.relative_gap <= 1e-9, f"relative gap {sol.relative_gap:.3e}"
    assert sol.max_violation <= 1e-9, f"cone violation {sol.max_violation:.3e}"
    assert_rel_close(
        convex_objective(prob, sol.S_plus, sol.S_minus), sol.objective, 1e-15
    )
    assert sol.lower_bound <= sol.objective, "a lower bound above the objective"
    assert sol.solver == "ipm"
    assert sol.history, "history must record the outer iterations"


def test_ipm_n14_d3_finishes_in_seconds():
    sol = ipm_solution(14, 3, 4, 0.1)
    assert exact_case(14, 3, 4, 0.1)[1].P >= 600, (
        "the exact arrangement has ~750 patterns"
    )
    # 2 shared cores: the solve takes ~1 s alone; 20 s flags a regression, not noise
    assert sol.seconds < 20.0, f"n=14 solve took {sol.seconds:.1f} s"


@given(inst=regression_instances((4, 8), (1, 3), (0.05, 1.0)))
@settings(max_examples=8, deadline=None)
def test_ipm_certified_property(inst):
    prob = exact_problem_from_data(inst["X"], inst["y"], inst["beta"])
    sol = solve_convex(prob, tol=1e-9)
    assert sol.status is SolverStatus.OPTIMAL, (
        f"status {sol.status}, gap {sol.relative_gap:.2e}"
    )
    assert sol.relative_gap <= 1e-9
    assert sol.max_violation <= 1e-9


@given(inst=highdim_instances((3, 6), (0.05, 1.0)))
@settings(max_examples=8, deadline=None)
def test_highdim_closed_form(inst):
    # rank(CX) = n - 1: the optimum is h(|y+|) + h(|y-|) (paper.md R2, claim 13)
    prob = exact_problem_from_data(inst["X"], inst["y"], inst["beta"])
    sol = solve_convex(prob, tol=1e-10)
    assert_rel_close(
        sol.objective, highdim_optimum(inst["y"], inst["beta"]), 1e-9, "optimum"
    )


def test_empty_interior_pattern_is_dropped_without_changing_the_optimum():
    _, prob = exact_case(8, 2, 5, 0.1)
    known = {tuple(col) for col in prob.D.T}
    rng = np.random.default_rng(0)
    extra = next(
        c for c in (rng.random(8) < 0.5 for _ in range(1000)) if tuple(c) not in known
    )
    # a pattern outside the complete arrangement has no interior point (else it
    # would be a region, i.e. enumerated)
    bigger = ConvexProblem(prob.U_prime, prob.y, prob.beta, np.c_[prob.D, extra])
    sol = solve_convex(bigger, solver="ipm")  # the barrier needs an interior
    assert sol.dropped_patterns.tolist() == [prob.P], f"dropped {sol.dropped_patterns}"
    assert not np.any(sol.S_plus[prob.P])
    assert not np.any(sol.S_minus[prob.P])
    assert_rel_close(
        sol.objective, ipm_solution(8, 2, 5, 0.1).objective, 1e-9, "optimum"
    )


def test_zero_labels_and_huge_beta_give_zero_solution():
    _, prob = exact_case(6, 2, 0, 0.1)
    zero = solve_convex(ConvexProblem(prob.U_prime, np.zeros(6), 0.1, prob.D))
    assert zero.status is SolverStatus.OPTIMAL
    assert zero.objective == 0.0
    assert zero.iterations == 0
    # beta >= ||y|| >= the dual constraint bound at v = y: s = 0 is optimal,
    # p* = |y|^2 / 2
    big = ConvexProblem(prob.U_prime, prob.y, 2 * np.linalg.norm(prob.y), prob.D)
    sol = solve_convex(big)
    assert sol.status is SolverStatus.OPTIMAL, f"status {sol.status}"
    assert_rel_close(sol.objective, 0.5 * prob.y @ prob.y, 1e-9, "optimum at s = 0")


def test_budget_exhaustion_is_reported_honestly():
    _, prob = exact_case(10, 3, 3, 0.02)
    sol = solve_convex(prob, max_iter=3)
    assert sol.status is SolverStatus.MAX_ITERATIONS, f"status {sol.status}"
    assert sol.gap > 1e-6, f"gap {sol.gap:.2e}"
    assert sol.lower_bound <= sol.objective
    timed = solve_convex(prob, time_limit=0.0)
    assert timed.status is SolverStatus.TIME_LIMIT, f"status {timed.status}"
    assert np.isfinite(timed.gap)
    assert timed.gap > 0


def test_registry_and_errors():
    assert set(SOLVERS) == {"ipm", "working-set", "cvxpy-clarabel"}
    assert ipm.is_installed()
    _, prob = exact_case(6, 2, 0, 0.1)
    with pytest.raises(InputError, match=r"`solver` must be one of .*; got 'nope'"):
        solve_convex(prob, solver="nope")
    with pytest.raises(
        InputError, match=r"`problem` must be a ConvexProblem; got dict"
    ):
        solve_convex({"U_prime": prob.U_prime})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tol": 0.0}, r"`tol` must be a positive finite number; got 0.0"),
        ({"tol": float("nan")}, r"`tol` must be a positive finite number; got nan"),
        ({"max_iter": 0}, r"`max_iter` must be a positive integer; got 0"),
        ({"max_iter": 2.5}, r"`max_iter` must be a positive integer; got 2.5"),
        ({"time_limit": -1.0}, r"`time_limit` must be a non-negative .*; got -1.0"),
        ({"time_limit": None}, r"`time_limit` must be a non-negative .*; got None"),
    ],
)
def test_bad_options_name_the_argument(options, message):
    _, prob = exact_case(6, 2, 0, 0.1)
    for solver in SOLVERS:  # checked before the plug-in runs, installed or not
        with pytest.raises(InputError, match=message):
            solve_convex(prob, solver=solver, **options)


def test_patterns_from_enumeration_are_all_interior():
    _, prob = exact_case(10, 2, 2, 0.3)
    assert prob.P == enumerate_patterns(prob.U_prime).shape[1]
    assert ipm_solution(10, 2, 2, 0.3).dropped_patterns.size == 0, (
        "regions have interiors"
    )


def test_ipm_time_limit_is_checked_between_newton_steps():
    full = ipm_solution(14, 3, 4, 0.1)
    _, prob = exact_case(14, 3, 4, 0.1)
    # a limit far below the full solve: the barrier stops inside its first
    # centring (checked per Newton step), with fewer steps than the full run
    sol = solve_convex(prob, time_limit=0.05)
    assert sol.status is SolverStatus.TIME_LIMIT, f"status {sol.status}"
    assert sol.iterations < full.iterations, (sol.iterations, full.iterations)
    assert sol.lower_bound <= sol.objective
