import numpy as np
import pytest
from bnconvex.numerics.core.bn import batch_norm
from bnconvex.numerics.core.network import (
    BNNetwork,
    forward,
    load_network,
    objective,
    objective_and_gradient,
    penalty,
    save_network,
)
from bnconvex.numerics.errors import InputError

from tests.common.assertions import assert_rel_close, xp_assert_close

NAMES = ("W", "gamma", "alpha", "v")
FD_RTOL = 1e-6  # central differences, step 1e-6: error O(h^2 * f''') + O(eps / h)


def _instance(n=7, d=3, m=4, K=None, seed=0, convention="a", eps=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    v_shape = (m,) if K is None else (m, K)
    net = BNNetwork(
        W=rng.standard_normal((d, m)),
        gamma=rng.standard_normal(m),
        alpha=rng.standard_normal(m),
        v=rng.standard_normal(v_shape),
        convention=convention,
        eps=eps,
    )
    y = rng.standard_normal((n,) if K is None else (n, K))
    return net, X, y


def test_forward_matches_definition():
    net, X, _ = _instance()
    Z = batch_norm(X @ net.W, net.gamma, net.alpha)
    expected = np.maximum(Z, 0) @ net.v
    xp_assert_close(forward(net, X), expected, rtol=1e-14, atol=1e-15)


def test_objective_matches_definition():
    net, X, y = _instance(K=2)
    f = forward(net, X)
    pen = 0.5 * 0.3 * (np.sum(net.gamma**2) + np.sum(net.alpha**2) + np.sum(net.v**2))
    assert_rel_close(penalty(net, 0.3), pen, 1e-14, "penalty")
    expected = 0.5 * np.sum((f - y) ** 2) + pen
    assert_rel_close(objective(net, X, y, 0.3), expected, 1e-14, "objective")


def _flat(net):
    return [
        np.asarray(getattr(net, k), dtype=float) for k in ("W", "gamma", "alpha", "v")
    ]


def _finite_difference(net, X, y, beta, h=1e-6):
    parts = _flat(net)
    grads = []
    for idx, part in enumerate(parts):
        g = np.zeros_like(part)
        for pos in np.ndindex(part.shape):
            vals = []
            for sign in (1, -1):
                moved = [p.copy() for p in parts]
                moved[idx][pos] += sign * h
                vals.append(
                    objective(
                        net.replace(**dict(zip(NAMES, moved, strict=True))),
                        X,
                        y,
                        beta,
                    )
                )
            g[pos] = (vals[0] - vals[1]) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize(
    ("convention", "eps", "K"),
    [
        ("a", 0.0, None),
        ("std", 0.0, None),
        ("std", 1e-2, None),
        ("a", 0.0, 3),
        ("std", 1e-5, 2),
    ],
)
def test_gradient_matches_finite_differences(convention, eps, K):
    net, X, y = _instance(convention=convention, eps=eps, K=K, seed=3)
    value, grad = objective_and_gradient(net, X, y, 0.2)
    assert_rel_close(value, objective(net, X, y, 0.2), 1e-14, "value")
    fds = _finite_difference(net, X, y, 0.2)
    for name, fd, an in zip(NAMES, fds, _flat(grad), strict=True):
        scale = max(np.max(np.abs(fd)), 1.0)
        err = np.max(np.abs(fd - an)) / scale
        assert err <= FD_RTOL, (
            f"d/d{name}: finite differences vs analytic, error {err:.2e}"
        )


def test_gradient_orthogonal_to_w():
    # claim 7 (scale invariance): w_j^T dL/dw_j = 0 when eps = 0
    net, X, y = _instance(seed=5)
    _, grad = objective_and_gradient(net, X, y, 0.1)
    inner = np.sum(net.W * grad.W, axis=0)
    scale = np.linalg.norm(net.W, axis=0) * np.linalg.norm(grad.W, axis=0)
    assert np.all(np.abs(inner) <= 1e-12 * scale), (
        f"w^T grad_w = {inner}, scale {scale}"
    )


def test_array_api_strict_matches_numpy(xp):
    net, X, y = _instance(K=2, convention="std", seed=2)
    xnet = BNNetwork(*(xp.asarray(a) for a in _flat(net)), convention="std")
    Xx, yx = xp.asarray(X), xp.asarray(y)
    xp_assert_close(
        forward(xnet, Xx), xp.asarray(forward(net, X)), rtol=1e-14, atol=1e-15
    )
    value, grad = objective_and_gradient(xnet, Xx, yx, 0.4)
    ref_value, ref_grad = objective_and_gradient(net, X, y, 0.4)
    assert_rel_close(value, ref_value, 1e-14, "objective")
    for a, b in zip(_flat(grad), _flat(ref_grad), strict=True):
        xp_assert_close(a, b, rtol=1e-12, atol=1e-14, check_namespace=False)


def test_shape_validation():
    with pytest.raises(InputError, match=r"`gamma` must have shape \(2,\); got \(3,\)"):
        BNNetwork(W=np.ones((3, 2)), gamma=np.ones(3), alpha=np.ones(2), v=np.ones(2))
    with pytest.raises(InputError, match=r"`v` must have shape \(2,\) or \(2, K\)"):
        BNNetwork(W=np.ones((3, 2)), gamma=np.ones(2), alpha=np.ones(2), v=np.ones(3))
    net, X, y = _instance()
    with pytest.raises(InputError, match=r"`X` must have shape \(n, 3\)"):
        forward(net, X[:, :2])
    with pytest.raises(InputError, match=r"`y` must have shape \(7,\)"):
        objective(net, X, y[:5], 1.0)
    with pytest.raises(InputError, match=r"`convention` must be 'a' or 'std'"):
        net.replace(convention="torch")


def test_degenerate_neuron_is_named():
    net, X, _ = _instance()
    W = np.array(net.W)
    W[:, 2] = 0.0
    with pytest.raises(
        InputError, match=r"neuron \(`W` column\) 2 has zero centred norm"
    ):
        forward(net.replace(W=W), X)


def test_zero_neurons_give_zero_output():
    net = BNNetwork(
        W=np.zeros((3, 0)), gamma=np.zeros(0), alpha=np.zeros(0), v=np.zeros(0)
    )
    xp_assert_close(forward(net, np.ones((4, 3))), np.zeros(4), rtol=0.0)


def test_npz_round_trip(tmp_path):
    net, _, _ = _instance(K=2, convention="std", eps=1e-3)
    save_network(net, tmp_path / "net.npz")
    loaded = load_network(tmp_path / "net.npz")
    assert (loaded.convention, loaded.eps) == ("std", 1e-3)
    for a, b in zip(_flat(loaded), _flat(net), strict=True):
        xp_assert_close(a, b, rtol=0.0)


def test_npz_missing_arrays(tmp_path):
    np.savez(tmp_path / "bad.npz", W=np.ones((2, 1)), gamma=np.ones(1))
    with pytest.raises(InputError, match=r"lacks array\(s\) alpha, v"):
        load_network(tmp_path / "bad.npz")
    with pytest.raises(InputError, match=r"`NETWORK` file not found"):
        load_network(tmp_path / "nothing.npz")
    (tmp_path / "net.txt").write_text("x")
    with pytest.raises(InputError, match=r"`NETWORK` must be a .npz, .pt or .pth file"):
        load_network(tmp_path / "net.txt")


def _torch_model(torch, d, m, K, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(d, m),
        torch.nn.BatchNorm1d(m),
        torch.nn.ReLU(),
        torch.nn.Linear(m, K),
    ).double()
    with torch.no_grad():
        model[1].weight.normal_()
        model[1].bias.normal_()
        model[3].bias.zero_()
    return model


@pytest.mark.parametrize("K", [1, 3])
def test_torch_state_dict_matches_torch_forward(tmp_path, K):
    torch = pytest.importorskip("torch")
    model = _torch_model(torch, d=3, m=5, K=K)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    net = load_network(tmp_path / "model.pt")
    assert (net.convention, net.eps, net.K) == ("std", 1e-5, K)
    X = np.random.default_rng(1).standard_normal((9, 3))
    model.train()  # batch statistics, as in the training objective
    expected = model(torch.from_numpy(X)).detach().numpy()
    got = forward(net, X)
    xp_assert_close(got, expected[:, 0] if K == 1 else expected, rtol=1e-12, atol=1e-13)


def test_torch_output_bias_rejected_and_round_trip(tmp_path):
    torch = pytest.importorskip("torch")
    model = _torch_model(torch, d=2, m=3, K=1)
    with torch.no_grad():
        model[3].bias.fill_(0.5)
    torch.save(model.state_dict(), tmp_path / "biased.pt")
    with pytest.raises(InputError, match=r"non-zero output bias \(max \|b\| = 0.5\)"):
        load_network(tmp_path / "biased.pt")
    net, X, _ = _instance(d=2, m=3, convention="std")
    save_network(net, tmp_path / "net.pt")
    back = load_network(tmp_path / "net.pt", bn_eps=0.0)
    xp_assert_close(forward(back, X), forward(net, X), rtol=1e-14, atol=1e-15)


def test_torch_wrong_architecture(tmp_path):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)
    )
    torch.save(model.state_dict(), tmp_path / "mlp.pt")
    with pytest.raises(
        InputError, match=r"must be the state dict of Linear\(d, m\), BatchNorm1d"
    ):
        load_network(tmp_path / "mlp.pt")


def test_save_network_rejects_convention_a_for_torch(tmp_path):
    net, _, _ = _instance()
    with pytest.raises(InputError, match=r"`net` must use convention 'std'"):
        save_network(net, tmp_path / "net.pt")


def test_nan_or_inf_data_is_an_input_error_naming_the_argument():
    net = BNNetwork(W=[[1.0], [0.5]], gamma=[1.0], alpha=[0.0], v=[2.0])
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    bad_X = X.copy()
    bad_X[1, 0] = np.inf
    with pytest.raises(InputError, match=r"`X` contains NaN or infinite values"):
        forward(net, bad_X)
    with pytest.raises(InputError, match=r"`y` contains NaN or infinite values"):
        objective(net, X, np.array([0.0, np.nan, 1.0]), 0.1)
    with pytest.raises(InputError, match=r"`beta` must be a positive"):
        objective(net, X, np.zeros(3), 0.0)
    with pytest.raises(InputError, match=r"`H` must have at least 2 rows"):
        forward(net, X[:1])


def test_whole_pickled_torch_model_is_one_plain_line(tmp_path):
    """``torch.save(model)`` (not its state dict): one line, no ANSI colour codes."""
    torch = pytest.importorskip("torch")
    model = _torch_model(torch, d=2, m=3, K=1)
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(InputError) as info:
        load_network(tmp_path / "whole.pt")
    message = str(info.value)
    assert "\n" not in message, message
    assert "\x1b" not in message, message
    assert "state_dict" in message, message
