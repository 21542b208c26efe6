import time

import numpy as np
import pytest
from bnconvex.numerics.core.arrangements import (
    enumerate_patterns,
    is_realizable,
    load_patterns,
    max_pattern_count,
    sample_patterns,
    save_patterns,
)
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.verify.strategies import degenerate_points, regression_instances
from hypothesis import given, settings
from hypothesis import strategies as st


def _columns(D):
    return {tuple(col) for col in D.T.tolist()}


def _assert_paths_agree(X):
    U = whiten(X).U_prime
    D_vertex = enumerate_patterns(U, method="vertex")
    D_lp = enumerate_patterns(U, method="lp")
    assert np.array_equal(D_vertex, D_lp), f"{D_vertex.shape} vs {D_lp.shape}"
    return D_vertex


def _affine(X):
    return np.column_stack([X, np.ones(len(X))])


@given(inst=regression_instances(n_range=(2, 10), d_range=(1, 4)))
def test_count_equals_formula_for_generic_data(inst):
    # claim 8 (count): general position -> 2 sum_{k<=r} C(n-1, k) regions, minus empty
    X = inst["X"]
    w = whiten(X)
    D = enumerate_patterns(w.U_prime)
    n = X.shape[0]
    assert D.shape == (n, max_pattern_count(n, w.rank) - 1), (
        f"shape {D.shape}, r={w.rank}"
    )
    assert D.any(axis=0).all(), "the all-false pattern must not be included"
    assert len(_columns(D)) == D.shape[1], "patterns must be distinct"


@settings(max_examples=10)
@given(inst=regression_instances(n_range=(3, 7), d_range=(1, 3)))
def test_vertex_and_lp_paths_agree(inst):
    _assert_paths_agree(inst["X"])


@settings(max_examples=10)
@given(inst=regression_instances(n_range=(3, 7), d_range=(1, 2)))
def test_patterns_are_exactly_the_affine_dichotomies(inst):
    # claim 8: every pattern of U' is an affine pattern 1[Xw + b >= 0] (LP), and
    # every affine pattern of X is one of them; non-patterns are not realisable.
    X = inst["X"]
    U = whiten(X).U_prime
    D = enumerate_patterns(U)
    for p in D.T:
        assert is_realizable(_affine(X), p), f"pattern {p.astype(int)} not affine"
    rng = np.random.default_rng(0)
    wb = rng.standard_normal((X.shape[1] + 1, 4000))
    affine = _affine(X) @ wb >= 0
    affine = affine[:, affine.any(axis=0)]
    missing = _columns(affine) - _columns(D)
    assert not missing, f"affine patterns not enumerated: {sorted(missing)[:3]}"
    all_vectors = {tuple(v) for v in np.ndindex(*(2,) * X.shape[0])}
    others = sorted(all_vectors - _columns(D) - {(0,) * X.shape[0]})[:5]
    for p in others:
        p = np.array(p, dtype=bool)
        assert not is_realizable(U, p), f"{p.astype(int)} wrongly realisable for U'"
        assert not is_realizable(_affine(X), p), f"{p.astype(int)} wrongly affine"


@settings(max_examples=15)
@given(inst=degenerate_points())
def test_repeated_points_share_signs(inst):
    # repeated rows are one hyperplane: patterns of X are those of the distinct points
    D = enumerate_patterns(whiten(inst["X"]).U_prime)
    D_unique = enumerate_patterns(whiten(inst["unique"]).U_prime)
    expanded = D_unique[inst["index"]]
    assert _columns(D) == _columns(expanded), f"{D.shape[1]} vs {expanded.shape[1]}"
    assert D.shape[1] + 1 <= max_pattern_count(len(inst["unique"]), inst["X"].shape[1])


@pytest.mark.parametrize(
    ("X", "count"),
    [
        # 3 x 3 grid: 8 collinear triples; count from 2e6 Gaussian directions (below)
        (np.array([[i, j] for i in range(3) for j in range(3)], dtype=float), 57),
        # 4 collinear points on a line in R^2 plus 2 off it, one repeated
        (
            np.array([[0, 0], [1, 1], [2, 2], [3, 3], [0, 2], [2, 0], [0, 2]], float),
            None,
        ),
    ],
)
def test_degenerate_data_against_dense_sampling(X, count):
    U = whiten(X).U_prime
    D = enumerate_patterns(U)
    sampled = sample_patterns(U, 400_000, seed=1)
    assert _columns(sampled) <= _columns(D), "sampled patterns outside the enumeration"
    assert _columns(sampled) == _columns(D), (
        f"sampling found {sampled.shape[1]}, exact {D.shape[1]}"
    )
    if count is not None:
        assert D.shape[1] == count


def test_brute_force_on_one_dimensional_data():
    # d = 1 with a repeated point: k = 4 distinct points on a line have 2k threshold
    # dichotomies (k prefixes + k suffixes, incl. all and none) -> 2k - 1 non-empty
    X = np.array([[0.3], [-1.0], [2.0], [0.3], [5.0]])
    D = enumerate_patterns(whiten(X).U_prime)
    assert D.shape == (5, 2 * 4 - 1)


def test_n14_d3_is_fast_and_exact():
    X = np.random.default_rng(14).standard_normal((14, 3))
    start = time.perf_counter()
    D = enumerate_patterns(whiten(X).U_prime)
    seconds = time.perf_counter() - start
    # 2 * (C(13,0) + C(13,1) + C(13,2) + C(13,3)) - 1 = 2 * 378 - 1
    assert D.shape == (14, 755)
    assert seconds < 5.0, f"enumeration took {seconds:.2f} s"


def test_sample_patterns_is_deterministic_subset():
    U = whiten(np.random.default_rng(3).standard_normal((9, 2))).U_prime
    a = sample_patterns(U, 300, seed=7)
    b = sample_patterns(U, 300, seed=np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert _columns(a) <= _columns(enumerate_patterns(U))
    assert a.any(axis=0).all(), "empty pattern must be dropped"
    with pytest.raises(InputError, match=r"`num` must be a positive integer; got 0"):
        sample_patterns(U, 0, seed=0)


@settings(max_examples=15)
@given(inst=degenerate_points(k_range=(3, 7), d_range=(1, 3)))
def test_vertex_and_lp_paths_agree_on_degenerate_data(inst):
    # the line method recurses at lines on more than r hyperplanes (collinear
    # points); the LP path is an independent exact method
    _assert_paths_agree(inst["X"])


def test_vertex_and_lp_agree_on_integer_grid_data():
    # many collinear and coplanar triples/quadruples, and repeated points
    X = np.random.default_rng(7).integers(0, 3, size=(12, 3)).astype(float)
    D = _assert_paths_agree(X)
    assert D.shape[1] + 1 < max_pattern_count(12, 3), "data must be degenerate"


@pytest.mark.parametrize(
    ("U", "message"),
    [
        (np.ones(3), r"`U_prime` must be a 2-D array"),
        (
            np.array([[1.0, -0.5], [0.0, 0.5]]),
            r"`U_prime` must have a positive last column",
        ),
        (np.array([[np.inf, 0.5], [0.0, 0.5]]), r"`U_prime` contains NaN"),
    ],
)
def test_bad_U_prime(U, message):
    with pytest.raises(InputError, match=message):
        enumerate_patterns(U)


def test_is_realizable_input_checks():
    U = whiten(np.arange(6.0).reshape(3, 2)).U_prime
    assert is_realizable(U, np.array([0, 0, 0]))  # u = -e_last: realisable, never in D
    with pytest.raises(
        InputError, match=r"`pattern` must have shape \(3,\); got \(2,\)"
    ):
        is_realizable(U, np.array([1, 0]))
    with pytest.raises(InputError, match=r"`pattern` must hold 0/1 or bool"):
        is_realizable(U, np.array([2, 0, 1]))


def test_patterns_round_trip(tmp_path):
    D = enumerate_patterns(
        whiten(np.random.default_rng(4).standard_normal((6, 2))).U_prime
    )
    save_patterns(tmp_path / "p.npy", D)
    assert np.array_equal(load_patterns(tmp_path / "p.npy", 6), D)
    np.save(tmp_path / "int.npy", D.astype(np.int64))
    assert np.array_equal(load_patterns(tmp_path / "int.npy", 6), D)


@pytest.mark.parametrize(
    ("array", "n", "message"),
    [
        (np.ones((4, 2)), 5, r"`patterns` .* must have n=5 rows \(samples\); got 4"),
        (np.ones(4), 4, r"`patterns` .* must be a 2-D \(n, P\) array; got ndim=1"),
        (np.full((3, 2), 0.5), 3, r"`patterns` .* must hold 0/1 or bool values"),
        (np.array([[1, 0], [0, 0]]), 2, r"`patterns` .* column 1 is all zero"),
    ],
)
def test_load_patterns_errors(tmp_path, array, n, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(InputError, match=message):
        load_patterns(tmp_path / "bad.npy", n)


def test_load_patterns_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"`patterns` file not found"):
        load_patterns(tmp_path / "none.npy", 3)


@given(n=st.integers(1, 30), r=st.integers(0, 5))
def test_max_pattern_count_closed_form_cases(n, r):
    # r >= n - 1: every dichotomy of n points is affine -> 2^n
    if r >= n - 1:
        assert max_pattern_count(n, r) == 2**n
    # r = 1: 2 * (1 + (n - 1)) = 2n threshold dichotomies on a line
    assert max_pattern_count(n, 1) == 2 * n


@pytest.mark.slow
@pytest.mark.parametrize(("n", "d"), [(14, 3), (20, 2)])
def test_lp_path_matches_vertex_path_at_scale(n, d):
    # the exact LP path (any data) agrees with the fast path on generic data
    U = whiten(np.random.default_rng(n).standard_normal((n, d))).U_prime
    D_lp = enumerate_patterns(U, method="lp")
    assert np.array_equal(D_lp, enumerate_patterns(U, method="vertex"))
    assert D_lp.shape[1] == max_pattern_count(n, d) - 1


@pytest.mark.parametrize(
    ("n", "r", "message"),
    [
        (0, 1, r"`n` must be a positive integer; got 0"),
        (-3, 1, r"`n` must be a positive integer; got -3"),
        (4, -1, r"`r` must be an integer >= 0; got -1"),
        (4, 1.5, r"`r` must be an integer >= 0; got 1.5"),
    ],
)
def test_max_pattern_count_rejects(n, r, message):
    with pytest.raises(InputError, match=message):
        max_pattern_count(n, r)


def test_is_realizable_rejects_non_finite_U_prime():
    U = np.full((3, 2), np.nan)
    with pytest.raises(InputError, match=r"`U_prime` contains NaN or infinite values"):
        is_realizable(U, np.array([1, 0, 1]))
