"""General-size steps (matrix symbols of size n x r ...) checked at explicit sizes.

Every step over matrix symbols is instantiated on exact centred SVDs that
satisfy its named hypotheses (tests/theory/_realise.py) at several sizes,
with random rational vectors and scalars, and its two sides compared exactly.
A wrong "general" proof (a rewrite that is not a consequence of the stated
hypotheses, or a prover that drops terms) fails here.
"""

from __future__ import annotations

import random

import pytest
import sympy as sp
from bnconvex import theory
from bnconvex.theory.derivation import Step
from bnconvex.theory.rewrite import norm_sq
from bnconvex.theory.svd_facts import U_, U_ORTHONORMAL, column
from sympy.matrices.expressions import MatrixExpr

from ._realise import instantiate, realise
from ._substitution import entries, is_exact_zero

GENERAL = {
    "whitening_orthogonality": theory.whitening_orthogonality_general,
    "whitened_representation": theory.whitened_representation_general,
    "sigma2": theory.sigma2_preconditioning_general,
    "gradient_orthogonality": theory.gradient_orthogonality_general,
    "highdim_weights": theory.highdim_weights_general,
}
#: (n, d, r): a non-square n (entries in Q(sqrt 3)), then perfect squares.
SIZES = ((3, 2, 1), (4, 3, 2), (9, 4, 3))
#: rank n - 1 (UU^T = C needs r = n - 1 <= d).
SIZES_FULL_RANK = ((3, 2, 2), (4, 3, 3), (4, 5, 3))


def _is_matrix_step(step: Step) -> bool:
    return any(
        isinstance(e, MatrixExpr)
        or (isinstance(e, sp.Basic) and e.has(sp.MatrixSymbol, sp.OneMatrix))
        for e in (step.source, step.expr)
    )


def _cases() -> list:
    return [
        pytest.param(key, step.name, id=f"{key}:{step.name}")
        for key, factory in GENERAL.items()
        for step in factory()
        if step.source is not None and _is_matrix_step(step)
    ]


def _sizes(step: Step) -> tuple[tuple[int, int, int], ...]:
    full = any(h.name.startswith("high-dimensional") for h in step.hypotheses)
    return SIZES_FULL_RANK if full else SIZES


def _assert_equal(lhs, rhs, where: str) -> None:
    for k, (a, b) in enumerate(zip(entries(lhs), entries(rhs), strict=True)):
        assert is_exact_zero(sp.nsimplify(a - b) if a.is_Rational else a - b), (
            f"{where} entry {k}: {a} != {b}"
        )


@pytest.mark.parametrize(("key", "step_name"), _cases())
def test_general_step_holds_at_explicit_sizes(key, step_name):
    step = GENERAL[key]().step(step_name)
    assert step.is_general, f"{key}:{step_name} is not labelled general"
    rng = random.Random(f"{key}:{step_name}")
    for sizes in _sizes(step):
        mats, scalars = realise(sizes, rng), {}
        for hyp in step.hypotheses:
            if hyp.lhs is not None:  # the realisation satisfies every hypothesis
                _assert_equal(
                    instantiate(hyp.lhs, sizes, mats, rng, scalars),
                    instantiate(hyp.rhs, sizes, mats, rng, scalars),
                    f"hypothesis {hyp.name!r} at {sizes}",
                )
        _assert_equal(
            instantiate(step.source, sizes, mats, rng, scalars),
            instantiate(step.expr, sizes, mats, rng, scalars),
            f"step {key}:{step_name} at (n, d, r) = {sizes}",
        )


def test_every_claim_derivation_step_is_labelled():
    for key, factory in GENERAL.items():
        der = factory()
        assert der.scope_counts() == {"general": len(der), "instance": 0}, key
        assert all(s.title for s in der if s.source is not None), key


def test_a_step_without_its_hypothesis_is_not_proved():
    q = column("q", theory.symbols.r)
    with_hyp = Step(
        "isometry",
        "",
        expr=norm_sq(q),
        source=norm_sq(U_ * q),
        hypotheses=(U_ORTHONORMAL,),
    )
    without = Step("isometry", "", expr=norm_sq(q), source=norm_sq(U_ * q))
    assert with_hyp.prove() == "zero"
    assert without.prove() == "inconclusive"


def test_a_false_general_step_fails_at_explicit_sizes():
    # ||Uq|| = 2 ||q|| "proved" by a wrong hypothesis U^T U = 4 I: the
    # realisation violates that hypothesis, and the step itself is false.
    q = column("q", theory.symbols.r)
    wrong = theory.Rewrite(
        "wrong", "U^TU = 4I", U_.T * U_, 4 * sp.Identity(theory.symbols.r)
    )
    step = Step(
        "bad", "", expr=4 * norm_sq(q), source=norm_sq(U_ * q), hypotheses=(wrong,)
    )
    # whatever the prover makes of it (it trusts named hypotheses),
    rng = random.Random(0)
    mats, scalars = realise((4, 3, 2), rng), {}
    lhs = instantiate(step.source, (4, 3, 2), mats, rng, scalars)
    rhs = instantiate(step.expr, (4, 3, 2), mats, rng, scalars)
    assert not is_exact_zero(lhs - rhs)  # explicit sizes catch the false step
    hyp_l = instantiate(wrong.lhs, (4, 3, 2), mats, rng, scalars)
    assert hyp_l == sp.eye(2)  # the hypothesis is visibly false on the realisation
