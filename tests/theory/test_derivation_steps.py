"""Every derivation step, checked independently by exact random-rational values."""

from __future__ import annotations

import random

import pytest
import sympy as sp
from bnconvex import theory

from ._substitution import (
    entries,
    fill_indexed,
    instantiate,
    is_exact_zero,
    random_point,
)

DERIVATIONS = {
    "centering": theory.centering_lemmas,
    "scale_invariance": theory.scale_invariance,
    "scale_invariance_generic": theory.scale_invariance_generic,
    "shift_invariance_generic": theory.shift_invariance_generic,
    "convention_conversion_generic": theory.convention_conversion_generic,
    "scale_invariance_n4": lambda: theory.scale_invariance(4, 3),
    "shift_invariance": theory.shift_invariance,
    "shift_invariance_n4": lambda: theory.shift_invariance(4, 3),
    "convention_conversion_n4": lambda: theory.convention_conversion(4),
    "convention_conversion": theory.convention_conversion,
    "whitening_orthogonality": theory.whitening_orthogonality,
    "whitened_representation": theory.whitened_representation,
    "am_gm": theory.am_gm,
    "dual": theory.dual_derivation,
    "conjugate_squared": theory.squared_derivation,
    "conjugate_logistic": theory.logistic_derivation,
    "conjugate_hinge": theory.hinge_derivation,
    "highdim_kkt": theory.highdim_kkt,
    "highdim_weights": theory.highdim_weights,
    "onehot": theory.onehot_closed_form,
    "gradient_orthogonality": theory.gradient_orthogonality,
    "sigma2_d3": theory.sigma2_preconditioning,
    "sigma2_d2": lambda: theory.sigma2_preconditioning(2),
    "am_gm_general": theory.am_gm_general,
    "gradient_orthogonality_general": theory.gradient_orthogonality_general,
    "highdim_weights_general": theory.highdim_weights_general,
    "dual_general": theory.dual_derivation_general,
    "onehot_general": theory.onehot_closed_form_general,
    "bn_over_patches": theory.bn_over_patches,
    "bn_over_patches_stride2": lambda: theory.bn_over_patches(3, 4, 2, 2, 1),
}
_CACHE: dict[str, theory.Derivation] = {}


def _derivation(key: str) -> theory.Derivation:
    if key not in _CACHE:
        _CACHE[key] = DERIVATIONS[key]()
    return _CACHE[key]


def _cases() -> list:
    # Building every derivation at collection time is cheap (< 2 s) and lets each
    # step be its own test id.
    return [
        pytest.param(key, step.name, id=f"{key}:{step.name}")
        for key in DERIVATIONS
        for step in _derivation(key)
        if step.source is not None
        and not _has_matrix_symbols(step)
        and not any(h.lhs is not None for h in step.hypotheses)
    ]


def _has_matrix_symbols(step) -> bool:
    """Matrix-expression steps are checked in test_general_steps.py instead.

    So are steps that rewrite with a named hypothesis: random rationals would
    violate it; test_general_steps.py realises the hypothesis instead.
    """
    return any(
        isinstance(e, sp.Basic) and e.has(sp.MatrixSymbol, sp.OneMatrix)
        for e in (step.source, step.expr)
    )


@pytest.mark.parametrize(("key", "step_name"), _cases())
def test_step_holds_at_random_rationals(key, step_name):
    step = _derivation(key).step(step_name)
    rng = random.Random(f"{key}:{step_name}")  # seed fixed per step
    # a general step is checked at more random sizes n (and d, r) than an instance
    for trial in range(4 if step.is_general else 2):
        point, functions = random_point([step.source, step.expr], rng)
        lhs, rhs = fill_indexed(
            [instantiate(e, point, functions) for e in (step.source, step.expr)], rng
        )
        for k, (a, b) in enumerate(zip(entries(lhs), entries(rhs), strict=True)):
            where = f"step {step_name!r} entry {k}, trial {trial}, point {point}"
            if step.relation == "=":
                assert is_exact_zero(a - b), f"{where}: {a} != {b}"
            else:
                value = sp.N(a - b, 60)
                assert value >= 0, f"{where}: {a} - {b} = {value} < 0"


def test_every_derivation_has_named_latex_steps():
    for key in DERIVATIONS:
        der = _derivation(key)
        assert len(der) >= 1, f"{key}: no steps"
        records = der.as_records()
        assert all(r["name"] and r["latex"] for r in records), (
            f"{key}: empty name/latex"
        )


def test_substitution_detects_a_wrong_step():
    # A deliberately false step (BN(ch) = BN_{2 gamma}(h)) must be rejected.
    from bnconvex.theory.derivation import Step
    from bnconvex.theory.symbols import bn_a, c, gamma, vector

    h = vector("h", 3)
    wrong = Step(
        "wrong", "BN(ch) = BN_{2gamma}(h)", expr=bn_a(h, 2 * gamma), source=bn_a(c * h)
    )
    point, functions = random_point([wrong.source, wrong.expr], random.Random(0))
    diffs = [
        a - b
        for a, b in zip(
            entries(instantiate(wrong.source, point, functions)),
            entries(instantiate(wrong.expr, point, functions)),
            strict=True,
        )
    ]
    assert not all(is_exact_zero(d) for d in diffs), f"false step accepted at {point}"
