"""Toy claims for the runner/renderer tests (registered by a fixture, then removed)."""
# ruff: noqa: RUF012  (claims declare their tolerances/examples as class dicts)

from __future__ import annotations

import hypothesis.strategies as st
import mpmath
from bnconvex.verify.registry import Claim, Evidence


class Step:
    def __init__(self, name, latex):
        self.name, self.latex = name, latex


class Derivation:
    steps = (
        Step("expand", r"(a+b)^2 = a^2 + 2ab + b^2"),
        Step("bound", r"2ab \le a^2 + b^2"),
    )


class PassingClaim(Claim):
    id = "toy.passing"
    title = "x squared is non-negative"
    paper_ref = "toy ref (1)"
    statement = r"x^2 \ge 0"
    tolerances = {"float64": 0.0}
    tolerance_kind = {"float64": "abs"}
    examples = {"quick": 4, "default": 4, "thorough": 4}

    def instances(self):
        return st.integers(-20, 20)

    def check_float64(self, x):
        return Evidence(max_abs_err=max(0.0, -float(x * x)))

    def derivation(self):
        return Derivation()


class FailingClaim(Claim):
    """Fails for x >= 5: the shrunk counterexample must be exactly 5."""

    id = "toy.failing"
    title = "every integer is below 5"
    paper_ref = "toy ref (2)"
    statement = r"x < 5"
    tolerances = {"float64": 0.0}
    tolerance_kind = {"float64": "abs"}
    examples = {"quick": 60, "default": 60, "thorough": 60}

    def instances(self):
        return st.integers(0, 100)

    def check_float64(self, x):
        return Evidence(max_abs_err=float(max(0, x - 4)))


class PinnedClaim(FailingClaim):
    """Same check, with the counterexample 7 pinned: it is run first, not shrunk."""

    id = "toy.pinned"

    def explicit_examples(self):
        return [7]


class RaisingClaim(Claim):
    """Raises for x >= 3: a checker exception is a failed record, shrunk to 3."""

    id = "toy.raising"
    title = "checker raises"
    paper_ref = "toy ref (3)"
    statement = r"x < 3"
    tolerances = {"float64": 0.0}
    examples = {"quick": 60, "default": 60, "thorough": 60}

    def instances(self):
        return st.integers(0, 100)

    def check_float64(self, x):
        if x >= 3:
            raise ZeroDivisionError(f"boom at {x}")
        return Evidence(max_abs_err=0.0)


class SymbolicClaim(Claim):
    """Symbolic tier whose outcome is set by the class attribute ``outcome``."""

    id = "toy.symbolic"
    title = "symbolic outcomes"
    paper_ref = "toy ref (4)"
    statement = r"a = a"
    outcome = "inconclusive"

    def check_symbolic(self):
        if self.outcome == "raise":
            raise RuntimeError("simplify exploded")
        if self.outcome == "nothing":
            return Evidence()
        return Evidence(status=self.outcome)


class MpClaim(Claim):
    """mp tier: pi is precision-consistent; ``broken`` perturbs the 20th digit."""

    id = "toy.mp"
    title = "pi at several precisions"
    paper_ref = "toy ref (5)"
    statement = r"\pi"
    tolerances = {"mp": 1e-25}
    tier_examples = {"mp": {"quick": 1, "default": 1, "thorough": 1}}
    broken = False

    def instances(self):
        return st.just(None)

    def check_mp(self, inst, dps):
        value = mpmath.pi + (mpmath.mpf(10) ** -20 * dps if self.broken else 0)
        return Evidence(max_rel_err=0.0, values={"pi": mpmath.nstr(value, dps)})


class TolerancePassClaim(Claim):
    """Checker says passed but the error exceeds the tolerance: must fail."""

    id = "toy.overconfident"
    title = "checker claims a pass"
    paper_ref = "toy ref (6)"
    statement = r"e \le 10^{-12}"
    tolerances = {"float64": 1e-12}
    tolerance_kind = {"float64": "rel"}

    def instances(self):
        return st.just(0)

    def check_float64(self, inst):
        return Evidence(max_rel_err=1e-3, status="passed")


ALL = (
    PassingClaim,
    FailingClaim,
    PinnedClaim,
    RaisingClaim,
    SymbolicClaim,
    MpClaim,
    TolerancePassClaim,
)
