"""Patterns of a briefly trained BN network (:func:`network_patterns`)."""

from __future__ import annotations

import numpy as np
import pytest
from bnconvex.numerics.baselines import sgd
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale import (
    fit,
    network_patterns,
    sample_patterns,
    solve_fullscale,
)
from bnconvex.numerics.fullscale.patterns import network_pass_seconds


def _xor(seed: int, n: int = 600):
    """Whitened-like features ``[U/sqrt(n), 1/sqrt(n)]`` and an XOR target."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n, 4))
    F = np.hstack([U / np.sqrt(n), np.full((n, 1), 1 / np.sqrt(n))])
    y = np.sign(U[:, 0] * U[:, 1]) + 0.1 * rng.standard_normal(n)
    return F, y


def test_patterns_are_the_gates_signs_distinct_and_seeded():
    F, y = _xor(0)
    D, G = network_patterns(F, y, 16, seed=0, epochs=2)
    assert D.shape == (600, 16)
    assert G.shape == (5, 16)
    assert D.dtype == bool
    np.testing.assert_array_equal(D, F @ G >= 0)
    assert D.any(axis=0).all()
    assert len({col.tobytes() for col in D.T}) == 16
    D2, _ = network_patterns(F, y, 16, seed=0, epochs=2)
    np.testing.assert_array_equal(D, D2)


def test_patterns_are_the_networks_half_spaces_by_neuron_weight(monkeypatch):
    """A known network: each pattern is 1[BN pre-activation >= 0], heaviest first."""
    F, y = _xor(1, n=200)
    rng = np.random.default_rng(5)
    width = 6
    net = BNNetwork(
        W=rng.standard_normal((5, width)),
        gamma=rng.uniform(0.5, 2.0, width),
        alpha=rng.standard_normal(width),
        v=np.arange(1.0, width + 1.0)[:, None] * np.ones((1, 2)),
        eps=1e-5,
    )
    stats = sgd.full_batch_statistics(net, F)  # what train_sgd returns with it
    monkeypatch.setattr(
        sgd, "train_sgd", lambda *a, **k: sgd.SGDResult(net, stats, *([None] * 7))
    )
    D, _ = network_patterns(F, np.stack([y, -y], 1), 3, seed=0)
    H = F @ net.W
    Z = net.gamma * (H - H.mean(0)) / np.sqrt(H.var(0) + net.eps) + net.alpha
    weight = np.hypot(net.gamma, net.alpha) * np.arange(1.0, width + 1.0)
    expected = (Z >= 0)[:, np.argsort(-weight)]
    np.testing.assert_array_equal(D, expected[:, :3])


def test_signs_are_the_kept_neurons_output_weight_signs(monkeypatch):
    """``with_signs``: the sign of each kept neuron's output weight per column,
    in the patterns' order (heaviest first), the patterns unchanged."""
    F, y = _xor(1, n=200)
    rng = np.random.default_rng(6)
    width = 6
    v = rng.standard_normal((width, 2))
    net = BNNetwork(
        W=rng.standard_normal((5, width)),
        gamma=rng.uniform(0.5, 2.0, width),
        alpha=rng.standard_normal(width),
        v=v,
        eps=1e-5,
    )
    stats = sgd.full_batch_statistics(net, F)
    monkeypatch.setattr(
        sgd, "train_sgd", lambda *a, **k: sgd.SGDResult(net, stats, *([None] * 7))
    )
    Y = np.stack([y, -y], 1)
    D, G, signs = network_patterns(F, Y, 4, seed=0, with_signs=True)
    D0, G0 = network_patterns(F, Y, 4, seed=0)
    np.testing.assert_array_equal(D, D0)
    np.testing.assert_array_equal(G, G0)
    order = np.argsort(-np.hypot(net.gamma, net.alpha) * np.linalg.norm(v, axis=1))
    H = F @ net.W
    Z = net.gamma * (H - H.mean(0)) / np.sqrt(H.var(0) + net.eps) + net.alpha
    kept = [j for j in order if any(np.array_equal(Z[:, j] >= 0, c) for c in D.T)]
    np.testing.assert_array_equal(signs, np.where(v[kept[:4]] >= 0, 1.0, -1.0))


def test_the_networks_signs_start_the_working_set_and_change_no_optimum():
    """fit hands the network's signs and gates to the working-set method: each
    class's guess is its signed blocks; the certified optimum is that of the
    same patterns without a guess."""
    from bnconvex.numerics.fullscale import classwise

    F, y = _xor(2, n=800)
    Y = np.stack([y, -y], 1)
    D, G, signs = network_patterns(F, Y, 12, seed=0, with_signs=True)
    seen = {}
    real = classwise.ClasswiseMethod.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen["guess"], seen["generators"] = self.guess, self.generators

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(classwise.ClasswiseMethod, "__init__", spy)
        guessed = solve_fullscale(
            F,
            Y,
            0.2,
            D,
            method="working-set",
            tol=1e-8,
            start_signs=signs,
            generators=G,
        )
    P = D.shape[1]
    for k in range(2):
        want = np.where(signs[:, k] > 0, np.arange(P), P + np.arange(P))
        np.testing.assert_array_equal(seen["guess"][k], want)
    np.testing.assert_array_equal(seen["generators"], G)
    plain = solve_fullscale(F, Y, 0.2, D, method="working-set", tol=1e-8)
    for sol in (guessed, plain):
        assert sol.relative_gap <= 1e-8, sol.relative_gap
    # both certified to 1e-8 relative: the optima agree to 2e-8
    assert abs(guessed.objective - plain.objective) <= 2e-8 * plain.objective


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(start_signs=np.ones((3, 2))), r"`start_signs` must be a \(12, 2\)"),
        (dict(start_signs=np.zeros((12, 2))), r"`start_signs` must be a \(12, 2\)"),
        (dict(generators=np.ones((5, 12))), r"`generators` needs `start_signs`"),
        (
            dict(start_signs=np.ones((12, 2)), generators=np.ones((4, 12))),
            r"`generators` must be a finite \(5, 12\)",
        ),
    ],
)
def test_a_bad_start_guess_is_refused(kwargs, message):
    F, y = _xor(2, n=200)
    D, _ = sample_patterns(F, 12, seed=0)
    with pytest.raises(InputError, match=message):
        solve_fullscale(F, np.stack([y, -y], 1), 0.2, D, method="working-set", **kwargs)


def test_network_patterns_fit_better_than_gaussian_ones():
    """Equal pattern count, XOR data: the exact optimum over trained hyperplanes
    is lower.  Measured over seeds 0-3 at P = 16 (a 16-neuron network, the
    default 100 epochs): 0.77, 0.72, 0.91, 0.76 of the Gaussian optimum; the
    assertion (seeds 0-1 together) leaves a wide margin."""
    net, gauss = 0.0, 0.0
    for seed in (0, 1):
        F, y = _xor(seed)
        Dn, _ = network_patterns(F, y, 16, seed=seed)
        Dg, _ = sample_patterns(F, 16, seed=seed)
        net += solve_fullscale(F, y, 0.5, Dn, tol=1e-8).objective
        gauss += solve_fullscale(F, y, 0.5, Dg, tol=1e-8).objective
    assert net < 0.9 * gauss, (net, gauss)


@pytest.mark.parametrize(
    ("F", "num", "match"),
    [
        (np.ones((10, 1)), 4, "m >= 2"),
        (np.ones((1, 3)), 4, "n, m >= 2"),
        (np.hstack([np.eye(10)[:, :3], np.arange(10.0)[:, None]]), 4, "constant"),
        (np.hstack([np.eye(10)[:, :3], np.zeros((10, 1))]), 4, "constant"),
        (np.hstack([np.eye(10)[:, :3], np.ones((10, 1))]), 0, "num"),
    ],
)
def test_bad_inputs(F, num, match):
    with pytest.raises(InputError, match=match):
        network_patterns(F, np.zeros(F.shape[0]), num, seed=0)


def test_targets_of_other_rows_refused():
    F, _ = _xor(0, n=20)
    with pytest.raises(InputError, match="`Y` must be"):
        network_patterns(F, np.zeros(19), 4, seed=0)


def test_fit_with_network_sampling_gates_new_samples():
    """``fit(sampling="network")``: the generators are in feature coordinates,
    so a gated model gates the training samples as the solver did: its
    predictions there are the solver's (float64 round-off of one product)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4))
    y = np.sign(X[:, 0] * X[:, 1])
    model = fit(X, y, 0.1, patterns=12, sampling="network", gated=True, tol=1e-6)
    ref = np.asarray(model.solution.predictions).reshape(-1)
    np.testing.assert_allclose(
        model.predict(X), ref, rtol=0, atol=1e-10 * np.abs(ref).max()
    )
    with pytest.raises(InputError, match="sampling"):
        fit(X, y, 0.1, patterns=12, sampling="uniform")


def test_any_namespace(xp):
    """Same patterns from NumPy and from ``xp`` (array-API code throughout)."""
    F, y = _xor(2, n=200)
    D_ref, _ = network_patterns(F, y, 8, seed=0, epochs=2)
    D, G = network_patterns(xp.asarray(F), xp.asarray(y), 8, seed=0, epochs=2)
    np.testing.assert_array_equal(np.asarray(D), D_ref)
    assert G.dtype == xp.float64


def test_row_chunks_give_the_same_patterns(monkeypatch):
    from bnconvex.numerics.fullscale import patterns as module

    F, y = _xor(4, n=300)
    D_one, _ = network_patterns(F, y, 8, seed=0, epochs=1)
    monkeypatch.setattr(module, "_ROW_CHUNK", 97)  # 4 chunks, the last of 9 rows
    D_chunked, G = network_patterns(F, y, 8, seed=0, epochs=1)
    np.testing.assert_array_equal(D_chunked, D_one)
    np.testing.assert_array_equal(D_chunked, F @ G >= 0)


def _stub_network(monkeypatch, F, W, weights, calls=None):
    """Make ``train_sgd`` return a network with columns ``W`` and neuron
    weights ``weights`` (``gamma = 1``, ``alpha = 0``); record its kwargs."""
    width = W.shape[1]
    net = BNNetwork(
        W=W,
        gamma=np.ones(width),
        alpha=np.zeros(width),
        v=np.asarray(weights, float)[:, None],
        eps=1e-5,
    )
    stats = sgd.full_batch_statistics(net, F)

    def fake(*args, **kwargs):
        if calls is not None:
            calls.append({"width": args[3], **kwargs})
        return sgd.SGDResult(net, stats, *([None] * 7))

    monkeypatch.setattr(sgd, "train_sgd", fake)
    return net


def test_repeated_patterns_among_the_heaviest_neurons_are_skipped(monkeypatch):
    """The first ``num`` distinct patterns in order of neuron weight: the
    heaviest neurons' repeats of one pattern are skipped."""
    F, y = _xor(5, n=200)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 1))
    # neurons 0-7: one hyperplane (scaled); 8-11: four others
    W = np.hstack([w * s for s in np.linspace(1, 2, 8)] + [rng.standard_normal((5, 4))])
    _stub_network(monkeypatch, F, W, np.arange(12.0, 0.0, -1.0))
    D, G = network_patterns(F, y, 3, seed=0)
    H = F @ W
    Z = (H - H.mean(0)) / np.sqrt(H.var(0) + 1e-5)
    np.testing.assert_array_equal(D, (Z >= 0)[:, [0, 8, 9]])
    np.testing.assert_array_equal(D, F @ G >= 0)


def test_time_limit_pays_for_the_passes_first(monkeypatch):
    """The Adam steps get ``time_limit`` less the estimated full-batch passes."""
    from bnconvex.numerics.fullscale import patterns as module

    F, y = _xor(6, n=100)
    calls: list[dict] = []
    W = np.random.default_rng(1).standard_normal((5, 8))
    _stub_network(monkeypatch, F, W, np.ones(8), calls)
    monkeypatch.setattr(module, "network_pass_seconds", lambda F, width: 1.0)
    network_patterns(F, y, 4, seed=0, time_limit=10.0)
    assert calls[-1]["width"] == 4, "a network of as many neurons as patterns"
    steps = calls[-1]["time_limit"]
    assert 10.0 - module.NETWORK_PASSES - 0.5 <= steps <= 10.0 - module.NETWORK_PASSES
    network_patterns(F, y, 4, seed=0, time_limit=1.0)
    assert calls[-1]["time_limit"] == 0.0  # one step, then the passes
    network_patterns(F, y, 4, seed=0)
    assert calls[-1]["time_limit"] is None


def test_pass_estimate_is_a_time(xp):
    F, _ = _xor(7, n=300)
    for seconds in (
        network_pass_seconds(F, 64),
        network_pass_seconds(xp.asarray(F), 64),
    ):
        assert 0.0 < seconds < 60.0


def test_fit_samples_gaussian_patterns_when_the_network_does_not_fit(monkeypatch):
    """Half of the time left must pay for the passes and an epoch, else
    Gaussian patterns; the model says which."""
    from bnconvex.numerics.fullscale import model as module

    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 4))
    y = np.sign(X[:, 0] * X[:, 1])
    kw = dict(patterns=8, sampling="network", tol=1e-4)
    monkeypatch.setattr(module, "network_pass_seconds", lambda F, width: 1e3)
    slow = fit(X, y, 0.1, time_limit=100.0, **kw)
    assert slow.sampling == "gaussian"
    gauss = fit(X, y, 0.1, patterns=8, sampling="gaussian", tol=1e-4)
    np.testing.assert_array_equal(slow.gates, gauss.gates)  # the same seed
    assert fit(X, y, 0.1, **kw).sampling == "network"  # no time limit
    monkeypatch.setattr(module, "network_pass_seconds", lambda F, width: 1e-3)
    assert fit(X, y, 0.1, time_limit=100.0, **kw).sampling == "network"
    D = np.asarray(slow.features.transform(X) @ slow.gates >= 0)
    assert fit(X, y, 0.1, patterns=D, tol=1e-4).sampling is None
