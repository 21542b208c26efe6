r"""The interface every full-scale method implements (ADMM, augmented Lagrangian).

:func:`~bnconvex.numerics.fullscale.solve_fullscale` drives a method through
this protocol only: it calls :meth:`FullScaleMethod.advance` with a budget of
first-order steps, reads the iterate with :meth:`FullScaleMethod.current`,
certifies it (dual value of the scaled residual, see
:func:`~bnconvex.numerics.fullscale.solve_fullscale`), lets the method
:meth:`FullScaleMethod.adapt` its penalty, and checkpoints it with
:meth:`FullScaleMethod.state` / :meth:`FullScaleMethod.restore`.
:class:`~bnconvex.numerics.fullscale.admm.ADMMMethod` and
:class:`~bnconvex.numerics.fullscale.al.ALMethod` implement it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from bnconvex.numerics._array_api import Array

__all__ = ["FullScaleMethod"]


@runtime_checkable
class FullScaleMethod(Protocol):
    """State of one first-order method on a full-scale problem.

    Attributes
    ----------
    name : str
        ``"admm"`` or ``"al"`` (the result's ``method``).
    iters, outer : int
        First-order steps so far (the unit of ``max_iter``) and certificate
        checks so far (the unit of ``max_outer``).
    rho : float
        Current penalty parameter.
    dual_step : float
        First multiplier step as a fraction of ``rho`` (1 for ADMM).
    tick : callable or None
        ``tick(iterations, S)`` called after every step, if set.
    """

    name: str
    dual_step: float
    tick: Callable[[int, Array], None] | None

    @property
    def iters(self) -> int:
        """First-order steps so far."""

    @property
    def outer(self) -> int:
        """Certificate checks so far."""

    @property
    def rho(self) -> float:
        """Current penalty parameter."""

    def advance(self, budget: int, deadline: float = math.inf) -> None:
        """Take at most ``budget`` steps (at least one), stop past ``deadline``."""

    def current(self) -> tuple[Array, Array | None, float]:
        """Return blocks ``S``, cone multipliers (or None), violation of ``S``."""

    def adapt(self, viol_tol: float, tol: float) -> None:
        """Update the penalty / inner tolerance after a certificate check."""

    def state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Return the arrays and scalars that determine the next iterates."""

    def restore(self, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
        """Inverse of :meth:`state`."""
