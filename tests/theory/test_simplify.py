"""prove_zero / prove_nonnegative report zero, nonzero and inconclusive honestly."""

from __future__ import annotations

import pytest
import sympy as sp
from bnconvex.theory import prove_nonnegative, prove_zero
from bnconvex.theory.symbols import INDICES, in_range, n

x, y = sp.symbols("x y", real=True)
p = sp.Symbol("p", positive=True)


@pytest.mark.parametrize(
    ("expr", "verdict"),
    [
        (sp.sqrt(x**2) - sp.Abs(x), "zero"),
        ((x + y) ** 2 - x**2 - 2 * x * y - y**2, "zero"),
        (sp.sqrt(p**2 * (x**2 + 1)) - p * sp.sqrt(x**2 + 1), "zero"),
        (sp.Matrix([x - x, (x**2 - 1) / (x - 1) - x - 1]), "zero"),
        (x - 1, "nonzero"),
        (sp.Matrix([0, sp.sqrt(x**2 + 1) - x - 1]), "nonzero"),
    ],
)
def test_prove_zero_verdicts(expr, verdict):
    assert prove_zero(expr) == verdict, f"prove_zero({expr}) should be {verdict}"


def test_prove_zero_uses_assumptions():
    # sqrt(x^2) = x only for x >= 0: undecided as real, proved once x is positive.
    assert prove_zero(sp.sqrt(x**2) - x) != "zero", (
        "sqrt(x^2) = x must not be proved for real x"
    )
    assert prove_zero(sp.sqrt(x**2) - x, {x: {"positive": True}}) == "zero"


def test_prove_zero_is_inconclusive_not_passed_for_undefined_functions():
    # G(x) - G(y) is not zero, but no random evaluation of an undefined G is possible.
    G = sp.Function("G")
    assert prove_zero(G(x) - G(y)) == "inconclusive", (
        "undefined-function residual must be inconclusive"
    )


def test_prove_zero_collects_derivative_coefficients():
    G = sp.Function("G")
    expr = sp.diff(G(2 * x), x) - 2 * sp.Subs(sp.Derivative(G(y), y), y, 2 * x)
    assert prove_zero(expr) == "zero", "chain rule residual should cancel"


def test_prove_zero_decides_piecewise_guards():
    beta, delta = sp.symbols("beta delta", positive=True)
    h = sp.Piecewise((p**2 / 2, p <= beta), (beta * p - beta**2 / 2, True))
    active = h.subs(p, beta * (1 + delta))
    assert prove_zero(active - (beta**2 * (1 + delta) - beta**2 / 2)) == "zero"
    assert prove_zero(active - beta**2 * (1 + delta) ** 2 / 2) == "nonzero"


@pytest.mark.parametrize(
    ("expr", "verdict"),
    [((x - y) ** 2 / 2, "zero"), (p + 1 / p, "zero"), (-p, "nonzero"), (x, "nonzero")],
)
def test_prove_nonnegative(expr, verdict):
    assert prove_nonnegative(expr) == verdict, (
        f"prove_nonnegative({expr}) should be {verdict}"
    )


def test_in_range_settles_index_guards():
    i, j = INDICES[:2]
    total = sp.Sum(sp.KroneckerDelta(i, j), (j, 1, n))
    assert in_range(total) == 1, (
        f"sum of delta_ij over j should be 1, got {in_range(total)}"
    )


def test_false_generic_sum_identity_is_not_proved():
    # Euler's identity plus a spurious q_i: must not be "zero"; SymPy's simplify
    # raises StopIteration on this input, which prove_zero must absorb.
    from bnconvex.theory.symbols import i, j, k, q_, r

    unit = q_[i] / sp.sqrt(sp.Sum(q_[k] ** 2, (k, 1, r)))
    euler = sp.Sum(q_[j] * sp.diff(unit, q_[j]), (j, 1, r))
    assert prove_zero(euler) == "zero", "Euler identity should be proved"
    assert prove_zero(euler + q_[i]) == "inconclusive", "false identity must not pass"


def test_nested_sums_are_not_captured_by_index_renaming():
    # sum_j sum_k x_jk is not the trace sum_k x_kk; renaming both indices to one
    # dummy would "prove" it.
    from bnconvex.theory.symbols import j, k

    x = sp.IndexedBase("x", real=True)
    double = sp.Sum(sp.Sum(x[j, k], (k, 1, n)), (j, 1, n))
    assert prove_zero(double - sp.Sum(x[k, k], (k, 1, n))) != "zero", "index captured"


def test_finite_sums_over_a_box_are_exchanged_but_not_triangles():
    from bnconvex.theory.symbols import i, j, m

    a, x = sp.IndexedBase("a", real=True), sp.IndexedBase("x", real=True)
    rows = sp.Sum(a[i] * sp.Sum(x[i, j], (j, 1, m)), (i, 1, n))
    cols = sp.Sum(sp.Sum(a[i] * x[i, j], (i, 1, n)), (j, 1, m))
    assert prove_zero(rows - cols) == "zero", "Fubini over a box"
    # over the triangle j <= i the exchanged bounds differ: must not be proved
    tri = sp.Sum(a[i] * sp.Sum(x[i, j], (j, 1, i)), (i, 1, n))
    swapped = sp.Sum(sp.Sum(a[i] * x[i, j], (i, 1, n)), (j, 1, i))
    assert prove_zero(tri - swapped) != "zero", "triangle exchanged as a box"
    # a coefficient that involves the inner index cannot be pulled inside
    wrong = sp.Sum(a[j] * sp.Sum(x[i, j], (j, 1, m)), (i, 1, n))
    assert prove_zero(wrong - cols) != "zero", "captured index"
