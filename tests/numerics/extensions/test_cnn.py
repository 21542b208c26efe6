"""Convolutional BN networks (paper.md R8): patches, pooling, program, certificate."""

import numpy as np
import pytest
from bnconvex.numerics.core.bn import batch_norm
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.cnn import (
    CNNProblem,
    ConvGeometry,
    certify_cnn,
    cnn_convex_objective,
    cnn_forward,
    cnn_objective,
    cnn_objective_and_gradient,
    cnn_predict,
    default_cnn_solver,
    patch_matrix,
    pooling_matrix,
    reconstruct_cnn,
    solve_cnn,
    train_cnn,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.signal import correlate

from tests.common.assertions import assert_rel_close

EPS = np.finfo(float).eps


@st.composite
def geometries(draw):
    """Small 2-D geometries and matching images (n, c, H, W)."""
    kh, kw = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    g = ConvGeometry(
        (kh, kw),
        stride=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        padding=(draw(st.integers(0, 1)), draw(st.integers(0, 1))),
        pooling=draw(st.sampled_from(("sum", "average"))),
    )
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    H, W = draw(st.integers(kh, 4)), draw(st.integers(kw, 4))
    x = draw(hnp.arrays(np.float64, (n, c, H, W), elements=st.floats(-2, 2)))
    return x, g


@given(case=geometries())
@settings(max_examples=40, deadline=None)
def test_patch_product_is_the_direct_correlation(case):
    # an independent implementation: scipy's correlate per image and channel
    x, g = case
    X = patch_matrix(x, g)
    (kh, kw), (sh, sw), (ph, pw) = g.kernel, g.stride, g.padding
    w = np.random.default_rng(0).standard_normal((x.shape[1], kh, kw))
    pad = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    maps = np.stack(
        [
            sum(correlate(pad[j, ch], w[ch], mode="valid") for ch in range(x.shape[1]))
            for j in range(x.shape[0])
        ]
    )[:, ::sh, ::sw]
    K = maps.shape[1] * maps.shape[2]
    assert X.shape == (K * x.shape[0], w.size)
    got = (X @ w.ravel()).reshape(K, x.shape[0])  # row k n + j
    want = maps.reshape(x.shape[0], K).T
    # both sides sum the same <= 12 products |x w| <= 2 * 4 (|w| < 4 for this
    # seed) in different orders: |error| <= 2 * 12 * 8 * eps (summation bound)
    np.testing.assert_allclose(got, want, rtol=0, atol=2 * 12 * 8 * EPS)


def test_pooling_matrix_and_geometry_errors():
    S = pooling_matrix(2, 3, "sum")
    assert S.shape == (2, 6)
    assert np.array_equal(S @ np.arange(6.0), [6.0, 9.0])
    assert np.allclose(pooling_matrix(2, 3, "average"), S / 3)
    for bad in (
        lambda: ConvGeometry(0),
        lambda: ConvGeometry(2, stride=(1, 0)),
        lambda: ConvGeometry(2, padding=-1),
        lambda: ConvGeometry(2, pooling="max"),
        lambda: pooling_matrix(2, 2, "max"),
        lambda: patch_matrix(np.zeros((2, 3)), ConvGeometry(1)),
        lambda: patch_matrix(np.zeros((1, 1, 2, 2)), ConvGeometry(3)),
        lambda: patch_matrix(np.full((1, 1, 2, 2), np.nan), ConvGeometry(1)),
    ):
        with pytest.raises(InputError):
            bad()


@pytest.fixture(scope="module", params=["sum", "average"])
def solved(request):
    """Three 1-D images of width 4, kernel 2, padding 1 (n K = 15)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, 1, 4))
    y = rng.standard_normal(3)
    g = ConvGeometry((1, 2), padding=(0, 1), pooling=request.param)
    prob = CNNProblem(x, y, 0.2, g)
    return prob, solve_cnn(prob)


def test_solution_is_certified_and_reconstructs(solved):
    prob, sol = solved
    assert sol.certificate.bound_kind == "global"
    assert sol.relative_gap <= 1e-8, sol.relative_gap
    assert sol.max_violation <= 1e-8
    net = reconstruct_cnn(prob, sol)
    value = cnn_objective(net, prob.images, prob.y, prob.beta, prob.geometry)
    # dropped blocks are below 1e-9 of the largest: their objective share is
    # O(1e-9) relative; the certified gap is <= 1e-8
    assert_rel_close(value, sol.lower_bound, 2e-8, "reconstructed CNN objective")
    assert value >= sol.lower_bound * (1 - 1e-12)
    assert 1 <= net.m <= 2 * prob.P


def test_barrier_is_certified_honestly(solved):
    prob, sol = solved
    other = solve_cnn(prob, solver="barrier")
    # the barrier's point is feasible and never below the certified bound;
    # its status follows the certificate (OPTIMAL only at gap <= 1e-8)
    assert other.objective >= sol.lower_bound * (1 - 1e-12)
    assert (other.status == "optimal") == (other.relative_gap <= 1e-8)
    with pytest.raises(InputError):
        solve_cnn(prob, solver="nope")


def test_exchange_solver_agrees_with_the_reference(solved):
    # two independent solvers, each certified by the same rigorous dual bound:
    # neither bound may exceed the other's objective (up to the bound's own
    # eps inflation), and both gaps close to 1e-8
    prob, sol = solved
    other = solve_cnn(prob, solver="exchange")
    assert other.status == "optimal", other.relative_gap
    assert other.lower_bound <= sol.objective * (1 + 1e-12)
    assert sol.lower_bound <= other.objective * (1 + 1e-12)
    assert other.max_violation <= 1e-9
    net = reconstruct_cnn(prob, other)
    value = cnn_objective(net, prob.images, prob.y, prob.beta, prob.geometry)
    assert_rel_close(value, other.lower_bound, 2e-8, "exchange reconstruction")


def test_local_search_never_below_bound(solved):
    prob, sol = solved
    for seed in range(2):
        _, value = train_cnn(
            prob.images, prob.y, prob.beta, 4, prob.geometry, seed=seed, max_iter=200
        )
        assert value >= sol.lower_bound * (1 - 1e-12)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 1, 2, 3))
    g = ConvGeometry(2, padding=1, pooling="average")
    X = patch_matrix(x, g)
    S = pooling_matrix(3, X.shape[0] // 3, "average")
    y = rng.standard_normal(3)
    net = BNNetwork(
        W=rng.standard_normal((4, 3)),
        gamma=rng.standard_normal(3),
        alpha=rng.standard_normal(3),
        v=rng.standard_normal(3),
    )
    value, grad = cnn_objective_and_gradient(net, X, S, y, 0.3)
    assert_rel_close(value, cnn_objective(net, x, y, 0.3, g), 1e-14, "value")
    h = 1e-6
    for field in ("W", "gamma", "alpha", "v"):
        arr = getattr(net, field)
        idx = (0,) * arr.ndim
        plus, minus = arr.copy(), arr.copy()
        plus[idx] += h
        minus[idx] -= h
        fd = (
            cnn_objective(net.replace(**{field: plus}), x, y, 0.3, g)
            - cnn_objective(net.replace(**{field: minus}), x, y, 0.3, g)
        ) / (2 * h)
        # central differences: error O(h^2 f''') ~ 1e-10 plus rounding eps/h ~ 1e-10
        assert abs(fd - getattr(grad, field)[idx]) <= 1e-6 * (1 + abs(fd)), field


def test_certificate_of_zero_prediction_and_bn_over_positions(solved):
    prob, _ = solved
    zero = np.zeros((prob.P, prob.U_prime.shape[1]))
    obj = cnn_convex_objective(prob, zero, zero)
    cert = certify_cnn(prob, cnn_predict(prob, zero, zero), obj)
    assert cert.lower_bound <= obj * (1 + 1e-12)
    # BN over batch and positions: the whitened identity with n K entries
    X = prob.patches
    w = np.array([0.3, -1.1])
    wh = prob.whitening
    q = wh.sigma * (wh.Vt @ w)
    s = np.r_[1.5 * q / np.linalg.norm(q), -0.2]
    bn = batch_norm((X @ w)[:, None], np.array([1.5]), np.array([-0.2]))[:, 0]
    np.testing.assert_allclose(prob.U_prime @ s, bn, rtol=0, atol=1e-13)


def test_forward_is_pooled_bn_relu():
    x = np.arange(8.0).reshape(2, 1, 1, 4)
    g = ConvGeometry((1, 2), stride=(1, 2), pooling="sum")
    net = BNNetwork(W=[[1.0], [0.0]], gamma=[1.0], alpha=[0.0], v=[2.0])
    # patches' first entries 0, 2 | 4, 6 stacked position-major: 0, 4, 2, 6
    h = np.array([0.0, 4.0, 2.0, 6.0])
    z = np.maximum((h - h.mean()) / np.linalg.norm(h - h.mean()), 0) * 2.0
    np.testing.assert_allclose(cnn_forward(net, x, g), [z[0] + z[2], z[1] + z[3]])
    assert default_cnn_solver() in ("clarabel", "barrier")


def test_problem_input_errors():
    x = np.random.default_rng(0).standard_normal((2, 1, 1, 3))
    g = ConvGeometry((1, 2))
    with pytest.raises(InputError, match="y"):
        CNNProblem(x, np.zeros(3), 0.1, g)
    with pytest.raises(InputError, match="beta"):
        CNNProblem(x, np.zeros(2), -1.0, g)
    with pytest.raises(InputError, match="geometry"):
        CNNProblem(x, np.zeros(2), 0.1, (1, 2))
    with pytest.raises(InputError, match="D"):
        CNNProblem(x, np.zeros(2), 0.1, g, D=np.zeros((4, 2), bool))
