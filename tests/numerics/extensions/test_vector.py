"""Vector outputs with general labels (paper.md R3): exact LMO, solver, bounds."""

import numpy as np
import pytest
from bnconvex.numerics.core.closed_form import onehot_optimum
from bnconvex.numerics.core.network import objective
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.vector import (
    atom_bound,
    separable_upper_bound,
    singular_value_lower_bound,
    solve_atoms,
    solve_vector,
    vector_network,
)
from bnconvex.verify import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.common.assertions import assert_rel_close


@given(
    X=st.integers(4, 7).flatmap(lambda n: S.perturbed_matrix(n, 1)),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=15, deadline=None)
def test_atom_bound_is_the_maximum_over_the_circle(X, seed):
    # d = 1: s lives on the unit circle of R^2, so angle grids are an
    # independent reference.  The value f(theta) is Lipschitz with constant
    # L <= ||Lam||_2 (||U'||_2 = 1), so a grid of spacing h is within L h of
    # the maximum: a coarse grid (h = 2 pi / 20000) locates it, a fine grid of
    # spacing h' = 2 h / 20000 ~ 3e-8 around the 20 best coarse points gets
    # within L h' <= ~1e-7 * ||Lam|| of it.  The bound must be >= every grid
    # value and within that of the best.
    U = np.asarray(whiten(X).U_prime)
    Lam = np.random.default_rng(seed).standard_normal((X.shape[0], 2))
    b, s = atom_bound(U, Lam)

    def f(theta):
        grid = np.vstack([np.cos(theta), np.sin(theta)])
        return np.linalg.norm(Lam.T @ np.maximum(U @ grid, 0.0), axis=0)

    h = 2 * np.pi / 20_000
    coarse = np.arange(20_000) * h
    vals = f(coarse)
    best = max(
        f(np.linspace(t - h, t + h, 20_001)).max()
        for t in coarse[np.argsort(vals)[-20:]]
    )
    lip = np.linalg.norm(Lam, 2)
    assert b >= max(best, vals.max()) * (1 - 1e-14)
    assert b - best <= lip * 2 * h / 20_000 + 1e-13 * b
    assert_rel_close(np.linalg.norm(Lam.T @ np.maximum(U @ s, 0.0)), b, 1e-13, "s")


@pytest.fixture(scope="module")
def solved():
    """n = 5, d = 2, K = 2, beta = 0.2."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    return X, Y, solve_vector(X, Y, 0.2)


def test_solution_is_certified_and_reconstructs(solved):
    X, Y, sol = solved
    assert sol.status == "optimal"
    assert sol.relative_gap <= 1e-8
    net = vector_network(whiten(X), sol)
    assert net.v.shape == (len(sol.atoms), 2)
    # the network objective is the convex objective of the balanced atoms
    # (an identity up to rounding)
    assert_rel_close(objective(net, X, Y, 0.2), sol.objective, 1e-12, "network")


def test_bounds_bracket_the_optimum(solved):
    X, Y, sol = solved
    low = singular_value_lower_bound(Y, 0.2)
    up, up_low = separable_upper_bound(X, Y, 0.2)
    assert low <= sol.objective
    assert sol.lower_bound <= up
    assert up - up_low <= 1e-8 * up


def test_onehot_highdim_matches_closed_form():
    # rank(CX) = n - 1 and one-hot labels: p* = sum_k h_beta(sqrt(n_k)) (R3)
    X = S.base_matrix(4, 5)
    Y = np.eye(2)[[0, 1, 0, 1]]
    sol = solve_vector(X, Y, 0.3)
    assert sol.relative_gap <= 1e-8
    assert_rel_close(sol.objective, onehot_optimum(Y, 0.3), 1e-8, "one-hot")
    assert_rel_close(singular_value_lower_bound(Y, 0.3), sol.objective, 1e-8, "sv")


@given(Y=hnp.arrays(np.float64, (4, 3), elements=st.floats(-3, 3)))
@settings(max_examples=30, deadline=None)
def test_singular_value_bound_is_soft_thresholding(Y):
    # min_Z 1/2 ||Z - Y||^2 + beta ||Z||_* at Z = U (S - beta)_+ V^T
    beta = 0.4
    U, sig, Vt = np.linalg.svd(Y, full_matrices=False)
    Z = U @ np.diag(np.maximum(sig - beta, 0)) @ Vt
    value = 0.5 * np.sum((Z - Y) ** 2) + beta * np.maximum(sig - beta, 0).sum()
    got = singular_value_lower_bound(Y, beta)
    assert abs(got - value) <= 1e-12 * max(1.0, value)


def test_input_errors():
    X = np.random.default_rng(0).standard_normal((4, 2))
    with pytest.raises(InputError, match="Y"):
        solve_vector(X, np.zeros(4), 0.1)
    with pytest.raises(InputError, match="beta"):
        solve_vector(X, np.zeros((4, 2)), 0.0)
    with pytest.raises(InputError, match="pool"):
        solve_atoms(
            np.asarray(whiten(X).U_prime), np.zeros((4, 1)), 0.1, pool=np.eye(3)
        )
    with pytest.raises(InputError, match="Lam"):
        atom_bound(np.asarray(whiten(X).U_prime), np.zeros((3, 2)))
