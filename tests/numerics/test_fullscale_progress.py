"""Progress callback of the full-scale solver (``callback``, ``callback_every``)."""

import itertools
import time

import numpy as np
import pytest
from bnconvex.numerics.core.whitening import whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale import (
    FullScaleProgress,
    sample_patterns,
    solve_fullscale,
)
from bnconvex.numerics.status import SolverStatus

from tests.common.assertions import assert_rel_close

BETA = 0.1


def _instance(n=20, num=10, seed=0, K=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    Y = np.eye(K)[rng.integers(0, K, n)]
    F = np.asarray(whiten(X).U_prime)
    D, _ = sample_patterns(F, num, seed=seed)
    return F, Y, D


def _objective(F, Y, D, Sp, Sm, beta):
    """0.5 ||sum_i D_i F (s_i - s'_i) - Y||^2 + beta * sum of column norms."""
    Z = np.einsum("nm,pmk->npk", F, Sp - Sm)
    pred = np.einsum("np,npk->nk", D.astype(float), Z)
    norms = np.linalg.norm(Sp, axis=1).sum() + np.linalg.norm(Sm, axis=1).sum()
    return 0.5 * np.sum((pred - Y) ** 2) + beta * norms


@pytest.mark.parametrize("method", ["admm", "al"])
def test_checks_report_the_objective_of_their_blocks(method):
    F, Y, D = _instance(seed=1)
    seen: list[FullScaleProgress] = []
    sol = solve_fullscale(
        F,
        Y,
        BETA,
        D,
        method=method,
        max_outer=3,
        tol=1e-12,
        polish=False,
        callback=seen.append,
    )
    assert [p.kind for p in seen] == ["check"] * sol.outer_iterations
    assert [p.outer_iterations for p in seen] == list(range(1, len(seen) + 1))
    last = seen[-1]
    assert last.iterations == sol.iterations
    assert last.S_plus.shape == (D.shape[1], F.shape[1], Y.shape[1])
    # the reported objective is the program's objective at the reported blocks
    ref = _objective(F, Y, D, last.S_plus, last.S_minus, BETA)
    assert_rel_close(last.objective, ref, 1e-10, "objective at the callback blocks")
    # an infeasible iterate may lie below the bound; the bound is the solver's
    assert last.lower_bound == pytest.approx(sol.lower_bound, rel=0, abs=0)
    assert last.violation >= 0.0
    assert all(b.seconds >= a.seconds for a, b in itertools.pairwise(seen))


def test_step_calls_are_throttled_by_callback_every():
    F, Y, D = _instance(seed=2)
    every_step: list[int] = []
    none: list[int] = []

    def record(into):
        return lambda p: into.append(p.iterations) if p.kind == "step" else None

    kw = dict(method="al", max_iter=40, tol=1e-12, polish=False)
    sol = solve_fullscale(
        F, Y, BETA, D, callback=record(every_step), callback_every=1e-12, **kw
    )
    solve_fullscale(F, Y, BETA, D, callback=record(none), callback_every=1e6, **kw)
    # a tiny interval calls back after every FISTA step, numbered 1, 2, ...
    assert every_step == list(range(1, sol.iterations + 1)), every_step[:5]
    assert none == [], none


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(callback=3), r"`callback` must be callable or None; got 3"),
        (
            dict(callback=print, callback_every=-1.0),
            r"`callback_every` must be a finite number >= 0; got -1.0",
        ),
        (
            dict(callback=print, callback_every=float("nan")),
            r"`callback_every` must be a finite number >= 0; got nan",
        ),
    ],
)
def test_bad_callback_arguments(kwargs, match):
    F, Y, D = _instance(n=8, num=3)
    with pytest.raises(InputError, match=match):
        solve_fullscale(F, Y, BETA, D, **kwargs)


def _no_exact_bound(monkeypatch):
    from bnconvex.numerics.fullscale import solver as solver_mod

    def fail(*args, **kwargs):
        raise AssertionError("exact certificate computed after the deadline")

    monkeypatch.setattr(solver_mod, "exact_certificate", fail)


@pytest.mark.parametrize("method", ["admm", "al"])
def test_zero_time_limit_stops_at_once_with_a_certified_point(monkeypatch, method):
    F, Y, D = _instance(seed=3)
    _no_exact_bound(monkeypatch)
    sol = solve_fullscale(F, Y, BETA, D, method=method, time_limit=0.0)
    assert sol.status == SolverStatus.TIME_LIMIT
    assert sol.iterations == 0
    # the initial point S = 0 is feasible and certified as it is
    assert sol.max_violation == 0.0
    assert sol.gap_certified is True
    assert_rel_close(sol.objective, 0.5 * np.sum(Y**2), 1e-12, "objective at S=0")
    assert sol.lower_bound <= sol.objective


def test_admm_checks_the_deadline_after_every_step():
    F, Y, D = _instance(seed=4)

    def slow_first_step(progress):
        if progress.kind == "step" and progress.iterations == 1:
            time.sleep(1.0)  # past the deadline below

    sol = solve_fullscale(
        F,
        Y,
        BETA,
        D,
        method="admm",
        polish=False,
        time_limit=0.5,
        callback=slow_first_step,
        callback_every=1e-12,
    )
    assert sol.status == SolverStatus.TIME_LIMIT
    assert sol.iterations == 1, sol.iterations  # not check_every = 25
    assert sol.outer_iterations == 1
