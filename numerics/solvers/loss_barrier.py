r"""Primal log-barrier method for small group-lasso programs with a convex loss.

Solves (paper.md R5, R6)

.. math::
    \min_x\ \ell(Ax, y) + \beta\sum_b \|B_b x_b\|_2
    \quad\text{s.t.}\quad G_b x_b \ge 0,\ \ \|x_b\|_2 \le R_b,

where :math:`x = (x_1, \dots, x_K)` is split into blocks, :math:`\ell` is one
of :mod:`bnconvex.numerics.extensions.losses` and the balls are optional (used when
:math:`B_b` has a null space, where the barrier would otherwise be unbounded
below).  The method is the textbook barrier method (Boyd & Vandenberghe §11.3)
with dense Newton steps, meant for the tiny instances of the verification
claims (a few hundred variables), not for full-scale data.

Epigraph form: variables :math:`z = (x, \tau)` with
:math:`\|B_bx_b\| \le \tau_b` (second-order cones); for the non-smooth
hinge loss, slacks :math:`\xi \ge 0`, :math:`\xi \ge 1 - y\odot Ax` with the
linear objective :math:`\mathbf 1^T\xi`, eliminated in closed form
(:func:`_hinge_terms`).  The barrier

.. math::
    \phi(z) = -\sum_b\log(\tau_b^2 - \|B_bx_b\|^2) - \sum_b\mathbf 1^T\log(G_bx_b)
              - \sum_b\log(R_b^2 - \|x_b\|^2)\ [-\ \text{hinge slack terms}]

has parameter :math:`\nu = 2K + \sum_b\#\text{rows}(G_b) + \#\text{balls}`
(+ 2n for the hinge); at the
minimiser :math:`z^\star(t)` of :math:`t f_0 + \phi` the duality gap of the
associated dual point is exactly :math:`\nu/t`, which is the reported gap
(exact up to the centring error: Newton decrement :math:`\lambda^2 \le
2\cdot10^{-3}`).  This bound is not rigorous; callers that need one use the
loss-specific dual bound (:func:`bnconvex.numerics.extensions.losses.loss_dual_bound`).

Limits measured on the claim instances (n = 5..8, d = 2, up to 57 patterns,
2026-11-25): squared and logistic losses usually reach a gap bound of 1e-10
relative (sometimes they stop ``INACCURATE`` near 1e-7).  With the hinge loss
the Woodbury Newton systems lose accuracy once :math:`t \gtrsim 10^6`
(curvature :math:`\sim t^2` at margin points); a dense solve
(:data:`DENSE_LIMIT` unknowns at most) takes over, and the run typically
stops ``INACCURATE`` with a rigorous relative gap (objective minus the
conjugate dual bound) of 1e-5 to 1e-3, primal value within ~1e-8 of
Clarabel's.  A primal-dual or active-set method would be needed for more.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.result import SolveResult
from bnconvex.numerics.status import SolverStatus

if TYPE_CHECKING:  # losses imports this module; avoid the cycle at run time
    from bnconvex.numerics.extensions.losses import Loss

__all__ = ["BarrierResult", "BlockProgram", "solve_block_program"]

name = "loss-barrier"


@dataclasses.dataclass(frozen=True)
class BlockProgram:
    r"""Data of :math:`\min \ell(Ax) + \beta\sum_b\|B_bx_b\|` s.t. cones and balls.

    All ``K`` blocks have the same size ``k``.

    Parameters
    ----------
    A : ndarray, shape (n, K, k)
        Prediction map: :math:`Ax = \sum_b A[:, b, :] x_b`.
    B : ndarray, shape (K, q, k)
        Penalty matrices :math:`B_b`.
    G : ndarray, shape (K, c, k)
        Cone matrices :math:`G_b` (constraints :math:`G_bx_b \ge 0`).
    y : ndarray, shape (n,)
    beta : float
    loss : Loss
    radius : ndarray, shape (K,)
        Ball radius per block (``inf`` = no ball).
    start : ndarray, shape (K, k)
        A point with :math:`G_bx_b > 0` (strictly inside every cone).
    """

    A: np.ndarray
    B: np.ndarray
    G: np.ndarray
    y: np.ndarray
    beta: float
    loss: Loss
    radius: np.ndarray
    start: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Prediction ``A x`` for blocks ``x`` of shape (K, k)."""
        return np.einsum("nbk,bk->n", self.A, x)

    def penalty(self, x: np.ndarray) -> float:
        r""":math:`\beta\sum_b\|B_bx_b\|`."""
        return self.beta * float(np.linalg.norm(_bmv(self.B, x), axis=1).sum())

    def objective(self, x: np.ndarray) -> float:
        """Loss plus penalty at blocks ``x`` (K, k)."""
        return self.loss.value(self.predict(x), self.y) + self.penalty(x)


def _bmv(M: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Blockwise products ``M[b] @ x[b]``."""
    return (M @ x[..., None])[..., 0]


@dataclasses.dataclass
class BarrierResult(SolveResult):
    r"""Outcome of :func:`solve_block_program`.

    A :class:`~bnconvex.numerics.result.SolveResult` with
    ``lower_bound = objective - gap`` (the central-path bound, not rigorous:
    see the module Notes), ``max_violation = 0`` (the iterates are strictly
    feasible) and ``solver = "loss-barrier"``; ``iterations`` counts Newton
    steps.

    Attributes
    ----------
    x : ndarray
        Final point (strictly feasible).
    barrier_t : float
    loss_dual : ndarray, shape (n,)
        The dual point :math:`\lambda \in \partial\ell(Ax)` of the loss:
        the gradient for a smooth loss; for the hinge loss
        :math:`-y\odot\mu` with :math:`\mu = 1/(t\,(\xi + y\odot Ax - 1))`
        the barrier's multipliers of the margin constraints, in [0, 1].
    dual_history : list of ndarray
        ``loss_dual`` at every centred iterate (the last one can be the least
        accurate when rounding limits the final centrings, as with the hinge
        loss; callers with a rigorous dual bound pick the best).
    """

    x: np.ndarray
    barrier_t: float
    loss_dual: np.ndarray
    dual_history: list[np.ndarray] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Point:
    """Iterate: blocks ``x`` (K, k) and epigraph variables ``tau`` (K,)."""

    x: np.ndarray
    tau: np.ndarray

    def step(self, d: _Point, a: float) -> _Point:
        return _Point(self.x + a * d.x, self.tau + a * d.tau)

    def dot(self, d: _Point) -> float:
        return float(np.sum(self.x * d.x) + self.tau @ d.tau)


def _hinge_slacks(a: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Minimiser of :math:`t\xi - \log\xi - \log(\xi + a)`, and :math:`r = \xi + a`.

    Stationarity :math:`t = 1/\xi + 1/r` gives
    :math:`\xi = (2 - ta + \sqrt{t^2a^2+4})/(2t)`,
    :math:`r = (2 + ta + \sqrt{t^2a^2+4})/(2t)`, each evaluated in the
    cancellation-free form.
    """
    ta = t * a
    root = np.sqrt(ta * ta + 4.0)
    small, big = 4.0 / (np.abs(ta) + root), root + np.abs(ta)  # root -+ |ta|
    pos = ta > 0
    tail_xi, tail_r = np.where(pos, small, big), np.where(pos, big, small)
    return (2.0 + tail_xi) / (2.0 * t), (2.0 + tail_r) / (2.0 * t)


def _hinge_terms(prog, pred: np.ndarray, t: float):
    r"""Value, derivative and second derivative (in the prediction) of the hinge part.

    The hinge epigraph :math:`\xi \ge 0`, :math:`\xi \ge 1 - y\odot z` with
    objective :math:`t\mathbf 1^T\xi` and log barriers is minimised over
    :math:`\xi` in closed form (partial minimisation keeps convexity):
    :math:`\psi(a) = t\xi - \log\xi - \log r` with :math:`a = y\odot z - 1`,
    :math:`\psi'(a) = -1/r`, :math:`\psi''(a) = 1/(\xi^2 + r^2)`.
    """
    xi, r = _hinge_slacks(prog.y * pred - 1.0, t)
    value = float(t * xi.sum() - np.log(xi).sum() - np.log(r).sum())
    return value, -prog.y / r, 1.0 / (xi * xi + r * r)


def _slacks(prog: BlockProgram, z: _Point):
    """All barrier slacks; ``None`` when ``z`` is not strictly feasible."""
    u = _bmv(prog.B, z.x)
    soc = z.tau**2 - np.sum(u * u, axis=1)
    lin = _bmv(prog.G, z.x)
    ball = prog.radius**2 - np.sum(z.x * z.x, axis=1)
    ok = np.all(z.tau > 0) and np.all(soc > 0) and np.all(lin > 0) and np.all(ball > 0)
    return (u, soc, lin, ball) if ok else None


def _nu(prog: BlockProgram) -> float:
    K, c = prog.G.shape[:2]
    hinge = 0 if prog.loss.smooth else 2 * prog.y.size
    return 2.0 * K + K * c + float(np.sum(np.isfinite(prog.radius))) + hinge


def _value(prog: BlockProgram, z: _Point, t: float, sl=None) -> float:
    """``t f0(z) + barrier(z)``; ``inf`` outside the domain."""
    sl = _slacks(prog, z) if sl is None else sl
    if sl is None:
        return np.inf
    _, soc, lin, ball = sl
    pred = prog.predict(z.x)
    value = t * prog.beta * z.tau.sum()
    if prog.loss.smooth:
        value += t * prog.loss.value(pred, prog.y)
    else:
        value += _hinge_terms(prog, pred, t)[0]
    fin = np.isfinite(ball)
    return float(
        value - np.log(soc).sum() - np.log(lin).sum() - np.log(ball[fin]).sum()
    )


def _block_hessian(prog: BlockProgram, z: _Point, sl, t: float):
    """Gradient (a _Point) and block-diagonal Hessian (K, k+1, k+1) of the blocks."""
    u, soc, lin, ball = sl
    K, k = z.x.shape
    Bt = np.swapaxes(prog.B, 1, 2)
    gu = 2.0 * u / soc[:, None]
    gx = _bmv(Bt, gu) - _bmv(np.swapaxes(prog.G, 1, 2), 1.0 / lin)
    gtau = t * prog.beta - 2.0 * z.tau / soc
    Huu = (
        2.0 * np.eye(u.shape[1]) / soc[:, None, None] + gu[:, :, None] * gu[:, None, :]
    )
    H = np.zeros((K, k + 1, k + 1))
    H[:, :k, :k] = (
        Bt @ Huu @ prog.B + (np.swapaxes(prog.G, 1, 2) / lin[:, None, :] ** 2) @ prog.G
    )
    cross = _bmv(Bt, -4.0 * z.tau[:, None] * u / soc[:, None] ** 2)
    H[:, :k, k], H[:, k, :k] = cross, cross
    H[:, k, k] = -2.0 / soc + 4.0 * z.tau**2 / soc**2
    fin = np.isfinite(ball)
    xb, sb = z.x[fin], ball[fin]
    gx[fin] += 2.0 * xb / sb[:, None]
    H[fin, :k, :k] += (
        2.0 * np.eye(k) / sb[:, None, None]
        + 4.0 * (xb[:, :, None] * xb[:, None, :]) / sb[:, None, None] ** 2
    )
    return _Point(gx, gtau), H


def _derivatives(prog: BlockProgram, z: _Point, t: float, sl):
    """Gradient, block Hessian and the loss weights ``w`` (n,).

    The Newton matrix is ``blockdiag(H) + A^T diag(w) A``.
    """
    g, H = _block_hessian(prog, z, sl, t)
    pred = prog.predict(z.x)
    if prog.loss.smooth:
        d1 = t * prog.loss.gradient(pred, prog.y)
        w = t * prog.loss.hessian_diag(pred, prog.y)
    else:
        _, d1, w = _hinge_terms(prog, pred, t)
    g.x += np.einsum("nbk,n->bk", prog.A, d1)
    return g, H, w


def _block_inverse(H: np.ndarray) -> np.ndarray:
    """Inverses of SPD blocks after Jacobi scaling (pseudo-inverse if singular).

    Near the optimum the blocks of zero groups scale like :math:`t^2` along
    some directions only; the diagonal scaling removes most of that spread.
    """
    d = 1.0 / np.sqrt(
        np.maximum(np.diagonal(H, axis1=1, axis2=2), np.finfo(float).tiny)
    )
    Hs = H * d[:, :, None] * d[:, None, :]
    try:
        Hi = np.linalg.inv(Hs)
    except np.linalg.LinAlgError:
        Hi = np.linalg.pinv(Hs, hermitian=True)
    return Hi * d[:, :, None] * d[:, None, :]


def _newton_direction(
    g: _Point, H: np.ndarray, A: np.ndarray, w: np.ndarray, refine: int = 3
) -> _Point:
    r"""Solve ``(blockdiag(H) + A^T diag(w) A) d = -g`` by the Woodbury identity.

    With all ``w > 0`` the capacitance matrix is
    :math:`W^{-1} + AH^{-1}A^T`, which stays well scaled when some weights
    are huge (hinge kinks: :math:`w \sim t^2`); otherwise (a logistic weight
    underflowed) :math:`I + CH^{-1}C^T` with :math:`C = W^{1/2}A`.  ``refine``
    steps of iterative refinement against the exact product restore the
    accuracy that the formula loses when the blocks are badly scaled.
    """
    n, K, _ = A.shape
    Hinv = _block_inverse(H)
    positive = bool(np.all(w > 0))
    F = A if positive else np.sqrt(w)[:, None, None] * A
    Fe = np.concatenate([F, np.zeros((n, K, 1))], axis=2)
    HF = np.einsum("bij,nbj->nbi", Hinv, Fe)
    cap = np.diag(1.0 / w) if positive else np.eye(n)
    S = np.linalg.inv(cap + np.einsum("nbi,mbi->nm", Fe, HF))
    Ae = np.concatenate([A, np.zeros((n, K, 1))], axis=2)

    def solve(rhs: np.ndarray) -> np.ndarray:
        h = _bmv(Hinv, rhs)
        return h - np.einsum("nbi,n->bi", HF, S @ np.einsum("nbi,bi->n", Fe, h))

    rhs = -np.concatenate([g.x, g.tau[:, None]], axis=1)
    d = solve(rhs)
    for _ in range(refine):
        Ad = w * np.einsum("nbi,bi->n", Ae, d)
        d = d + solve(rhs - _bmv(H, d) - np.einsum("nbi,n->bi", Ae, Ad))
    return _Point(d[:, :-1], d[:, -1])


#: Largest Newton system solved densely when the Woodbury direction fails.
DENSE_LIMIT = 500


def _dense_direction(g: _Point, H: np.ndarray, C: np.ndarray) -> _Point:
    """Newton direction from the assembled, Jacobi-scaled dense matrix (fallback)."""
    n, K, k = C.shape
    Ce = np.concatenate([C, np.zeros((n, K, 1))], axis=2).reshape(n, -1)
    M = Ce.T @ Ce
    for b in range(K):
        sl = slice(b * (k + 1), (b + 1) * (k + 1))
        M[sl, sl] += H[b]
    e = 1.0 / np.sqrt(np.maximum(np.diagonal(M), np.finfo(float).tiny))
    rhs = -np.concatenate([g.x, g.tau[:, None]], axis=1).ravel()
    Ms = e[:, None] * M * e[None, :]
    d = e * np.linalg.lstsq(Ms, e * rhs, rcond=1e-15)[0]
    d = d.reshape(K, k + 1)
    return _Point(d[:, :-1], d[:, -1])


def _center(prog, z: _Point, t: float, max_newton: int) -> tuple[_Point, int, float]:
    """Minimise ``t f0 + barrier`` from ``z``; return (z, Newton steps, decrement^2)."""
    lam2 = np.inf
    for k in range(max_newton):
        sl = _slacks(prog, z)
        value = _value(prog, z, t, sl)
        g, H, w = _derivatives(prog, z, t, sl)
        dz = _newton_direction(g, H, prog.A, w)
        lam2 = -g.dot(dz)
        bad = not (np.isfinite(lam2) and lam2 >= 0)
        if bad and H.shape[0] * H.shape[1] <= DENSE_LIMIT:
            # Woodbury lost it; the system is small: solve it densely
            dz = _dense_direction(g, H, np.sqrt(w)[:, None, None] * prog.A)
            lam2 = -g.dot(dz)
        if not (np.isfinite(lam2) and lam2 >= 0):  # rounding broke the direction
            return z, k, np.inf
        if lam2 <= 2e-3:
            return z, k, lam2
        step = 1.0
        while _value(prog, z.step(dz, step), t) > value - 0.25 * step * lam2:
            step *= 0.5
            if step < 1e-12:
                return z, k + 1, lam2
        z = z.step(dz, step)
    return z, max_newton, lam2


def _initial_point(prog: BlockProgram) -> _Point:
    x = np.asarray(prog.start, float).copy()
    nrm = np.linalg.norm(x, axis=1)
    shrink = np.minimum(1.0, 0.1 * prog.radius / np.maximum(nrm, np.finfo(float).tiny))
    x *= shrink[:, None]  # start well inside the balls
    tau = np.linalg.norm(_bmv(prog.B, x), axis=1) + 1.0
    return _Point(x, tau)


def solve_block_program(
    prog: BlockProgram,
    *,
    tol: float = 1e-10,
    max_iter: int = 400,
    time_limit: float = math.inf,
    verbose: bool = False,
    mu: float = 8.0,
) -> BarrierResult:
    r"""Solve a :class:`BlockProgram` by the barrier method.

    Parameters
    ----------
    prog : BlockProgram
    tol : float, default 1e-10
        Target relative gap :math:`\nu/(t\max(1, |f_0|))`.
    max_iter : int, default 400
        Budget of Newton steps over all centrings.
    time_limit : float, default inf
        Seconds, checked after every centring (status ``TIME_LIMIT``).
    verbose : bool, default False
        One line per centring on stderr.
    mu : float, default 8.0
        Factor by which :math:`t` grows between centrings.

    Returns
    -------
    BarrierResult
        ``OPTIMAL`` when the relative gap bound reached ``tol`` at a centred
        point; ``INACCURATE`` when Newton stalled first (rounding at large
        :math:`t`); ``MAX_ITERATIONS`` / ``TIME_LIMIT`` when the budget ran
        out.

    Notes
    -----
    The Newton matrix is block diagonal (one :math:`(k+1)\times(k+1)` block
    per :math:`(x_b, \tau_b)`, a diagonal for the hinge slacks) plus a rank-n
    term from the loss (:math:`A^T\operatorname{diag}(\ell'')A`, or the
    hinge margins), so each step costs :math:`O(Kk^3 + n^2Kk)` by the
    Woodbury identity.
    """
    if not (tol > 0 and mu > 1):
        raise InputError(f"`tol` must be > 0 and `mu` > 1; got tol={tol!r}, mu={mu!r}")
    t0 = time.perf_counter()
    z = _initial_point(prog)
    if _slacks(prog, z) is None:
        raise InputError("`prog.start` must lie strictly inside every cone")
    nu = _nu(prog)
    t, steps, best = 1.0, 0, (z, np.inf, 1.0)
    history: list[np.ndarray] = []
    status = SolverStatus.MAX_ITERATIONS
    while steps < max_iter:
        z, k, lam2 = _center(prog, z, t, min(60, max_iter - steps))
        steps += k
        if lam2 > 1e-1 or not np.isfinite(lam2):
            status = SolverStatus.INACCURATE
            break
        best = (z, nu / t, t)
        history.append(_loss_dual(prog, z, t))
        if verbose:
            print(
                f"[loss-barrier] t={t:.3e} newton={steps} gap={nu / t:.3e}",
                file=sys.stderr,
            )
        if nu / t <= tol * max(1.0, abs(prog.objective(z.x))):
            status = SolverStatus.OPTIMAL
            break
        if time.perf_counter() - t0 > time_limit:
            status = SolverStatus.TIME_LIMIT
            break
        t *= mu
    z, gap, t = best
    obj = prog.objective(z.x)
    return BarrierResult(
        x=z.x,
        objective=obj,
        lower_bound=obj - float(gap),
        gap=float(gap),
        status=status,
        iterations=steps,
        seconds=time.perf_counter() - t0,
        solver=name,
        barrier_t=t,
        loss_dual=_loss_dual(prog, z, t),
        dual_history=history,
    )


def _loss_dual(prog: BlockProgram, z: _Point, t: float) -> np.ndarray:
    """Dual point of the loss at ``z`` (see :attr:`BarrierResult.loss_dual`)."""
    pred = prog.predict(z.x)
    if prog.loss.smooth:
        return prog.loss.gradient(pred, prog.y)
    _, r = _hinge_slacks(prog.y * pred - 1.0, t)
    return -prog.y * np.clip(1.0 / (t * r), 0.0, 1.0)
