"""Export of a fitted estimator's network: .npz and PyTorch state dicts."""

from __future__ import annotations

import numpy as np
import pytest
from bnconvex.estimators import ConvexBNClassifier, ConvexBNRegressor
from bnconvex.numerics import (
    InputError,
    convert_beta,
    forward,
    load_network,
    make_classification,
    make_regression,
    objective,
    save_network,
)

from tests.common.extras import import_test_extra

import_test_extra("sklearn", "scikit-learn")  # the test extra: missing fails

#: float64 round trips through files are exact; torch and NumPy sum in other
#: orders: measured 2e-16 on O(1) outputs, bound 1e-12
ATOL = 1e-12


@pytest.fixture(scope="module")
def data():
    return make_regression(14, 2, seed=3, noise=0.1)


def test_npz_round_trip(tmp_path, data):
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, arrangements="exact").fit(X, y)
    reg.save_network(tmp_path / "net.npz")
    back = load_network(tmp_path / "net.npz")
    assert back.convention == "a"
    np.testing.assert_array_equal(back.W, reg.W_)
    np.testing.assert_array_equal(back.v, reg.v_)


@pytest.mark.parametrize("bn", ["a", "std"])
def test_state_dict_certifies_and_predicts_as_the_estimator(tmp_path, data, bn):
    torch = pytest.importorskip("torch")
    X, y = data
    n, beta = X.shape[0], 0.2
    reg = ConvexBNRegressor(beta=beta, bn=bn, arrangements="exact").fit(X, y)
    reg.save_network(tmp_path / "net.pt")
    back = load_network(tmp_path / "net.pt", bn_eps=0.0)
    beta_std = beta if bn == "std" else convert_beta(beta, n, source="a", target="std")
    assert back.convention == "std"
    assert objective(back, X, y, beta_std) == pytest.approx(reg.objective_, rel=1e-12)
    m = reg.W_.shape[1]
    model = torch.nn.Sequential(
        torch.nn.Linear(2, m),
        torch.nn.BatchNorm1d(m, eps=0.0),
        torch.nn.ReLU(),
        torch.nn.Linear(m, 1),
    ).double()
    model.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    X_new = np.random.default_rng(5).standard_normal((6, 2))
    with torch.no_grad():
        model.eval()  # running statistics = the training batch's
        out = model(torch.from_numpy(X_new))[:, 0].numpy()
    np.testing.assert_allclose(out, reg.predict(X_new), atol=ATOL)
    # training mode (batch statistics) is what `load_network` reads back
    np.testing.assert_allclose(forward(back, X), reg.predict(X), atol=ATOL)


def test_classifier_state_dict_has_one_output_per_class(tmp_path):
    pytest.importorskip("torch")
    X, Y = make_classification(12, 2, 3, seed=0)
    clf = ConvexBNClassifier(beta=0.3, arrangements="exact").fit(X, Y.argmax(axis=1))
    clf.save_network(tmp_path / "clf.pt")
    back = load_network(tmp_path / "clf.pt", bn_eps=0.0)
    assert back.K == 3
    np.testing.assert_allclose(forward(back, X), forward(clf.network_, X), atol=ATOL)


def test_running_stats_are_checked(tmp_path, data):
    pytest.importorskip("torch")
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, bn="std", arrangements="exact").fit(X, y)
    m = reg.W_.shape[1]
    with pytest.raises(InputError, match=r"`running_stats` must be two arrays"):
        save_network(
            reg.network_, tmp_path / "x.pt", running_stats=(np.zeros(m), -np.ones(m))
        )
    with pytest.raises(InputError, match=r"`running_stats` must be two arrays"):
        save_network(
            reg.network_, tmp_path / "x.pt", running_stats=(np.zeros(m + 1), np.ones(m))
        )
    assert not (tmp_path / "x.pt").exists()
