import numpy as np
import pytest
from bnconvex.numerics.core.bn import convert_beta
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    cone_violation,
    convex_objective,
    predict,
)
from bnconvex.numerics.core.network import BNNetwork, forward, objective
from bnconvex.numerics.core.reconstruct import convex_to_network, network_to_convex
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.verify.strategies import bounded_floats, regression_instances
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.common.assertions import assert_rel_close, xp_assert_close

# objective identities between two float64 evaluations of O(10) terms on O(1) data
EXACT_RTOL = 1e-12


def _merge_by_pattern(U, S):
    """Give each drawn block s its own pattern 1[U's >= 0]; sum blocks sharing one."""
    patterns = U @ S.T >= 0
    keep = patterns.any(axis=0)
    D, which = np.unique(patterns[:, keep], axis=1, return_inverse=True)
    out = np.zeros((D.shape[1], S.shape[1]))
    np.add.at(out, np.ravel(which), S[keep])
    return D, out


@st.composite
def feasible_points(draw):
    """A regression instance plus a feasible convex point (S_plus, S_minus, D).

    Every drawn block lies in the cone of its own pattern by construction;
    one extra block [0, ..., 0, c] (q = 0, pattern all-ones) exercises gamma = 0.
    """
    inst = draw(regression_instances(n_range=(3, 8), d_range=(1, 3)))
    w = whiten(inst["X"])
    m = w.rank + 1
    k = draw(st.integers(1, 4))
    blocks = draw(hnp.arrays(np.float64, (2 * k, m), elements=bounded_floats(2.0)))
    head = np.zeros((1, m))
    head[0, -1] = draw(st.floats(0.1, 2.0))
    S = np.vstack([blocks, head])
    signs = np.r_[np.ones(k), -np.ones(k), 1.0] > 0
    D_all, _ = _merge_by_pattern(w.U_prime, S)
    if D_all.shape[1] == 0:
        D_all = np.ones((len(inst["y"]), 1), dtype=bool)
    index = {tuple(c): i for i, c in enumerate(D_all.T.tolist())}
    S_plus = np.zeros((D_all.shape[1], m))
    S_minus = np.zeros_like(S_plus)
    for s, positive in zip(S, signs, strict=True):
        p = tuple((w.U_prime @ s >= 0).tolist())
        if p in index:
            (S_plus if positive else S_minus)[index[p]] += s
    return inst, w, D_all, S_plus, S_minus


@given(point=feasible_points())
def test_reconstruction_reproduces_convex_objective(point):
    # claims 9 / 10a: the R1 weights give exactly the convex objective and prediction
    inst, w, D, S_plus, S_minus = point
    problem = ConvexProblem(w.U_prime, inst["y"], inst["beta"], D)
    assert cone_violation(problem, S_plus, S_minus) <= 1e-14, (
        "drawn point must be feasible"
    )
    net = convex_to_network(w, S_plus, S_minus)
    nonzero = int(
        np.sum(np.linalg.norm(S_plus, axis=1) > 0)
        + np.sum(np.linalg.norm(S_minus, axis=1) > 0)
    )
    assert net.m == nonzero, f"{net.m} neurons for {nonzero} non-zero blocks"
    expected = convex_objective(problem, S_plus, S_minus)
    got = objective(net, inst["X"], inst["y"], inst["beta"])
    assert_rel_close(got, expected, EXACT_RTOL, "network vs convex objective")
    xp_assert_close(
        forward(net, inst["X"]),
        predict(problem, S_plus, S_minus),
        rtol=0,
        atol=1e-12 * max(1.0, np.abs(S_plus).sum() + np.abs(S_minus).sum()),
        err_msg="network prediction vs convex prediction",
    )


def test_zero_q_block_gives_gamma_zero():
    X = np.random.default_rng(0).standard_normal((5, 2))
    w = whiten(X)
    S_plus = np.array([[0.0, 0.0, 4.0]])
    net = convex_to_network(w, S_plus, np.zeros((1, 3)))
    assert net.m == 1
    xp_assert_close(
        np.array([net.gamma[0], net.alpha[0], net.v[0]]),
        np.array([0.0, 2.0, 2.0]),
        rtol=1e-15,
        atol=0,
        err_msg="s = [0, 0, 4]: gamma = 0, alpha = 4 / sqrt(4), v = sqrt(4)",
    )
    # (BN)_+ v = (alpha / sqrt(n)) v 1 = 4 / sqrt(5) * 1 = (U' s)_+
    xp_assert_close(forward(net, X), np.full(5, 4 / np.sqrt(5)), rtol=1e-14)


def test_tol_drops_small_blocks():
    w = whiten(np.random.default_rng(1).standard_normal((6, 2)))
    S = np.array([[1.0, 0.5, 0.2], [1e-9, 0.0, 0.0]])
    assert convex_to_network(w, S, np.zeros((2, 3)), tol=1e-6).m == 1
    assert convex_to_network(w, S, np.zeros((2, 3))).m == 2
    with pytest.raises(InputError, match=r"`S_minus` must have shape \(P, 3\)"):
        convex_to_network(w, S, np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"`tol` must be a finite number >= 0"):
        convex_to_network(w, S, S, tol=-1.0)


@st.composite
def networks_and_data(draw):
    inst = draw(regression_instances(n_range=(4, 8), d_range=(1, 3)))
    d = inst["X"].shape[1]
    m = draw(st.integers(1, 5))
    arrays = [
        draw(hnp.arrays(np.float64, shape, elements=bounded_floats(2.0)))
        for shape in ((d, m), (m,), (m,), (m,))
    ]
    W = arrays[0].copy()
    W[0] += np.where(W[0] >= 0, 1.0, -1.0)  # w_j != 0, and rank(CX) = d: CXw_j != 0
    convention = draw(st.sampled_from(["a", "std"]))
    eps = draw(st.sampled_from([0.0, 1e-3]))
    net = BNNetwork(W, arrays[1], arrays[2], arrays[3], convention=convention, eps=eps)
    return inst, net


@given(case=networks_and_data())
def test_network_to_convex_never_increases(case):
    # "never increases": same prediction, feasible, convex objective <= network one
    inst, net = case
    X, y, beta = inst["X"], inst["y"], inst["beta"]
    w = whiten(X)
    D, S_plus, S_minus = network_to_convex(net, X, whitening=w)
    f = forward(net, X)
    value = objective(net, X, y, beta)
    if D.shape[1] == 0:  # every neuron inactive or v = 0: f = 0
        xp_assert_close(f, np.zeros_like(f), atol=1e-14, err_msg="no active neuron")
        return
    beta_a = convert_beta(beta, X.shape[0], source=net.convention, target="a")
    problem = ConvexProblem(w.U_prime, y, beta_a, D)
    scale = max(1.0, float(np.abs(f).max()))
    assert cone_violation(problem, S_plus, S_minus) <= 1e-13 * scale
    xp_assert_close(
        predict(problem, S_plus, S_minus),
        f,
        rtol=0,
        atol=1e-12 * scale,
        err_msg="prediction",
    )
    convex_value = convex_objective(problem, S_plus, S_minus)
    assert convex_value <= value * (1 + 1e-12), (
        f"convex {convex_value!r} > network {value!r}"
    )
    # the reconstruction of that point has exactly its convex objective (convention a)
    back = convex_to_network(w, S_plus, S_minus)
    back_value = objective(back, X, y, beta_a)
    assert_rel_close(back_value, convex_value, EXACT_RTOL, "reconstructed objective")


def test_network_to_convex_rejects_vector_output_and_bad_X():
    net = BNNetwork(np.ones((2, 1)), np.ones(1), np.ones(1), np.ones((1, 2)))
    with pytest.raises(InputError, match=r"`net` must have a scalar output"):
        network_to_convex(net, np.eye(3, 2))
    net = BNNetwork(np.ones((2, 1)), np.ones(1), np.ones(1), np.ones(1))
    with pytest.raises(InputError, match=r"`X` must have shape \(n, 2\)"):
        network_to_convex(net, np.eye(3))


def test_network_to_convex_constant_neuron_with_eps():
    # eps > 0, w = 0: std BN outputs alpha * 1, i.e. a block [0, 0, c] (gamma' = 0)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    W = np.column_stack([rng.standard_normal(2), np.zeros(2)])
    net = BNNetwork(
        W,
        np.array([1.0, 0.7]),
        np.array([0.3, 0.5]),
        np.array([1.2, -0.8]),
        convention="std",
        eps=1e-5,
    )
    w = whiten(X)
    D, S_plus, S_minus = network_to_convex(net, X, whitening=w)
    blocks = np.concatenate([S_plus, S_minus])
    assert np.isfinite(blocks).all(), f"non-finite blocks: {blocks}"
    problem = ConvexProblem(
        w.U_prime, y, convert_beta(0.2, 6, source="std", target="a"), D
    )
    f = forward(net, X)
    xp_assert_close(predict(problem, S_plus, S_minus), f, rtol=0, atol=1e-13)
    convex_value, value = (
        convex_objective(problem, S_plus, S_minus),
        objective(net, X, y, 0.2),
    )
    assert convex_value <= value, f"convex {convex_value!r} > network {value!r}"
