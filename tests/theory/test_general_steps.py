"""General-size steps (matrix symbols of size n x r ...) checked at explicit sizes.

Every step over matrix symbols is instantiated on exact centred SVDs that
satisfy its named hypotheses (tests/theory/_realise.py) at several sizes,
with random rational vectors and scalars, and its two sides compared exactly.
A wrong "general" proof (a rewrite that is not a consequence of the stated
hypotheses, or a prover that drops terms) fails here.
"""

from __future__ import annotations

import itertools
import random

import pytest
import sympy as sp
from bnconvex import theory
from bnconvex.theory.derivation import Step
from bnconvex.theory.rewrite import norm_sq
from bnconvex.theory.svd_facts import U_, U_ORTHONORMAL, column
from sympy.matrices.expressions import MatrixExpr

from ._realise import instantiate, realise
from ._substitution import entries, is_exact_zero, random_rational

GENERAL = {
    "whitening_orthogonality": theory.whitening_orthogonality_general,
    "whitened_representation": theory.whitened_representation_general,
    "sigma2": theory.sigma2_preconditioning_general,
    "gradient_orthogonality": theory.gradient_orthogonality_general,
    "highdim_weights": theory.highdim_weights_general,
    "onehot": theory.onehot_closed_form_general,
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


def _one_hot(size: int, classes: int, rng: random.Random) -> sp.Matrix:
    labels = list(range(classes)) + [
        rng.randrange(classes) for _ in range(size - classes)
    ]
    rng.shuffle(labels)
    return sp.Matrix(size, classes, lambda a, b: int(labels[a] == b))


def _onehot_points(Y: sp.Matrix) -> list[dict]:
    """Every choice of the free class indices ``j, k, l`` (sizes ``n``, ``K`` set)."""
    from bnconvex.theory.symbols import K, j, k, l, n

    size, classes = Y.shape
    return [
        {n: sp.Integer(size), K: sp.Integer(classes), j: a, k: b, l: c}
        for a, b, c in itertools.product(range(1, classes + 1), repeat=3)
    ]


def _onehot_values(expr, Y: sp.Matrix) -> sp.Expr:
    """Evaluate sums, then put in Y, n_k = column sums and sigma_k = sqrt(n_k)."""
    counts = [sum(Y[:, b]) for b in range(Y.shape[1])]

    def value(e: sp.Indexed) -> sp.Expr:
        name, ix = str(e.base), [int(x) for x in e.indices]
        if name == "Y":
            return sp.Integer(Y[ix[0] - 1, ix[1] - 1])
        if name == "n":
            return sp.Integer(counts[ix[0] - 1])
        if name == "sigma":
            return sp.sqrt(counts[ix[0] - 1])
        raise AssertionError(name)

    return expr.doit().replace(lambda e: isinstance(e, sp.Indexed), value)


@pytest.mark.parametrize("sizes", [(5, 2), (7, 3), (12, 4)])
def test_onehot_steps_hold_on_one_hot_labels(sizes):
    from bnconvex.theory.closed_form import ONE_HOT_ROWS, ZERO_ONE
    from bnconvex.theory.symbols import i

    rng = random.Random(f"onehot{sizes}")
    Y = _one_hot(*sizes, rng)
    der = theory.onehot_closed_form_general()
    for hyp in (ONE_HOT_ROWS, ZERO_ONE):  # the realisation satisfies both facts
        for row, base in itertools.product(range(1, sizes[0] + 1), _onehot_points(Y)):
            point = {**base, i: sp.Integer(row)}
            lhs, rhs = (_onehot_values(e.subs(point), Y) for e in (hyp.lhs, hyp.rhs))
            assert lhs == rhs, f"{hyp.name} fails on row {row}"
    for step in der:
        if not any(h.lhs is not None for h in step.hypotheses):
            continue  # checked by test_derivation_steps at random rationals
        for point in _onehot_points(Y):
            lhs, rhs = (
                _onehot_values(e.subs(point), Y) for e in (step.source, step.expr)
            )
            extra = {s: random_rational(s, rng) for s in (lhs - rhs).free_symbols}
            assert is_exact_zero((lhs - rhs).xreplace(extra)), (
                f"{step.name} at {sizes}, {point}: {lhs} != {rhs}"
            )
