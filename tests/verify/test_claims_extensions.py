"""The extension claims (16, 17, 18) pass, and detect injected errors."""

from __future__ import annotations

import numpy as np
import pytest
from bnconvex.numerics.extensions import bn_after_relu, losses
from bnconvex.verify import runner
from bnconvex.verify.claims import extensions
from bnconvex.verify.registry import get_claim

IDS = [
    "deep.overparameterized_closed_form",
    "bn_after_relu.strong_duality",
    "loss.general_convex",
]


def _records(claim_id, mode="quick"):
    return runner.run_unit(
        runner.Unit(claim_id, "float64", runner.RunOptions(mode=mode))
    )


@pytest.mark.parametrize("claim_id", IDS)
def test_extension_claim_passes_in_quick_mode(claim_id):
    assert get_claim(claim_id).tiers == ("float64",)
    for rec in _records(claim_id):
        assert rec["status"] == "passed", (claim_id, rec["details"], rec["error"])


def _instance(n=6, seed=2):
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((n, 2)), "y": rng.standard_normal(n), "beta": 0.2}


def test_deep_claim_fails_when_features_are_too_narrow():
    # width 3 < n - 1 = 5: rank(CH) <= 3, the closed form does not apply
    inst = _instance()
    rng = np.random.default_rng(0)
    inst["hidden"] = ([rng.standard_normal((2, 3))], [np.ones(3)], [np.zeros(3)])
    ev = get_claim("deep.overparameterized_closed_form").check_float64(inst)
    assert ev.status == "failed", ev.details
    assert ev.details["reason"] == "rank(C H) = 3 != n - 1 = 5", ev.details


def test_after_relu_claim_detects_a_wrong_output_weight(monkeypatch):
    real = bn_after_relu.reconstruct

    def off(problem, solution, **kw):
        net = real(problem, solution, **kw)
        return net.replace(v=net.v * 1.01)

    monkeypatch.setattr(bn_after_relu, "reconstruct", off)
    ev = get_claim("bn_after_relu.strong_duality").check_float64(_instance())
    tol = get_claim("bn_after_relu.strong_duality").tolerances["float64"]
    # v 1% too large changes fit and penalty at first order: error ~1e-3..1e-2
    assert ev.max_rel_err > 1e3 * tol, ev.details


def test_after_relu_claim_detects_local_search_below_the_optimum(monkeypatch):
    monkeypatch.setattr(extensions, "_after_relu_local", lambda X, y, beta: 0.0)
    ev = get_claim("bn_after_relu.strong_duality").check_float64(_instance())
    assert ev.max_rel_err >= 0.99, ev.details  # (p* - 0) / p* = 1


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_loss_claim_detects_an_invalid_dual_bound(monkeypatch, loss):
    real = losses.loss_dual_bound

    def too_high(problem, name, lam):
        bound, c = real(problem, name, lam)
        return bound * 1.01, c

    monkeypatch.setattr(losses, "loss_dual_bound", too_high)
    inst = _instance()
    inst["y"], inst["loss"] = np.array([1.0, -1, 1, 1, -1, -1]), loss
    ev = get_claim("loss.general_convex").check_float64(inst)
    # the "bound" is 1% above the convex objective: validity error ~1e-2
    assert 5e-3 < ev.max_rel_err < 2e-2, ev.details


def test_after_relu_claim_is_inconclusive_when_the_solve_stops_short(monkeypatch):
    """A large certified gap with nothing disproved decides nothing (core's policy)."""
    import dataclasses

    real = bn_after_relu.solve_after_relu

    def stopped_short(problem, *args, **kwargs):
        sol = real(problem, *args, **kwargs)
        # pretend the solver stopped with a 1e-3 relative gap
        return dataclasses.replace(sol, gap=1e-3 * abs(sol.objective))

    monkeypatch.setattr(bn_after_relu, "solve_after_relu", stopped_short)
    ev = get_claim("bn_after_relu.strong_duality").check_float64(_instance())
    assert ev.status == "inconclusive", ev.details
    assert "stopped short" in ev.details["reason"]
