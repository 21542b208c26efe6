"""BN after ReLU (paper.md R6, claim 17): patterns, network, convex program."""

import math
import warnings

import numpy as np
import pytest
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.bn_after_relu import (
    AfterReLUProblem,
    after_relu_forward,
    after_relu_objective,
    after_relu_objective_and_gradient,
    convex_objective,
    reconstruct,
    relu_patterns,
    solve_after_relu,
    train_after_relu,
)
from bnconvex.verify import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.common.assertions import assert_rel_close, xp_assert_close
from tests.common.extras import import_test_extra


def _columns(D):
    return {np.packbits(c).tobytes() for c in D.T}


@pytest.fixture(scope="module")
def solved():
    """n = 7, d = 2, beta = 0.15: problem, solution, reconstructed network."""
    rng = np.random.default_rng(11)
    X = rng.standard_normal((7, 2))
    y = rng.standard_normal(7)
    prob = AfterReLUProblem(X, y, 0.15, relu_patterns(X))
    sol = solve_after_relu(prob)
    return prob, sol, reconstruct(prob, sol)


@given(X=st.integers(5, 9).flatmap(lambda n: S.perturbed_matrix(n, 2)))
@settings(max_examples=10, deadline=None)
def test_patterns_match_dense_sampling_and_count(X):
    D = relu_patterns(X)
    n = X.shape[0]
    # one direction inside every wedge: the lines x_j^T u = 0 cut the circle at
    # the angles phi_j +- pi/2; the midpoints of consecutive cuts lie inside
    # the wedges (a uniform grid of directions missed wedges of nearly parallel
    # rows, thinner than its spacing)
    phi = np.arctan2(X[:, 1], X[:, 0])
    cuts = np.concatenate([phi + np.pi / 2, phi - np.pi / 2])
    cuts = np.sort(np.mod(cuts, 2 * np.pi))
    theta = (cuts + np.diff(cuts, append=cuts[0] + 2 * np.pi) / 2) % (2 * np.pi)
    U = np.vstack([np.cos(theta), np.sin(theta)])
    sampled = np.unique((X @ U >= 0).T, axis=0).T
    empty = int(not sampled.any(axis=0).all())  # the all-inactive wedge, if any
    assert _columns(D) == _columns(sampled[:, sampled.any(axis=0)])
    # general position in the plane: n lines through 0 give exactly 2n wedges,
    # one of which may be the (dropped) all-inactive pattern
    assert D.shape == (n, 2 * n - empty), (D.shape, empty)


def test_patterns_zero_rows_min_active_and_errors():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    D = relu_patterns(X)
    assert D[1].all(), "a zero row is active in every pattern (0 >= 0)"
    assert D.shape[1] == 6, D.shape  # 3 distinct lines -> 6 wedges
    assert relu_patterns(X, min_active=3).sum(axis=0).min() >= 3
    with pytest.raises(InputError, match=r"`X` must be a 2-D array .* got ndim=1"):
        relu_patterns(np.ones(3))
    with pytest.raises(InputError, match="`X` must have at least 2 rows"):
        relu_patterns(np.ones((1, 2)))
    with pytest.raises(InputError, match="`X` contains 1 NaN or infinite"):
        relu_patterns(np.array([[np.nan, 0.0], [1.0, 2.0]]))
    with pytest.raises(InputError, match="`min_active` must be a positive integer"):
        relu_patterns(X, min_active=0)


def test_forward_by_hand_and_undefined_bn():
    # one neuron on x = (0, 1, 2), w = 1: relu = x, Cx = (-1, 0, 1), ||Cx|| = sqrt 2
    X = np.array([[0.0], [1.0], [2.0]])
    net = BNNetwork(W=[[1.0]], gamma=[2.0], alpha=[math.sqrt(3)], v=[1.0])
    expected = 2.0 * np.array([-1.0, 0.0, 1.0]) / math.sqrt(2) + 1.0
    xp_assert_close(after_relu_forward(net, X), expected, rtol=1e-15)
    with pytest.raises(InputError, match=r"neuron \(`W` column\) 0 has zero centred"):
        after_relu_forward(net.replace(W=np.array([[-1.0]])), X)  # relu output 0
    with pytest.raises(InputError, match=r"`X` must have shape \(n, 1\); got \(3, 2\)"):
        after_relu_forward(net, np.ones((3, 2)))
    with pytest.raises(InputError, match="`X` contains 1 NaN or infinite"):
        after_relu_forward(net, np.array([[0.0], [np.inf], [2.0]]))


def test_gradient_by_finite_differences():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    net = BNNetwork(
        W=rng.standard_normal((2, 3)),
        gamma=rng.standard_normal(3),
        alpha=rng.standard_normal(3),
        v=rng.standard_normal(3),
    )
    _, grad = after_relu_objective_and_gradient(net, X, y, 0.2)
    h = 1e-6
    for field in ("W", "gamma", "alpha", "v"):
        base = np.asarray(getattr(net, field))
        num = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            e = np.zeros_like(base)
            e[idx] = h
            up = after_relu_objective(net.replace(**{field: base + e}), X, y, 0.2)
            down = after_relu_objective(net.replace(**{field: base - e}), X, y, 0.2)
            num[idx] = (up - down) / (2 * h)
        # central differences: truncation ~h^2, rounding ~1e-10 / h
        xp_assert_close(np.asarray(getattr(grad, field)), num, rtol=1e-6, atol=1e-8)


def test_problem_validation():
    X = np.random.default_rng(0).standard_normal((4, 2))
    D = relu_patterns(X)
    with pytest.raises(InputError, match="empty pattern"):
        AfterReLUProblem(X, np.ones(4), 0.1, np.column_stack([D, np.zeros(4, bool)]))
    with pytest.raises(InputError, match="`D` must have n=4 rows"):
        AfterReLUProblem(X, np.ones(4), 0.1, D[:3])
    with pytest.raises(InputError, match="`D` must hold 0/1 or bool values"):
        AfterReLUProblem(X, np.ones(4), 0.1, 2.0 * D)


def test_solution_reconstruction_and_local_search(solved):
    prob, sol, net = solved
    assert str(sol.status) == "optimal", sol.status
    assert sol.relative_gap <= 1e-9, sol.relative_gap
    assert sol.max_violation == 0.0
    assert net.m <= prob.n + 1, net.m
    obj = convex_objective(prob, sol.W_plus, sol.t_plus, sol.W_minus, sol.t_minus)
    assert_rel_close(obj, sol.objective, 1e-14, "convex_objective")
    # blocks below 1e-9 of the largest are dropped: first-order change ~1e-10
    value = after_relu_objective(net, prob.X, prob.y, prob.beta)
    assert_rel_close(value, sol.objective, 1e-9, "reconstructed vs convex")
    local = train_after_relu(prob.X, prob.y, prob.beta, prob.n + 1, seed=0)[1]
    assert local >= sol.objective - sol.gap, (local, sol.objective, sol.gap)


def test_logistic_loss_reconstruction():
    # R6 with any convex loss: the reconstruction identity does not depend on it
    rng = np.random.default_rng(12)
    X = rng.standard_normal((6, 2))
    y = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    prob = AfterReLUProblem(X, y, 0.1, relu_patterns(X), loss="logistic")
    sol = solve_after_relu(prob)
    net = reconstruct(prob, sol)
    value = after_relu_objective(net, X, y, 0.1, "logistic")
    assert_rel_close(value, sol.objective, 1e-9, "logistic: reconstructed vs convex")
    assert sol.relative_gap <= 1e-8, (sol.status, sol.relative_gap)


def test_against_cvxpy(solved):
    # R6 modelled independently in w-coordinates (test-only dependency)
    cp = import_test_extra("cvxpy")
    import_test_extra("clarabel")
    prob, sol, _ = solved
    n, d = prob.X.shape
    e = np.ones(n) / math.sqrt(n)
    pred, pen, cons = 0, 0, []
    for i in range(prob.P):
        M = prob.M[i]
        G = np.where(prob.D[:, i, None], 1.0, -1.0) * prob.X
        for sign in (1.0, -1.0):
            w, t = cp.Variable(d), cp.Variable()
            o = M @ w + t * e
            pred, pen = pred + sign * o, pen + cp.norm(o, 2)
            cons.append(G @ w >= 0)
    model = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(pred - prob.y) + prob.beta * pen), cons
    )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10)
    assert_rel_close(sol.objective, float(model.value), 1e-7, "barrier vs Clarabel")


def test_single_active_patterns_never_lower_than_dropping_them():
    # paper.md R6 drops patterns with < 2 active samples; they are realisable
    # (BN of e_j is defined), so dropping them can only raise the optimum.
    # (On 12 scratch instances, n = 8, beta in {0.05, 0.15}, it never did.)
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    full = solve_after_relu(AfterReLUProblem(X, y, 0.1, relu_patterns(X)))
    two = solve_after_relu(AfterReLUProblem(X, y, 0.1, relu_patterns(X, min_active=2)))
    assert full.objective <= two.objective + 1e-9 * two.objective
