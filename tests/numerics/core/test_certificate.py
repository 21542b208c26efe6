import numpy as np
import pytest
from bnconvex.numerics.core.arrangements import sample_patterns
from bnconvex.numerics.core.bn import convert_beta
from bnconvex.numerics.core.certificate import (
    certify_network,
    certify_predictions,
    dual_constraint_bound,
    dual_objective,
)
from bnconvex.numerics.core.closed_form import highdim_prediction, universal_lower_bound
from bnconvex.numerics.core.convex_program import (
    cone_violation,
    convex_objective,
    predict,
)
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.core.reconstruct import convex_to_network
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.solvers import solve_convex
from bnconvex.verify.strategies import highdim_instances, regression_instances
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.common.assertions import assert_rel_close
from tests.numerics._convex_cases import (
    exact_case,
    exact_problem_from_data,
    ipm_solution,
    seeded_data,
)

EPS = np.finfo(float).eps


def test_dual_objective_by_hand():
    # -0.5|v - y|^2 + 0.5|y|^2 with y = (1, 2), v = (1, 0): -0.5*4 + 0.5*5 = 0.5
    assert dual_objective([1.0, 2.0], [1.0, 0.0]) == 0.5
    assert dual_objective([1.0, 2.0], [0.0, 0.0]) == 0.0


def test_constraint_bound_on_the_quadrant():
    # U' = I, one pattern D = (1, 1): K = quadrant, c = v; max over K and the
    # unit ball of |v.s| is max(|v_+|, |v_-|) = max(3, 4) = 4 for v = (3, -4)
    bound = dual_constraint_bound(np.eye(2), np.ones((2, 1), bool), [3.0, -4.0])
    assert 4.0 <= bound <= 4.0 * (1 + 32 * EPS), f"bound {bound!r} vs 4"


@pytest.mark.parametrize("seed", [0, 1])
def test_constraint_bound_dominates_and_matches_brute_force(seed):
    # brute force: |v^T (U's)_+| over 200,000 random unit s in R^3 (a lower bound
    # of the true max); the rigorous bound must be above it and close to it
    _, prob = exact_case(7, 2, seed, 0.1)
    v = np.random.default_rng(seed).standard_normal(7)
    s = np.random.default_rng(10 + seed).standard_normal((3, 200_000))
    s /= np.linalg.norm(s, axis=0)
    brute = np.max(np.abs(v @ np.maximum(prob.U_prime @ s, 0)))
    bound = dual_constraint_bound(prob.U_prime, prob.D, v)
    assert brute <= bound <= brute * (1 + 1e-3), f"bound {bound} vs sampled max {brute}"


@st.composite
def feasible_points(draw):
    """An exact-pattern problem and a feasible point (each s in its own region)."""
    inst = draw(regression_instances((4, 7), (1, 2)))
    prob = exact_problem_from_data(inst["X"], inst["y"], inst["beta"])
    k = draw(st.integers(1, 4))
    s = draw(st.lists(st.floats(-2, 2), min_size=k * prob.m, max_size=k * prob.m))
    S = [np.zeros((prob.P, prob.m)), np.zeros((prob.P, prob.m))]
    index = {tuple(col): i for i, col in enumerate(prob.D.T)}
    for j, row in enumerate(np.reshape(s, (k, prob.m))):
        pattern = tuple(prob.U_prime @ row >= 0)
        if pattern in index:  # the all-off pattern is not a column of D
            S[j % 2][index[pattern]] += row
    return prob, S[0], S[1]


@given(point=feasible_points())
@settings(max_examples=15, deadline=None)
def test_lower_bound_never_exceeds_objective(point):
    prob, S_plus, S_minus = point
    assert cone_violation(prob, S_plus, S_minus) <= 1e-12
    obj = convex_objective(prob, S_plus, S_minus)
    cert = certify_predictions(prob, predict(prob, S_plus, S_minus), obj, complete=True)
    assert cert.lower_bound <= obj * (1 + 1e-12), f"{cert.lower_bound} > {obj}"
    assert cert.universal_bound <= cert.global_lower_bound <= obj * (1 + 1e-12)
    # weak duality against the optimum: no point can beat the certified bound
    assert cert.lower_bound <= solve_convex(prob, tol=1e-9).objective * (1 + 1e-9)


@pytest.mark.parametrize("case", [(8, 3, 1, 0.05), (10, 2, 2, 0.3)])
def test_certificate_is_tight_at_the_optimum(case):
    sol, prob = ipm_solution(*case), exact_case(*case)[1]
    yhat = predict(prob, sol.S_plus, sol.S_minus)
    cert = certify_predictions(prob, yhat, sol.objective, complete=True)
    assert cert.bound_kind == "global"
    assert 0 <= cert.relative_gap <= 1e-9, f"relative gap {cert.relative_gap:.2e}"
    # (d) the dual constraint is tight: some block is active, so b(y - yhat) = beta
    assert np.any(sol.S_plus) or np.any(sol.S_minus), "expected an active block"
    assert_rel_close(cert.constraint_bound, prob.beta, 1e-7, "dual constraint bound")
    assert cert.dual_scale > 1 - 1e-7


def _balanced_std_network(net_a: BNNetwork, n: int) -> BNNetwork:
    """The same function in std BN with the AM-GM balanced penalty.

    BN_std(gamma, alpha) = sqrt(n) BN_a(gamma, alpha), so (gamma, alpha) / sqrt(n)
    gives the same BN output; scaling (gamma, alpha) by c = n**0.25 and v by 1/c keeps
    the function and makes gamma^2 + alpha^2 = v^2 again (net_a is balanced).
    """
    c = n**0.25
    return BNNetwork(
        net_a.W,
        net_a.gamma * c / np.sqrt(n),
        net_a.alpha * c / np.sqrt(n),
        net_a.v / c,
        convention="std",
    )


NET_CASE = (8, 3, 1, 0.05)


def _optimal_network(case):
    """Data, problem, ipm solution and the network rebuilt from it (claim 9)."""
    wh, prob = exact_case(*case)
    sol = ipm_solution(*case)
    X, y = seeded_data(*case[:3])
    return X, y, prob, sol, convex_to_network(wh, sol.S_plus, sol.S_minus)


def test_convention_std_gives_the_same_optimum():
    n, beta = NET_CASE[0], NET_CASE[3]
    X, y, _, sol, net_a = _optimal_network(NET_CASE)
    cert_a = certify_network(net_a, X, y, beta)
    beta_std = beta * np.sqrt(n)
    assert convert_beta(beta_std, n, source="std", target="a") == pytest.approx(
        beta, 1e-15
    )
    cert_std = certify_network(_balanced_std_network(net_a, n), X, y, beta_std)
    for cert in (cert_a, cert_std):
        assert cert.bound_kind == "global"
        assert_rel_close(cert.objective, sol.objective, 1e-9, "network objective")
        assert 0 <= cert.relative_gap <= 1e-8, f"relative gap {cert.relative_gap:.2e}"
    assert_rel_close(cert_std.lower_bound, cert_a.lower_bound, 1e-12, "lower bound")


def test_sampled_patterns_fall_back_to_the_universal_bound():
    beta = NET_CASE[3]
    X, y, prob, _, net = _optimal_network(NET_CASE)
    D = sample_patterns(prob.U_prime, 20, seed=0)
    cert = certify_network(net, X, y, beta, D=D)
    assert cert.bound_kind == "patterns"
    assert (
        cert.global_lower_bound
        == cert.universal_bound
        == universal_lower_bound(y, beta)
    )
    assert cert.universal_bound <= cert.objective


def test_bad_inputs():
    _, prob = exact_case(6, 2, 0, 0.1)
    with pytest.raises(
        InputError, match=r"`yhat` must have one entry per sample \(n=6\)"
    ):
        certify_predictions(prob, np.zeros(5), 1.0)
    with pytest.raises(InputError, match=r"`primal_objective` must be finite; got nan"):
        certify_predictions(prob, np.zeros(6), float("nan"))
    with pytest.raises(InputError, match=r"`primal_objective` must be finite; got '1'"):
        certify_predictions(prob, np.zeros(6), "1")
    with pytest.raises(InputError, match=r"`yhat` contains NaN or infinite values"):
        certify_predictions(prob, np.full(6, np.inf), 1.0)
    with pytest.raises(InputError, match="`problem` must be a ConvexProblem; got dict"):
        certify_predictions({}, np.zeros(6), 1.0)
    with pytest.raises(InputError, match=r"`v` must have one entry per sample \(n=2\)"):
        dual_objective([1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="`v` contains NaN or infinite values"):
        dual_objective([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(InputError, match=r"`D` must have n=6 rows \(samples\); got 5"):
        dual_constraint_bound(prob.U_prime, prob.D[:5], np.zeros(6))
    net = BNNetwork(np.ones((2, 1)), [1.0], [0.0], [1.0])
    X, _ = seeded_data(6, 2, 0)
    with pytest.raises(InputError, match=r"`y` must be 1-D \(scalar output\)"):
        certify_network(net, X, np.ones((6, 2)), 0.1)
    with pytest.raises(InputError, match=r"`beta` must be a positive"):
        certify_network(net, X, np.ones(6), -0.1)
    with pytest.raises(InputError, match=r"`num_samples` must be a positive integer"):
        certify_network(net, X, np.ones(6), 0.1, num_samples=0)
    with pytest.raises(InputError, match=r"`X` contains 2 NaN or infinite value"):
        # np.eye(6, 2) has two ones: (0, 0) and (1, 1)
        certify_network(net, np.where(np.eye(6, 2) > 0, np.nan, X), np.ones(6), 0.1)
    with pytest.raises(InputError, match=r"`D` column 0 is all zero"):
        certify_network(net, X, np.ones(6), 0.1, D=np.zeros((6, 1)))


def _highdim_seed26():
    """Instance where scipy.optimize.nnls (SciPy 1.17) gave non-optimal multipliers.

    The bound came out 1.08 instead of beta = 0.82 (found by a stress run).
    """
    rng = np.random.default_rng(26)
    n = int(rng.integers(3, 9))
    d = n - 1 + int(rng.integers(0, 3))
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    return X, y, float(10 ** rng.uniform(-2, 0.3))


@given(inst=highdim_instances((3, 7), (0.05, 1.0)))
@settings(max_examples=10, deadline=None)
@example(inst=dict(zip(("X", "y", "beta"), _highdim_seed26(), strict=True)))  # NNLS bug
def test_bound_is_beta_at_the_closed_form_optimum(inst):
    # rank(CX) = n - 1: the R2 prediction is optimal, so b(y - f*) = beta whenever a
    # neuron is active (|y+| > beta or |y-| > beta), else b(y) <= beta
    X, y, beta = inst["X"], inst["y"], inst["beta"]
    prob = exact_problem_from_data(X, y, beta)
    bound = dual_constraint_bound(prob.U_prime, prob.D, y - highdim_prediction(y, beta))
    active = max(np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0)))
    if active > beta:
        assert_rel_close(bound, beta, 1e-12, "dual constraint bound at the optimum")
    else:
        assert bound <= beta * (1 + 1e-12), f"bound {bound} > beta {beta}"


def test_cone_norms_reach_the_mp_nnls_optimum():
    """The batched active-set cone norms against the mpmath NNLS (dps 30).

    Gaussian ``U`` (p x k rows, k in 2..5, p in 2..7) with one all-ones pattern,
    every third with a duplicated row (a degenerate vertex); the cone norm is
    ``min ||c + U^T x||`` over ``x >= 0``, i.e. NNLS with ``A = U^T``,
    ``b = -c``; the two values agree to rounding, relative to ``||b||``.
    """
    import mpmath  # a required dependency: no importorskip
    from bnconvex.numerics.core.cone_norms import cone_norms
    from bnconvex.numerics.highprec import _mp_linalg as L

    rng = np.random.default_rng(0)
    for case in range(30):
        k, p = int(rng.integers(2, 6)), int(rng.integers(2, 8))
        A, b = rng.standard_normal((k, p)), rng.standard_normal(k)
        if case % 3 == 0:
            A[:, 1] = A[:, 0]
        out = cone_norms(A.T.copy(), np.ones((p, 1), bool), np.zeros(1, int), -b[None])
        ctx = mpmath.mp.clone()
        ctx.dps = 30
        Am, bm = L.mp_matrix(ctx, A), L.mp_matrix(ctx, b)
        xm = L.nnls(ctx, Am, bm, ctx.mpf(10) ** -20)
        full = L.column(ctx, [xm.get(j, 0) for j in range(p)])
        best = float(L.norm(ctx, bm - L.matvec(ctx, Am, full)))
        # relative to ||b||: the residual is 0 when b lies in the cone (k < p)
        err = abs(float(out.bound[0]) - best) / np.linalg.norm(b)
        assert err <= 1e-12, f"case {case}: residual off by {err:.2e} of ||b||"
