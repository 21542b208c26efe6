r"""Barrier path following for the convex BN program (the ``ipm`` solver core).

Notes
-----
Each block :math:`b` has variables :math:`(x_b, t_b) \in \mathbb{R}^{m+1}` with
the epigraph :math:`t_b \ge \|x_b\|` and the cone :math:`G_b x_b \ge 0`.
For a barrier weight :math:`\tau` the centring problem is

.. math::

    \min\; F_\tau = \tau\Big(\tfrac12\|Jx - y\|^2 + \beta \sum_b t_b\Big)
    - \sum_b \log(t_b^2 - \|x_b\|^2) - \sum_b \sum_k \log (G_b x_b)_k,

with :math:`Jx = \sum_b \pm D_b U' x_b`.  Its Hessian is
:math:`H + \tau J^T J` with :math:`H` block diagonal (one
:math:`(m+1) \times (m+1)` block per group) and :math:`J^TJ` of rank
:math:`\le n`, so the Newton step follows from the Woodbury identity

.. math::

    (H + \tau J^TJ)^{-1} g = H^{-1} g - H^{-1}J^T
    \big(\tau^{-1} I + J H^{-1} J^T\big)^{-1} J H^{-1} g,

an :math:`n \times n` solve: :math:`O(P m^3 + P m^2 n + n^3)` per step.
At the exact minimiser the duality gap of the program is
:math:`\nu/\tau` with :math:`\nu = 2P(n+2)`.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.linalg
from bnconvex.numerics.solvers._blocks import SIGNS, Blocks
from bnconvex.numerics.solvers._cones import lin_max_step, soc_max_step, soc_slack


@dataclasses.dataclass
class BarrierState:
    """Strictly feasible iterate: ``X`` (2, P, m), ``t`` (2, P), weight ``tau``."""

    X: np.ndarray
    t: np.ndarray
    tau: float
    newton_steps: int = 0


def initial_state(blk: Blocks, points: np.ndarray) -> BarrierState:
    """Small strictly feasible start from the phase-I interior points."""
    eps = 1.0 / np.sqrt(2.0 * blk.P)
    X = np.stack([points, points]) * eps
    t = eps * (np.linalg.norm(points, axis=1) + 1.0)
    t = np.stack([t, t])
    tau = blk.nu / max(blk.objective(X), 1e-3)
    return BarrierState(X=X, t=t, tau=tau)


def _gradient_hessian(blk: Blocks, st: BarrierState):
    """Gradient (2, P, m+1) and block Hessians (2, P, m+1, m+1) of the barrier part."""
    X, t, tau, m = st.X, st.t, st.tau, blk.m
    W = blk.slacks(X)
    q = soc_slack(t, X)
    iW = blk.sign.T / W  # G^T diag(1/W) = U^T diag(sign / W)
    C = blk.adjoint(blk.predict(X) - blk.y)
    g = np.empty((*X.shape[:2], m + 1))
    g[..., :m] = tau * SIGNS[:, None, None] * C + 2.0 * X / q[..., None] - iW @ blk.U
    g[..., m] = tau * blk.beta - 2.0 * t / q
    H = np.empty((*X.shape[:2], m + 1, m + 1))
    Hxx = (W**-2.0 @ blk.UU).reshape((*X.shape[:2], m, m))
    Hxx += (2.0 / q)[..., None, None] * np.eye(m)
    Hxx += 4.0 * X[..., :, None] * X[..., None, :] / (q**2)[..., None, None]
    H[..., :m, :m] = Hxx
    H[..., :m, m] = H[..., m, :m] = -4.0 * (t / q**2)[..., None] * X
    H[..., m, m] = 2.0 * (t**2 + np.sum(X**2, axis=-1)) / q**2
    return g, H


def _block_inverse(H: np.ndarray) -> np.ndarray:
    """Inverse of SPD blocks after a symmetric Jacobi scaling (better conditioned).

    A relative ridge of ``1e-13`` on the unit diagonal keeps blocks near the cone
    boundary (condition ~ (relative slack)^-2) invertible; the line search
    absorbs the tiny change of direction.
    """
    d = 1.0 / np.sqrt(np.einsum("...ii->...i", H))
    Hs = H * d[..., :, None] * d[..., None, :]
    Hs += 1e-13 * np.eye(H.shape[-1])
    return np.linalg.inv(Hs) * d[..., :, None] * d[..., None, :]


def _blockmul(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Blockwise matrix-vector products ``A[..., i, j] b[..., j]``."""
    return (A @ b[..., None])[..., 0]


def _hessian_matvec(
    blk: Blocks, H: np.ndarray, tau: float, dz: np.ndarray
) -> np.ndarray:
    r""":math:`(H + \tau J^TJ)\,dz` blockwise."""
    out = _blockmul(H, dz)
    out[..., : blk.m] += (
        tau * SIGNS[:, None, None] * blk.adjoint(blk.predict(dz[..., : blk.m]))
    )
    return out


class _WoodburySolver:
    r"""Solves :math:`(H + \tau J^TJ) z = b` by the Woodbury identity."""

    def __init__(self, blk: Blocks, H: np.ndarray, tau: float) -> None:
        m = blk.m
        self.blk, self.Hi = blk, _block_inverse(H)
        Hs = (
            self.Hi[0, :, :m, :m] + self.Hi[1, :, :m, :m]
        )  # J_b Hinv J_b^T is sign free
        # S = sum_p D_p (U Hs_p U^T) D_p: batched small products and a masked sum
        # (no long BLAS reduction, which thrashes when OpenBLAS threads compete)
        S = np.einsum("pij,pij->ij", blk.DD, (blk.U @ Hs) @ blk.U.T)
        S += np.eye(blk.n) / tau
        self.cho = scipy.linalg.cho_factor(S)

    def __call__(self, b: np.ndarray) -> np.ndarray:
        blk, m = self.blk, self.blk.m
        h = _blockmul(self.Hi, b)
        u = scipy.linalg.cho_solve(self.cho, blk.predict(h[..., :m]))
        rhs = np.zeros_like(b)
        rhs[..., :m] = SIGNS[:, None, None] * blk.adjoint(u)
        return h - _blockmul(self.Hi, rhs)


def newton_step(blk: Blocks, st: BarrierState, *, refine: int = 2):
    """Newton direction ``(dX, dt)``, squared decrement and the gradient.

    The Woodbury solve loses accuracy in the flat directions when the blocks
    are ill-conditioned; ``refine`` steps of iterative refinement with the
    exact blockwise matrix-vector product restore it.
    """
    g, H = _gradient_hessian(blk, st)
    solve = _WoodburySolver(blk, H, st.tau)
    dz = -solve(g)
    for _ in range(refine):
        dz -= solve(_hessian_matvec(blk, H, st.tau, dz) + g)
    lam2 = float(-np.sum(g * dz))
    return dz[..., : blk.m], dz[..., blk.m], lam2, g


def _max_step(blk: Blocks, st: BarrierState, dX: np.ndarray, dt: np.ndarray) -> float:
    """Largest step keeping every linear slack and cone slack positive."""
    W, dW = blk.slacks(st.X), blk.slacks(dX)
    return min(lin_max_step(W, dW), soc_max_step(st.t, st.X, dt, dX))


def _merit_change(blk, st, dX, dt, alpha):
    r""":math:`F_\tau(z + \alpha dz) - F_\tau(z)` computed without cancellation."""
    e = blk.predict(st.X) - blk.y
    de = blk.predict(dX)
    dloss = alpha * (e @ de) + 0.5 * alpha**2 * (de @ de) + blk.beta * alpha * dt.sum()
    W, dW = blk.slacks(st.X), blk.slacks(dX)
    q = soc_slack(st.t, st.X)
    dq = alpha * 2.0 * (st.t * dt - np.sum(st.X * dX, axis=-1))
    dq += alpha**2 * (dt**2 - np.sum(dX**2, axis=-1))
    return st.tau * dloss - np.log1p(alpha * dW / W).sum() - np.log1p(dq / q).sum()


def center(
    blk: Blocks,
    st: BarrierState,
    *,
    max_steps: int,
    lam_tol: float = 1e-6,
    deadline: float = float("inf"),
) -> bool:
    """Newton centring of ``st`` in place; False when the line search stalls.

    Stops early (returning True, the iterate still strictly feasible) once
    :func:`time.perf_counter` passes ``deadline``, so that the caller's time
    limit is checked between Newton steps, not only between centrings.
    """
    for _ in range(max_steps):
        if time.perf_counter() > deadline:
            return True
        dX, dt, lam2, _ = newton_step(blk, st)
        if lam2 <= lam_tol:
            return True
        alpha = min(1.0, 0.99 * _max_step(blk, st, dX, dt))
        while lam2 > 1e-2 and alpha > 1e-12:
            if _merit_change(blk, st, dX, dt, alpha) <= -0.01 * alpha * lam2:
                break
            alpha *= 0.5
        if alpha <= 1e-12:
            return False
        st.X, st.t = st.X + alpha * dX, st.t + alpha * dt
        st.newton_steps += 1
    return False
