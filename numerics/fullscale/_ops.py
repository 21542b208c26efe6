"""Matrix-free, chunked linear algebra of the full-scale convex BN program.

Layout (internal to :mod:`bnconvex.numerics.fullscale`): the variables are one
4-D array ``S`` of shape ``(m, 2, K, P)``; ``S[:, 0, k, i]`` is :math:`s_i` and
``S[:, 1, k, i]`` is :math:`s'_i` of class ``k``.  Patterns are the last
(contiguous) axis, so the pattern mask broadcasts over fast inner loops, and
``F @ S[..., p0:p1].reshape(m, -1)`` is one GEMM per chunk.  Multipliers have
the layout ``(n, 2, K, P)``.

All work is done in chunks of ``row_chunk`` samples times ``pattern_chunk``
patterns, so the largest temporary has ``row_chunk * pattern_chunk * 2K``
entries whatever ``n`` and ``P`` are.  Only array-API calls are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from .._array_api import Array

__all__ = ["ChunkedOperator", "block_norms", "group_shrink"]

#: default bound on the entries of one chunk temporary (128 K entries = 1 MB f64,
#: so the elementwise work on a chunk stays in cache)
_CHUNK_ENTRIES = 128 * 1024


class ChunkedOperator:
    r"""The maps :math:`S \mapsto \hat Y` and :math:`W \mapsto F^T W`, chunk-wise.

    Parameters
    ----------
    F : Array
        Feature matrix :math:`U'` (or a regularised version), shape ``(n, m)``.
    Dmask : Array
        Patterns as 0/1 values in the dtype of ``F``, shape ``(n, P)``.
    row_chunk, pattern_chunk : int
        Chunk sizes (samples, patterns).

    Notes
    -----
    With :math:`Z_{i,\pm} = F s_{i,\pm}` (one GEMM for a chunk of patterns),

    .. math::
        \hat Y = \sum_i D_i F (s_i - s'_i) = \operatorname{rowsum}\bigl(D \circ
        (Z_+ - Z_-)\bigr),\qquad
        \nabla_{s_{i,\pm}} = F^T W_{i,\pm},

    where :math:`W` is any per-entry weight (residual times pattern, minus the
    cone multipliers); the cone constraint values are :math:`E \circ Z` with
    :math:`E = 2D - 1`.
    """

    def __init__(
        self,
        F: Array,
        Dmask: Array,
        xp: ModuleType,
        *,
        row_chunk: int,
        pattern_chunk: int,
    ) -> None:
        self.F, self.Dmask, self.xp = F, Dmask, xp
        self.n, self.m = F.shape
        self.P = Dmask.shape[1]
        self.row_chunk, self.pattern_chunk = row_chunk, pattern_chunk
        self.sign = xp.reshape(xp.asarray([1.0, -1.0], dtype=F.dtype), (1, 2, 1, 1))

    def chunks(self) -> Iterator[tuple[int, int, int, int]]:
        """Yield ``(r0, r1, p0, p1)`` over rows (outer) and patterns (inner)."""
        for r0 in range(0, self.n, self.row_chunk):
            for p0 in range(0, self.P, self.pattern_chunk):
                yield (
                    r0,
                    min(r0 + self.row_chunk, self.n),
                    p0,
                    min(p0 + self.pattern_chunk, self.P),
                )

    def z_block(self, S: Array, r0: int, r1: int, p0: int, p1: int) -> Array:
        """One GEMM :math:`F_{r_0:r_1} S_{:,p_0:p_1}` as ``(rows, 2, K, patterns)``."""
        xp = self.xp
        pc, K = p1 - p0, S.shape[2]
        Z = xp.matmul(
            self.F[r0:r1, :], xp.reshape(S[:, :, :, p0:p1], (self.m, 2 * K * pc))
        )
        return xp.reshape(Z, (r1 - r0, 2, K, pc))

    def mask(self, r0: int, r1: int, p0: int, p1: int) -> Array:
        """Pattern block as ``(rows, 1, 1, patterns)``."""
        return self.xp.reshape(self.Dmask[r0:r1, p0:p1], (r1 - r0, 1, 1, p1 - p0))

    def forward(
        self, S: Array, lam: Array | None = None, rho: float = 0.0
    ) -> tuple[Array, Array | None]:
        r"""Predictions and, with multipliers, the cone part of the gradient.

        Returns :math:`\hat Y` ``(n, K)`` and, when ``lam`` (``(n, 2, K, P)``) is
        given, :math:`G_c = F^T (E\circ\mu)` with
        :math:`\mu = (\lambda - \rho E\circ Z)_+` -- the gradient of the PHR
        augmented-Lagrangian term is :math:`-G_c`.  One pass over the chunks:
        each block of :math:`Z` is used while it is in cache and then dropped.
        """
        xp = self.xp
        K = S.shape[2]
        Yhat = xp.zeros((self.n, K), dtype=S.dtype)
        Gc = None if lam is None else xp.zeros(S.shape, dtype=S.dtype)
        for key in self.chunks():
            r0, r1, p0, p1 = key
            Dm = self.mask(*key)
            Z = self.z_block(S, *key)
            Yhat[r0:r1, :] = Yhat[r0:r1, :] + xp.sum(
                xp.sum(Dm * Z, axis=3) * self.sign[..., 0], axis=1
            )
            if lam is not None:
                E = 2.0 * Dm - 1.0
                W = E * xp.maximum(lam[r0:r1, :, :, p0:p1] - rho * (E * Z), 0.0)
                Wm = xp.reshape(W, (r1 - r0, 2 * K * (p1 - p0)))
                Gb = xp.reshape(
                    xp.matmul(self.F[r0:r1, :].T, Wm), (self.m, 2, K, p1 - p0)
                )
                Gc[:, :, :, p0:p1] = Gc[:, :, :, p0:p1] + Gb
        return Yhat, Gc

    def loss_gradient(self, R: Array) -> Array:
        r""":math:`F^T D_i r_k` for every pattern and class, ``(m, 1, K, P)``."""
        xp = self.xp
        K = R.shape[1]
        G = xp.zeros((self.m, 1, K, self.P), dtype=R.dtype)
        for key in self.chunks():
            r0, r1, p0, p1 = key
            W = self.mask(*key) * xp.reshape(R[r0:r1, :], (r1 - r0, 1, K, 1))
            Wm = xp.reshape(W, (r1 - r0, K * (p1 - p0)))
            Gb = xp.reshape(xp.matmul(self.F[r0:r1, :].T, Wm), (self.m, 1, K, p1 - p0))
            G[:, :, :, p0:p1] = G[:, :, :, p0:p1] + Gb
        return G

    def gradient(
        self, S: Array, Y: Array, lam: Array | None, rho: float
    ) -> tuple[Array, Array]:
        r"""Residual ``R = Yhat - Y`` and the gradient of the smooth part at ``S``.

        .. math:: \nabla_{s_{i,\pm}} = \pm F^T D_i R - F^T (E_i\circ\mu_{i,\pm}).

        ``lam=None`` is the gated relaxation (no cone term).  With multipliers,
        two passes and two GEMMs per chunk: the first forms :math:`Z`, the
        predictions and :math:`E\circ\mu` (kept, ``(n, 2, K, P)``), the second
        applies :math:`F^T` once to :math:`\pm D\circ R - E\circ\mu`.
        """
        if lam is None:
            R = self.forward(S)[0] - Y
            return R, self.sign * self.loss_gradient(R)
        xp = self.xp
        K = S.shape[2]
        Yhat = xp.zeros((self.n, K), dtype=S.dtype)
        Emu = xp.zeros(lam.shape, dtype=S.dtype)
        for key in self.chunks():
            r0, r1, p0, p1 = key
            Dm = self.mask(*key)
            Z = self.z_block(S, *key)
            Yhat[r0:r1, :] = Yhat[r0:r1, :] + xp.sum(
                xp.sum(Dm * Z, axis=3) * self.sign[..., 0], axis=1
            )
            E = 2.0 * Dm - 1.0
            Emu[r0:r1, :, :, p0:p1] = E * xp.maximum(
                lam[r0:r1, :, :, p0:p1] - rho * (E * Z), 0.0
            )
        R = Yhat - Y
        G = xp.zeros(S.shape, dtype=S.dtype)
        for key in self.chunks():
            r0, r1, p0, p1 = key
            W = (
                self.sign
                * (self.mask(*key) * xp.reshape(R[r0:r1, :], (r1 - r0, 1, K, 1)))
                - Emu[r0:r1, :, :, p0:p1]
            )
            Wm = xp.reshape(W, (r1 - r0, 2 * K * (p1 - p0)))
            G[:, :, :, p0:p1] = G[:, :, :, p0:p1] + xp.reshape(
                xp.matmul(self.F[r0:r1, :].T, Wm), (self.m, 2, K, p1 - p0)
            )
        return R, G

    def multiplier_step(self, S: Array, lam: Array, rho: float) -> float:
        r"""Set :math:`\lambda \leftarrow (\lambda - \rho E\circ Z)_+` in place.

        Returns the violation before the update.

        The violation is :math:`\max_{i,\pm,k} \|(-(2D_i-I)F s)_+\|_\infty`
        evaluated at ``S`` (before the update).
        """
        xp = self.xp
        viol = 0.0
        for key in self.chunks():
            r0, r1, p0, p1 = key
            C = (2.0 * self.mask(*key) - 1.0) * self.z_block(S, *key)
            viol = max(viol, float(xp.max(-C)))
            lam[r0:r1, :, :, p0:p1] = xp.maximum(lam[r0:r1, :, :, p0:p1] - rho * C, 0.0)
        return max(viol, 0.0)

    def violation(self, S: Array) -> float:
        """Largest cone-constraint violation at ``S`` (0 when feasible)."""
        viol = 0.0
        for key in self.chunks():
            C = (2.0 * self.mask(*key) - 1.0) * self.z_block(S, *key)
            viol = max(viol, float(self.xp.max(-C)))
        return max(viol, 0.0)


def block_norms(S: Array, xp: ModuleType, group: str) -> Array:
    """Group norms, ``(2, K, P)`` per (sign, class, pattern) or ``(2, 1, P)``.

    The second form, per (sign, pattern), is used for ``group="pattern"``.
    """
    sq = xp.sum(S * S, axis=0)
    if group == "pattern":
        sq = xp.sum(sq, axis=1, keepdims=True)
    return xp.sqrt(sq)


def group_shrink(S: Array, thr: float, xp: ModuleType, group: str) -> Array:
    r"""Group soft-thresholding, the prox of :math:`t \sum_g \|S_g\|_2` at ``thr = t``.

    .. math:: \operatorname{prox}(S)_g = (1 - t/\|S_g\|)_+ S_g .
    """
    nrm = block_norms(S, xp, group)
    safe = xp.where(nrm > thr, nrm, xp.ones_like(nrm))
    scale = xp.where(nrm > thr, 1.0 - thr / safe, xp.zeros_like(nrm))
    return S * xp.reshape(scale, (1, *scale.shape))


def chunk_sizes(
    n: int, P: int, K: int, row_chunk: int | None, pattern_chunk: int | None
) -> tuple[int, int]:
    """Default chunk sizes: one temporary has about ``_CHUNK_ENTRIES`` entries."""
    per_row = P * 2 * K
    if pattern_chunk is None:
        pattern_chunk = (
            P
            if per_row * 64 <= _CHUNK_ENTRIES
            else max(1, _CHUNK_ENTRIES // (64 * 2 * K))
        )
    if row_chunk is None:
        row_chunk = max(1, min(n, _CHUNK_ENTRIES // (pattern_chunk * 2 * K)))
    return int(row_chunk), int(pattern_chunk)
