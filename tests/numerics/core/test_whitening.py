import numpy as np
import pytest
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.verify.strategies import regression_instances
from hypothesis import example, given

from tests.common.assertions import xp_assert_close

EPS = np.finfo(np.float64).eps
# derived: a float64 SVD is orthonormal to c max(n, d) eps; for the 6 x 3 case
# below 1e-13 = 75 max(n, d) eps (c = 75)
ORTH_ATOL = 1e-13

# found by the thorough profile (issue 16): rank(CX) = n - 1, U^T 1 was 2.3e-12
_ILL_CONDITIONED = np.array(
    [
        [-0.4088096, 0.59002767, -0.84070729],
        [-0.14964607, 3.02660025, 0.08334237],
        [-2.53577261, 0.04413532, -1.21452371],
        [1.18300769, 0.21968253, -0.84998076],
    ]
)


@given(inst=regression_instances(n_range=(2, 9), d_range=(1, 4)))
@example(inst={"X": _ILL_CONDITIONED})
def test_orthogonality_and_factorisation(inst):
    """Claim 3: U^T 1 = 0, U'^T U' = I_{r+1}; and C X = U diag(sigma) V^T.

    Tolerances, derived (whitening.whiten, Notes): U^T 1 is projected out after
    the SVD, so each entry is a sum of n rounded terms of size <= 1: 4 n eps,
    whatever the conditioning.  U^T U moves by the square of what the SVD left,
    (eps sqrt(n) ||X||_F / sigma_r)^2, on top of the SVD's own 4 max(n, d) eps.
    The factorisation is backward stable: 10 max(n, d) eps ||X||_F.
    """
    X = inst["X"]
    w = whiten(X)
    n, d = X.shape
    assert w.rank == min(n - 1, d), f"rank {w.rank} for shape {X.shape}"
    Up = w.U_prime
    norm_X = np.linalg.norm(X)
    xp_assert_close(w.U.T @ np.ones(n), np.zeros(w.rank), atol=4 * n * EPS)
    drift = (EPS * np.sqrt(n) * norm_X / w.sigma[-1]) ** 2
    orth_atol = 4 * max(n, d) * EPS + drift
    xp_assert_close(Up.T @ Up, np.eye(w.rank + 1), atol=orth_atol)
    Xc = X - X.mean(axis=0)
    factor_atol = 10 * max(n, d) * EPS * max(norm_X, 1.0)
    xp_assert_close((w.U * w.sigma) @ w.Vt, Xc, atol=factor_atol)


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
