import numpy as np
import pytest
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.verify.strategies import regression_instances
from hypothesis import given

from tests.common.assertions import xp_assert_close

# orthogonality from a float64 SVD of an n x d matrix, n, d <= 10: ~ n * eps
ORTH_ATOL = 1e-13


@given(inst=regression_instances(n_range=(2, 9), d_range=(1, 4)))
def test_orthogonality_and_factorisation(inst):
    # claim 3: U^T 1 = 0, U'^T U' = I_{r+1}; and C X = U diag(sigma) V^T
    X = inst["X"]
    w = whiten(X)
    n = X.shape[0]
    assert w.rank == min(n - 1, X.shape[1]), f"rank {w.rank} for shape {X.shape}"
    Up = w.U_prime
    xp_assert_close(w.U.T @ np.ones(n), np.zeros(w.rank), atol=ORTH_ATOL)
    xp_assert_close(Up.T @ Up, np.eye(w.rank + 1), atol=ORTH_ATOL)
    Xc = X - X.mean(axis=0)
    xp_assert_close((w.U * w.sigma) @ w.Vt, Xc, atol=1e-13 * max(1.0, np.abs(X).max()))


def test_xp_namespaces(xp):
    X = np.random.default_rng(0).standard_normal((6, 3))
    w = whiten(xp.asarray(X))
    ref = whiten(X)
    assert w.rank == 3
    xp_assert_close(w.sigma, xp.asarray(ref.sigma), rtol=1e-13)
    Up = w.U_prime
    xp_assert_close(Up.T @ Up, xp.eye(4, dtype=xp.float64), atol=ORTH_ATOL)
    # projectors onto col(U') agree (the SVD's signs are not unique)
    P = Up @ Up.T
    xp_assert_close(P, xp.asarray(ref.U_prime @ ref.U_prime.T), atol=1e-13)


def test_rank_deficient_data():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    X = np.column_stack([a, 2 * a, b, a - b])  # rank(CX) = 2
    w = whiten(X)
    assert (w.rank, w.U.shape, w.Vt.shape) == (2, (8, 2), (2, 4))


def test_transform_maps_training_data_to_U():
    X = np.random.default_rng(2).standard_normal((7, 3)) + 5.0
    w = whiten(X)
    xp_assert_close(w.transform(X), w.U, atol=1e-13)
    with pytest.raises(
        InputError, match=r"`X_new` must have shape \(k, 3\); got \(2, 2\)"
    ):
        w.transform(np.ones((2, 2)))


def test_constant_data_with_large_mean_is_rank_zero():
    # the mean 3.3 is not exact in binary: C X has rounding noise of size ~1e-16
    X = np.full((9, 2), 3.3)
    with pytest.raises(
        InputError, match=r"`X` has constant columns only: rank\(CX\) = 0"
    ):
        whiten(X)
    with pytest.raises(InputError, match=r"rank\(CX\) = 0"):
        whiten(np.full((5, 1), 1e8))


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.ones((1, 3)), r"`X` must have at least 2 rows \(samples\); got 1"),
        (np.ones(3), r"`X` must be a 2-D array .*got ndim=1"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), r"`X` contains NaN or infinite"),
        (np.ones((3, 2), dtype=complex), r"`X` must be a real numeric array"),
    ],
)
def test_bad_input(X, message):
    with pytest.raises(InputError, match=message):
        whiten(X)


def test_integer_data_accepted():
    w = whiten(np.array([[0, 1], [2, 3], [5, 4]]))
    assert (w.rank, w.U.dtype) == (2, np.float64)
