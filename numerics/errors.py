"""Domain exceptions of bnconvex, in one place (CVXPY ``error.py`` style).

Every message names the argument or object that failed and, where possible,
what to try instead.
"""

from __future__ import annotations

__all__ = [
    "BnConvexError",
    "ClaimError",
    "InputError",
    "PrecisionError",
    "SolverError",
]


class BnConvexError(Exception):
    """Base class of every exception raised on purpose by bnconvex."""


class InputError(BnConvexError, ValueError):
    """Bad user input: wrong shape, non-finite values, out-of-range parameter.

    Subclasses :class:`ValueError` so that generic callers can catch it; the
    command line turns it into exit status 2 with the message on one line.
    """


class SolverError(BnConvexError, RuntimeError):
    """A solver failed in a way that no honest status can describe."""


class PrecisionError(BnConvexError, ArithmeticError):
    """High-precision work could not reach the requested number of digits."""


class ClaimError(BnConvexError, RuntimeError):
    """A claim definition in the registry is malformed."""
