"""The CNN (R8) and general vector-output (R3) claims pass and detect errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bnconvex.numerics.extensions import cnn, vector
from bnconvex.numerics.extensions.cnn import ConvGeometry
from bnconvex.verify import runner
from bnconvex.verify import strategies as S
from bnconvex.verify.registry import get_claim

IDS = [
    "cnn.bn_over_patches",
    "cnn.strong_duality",
    "cnn.local_search",
    "cnn.dual_certificate",
    "vector.strong_duality",
    "vector.local_search",
    "vector.bounds",
]


@pytest.mark.parametrize("claim_id", IDS)
def test_claim_passes_in_quick_mode(claim_id):
    claim = get_claim(claim_id)
    for tier in claim.tiers:
        unit = runner.Unit(claim_id, tier, runner.RunOptions(mode="quick"))
        for rec in runner.run_unit(unit):
            assert rec["status"] == "passed", (claim_id, tier, rec["details"])


def _cnn_instance():
    rng = np.random.default_rng(4)
    return {
        "images": rng.standard_normal((2, 1, 1, 3)),
        "y": rng.standard_normal(2),
        "beta": 0.1,
        "geometry": ConvGeometry((1, 2), padding=(0, 1)),
    }


def _vector_instance():
    return {
        "X": S.base_matrix(4, 2),
        "Y": 1.5 * S.base_matrix(4, 2),
        "beta": 0.2,
        "family": "general",
    }


def test_cnn_claim_detects_a_wrong_output_weight(monkeypatch):
    real = cnn.reconstruct_cnn
    monkeypatch.setattr(
        cnn,
        "reconstruct_cnn",
        lambda p, s, **kw: (lambda net: net.replace(v=net.v * 1.01))(real(p, s, **kw)),
    )
    claim = get_claim("cnn.strong_duality")
    ev = claim.check_float64(_cnn_instance())
    # v 1% too large changes fit and penalty at first order: error >> 1e-8
    assert ev.max_rel_err > 1e3 * claim.tolerances["float64"], ev.details


def test_cnn_local_search_claim_detects_a_run_below_the_bound(monkeypatch):
    monkeypatch.setattr(cnn, "train_cnn", lambda *a, **k: (None, 0.0))
    ev = get_claim("cnn.local_search").check_float64(_cnn_instance())
    assert ev.max_rel_err >= 0.99, ev.details  # (bound - 0) / bound = 1


def test_cnn_certificate_claim_detects_a_bound_that_is_too_small(monkeypatch):
    real = cnn.certify_cnn

    def shrunk(problem, yhat, objective):
        cert = real(problem, yhat, objective)
        return dataclasses.replace(cert, constraint_bound=0.5 * cert.constraint_bound)

    monkeypatch.setattr(cnn, "certify_cnn", shrunk)
    ev = get_claim("cnn.dual_certificate").check_float64(_cnn_instance())
    assert ev.max_rel_err >= 0.5, ev.details


def test_vector_claim_is_inconclusive_when_the_solve_stops_short(monkeypatch):
    real = vector.solve_vector

    def stopped_short(X, Y, beta, **kw):
        sol = real(X, Y, beta, **kw)
        return dataclasses.replace(sol, lower_bound=sol.objective * (1 - 1e-3))

    monkeypatch.setattr(vector, "solve_vector", stopped_short)
    ev = get_claim("vector.strong_duality").check_float64(_vector_instance())
    assert ev.status == "inconclusive", ev.details


def test_vector_bounds_claim_detects_a_wrong_lower_bound(monkeypatch):
    monkeypatch.setattr(
        vector, "singular_value_lower_bound", lambda Y, beta: 10.0 * np.sum(Y**2)
    )
    ev = get_claim("vector.bounds").check_float64(_vector_instance())
    # (lower - p*) / lower with lower = 10 ||Y||^2 >= 20 p*: at least 0.95
    assert ev.max_rel_err > 0.9, ev.details
