r"""The claim registry: one :class:`Claim` per checkable statement of the paper.

A claim is declared once, as a class decorated with :func:`register`, and may
carry up to four tiers of checks (style.md items 12-16):

``symbolic``
    exact SymPy check, no instance; returns :class:`Evidence` whose status is
    ``passed`` only when ``simplify(lhs - rhs) == 0`` was *proved*; an
    undecided simplification is ``inconclusive``, never ``passed``.
``mp``
    mpmath at ``dps`` decimal digits on one instance; the runner calls it at
    several precisions and compares neighbouring levels.
``float64``
    NumPy/float64 array code or the numerics solvers on one instance, usually
    compared against the ``mp`` value of the same instance.
``xp``
    the array-API code path under a non-NumPy namespace (``array-api-strict``
    or CuPy), selected by ``--backend``.

Tolerances are stated *in the claim* (``tolerances`` mapping tier -> float),
never hidden in a helper.  A checker measures; the runner decides: a tier
passes when every measured error is ``<=`` its tolerance.

Example
-------
>>> import hypothesis.strategies as st
>>> @register
... class _Demo(Claim):
...     id = "demo.square"
...     title = "Squares are non-negative"
...     paper_ref = "none (example)"
...     statement = r"x^2 \ge 0"
...     tolerances = {"float64": 0.0}
...     def instances(self):
...         return st.floats(-10, 10)
...     def check_float64(self, x):
...         return Evidence(max_abs_err=max(0.0, -(x * x)))
>>> get_claim("demo.square").tiers
('float64',)
>>> _ = unregister("demo.square")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

from bnconvex.numerics.errors import ClaimError

__all__ = [
    "STATUSES",
    "TIERS",
    "Claim",
    "Evidence",
    "Status",
    "Tier",
    "all_claims",
    "get_claim",
    "register",
    "unregister",
]

Tier = Literal["symbolic", "mp", "float64", "xp"]
Status = Literal["passed", "failed", "inconclusive", "skipped"]
TIERS: tuple[str, ...] = ("symbolic", "mp", "float64", "xp")
STATUSES: tuple[str, ...] = ("passed", "failed", "inconclusive", "skipped")


@dataclasses.dataclass
class Evidence:
    """What one tier check measured on one instance.

    Attributes
    ----------
    max_abs_err, max_rel_err
        Largest absolute / relative error measured (``None`` if not applicable).
    status
        Set only when the checker itself decides (``inconclusive`` for an
        undecided symbolic simplification, ``skipped`` for a missing optional
        dependency, ``failed`` for a structural failure such as a wrong
        neuron count).  ``None`` lets the runner compare errors to the
        tolerance.
    digits
        Significant decimal digits agreed (mp tier), if measured.
    values
        Key computed quantities as strings at full working precision, used by
        the runner's cross-precision comparison of the mp tier.
    details
        Free-form JSON-serialisable facts (sizes, solver status, steps).
    """

    max_abs_err: float | None = None
    max_rel_err: float | None = None
    status: Status | None = None
    digits: float | None = None
    values: dict[str, str] = dataclasses.field(default_factory=dict)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


class Claim:
    """Base class of registered claims.

    Subclasses set the class attributes below and implement any of
    ``check_symbolic(self)``, ``check_mp(self, instance, dps)``,
    ``check_float64(self, instance)``, ``check_xp(self, instance, xp)``, and
    ``instances(self)`` (a Hypothesis strategy of small concrete cases; the
    ``quick`` mode may use a smaller one via ``quick_instances``).  Optionally
    ``derivation(self)`` returns a ``bnconvex.theory.derivation.Derivation`` whose
    named steps (LaTeX) are shown in the report next to the checks.

    Attributes
    ----------
    id : str
        Dotted identifier, e.g. ``"bn.scale_invariance"``.
    title : str
        One line, plain text.
    paper_ref : str
        Where the statement comes from, e.g. ``"paper.md §6 item 1; R0"``.
    paper_tag : str
        The paper.md evidence tag (``DERIVED+NUM``, ``UNCONFIRMED``, ...).
    statement : str
        LaTeX of the statement.
    tolerances : dict
        Tier -> tolerance (absolute or relative as ``tolerance_kind`` says);
        ``symbolic`` is exact and needs no entry.
    tolerance_notes : dict
        Tier -> why this tolerance (conditioning, solver accuracy, ...).
    tags : tuple of str
        ``"slow"``, ``"gpu"``, ``"solver"``, ...
    examples : dict
        Mode -> number of Hypothesis examples (``quick``, ``default``, ``thorough``).
    tier_examples : dict
        Optional tier -> (mode -> examples) overriding ``examples`` for one tier
        (typically fewer examples for the slow ``mp`` tier).
    mp_digit_slack : int
        The ``mp`` tier runs at several precisions; a level ``p`` must agree
        with the next lower level ``p0`` to at least ``p0 - mp_digit_slack``
        significant digits (style.md item 15).
    """

    id: ClassVar[str]
    title: ClassVar[str]
    paper_ref: ClassVar[str]
    paper_tag: ClassVar[str] = "DERIVED"
    statement: ClassVar[str]
    tolerances: ClassVar[dict[str, float]] = {}
    tolerance_notes: ClassVar[dict[str, str]] = {}
    tolerance_kind: ClassVar[dict[str, str]] = {}
    tags: ClassVar[tuple[str, ...]] = ()
    examples: ClassVar[dict[str, int]] = {"quick": 3, "default": 10, "thorough": 200}
    tier_examples: ClassVar[dict[str, dict[str, int]]] = {}
    mp_digit_slack: ClassVar[int] = 5

    # --- introspection ---------------------------------------------------
    @property
    def tiers(self) -> tuple[str, ...]:
        """The tiers this claim implements, in canonical order."""
        return tuple(t for t in TIERS if callable(getattr(self, f"check_{t}", None)))

    def checker(self, tier: str) -> Callable[..., Evidence]:
        """Return the bound check method of ``tier``."""
        fn = getattr(self, f"check_{tier}", None)
        if not callable(fn):
            raise ClaimError(f"claim {self.id!r} has no {tier!r} tier")
        return fn

    def n_examples(self, tier: str, mode: str) -> int:
        """Return the number of Hypothesis examples of ``tier`` in ``mode``."""
        return int(self.tier_examples.get(tier, self.examples)[mode])

    def instances(self) -> Any:  # pragma: no cover - overridden
        """Hypothesis strategy of instances; ``None`` for instance-free claims."""
        return None

    def quick_instances(self) -> Any:
        """Strategy used by ``--quick``; defaults to :meth:`instances`."""
        return self.instances()

    def explicit_examples(self) -> list[Any]:
        """Pinned instances run before the generated ones in every mode.

        Each is a counterexample found earlier (style.md item 22: pin every bug
        as an explicit example, with a comment saying where it came from).
        """
        return []

    def derivation(self) -> Any:
        """Return optional named derivation steps (see ``bnconvex.theory``)."""
        return None

    def __repr__(self) -> str:
        return f"<Claim {self.id} tiers={','.join(self.tiers)}>"


_REGISTRY: dict[str, Claim] = {}


def _validate(cls: type[Claim]) -> None:
    for attr in ("id", "title", "paper_ref", "statement"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise ClaimError(
                f"claim class {cls.__name__} must set a non-empty `{attr}`"
            )
    inst = cls()
    if not inst.tiers:
        raise ClaimError(
            f"claim {cls.id!r} implements no tier (check_symbolic/mp/float64/xp)"
        )
    for tier in inst.tiers:
        if tier != "symbolic" and tier not in cls.tolerances:
            raise ClaimError(
                f"claim {cls.id!r}: tier {tier!r} needs a tolerance in `tolerances`"
            )


def register(cls: type[Claim]) -> type[Claim]:
    """Class decorator: validate and add a claim to the registry."""
    _validate(cls)
    if cls.id in _REGISTRY:
        raise ClaimError(f"claim id {cls.id!r} is registered twice")
    _REGISTRY[cls.id] = cls()
    return cls


def unregister(claim_id: str) -> Claim:
    """Remove a claim (used by tests and doctests)."""
    return _REGISTRY.pop(claim_id)


def _load_builtin_claims() -> None:
    # Importing the package registers every built-in claim module.
    import bnconvex.verify.claims  # noqa: F401


def all_claims() -> Iterator[Claim]:
    """Every registered claim, sorted by id."""
    _load_builtin_claims()
    for key in sorted(_REGISTRY):
        yield _REGISTRY[key]


def get_claim(claim_id: str) -> Claim:
    """Look a claim up by id; ``KeyError`` names the known ids.

    Examples
    --------
    >>> import bnconvex.verify.claims  # registers the claims
    >>> get_claim("dual.certificate").tiers
    ('mp', 'float64')
    """
    _load_builtin_claims()
    try:
        return _REGISTRY[claim_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise KeyError(f"unknown claim {claim_id!r}; known: {known}") from None
