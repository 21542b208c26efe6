r"""The result every solve method returns, and the options every method takes.

Every method of :data:`bnconvex.numerics.solvers.METHODS` returns a subclass of
:class:`SolveResult` (:class:`~bnconvex.numerics.core.convex_program.ConvexSolution`,
:class:`~bnconvex.numerics.fullscale.FullScaleSolution`,
:class:`~bnconvex.numerics.solvers.loss_barrier.BarrierResult`,
:class:`~bnconvex.numerics.extensions.bn_after_relu.AfterReLUSolution`) and
accepts the options of :data:`COMMON_OPTIONS` with one meaning each:

``tol``
    Target certified relative gap :math:`(p - d)/\max(|p|, \text{tiny})`
    (and, where the method has cone constraints, violation
    :math:`\le` ``tol`` :math:`\cdot\max(1, \|y\|)`); ``OPTIMAL`` only when met.
``max_iter``
    Budget of the method's iterations over the whole call, the count it
    reports as :attr:`SolveResult.iterations` (one iteration = one linear
    system of an interior-point or Newton method, or one first-order step);
    never per round or per centring.
``time_limit``
    Wall-time budget in seconds (``0``: stop after the first check, status
    ``TIME_LIMIT`` unless optimal).
``verbose``
    Progress lines on stderr.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["COMMON_OPTIONS", "BoundedGap", "SolveResult", "relative_gap"]

#: The option vocabulary shared by every solve method (module docstring).
COMMON_OPTIONS = ("tol", "max_iter", "time_limit", "verbose")


@dataclasses.dataclass(kw_only=True)
class SolveResult:
    r"""What every solve reports, whatever the method.

    Attributes
    ----------
    objective : float
        Objective :math:`p` at the returned point.
    lower_bound : float
        Lower bound :math:`d` on the optimum of the program that was solved
        (over its pattern set: bound kind ``"patterns"``, see
        :data:`bnconvex.numerics.exact.BOUND_KINDS`).
    gap : float
        ``objective - lower_bound``.
    status : SolverStatus
    iterations : int
        Iterations taken (the unit ``max_iter`` counts).
    seconds : float
        Wall time of the call.
    max_violation : float
        Largest constraint violation of the returned point (0 where the
        method keeps its iterates strictly feasible).
    solver : str
        Name of the method in :data:`bnconvex.numerics.solvers.METHODS`.
    history : list of dict
        Per outer iteration diagnostics (method specific; may be empty).
    """

    objective: float
    lower_bound: float
    gap: float
    status: Any
    iterations: int
    seconds: float
    max_violation: float = 0.0
    solver: str = ""
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)

    @property
    def relative_gap(self) -> float:
        """``gap / max(|objective|, tiny)``."""
        return relative_gap(self.gap, self.objective)

    @property
    def bound_kind(self) -> str:
        """Always ``"patterns"``: a solver bounds the program it was given.

        Whether that bound is ``"global"`` depends on the pattern set, which
        only the caller knows (:attr:`bnconvex.numerics.exact.ExactFit.bound_kind`).
        """
        return "patterns"


class BoundedGap:
    """``gap`` and ``relative_gap`` from the stored ``objective`` and ``lower_bound``.

    A mixin for result dataclasses (certificates of networks, vector-output and
    CNN fits) whose gap is not stored but follows from the two values.
    """

    objective: float
    lower_bound: float

    @property
    def gap(self) -> float:
        """``objective - lower_bound``: certified, at least the true distance."""
        return self.objective - self.lower_bound

    @property
    def relative_gap(self) -> float:
        """``gap / max(|objective|, tiny)`` (:func:`relative_gap`)."""
        return relative_gap(self.gap, self.objective)


def relative_gap(gap: float, objective: float) -> float:
    r"""Return the relative gap :math:`(p - d)/\max(|p|, \text{tiny})`.

    The one formula behind every ``relative_gap`` the library reports (solver
    results, certificates, exact fits, estimators): ``gap`` is :math:`p - d`,
    ``objective`` the :math:`p` of the point; ``tiny`` (the smallest normal
    float64) keeps a zero objective from dividing by zero.

    Examples
    --------
    >>> relative_gap(0.5, 2.0)
    0.25
    """
    return float(gap / max(abs(objective), np.finfo(float).tiny))
