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
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import sympy as sp

from ._simplify import Verdict, prove_nonnegative, prove_zero
from .rewrite import Rewrite, apply_rewrites

__all__ = [
    "GENERAL",
    "Derivation",
    "Relation",
    "Rewrite",
    "Step",
    "instance_scope",
    "overall",
]

Relation = Literal["=", ">="]

#: the scope of a step proved for every size (symbolic ``n``, ``d``, ``r``, ``m``).
GENERAL = "general"


def instance_scope(**sizes: int) -> str:
    """Scope label of a step checked at explicit sizes only.

    Examples
    --------
    >>> instance_scope(n=3, d=2)
    'instance (n=3, d=2)'
    """
    return "instance (" + ", ".join(f"{k}={v}" for k, v in sizes.items()) + ")"


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
    title : str
        The step in words, as a report shows it ("centre the data").
    scope : str
        :data:`GENERAL` when the step holds for every size, or an
        :func:`instance_scope` label such as ``"instance (n=3, d=2)"``;
        ``""`` (unlabelled) counts as an instance.
    hypotheses : tuple of Rewrite
        Named structural facts (e.g. :math:`U^TU = I`) that the proof may use,
        each only as a left-to-right rewrite of the residual; a report prints
        them.  Nothing else is assumed.

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
    title: str = ""
    scope: str = ""
    hypotheses: tuple[Rewrite, ...] = ()

    @property
    def is_general(self) -> bool:
        """The step is proved for every size (scope :data:`GENERAL`)."""
        return self.scope == GENERAL

    def residual(self) -> Any:
        """``source - expr`` after the hypotheses' rewrites (``None``: definition)."""
        if self.source is None:
            return None
        return apply_rewrites(self.source - self.expr, self.hypotheses)

    def prove(self) -> Verdict:
        """Prove the step symbolically; a definition counts as proved."""
        residual = self.residual()
        if residual is None:
            return "zero"
        if self.relation == ">=":
            return prove_nonnegative(residual)
        return prove_zero(residual)

    def words(self) -> str:
        """Return the step's title, or its name with underscores read as spaces."""
        return self.title or self.name.replace("_", " ")

    def as_record(self) -> dict[str, Any]:
        """``{"name", "latex", "title", "scope"}`` (``note``, ``hypotheses``)."""
        record: dict[str, Any] = {
            "name": self.name,
            "latex": self.latex,
            "title": self.words(),
            "scope": self.scope or "instance (unlabelled)",
        }
        if self.note:
            record["note"] = self.note
        if self.hypotheses:
            record["hypotheses"] = [
                {"name": h.name, "latex": h.latex} for h in self.hypotheses
            ]
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

    def scoped(self, scope: str) -> Derivation:
        """Return the derivation with ``scope`` given to every unlabelled step."""
        steps = tuple(
            s if s.scope else dataclasses.replace(s, scope=scope) for s in self.steps
        )
        return Derivation(self.name, steps)

    def titled(self, titles: Mapping[str, str]) -> Derivation:
        """Return the derivation with ``titles[name]`` given to untitled steps."""
        steps = tuple(
            dataclasses.replace(s, title=titles[s.name])
            if not s.title and s.name in titles
            else s
            for s in self.steps
        )
        return Derivation(self.name, steps)

    def scope_counts(self) -> dict[str, int]:
        """``{"general": k, "instance": m}``: steps proved for every size, or not."""
        general = sum(s.is_general for s in self.steps)
        return {"general": general, "instance": len(self.steps) - general}

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

    def as_records(self) -> list[dict[str, Any]]:
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
