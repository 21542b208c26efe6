"""Deciding whether a SymPy expression is identically zero, honestly.

:func:`prove_zero` tries a short ladder of *structured* rewrites (cheap,
predictable) before a size-limited ``simplify``; it answers ``"zero"`` only
when one of them reduces the expression to the literal ``0``, ``"nonzero"``
only when an exact or 60-digit evaluation at a random admissible point is
clearly non-zero, and ``"inconclusive"`` otherwise.  An inconclusive answer
is never turned into a pass by the callers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any, Literal

import sympy as sp
from sympy.matrices.expressions import (
    BlockMatrix,
    MatAdd,
    MatMul,
    MatrixExpr,
    ZeroMatrix,
)

from .symbols import in_range

__all__ = ["Verdict", "prove_nonnegative", "prove_zero", "random_point"]

Verdict = Literal["zero", "nonzero", "inconclusive"]

#: expressions with more operations than this are not handed to ``simplify``.
_SIMPLIFY_MAX_OPS = 400
#: a value this far from zero at 60 digits is a disproof.
_NONZERO_THRESHOLD = sp.Float("1e-30", 60)


def _apply_assumptions(
    expr: Any, assumptions: Mapping[sp.Symbol, Mapping[str, bool]] | None
) -> Any:
    """Replace each symbol of ``assumptions`` by a dummy carrying those assumptions."""
    if not assumptions:
        return expr
    repl = {s: sp.Dummy(s.name, **dict(facts)) for s, facts in assumptions.items()}
    return expr.xreplace(repl)


def _atoms_of_calls(expr: sp.Expr) -> set[sp.Basic]:
    """Outermost Derivative/Subs atoms (treated as opaque variables)."""
    atoms = set(expr.atoms(sp.Derivative, sp.Subs))
    return {a for a in atoms if not any(b != a and b.has(a) for b in atoms)}


def _coefficients_vanish(expr: sp.Expr) -> bool:
    """Expression linear in derivative atoms: every coefficient cancels to 0."""
    atoms = _atoms_of_calls(expr)
    if not atoms:
        return False
    collected = sp.collect(sp.expand(expr), list(atoms), evaluate=False)
    return all(sp.cancel(sp.together(coef)) == 0 for coef in collected.values())


def _cancel_radicands(expr: sp.Expr) -> sp.Expr:
    """Cancel and factor the base of every fractional power, then the whole."""

    def fix(power: sp.Pow) -> sp.Expr:
        return sp.Pow(sp.factor(sp.cancel(sp.expand(power.base))), power.exp)

    rewritten = expr.replace(lambda e: e.is_Pow and not e.exp.is_Integer, fix)
    return sp.cancel(sp.together(sp.factor_terms(rewritten)))


def _truth(rel: sp.Basic) -> sp.Basic:
    """Return the truth of ``lhs (op) rhs`` from the sign of ``lhs - rhs``, or rel."""
    diff = sp.factor(sp.cancel(rel.lhs - rel.rhs))
    sign = {
        ">": diff.is_positive,
        "<": diff.is_negative,
        ">=": diff.is_nonnegative,
        "<=": diff.is_nonpositive,
    }.get(rel.rel_op)
    return rel if sign is None else sp.true if sign else sp.false


def _decide_conditions(expr: sp.Expr) -> sp.Expr:
    """Settle Piecewise guards whose truth follows from the symbols' signs."""
    guards = {rel: _truth(rel) for rel in expr.atoms(sp.core.relational.Relational)}
    return sp.cancel(sp.factor_terms(expr.xreplace(guards)))


_SUM_INDEX = sp.Dummy("m", integer=True, positive=True)


def _canonical_sums(expr: sp.Expr) -> sp.Expr:
    """Split sums over their terms, evaluate index-free ones, rename bound indices.

    ``Sum(a_j + c b_j)`` becomes ``Sum(a_m) + c Sum(b_m)``; ``Sum(1, (j, 1, n))``
    becomes ``n``; every bound index becomes one dummy so that equal sums over
    differently named indices compare equal (innermost sums only, so no index
    is captured).  Then ``cancel``.
    """
    out = expr.replace(
        lambda e: isinstance(e, sp.Sum), lambda e: sp.factor_terms(e.expand())
    )
    out = out.replace(
        lambda e: isinstance(e, sp.Sum) and not e.function.has(sp.Indexed),
        lambda e: e.doit(),
    )
    # only innermost sums are renamed: renaming an outer index could capture it
    out = out.replace(
        lambda e: (
            isinstance(e, sp.Sum)
            and len(e.variables) == 1
            and not e.function.has(sp.Sum)
        ),
        lambda e: e.xreplace({e.variables[0]: _SUM_INDEX}),
    )
    return sp.cancel(sp.factor_terms(sp.expand(out)))


def _merge_nested(outer: sp.Sum) -> sp.Expr:
    """``Sum(c * Sum(f, L1), L0)`` -> ``Sum(c * f, L1, L0)`` when that is valid.

    Valid when ``c`` does not involve the inner indices and no inner bound
    involves an outer index (finite sums over a fixed box: Fubini).
    """
    factors = sp.Mul.make_args(outer.function)
    inner = [f for f in factors if isinstance(f, sp.Sum)]
    if len(inner) != 1:
        return outer
    rest = sp.Mul(*(f for f in factors if f is not inner[0]))
    inner_vars = set(inner[0].variables)
    outer_vars = set(outer.variables)
    bounds = [b for _, lo, hi in inner[0].limits for b in (lo, hi)]
    if rest.free_symbols & inner_vars or any(
        sp.sympify(b).free_symbols & outer_vars for b in bounds
    ):
        return outer
    return sp.Sum(rest * inner[0].function, *inner[0].limits, *outer.limits)


def _sorted_limits(total: sp.Sum) -> sp.Expr:
    """Order the limits of a multiple sum by index name when the box is fixed."""
    variables = set(total.variables)
    if any(
        sp.sympify(b).free_symbols & variables
        for _, lo, hi in total.limits
        for b in (lo, hi)
    ):
        return total
    return sp.Sum(total.function, *sorted(total.limits, key=lambda lim: str(lim[0])))


def _exchange_sums(expr: sp.Expr) -> sp.Expr:
    """Exchange finite sums over a fixed box into one canonical order, then cancel."""
    out = expr.replace(lambda e: isinstance(e, sp.Sum), _merge_nested)
    out = out.replace(
        lambda e: isinstance(e, sp.Sum) and len(e.limits) > 1, _sorted_limits
    )
    return sp.cancel(sp.expand(out))


def _delta_substitute(expr: sp.Expr) -> sp.Expr:
    """In each term ``delta(a, b) * rest``, replace ``a`` by ``b`` in ``rest`` only.

    Valid because the term vanishes unless ``a = b``.
    """

    def fix(term: sp.Expr) -> sp.Expr:
        deltas = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.KroneckerDelta)]
        if not deltas:
            return term
        delta = deltas[0]
        rest = sp.Mul(*(f for f in sp.Mul.make_args(term) if f is not delta))
        a, b = delta.args
        return delta * rest.xreplace({a: b}) if a.is_Symbol else term

    return sp.cancel(sp.Add(*(fix(t) for t in sp.Add.make_args(sp.expand(expr)))))


_LADDER: tuple[Callable[[sp.Expr], sp.Expr], ...] = (
    lambda e: e,
    lambda e: in_range(e) if e.has(sp.Sum) else e,
    lambda e: _canonical_sums(e) if e.has(sp.Sum) else e,
    lambda e: _canonical_sums(in_range(e)) if e.has(sp.Sum) else e,
    lambda e: _exchange_sums(e) if e.has(sp.Sum) else e,
    sp.factor_terms,
    lambda e: sp.cancel(sp.together(sp.factor_terms(e))),
    lambda e: sp.cancel(sp.expand(e)),
    lambda e: sp.cancel(sp.expand(sp.radsimp(sp.together(e)))),
    _cancel_radicands,
    lambda e: sp.expand_log(sp.expand(e), force=False),
    lambda e: _decide_conditions(e) if e.has(sp.Piecewise) else e,
    lambda e: (
        _delta_substitute(in_range(e)) if e.has(sp.KroneckerDelta) else e
    ),
    lambda e: sp.piecewise_fold(e).simplify() if e.has(sp.Piecewise) else e,
)


def _zero_by_rewrites(expr: sp.Expr) -> bool:
    for rewrite in _LADDER:
        try:
            if rewrite(expr) == 0:
                return True
        except Exception:  # a failing rewrite proves nothing
            continue
    if _coefficients_vanish(expr):
        return True
    if sp.count_ops(expr) > _SIMPLIFY_MAX_OPS:
        return False
    try:
        return sp.simplify(expr) == 0
    except Exception:  # SymPy bugs (e.g. StopIteration): inconclusive
        return False


def random_point(
    symbols: set[sp.Symbol], rng: random.Random, *, den: int = 7
) -> dict[sp.Symbol, sp.Rational]:
    """Random rational values respecting each symbol's sign assumptions.

    Positive (or non-negative) symbols get values in ``(0, 3]``, negative ones
    in ``[-3, 0)``, integers get small integers, everything else ``[-3, 3]``.
    """
    point: dict[sp.Symbol, sp.Rational] = {}
    for sym in sorted(symbols, key=str):
        if sym.is_integer:
            value = sp.Integer(rng.randint(2, 9))
        else:
            value = sp.Rational(rng.randint(1, 3 * den), den)
        if sym.is_negative:
            value = -value
        elif not (sym.is_positive or sym.is_nonnegative) and rng.random() < 0.5:
            value = -value
        point[sym] = value
    return point


def _clearly_nonzero(expr: sp.Expr, seed: int = 20240601) -> bool:
    """Exact/60-digit evaluation at random admissible points is far from zero."""
    if _atoms_of_calls(expr) or expr.atoms(sp.core.function.AppliedUndef):
        return False
    if expr.has(sp.Indexed, sp.Sum, sp.MatrixSymbol, sp.OneMatrix):
        return False  # generic-size sums or matrices: no numeric disproof here
    rng = random.Random(seed)
    for _ in range(3):
        value = expr.xreplace(random_point(expr.free_symbols, rng))
        try:
            numeric = sp.N(value, 60)
        except (TypeError, ValueError, ZeroDivisionError):  # pragma: no cover
            continue
        if (
            numeric.is_number
            and numeric.is_finite
            and abs(numeric) > _NONZERO_THRESHOLD
        ):
            return True
    return False


def prove_zero(
    expr: Any, assumptions: Mapping[sp.Symbol, Mapping[str, bool]] | None = None
) -> Verdict:
    r"""Decide whether ``expr`` (scalar or matrix) is identically zero.

    Parameters
    ----------
    expr : sympy expression or Matrix
        A residual ``lhs - rhs``.
    assumptions : mapping, optional
        Extra assumptions, ``{symbol: {"positive": True}}``, imposed by
        replacing each symbol with a dummy that carries them.

    Returns
    -------
    {"zero", "nonzero", "inconclusive"}
        ``"zero"`` only when a rewrite reached the literal ``0`` for every
        entry; ``"nonzero"`` when some entry is clearly non-zero at a random
        admissible rational point; ``"inconclusive"`` otherwise.

    Notes
    -----
    The ladder is: the expression itself, ``factor_terms``, ``cancel`` of
    ``together``, ``cancel`` of ``expand``, ``radsimp``, ``expand_log``,
    Piecewise folding; then, for expressions linear in derivatives of
    undefined functions, vanishing of every coefficient; finally ``simplify``
    when the expression has at most 400 operations.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> prove_zero(sp.sqrt(x**2) - sp.Abs(x))
    'zero'
    >>> prove_zero(x - 1)
    'nonzero'
    """
    expr = _apply_assumptions(sp.sympify(expr), assumptions)
    if isinstance(expr, MatrixExpr) and not isinstance(expr, sp.MatrixBase):
        return _matrix_expression_verdict(expr)
    if isinstance(expr, sp.MatrixBase) and any(
        isinstance(e, MatrixExpr) for e in expr
    ):
        verdicts = {_matrix_expression_verdict(e) for e in expr}
        return "zero" if verdicts == {"zero"} else "inconclusive"
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    verdict: Verdict = "zero"
    for entry in entries:
        if _zero_by_rewrites(entry):
            continue
        if _clearly_nonzero(entry):
            return "nonzero"
        verdict = "inconclusive"
    return verdict


def _matrix_expression_verdict(expr: MatrixExpr) -> Verdict:
    """Decide a symbolic-size matrix residual: zero when its expanded form is.

    Scalar coefficients of the expanded sum are collected per matrix term
    and each is handed to the scalar ladder; there is no numeric disproof at
    symbolic size, so anything else is ``inconclusive``.
    """
    if expr.has(BlockMatrix):
        expr = sp.block_collapse(expr)
    if isinstance(expr, BlockMatrix):
        verdicts = [_matrix_expression_verdict(b) for b in expr.blocks]
        return "zero" if set(verdicts) == {"zero"} else "inconclusive"
    out = sp.expand(expr).doit()
    if out == 0 or isinstance(out, ZeroMatrix):
        return "zero"
    coefficients: dict[Any, Any] = {}
    for term in sp.Add.make_args(out) if not isinstance(out, MatAdd) else out.args:
        coeff, mats = (
            term.as_coeff_matrices() if isinstance(term, MatMul) else (1, [term])
        )
        if not isinstance(term, MatMul) and term.is_Mul:  # pragma: no cover
            return "inconclusive"
        key = MatMul(*mats).doit() if mats else sp.S.One
        coefficients[key] = coefficients.get(key, 0) + coeff
    if all(_zero_by_rewrites(sp.sympify(c)) for c in coefficients.values()):
        return "zero"
    return "inconclusive"


def _violated_somewhere(expr: sp.Expr, rng: random.Random, tries: int = 8) -> bool:
    """``expr`` is clearly negative at one of ``tries`` random admissible points."""
    if _atoms_of_calls(expr) or expr.atoms(sp.core.function.AppliedUndef):
        return False
    for _ in range(tries):
        value = sp.N(expr.xreplace(random_point(expr.free_symbols, rng)), 60)
        if value.is_number and value.is_real and value < -_NONZERO_THRESHOLD:
            return True
    return False


def prove_nonnegative(
    expr: Any, assumptions: Mapping[sp.Symbol, Mapping[str, bool]] | None = None
) -> Verdict:
    r"""Decide whether ``expr >= 0`` for every admissible value of its symbols.

    Returns ``"zero"`` (meaning: the inequality is *proved*) when SymPy's
    assumption system or the factored form shows every entry non-negative,
    ``"nonzero"`` when a random admissible point violates it, and
    ``"inconclusive"`` otherwise.  (The return values mirror
    :func:`prove_zero`, so that both can be aggregated alike.)

    Examples
    --------
    >>> import sympy as sp
    >>> a, b = sp.symbols("a b", real=True)
    >>> prove_nonnegative((a - b)**2 / 2)
    'zero'
    """
    expr = _apply_assumptions(sp.sympify(expr), assumptions)
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    verdict: Verdict = "zero"
    rng = random.Random(7)
    for entry in entries:
        if any(form.is_nonnegative for form in (entry, sp.factor(sp.cancel(entry)))):
            continue
        if _violated_somewhere(entry, rng):
            return "nonzero"
        verdict = "inconclusive"
    return verdict
