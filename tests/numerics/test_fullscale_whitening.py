"""Large whitening (chunked Gram) and the explicit spectral regularisers."""

import itertools

import numpy as np
import pytest
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale import (
    fit,
    left_factor,
    sample_patterns,
    solve_fullscale,
    spectral_features,
    truncated_whitening,
    whiten_large,
)

from tests.common.assertions import xp_assert_close


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 300)) @ np.diag(np.linspace(1.0, 5.0, 300)) + 3.0
    return X, np.linalg.svd(X - X.mean(axis=0), full_matrices=False)


def test_large_whitening_matches_lapack_svd(big):
    X, (U, s, _) = big
    fac = whiten_large(X, chunk_rows=333)
    assert fac.rank == 300
    # Gram route: relative error ~ eps * (s1/sk)^2 = 1e-16 * 25 here
    xp_assert_close(fac.sigma, s, rtol=1e-11)
    Uk = left_factor(fac, X, chunk_rows=257)
    # singular vectors agree up to sign: |<u_k, u_k^ref>| = 1
    xp_assert_close(np.abs(np.sum(Uk * U, axis=0)), np.ones(300), rtol=1e-9)
    xp_assert_close(Uk.T @ Uk, np.eye(300), rtol=0, atol=1e-10)


def test_large_whitening_under_other_backends(xp):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 6))
    fac = whiten_large(xp.asarray(X), chunk_rows=16)
    ref = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    xp_assert_close(fac.sigma, xp.asarray(ref), rtol=1e-12)


def test_truncated_whitening_full_rank_is_u_prime():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 4))
    F = truncated_whitening(whiten_large(X)).transform(X)
    Up = np.asarray(whiten(X).U_prime)
    # same column space and orthonormal: equal projectors (R1's U' up to column signs)
    xp_assert_close(F @ F.T, Up @ Up.T, rtol=0, atol=1e-12)
    xp_assert_close(F[:, -1], np.full(30, 1 / np.sqrt(30)), rtol=1e-15)


def test_truncated_optimum_is_monotone_in_k():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((24, 3)) @ np.diag([3.0, 1.0, 0.3])
    y = np.sign(X[:, 2]) + 0.1 * rng.standard_normal(24)
    fac = whiten_large(X)
    D, _ = sample_patterns(truncated_whitening(fac).transform(X), 30, seed=0)
    vals = []
    for k in (3, 2, 1):
        sol = solve_fullscale(
            truncated_whitening(fac, k).transform(X), y, 0.1, D, tol=1e-8
        )
        vals.append((sol.lower_bound, sol.objective))
    # certified: lower bound for k+1 never above the value for k (tolerance 1e-8 rel.)
    for (lb_big, _), (_, ub_small) in itertools.pairwise(vals):
        assert lb_big <= ub_small * (1 + 1e-8), vals


def test_spectral_weights_definition():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((40, 3)) @ np.diag([4.0, 2.0, 1.0])
    fac = whiten_large(X)
    F = spectral_features(fac, 2.0, scale=0.5).transform(X)
    sig = fac.sigma
    # columns U_j (sigma_j/sigma_1)^2 have norms (sigma_j/sigma_1)^2;
    # the shift column c/sqrt(n) has norm c
    xp_assert_close(
        np.linalg.norm(F, axis=0), np.r_[(sig / sig[0]) ** 2, 0.5], rtol=1e-12
    )


def test_bad_inputs():
    X = np.random.default_rng(5).standard_normal((10, 3))
    fac = whiten_large(X)
    with pytest.raises(
        InputError, match=r"`k` must be at most the rank r=3 of the centred data; got 4"
    ):
        truncated_whitening(fac, 4)
    with pytest.raises(InputError, match=r"`k` must be a positive integer; got 0"):
        truncated_whitening(fac, 0)
    with pytest.raises(InputError, match=r"`X` is constant data"):
        whiten_large(np.ones((5, 2)))
    with pytest.raises(
        InputError, match=r"`X` must be a 2-D array with at least 2 rows"
    ):
        whiten_large(np.ones(5))
    with pytest.raises(InputError, match=r"`rtol` must be in \(0, 1\); got 2.0"):
        whiten_large(X, rtol=2.0)
    with pytest.raises(InputError, match=r"`scale` must be a positive finite number"):
        spectral_features(fac, 1.0, scale=0.0)
    with pytest.raises(InputError, match=r"`X` must have shape \(N, 3\)"):
        truncated_whitening(fac).transform(np.ones((2, 4)))


def test_randomized_whitening_recovers_a_spectral_gap():
    # rank-20 signal with singular values 50..10 plus noise of size ~ 1e-3:
    # the range finder with one power iteration captures the top 20
    # directions up to (sigma_21 / sigma_20)^(2q+1) ~ (1e-2 / 10)^3 relative
    # (Halko et al., Cor. 10.10), far below the 1e-6 asked here
    rng = np.random.default_rng(1)
    n, d, r = 3000, 200, 20
    Q1, _ = np.linalg.qr(rng.standard_normal((n, r)))
    Q2, _ = np.linalg.qr(rng.standard_normal((d, r)))
    X = (Q1 * np.linspace(50.0, 10.0, r)) @ Q2.T + 1e-5 * rng.standard_normal((n, d))
    X += 2.0  # a mean to remove
    from bnconvex.numerics.fullscale import whiten_randomized

    fac = whiten_randomized(X, r, seed=0)
    ref = whiten_large(X)
    assert fac.rank == r
    xp_assert_close(fac.sigma, ref.sigma[:r], rtol=1e-6)
    # same subspace: the cosines of the principal angles are all 1
    cos = np.linalg.svd(fac.Vt @ ref.Vt[:r].T, compute_uv=False)
    xp_assert_close(cos, np.ones(r), rtol=1e-6)


def test_randomized_whitening_bad_k():
    from bnconvex.numerics.fullscale import whiten_randomized

    X = np.random.default_rng(0).standard_normal((10, 5))
    with pytest.raises(InputError, match="`k` must be below"):
        whiten_randomized(X, 5)


def test_fit_auto_whitening_is_randomized_only_when_cheaper(monkeypatch):
    from bnconvex.numerics.fullscale import model as model_mod

    calls = []
    real = model_mod.whiten_randomized

    def spy(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(model_mod, "whiten_randomized", spy)
    rng = np.random.default_rng(0)
    Y = np.eye(2)[rng.integers(0, 2, 300)]
    X = rng.standard_normal((300, 100))
    fit(X, Y, 0.1, patterns=4, k=4, max_iter=2)  # 8 (4 + 32) = 288 > 100: Gram
    assert calls == []
    X = rng.standard_normal((300, 400))
    fit(X, Y, 0.1, patterns=4, k=4, max_iter=2)  # 288 < 400: randomized
    assert calls == [4]
