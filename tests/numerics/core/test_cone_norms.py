"""The batched active-set cone norms against SciPy's NNLS and CVXPY + Clarabel."""

import numpy as np
import pytest
from bnconvex.numerics.core.cone_norms import (
    FEAS_TOL,
    SCREEN_MIN_DIM,
    cone_norms,
    max_cone_norm,
    null_basis,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from tests.common.extras import import_test_extra


def _instance(seed, n, m, P, duplicate):
    """Gaussian ``U`` (optionally two equal rows), random patterns and vectors."""
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n, m))
    if duplicate:
        U[1] = U[0]
    D = rng.random((n, P)) < 0.5
    p = np.tile(np.arange(P), 2)
    C = rng.standard_normal((2 * P, m)) * rng.uniform(0.1, 10.0)
    return U, D, p, C


def _arrangement_instance(seed, n, m, P):
    """Gaussian ``U`` and patterns ``1[U h >= 0]`` (cones with interior)."""
    U, _, p, C = _instance(seed, n, m, P, False)
    D = U @ np.random.default_rng(seed + 1).standard_normal((m, P)) >= 0
    return U, D, p, C


def _nnls_norm(U, D, p, c):
    """Reference: SciPy's NNLS over all ``n`` multipliers, ``min ||c + G^T lam||``."""
    G = np.where(D[:, p], 1.0, -1.0)[:, None] * U
    return float(np.linalg.norm(c + G.T @ nnls(G.T, -c)[0]))


instances = st.builds(
    _instance,
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 40),
    m=st.integers(1, 6),
    P=st.integers(1, 5),
    duplicate=st.booleans(),
)


#: A block the active set leaves inexact (degenerate active rows: the KKT test
#: at FEAS_TOL cannot settle them) still has a bound close to the cone norm:
#: worst measured 1.2e-10 ||c|| above the NNLS value (the first pinned example,
#: c almost in the polar cone), over 6,000 random instances on the Haswell and
#: SkylakeX OpenBLAS kernels; 1e-9 ||c|| leaves a factor 8.
INEXACT_RTOL = 1e-9


@given(inst=instances)
@settings(max_examples=60, deadline=None)
@example(inst=_instance(seed=444, n=12, m=4, P=5, duplicate=False))
@example(inst=_instance(seed=2772730680, n=10, m=6, P=2, duplicate=False))
def test_cone_norms_match_scipy_nnls(inst):
    """Both solve the same NNLS; agreement to rounding relative to ``||c||``.

    The tolerance 1e-10 ||c|| covers the KKT tolerance FEAS_TOL = 1e-11 of the
    exact stop (measured differences: below 1e-14 ||c||).  A block may stay
    inexact on degenerate rows (:data:`INEXACT_RTOL`); its bound is still an
    upper bound (both pinned examples were found this way: the first by
    Hypothesis 6.170 in a fresh environment, the second by a 3,000-instance
    stress run on the SkylakeX kernel).
    """
    U, D, p, C = inst
    out = cone_norms(U, D, p, C)
    scale = np.linalg.norm(C, axis=1)
    ref = np.array([_nnls_norm(U, D, p[b], C[b]) for b in range(C.shape[0])])
    exact = out.exact
    assert np.all(np.abs(out.bound - ref)[exact] <= 1e-10 * scale[exact]), (
        out.bound,
        ref,
    )
    # every bound is an upper bound; an inexact one is within INEXACT_RTOL
    assert np.all(out.bound >= ref - 1e-12 * scale), (out.bound, ref)
    assert np.all(out.bound - ref <= INEXACT_RTOL * scale), (out.bound, ref)


def test_blocks_the_active_set_leaves_stalled_get_their_norm_from_nnls(monkeypatch):
    """A block whose entering rows cannot enter is solved by SciPy's NNLS.

    The stub refuses every entering row, as the active-set loop does when a row
    is numerically dependent on the passive ones (seen on CIFAR-10 at small
    beta, bound 3.5 beta for a cone norm of 0.999999 beta): every block stalls
    at once, and the fallback must still return the exact cone norms.
    """
    from bnconvex.numerics.core import cone_norms as module

    def refuse(U, D, p, C, P, new):
        return np.zeros(new.shape[0], bool)

    monkeypatch.setattr(module, "_lawson_hanson_step", refuse)
    U, D, p, C = _arrangement_instance(seed=3, n=60, m=5, P=6)
    out = cone_norms(U, D, p, C)
    scale = np.linalg.norm(C, axis=1)
    ref = np.array([_nnls_norm(U, D, p[b], C[b]) for b in range(C.shape[0])])
    assert np.all(np.abs(out.bound - ref) <= 1e-10 * scale), (out.bound, ref)
    assert out.exact.all()
    # the kept passive rows and multipliers stay a valid warm start
    G = [np.where(D[:, p[b]], 1.0, -1.0)[:, None] * U for b in range(C.shape[0])]
    for b, Gb in enumerate(G):
        assert out.k[b] <= U.shape[1]
        rows = out.rows[b, : out.k[b]]
        lam = np.linalg.lstsq(Gb[rows].T, out.g[b], rcond=None)[0]
        assert np.allclose(Gb[rows].T @ lam, out.g[b], atol=1e-9 * scale[b])


@given(inst=instances, frac=st.floats(0.0, 1.5))
@settings(max_examples=60, deadline=None)
def test_every_bound_is_an_upper_bound(inst, frac):
    """With a stopping level, every bound is still at least the cone norm.

    The cone norm is taken as SciPy's NNLS value (exact on these sizes: the
    previous test), less ``1e-12 ||c||`` for its rounding.
    """
    _check_level_stop(*inst, frac)


def _check_level_stop(U, D, p, C, frac):
    """Run at level ``frac`` times the largest norm; check every bound; return."""
    ref = np.array([_nnls_norm(U, D, p[b], C[b]) for b in range(C.shape[0])])
    level = frac * ref.max()
    out = cone_norms(U, D, p, C, level=level)
    scale = np.linalg.norm(C, axis=1)
    assert np.all(out.bound >= ref - 1e-12 * scale), (out.bound, ref)
    # a block stops only below the level or at its exact value
    assert np.all((out.bound <= level) | out.exact)
    # g is G^T lambda of the passive rows: the bound is ||c + g||
    assert np.array_equal(out.bound, np.linalg.norm(C + out.g, axis=1))
    return out, ref, scale


@given(inst=instances)
@settings(max_examples=40, deadline=None)
def test_max_cone_norm_bounds_the_largest(inst):
    U, D, p, C = inst
    ref = max(_nnls_norm(U, D, p[b], C[b]) for b in range(C.shape[0]))
    best, _ = max_cone_norm(U, D, p, C)
    scale = float(np.linalg.norm(C, axis=1).max())
    assert best >= ref - 1e-12 * scale, (best, ref)
    assert best <= ref + 1e-10 * scale, (best, ref)


@pytest.mark.parametrize("frac", [0.3, 0.7, 1.0])
def test_screened_bounds_are_upper_bounds(frac):
    """With ``m >= SCREEN_MIN_DIM`` a positive level runs the FISTA pre-pass.

    Its bounds must still be rigorous (at least SciPy's NNLS value, less
    ``1e-12 ||c||`` for rounding), stop only below the level or exact, and
    equal ``||c + g||``; the exact ones match NNLS to ``1e-10 ||c||`` as in
    :func:`test_cone_norms_match_scipy_nnls`.
    """
    inst = _arrangement_instance(7, 150, SCREEN_MIN_DIM + 2, 12)
    out, ref, scale = _check_level_stop(*inst, frac)
    assert np.all(np.abs(out.bound - ref)[out.exact] <= 1e-10 * scale[out.exact])


@pytest.mark.parametrize("m", [4, SCREEN_MIN_DIM + 2])
@pytest.mark.parametrize("t", [1, 3])
def test_running_top_t_keeps_the_t_largest_exact(m, t):
    """``running_max=t``: the ``t`` largest bounds are the ``t`` largest norms.

    They are exact (within ``1e-10 ||c||`` of NNLS), at a level that leaves
    ``3t + 2`` blocks above it; every bound stays rigorous.
    """
    U, D, p, C = _arrangement_instance(11, 120, m, 10)
    ref = np.array([_nnls_norm(U, D, p[b], C[b]) for b in range(C.shape[0])])
    level = np.sort(ref)[-3 * t - 2] * 0.999  # 3t + 2 blocks above it
    out = cone_norms(U, D, p, C, level=level, running_max=t)
    top = np.argsort(-out.bound)[:t]
    assert np.all(out.exact[top])
    assert set(top) == set(np.argsort(-ref)[:t])
    scale = np.linalg.norm(C, axis=1)
    assert np.all(np.abs(out.bound[top] - ref[top]) <= 1e-10 * scale[top])
    assert np.all(out.bound >= ref - 1e-12 * scale)


def test_warm_start_reaches_the_same_values():
    """A warm start from another vector's passive sets ends at the same norms."""
    U, D, p, C = _instance(3, 300, 6, 8, False)
    cold = cone_norms(U, D, p, C)
    shifted = C + 0.05 * np.random.default_rng(4).standard_normal(C.shape)
    warm = cone_norms(U, D, p, shifted, warm=(cold.rows, cold.k))
    again = cone_norms(U, D, p, shifted)
    scale = np.linalg.norm(shifted, axis=1)
    assert np.all(np.abs(warm.bound - again.bound) <= 1e-12 * scale)


def test_cone_norms_match_cvxpy_clarabel():
    """The cone norm as the conic program max c^T s, Gs >= 0, ||s|| <= 1.

    Clarabel's default tolerances are 1e-8 (relative), so the values agree to
    1e-6 relative to ``||c||`` (measured: 1e-9).
    """
    cp = import_test_extra("cvxpy")
    U, D, p, C = _instance(7, 60, 4, 6, False)
    out = cone_norms(U, D, p, C)
    for b in range(C.shape[0]):
        G = np.where(D[:, p[b]], 1.0, -1.0)[:, None] * U
        s = cp.Variable(U.shape[1])
        prob = cp.Problem(cp.Maximize(C[b] @ s), [G @ s >= 0, cp.norm(s, 2) <= 1])
        prob.solve(solver="CLARABEL")
        value = max(float(prob.value), 0.0)
        err = abs(out.bound[b] - value) / np.linalg.norm(C[b])
        assert err <= 1e-6, f"block {b}: {out.bound[b]} vs {value}"


def test_exact_blocks_satisfy_the_kkt_conditions():
    """At an exact block ``s = c + g`` is in the cone (to FEAS_TOL) and tight.

    (Or ``||s|| <= FEAS_TOL ||c||``: ``c`` in the polar cone, norm 0.)
    """
    U, D, p, C = _instance(11, 500, 5, 6, False)
    out = cone_norms(U, D, p, C)
    u_max = np.linalg.norm(U, axis=1).max()
    for b in np.flatnonzero(out.exact):
        s = C[b] + out.g[b]
        if np.linalg.norm(s) <= FEAS_TOL * np.linalg.norm(C[b]):
            continue  # c in the polar cone: the cone norm is 0 <= bound ~ 0
        slack = np.where(D[:, p[b]], 1.0, -1.0) * (U @ s)
        assert slack.min() >= -2 * FEAS_TOL * u_max * np.linalg.norm(s) - 1e-15
        # c^T s = ||s||^2 at the projection (G_A s = 0 on the passive rows)
        assert abs(C[b] @ s - s @ s) <= 1e-10 * np.linalg.norm(C[b]) ** 2


def test_null_basis_spans_the_null_space():
    rows = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    N = null_basis(rows, 3)
    assert N.shape == (3, 1)
    assert np.allclose(rows @ N, 0.0, atol=1e-15)
    assert np.allclose(N.T @ N, np.eye(1), atol=1e-15)
    assert np.array_equal(null_basis(np.zeros((0, 2)), 2), np.eye(2))


def test_null_basis_of_many_rows_forms_no_rows_x_rows_matrix():
    import tracemalloc

    from bnconvex.numerics.core.cone_norms import null_basis

    rng = np.random.default_rng(0)
    rows = rng.standard_normal((5000, 4))
    rows[:, 3] = rows[:, 0] - rows[:, 1]  # rank 3: a one-dimensional null space
    tracemalloc.start()
    N = null_basis(rows, 4)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert N.shape == (4, 1)
    # orthonormal, and rows @ N = 0 to rounding of O(max row norm) entries
    np.testing.assert_allclose(N.T @ N, np.eye(1), atol=1e-14)
    assert np.abs(rows @ N).max() <= 1e-12 * np.abs(rows).max()
    # a full SVD would allocate the 5000 x 5000 left factor (200 MB)
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB"
