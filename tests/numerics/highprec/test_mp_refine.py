"""Tests of numerics.mp_refine: mp whitening, refinement, certificate, closed form.

Float solutions come from cvxpy + Clarabel (a test-only dependency; it leaves
many near-zero and duplicated blocks, the hard case for refinement), from the
project's ``ipm`` solver, or from the R2 closed form; exact patterns from
``numerics.arrangements.enumerate_patterns``.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import mpmath
import numpy as np
import pytest
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.convex_program import ConvexProblem
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.highprec import _mp_linalg as mp_linalg
from bnconvex.numerics.highprec import mp_refine
from bnconvex.numerics.highprec.mp_refine import (
    certify_mp,
    highdim_optimum_mp,
    refine_solution,
    whiten_mp,
)
from bnconvex.numerics.solvers import solve_convex
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.common.extras import import_test_extra

BETA = 0.2


# ----------------------------------------------------------------------------
# instance builders (test-only stand-ins)
# ----------------------------------------------------------------------------


def _pattern_bound(n: int, r: int) -> int:
    """Non-empty regions of n central hyperplanes in general position in R^(r+1)."""
    return 2 * sum(math.comb(n - 1, k) for k in range(r + 1)) - 1


def _all_patterns(Uf: np.ndarray) -> np.ndarray:
    return np.asarray(enumerate_patterns(Uf), dtype=bool)


def _cvxpy_solution(
    Uf: np.ndarray, y: np.ndarray, beta: float, D: np.ndarray, tol: float = 1e-9
):
    cp = import_test_extra("cvxpy")
    P, m = D.shape[1], Uf.shape[1]
    S_plus, S_minus = cp.Variable((P, m)), cp.Variable((P, m))
    mask, signs = D.astype(float), 2 * D.astype(float) - 1
    yhat = cp.sum(cp.multiply(mask, Uf @ (S_plus - S_minus).T), axis=1)
    penalty = cp.sum(cp.norm(S_plus, 2, axis=1)) + cp.sum(cp.norm(S_minus, 2, axis=1))
    problem = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(yhat - y) + beta * penalty),
        [
            cp.multiply(signs, Uf @ S_plus.T) >= 0,
            cp.multiply(signs, Uf @ S_minus.T) >= 0,
        ],
    )
    # Only the active set is taken from the float solution; the mp certificate
    # judges the result, so "optimal_inaccurate" at these tight tolerances is
    # accepted (its warning silenced here).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Solution may be inaccurate", UserWarning)
        problem.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    assert problem.status in ("optimal", "optimal_inaccurate"), problem.status
    return SimpleNamespace(
        S_plus=S_plus.value, S_minus=S_minus.value, objective=problem.value
    )


def _general_instance(n: int, d: int, seed: int, *, beta=BETA, tol=1e-9):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    Uf = np.asarray(whiten(X).U_prime)
    D = _all_patterns(Uf)
    assert D.shape[1] == _pattern_bound(n, d), "arrangement not in general position"
    return X, y, D, _cvxpy_solution(Uf, y, beta, D, tol)


def _highdim_blocks(Uf: np.ndarray, y: np.ndarray, beta: float, D: np.ndarray):
    """R2 closed form: one block per sign, ``s = U'^T (1 - beta/||t||)_+ t``."""
    P, m = D.shape[1], Uf.shape[1]
    blocks = {1: np.zeros((P, m)), -1: np.zeros((P, m))}
    for sign in (1, -1):
        t = np.maximum(sign * y, 0.0)
        size = np.linalg.norm(t)
        if size > beta:
            column = int(np.flatnonzero((D == (t > 0)[:, None]).all(axis=0))[0])
            blocks[sign][column] = Uf.T @ ((1 - beta / size) * t)
    return SimpleNamespace(S_plus=blocks[1], S_minus=blocks[-1])


def _subset_patterns(n: int) -> np.ndarray:
    """All 2^n - 1 non-empty patterns (the arrangement when U' is n x n orthogonal)."""
    codes = np.arange(1, 2**n)
    return ((codes[None, :] >> np.arange(n)[:, None]) & 1).astype(bool)


def _highdim_X(n: int, perturbation: np.ndarray) -> np.ndarray:
    """``[I_{n-1}; 0]`` plus a small perturbation: rank(CX) = n - 1 by Weyl."""
    base = np.zeros((n, n + 1))
    base[: n - 1, : n - 1] = np.eye(n - 1)
    return base + 0.02 * perturbation


@pytest.fixture(scope="module")
def small():
    """n=8, d=2 (r=2): 57 patterns, exact arrangement."""
    return _general_instance(8, 2, seed=3)


@pytest.fixture(scope="module")
def small_refined(small):
    X, y, D, sol = small
    return refine_solution(X, y, BETA, D, sol, dps=50)


@pytest.fixture(scope="module")
def highdim():
    rng = np.random.default_rng(11)
    n = 6
    X = _highdim_X(n, rng.uniform(-1, 1, (n, n + 1)))
    y = rng.standard_normal(n)
    D = _subset_patterns(n)
    return X, y, D, _highdim_blocks(np.asarray(whiten(X).U_prime), y, BETA, D)


def _rel(a, b) -> float:
    return float(abs(a - b) / abs(b))


# ----------------------------------------------------------------------------
# whiten_mp
# ----------------------------------------------------------------------------


def test_whiten_mp_orthonormal_and_matches_float():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((9, 3))
    W = whiten_mp(X, dps=50)
    with mpmath.workdps(65):
        gram = W.U_prime.T * W.U_prime - mpmath.eye(W.rank + 1)
        col_sums = [mpmath.fsum(W.U[i, k] for i in range(W.n)) for k in range(W.rank)]
    # U'^T U' = I and U^T 1 = 0 hold exactly in exact arithmetic: 1e-48 at dps 50.
    assert mpmath.mnorm(gram, 1) < 1e-48, f"||U'^T U' - I|| = {mpmath.mnorm(gram, 1)}"
    assert max(abs(c) for c in col_sums) < 1e-48, f"U^T 1 = {col_sums}"
    ref = whiten(X)
    assert W.rank == ref.rank, f"mp rank {W.rank} vs float rank {ref.rank}"
    # float SVD singular values are backward stable: relative 1e-13 for this well
    # conditioned X (sigma_1/sigma_3 < 3).
    np.testing.assert_allclose(
        [float(s) for s in W.sigma], np.asarray(ref.sigma), rtol=1e-13, err_msg="sigma"
    )


def test_whiten_mp_rank_deficient_and_wide():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((7, 2))
    X = np.column_stack([A, A[:, 0] - 2 * A[:, 1]])  # exact linear dependence
    W = whiten_mp(X, dps=30)
    assert (W.rank, W.U_prime.cols) == (2, 3), f"rank {W.rank}"
    assert whiten_mp(rng.standard_normal((5, 8)), dps=30).rank == 4, "wide data: n-1"


def test_whiten_mp_constant_data():
    X = np.full((4, 2), 1e6)
    with pytest.raises(InputError, match="constant"):
        whiten_mp(X, dps=30)


# ----------------------------------------------------------------------------
# refinement and certificate on exact arrangements
# ----------------------------------------------------------------------------


def test_refined_certificate_reaches_30_digits(small, small_refined):
    X, y, D, sol = small
    cert = certify_mp(X, y, BETA, D, small_refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits, gap {cert.gap}"
    assert cert.gap / abs(cert.primal) <= 1e-30, f"gap {cert.gap}"
    assert cert.bound_kind == "global", cert.bound_kind
    for name, value in cert.kkt_residuals.items():
        assert abs(value) <= 1e-30, f"KKT {name} residual {value}"
    # the float solver was run at tolerance 1e-10: its objective agrees to 1e-8
    assert _rel(small_refined.objective, mpmath.mpf(sol.objective)) < 1e-8, "vs float"


def test_refined_solution_is_dual_tight(small, small_refined):
    """Claim 11 at high precision: the dual constraint is tight, B = beta."""
    X, y, D, _ = small
    cert = certify_mp(X, y, BETA, D, small_refined, dps=50)
    assert _rel(cert.constraint_bound, mpmath.mpf(BETA)) < 1e-40, cert.constraint_bound
    assert cert.bound_kind == "patterns", "complete defaults to False"


def test_cross_precision_agreement(small, small_refined):
    """dps 30 vs dps 60: objectives agree to ~28 digits (mpmath test_torture style)."""
    X, y, D, sol = small
    low = refine_solution(X, y, BETA, D, sol, dps=30)
    high = refine_solution(X, y, BETA, D, sol, dps=60)
    assert _rel(low.objective, high.objective) < 1e-28, (low.objective, high.objective)
    assert _rel(small_refined.objective, high.objective) < 1e-48, "dps 50 vs 60"
    assert low.active == high.active, "active set depends on precision"


def test_perturbed_start_converges_to_same_optimum(small, small_refined):
    X, y, D, sol = small
    rng = np.random.default_rng(5)
    noisy = SimpleNamespace(
        S_plus=sol.S_plus * (1 + 1e-7 * rng.standard_normal(sol.S_plus.shape)),
        S_minus=sol.S_minus * (1 + 1e-7 * rng.standard_normal(sol.S_minus.shape)),
    )
    refined = refine_solution(X, y, BETA, D, noisy, dps=50)
    assert _rel(refined.objective, small_refined.objective) < 1e-45, refined.objective


def test_missing_blocks_are_added_back(small, small_refined):
    """All s'_i dropped from the start: the dual check must bring them back."""
    X, y, D, sol = small
    assert np.linalg.norm(sol.S_minus) > 0.1, "instance needs negative blocks"
    start = SimpleNamespace(S_plus=sol.S_plus, S_minus=np.zeros_like(sol.S_minus))
    refined = refine_solution(X, y, BETA, D, start, dps=50)
    cert = certify_mp(X, y, BETA, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits"
    assert any(sign == -1 for _, sign, _ in refined.active), refined.active
    assert _rel(refined.objective, small_refined.objective) < 1e-40, "other optimum"


def test_spurious_block_is_dropped(small, small_refined):
    """A 1%-sized block inside an unused cone must be driven out."""
    X, y, D, sol = small
    Uf = np.asarray(whiten(X).U_prime)
    u = np.array([0.3, -1.0, 0.2])  # a generic direction, fixed for the record
    column = int(np.flatnonzero((D == (Uf @ u >= 0)[:, None]).all(axis=0))[0])
    assert np.linalg.norm(sol.S_plus[column]) < 1e-6, "pattern must be unused"
    S_plus = sol.S_plus.copy()
    S_plus[column] = 0.01 * np.linalg.norm(sol.S_plus, axis=1).sum() * u
    start = SimpleNamespace(S_plus=S_plus, S_minus=sol.S_minus)
    refined = refine_solution(X, y, BETA, D, start, dps=50)
    cert = certify_mp(X, y, BETA, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits"
    assert _rel(refined.objective, small_refined.objective) < 1e-40, "other optimum"


@pytest.mark.parametrize(("n", "d", "seed"), [(8, 2, 105), (8, 3, 106), (10, 2, 102)])
def test_crude_float_start(n, d, seed):
    """Float solutions at solver tolerance 1e-6 still refine to >= 30 digits."""
    beta = 0.4
    X, y, D, sol = _general_instance(n, d, seed, beta=beta, tol=1e-6)
    refined = refine_solution(X, y, beta, D, sol, dps=50)
    cert = certify_mp(X, y, beta, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits, gap {cert.gap}"


def test_project_ipm_solution_end_to_end():
    """ConvexSolution of the ipm plug-in, default U_prime (numerics.whitening)."""
    rng = np.random.default_rng(21)
    X, y = rng.standard_normal((9, 3)), rng.standard_normal(9)
    Uf = np.asarray(whiten(X).U_prime)
    D = _all_patterns(Uf)
    sol = solve_convex(ConvexProblem(Uf, y, BETA, D), solver="ipm")
    refined = refine_solution(X, y, BETA, D, sol, dps=50)
    cert = certify_mp(X, y, BETA, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits, gap {cert.gap}"
    # ipm reports its own float gap; the objectives agree to its accuracy
    assert _rel(refined.objective, mpmath.mpf(sol.objective)) < 1e-9, sol.objective


def test_degenerate_data_repeated_points():
    """Repeated samples: duplicated cone rows, rank-deficient tight sets."""
    rng = np.random.default_rng(8)
    A = rng.standard_normal((5, 2))
    X = np.vstack([A, A[:3]])
    y = rng.standard_normal(8)
    Uf = np.asarray(whiten(X).U_prime)
    D = _all_patterns(Uf)
    refined = refine_solution(X, y, BETA, D, _cvxpy_solution(Uf, y, BETA, D))
    cert = certify_mp(X, y, BETA, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits, gap {cert.gap}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_n12_d3_reaches_30_digits(seed):
    """The n=12, d=3 instance of the report (463 patterns)."""
    X, y, D, sol = _general_instance(12, 3, seed)
    refined = refine_solution(X, y, BETA, D, sol, dps=50)
    cert = certify_mp(X, y, BETA, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits, gap {cert.gap}"


def _parabola_X(n: int, perturbation: np.ndarray) -> np.ndarray:
    """Points near the parabola (t, t^2): no three collinear for small noise."""
    t = np.linspace(-1, 1, n)
    return np.column_stack([t, t**2]) + 0.01 * perturbation


@settings(deadline=None, max_examples=8)
@given(
    perturbation=arrays(np.float64, (7, 2), elements=st.floats(-1, 1)),
    # labels within the range the data validation accepts (magnitudes 1e-150 to
    # 1e150; below, squares underflow and `y` is refused as bad input): the
    # thorough profile drew y = 1.2e-284 everywhere
    y=arrays(
        np.float64,
        7,
        elements=st.one_of(st.just(0.0), st.floats(1e-6, 3), st.floats(-3, -1e-6)),
    ),
    beta=st.floats(0.05, 1.0),
)
def test_general_property(perturbation, y, beta):
    X = _parabola_X(7, perturbation)
    Uf = np.asarray(whiten(X).U_prime)
    D = _all_patterns(Uf)
    assume(D.shape[1] == _pattern_bound(7, 2))
    refined = refine_solution(X, y, beta, D, _cvxpy_solution(Uf, y, beta, D))
    cert = certify_mp(X, y, beta, D, refined, dps=50, complete=True)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits, gap {cert.gap}"


# ----------------------------------------------------------------------------
# high-dimensional regime (R2)
# ----------------------------------------------------------------------------


def test_highdim_matches_closed_form_to_45_digits(highdim):
    X, y, D, sol = highdim
    refined = refine_solution(X, y, BETA, D, sol, dps=50)
    exact = highdim_optimum_mp(y, BETA, dps=50)
    assert _rel(refined.objective, exact) < 1e-45, (refined.objective, exact)
    cert = certify_mp(X, y, BETA, D, refined, dps=50, complete=True)
    assert cert.digits >= 45, f"certificate digits {cert.digits:.1f}"


def test_highdim_degenerate_split_blocks(highdim):
    """Mass split over two patterns with the same output: singular Jacobian."""
    X, y, D, sol = highdim
    column = int(np.flatnonzero(np.linalg.norm(sol.S_plus, axis=1))[0])
    widened = D[:, column] | (y == y.min())  # a zero of y_+ joins the pattern
    other = int(np.flatnonzero((D == widened[:, None]).all(axis=0))[0])
    S_plus = sol.S_plus.copy()
    S_plus[column] *= 0.3
    S_plus[other] = sol.S_plus[column] * 0.7
    split = SimpleNamespace(S_plus=S_plus, S_minus=sol.S_minus)
    refined = refine_solution(X, y, BETA, D, split, dps=50)
    exact = highdim_optimum_mp(y, BETA, dps=50)
    assert _rel(refined.objective, exact) < 1e-45, (refined.objective, exact)
    signs = sorted(sign for _, sign, _ in refined.active)
    assert signs.count(1) == 2, f"both split blocks kept: {refined.active}"


def test_tiny_blocks_are_pruned(highdim):
    X, y, D, sol = highdim
    S_minus = sol.S_minus.copy()
    S_minus[0] += 1e-12  # far below the pruning tolerance 1e-4 * sum ||s||
    refined = refine_solution(
        X, y, BETA, D, SimpleNamespace(S_plus=sol.S_plus, S_minus=S_minus)
    )
    assert all(i != 0 or sign != -1 for i, sign, _ in refined.active), refined.active


@settings(deadline=None, max_examples=10)
@given(
    perturbation=arrays(np.float64, (5, 6), elements=st.floats(-1, 1)),
    y=arrays(np.float64, 5, elements=st.floats(-10, 10)),
    beta=st.floats(0.05, 2.0),
)
def test_highdim_property(perturbation, y, beta):
    X = _highdim_X(5, perturbation)
    D = _subset_patterns(5)
    sol = _highdim_blocks(np.asarray(whiten(X).U_prime), y, beta, D)
    refined = refine_solution(X, y, beta, D, sol, dps=40)
    exact = highdim_optimum_mp(y, beta, dps=40)
    # exact > 0 unless y == 0; then both are exactly 0
    err = abs(refined.objective - exact) / max(abs(exact), mpmath.mpf(1e-300))
    assert err < 1e-35, (refined.objective, exact)


#: Found by ``bnconvex verify --thorough`` (the same X, y, beta as
#: ``verify/claims/core.py::_HIGHDIM_REFINE_STALL``): refine_solution stalled at
#: dps 30 with 2.3 certified digits.  Root cause: ``scipy.optimize.nnls``
#: returned non-optimal cone multipliers for pattern {2, 3}, the mp re-solve on
#: their support came out all <= 0 and kept them, so a dual constraint that is
#: slack at the optimum looked violated and a useless block was added again
#: and again.
_STALL_DPS30 = (
    [
        [-0.9088046017697267, 0.8644417294742947, -0.9110147871963843],
        [-0.18770857199420835, 2.9875377451093894, 0.08334237426653975],
        [-2.698646053296321, -0.45585967901910407, -1.3387428075302585],
        [1.0580126870881361, 1.1231140720051516, -1.2952882569375395],
    ],
    [0.03352964292959204, -0.4684364168120421, 1.4295053762668875, 0.26962481258994075],
    0.02,
)
#: Same root cause, another symptom (Newton stalled after the false add, 1.4
#: digits): case 90 of a scratch sweep of 150 instances n=4, d=3,
#: beta ~ U(0.005, 0.05) drawn with numpy default_rng(7).
_STALL_SWEEP = (
    [
        [0.5611664206332558, 0.42143998639528435, -1.7210624380768245],
        [0.7592792642700629, 2.9882475884033077, -1.8932899501520968],
        [1.019677621634092, 0.37850197507595706, -0.11441521971153995],
        [1.4070157400223116, -1.213596313080212, 0.16709499277851292],
    ],
    [
        1.5019546519282645,
        -0.2020985448325452,
        -0.42926303302657054,
        0.11797722239794746,
    ],
    0.025847886743101952,
)


@pytest.mark.parametrize("case", [_STALL_DPS30, _STALL_SWEEP], ids=["pinned", "sweep"])
@pytest.mark.parametrize(("dps", "digits"), [(30, 25), (50, 30)])
def test_highdim_small_beta_no_stall(case, dps, digits):
    """mp stall on _HIGHDIM_REFINE_STALL: ipm start, exact patterns, small beta."""
    X, y, beta = np.array(case[0]), np.array(case[1]), case[2]
    Uf = np.asarray(whiten(X).U_prime)
    D = _all_patterns(Uf)
    sol = solve_convex(ConvexProblem(Uf, y, beta, D), solver="ipm", tol=1e-10)
    refined = refine_solution(X, y, beta, D, sol, dps=dps, U_prime=Uf)
    cert = certify_mp(X, y, beta, D, refined, dps=dps, complete=True)
    assert cert.digits >= digits, (
        f"{cert.digits:.1f} digits after {refined.iterations} Newton steps"
    )
    exact = highdim_optimum_mp(y, beta, dps=dps)
    assert _rel(refined.objective, exact) < mpmath.mpf(10) ** -digits, exact


def test_untrusted_float_multipliers(small, small_refined, monkeypatch):
    """Float NNLS multipliers that are feasible but far from optimal (all zero).

    The certificate and the dual check must re-solve them in mp; zero
    multipliers give the valid but loose bound ``||c||`` for every cone.
    """
    X, y, D, sol = small
    monkeypatch.setattr(
        mp_refine.scipy.optimize, "nnls", lambda A, b: (np.zeros(A.shape[1]), 0.0)
    )
    refined = refine_solution(X, y, BETA, D, sol, dps=30)
    cert = certify_mp(X, y, BETA, D, refined, dps=30, complete=True)
    assert cert.digits >= 25, f"only {cert.digits:.1f} digits, gap {cert.gap}"
    assert _rel(refined.objective, small_refined.objective) < 1e-25, "same optimum"


def test_useless_added_block_does_not_cycle(monkeypatch):
    """A dual check that adds blocks the optimum does not use must not cycle.

    With the threshold halved, blocks whose cone bound lies in
    ``(beta/2, beta]`` are added, shrink under Newton and are dropped, which
    leads back to the stationary active set already seen; the rounds stop
    there.  Without that stop this instance ends after 197 Newton steps with
    3.6 certified digits (measured when the guard was written).
    """
    rng = np.random.default_rng(21)
    X, y = rng.standard_normal((7, 2)), rng.standard_normal(7)
    Uf = np.asarray(whiten(X).U_prime)
    D = _all_patterns(Uf)
    sol = solve_convex(ConvexProblem(Uf, y, BETA, D), solver="ipm")
    real = mp_refine._add_violating_block

    def eager(ctx, Up, D, y, beta, blocks, s_list, tiny):
        return real(ctx, Up, D, y, beta / 2, blocks, s_list, tiny)

    monkeypatch.setattr(mp_refine, "_add_violating_block", eager)
    refined = refine_solution(X, y, BETA, D, sol, dps=30)
    cert = certify_mp(X, y, BETA, D, refined, dps=30, complete=True)
    assert cert.digits >= 25, (
        f"{cert.digits:.1f} digits after {refined.iterations} Newton steps"
    )


def test_mp_nnls_hand_value():
    # A = [e1 + e3, e2 + e3], b = (-1, 3, 2): unconstrained LS x = (-1, 3) (exact
    # fit); with x1 = 0, min (3 - x2)^2 + (2 - x2)^2 at x2 = 2.5, and then
    # w1 = a1^T r = -1 - 0.5 < 0, so the NNLS optimum is (0, 2.5).
    ctx = mpmath.mp.clone()
    ctx.dps = 40
    A = ctx.matrix([[1, 0], [0, 1], [1, 1]])
    x = mp_linalg.nnls(ctx, A, ctx.matrix([-1, 3, 2]), ctx.mpf(10) ** -20)
    assert list(x) == [1], f"support {x}"
    assert abs(x[1] - ctx.mpf(5) / 2) < ctx.mpf(10) ** -35, x


@settings(deadline=None, max_examples=20)
@given(
    A=arrays(np.float64, (3, 5), elements=st.floats(-1, 1)),
    b=arrays(np.float64, 3, elements=st.floats(-1, 1)),
)
def test_mp_nnls_kkt(A, b):
    """Lawson-Hanson KKT: x > 0 on the support, w = A^T(b - Ax) <= tol, = 0 on it."""
    ctx = mpmath.mp.clone()
    ctx.dps = 40
    Am, bm = mp_linalg.mp_matrix(ctx, A), mp_linalg.mp_matrix(ctx, b)
    x = mp_linalg.nnls(ctx, Am, bm, ctx.mpf(10) ** -20)
    full = mp_linalg.column(ctx, [x.get(j, 0) for j in range(5)])
    w = mp_linalg.rmatvec(ctx, Am, bm - mp_linalg.matvec(ctx, Am, full))
    tol = ctx.mpf(10) ** -18
    assert all(v > 0 for v in x.values()), x
    assert all(w[j] <= tol for j in range(5)), w
    assert all(abs(w[j]) <= tol for j in x), (w, x)


def test_highdim_optimum_mp_hand_value():
    # y = (3, -4), beta = 1: ||y+|| = 3 -> 3 - 1/2; ||y-|| = 4 -> 4 - 1/2; total 6.
    assert highdim_optimum_mp([3.0, -4.0], 1.0, dps=30) == 6, "h_1(3) + h_1(4)"
    # beta = 10 > both norms: (9 + 16)/2
    assert highdim_optimum_mp([3.0, -4.0], 10.0, dps=30) == 12.5, "quadratic branch"


# ----------------------------------------------------------------------------
# precision hygiene and bad input
# ----------------------------------------------------------------------------


def test_precision_restored(small, small_refined):
    X, y, D, sol = small
    mpmath.mp.dps = 21
    whiten_mp(X, dps=40)
    refine_solution(X, y, BETA, D, sol, dps=30)
    certify_mp(X, y, BETA, D, small_refined, dps=30)
    highdim_optimum_mp(y, BETA, dps=45)
    with pytest.raises(InputError):
        whiten_mp(np.ones((3, 2)), dps=40)
    assert mpmath.mp.dps == 21, f"mp.dps left at {mpmath.mp.dps}"


def test_private_context(small, small_refined):
    """A separate MPContext gives the same digits and leaves mpmath.mp alone."""
    X, y, D, sol = small
    ctx = mpmath.MPContext()
    mpmath.mp.dps = 17
    refined = refine_solution(X, y, BETA, D, sol, dps=50, ctx=ctx)
    cert = certify_mp(X, y, BETA, D, refined, dps=50, ctx=ctx)
    assert (mpmath.mp.dps, ctx.dps) == (17, 15), (mpmath.mp.dps, ctx.dps)
    assert cert.digits >= 30, f"only {cert.digits:.1f} digits"
    with mpmath.workdps(60):
        diff = abs(refined.objective - small_refined.objective)
    assert diff < 1e-45, f"objective differs by {diff} from the mpmath.mp run"


@pytest.mark.parametrize("dps", [10, 14, 20.5, True])
def test_bad_dps(small, small_refined, dps):
    X, y, D, sol = small
    calls = [
        lambda: whiten_mp(X, dps=dps),
        lambda: refine_solution(X, y, BETA, D, sol, dps=dps),
        lambda: certify_mp(X, y, BETA, D, small_refined, dps=dps),
        lambda: highdim_optimum_mp(y, BETA, dps=dps),
    ]
    for call in calls:
        with pytest.raises(InputError, match="`dps` must be an integer >= 15"):
            call()


def test_bad_solution_and_patterns(small, small_refined):
    X, y, D, sol = small
    with pytest.raises(InputError, match="`solution` must have attributes"):
        refine_solution(X, y, BETA, D, object())
    short = SimpleNamespace(S_plus=sol.S_plus[:-1], S_minus=sol.S_minus[:-1])
    with pytest.raises(InputError, match="`solution` blocks must both have shape"):
        refine_solution(X, y, BETA, D, short)
    with pytest.raises(InputError, match="`D` must"):
        refine_solution(X, y, BETA, D[:-1], sol)
    with pytest.raises(InputError, match="`mp_solution` has P="):
        certify_mp(X, y, BETA, D[:, :-1], small_refined)
    with pytest.raises(InputError, match="`U_prime` must have shape"):
        refine_solution(X, y, BETA, D, sol, U_prime=np.eye(8))
    with pytest.raises(InputError, match="`prune_rtol` must lie in"):
        refine_solution(X, y, BETA, D, sol, prune_rtol=2.0)
    with pytest.raises(InputError, match="`max_iter` must be a positive integer"):
        refine_solution(X, y, BETA, D, sol, max_iter=0)
    with pytest.raises(InputError, match="`X` is not the data"):
        certify_mp(X + 1.0, y, BETA, D, small_refined)
    with pytest.raises(InputError, match="`rtol` must lie in"):
        whiten_mp(X, dps=30, rtol=0.0)


@pytest.mark.parametrize("failures", [1, 2])
def test_mp_svd_recovers_when_mpmath_does_not_converge(monkeypatch, failures):
    # mpmath's svd_r raised "svd: no convergence to an eigenvalue after 165
    # iterations" inside pinv_solve on a Hypothesis example of
    # test_highdim_property (a 5 x 6 matrix with a 1.6e-39 entry); simulate it
    ctx = mpmath.mp.clone()
    ctx.dps = 30
    A = ctx.matrix([[1, 2, 3], [4, 5, 6.5]])
    real, calls = ctx.svd_r, []

    def flaky(M, **kw):
        calls.append(M.rows)
        if len(calls) <= failures:
            raise RuntimeError("svd: no convergence to an eigenvalue")
        return real(M, **kw)

    monkeypatch.setattr(ctx, "svd_r", flaky)
    U, S, Vt = mp_linalg.svd(ctx, A, full_matrices=False)
    assert calls == [2, 2, 3][: failures + 1], calls  # the last retry is on A^T
    back = U * ctx.diag(S) * Vt
    err = max(abs(back[i, j] - A[i, j]) for i in range(2) for j in range(3))
    assert err < ctx.mpf(10) ** -28, err
