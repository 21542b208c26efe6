import numpy as np
import pytest
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.dataio.data import (
    load_dataset,
    make_classification,
    make_regression,
    make_spread_spectrum,
)
from bnconvex.numerics.errors import InputError

from tests.common.assertions import xp_assert_close


def test_make_regression_is_seeded():
    X1, y1 = make_regression(8, 3, seed=5)
    X2, y2 = make_regression(8, 3, seed=np.random.default_rng(5))
    xp_assert_close(X1, X2, rtol=0)
    xp_assert_close(y1, y2, rtol=0)
    X3, _ = make_regression(8, 3, seed=6)
    assert np.max(np.abs(X1 - X3)) > 0.1, "different seeds must give different data"
    assert whiten(X1).rank == 3


def test_make_regression_noise_free_is_the_documented_teacher():
    # y = (Xa)_+ - (Xb + 1/2)_+, a, b ~ N(0, I/d) drawn after X from the same stream
    X, y = make_regression(20, 2, seed=0, noise=0.0)
    rng = np.random.default_rng(0)
    rng.standard_normal((20, 2))
    a, b = rng.standard_normal((2, 2)) / np.sqrt(2)
    expected = np.maximum(X @ a, 0) - np.maximum(X @ b + 0.5, 0)
    xp_assert_close(y, expected, rtol=1e-15, atol=1e-15)
    assert np.std(y) > 0.05, f"teacher output nearly constant: std {np.std(y):.3g}"


def test_spread_spectrum_singular_values():
    # claim 20 data: sigma_k(CX) / sqrt(n) -> spectrum_k as n grows (Gaussian G);
    # n = 4000 gives sampling error ~ 1/sqrt(n) ~ 2 % per direction
    spectrum = np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])
    X, y = make_spread_spectrum(4000, spectrum, seed=0)
    sigma = whiten(X).sigma / np.sqrt(4000)
    xp_assert_close(sigma, spectrum, rtol=0.06)
    assert y.shape == (4000,)


def test_make_classification_one_hot_and_balanced():
    X, Y = make_classification(10, 4, 3, seed=1)
    assert (X.shape, Y.shape) == ((10, 4), (10, 3))
    assert np.array_equal(Y.sum(axis=1), np.ones(10))
    assert sorted(Y.sum(axis=0).tolist()) == [3.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_regression(1, 2, seed=0), r"`n` must be at least 2"),
        (lambda: make_regression(4, 0, seed=0), r"`d` must be a positive integer"),
        (lambda: make_regression(4, 2, seed=0, noise=-1), r"`noise` must be a finite"),
        (
            lambda: make_spread_spectrum(4, [1.0, -1.0], seed=0),
            r"`spectrum` must be a 1-D",
        ),
        (lambda: make_classification(2, 2, 3, seed=0), r"`n` must be at least K=3"),
    ],
)
def test_generator_errors(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_load_npz_y_and_Y(tmp_path):
    X, y = make_regression(5, 2, seed=0)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    Xl, yl = load_dataset(tmp_path / "d.npz")
    xp_assert_close(Xl, X, rtol=0)
    xp_assert_close(yl, y, rtol=0)
    Y = np.eye(2)[[0, 1, 0, 1, 1]]
    np.savez(tmp_path / "c.npz", X=X, Y=Y)
    assert load_dataset(tmp_path / "c.npz")[1].shape == (5, 2)


def test_load_csv_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,label\n1,2,3\n4,5,6\n\n7,8.5,-1\n")
    X, y = load_dataset(tmp_path / "h.csv")
    xp_assert_close(X, np.array([[1.0, 2.0], [4.0, 5.0], [7.0, 8.5]]), rtol=0)
    xp_assert_close(y, np.array([3.0, 6.0, -1.0]), rtol=0)
    (tmp_path / "n.csv").write_text("1,2\n3,4\n")
    X, y = load_dataset(tmp_path / "n.csv")
    assert (X.shape, y.tolist()) == ((2, 1), [2.0, 4.0])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.txt", "1,2\n", r"`DATA` must be a .npz or .csv file"),
        ("bad.csv", "1,2\n3,x\n", r"`DATA` .* line 2 is not numeric"),
        ("ragged.csv", "1,2,3\n4,5\n", r"`DATA` .* rows of equal length >= 2"),
        ("one.csv", "1\n2\n", r"`DATA` .* rows of equal length >= 2"),
        ("nan.csv", "1,2\nnan,4\n", r"`DATA` .*`X` contains 1 NaN"),
        ("single.csv", "1,2\n", r"`DATA` .*`X` must have at least 2 rows"),
    ],
)
def test_load_errors(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match=message):
        load_dataset(tmp_path / name)


def test_load_missing(tmp_path):
    with pytest.raises(InputError, match=r"`DATA` file not found"):
        load_dataset(tmp_path / "none.npz")
    np.savez(tmp_path / "noy.npz", X=np.ones((3, 2)), z=np.ones(3))
    with pytest.raises(
        InputError, match=r"`DATA` .* lacks array\(s\) y or Y; it has X, z"
    ):
        load_dataset(tmp_path / "noy.npz")


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_regression(1, 2, seed=0),
        lambda: make_classification(1, 2, 1, seed=0),
        lambda: make_spread_spectrum(1, np.array([1.0]), seed=0),
    ],
    ids=["regression", "classification", "spread_spectrum"],
)
def test_generators_refuse_a_single_sample(make):
    match = r"`n` must be at least 2 \(BN needs a batch\)"
    with pytest.raises(InputError, match=match):
        make()
