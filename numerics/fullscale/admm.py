r"""ADMM with a cached Woodbury factor for the convex BN program (moderate ``n``).

Splitting (as in Bai, Gautam and Sojoudi 2022 for ReLU networks; here on the
whitened features): with :math:`M: S\mapsto \hat Y` and :math:`A: S \mapsto
((2D_i - I) F s_{i,\pm})_{i,\pm}`,

.. math::
    \min\ \tfrac12\|Mu - Y\|^2 + \beta\sum_g\|v_g\| + \iota_{\ge 0}(z)
    \quad\text{s.t.}\quad u = v,\ Au = z .

The :math:`u`-update solves :math:`(M^TM + \rho(I + A^TA))u = b`; because
:math:`A^TA = I\otimes F^TF` is block diagonal, Woodbury reduces it to one
``n x n`` inverse, :math:`(I_n + M B^{-1} M^T)^{-1}` with
:math:`M B^{-1} M^T = 2\,(F C F^T)\circ(D D^T)`, :math:`C = (\rho(I + F^TF))^{-1}`,
computed once per value of :math:`\rho`.  Every other operation is a chunked
GEMM of :class:`~bnconvex.numerics.fullscale._ops.ChunkedOperator`.  Memory
is :math:`O(n^2 + n P K)`, so this method is for ``n`` up to a few thousand;
:func:`~bnconvex.numerics.fullscale.solver.solve_fullscale` picks it with
``method="auto"`` in that range and the matrix-free augmented Lagrangian
otherwise.
"""

from __future__ import annotations

import dataclasses
import time
from types import ModuleType

from bnconvex.numerics._array_api import Array
from bnconvex.numerics.fullscale._ops import ChunkedOperator, group_shrink
from bnconvex.numerics.fullscale._problem import Problem

__all__ = [
    "ADMMMethod",
    "AdmmFactor",
    "AdmmState",
    "admm_factor",
    "admm_iteration",
    "rescale_duals",
]


@dataclasses.dataclass
class AdmmState:
    """Iterates of the scaled ADMM: ``v`` (blocks), ``z`` and the scaled duals."""

    v: Array
    z: Array | None
    w1: Array
    w2: Array | None
    rho: float
    outer: int = 0
    iters: int = 0
    eps: float = 0.0
    prev_viol: float = float("inf")
    r_primal: float = 0.0
    r_dual: float = 0.0


@dataclasses.dataclass
class AdmmFactor:
    """Cached pieces of the ``u``-update for one ``rho``."""

    C: Array
    Kinv: Array
    rho: float


def admm_factor(op: ChunkedOperator, rho: float, gated: bool) -> AdmmFactor:
    r"""Build :math:`C = (\rho(I + c F^TF))^{-1}` and :math:`(I + M B^{-1}M^T)^{-1}`.

    ``c = 0`` for the gated relaxation (no :math:`z` split).
    """
    xp, F = op.xp, op.F
    eye_m = xp.eye(op.m, dtype=F.dtype)
    FtF = xp.matmul(F.T, F)
    C = xp.linalg.inv(rho * (eye_m + (0.0 if gated else 1.0) * FtF))
    G = 2.0 * xp.matmul(xp.matmul(F, C), F.T) * xp.matmul(op.Dmask, op.Dmask.T)
    Kinv = xp.linalg.inv(xp.eye(op.n, dtype=F.dtype) + G)
    return AdmmFactor(C, Kinv, rho)


def _apply_C(fac: AdmmFactor, X: Array, xp: ModuleType) -> Array:
    shape = X.shape
    return xp.reshape(xp.matmul(fac.C, xp.reshape(X, (shape[0], -1))), shape)


def _cone_pass(op: ChunkedOperator, u: Array, st: AdmmState, relax: float) -> Array:
    r"""Update ``z``, ``w2`` in place from :math:`Au`; return :math:`A^T(z - w_2)`."""
    xp = op.xp
    K = u.shape[2]
    out = xp.zeros(u.shape, dtype=u.dtype)
    res = 0.0
    for key in op.chunks():
        r0, r1, p0, p1 = key
        E = 2.0 * op.mask(*key) - 1.0
        w2 = st.w2[r0:r1, :, :, p0:p1]
        Au = (
            relax * (E * op.z_block(u, *key)) + (1.0 - relax) * st.z[r0:r1, :, :, p0:p1]
        )
        z = xp.maximum(Au + w2, 0.0)
        w2 = w2 + Au - z
        res += float(xp.sum((Au - z) ** 2))
        st.z[r0:r1, :, :, p0:p1] = z
        st.w2[r0:r1, :, :, p0:p1] = w2
        Wm = xp.reshape(E * (z - w2), (r1 - r0, 2 * K * (p1 - p0)))
        Gb = xp.reshape(xp.matmul(op.F[r0:r1, :].T, Wm), (op.m, 2, K, p1 - p0))
        out[:, :, :, p0:p1] = out[:, :, :, p0:p1] + Gb
    st.r_primal = res
    return out


def admm_iteration(
    op: ChunkedOperator,
    fac: AdmmFactor,
    MtY: Array,
    AtZ: Array | None,
    st: AdmmState,
    beta: float,
    group: str,
    relax: float = 1.6,
) -> Array | None:
    r"""Run one scaled-ADMM step in place; return the next :math:`A^T(z-w_2)`.

    .. math::
        u &= (M^TM + \rho(I + A^TA))^{-1}
             \bigl(M^TY + \rho(v - w_1) + \rho A^T(z - w_2)\bigr)\\
        z &= (Au + w_2)_+,\quad w_2 \mathrel{+}= Au - z\\
        v &= \operatorname{prox}_{(\beta/\rho)\|\cdot\|}(u + w_1),\quad
             w_1 \mathrel{+}= u - v

    with over-relaxation ``relax`` (:math:`Au \to \alpha Au + (1-\alpha)z`,
    :math:`u \to \alpha u + (1-\alpha) v`; Boyd et al. 2011, §3.4.3).
    """
    xp, rho = op.xp, fac.rho
    b = MtY + rho * (st.v - st.w1)
    if AtZ is not None:
        b = b + rho * AtZ
    Bb = _apply_C(fac, b, xp)
    q = xp.matmul(fac.Kinv, op.forward(Bb)[0])
    u = Bb - _apply_C(fac, op.sign * op.loss_gradient(q), xp)
    st.r_primal = 0.0
    AtZ = None if st.z is None else _cone_pass(op, u, st, relax)
    uh = relax * u + (1.0 - relax) * st.v
    v_old = st.v
    st.v = group_shrink(uh + st.w1, beta / rho, xp, group)
    st.w1 = st.w1 + uh - st.v
    st.r_primal = (st.r_primal if AtZ is not None else 0.0) + float(
        xp.sum((uh - st.v) ** 2)
    )
    st.r_dual = rho * float(xp.sqrt(xp.sum((st.v - v_old) ** 2)))
    st.r_primal = st.r_primal**0.5
    st.iters += 1
    return AtZ


def rescale_duals(st: AdmmState, rho_new: float) -> None:
    """Change the penalty: scaled duals scale by ``rho_old / rho_new``."""
    ratio = st.rho / rho_new
    st.w1 = st.w1 * ratio
    if st.w2 is not None:
        st.w2 = st.w2 * ratio
    st.rho = rho_new


class ADMMMethod:
    r"""ADMM method state for :func:`~bnconvex.numerics.fullscale.solve_fullscale`.

    ``advance`` runs ``check_every`` iterations; ``adapt`` rebalances
    :math:`\\rho` (Boyd et al. 2011, §3.4.1: factor 2 when one residual exceeds
    the other tenfold), refactoring at most ``max_refactor`` times.
    """

    name = "admm"
    check_every = 25
    max_refactor = 6
    #: ADMM's dual update is not under-relaxed (the AL's ``dual_step``)
    dual_step = 1.0

    def __init__(self, pb: Problem, S: Array, lam: Array | None, rho: float) -> None:
        xp, op = pb.xp, pb.op
        self.pb = pb
        gated = pb.gated
        zeros_n = None if gated else xp.zeros((op.n, *S.shape[1:]), dtype=S.dtype)
        w2 = None if gated else (zeros_n if lam is None else -lam / rho)
        self.st = AdmmState(
            v=S,
            z=zeros_n,
            w1=xp.zeros(S.shape, dtype=S.dtype),
            w2=None if gated else w2 + 0.0,
            rho=float(rho),
        )
        self.refactors = 0
        self.fac = admm_factor(op, self.st.rho, gated)
        self.MtY = op.sign * op.loss_gradient(pb.Y)
        self.AtZ = None if gated else _cone_pass(op, S, self.st, 1.0)
        self.viol = 0.0
        #: optional ``tick(iterations, S)`` called after every ADMM step
        self.tick = None

    @property
    def iters(self) -> int:
        """ADMM iterations so far."""
        return self.st.iters

    @property
    def outer(self) -> int:
        """Certificate checks so far."""
        return self.st.outer

    @property
    def rho(self) -> float:
        """Current penalty."""
        return self.st.rho

    def advance(self, budget: int, deadline: float = float("inf")) -> None:
        """Run up to ``check_every`` iterations, then measure the violation.

        ``deadline`` is a ``time.perf_counter()`` value checked after every
        iteration (at least one runs), as FISTA does in the AL method.
        """
        pb = self.pb
        for _ in range(max(1, min(self.check_every, budget))):
            self.AtZ = admm_iteration(
                pb.op, self.fac, self.MtY, self.AtZ, self.st, pb.beta, pb.group
            )
            if self.tick is not None:
                self.tick(self.st.iters, self.st.v)
            if time.perf_counter() > deadline:
                break
        self.st.outer += 1
        self.viol = 0.0 if pb.gated else pb.op.violation(self.st.v)

    def current(self) -> tuple[Array, Array | None, float]:
        r"""Blocks ``v``, multipliers :math:`(-\\rho w_2)_+`, violation of ``v``."""
        xp = self.pb.xp
        lam = None if self.st.w2 is None else xp.maximum(-self.st.rho * self.st.w2, 0.0)
        return self.st.v, lam, self.viol

    def adapt(self, viol_tol: float, tol: float) -> None:
        """Residual balancing with a bounded number of refactorisations."""
        st = self.st
        if self.refactors >= self.max_refactor:
            return
        if st.r_primal > 10.0 * st.r_dual:
            new = 2.0 * st.rho
        elif st.r_dual > 10.0 * st.r_primal:
            new = 0.5 * st.rho
        else:
            return
        rescale_duals(st, new)
        self.fac = admm_factor(self.pb.op, new, self.pb.gated)
        self.refactors += 1
        if self.AtZ is not None:  # A^T(z - w2) changed with w2
            self.AtZ = _at(self.pb.op, st)

    def state(self) -> tuple[dict, dict]:
        """Arrays and scalars that determine the next iterates."""
        st = self.st
        arrays = {"S": st.v, "z": st.z, "w1": st.w1, "w2": st.w2, "AtZ": self.AtZ}
        meta = {
            "rho": st.rho,
            "iters": st.iters,
            "outer": st.outer,
            "viol": self.viol,
            "refactors": self.refactors,
            "r_primal": st.r_primal,
            "r_dual": st.r_dual,
        }
        return arrays, meta

    def restore(self, arrays: dict, meta: dict) -> None:
        """Inverse of :meth:`state`."""
        st = self.st
        st.v, st.z, st.w1, st.w2 = (
            arrays["S"],
            arrays.get("z"),
            arrays["w1"],
            arrays.get("w2"),
        )
        self.AtZ = arrays.get("AtZ")
        st.rho, st.r_primal, st.r_dual = (
            float(meta["rho"]),
            float(meta["r_primal"]),
            float(meta["r_dual"]),
        )
        st.iters, st.outer = int(meta["iters"]), int(meta["outer"])
        self.viol, self.refactors = float(meta["viol"]), int(meta["refactors"])
        self.fac = admm_factor(self.pb.op, st.rho, self.pb.gated)


def _at(op: ChunkedOperator, st: AdmmState) -> Array:
    r""":math:`A^T(z - w_2)` without changing the state."""
    xp = op.xp
    K = st.v.shape[2]
    out = xp.zeros(st.v.shape, dtype=st.v.dtype)
    for key in op.chunks():
        r0, r1, p0, p1 = key
        E = 2.0 * op.mask(*key) - 1.0
        W = E * (st.z[r0:r1, :, :, p0:p1] - st.w2[r0:r1, :, :, p0:p1])
        Wm = xp.reshape(W, (r1 - r0, 2 * K * (p1 - p0)))
        Gb = xp.reshape(xp.matmul(op.F[r0:r1, :].T, Wm), (op.m, 2, K, p1 - p0))
        out[:, :, :, p0:p1] = out[:, :, :, p0:p1] + Gb
    return out
