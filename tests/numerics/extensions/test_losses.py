"""Losses, their conjugates, and the general-loss convex program (paper.md R5)."""

import warnings

import numpy as np
import pytest
import sympy as sp
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.convex_program import ConvexProblem
from bnconvex.numerics.core.reconstruct import convex_to_network
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.losses import (
    get_loss,
    loss_convex_objective,
    loss_dual_bound,
    network_loss_objective,
    solve_loss_program,
    train_loss_network,
)
from bnconvex.numerics.solvers import solve_convex
from bnconvex.theory import conjugates as T
from bnconvex.theory.symbols import lam as LAM
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.common.assertions import assert_rel_close, xp_assert_close
from tests.common.extras import import_test_extra
from tests.numerics._convex_cases import cvxpy_blocks

FLOATS = st.floats(-4.0, 4.0, allow_nan=False, allow_subnormal=False)
SIGNS = st.sampled_from([-1.0, 1.0])


@pytest.fixture(scope="module")
def case():
    """n = 7 points in the plane, +-1 labels, exact patterns of U'."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((7, 2))
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
    wh = whiten(X)
    U = np.asarray(wh.U_prime)
    return X, y, wh, ConvexProblem(U, y, 0.3, enumerate_patterns(U))


@pytest.mark.parametrize("name", ["squared", "logistic", "hinge"])
@given(lam=FLOATS, label=SIGNS)
@settings(max_examples=30, deadline=None)
def test_conjugate_matches_theory(name, lam, label):
    # the SymPy conjugates of theory/conjugates.py, evaluated at the same point
    theory = {
        "squared": T.conjugate_squared,
        "logistic": T.conjugate_logistic,
        "hinge": T.conjugate_hinge,
    }[name]
    expected = theory(sp.Float(lam), sp.Float(label)).subs(LAM, lam)
    got = get_loss(name).conjugate(np.array([lam]), np.array([label]))
    if expected == sp.oo:
        assert got == np.inf, f"{name}: numeric {got} but theory +oo at lam={lam}"
    else:
        assert abs(got - float(expected)) <= 1e-12 * max(1.0, abs(float(expected))), (
            f"{name}: numeric {got} vs theory {float(expected)} at lam={lam}"
        )


@pytest.mark.parametrize("name", ["squared", "logistic", "hinge"])
@given(z=FLOATS, label=SIGNS, t=st.floats(0.0, 1.0))
@settings(max_examples=30, deadline=None)
def test_fenchel_young(name, z, label, t):
    loss = get_loss(name)
    zz, yy = np.array([z]), np.array([label])
    g = loss.gradient(zz, yy)
    # equality at a (sub)gradient, inequality at any scaled point of the domain
    gap = loss.value(zz, yy) + loss.conjugate(g, yy) - float(g @ zz)
    assert abs(gap) <= 1e-12 * (1 + abs(z)), f"Fenchel-Young equality off by {gap}"
    lam = t * g
    assert loss.value(zz, yy) + loss.conjugate(lam, yy) >= float(lam @ zz) - 1e-12


@pytest.mark.parametrize("name", ["squared", "logistic"])
def test_gradient_and_hessian_by_finite_differences(name):
    loss = get_loss(name)
    z = np.array([-1.3, 0.2, 2.5])
    y = np.array([1.0, -1.0, 1.0])
    h = 1e-6
    num = np.array(
        [
            (loss.value(z + h * e, y) - loss.value(z - h * e, y)) / (2 * h)
            for e in np.eye(3)
        ]
    )
    # central differences with h = 1e-6: truncation ~h^2, rounding ~eps/h ~ 1e-10
    xp_assert_close(loss.gradient(z, y), num, rtol=1e-8, atol=1e-9)
    num2 = (loss.gradient(z + h, y) - loss.gradient(z - h, y)) / (2 * h)
    xp_assert_close(loss.hessian_diag(z, y), num2, rtol=1e-6, atol=1e-9)


def test_bad_input():
    with pytest.raises(InputError, match="`loss` must be one of"):
        get_loss("cross-entropy")
    with pytest.raises(InputError, match=r"`y` must be \+-1 for the logistic loss"):
        get_loss("logistic").check_labels(np.array([1.0, 0.5]))
    with pytest.raises(InputError, match="has no Hessian"):
        get_loss("hinge").hessian_diag(np.zeros(2), np.ones(2))
    with pytest.raises(InputError, match=r"`loss` must be one of .*; got \['hinge'\]"):
        get_loss(["hinge"])  # unhashable: was a TypeError


def test_bad_program_input(case):
    problem = case[3]
    with pytest.raises(InputError, match="`tol` must be a positive finite number"):
        solve_loss_program(problem, "logistic", tol=-1.0)
    with pytest.raises(InputError, match="`problem` must be a ConvexProblem; got tup"):
        solve_loss_program(case, "logistic")
    with pytest.raises(InputError, match=r"`lam` must have one entry per sample"):
        loss_dual_bound(problem, "logistic", np.zeros(3))
    with pytest.raises(InputError, match="`lam` contains NaN or infinite values"):
        loss_dual_bound(problem, "logistic", np.full(7, np.nan))


def test_squared_loss_program_matches_core_ipm(case):
    # same program, two independent solvers: the core IPM (squared loss only)
    _, _, _, prob = case
    ours, _ = solve_loss_program(prob, "squared")
    core = solve_convex(prob, tol=1e-10)
    assert str(ours.status) == "optimal", ours.status
    assert_rel_close(ours.objective, core.objective, 1e-8, "barrier vs core ipm")


@pytest.mark.parametrize("name", ["logistic", "hinge"])
def test_reconstruction_and_dual_bound(case, name):
    X, y, wh, prob = case
    sol, lam = solve_loss_program(prob, name)
    net = convex_to_network(wh, sol.S_plus, sol.S_minus)
    # the reconstruction is an identity: same prediction, penalty beta*sum||s||
    assert_rel_close(
        network_loss_objective(net, X, y, prob.beta, name),
        sol.objective,
        1e-12,
        "network vs convex objective",
    )
    assert_rel_close(
        loss_convex_objective(prob, name, sol.S_plus, sol.S_minus),
        sol.objective,
        1e-14,
        "loss_convex_objective",
    )
    lower, c = loss_dual_bound(prob, name, lam)
    assert 0 < c <= 1
    # measured: logistic 1.5e-10, hinge 1.6e-4 (the barrier's hinge duals are noisy)
    limit = {"logistic": 1e-8, "hinge": 1e-3}[name]
    assert 0 <= sol.objective - lower <= limit * sol.objective, (sol.objective, lower)
    value = train_loss_network(X, y, prob.beta, 8, name, seed=1, max_iter=200)[1]
    assert value >= lower, f"local search {value} below the dual bound {lower}"


def test_dual_bound_with_zero_point_is_loss_at_zero(case):
    # lambda = 0 is feasible (c = 1) and -l*(0) = min_z l(z) (0 for hinge/log: inf)
    _, _, _, prob = case
    bound, c = loss_dual_bound(prob, "hinge", np.zeros(prob.n))
    assert (bound, c) == (0.0, 1.0)


def _cvxpy_value(prob, name):
    cp = import_test_extra("cvxpy")
    import_test_extra("clarabel")
    terms, norms, cons = cvxpy_blocks(cp, prob)
    if name == "logistic":
        loss = cp.sum(cp.logistic(-cp.multiply(prob.y, terms)))
    else:
        loss = cp.sum(cp.pos(1 - cp.multiply(prob.y, terms)))
    model = cp.Problem(cp.Minimize(loss + prob.beta * norms), cons)
    with warnings.catch_warnings(record=True):  # exp cone: Clarabel may warn
        warnings.simplefilter("always")
        model.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    assert model.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE), model.status
    return float(model.value)


@pytest.mark.parametrize("name", ["logistic", "hinge"])
def test_against_cvxpy(case, name):
    # independent modelling of R5 in CVXPY (test-only dependency)
    _, _, _, prob = case
    sol, lam = solve_loss_program(prob, name)
    lower, _ = loss_dual_bound(prob, name, lam)
    ref = _cvxpy_value(prob, name)
    # Clarabel's own accuracy is ~1e-8 relative here (exp cones); ours is tighter
    slack = 1e-7 * abs(ref)
    assert lower - slack <= ref <= sol.objective + slack, (lower, ref, sol.objective)
    assert_rel_close(sol.objective, ref, 1e-7, f"{name}: barrier vs Clarabel")
