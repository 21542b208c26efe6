r"""Matrix-free augmented Lagrangian with a FISTA inner solver (any ``n``).

Each round minimises the PHR augmented Lagrangian

.. math::
    \tfrac12\|\hat Y - Y\|^2 + \frac1{2\rho}\sum\bigl(\|(\lambda - \rho A s)_+\|^2
    - \|\lambda\|^2\bigr) + \beta\sum_g\|s_g\|

by FISTA with gradient restarts and group soft-thresholding, step
:math:`1/(\|M\|^2 + \rho\|F\|^2)`, then sets
:math:`\lambda \leftarrow (\lambda - \theta\rho A s)_+` and multiplies :math:`\rho`
by ten when the violation fell by less than a factor 4.  The dual step
:math:`\theta_j = \min(1, 2^j\theta_0)` of round :math:`j` is 1 in the
textbook method (:math:`\theta_0 = 1`).  A smaller :math:`\theta_0` under-relaxes
the first updates: the first round is a quadratic-penalty solve, and a full
first update doubles the force on every violated constraint at once, which
moves a time-limited iterate far from the penalty solution (on CIFAR-10 it cost
1.5-3 points of test accuracy for ~300 iterations).  Doubling :math:`\theta`
each round makes the method the textbook one after
:math:`\lceil\log_2(1/\theta_0)\rceil` rounds, so its convergence is unchanged;
held constant below 1, the dual converges far more slowly (measured on small
programs: no certificate within 20,000 iterations).  Only chunked GEMMs and
elementwise work: memory is :math:`O(nPK)` for the multipliers plus the chunk
temporaries.
"""

from __future__ import annotations

import math
import time

from bnconvex.numerics._array_api import Array
from bnconvex.numerics.fullscale._ops import block_norms, group_shrink
from bnconvex.numerics.fullscale._problem import Problem, scaled_residual_bound

__all__ = ["ALMethod"]

_RHO_MAX = 1e8


class ALMethod:
    """Augmented-Lagrangian method state (see the module docstring)."""

    name = "al"

    def __init__(
        self,
        pb: Problem,
        S: Array,
        lam: Array | None,
        rho: float,
        dual_step: float = 1.0,
    ) -> None:
        self.pb, self.S, self.lam, self.rho = pb, S, lam, float(rho)
        #: the initial dual step theta_0 (problem metadata of checkpoints)
        self.dual_step = float(dual_step)
        self.theta = self.dual_step
        self.eps, self.prev_viol = 1e-2, math.inf
        self.iters = self.outer = 0
        self.viol = 0.0
        #: optional ``tick(iterations, S)`` called after every FISTA step
        self.tick = None
        #: best dual bound seen at the FISTA steps (:meth:`_step_values`)
        self.lower = -math.inf
        #: objective and cone violation at the last extrapolated point
        self.step_objective = self.step_violation = math.nan
        #: solver steps of time kept free before the deadline: the round's
        #: multiplier step and the final check (objective, certificate) took
        #: 2.2-2.5 steps on CIFAR-10 (8.6 s after 3.5 s steps)
        self.reserve_steps = 2.5
        #: the last round stopped because another step would not fit before
        #: the deadline (the driver then stops with ``TIME_LIMIT``)
        self.out_of_time = False

    # -- one round ------------------------------------------------------
    def advance(self, budget: int, deadline: float = math.inf) -> None:
        """Run the inner FISTA solve, then the multiplier update.

        ``deadline`` is a ``time.perf_counter()`` value that stops FISTA early.
        """
        pb = self.pb
        L = pb.L_loss + (0.0 if pb.gated else self.rho * pb.F2)
        self.iters += self._fista(L, self.eps * pb.g0, max(1, budget), deadline)
        self.outer += 1
        self.viol = (
            0.0
            if pb.gated
            else pb.op.multiplier_step(self.S, self.lam, self.theta * self.rho)
        )
        self.theta = min(1.0, 2.0 * self.theta)

    def current(self) -> tuple[Array, Array | None, float]:
        """Blocks, multipliers for the certificate, cone violation."""
        return self.S, self.lam, self.viol

    def adapt(self, viol_tol: float, tol: float) -> None:
        """Grow ``rho`` when the violation stalls; tighten the inner tolerance."""
        if (
            not self.pb.gated
            and self.viol > 0.25 * self.prev_viol
            and self.viol > viol_tol
        ):
            self.rho = min(10.0 * self.rho, _RHO_MAX)
        self.prev_viol = self.viol
        self.eps = max(0.1 * self.eps, 1e-3 * tol)

    def _fista(self, L: float, tol_abs: float, budget: int, deadline: float) -> int:
        r"""FISTA with O'Donoghue-Candès gradient restarts; updates ``self.S``.

        Stops when the gradient-mapping norm :math:`L\|x_{k+1}-y_k\|` is at most
        ``tol_abs``.
        """
        pb = self.pb
        xp, op = pb.xp, pb.op
        x = self.S
        y, t = x, 1.0
        last = time.perf_counter()
        for it in range(1, budget + 1):
            R, G = op.gradient(y, pb.Y, self.lam, self.rho)
            self._step_values(y, R, G)
            x_new = group_shrink(y - G / L, pb.beta / L, xp, pb.group)
            if self.tick is not None:
                self.tick(self.iters + it, x_new)
            step = x_new - y
            now = time.perf_counter()
            last, took = now, now - last
            self.out_of_time = now + (1.0 + self.reserve_steps) * took > deadline
            if L * float(xp.sqrt(xp.sum(step * step))) <= tol_abs or self.out_of_time:
                self.S = x_new
                return it
            if float(xp.sum(-step * (x_new - x))) > 0:
                y, t = x_new, 1.0
            else:
                t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
                y = x_new + ((t - 1.0) / t_new) * (x_new - x)
                t = t_new
            x = x_new
        self.S = x
        return budget

    def _step_values(self, y: Array, R: Array, G: Array) -> None:
        r"""Record the free by-products of a FISTA gradient at ``y``.

        ``G`` holds the augmented-Lagrangian multipliers
        :math:`\mu = (\lambda - \rho E\circ Z)_+ \ge 0`, so it certifies a
        dual bound at the residual ``R`` of ``y``
        (:func:`~bnconvex.numerics.fullscale._problem.scaled_residual_bound`);
        as FISTA converges every block of ``G`` has norm at most
        :math:`\beta`, so the bound approaches the sub-problem's value.  No
        extra pass over the data.
        """
        pb, xp = self.pb, self.pb.xp
        self.lower = max(self.lower, scaled_residual_bound(pb, R, G))
        penalty = float(xp.sum(block_norms(y, xp, pb.group)))
        self.step_objective = 0.5 * float(xp.sum(R * R)) + pb.beta * penalty
        self.step_violation = 0.0 if pb.gated else pb.op.violation_seen

    # -- checkpoints ----------------------------------------------------
    def state(self) -> tuple[dict, dict]:
        """Arrays and scalars that determine the next iterates."""
        arrays = {"S": self.S, "lam": self.lam}
        meta = {
            "rho": self.rho,
            "eps": self.eps,
            "prev_viol": self.prev_viol,
            "iters": self.iters,
            "outer": self.outer,
            "viol": self.viol,
            "theta": self.theta,
            "lower": self.lower,
        }
        return arrays, meta

    def restore(self, arrays: dict, meta: dict) -> None:
        """Inverse of :meth:`state`."""
        self.S, self.lam = arrays["S"], arrays.get("lam")
        for key in ("rho", "eps", "prev_viol", "viol"):
            setattr(self, key, float(meta[key]))
        self.iters, self.outer = int(meta["iters"]), int(meta["outer"])
        self.theta = float(meta.get("theta", 1.0))
        self.lower = float(meta.get("lower", -math.inf))
