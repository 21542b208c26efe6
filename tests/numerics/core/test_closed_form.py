import numpy as np
import pytest
from bnconvex.numerics.core.closed_form import (
    highdim_network,
    highdim_optimum,
    highdim_prediction,
    huber_h,
    onehot_network,
    onehot_optimum,
    universal_lower_bound,
)
from bnconvex.numerics.core.network import BNNetwork, forward, objective
from bnconvex.numerics.errors import InputError
from bnconvex.verify.strategies import (
    bounded_floats,
    highdim_instances,
    regression_instances,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.common.assertions import assert_rel_close, xp_assert_close

# closed-form identities evaluated twice in float64 on O(1) data
EXACT_RTOL = 1e-12


def test_huber_h_hand_values():
    # t <= beta: t^2 / 2; t > beta: beta t - beta^2 / 2 (both 0.5 at t = beta = 1)
    xp_assert_close(
        huber_h(np.array([0.0, 0.5, 1.0, 3.0]), 1.0),
        np.array([0.0, 0.125, 0.5, 2.5]),
        rtol=1e-15,
    )
    with pytest.raises(InputError, match=r"`beta` must be a positive"):
        huber_h(1.0, 0.0)


@given(t=st.floats(0, 10), beta=st.floats(0.01, 5))
def test_huber_h_is_the_scalar_shrinkage_value(t, beta):
    # h_beta(t) = min_{a >= 0} (t - a)^2 / 2 + beta a, minimiser a = (t - beta)_+;
    # checked against a fine grid around the minimiser
    grid = np.linspace(0.0, t + 1.0, 20001)
    brute = float(np.min(0.5 * (t - grid) ** 2 + beta * grid))
    assert huber_h(t, beta) <= brute + 1e-12, "h must not exceed the grid minimum"
    assert huber_h(t, beta) >= brute - 0.5 * ((t + 1.0) / 20000) ** 2 - 1e-12


@given(inst=highdim_instances(n_range=(3, 7)))
def test_highdim_network_attains_the_closed_form(inst):
    # claim 13: objective = h(||y+||) + h(||y-||), prediction = group soft-thresholding,
    # at most 2 neurons
    X, y, beta = inst["X"], inst["y"], inst["beta"]
    net = highdim_network(X, y, beta)
    assert net.m <= 2, f"{net.m} neurons"
    expected = highdim_optimum(y, beta)
    assert_rel_close(objective(net, X, y, beta), expected, EXACT_RTOL, "objective")
    xp_assert_close(forward(net, X), highdim_prediction(y, beta), rtol=0, atol=1e-12)


def test_highdim_network_counts_neurons():
    X = np.random.default_rng(0).standard_normal((4, 5))
    y = np.array([1.0, 2.0, -0.1, -0.1])  # ||y+|| = sqrt(5) > 1 >= ||y-|| = 0.141
    net = highdim_network(X, y, 1.0)
    assert (net.m, float(net.v[0]) > 0) == (1, True)
    assert highdim_network(X, y, 10.0).m == 0  # beta above both norms: f = 0
    assert_rel_close(
        objective(highdim_network(X, y, 10.0), X, y, 10.0), 0.5 * y @ y, 1e-15
    )


def test_constant_target_uses_gamma_zero():
    X = np.random.default_rng(1).standard_normal((4, 3))
    y = np.full(4, 2.0)  # y+ constant: U^T y+ = 0
    net = highdim_network(X, y, 0.5)
    assert (net.m, float(net.gamma[0])) == (1, 0.0)
    assert_rel_close(objective(net, X, y, 0.5), highdim_optimum(y, 0.5), EXACT_RTOL)


def test_highdim_rank_error_names_X():
    X = np.random.default_rng(2).standard_normal((6, 2))  # rank(CX) = 2 < 5
    with pytest.raises(
        InputError, match=r"`X` must have rank\(CX\) = n - 1 = 5 .*got rank 2"
    ):
        highdim_network(X, np.ones(6), 0.1)


@given(
    inst=regression_instances(n_range=(3, 8), d_range=(1, 3)),
    params=hnp.arrays(np.float64, (4, 3), elements=bounded_floats(2.0)),
)
def test_universal_lower_bound_below_any_network(inst, params):
    # claim 12: every network's objective is >= h(||y+||) + h(||y-||)
    X, y, beta = inst["X"], inst["y"], inst["beta"]
    d = X.shape[1]
    W = np.vstack(
        [params[:1] + np.where(params[:1] >= 0, 1.0, -1.0), np.ones((d - 1, 3))]
    )
    net = BNNetwork(W, params[1], params[2], params[3])
    bound = universal_lower_bound(y, beta)
    assert objective(net, X, y, beta) >= bound * (1 - 1e-13), "bound exceeded"


def test_onehot_reference_value():
    # paper.md R3 check: n = 9, K = 3, beta = 0.4; class sizes (1, 4, 4) give
    # h(1) + 2 h(2) = (0.4 - 0.08) + 2 (0.8 - 0.08) = 1.76 (by hand)
    Y = np.eye(3)[[0, 1, 1, 1, 1, 2, 2, 2, 2]]
    assert_rel_close(onehot_optimum(Y, 0.4), 1.76, 1e-15, "one-hot optimum")
    X = np.random.default_rng(3).standard_normal((9, 12))
    net = onehot_network(X, Y, 0.4)
    assert (net.m, net.K) == (3, 3)
    assert_rel_close(objective(net, X, Y, 0.4), 1.76, EXACT_RTOL, "network objective")


@given(
    labels=st.lists(st.integers(0, 2), min_size=3, max_size=7),
    beta=st.floats(0.05, 3.0),
)
def test_onehot_network_attains_optimum(labels, beta):
    # claim 15: K neurons (classes with sqrt(n_k) > beta) reach sum_k h(sqrt(n_k))
    n = len(labels)
    Y = np.eye(3)[labels]
    X = np.random.default_rng(n).standard_normal((n, n + 1))  # rank(CX) = n - 1
    net = onehot_network(X, Y, beta)
    sizes = Y.sum(axis=0)
    assert net.m == int(np.sum(np.sqrt(sizes) > beta)), (
        f"{net.m} neurons for sizes {sizes}"
    )
    assert_rel_close(
        objective(net, X, Y, beta), onehot_optimum(Y, beta), EXACT_RTOL, "objective"
    )


@pytest.mark.parametrize(
    ("Y", "message"),
    [
        (np.array([1.0, 0.0]), r"`Y` must be a 2-D one-hot array"),
        (np.array([[1.0, 1.0], [0.0, 1.0]]), r"`Y` must be one-hot"),
        (np.array([[0.5, 0.5], [0.0, 1.0]]), r"`Y` must be one-hot"),
    ],
)
def test_onehot_errors(Y, message):
    with pytest.raises(InputError, match=message):
        onehot_optimum(Y, 0.1)


def test_y_must_be_one_dimensional():
    with pytest.raises(InputError, match=r"`y` must be 1-D \(scalar output\)"):
        universal_lower_bound(np.ones((3, 2)), 0.1)


@pytest.mark.parametrize("t", [-1.0, np.nan, np.array([0.5, np.inf])])
def test_huber_h_rejects_a_negative_or_non_finite_norm(t):
    with pytest.raises(InputError, match=r"`t` must be finite and >= 0"):
        huber_h(t, 1.0)
