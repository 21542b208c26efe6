"""Full-scale convex BN solver: Clarabel agreement, backends, checkpoints, errors."""

import dataclasses

import numpy as np
import pytest
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale import (
    fit,
    sample_patterns,
    solve_fullscale,
    solve_path,
)
from bnconvex.numerics.status import SolverStatus

from tests.common.assertions import assert_rel_close, xp_assert_close
from tests.common.extras import import_test_extra

BETA = 0.1


def _instance(n=30, d=2, num=24, seed=0, K=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if K is None:
        y = np.sin(X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)
    else:
        y = np.eye(K)[rng.integers(0, K, n)]
    F = np.asarray(whiten(X).U_prime)
    D, _ = sample_patterns(F, num, seed=seed)
    return F, y, D


def _cvxpy_value(F, y, D, beta, *, gated):
    cp = import_test_extra("cvxpy")
    m, P = F.shape[1], D.shape[1]
    Sp, Sm = cp.Variable((m, P)), cp.Variable((m, P))
    Df = D.astype(float)
    pred = cp.sum(cp.multiply(Df, F @ (Sp - Sm)), axis=1)
    norms = cp.sum(cp.norm(Sp, 2, axis=0)) + cp.sum(cp.norm(Sm, 2, axis=0))
    E = 2 * Df - 1
    cons = [] if gated else [cp.multiply(E, F @ Sp) >= 0, cp.multiply(E, F @ Sm) >= 0]
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(pred - y) + beta * norms), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value


def test_neurons_counts_nonzero_pattern_sign_class_blocks():
    F, Y, D = _instance(n=12, num=3, K=2)
    sol = solve_fullscale(F, Y, BETA, D, max_iter=5)
    Sp = np.zeros((3, F.shape[1], 2))  # (P, m, K)
    Sm = np.zeros_like(Sp)
    Sp[0, :, 0] = 1.0
    Sp[0, 1, 1] = -2.0  # same pattern, other class: another neuron
    Sm[2, 2, 1] = 1e-3
    assert dataclasses.replace(sol, S_plus=Sp, S_minus=Sm).neurons == 3
    one = dataclasses.replace(sol, S_plus=Sp[:, :, 0], S_minus=Sm[:, :, 0])
    assert one.neurons == 1


@pytest.mark.parametrize("method", ["admm", "al"])
def test_exact_program_matches_clarabel(method):
    F, y, D = _instance()
    ref = _cvxpy_value(F, y, D, BETA, gated=False)
    sol = solve_fullscale(F, y, BETA, D, method=method, tol=1e-8)
    assert sol.status == SolverStatus.OPTIMAL, sol.status
    assert sol.max_violation <= 1e-6, sol.max_violation
    # reference: CVXPY + Clarabel at 1e-10 tolerances on the same program
    assert_rel_close(sol.objective, ref, 1e-6, "objective vs Clarabel")
    assert sol.lower_bound <= ref * (1 + 1e-9), (sol.lower_bound, ref)


def test_gated_relaxation_below_exact_and_matches_clarabel():
    F, y, D = _instance(seed=1)
    gated = solve_fullscale(F, y, BETA, D, gated=True, tol=1e-8)
    exact = solve_fullscale(F, y, BETA, D, tol=1e-8)
    assert_rel_close(
        gated.objective, _cvxpy_value(F, y, D, BETA, gated=True), 1e-6, "gated"
    )
    # the gated relaxation drops constraints: its optimum cannot exceed the exact one
    assert gated.objective <= exact.objective * (1 + 1e-8), (
        gated.objective,
        exact.objective,
    )
    assert gated.max_violation == 0.0


def test_vector_output_class_groups_equal_separate_programs():
    F, Y, D = _instance(n=24, K=3, seed=2)
    joint = solve_fullscale(F, Y, BETA, D, tol=1e-8)
    separate = sum(
        solve_fullscale(F, Y[:, k], BETA, D, tol=1e-8).objective for k in range(3)
    )
    assert joint.S_plus.shape == (D.shape[1], F.shape[1], 3)
    assert_rel_close(joint.objective, separate, 1e-6, "joint vs per-class programs")


def test_pattern_groups_lower_than_class_groups():
    # Frobenius groups per (pattern, sign) relax the per-class penalty:
    # sum_k ||s_k|| >= ||S||_F
    F, Y, D = _instance(n=24, K=2, seed=3)
    per_class = solve_fullscale(F, Y, BETA, D, tol=1e-7)
    per_pattern = solve_fullscale(
        F, Y, BETA, D, group="pattern", tol=1e-5, max_iter=20000
    )
    assert per_pattern.lower_bound <= per_class.objective * (1 + 1e-7)
    assert per_pattern.objective <= per_class.objective * (1 + 1e-5)


@pytest.mark.parametrize(
    "kw",
    [
        dict(max_iter=5, polish=False, method="admm"),
        dict(max_iter=30, polish=False, method="al"),  # the CIFAR-scale path
        dict(max_iter=30, polish=False, method="al", gated=True),
    ],
    ids=["admm", "al", "al-gated"],
)
def test_array_api_strict_matches_numpy(xp, kw):
    F, y, D = _instance(n=20, num=10, seed=4)
    ref = solve_fullscale(F, y, BETA, D, **kw)
    sol = solve_fullscale(xp.asarray(F), xp.asarray(y), BETA, xp.asarray(D), **kw)
    xp_assert_close(sol.S_plus, xp.asarray(ref.S_plus), rtol=1e-10, atol=1e-12)
    xp_assert_close(sol.S_minus, xp.asarray(ref.S_minus), rtol=1e-10, atol=1e-12)
    assert_rel_close(sol.objective, ref.objective, 1e-10, "objective across backends")


@pytest.mark.parametrize(
    ("method", "extra"),
    [("admm", {}), ("al", {}), ("al", {"dual_step": 0.125})],
)
def test_checkpoint_resume_gives_identical_iterates(tmp_path, method, extra):
    F, y, D = _instance(n=20, num=10, seed=5)
    kw = dict(method=method, polish=False, tol=1e-12, **extra)
    full = solve_fullscale(F, y, BETA, D, max_outer=4, **kw)
    path = tmp_path / "ckpt.npz"
    solve_fullscale(F, y, BETA, D, max_outer=2, checkpoint=path, **kw)
    resumed = solve_fullscale(F, y, BETA, D, max_outer=4, resume=path, **kw)
    assert resumed.iterations == full.iterations
    np.testing.assert_array_equal(resumed.S_plus, full.S_plus)
    np.testing.assert_array_equal(resumed.S_minus, full.S_minus)


def test_float32_solution_close_to_float64():
    F, y, D = _instance(seed=6)
    s64 = solve_fullscale(F, y, BETA, D, tol=1e-7)
    s32 = solve_fullscale(F.astype(np.float32), y, BETA, D, tol=1e-4, viol_tol=1e-4)
    assert s32.S_plus.dtype == np.float32
    # float32 working precision: objective to ~1e-4 relative
    assert_rel_close(s32.objective, s64.objective, 1e-3, "float32 objective")


def test_path_warm_starts_are_optimal_and_monotone():
    F, y, D = _instance(seed=7)
    sols = solve_path(F, y, [0.05, 0.2, 0.1], D, tol=1e-7)
    assert [s.beta for s in sols] == [0.2, 0.1, 0.05]
    assert all(s.status == SolverStatus.OPTIMAL for s in sols), [s.status for s in sols]
    objs = [s.objective for s in sols]
    assert objs[0] >= objs[1] >= objs[2], objs


def test_fit_predict_reproduces_training_predictions():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40, 3))
    y = np.tanh(X[:, 0]) + 0.1 * rng.standard_normal(40)
    model = fit(X, y, BETA, patterns=32, seed=0, tol=1e-7)
    assert model.solution.status == SolverStatus.OPTIMAL
    # feasible blocks: (U's)_+ = D_i U's, so the ReLU network equals the
    # convex prediction
    xp_assert_close(model.predict(X), model.solution.predictions, rtol=0, atol=1e-5)
    gated = fit(X, y, BETA, patterns=32, seed=0, gated=True, tol=1e-7)
    xp_assert_close(gated.predict(X), gated.solution.predictions, rtol=0, atol=1e-9)


def test_fit_std_convention_rescales_beta():
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((16, 2)), rng.standard_normal(16)
    model = fit(X, y, 0.4, bn="std", patterns=8, max_iter=3, polish=False)
    assert model.beta_a == pytest.approx(0.1, rel=1e-15)  # 0.4 / sqrt(16)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(F=np.ones(5)), r"`F` must be a 2-D real floating array"),
        (dict(y=np.ones(4)), r"`y` must have shape \(n,\) or \(n, K\) with n=5"),
        (
            dict(D=np.ones((4, 2), bool)),
            r"`D` must be an \(n, P\) pattern array with n=5",
        ),
        (dict(beta=-1.0), r"`beta` must be a positive"),
        (dict(group="rows"), r"`group` must be 'class' or 'pattern'; got 'rows'"),
        (
            dict(method="newton"),
            r"`method` must be 'auto', 'al', 'admm' or 'working-set'; got 'newton'",
        ),
        (dict(max_iter=0), r"`max_iter` must be a positive integer; got 0"),
        (dict(dual_step=0.0), r"`dual_step` must be in \(0, 1\]; got 0\.0"),
        (dict(dual_step=1.5), r"`dual_step` must be in \(0, 1\]; got 1\.5"),
        (dict(dual_step=float("nan")), r"`dual_step` must be in \(0, 1\]; got nan"),
        (dict(dual_step=True), r"`dual_step` must be a number in \(0, 1\]"),
        (
            dict(dual_step=0.5, method="admm"),
            r"`dual_step` applies to the augmented Lagrangian only .* uses ADMM",
        ),
        (
            dict(gated=True, method="working-set"),
            r"`method`='working-set' .* needs gated=False and group='class'",
        ),
        (
            dict(group="pattern", method="working-set"),
            r"`method`='working-set' .* needs gated=False and group='class'",
        ),
        (
            dict(dual_step=0.5, method="working-set"),
            r"`dual_step` applies to the augmented Lagrangian only; method=",
        ),
    ],
)
def test_bad_input_messages(kwargs, match):
    args = dict(F=np.eye(5, 3), y=np.ones(5), beta=0.1, D=np.ones((5, 2), bool))
    extra = {k: kwargs.pop(k) for k in list(kwargs) if k not in args}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        solve_fullscale(args["F"], args["y"], args["beta"], args["D"], **extra)


def test_resume_from_other_problem_is_rejected(tmp_path):
    F, y, D = _instance(n=20, num=10, seed=10)
    path = tmp_path / "c.npz"
    solve_fullscale(
        F, y, BETA, D, max_iter=3, checkpoint=path, method="admm", polish=False
    )
    with pytest.raises(
        InputError, match=r"`resume` checkpoint .* is for another problem"
    ):
        solve_fullscale(F, y, BETA, D, resume=path, method="al")
    with pytest.raises(InputError, match=r"`resume` must be a checkpoint \.npz"):
        solve_fullscale(F, y, BETA, D, resume=tmp_path / "missing.npz")


def test_sample_patterns_deterministic_and_distinct():
    F, _, _ = _instance(n=25, seed=11)
    D1, g1 = sample_patterns(F, 50, seed=3)
    D2, _ = sample_patterns(F, 50, seed=3)
    np.testing.assert_array_equal(D1, D2)
    assert np.array_equal(D1, F @ g1 >= 0), "gates must reproduce the patterns"
    assert len({c.tobytes() for c in D1.T}) == D1.shape[1], "duplicate patterns"
    assert D1.any(axis=0).all(), "the empty pattern must be dropped"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(beta=0.2), r"beta differs \(checkpoint 0\.1, this call 0\.2\)"),
        (dict(n=19), r"n differs \(checkpoint 20, this call 19\)"),
        (dict(dtype=np.float32), r"dtype differs \(checkpoint 'float64'"),
        (dict(y_shift=0.5), r"the data `Y` differs"),
        (dict(F_bump=1e-2), r"the data `F` differs"),
        (dict(D_flip=True), r"the data `D` differs"),
    ],
)
def test_resume_with_other_beta_n_dtype_or_data_is_rejected(tmp_path, change, match):
    F, y, D = _instance(n=20, num=10, seed=12)
    kw = dict(method="al", polish=False, max_iter=3)
    path = tmp_path / "c.npz"
    solve_fullscale(F, y, BETA, D, checkpoint=path, **kw)
    n = change.get("n", 20)
    F2, y2, D2 = F[:n].astype(change.get("dtype", F.dtype)), y[:n].copy(), D[:n].copy()
    y2 += change.get("y_shift", 0.0)
    F2[7, 1] += change.get("F_bump", 0.0)
    if change.get("D_flip"):
        D2[3, 2] = ~D2[3, 2]
    with pytest.raises(InputError, match=r"`resume` checkpoint .* another problem: "):
        solve_fullscale(F2, y2, change.get("beta", BETA), D2, resume=path, **kw)
    with pytest.raises(InputError, match=match):
        solve_fullscale(F2, y2, change.get("beta", BETA), D2, resume=path, **kw)


@pytest.mark.parametrize("method", ["admm", "al"])
def test_resume_with_exhausted_budget_takes_no_step(tmp_path, method):
    F, y, D = _instance(n=20, num=10, seed=13)
    kw = dict(method=method, polish=False, tol=1e-12, max_iter=5)
    path = tmp_path / "c.npz"
    first = solve_fullscale(F, y, BETA, D, checkpoint=path, **kw)
    assert first.iterations == 5
    resumed = solve_fullscale(F, y, BETA, D, resume=path, **kw)
    assert resumed.iterations == first.iterations
    assert resumed.status == SolverStatus.MAX_ITERATIONS
    np.testing.assert_array_equal(resumed.S_plus, first.S_plus)
    assert resumed.max_violation == first.max_violation
    assert resumed.gap_certified == first.gap_certified


@pytest.mark.parametrize("method", ["admm", "al"])
def test_warm_start_float64_into_float32_casts_multipliers(xp, method):
    F, y, D = _instance(n=20, num=10, seed=14)
    kw = dict(max_iter=5, polish=False, method=method)
    Fx, yx, Dx = xp.asarray(F), xp.asarray(y), xp.asarray(D)
    s64 = solve_fullscale(Fx, yx, 2 * BETA, Dx, **kw)
    assert s64.multipliers.dtype == xp.float64
    s32 = solve_fullscale(xp.astype(Fx, xp.float32), yx, BETA, Dx, init=s64, **kw)
    assert s32.S_plus.dtype == xp.float32
    assert s32.multipliers.dtype == xp.float32


def test_auto_solves_each_class_exactly_unless_beta_and_budget_are_small(monkeypatch):
    """Above the ADMM limit "auto" picks the working set by columns, beta, time."""
    from bnconvex.numerics.fullscale import solver as solver_mod

    F, y, D = _instance(n=20, num=10, seed=15)
    monkeypatch.setattr(solver_mod, "_ADMM_MAX_N", 10)
    ratio = solver_mod.WORKING_SET_MIN_RATIO
    B = solve_fullscale(F, y, BETA, D, max_iter=1, polish=False).beta_max
    big, tiny = 2 * ratio * B, 0.5 * ratio * B
    exact = solve_fullscale(F, y, big, D, dual_step=0.5, workers=2)
    # the AL's dual step and the worker count pass to the method picked
    assert exact.method == "working-set", exact.method
    assert exact.status == SolverStatus.OPTIMAL
    assert exact.gap_certified
    # a tiny beta: exact when the worst case fits the budget (or none is set)
    need = solver_mod.working_set_seconds(20, F.shape[1], D.shape[1], 1)
    assert need < 1e-3
    assert solve_fullscale(F, y, tiny, D, time_limit=60.0).method == "working-set"
    assert solve_fullscale(F, y, tiny, D).method == "working-set"
    monkeypatch.setattr(solver_mod, "WORKING_SET_RATE", need * 1e-3)  # 1000 s
    short = solve_fullscale(F, y, tiny, D, time_limit=5.0, max_iter=2, workers=2)
    assert short.method == "al", short.method
    long = solve_fullscale(F, y, big, D, time_limit=5.0)
    assert long.method == "working-set", "a large beta is exact at any budget"
    monkeypatch.setattr(solver_mod, "CLASSWISE_MAX_M", F.shape[1] - 1)
    wide = solve_fullscale(F, y, big, D, max_iter=2, polish=False)
    assert wide.method == "al", wide.method


def test_explicit_admm_above_the_auto_limit_is_refused(monkeypatch):
    from bnconvex.numerics.fullscale import solver as solver_mod

    F, y, D = _instance(n=20, num=10, seed=15)
    monkeypatch.setattr(solver_mod, "_ADMM_MAX_N", 10)
    monkeypatch.setattr(solver_mod, "CLASSWISE_MAX_M", 0)  # no exact per-class solve
    # "auto" keeps its choice: the matrix-free AL method above the limit
    assert solve_fullscale(F, y, BETA, D, max_iter=2, polish=False).method == "al"

    def no_allocation(*args, **kwargs):
        raise AssertionError("the operator was built before the method check")

    monkeypatch.setattr(solver_mod, "ChunkedOperator", no_allocation)
    with pytest.raises(
        InputError, match=r"`method`='admm' .* limited to n <= 10; got n=20"
    ):
        solve_fullscale(F, y, BETA, D, method="admm")


@pytest.mark.parametrize("method", ["admm", "al"])
def test_gap_certified_only_at_points_meeting_viol_tol(method):
    F, y, D = _instance(n=20, num=10, seed=16)
    early = solve_fullscale(
        F, y, BETA, D, method=method, max_iter=1, viol_tol=1e-12, polish=False
    )
    assert early.status == SolverStatus.MAX_ITERATIONS
    assert early.max_violation > 1e-12, early.max_violation
    assert early.gap_certified is False
    done = solve_fullscale(F, y, BETA, D, method=method, tol=1e-7)
    assert done.status == SolverStatus.OPTIMAL, done.status
    assert done.gap_certified is True
    assert done.max_violation <= 1e-6


@pytest.mark.parametrize("dual_step", [0.03, 0.3, 1.0])
def test_under_relaxed_multiplier_step_reaches_the_clarabel_optimum(dual_step):
    # theta doubles every round, so the method ends as the textbook one; held
    # constant at 0.3 this instance had no certificate after 20,000 iterations
    F, y, D = _instance(seed=14)
    ref = _cvxpy_value(F, y, D, BETA, gated=False)
    sol = solve_fullscale(F, y, BETA, D, method="al", dual_step=dual_step, tol=1e-8)
    assert sol.status == SolverStatus.OPTIMAL, sol.status
    assert sol.max_violation <= 1e-6, sol.max_violation
    # reference: CVXPY + Clarabel at 1e-10 tolerances on the same program
    assert_rel_close(sol.objective, ref, 1e-6, f"dual step {dual_step} vs Clarabel")


def test_under_relaxed_multiplier_step_changes_the_iterates():
    F, y, D = _instance(seed=15)
    kw = dict(method="al", polish=False, max_iter=400, tol=1e-12)
    full = solve_fullscale(F, y, BETA, D, **kw)
    half = solve_fullscale(F, y, BETA, D, dual_step=0.5, **kw)
    assert full.outer_iterations > 1, "needs a multiplier update to differ"
    assert not np.array_equal(full.multipliers, half.multipliers)


def test_resume_with_other_dual_step_is_rejected(tmp_path):
    F, y, D = _instance(n=20, num=10, seed=16)
    kw = dict(method="al", polish=False, max_iter=3)
    path = tmp_path / "c.npz"
    solve_fullscale(F, y, BETA, D, checkpoint=path, dual_step=0.5, **kw)
    solve_fullscale(F, y, BETA, D, resume=path, dual_step=0.5, **kw)  # same: fine
    with pytest.raises(
        InputError, match=r"dual_step differs \(checkpoint 0\.5, this call 1\.0\)"
    ):
        solve_fullscale(F, y, BETA, D, resume=path, **kw)


@pytest.mark.parametrize("method", ["admm", "al"])
@pytest.mark.parametrize("seed", [0, 3])
def test_beta_max_is_where_the_zero_solution_becomes_optimal(method, seed):
    F, Y, D = _instance(n=40, seed=seed, K=3)
    probe = solve_fullscale(F, Y, 1.0, D, method=method, max_iter=1)
    beta_max = probe.beta_max
    assert beta_max > 0
    zero_value = 0.5 * float(np.sum(Y**2))
    above = solve_fullscale(F, Y, 1.001 * beta_max, D, method=method, tol=1e-8)
    # at beta >= beta_max the dual point v = Y is feasible, so S = 0 is optimal
    # and certified: no block leaves zero
    assert above.status == SolverStatus.OPTIMAL, above.status
    assert not np.any(above.S_plus)
    assert not np.any(above.S_minus)
    assert_rel_close(above.objective, zero_value, 1e-12, "objective of S = 0")
    if not probe.beta_max_exact:
        pytest.skip("beta_max is only an upper bound on this instance")
    below = solve_fullscale(F, Y, 0.98 * beta_max, D, method=method, tol=1e-8)
    assert below.status == SolverStatus.OPTIMAL, below.status
    # below the exact threshold the optimum is strictly below the zero value:
    # the certified bound then separates them
    assert below.objective < zero_value * (1 - 1e-6), (below.objective, zero_value)


def test_beta_max_exact_for_small_n_and_bound_above():
    # n <= 4096: exact cone norms (NNLS); above: the norm of F^T D_i y_k, an
    # upper bound, exact only when its direction lies in the cone
    F, Y, D = _instance(n=40, seed=0, K=3)
    small = solve_fullscale(F, Y, 1.0, D, max_iter=1)
    assert small.beta_max_exact
    bound = max(
        np.linalg.norm(F.T @ (D[:, i] * Y[:, k]))
        for i in range(D.shape[1])
        for k in range(3)
    )
    assert small.beta_max <= bound * (1 + 1e-12)


def test_step_bounds_are_valid_and_not_below_the_residual_bound():
    # the AL records a dual bound at every FISTA step from mu = (lam - rho E Z)_+
    # and the optimally scaled residual; every such bound must stay below the
    # Clarabel optimum, and the best one is at least the scaled-residual bound
    # at the returned point (it includes it)
    F, y, D = _instance(seed=5, n=5000 // 100)
    ref = _cvxpy_value(F, y, D, BETA, gated=False)
    for iters in (3, 30, 300):
        sol = solve_fullscale(F, y, BETA, D, method="al", max_iter=iters, polish=False)
        # Clarabel at 1e-10: its value is the optimum to ~1e-9 relative
        assert sol.lower_bound <= ref * (1 + 1e-8), (iters, sol.lower_bound, ref)


@pytest.mark.parametrize("method", ["admm", "al"])
def test_lower_bound_never_negative_when_stopped_early(method):
    """v = 0 is dual feasible with value 0: the bound is >= 0 after one step too."""
    F, y, D = _instance()
    sol = solve_fullscale(F, y, 1e-4, D, method=method, max_iter=1)
    assert sol.lower_bound >= 0.0
    assert sol.gap <= sol.objective


# --------------------------------------------------------------------------
# method="working-set": exact per-class solves (numerics/fullscale/classwise.py)
def test_classwise_matches_clarabel_per_class_and_certifies():
    F, y, D = _instance()  # the instance of test_exact_program_matches_clarabel
    Y = np.c_[y, y**2, -y]  # three scalar programs on the same features
    sol = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9)
    # the program splits into K scalar programs (module Notes): the sum of
    # Clarabel's per-class optima at 1e-10 tolerances is the reference
    ref = sum(_cvxpy_value(F, Y[:, k], D, BETA, gated=False) for k in range(3))
    assert sol.status == SolverStatus.OPTIMAL, sol.status
    assert sol.gap_certified
    assert sol.max_violation <= 1e-9, sol.max_violation
    assert sol.relative_gap <= 1e-9, sol.relative_gap
    assert_rel_close(sol.objective, ref, 1e-7, "objective vs Clarabel")
    assert sol.lower_bound <= ref * (1 + 1e-9), (sol.lower_bound, ref)
    assert sol.solver == "fullscale-working-set"
    assert sol.outer_iterations == 3


def test_classwise_float32_features_certify_the_float64_point():
    F, Y, D = _instance(n=40, d=3, num=16, seed=4, K=2)
    ref = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9)
    sol = solve_fullscale(
        F.astype(np.float32),
        Y.astype(np.float32),
        BETA,
        D,
        method="working-set",
        tol=1e-9,
    )
    # the blocks stay float64, so the objective is that of the certified point
    # and the gap is never negative beyond float64 rounding of the sums
    assert sol.S_plus.dtype == np.float64
    assert sol.gap >= -1e-12 * abs(sol.objective), sol.gap
    # float32 features differ from ref's by ~1e-7 relative: same optimum to that
    assert_rel_close(sol.objective, ref.objective, 1e-5, "float32 vs float64 data")


def test_classwise_time_limit_reports_budget_and_valid_bound():
    F, Y, D = _instance(n=60, d=3, num=24, seed=6, K=3)
    ref = solve_fullscale(F, Y, 0.01, D, method="working-set", tol=1e-9)
    sol = solve_fullscale(F, Y, 0.01, D, method="working-set", time_limit=0.0)
    assert sol.status in (SolverStatus.TIME_LIMIT, SolverStatus.OPTIMAL)
    assert sol.lower_bound <= ref.objective * (1 + 1e-9)
    assert sol.objective >= ref.lower_bound * (1 - 1e-9)


def test_classwise_warm_start_and_checkpoint_resume(tmp_path):
    F, Y, D = _instance(n=40, d=3, num=16, seed=7, K=3)
    full = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9)
    warm = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9, init=full)
    assert warm.status == SolverStatus.OPTIMAL
    assert_rel_close(warm.objective, full.objective, 1e-8, "warm start")
    path = tmp_path / "cw.npz"
    part = solve_fullscale(
        F, Y, BETA, D, method="working-set", tol=1e-9, max_outer=1, checkpoint=path
    )
    assert part.status == SolverStatus.MAX_ITERATIONS
    assert part.outer_iterations == 1
    resumed = solve_fullscale(
        F, Y, BETA, D, method="working-set", tol=1e-9, resume=path
    )
    assert resumed.outer_iterations == 3
    assert resumed.status == SolverStatus.OPTIMAL
    assert_rel_close(resumed.objective, full.objective, 1e-9, "resumed")


def test_classwise_class_stopped_by_its_share_is_solved_again(monkeypatch):
    import bnconvex.numerics.solvers.working_set as ws

    F, y, D = _instance(n=30, d=2, num=12, seed=8)
    Y = np.c_[y, -y]
    real, calls = ws.solve, []

    def first_call_of_class_0_runs_out(problem, **kw):
        calls.append(float(problem.y[0]))
        if len(calls) == 1:  # as if class 0 had used up its share of the time
            return real(problem, **{**kw, "time_limit": 0.0})
        return real(problem, **kw)

    monkeypatch.setattr(ws, "solve", first_call_of_class_0_runs_out)
    sol = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9)
    # class 0, class 1, then class 0 again from the back of the queue
    assert calls == [Y[0, 0], Y[0, 1], Y[0, 0]]
    assert sol.status == SolverStatus.OPTIMAL
    assert sol.relative_gap <= 1e-9


def test_classwise_workers_solve_classes_in_parallel_processes():
    import multiprocessing

    F, y, D = _instance(n=40, d=3, num=16, seed=9)
    Y = np.c_[y, -y, y**2]
    one = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9)
    two = solve_fullscale(F, Y, BETA, D, method="working-set", tol=1e-9, workers=2)
    assert two.status == SolverStatus.OPTIMAL
    # the same per-class programs, each certified to 1e-9 in either process
    assert_rel_close(two.objective, one.objective, 2e-9, "workers=2 vs 1")
    assert two.relative_gap <= 1e-9
    assert two.outer_iterations == 3
    assert not multiprocessing.active_children(), "the worker pool was left running"
    with pytest.raises(InputError, match="`workers` applies to method='working-set'"):
        solve_fullscale(F, Y, BETA, D, method="al", workers=2)
    with pytest.raises(InputError, match="`workers` must be a positive integer"):
        solve_fullscale(F, Y, BETA, D, method="working-set", workers=0)
