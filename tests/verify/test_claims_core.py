"""Core claims: they pass on their instances and *fail* when the maths is broken."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bnconvex.verify import runner
from bnconvex.verify.claims import core
from bnconvex.verify.registry import get_claim

from tests.common.extras import import_test_extra

CORE_IDS = [
    "arrangements.affine_equivalence",
    "arrangements.count_bound",
    "arrangements.polynomial_size",
    "closed_form.highdim_solver",
    "closed_form.universal_lower_bound",
    "convex.convention_equivalence",
    "convex.input_transform_invariance",
    "convex.strong_duality",
    "dual.certificate",
    "reconstruct.model_class",
]


def _statuses(claim_id, tier, mode="quick"):
    unit = runner.Unit(claim_id, tier, runner.RunOptions(mode=mode))
    return runner.run_unit(unit)


@pytest.mark.parametrize("claim_id", CORE_IDS)
def test_core_claim_passes_in_quick_mode(claim_id):
    for tier in get_claim(claim_id).tiers:
        for rec in _statuses(claim_id, tier):
            assert rec["status"] == "passed", (
                claim_id,
                tier,
                rec["details"],
                rec["error"],
            )


def test_model_class_fails_for_a_wrong_output_weight(monkeypatch):
    real = core._model_class_network

    def off_by_one_percent(wh, s, xp=np):
        net, ns = real(wh, s, xp)
        return net.replace(v=net.v * 1.01), ns

    monkeypatch.setattr(core, "_model_class_network", off_by_one_percent)
    recs = _statuses("reconstruct.model_class", "float64")
    assert recs[-1]["status"] == "failed"
    assert recs[-1]["hypothesis"]["shrunk"] is True
    # v is 1% too large: output and penalty errors are about 1e-2
    assert 5e-3 < recs[-1]["max_rel_err"] < 3e-2


def test_count_bound_fails_on_a_duplicated_pattern(monkeypatch):
    from bnconvex.numerics.core import arrangements

    real = arrangements.enumerate_patterns
    monkeypatch.setattr(
        arrangements,
        "enumerate_patterns",
        lambda U, **kw: np.column_stack([real(U, **kw), real(U, **kw)[:, :1]]),
    )
    recs = _statuses("arrangements.count_bound", "float64")
    assert recs[-1]["status"] == "failed"
    assert recs[-1]["max_abs_err"] >= 1.0


def test_dual_certificate_fails_for_a_suboptimal_point(monkeypatch):
    real = core._cached_solution.__wrapped__

    def damaged(*args):
        fit = real(*args)  # an ExactFit; its solution scaled off the optimum
        sol = fit.solution
        bad = dataclasses.replace(
            sol, S_plus=sol.S_plus * 0.9, S_minus=sol.S_minus * 0.9
        )
        return dataclasses.replace(fit, solution=bad)

    monkeypatch.setattr(core, "_cached_solution", damaged)
    recs = _statuses("dual.certificate", "float64")
    assert recs[-1]["status"] == "failed"
    assert recs[-1]["max_rel_err"] > 1e-5


def test_strong_duality_fails_if_local_search_beats_the_bound(monkeypatch):
    from bnconvex.numerics.baselines import nonconvex
    from bnconvex.numerics.core import network

    real_objective = network.objective

    def width_zero(X, y, beta, m, *, seed, **kw):
        return network.BNNetwork(np.zeros((X.shape[1], 0)), [], [], []), {}

    def objective(net, X, y, beta):
        # pretend the width-0 "local search" result has objective 0 < p*
        return 0.0 if net.m == 0 else real_objective(net, X, y, beta)

    monkeypatch.setattr(nonconvex, "train_nonconvex", width_zero)
    monkeypatch.setattr(network, "objective", objective)
    recs = _statuses("convex.strong_duality", "float64")
    assert recs[-1]["status"] == "failed"
    assert recs[-1]["details"]["local_below_bound_rel"] == pytest.approx(1.0, rel=1e-12)


def test_model_class_xp_tier_under_array_api_strict():
    import_test_extra("array_api_strict")
    options = runner.RunOptions(mode="quick", backend="array-api-strict")
    recs = runner.run_unit(runner.Unit("reconstruct.model_class", "xp", options))
    assert {r["status"] for r in recs} == {"passed"}, [r["details"] for r in recs]
    assert {r["backend"] for r in recs} == {"array-api-strict"}
    assert "CPU_DEVICE" in recs[0]["device"]
    assert recs[0]["details"]["namespace"] == "array_api_strict"


def test_affine_equivalence_fails_on_a_non_affine_pattern(monkeypatch):
    from bnconvex.numerics.core import arrangements

    real = arrangements.enumerate_patterns

    def with_alternating(U, **kw):
        D = real(U, **kw)
        alternating = (np.arange(D.shape[0]) % 2 == 0)[:, None]
        order = np.argsort(U[:, 0])  # alternate along the first whitened coordinate
        column = np.empty_like(alternating)
        column[order] = alternating
        return np.column_stack([D, column])

    monkeypatch.setattr(arrangements, "enumerate_patterns", with_alternating)
    recs = _statuses("arrangements.affine_equivalence", "float64")
    assert recs[-1]["status"] == "failed"
    assert recs[-1]["details"]["U_patterns_not_affine"] >= 1


def test_convention_equivalence_fails_for_a_wrong_rescaling(monkeypatch):
    # scaling (gamma, alpha, v) by n^(-1/2) instead of n^(-1/4) must be detected
    def wrong(net, n):
        c = float(n) ** -0.5
        return net.replace(
            gamma=net.gamma * c, alpha=net.alpha * c, v=net.v * c, convention="std"
        )

    monkeypatch.setattr(core, "_std_from_a", wrong)
    recs = _statuses("convex.convention_equivalence", "float64")
    assert recs[-1]["status"] == "failed"
    assert recs[-1]["details"]["std_vs_convex_rel_err"] > 1e-6


def test_a_solver_that_stops_early_makes_the_check_inconclusive(monkeypatch):
    from bnconvex.numerics.status import SolverStatus

    real = core._cached_solution.__wrapped__

    def timed_out(*args):
        fit = real(*args)
        sol = dataclasses.replace(fit.solution, status=SolverStatus.TIME_LIMIT)
        return dataclasses.replace(fit, solution=sol)

    monkeypatch.setattr(core, "_cached_solution", timed_out)
    for claim_id in (
        "convex.strong_duality",
        "dual.certificate",
        "convex.input_transform_invariance",
    ):
        recs = _statuses(claim_id, "float64")
        assert {r["status"] for r in recs} == {"inconclusive"}, claim_id
        assert "stopped with status time_limit" in recs[0]["details"]["reason"]
