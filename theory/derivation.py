"""Named derivation steps whose LaTeX a report shows next to their checks.

A :class:`Derivation` is a sequence of :class:`Step` objects.  Each step
states one rewrite ``source  (relation)  expr`` with its LaTeX; the symbolic
tier proves every step with :func:`~bnconvex.theory._simplify.prove_zero`
(``relation == "="``) or :func:`~bnconvex.theory._simplify.prove_nonnegative`
(``relation == ">="``, meaning ``source - expr >= 0``), and the tests check
every step independently by substituting random rationals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

import sympy as sp

from ._simplify import Verdict, prove_nonnegative, prove_zero

__all__ = ["Derivation", "Relation", "Step", "overall"]

Relation = Literal["=", ">="]


@dataclasses.dataclass(frozen=True)
class Step:
    r"""One named step of a derivation.

    Attributes
    ----------
    name : str
        Short identifier, unique within its derivation (``"centre"``).
    latex : str
        The step as a reader sees it, e.g. ``C(ch) = c\,Ch``.
    expr : sympy expression or Matrix
        The step's result.
    source : sympy expression or Matrix, optional
        What the step rewrites; the step asserts ``source == expr``
        (``relation="="``) or ``source >= expr`` entrywise (``">="``).
        ``None`` for a pure definition, which needs no proof.
    relation : {"=", ">="}
        How ``source`` and ``expr`` are related.
    note : str
        Where the step holds beyond the symbols' own assumptions (e.g.
        "case ||y_+|| > beta, encoded by ||y_+|| = beta + delta").

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> Step("square", "(x+1)^2", x**2 + 2*x + 1, source=(x + 1)**2).prove()
    'zero'
    """

    name: str
    latex: str
    expr: Any
    source: Any = None
    relation: Relation = "="
    note: str = ""

    def residual(self) -> Any:
        """``source - expr`` (``None`` for a definition)."""
        if self.source is None:
            return None
        return self.source - self.expr

    def prove(self) -> Verdict:
        """Prove the step symbolically; a definition counts as proved."""
        residual = self.residual()
        if residual is None:
            return "zero"
        if self.relation == ">=":
            return prove_nonnegative(residual)
        return prove_zero(residual)

    def as_record(self) -> dict[str, str]:
        """``{"name", "latex"}`` (plus ``note`` when set) for a report."""
        record = {"name": self.name, "latex": self.latex}
        if self.note:
            record["note"] = self.note
        return record


@dataclasses.dataclass(frozen=True)
class Derivation:
    """A named sequence of steps (see :class:`Step`).

    Attributes
    ----------
    name : str
        What is derived, e.g. ``"BN scale invariance (n=3, d=2)"``.
    steps : tuple of Step
        In reading order; step names are unique.
    """

    name: str
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.steps]
        duplicates = sorted({x for x in names if names.count(x) > 1})
        if duplicates:
            raise ValueError(
                f"`steps` of derivation {self.name!r} repeat names {duplicates}"
            )

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __add__(self, other: Derivation) -> Derivation:
        return Derivation(f"{self.name}; {other.name}", self.steps + other.steps)

    def suffixed(self, suffix: str) -> Derivation:
        """Return the same derivation with every step name suffixed (to concatenate)."""
        steps = tuple(dataclasses.replace(s, name=s.name + suffix) for s in self.steps)
        return Derivation(self.name, steps)

    def step(self, name: str) -> Step:
        """Return the step called ``name`` (``KeyError`` lists the known names)."""
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(
            f"no step {name!r} in {self.name!r}; steps: {[s.name for s in self.steps]}"
        )

    def prove(self) -> dict[str, Verdict]:
        """Prove every step; step name -> verdict."""
        return {s.name: s.prove() for s in self.steps}

    def as_records(self) -> list[dict[str, str]]:
        """Return the steps as ``[{"name", "latex"}, ...]`` for a report."""
        return [s.as_record() for s in self.steps]


def overall(verdicts: dict[str, Verdict]) -> Verdict:
    """Aggregate step verdicts: any ``nonzero`` wins, then ``inconclusive``.

    Examples
    --------
    >>> overall({"a": "zero", "b": "inconclusive"})
    'inconclusive'
    >>> overall({"a": "zero", "b": "nonzero"})
    'nonzero'
    """
    values = set(verdicts.values())
    if "nonzero" in values:
        return "nonzero"
    return "inconclusive" if "inconclusive" in values else "zero"


def mat_latex(expr: Any) -> str:
    """LaTeX of a SymPy object (small helper for step captions)."""
    return sp.latex(expr)
