"""Theory claims: symbolic passes, mp agrees to >= dps - 10 digits, float64 passes."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from bnconvex.theory import Derivation, Step
from bnconvex.verify.claims._theory_support import mp_evidence, symbolic_evidence
from bnconvex.verify.registry import get_claim
from bnconvex.verify.runner import decide_status
from hypothesis import HealthCheck, given, settings

THEORY_IDS = (
    "bn.scale_invariance",
    "bn.shift_invariance",
    "whitening.orthogonality",
    "bn.whitened_representation",
    "bn.convention_conversion",
    "rescaling.am_gm",
    "bn.gradient_orthogonality",
    "dual.derivation",
    "loss.conjugates",
    "closed_form.highdim",
    "vector.onehot",
    "gd.sigma2_preconditioning",
)


@pytest.mark.parametrize("claim_id", THEORY_IDS)
def test_symbolic_tier_passes(claim_id):
    ev = get_claim(claim_id).check_symbolic()
    not_proved = {k: v for k, v in ev.details["steps"].items() if v != "zero"}
    assert ev.status == "passed", f"{claim_id}: steps not proved {not_proved}"
    counts = (ev.details["steps_general"], ev.details["steps_instance"])
    assert sum(counts) == len(ev.details["steps"]), counts
    assert ev.details["symbolic_scope"] == (
        "instances" if counts[1] else "general"
    ), ev.details


def test_at_least_ten_theory_claims_are_proved_for_every_size():
    scopes = {c: get_claim(c).check_symbolic().details for c in THEORY_IDS}
    general = [c for c, d in scopes.items() if d["symbolic_scope"] == "general"]
    assert len(general) >= 10, {c: d["symbolic_scope"] for c, d in scopes.items()}


def test_symbolic_evidence_labels_instance_steps():
    x = sp.Symbol("x", real=True)
    steps = (
        Step("a", "x = x", expr=x, source=x, scope="general"),
        Step("b", "x = x", expr=x, source=x, scope="instance (n=3)"),
        Step("c", "x = x", expr=x, source=x),  # unlabelled counts as an instance
    )
    ev = symbolic_evidence(Derivation("mixed", steps))
    assert ev.status == "passed", ev.details  # the status stays readable by old tools
    assert ev.details["symbolic_scope"] == "instances", ev.details
    assert (ev.details["steps_general"], ev.details["steps_instance"]) == (1, 2)


@pytest.mark.parametrize("claim_id", THEORY_IDS)
def test_mp_and_float64_tiers_pass(claim_id):
    claim = get_claim(claim_id)

    @settings(
        max_examples=3,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(claim.quick_instances())
    def check(inst):
        for dps in (30, 50):
            with mpmath.workdps(dps):
                ev = claim.check_mp(inst, dps)
            status, _, reason = decide_status(claim, "mp", ev)
            assert status == "passed", f"{claim_id} mp at dps {dps}: {reason}"
            # agreement with the closed form / reference: at least dps - 10 digits
            assert ev.details["digits_vs_reference"] >= dps - 10, (
                f"{claim_id}: {ev.details}"
            )
        ev = claim.check_float64(inst)
        status, _, reason = decide_status(claim, "float64", ev)
        assert status == "passed", f"{claim_id} float64: {reason} {ev.details}"

    check()


def test_symbolic_evidence_never_passes_an_inconclusive_step():
    G = sp.Function("G")
    x, y = sp.symbols("x y", real=True)
    der = Derivation(
        "undecidable", (Step("opaque", "G(x) = G(y)", expr=G(y), source=G(x)),)
    )
    ev = symbolic_evidence(der)
    assert ev.status == "inconclusive", f"got {ev.status}"
    assert "opaque" in ev.details["reason"]


def test_symbolic_evidence_fails_a_false_step():
    x = sp.Symbol("x", real=True)
    ev = symbolic_evidence(
        Derivation("false", (Step("bad", "x = x+1", expr=x + 1, source=x),))
    )
    assert ev.status == "failed", f"got {ev.status}"


def test_mp_evidence_fails_below_required_digits():
    with mpmath.workdps(50):
        ev = mp_evidence(
            {"v": (mpmath.mpf(1) + mpmath.mpf("1e-20"), mpmath.mpf(1))},
            {"v": mpmath.mpf(1)},
            50,
        )
    assert ev.status == "failed", ev.details
    assert "need 40" in ev.details["reason"], ev.details
    assert ev.max_rel_err == pytest.approx(1e-20, rel=1e-6), f"rel err {ev.max_rel_err}"
