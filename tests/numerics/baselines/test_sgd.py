"""The minibatch-BN SGD/Adam baseline (bnconvex.numerics.baselines.sgd)."""

from __future__ import annotations

import numpy as np
import pytest
from bnconvex.numerics._array_api import to_numpy
from bnconvex.numerics.baselines import sgd
from bnconvex.numerics.core import network
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.status import SolverStatus
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.common.assertions import assert_rel_close, xp_assert_close
from tests.common.extras import import_test_extra

FLOATS = st.floats(-3, 3, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _problem(xp, n=9, d=4, m=3, K=2, seed=0, convention="a"):
    rng = np.random.default_rng(seed)
    X = xp.asarray(rng.standard_normal((n, d)))
    Y = xp.asarray(rng.standard_normal((n, K)))
    net = sgd.init_network(d, m, K, seed=seed + 1, xp=xp, convention=convention)
    net = net.replace(
        gamma=xp.asarray(rng.standard_normal(m)),
        alpha=xp.asarray(rng.standard_normal(m)),
    )
    return X, Y, net


def _params(net):
    return (net.W, net.gamma, net.alpha, net.v)


@pytest.mark.parametrize("convention", ["a", "std"])
def test_full_batch_equals_network_objective_and_gradient(xp, convention):
    # With the whole training set as the minibatch and eps = 0, the minibatch
    # objective is objective/n and its gradient is network's gradient / n.
    X, Y, net = _problem(xp, convention=convention)
    n = X.shape[0]
    value, grad, _ = sgd.minibatch_objective_and_gradient(
        _params(net), X, Y, 0.3, n_train=n, convention=convention
    )
    ref_value, ref_grad = network.objective_and_gradient(net, X, Y, 0.3)
    assert_rel_close(value * n, ref_value, 1e-13, "objective")
    for name, g in zip(("W", "gamma", "alpha", "v"), grad, strict=True):
        xp_assert_close(
            g * n, getattr(ref_grad, name), rtol=1e-11, atol=1e-13, err_msg=name
        )


@given(
    arrays(np.float64, (6, 3), elements=FLOATS),
    arrays(np.float64, (6, 2), elements=FLOATS),
    st.sampled_from(["squared", "cross_entropy"]),
)
def test_gradient_matches_finite_differences(X, Y, loss):
    # Minibatch BN with eps > 0 and n_train != b: central differences,
    # step 1e-6, agree to 1e-5 relative to the gradient's scale.
    X = X + np.arange(6.0)[:, None] * np.array(
        [1.0, -0.5, 0.25]
    )  # non-constant columns
    net = sgd.init_network(3, 2, 2, seed=4, convention="a", eps=1e-3)
    params = _params(net)
    kw = {"n_train": 50, "convention": "a", "eps": 1e-3, "loss": loss}
    _, grad, _ = sgd.minibatch_objective_and_gradient(params, X, Y, 0.7, **kw)
    h = 1e-6
    for p_idx, g in enumerate(grad):
        fd = np.zeros_like(g)
        for idx in np.ndindex(g.shape):
            plus = [p.copy() for p in params]
            minus = [p.copy() for p in params]
            plus[p_idx][idx] += h
            minus[p_idx][idx] -= h
            fp = sgd.minibatch_objective_and_gradient(tuple(plus), X, Y, 0.7, **kw)[0]
            fm = sgd.minibatch_objective_and_gradient(tuple(minus), X, Y, 0.7, **kw)[0]
            fd[idx] = (fp - fm) / (2 * h)
        scale = max(1.0, float(np.abs(fd).max()))
        err = float(np.abs(fd - g).max()) / scale
        assert err <= 1e-5, f"parameter {p_idx}: finite-difference error {err:.2e}"


def test_predict_with_training_statistics_is_network_forward(xp):
    X, _, net = _problem(xp, n=11, convention="std")
    stats = sgd.full_batch_statistics(net, X, chunk=4)  # several chunks
    xp_assert_close(
        sgd.predict(net, stats, X, chunk=3), network.forward(net, X), rtol=1e-12
    )


def test_predict_on_new_points_uses_training_statistics():
    X, _, net = _problem(np, n=10)
    stats = sgd.full_batch_statistics(net, X)
    x_new = np.ones((1, 4))
    h = x_new @ net.W
    H = X @ net.W
    kappa = 1 / np.sqrt(10)  # convention "a", n = 10
    want = (
        np.maximum(kappa * (net.gamma * (h - H.mean(0)) / H.std(0) + net.alpha), 0)
        @ net.v
    )
    xp_assert_close(sgd.predict(net, stats, x_new), want, rtol=1e-12)


def _blobs(seed=0, n=120, d=5, K=3):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % K
    centres = 3.0 * rng.standard_normal((K, d))
    X = centres[labels] + rng.standard_normal((n, d))
    return X, np.eye(K)[labels], labels


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.1), ("adam", 0.05)])
def test_training_separates_blobs(optimizer, lr):
    # Three well-separated Gaussian blobs (centre spread 3, noise 1): the
    # trained network must classify >= 95% of the training points.
    X, Y, labels = _blobs()
    res = sgd.train_sgd(
        X,
        Y,
        1e-3,
        16,
        seed=0,
        optimizer=optimizer,
        lr=lr,
        epochs=30,
        batch_size=20,
        convention="std",
        X_test=X,
        y_test=labels,
    )
    acc = sgd.accuracy(sgd.predict(res.net, res.statistics, X), labels)
    assert acc >= 0.95, f"{optimizer}: training accuracy {acc:.3f}"
    assert res.status is SolverStatus.MAX_ITERATIONS
    assert res.history["epoch"][-1] == pytest.approx(30.0)
    first, last = (
        res.history["minibatch_objective"][1],
        res.history["minibatch_objective"][-1],
    )
    assert last < first, f"minibatch objective did not decrease: {first} -> {last}"
    # the reported objective is the full-batch network objective
    ref = network.objective(res.net.replace(eps=res.net.eps), X, Y, 1e-3)
    assert_rel_close(res.objective, ref, 1e-10, "full-batch objective")


def test_seed_reproducible_and_array_api_strict():
    xps = import_test_extra("array_api_strict")
    X, Y, _ = _blobs(n=30)
    kw = {"seed": 3, "epochs": 2, "batch_size": 10, "lr": 0.1}
    a = sgd.train_sgd(X, Y, 0.01, 4, **kw)
    b = sgd.train_sgd(xps.asarray(X), xps.asarray(Y), 0.01, 4, **kw)
    xp_assert_close(
        to_numpy(b.net.W), a.net.W, rtol=1e-12, err_msg="same seed, other backend"
    )
    assert a.steps == 6


def test_time_limit_stops_training():
    X, Y, _ = _blobs(n=60)
    res = sgd.train_sgd(
        X, Y, 0.01, 4, seed=0, epochs=10_000, batch_size=10, time_limit=0.05
    )
    assert res.status is SolverStatus.TIME_LIMIT
    assert res.epochs < 10_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 1}, r"`batch_size` must be >= 2"),
        ({"optimizer": "lbfgs"}, r"`optimizer` must be 'sgd' or 'adam'; got 'lbfgs'"),
        ({"loss": "hinge"}, r"`loss` must be 'squared' or 'cross_entropy'"),
        ({"lr": -1.0}, r"`lr` must be a positive finite number; got -1.0"),
        ({"convention": "b"}, r"`convention`"),
        (
            {"X_test": np.zeros((2, 5))},
            r"`y_test` must be given together with `X_test`",
        ),
    ],
)
def test_bad_input(kwargs, message):
    X, Y, _ = _blobs(n=12)
    with pytest.raises(InputError, match=message):
        sgd.train_sgd(X, Y, 0.01, 3, seed=0, epochs=1, **kwargs)


def test_bad_targets():
    X, _, labels = _blobs(n=12)
    with pytest.raises(InputError, match=r"`Y` must have shape \(12, K\)"):
        sgd.train_sgd(X, labels, 0.01, 3, seed=0)


def test_divergence_stops_with_inaccurate_status():
    # lr = 1e3 on the std convention overflows within a few steps
    X, Y, _ = _blobs(n=60)
    with np.errstate(over="ignore", invalid="ignore"):
        res = sgd.train_sgd(X, Y, 0.01, 8, seed=0, convention="std", lr=1e3, epochs=50)
    assert res.status is SolverStatus.INACCURATE
    assert res.epochs < 50


def test_curve_points_every_half_epoch():
    X, Y, labels = _blobs(n=60)
    res = sgd.train_sgd(
        X,
        Y,
        0.01,
        4,
        seed=0,
        epochs=3,
        batch_size=10,
        record_every=0.5,
        X_test=X,
        y_test=labels,
    )
    # the start, then 0.5, 1.0, ..., 3.0 epochs (6 steps per epoch)
    np.testing.assert_allclose(res.history["epoch"], np.arange(7) * 0.5, rtol=1e-12)
    assert np.all(np.diff(res.history["seconds"]) >= 0)
    assert res.history["test_accuracy"].shape == (7,)


@pytest.mark.parametrize(
    ("d", "m", "K", "message"),
    [
        (0, 2, 1, r"`d` must be a positive integer; got 0"),
        (2, 0, 1, r"`m` must be a positive integer; got 0"),
        (2, 2, 0, r"`K` must be a positive integer; got 0"),
    ],
)
def test_init_network_rejects_empty_layers(d, m, K, message):
    with pytest.raises(InputError, match=message):
        sgd.init_network(d, m, K, seed=0)


def test_accuracy_rejects_mismatched_shapes():
    match = r"`scores` must be \(n, K\) and `labels` \(n,\); got shapes \(3, 2\) and"
    with pytest.raises(InputError, match=match):
        sgd.accuracy(np.ones((3, 2)), np.ones(4))
    with pytest.raises(InputError, match=r"got shapes \(3,\) and \(3,\)"):
        sgd.accuracy(np.ones(3), np.ones(3))
