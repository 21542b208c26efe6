"""The exact-fit pipeline ``numerics.exact``: one call, every stage, certified."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.bn import convert_beta
from bnconvex.numerics.core.convex_program import ConvexProblem
from bnconvex.numerics.core.network import objective
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.dataio.data import make_regression
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.exact import (
    BOUND_KINDS,
    MAX_EXACT_PATTERNS,
    choose_patterns,
    exact_program,
    fit_exact,
)
from bnconvex.numerics.solvers import solve_convex

#: Certified relative gap the default solver reaches on these tiny programs
#: (its stopping tolerance is 1e-8; the polish lands near rounding).
GAP = 1e-8
#: certified relative gap asked of the solves of the exact_program tests
TOL = 1e-10


@pytest.fixture(scope="module")
def data():
    return make_regression(10, 2, seed=4, noise=0.1)


def test_fit_exact_is_the_hand_built_chain(data):
    X, y = data
    fit = fit_exact(X, y, 0.1)
    U = whiten(X).U_prime
    ref = solve_convex(ConvexProblem(U, y, 0.1, enumerate_patterns(U)))
    assert fit.complete
    assert fit.bound_kind == "global"
    assert fit.objective == pytest.approx(ref.objective, rel=GAP)
    assert 0 <= fit.relative_gap <= GAP
    # the rebuilt network attains the convex optimum (R1 reconstruction)
    assert fit.network_objective == pytest.approx(fit.objective, rel=GAP)
    assert fit.network_objective == pytest.approx(
        objective(fit.network, X, y, 0.1), rel=1e-12
    )


def test_std_convention_is_convention_a_with_beta_over_sqrt_n(data):
    X, y = data
    beta_std = convert_beta(0.1, X.shape[0], source="a", target="std")
    a, s = fit_exact(X, y, 0.1), fit_exact(X, y, beta_std, bn="std")
    assert s.beta_a == pytest.approx(0.1, rel=1e-15)
    assert s.network.convention == "std"
    assert s.network_objective == pytest.approx(a.network_objective, rel=GAP)


def test_sampled_patterns_report_the_universal_bound(data):
    X, y = data
    fit = fit_exact(X, y, 0.1, arrangements=8, seed=1)
    assert not fit.complete
    assert fit.bound_kind == "universal"
    assert fit.bound_kind in BOUND_KINDS
    assert fit.lower_bound == pytest.approx(fit.certificate.universal_bound)
    assert fit.pattern_lower_bound >= fit.lower_bound - 1e-12 * fit.objective
    assert 0 <= fit.pattern_gap <= GAP


def test_a_budget_stopped_fit_never_shows_a_negative_gap():
    # time_limit=0 stops the solver at once, at a point that may lie outside
    # the cones and below the bound; the gap is measured from the rebuilt
    # network, a feasible point of the non-convex problem.
    X, y = make_regression(14, 2, seed=3, noise=0.1)
    fit = fit_exact(X, y, 0.2, time_limit=0.0)
    rounding = 64 * np.finfo(float).eps * abs(fit.network_objective)
    assert fit.gap >= -rounding, (fit.network_objective, fit.lower_bound)
    assert fit.status != "optimal"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bn": "b"}, "`bn` must be 'a' or 'std'"),
        ({"arrangements": 0}, "`arrangements` must be a positive number"),
        ({"arrangements": 2.5}, "`arrangements` must be 'auto', 'exact'"),
        ({"arrangements": True}, "`arrangements` must be 'auto', 'exact'"),
    ],
)
def test_bad_arguments_name_the_argument(data, kwargs, message):
    X, y = data
    with pytest.raises(InputError, match=message):
        fit_exact(X, y, 0.1, **kwargs)


def test_exact_enumeration_is_refused_above_the_pattern_limit():
    # max_pattern_count(400, 4) = 2 * sum_{k<=4} C(399, k) > MAX_EXACT_PATTERNS
    U = whiten(np.random.default_rng(0).standard_normal((400, 4))).U_prime
    with pytest.raises(InputError, match="may need up to"):
        choose_patterns(U, "exact")
    assert MAX_EXACT_PATTERNS < 2 * 399**4 / 24


# ------------------------------------------------ named steps (exact_program)
def _data(n: int = 7, d: int = 2, seed: int = 3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def test_steps_reproduce_fit_exact():
    """exact_program + solve_convex + network is the one-call fit, to the digit."""
    X, y = _data()
    fit = fit_exact(X, y, 0.1, bn="std", arrangements="exact", tol=TOL)
    prog = exact_program(X, y, 0.1, bn="std", arrangements="exact")
    sol = solve_convex(prog.problem, tol=TOL)
    assert prog.complete
    assert fit.complete
    assert fit.bound_kind == "global"
    np.testing.assert_array_equal(prog.D, fit.D)
    assert sol.objective == fit.objective  # same program, same deterministic solver
    net = prog.network(sol.S_plus, sol.S_minus)
    assert net.convention == "std"
    # the rebuilt network attains the convex objective (convention std, beta std);
    # the tolerance is the certified gap TOL plus rounding of an n-term sum
    assert objective(net, X, y, 0.1) == pytest.approx(fit.objective, rel=10 * TOL)


def test_given_whitening_is_used():
    """A whitening truncated to one direction changes U' and the optimum."""
    X, y = _data()
    wh = whiten(X)
    trunc = dataclasses.replace(
        wh, U=wh.U[:, :1], sigma=wh.sigma[:1], Vt=wh.Vt[:1], rank=1
    )
    full = fit_exact(X, y, 0.1, arrangements="exact", tol=TOL)
    fit = fit_exact(X, y, 0.1, patterns=full.D, whitening=trunc, tol=TOL)
    assert fit.problem.m == 2
    assert fit.whitening is trunc
    assert not fit.complete
    assert fit.bound_kind in BOUND_KINDS
    # a restriction of the model: its optimum cannot be below the full one's bound
    assert fit.objective >= full.solution.lower_bound
    assert objective(fit.network, X, y, 0.1) == pytest.approx(fit.objective, rel=1e-8)


@pytest.mark.parametrize("bad", [np.eye(3), "whiten"])
def test_bad_whitening_is_input_error(bad):
    X, y = _data()
    with pytest.raises(InputError, match="`whitening`"):
        exact_program(X, y, 0.1, whitening=bad)


def test_whitening_of_other_data_is_input_error():
    X, y = _data()
    with pytest.raises(InputError, match="`whitening`"):
        exact_program(X, y, 0.1, whitening=whiten(X[:-1]))


def test_every_library_bound_kind_is_in_the_vocabulary():
    """Certificates, mp certificates and solver results use BOUND_KINDS only."""
    import typing

    from bnconvex.numerics.core import certificate
    from bnconvex.numerics.highprec import mp_refine
    from bnconvex.numerics.result import SolveResult

    for literal in (certificate.BoundKind, mp_refine.BoundKind):
        assert set(typing.get_args(literal)) <= set(BOUND_KINDS), literal
    assert SolveResult.bound_kind.fget(None) in BOUND_KINDS
    X, y = _data()
    for arrangements in ("exact", 5):
        fit = fit_exact(X, y, 0.1, arrangements=arrangements)
        kinds = {fit.bound_kind, fit.certificate.bound_kind, fit.solution.bound_kind}
        assert kinds <= set(BOUND_KINDS), kinds


def test_dependent_active_rows_in_a_cone_norm_do_not_break_the_fit():
    # base_matrix(4, 5) has rank(CX) = n - 1 = 3; one cone-norm block ends with
    # three active rows of rank two and a QR pivot of -1, which made the
    # fallback solve singular (LinAlgError) before the fix in cone_norms.
    from bnconvex.verify.strategies import base_matrix

    fit = fit_exact(base_matrix(4, 5), np.array([1.0, 0.0, 1.0, 0.0]), 0.3)
    assert fit.status == "optimal"
    assert fit.relative_gap <= GAP


def test_a_beta_below_the_data_resolution_is_refused_before_allocating(monkeypatch):
    # beta_a far below n*eps*||y||: every block may enter and the polish's dense
    # Newton matrix over all blocks would not fit; refused up front, naming beta
    import bnconvex.numerics._validation as validation

    monkeypatch.setattr(validation, "available_memory", lambda: 2.0**30)
    X, y = make_regression(30, 3, seed=0, noise=0.1)
    with pytest.raises(InputError, match=r"`beta`: .* needs about .* GiB"):
        fit_exact(X, y, 1e-300, arrangements="exact")


def test_the_working_set_solver_is_not_refused_for_blocks_it_never_holds(
    monkeypatch,
):
    # n = 100,000, d = 20, P = 256 solves in a 1.08 GB peak (benchmarks/README,
    # session 5); the all-blocks estimate (8 n k bytes = 8.6 GB) applies only to
    # the methods that hold every block
    import bnconvex.numerics._validation as validation
    from bnconvex.numerics.exact import check_solve_memory

    class Big:  # the shapes are all the check reads, besides y and beta
        U_prime = np.empty((100_000, 21))
        D = np.empty((100_000, 256))
        y = np.ones(100_000)
        beta = 1.0

    monkeypatch.setattr(validation, "available_memory", lambda: 4.0 * 2**30)
    check_solve_memory(Big(), solver="working-set")
    with pytest.raises(InputError, match=r"`arrangements`: .* 8\.0 GiB"):
        check_solve_memory(Big(), solver="ipm")


def test_image_blocks_are_the_support_of_the_network_it_came_from(data):
    # a polished exact solution has one block per neuron; the network rebuilt
    # from it maps back onto exactly those blocks
    from bnconvex.numerics.exact import image_blocks

    X, y = data
    fit = fit_exact(X, y, 0.1)
    P = fit.D.shape[1]
    support = np.concatenate(
        [
            np.flatnonzero(np.any(fit.solution.S_plus, axis=1)),
            P + np.flatnonzero(np.any(fit.solution.S_minus, axis=1)),
        ]
    )
    assert set(image_blocks(fit.network, X, fit.D)) == set(support)


def test_a_warm_started_solve_reaches_the_cold_optimum(data):
    from bnconvex.numerics.exact import image_blocks

    X, y = data
    cold = fit_exact(X, y, 0.1)
    start = image_blocks(cold.network, X, cold.D)
    warm = solve_convex(cold.problem, start_blocks=start)
    assert warm.objective == pytest.approx(cold.objective, rel=GAP)
    assert warm.relative_gap <= GAP
    with pytest.raises(InputError, match="`start_blocks` must lie in"):
        solve_convex(cold.problem, start_blocks=[2 * cold.D.shape[1]])
    with pytest.raises(InputError, match="`start_blocks` must be a 1-D array"):
        solve_convex(cold.problem, start_blocks=[0.5])
