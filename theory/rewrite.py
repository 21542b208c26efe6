r"""Named hypotheses as rewrites of matrix expressions of symbolic size.

A general-size proof about the centred SVD cannot be carried by explicit
entries; it is carried by matrix expressions (``MatrixSymbol`` of shape
``n x r`` etc.) and a few *structural facts* such as :math:`U^TU = I_r` or
:math:`CX = U\Sigma V^T`.  Each fact is a :class:`Rewrite` with a name and
its LaTeX; a step lists the rewrites it uses, the prover applies exactly
those (left to right, also to the transposed pattern) and nothing else, and
the report prints them.

A rewrite whose left side is a product ``A B ...`` replaces every run of
consecutive factors ``A, B, ...`` in every product; one whose left side is
a single symbol substitutes it (a definition such as
:math:`C = I - \mathbf 1\mathbf 1^T/n`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import sympy as sp
from sympy.matrices.expressions import BlockMatrix, MatMul, MatrixExpr

__all__ = ["Rewrite", "apply_rewrites", "canonical", "norm_sq"]

_MAX_PASSES = 12


def norm_sq(vec: MatrixExpr) -> sp.Expr:
    r""":math:`\|x\|_2^2 = \operatorname{tr}(x^Tx)`, kept unevaluated for rewriting.

    Examples
    --------
    >>> q = sp.MatrixSymbol("q", sp.Symbol("r", integer=True, positive=True), 1)
    >>> norm_sq(q)
    Trace(q.T*q)
    """
    return sp.Trace(vec.T * vec)


def canonical(expr: Any) -> Any:
    """Distribute products over sums and drop identities (``expand`` + ``doit``)."""
    out = sp.expand(expr)
    try:
        return out.doit(deep=False) if isinstance(out, MatrixExpr) else out
    except Exception:  # pragma: no cover - a SymPy quirk proves nothing
        return out


def _factors(expr: MatMul) -> tuple[Any, list[Any]]:
    coeff, mats = expr.as_coeff_matrices()
    return coeff, list(mats)


@dataclasses.dataclass(frozen=True)
class Rewrite:
    r"""A named structural hypothesis ``lhs = rhs`` used as a rewrite.

    Attributes
    ----------
    name : str
        The fact in words ("U has orthonormal columns").
    latex : str
        The fact as a formula, ``U^TU = I_r``.
    lhs, rhs : sympy matrix expression or expression, optional
        ``lhs`` is a product of matrix symbols (or one symbol); ``rhs`` replaces it.
        Both ``None`` for a *rule* (the chain rule, say) that was used to write
        the step's left side: it is printed with the step but rewrites nothing.

    Examples
    --------
    >>> r_ = sp.Symbol("r", integer=True, positive=True)
    >>> n_ = sp.Symbol("n", integer=True, positive=True)
    >>> U, q = sp.MatrixSymbol("U", n_, r_), sp.MatrixSymbol("q", r_, 1)
    >>> ortho = Rewrite("orthonormal columns", "U^TU = I", U.T * U, sp.Identity(r_))
    >>> ortho.apply(U.T * U * q)
    q
    """

    name: str
    latex: str
    lhs: Any = None
    rhs: Any = None

    def _patterns(self) -> list[tuple[list[Any], Any]]:
        if not isinstance(self.lhs, MatMul):
            return []
        pairs = [(_factors(self.lhs)[1], self.rhs)]
        flipped = self.lhs.T.doit()
        if isinstance(flipped, MatMul) and flipped != self.lhs:
            pairs.append((_factors(flipped)[1], self.rhs.T.doit()))
        return pairs

    def _in_product(self, prod: MatMul) -> Any:
        coeff, mats = _factors(prod)
        for pattern, rhs in self._patterns():
            size = len(pattern)
            for start in range(len(mats) - size + 1):
                if mats[start : start + size] == pattern:
                    rest = [*mats[:start], rhs, *mats[start + size :]]
                    return coeff * MatMul(*rest)
        return prod

    def apply(self, expr: Any) -> Any:
        """Rewrite every occurrence of ``lhs`` in ``expr`` once, then canonicalise."""
        expr = sp.sympify(expr)
        if isinstance(self.lhs, MatMul):
            out = expr.replace(lambda e: isinstance(e, MatMul), self._in_product)
        else:
            out = expr.xreplace({self.lhs: self.rhs})
        return canonical(out)


def apply_rewrites(expr: Any, rewrites: Iterable[Rewrite]) -> Any:
    """Apply the named ``rewrites`` until nothing changes (at most 12 passes)."""
    rewrites = tuple(r for r in rewrites if r.lhs is not None)
    if isinstance(expr, MatrixExpr) and expr.has(BlockMatrix):
        expr = sp.block_collapse(expr)
    if isinstance(expr, BlockMatrix):
        blocks = expr.blocks
        return BlockMatrix(
            [
                [apply_rewrites(blocks[a, b], rewrites) for b in range(blocks.cols)]
                for a in range(blocks.rows)
            ]
        )
    if not rewrites:
        return expr
    out = canonical(expr)
    for _ in range(_MAX_PASSES):
        before = out
        for rw in rewrites:
            out = rw.apply(out)
        if out == before:
            break
    return out
