"""Shared pieces of the full-scale methods: problem data, objective, certificate."""

from __future__ import annotations

import dataclasses
import math
import time
from types import ModuleType

import numpy as np
from bnconvex.numerics._array_api import Array, to_numpy
from bnconvex.numerics.core.certificate import dual_constraint_bound, dual_scale
from bnconvex.numerics.fullscale._ops import ChunkedOperator, block_norms

__all__ = [
    "Problem",
    "certificate",
    "loss_lipschitz",
    "objective",
    "scaled_residual_bound",
    "spectral_norm_sq",
    "zero_optimal_beta",
]


@dataclasses.dataclass
class Problem:
    """Data of one solve (operator, labels, beta, grouping, constants)."""

    op: ChunkedOperator
    Y: Array
    beta: float
    group: str
    gated: bool
    L_loss: float
    F2: float
    g0: float
    xp: ModuleType


# --------------------------------------------------------------------------
# power iteration for the Lipschitz constant of S -> Yhat
def loss_lipschitz(
    op: ChunkedOperator,
    seed: int = 0,
    iters: int = 30,
    deadline: float = math.inf,
    rtol: float = 1e-4,
) -> float:
    r"""Estimate :math:`\|M\|_2^2` from above, :math:`M: S\mapsto\hat Y`.

    Power iteration on :math:`M^TM`, times a 1.05 safety factor; stops after
    ``iters`` products, once two successive estimates agree to ``rtol``
    (after at least 5), or at ``deadline`` (a ``time.perf_counter()`` value;
    each product costs about one solver step).  A call whose deadline has
    passed returns 1 at once: the solver then takes no step, so the step
    size is never used.
    """
    xp = op.xp
    if time.perf_counter() >= deadline:
        return 1.0
    rng = np.random.default_rng(seed)
    S = xp.asarray(rng.standard_normal((op.m, 2, 1, op.P)), dtype=op.F.dtype)
    lam_max = 0.0
    for it in range(iters):
        S = S / float(xp.sqrt(xp.sum(S * S)))
        S = op.sign * op.loss_gradient(op.forward(S)[0])
        previous, lam_max = lam_max, float(xp.sqrt(xp.sum(S * S)))
        if lam_max == 0.0:
            return 1.0
        converged = it >= 4 and abs(lam_max - previous) <= rtol * lam_max
        if converged or time.perf_counter() >= deadline:
            break
    return 1.05 * lam_max


def spectral_norm_sq(F: Array, xp: ModuleType, iters: int = 30) -> float:
    """Upper estimate of ``||F||_2^2`` by power iteration on ``F^T F`` (x 1.05)."""
    v = xp.ones((F.shape[1], 1), dtype=F.dtype)
    val = 1.0
    for _ in range(iters):
        v = v / float(xp.sqrt(xp.sum(v * v)))
        v = xp.matmul(F.T, xp.matmul(F, v))
        val = float(xp.sqrt(xp.sum(v * v)))
        if val == 0.0:
            return 1.0
    return 1.05 * val


# --------------------------------------------------------------------------
# objective and certificate
def objective(pb: Problem, S: Array) -> tuple[float, Array]:
    """Primal objective at ``S`` and the residual ``Yhat - Y``."""
    xp = pb.xp
    R = pb.op.forward(S)[0] - pb.Y
    val = 0.5 * float(xp.sum(R * R)) + pb.beta * float(
        xp.sum(block_norms(S, xp, pb.group))
    )
    return val, R


def certificate(pb: Problem, S: Array, R: Array, lam: Array | None) -> float:
    r"""Dual lower bound from the residual and the current multipliers.

    For every block, :math:`h = \pm F^T D_i r + A_i^T\lambda` with
    :math:`A_i = (2D_i - I)F` satisfies
    :math:`\|h\| \ge \max_{s\in K_i,\|s\|\le 1} \pm r^T D_i F s`
    (Moreau: :math:`\|\Pi_{K}(g)\| = \min_{\lambda\ge 0}\|g + A^T\lambda\|`), so
    :math:`B = \max \|h\|` bounds the dual constraint; the dual point is
    chosen by :func:`scaled_residual_bound`.
    """
    _, H = pb.op.gradient(S, pb.Y, lam, 0.0)  # = -h (rho = 0 keeps mu = lam)
    return scaled_residual_bound(pb, R, H)


def scaled_residual_bound(pb: Problem, R: Array, H: Array) -> float:
    r"""Dual value of the scaled residual :math:`v = r\min(1, \beta/B)` (``H = -h``).

    ``H`` is the gradient of the smooth part at any point whose residual is
    ``R`` (:math:`r = -R`), with *any* multipliers :math:`\mu \ge 0` in the
    cone term (:meth:`ChunkedOperator.gradient`): e.g. the multipliers
    :math:`\lambda` of the current round, or the augmented-Lagrangian
    :math:`\mu = (\lambda - \rho E\circ Z)_+` of a FISTA step, which tend
    to the exact multipliers as the sub-problem converges, so that
    :math:`B \to \beta`.  With the per-class bound :math:`B_k = \max_{i,\pm}
    \|h_{ik\pm}\|` the scale is the shared kernel's
    (:func:`bnconvex.numerics.core.certificate.dual_scale`); ``group="pattern"``
    uses the smallest scale for all classes (one joint constraint).
    """
    xp = pb.xp
    norms = block_norms(H, xp, pb.group)  # (2, K, P) or (2, 1, P)
    B = xp.max(xp.max(norms, axis=2), axis=0)  # (K,) or (1,)
    scale = dual_scale(B, pb.beta, xp)
    if pb.group == "pattern":
        scale = xp.min(scale) * xp.ones((pb.Y.shape[1],), dtype=R.dtype)
    V = -R * xp.reshape(scale, (1, -1))
    return float(xp.sum(-0.5 * (V - pb.Y) ** 2 + 0.5 * pb.Y**2))


def zero_optimal_beta(
    pb: Problem, G0: Array, exact_cone_norms: tuple | None = None
) -> tuple[float, bool]:
    r"""Smallest ``beta`` with ``S = 0`` optimal: a bound and whether it is exact.

    ``S = 0`` is optimal iff :math:`\beta \ge \beta_{\max} = \max_{i,\pm,k}
    \max_{s\in K_i,\|s\|\le1} \pm y_k^TD_iFs` (the dual point
    :math:`v = y` is then feasible, and the optimality condition at 0 reads
    exactly so).  With :math:`g = F^TD_iy_k` (``G0``, from
    :meth:`ChunkedOperator.loss_gradient` of ``Y``) each inner maximum is at
    most :math:`\|g\|`, with equality when :math:`\pm g/\|g\|` lies in the
    cone :math:`\{s: (2D_i - I)Fs \ge 0\}`.  Returns
    :math:`B = \max\|g\|` (``S = 0`` is optimal for every ``beta >= B``)
    and whether the block attaining it passes that test (then
    :math:`\beta_{\max} = B` and ``S = 0`` is not optimal below it); the test
    allows :math:`(m+1)u\max|Fg|` of rounding, ``u`` the unit roundoff of
    the working dtype.  The gated relaxation has no cones: ``B`` is exact.
    ``group="pattern"``: the Frobenius norm over classes, never reported
    exact.  One GEMV beyond ``G0``.
    """
    xp, op = pb.xp, pb.op
    if exact_cone_norms is not None:
        Y = to_numpy(pb.Y)
        F, D = exact_cone_norms
        bounds = [dual_constraint_bound(F, D, Y[:, k]) for k in range(Y.shape[1])]
        return max(bounds), True
    norms = block_norms(G0, xp, pb.group)[0, ...]  # (K, P) or (1, P)
    top = float(xp.max(norms))
    if top == 0.0 or pb.gated or pb.group != "class":
        return top, top == 0.0 or (pb.gated and pb.group == "class")
    flat = int(xp.argmax(xp.reshape(norms, (-1,))))
    k, i = divmod(flat, op.P)
    z = xp.matmul(op.F, G0[:, 0, k, i])
    signed = z * op.Emask[:, i]
    slack = (op.m + 1) * float(xp.finfo(z.dtype).eps) * float(xp.max(xp.abs(z)))
    exact = float(xp.min(signed)) >= -slack or float(xp.max(signed)) <= slack
    return top, exact
