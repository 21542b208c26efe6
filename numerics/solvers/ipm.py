r"""``ipm``: the project's own solver for the convex BN program (NumPy + SciPy).

A barrier interior-point method with a Woodbury Newton step, followed by an
active-set Newton polish, and a dual certificate that decides the status.

Notes
-----
1. *Phase I* (:mod:`._phase1`): an interior point of every pattern cone
   :math:`K_i = \{s : (2D_i - I)U's \ge 0\}`.  Cones with (numerically)
   empty interior, depth below ``margin_tol``, are **dropped** and reported in
   ``ConvexSolution.dropped_patterns``; their blocks are zero.  This is exact
   when ``D`` is a complete arrangement: such a cone is a face of the
   arrangement, every point of it lies in the closure of a full-dimensional
   region :math:`K_j` with the same :math:`D U' s` on it, so a block there can
   be moved to block :math:`j` without changing the objective.  For other
   pattern sets the returned certificate (computed with *all* patterns) still
   bounds the gap honestly.
2. *Barrier path following* (:mod:`._barrier`): Newton steps on
   :math:`\tau f + \text{barrier}` with block-diagonal plus rank-:math:`n`
   Hessian solved by Woodbury in :math:`O(Pm^3 + Pm^2n + n^3)`; :math:`\tau`
   grows by ``mu`` per outer iteration.
3. *Polish* (:mod:`._polish`): once :math:`\nu/\tau` is below
   ``POLISH_START`` of the objective, each outer iteration guesses the optimal
   faces from the iterate and solves the smooth face problem by Newton's
   method, in active-set rounds (rows the point violates become active; the
   blocks whose dual constraint is violated most get a face).  Centring is
   capped at ``CENTER_STEPS`` Newton steps per :math:`\tau`.
4. *Certificate*: the residual scaled into the dual feasible set
   (:mod:`bnconvex.numerics.core.certificate`).  The status is ``OPTIMAL`` only when
   the certified relative gap and the cone violation are below ``tol``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from bnconvex.numerics.core.convex_program import ConvexProblem, ConvexSolution
from bnconvex.numerics.solvers._barrier import BarrierState, center, initial_state
from bnconvex.numerics.solvers._blocks import Blocks, make_blocks
from bnconvex.numerics.solvers._common import (
    StopReason,
    certify_blocks,
    finish,
    is_certified,
)
from bnconvex.numerics.solvers._phase1 import interior_points
from bnconvex.numerics.solvers._polish import polish

name = "ipm"

#: Barrier weight growth per outer iteration.
MU = 4.0
#: Polishing starts once the barrier gap bound nu/tau is below this fraction.
POLISH_START = 1e-3
#: Newton steps per centring before tau is increased anyway (the polish and the
#: certificate, not the centring, decide optimality).
CENTER_STEPS = 50
#: The barrier stops when nu/tau falls below this fraction (float64 limit).
BARRIER_FLOOR = 1e-11


def is_installed() -> bool:
    """Return True: the solver needs only NumPy and SciPy."""
    return True


class _Best:
    """The best certified candidate seen so far."""

    def __init__(self, problem: ConvexProblem) -> None:
        self.problem, self.S, self.cert, self.viol = problem, None, None, np.inf

    def offer(self, S_plus: np.ndarray, S_minus: np.ndarray) -> None:
        from bnconvex.numerics.core.convex_program import cone_violation

        cert = certify_blocks(self.problem, S_plus, S_minus)
        viol = cone_violation(self.problem, S_plus, S_minus)
        if self.cert is None or cert.gap < self.cert.gap:
            self.S, self.cert, self.viol = (S_plus, S_minus), cert, viol


def _safe_polish(blk: Blocks, st: BarrierState) -> np.ndarray | None:
    """:func:`polish`, with floating-point trouble meaning "no candidate"."""
    try:
        with np.errstate(divide="raise", invalid="raise", over="raise"):
            return polish(blk, st.X, st.tau)
    except (np.linalg.LinAlgError, FloatingPointError):
        return None


def _log(verbose: bool, msg: str) -> None:
    if verbose:
        print(f"[ipm] {msg}", file=sys.stderr)


def _outer_loop(
    blk, st: BarrierState, best: _Best, P: int, *, tol, max_iter, deadline, verbose
):
    """Barrier outer iterations with polish attempts; returns (reason, history)."""
    history: list[dict[str, float]] = []
    while True:
        budget = min(CENTER_STEPS, max_iter - st.newton_steps)
        try:
            with np.errstate(divide="raise", invalid="raise", over="raise"):
                ok = (
                    center(blk, st, max_steps=budget, deadline=deadline)
                    or budget == CENTER_STEPS
                )
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            ok = False  # float64 exhausted near the boundary: keep the last iterate
        p = blk.objective(st.X)
        bound = blk.nu / st.tau
        history.append(
            {
                "tau": st.tau,
                "newton_steps": st.newton_steps,
                "barrier_gap": bound * blk.scale**2,
                "objective": p * blk.scale**2,
            }
        )
        _log(
            verbose,
            f"tau={st.tau:.2e} steps={st.newton_steps} obj={p:.12e} nu/tau={bound:.2e}",
        )
        if bound <= POLISH_START * p or not ok:
            Xp = _safe_polish(blk, st)
            if Xp is not None:
                best.offer(*blk.expand(Xp, P))
            if best.cert is not None and is_certified(
                best.problem, best.cert, best.viol, tol
            ):
                return "converged", history
        if not ok:
            return ("max_iter" if st.newton_steps >= max_iter else "stalled"), history
        if time.perf_counter() > deadline:
            return "time", history
        if bound <= BARRIER_FLOOR * p:
            return "stalled", history
        st.tau *= MU


def _trivial(problem: ConvexProblem, kept: np.ndarray) -> bool:
    return kept.size == 0 or not np.any(problem.y)


def solve(
    problem: ConvexProblem,
    *,
    tol: float = 1e-9,
    max_iter: int = 500,
    time_limit: float = 60.0,
    verbose: bool = False,
    margin_tol: float = 1e-11,
) -> ConvexSolution:
    """Solve ``problem`` by the barrier method with polish; see the module Notes.

    Parameters
    ----------
    problem : ConvexProblem
    tol : float
        Target certified relative gap and cone violation.
    max_iter : int
        Budget of Newton steps of the barrier phase.
    time_limit : float
        Seconds; checked between Newton steps (a polish in progress finishes).
    verbose : bool
        Progress lines on stderr.
    margin_tol : float
        Depth below which a pattern cone counts as empty (dropped).

    Returns
    -------
    ConvexSolution
        With the certified gap; ``history`` has one entry per outer iteration.
    """
    start = time.perf_counter()
    points, interior = interior_points(
        problem.U_prime, problem.D, margin_tol=margin_tol
    )
    kept, dropped = np.flatnonzero(interior), np.flatnonzero(~interior)
    zeros = np.zeros((problem.P, problem.m))
    if _trivial(problem, kept):
        return finish(
            problem,
            zeros,
            zeros.copy(),
            solver=name,
            tol=tol,
            reason="converged",
            iterations=0,
            seconds=time.perf_counter() - start,
            dropped=dropped,
        )
    blk: Blocks = make_blocks(problem, kept)
    st = initial_state(blk, points[kept])
    best = _Best(problem)
    reason: StopReason
    reason, history = _outer_loop(
        blk,
        st,
        best,
        problem.P,
        tol=tol,
        max_iter=max_iter,
        deadline=start + time_limit,
        verbose=verbose,
    )
    if reason != "converged":
        best.offer(*blk.expand(st.X, problem.P))
    return finish(
        problem,
        *best.S,
        solver=name,
        tol=tol,
        reason=reason,
        iterations=st.newton_steps,
        seconds=time.perf_counter() - start,
        dropped=dropped,
        history=history,
        cert=best.cert,
    )
