"""Matrix-free, chunked linear algebra of the full-scale convex BN program.

Layout (internal to :mod:`bnconvex.numerics.fullscale`): the variables are one
4-D array ``S`` of shape ``(m, 2, K, P)``; ``S[:, 0, k, i]`` is :math:`s_i` and
``S[:, 1, k, i]`` is :math:`s'_i` of class ``k``.  Patterns are the last
(contiguous) axis, so the pattern mask broadcasts over fast inner loops, and
``F @ S[..., p0:p1].reshape(m, -1)`` is one GEMM per chunk.  Multipliers have
the layout ``(n, 2, K, P)``.

All work on ``(n, 2, K, P)``-shaped quantities is done in chunks of
``row_chunk`` samples times ``pattern_chunk`` patterns, so the largest
temporary has ``row_chunk * pattern_chunk * 2K`` entries whatever ``n`` and
``P`` are; the elementwise work runs in place on the GEMM result, so a chunk
allocates two such temporaries.  Only array-API calls are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from bnconvex.numerics._array_api import Array

__all__ = ["ChunkedOperator", "block_norms", "chunk_sizes", "group_shrink"]

#: default bound on the entries of one chunk temporary (128 K entries = 1 MB in
#: float64).  The elementwise work of a chunk runs in place on its GEMM result,
#: so a chunk allocates two such temporaries; with the five fresh temporaries
#: of out-of-place expressions, glibc returned them to the OS after each chunk
#: and page-faulted them back (measured 4-5x slower elementwise work, see
#: benchmarks/README.md, "Inner products").
_CHUNK_ENTRIES = 128 * 1024

#: fewest samples per chunk before the patterns are split into chunks
_MIN_ROWS = 64


class ChunkedOperator:
    r"""The maps :math:`S \mapsto \hat Y` and :math:`W \mapsto F^T W`, chunk-wise.

    Parameters
    ----------
    F : Array
        Feature matrix :math:`U'` (or a regularised version), shape ``(n, m)``.
    Dmask : Array
        Patterns as 0/1 values in the dtype of ``F``, shape ``(n, P)``.
    xp : module
        Array namespace of ``F`` and ``Dmask``.
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
    :math:`E = 2D - 1`, stored once in the dtype of ``F``.  The loss part of
    the gradient, :math:`(F^T D_i r_k)_{l} = \sum_j F_{jl} r_{jk} D_{ji}`, is
    one GEMM :math:`(F \odot r)^T D` of the ``(n, mK)`` row-wise products with
    the mask, so its elementwise work is :math:`nmK` instead of :math:`nKP`.
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
        self.Emask = 2.0 * Dmask - 1.0
        self._zero_cache: dict[tuple, Array] = {}
        #: cone violation of the last :meth:`forward` with multipliers and
        #: ``rho > 0`` (0 otherwise)
        self.violation_seen = 0.0
        self._chunk_maxima: list[Array] = []

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
        """One GEMM :math:`F_{r_0:r_1} S_{:,p_0:p_1}` as ``(rows, 2, K, patterns)``.

        The result is a new array that the caller may overwrite.
        """
        xp = self.xp
        pc, K = p1 - p0, S.shape[2]
        Sb = S if pc == self.P else S[:, :, :, p0:p1]
        Z = xp.matmul(self.F[r0:r1, :], xp.reshape(Sb, (self.m, 2 * K * pc)))
        return xp.reshape(Z, (r1 - r0, 2, K, pc))

    def mask(self, r0: int, r1: int, p0: int, p1: int) -> Array:
        """Pattern block :math:`D` as ``(rows, 1, 1, patterns)``."""
        return self.xp.reshape(self.Dmask[r0:r1, p0:p1], (r1 - r0, 1, 1, p1 - p0))

    def sign_mask(self, r0: int, r1: int, p0: int, p1: int) -> Array:
        """Constraint signs :math:`E = 2D - 1` as ``(rows, 1, 1, patterns)``."""
        return self.xp.reshape(self.Emask[r0:r1, p0:p1], (r1 - r0, 1, 1, p1 - p0))

    def _add_wtf(self, GT: Array, W: Array, r0: int, r1: int, p0: int, p1: int) -> None:
        r"""Add :math:`W^T F_{r_0:r_1}` to the patterns ``p0:p1`` of ``GT``.

        ``GT`` has the layout ``(2, K, P, m)``.

        The transposed product :math:`W^T F` runs faster in BLAS than
        :math:`F^T W` when ``m`` is small (measured: 43 vs 32 GFLOP/s at
        ``m = 21``, equal at ``m = 101``); the caller views ``GT`` as
        ``(m, 2, K, P)`` once at the end.
        """
        xp = self.xp
        pc, K = p1 - p0, W.shape[2]
        Gb = xp.matmul(xp.reshape(W, (r1 - r0, 2 * K * pc)).T, self.F[r0:r1, :])
        Gb = xp.reshape(Gb, (2, K, pc, self.m))
        if pc == self.P:
            GT += Gb
        else:
            GT[:, :, p0:p1, :] += Gb

    def _cone_weights(
        self, Z: Array, lam: Array, rho: float, key: tuple[int, int, int, int]
    ) -> Array:
        r"""Weights :math:`E \circ (\lambda - \rho E \circ Z)_+` of one chunk.

        Overwrites ``Z`` (in-place updates keep the chunk's temporaries at two).
        """
        r0, r1, p0, p1 = key
        E = self.sign_mask(*key)
        Z *= (-rho) * E
        if rho > 0:  # Z = -rho E o Z now: its maximum / rho is the violation
            self._chunk_maxima.append(self.xp.max(Z) / rho)
        Z += lam[r0:r1, :, :, p0:p1]
        W = self.xp.maximum(Z, self._zeros(Z.shape, Z.dtype))
        W *= E
        return W

    def _zeros(self, shape: tuple[int, ...], dtype: object) -> Array:
        """Return a cached zero array of ``shape``.

        NumPy's ``maximum`` with an array of zeros runs about twice as fast as
        with the scalar 0 (measured, 128 K entries).
        """
        key = (shape, dtype)
        if key not in self._zero_cache:
            self._zero_cache[key] = self.xp.zeros(shape, dtype=dtype)
        return self._zero_cache[key]

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
        m, K, P = self.m, S.shape[2], self.P
        Ypm = xp.zeros((self.n, 2, K), dtype=S.dtype)  # sum_i D_i Z_{i,+-}
        GT = None if lam is None else xp.zeros((2, K, P, m), dtype=S.dtype)
        self._chunk_maxima = []
        for key in self.chunks():
            r0, r1 = key[0], key[1]
            Z = self.z_block(S, *key)
            Ypm[r0:r1, :, :] += xp.vecdot(Z, self.mask(*key))
            if GT is not None:
                self._add_wtf(GT, self._cone_weights(Z, lam, rho, key), *key)
        Yhat = Ypm[:, 0, :] - Ypm[:, 1, :]
        self.violation_seen = (  # one device sync per pass, not per chunk
            max(0.0, float(xp.max(xp.stack(self._chunk_maxima))))
            if self._chunk_maxima
            else 0.0
        )
        return Yhat, None if GT is None else xp.permute_dims(GT, (3, 0, 1, 2))

    def loss_gradient(self, R: Array) -> Array:
        r""":math:`F^T D_i r_k` for every pattern and class, ``(m, 1, K, P)``.

        Notes
        -----
        With :math:`(F^T D_i r_k)_l = \sum_j F_{jl} r_{jk} D_{ji}`, for
        ``m <= P`` this is the GEMM :math:`D^T (F \odot r)` of the mask with
        the ``(n, mK)`` row-wise products :math:`F_{jl} r_{jk}`: elementwise
        work :math:`nmK` instead of the :math:`nKP` of forming
        :math:`D \circ r`, which is used when ``m > P``.  The row chunks hold
        at most as many entries as the chunks of :meth:`chunks`.  The result
        may be a non-contiguous view.
        """
        if self.m > self.P:
            return self._loss_gradient_masked(R)
        xp = self.xp
        n, m, K = self.n, self.m, R.shape[1]
        rows = self.row_chunk * max(1, (2 * self.pattern_chunk) // m)
        GT = None
        for r0 in range(0, n, rows):
            r1 = min(r0 + rows, n)
            FR = xp.reshape(self.F[r0:r1, :], (r1 - r0, m, 1)) * xp.reshape(
                R[r0:r1, :], (r1 - r0, 1, K)
            )
            Gb = xp.matmul(self.Dmask[r0:r1, :].T, xp.reshape(FR, (r1 - r0, m * K)))
            if GT is None:
                GT = Gb
            else:
                GT += Gb
        return xp.permute_dims(xp.reshape(GT, (1, self.P, m, K)), (2, 0, 3, 1))

    def _loss_gradient_masked(self, R: Array) -> Array:
        r""":math:`F^T (D \circ r)` chunk by chunk (the ``m > P`` case)."""
        xp = self.xp
        K = R.shape[1]
        G = xp.zeros((self.m, 1, K, self.P), dtype=R.dtype)
        for key in self.chunks():
            r0, r1, p0, p1 = key
            W = self.mask(*key) * xp.reshape(R[r0:r1, :], (r1 - r0, 1, K, 1))
            Wm = xp.reshape(W, (r1 - r0, K * (p1 - p0)))
            Gb = xp.reshape(xp.matmul(self.F[r0:r1, :].T, Wm), (self.m, 1, K, p1 - p0))
            G[:, :, :, p0:p1] += Gb
        return G

    def gradient(
        self, S: Array, Y: Array, lam: Array | None, rho: float
    ) -> tuple[Array, Array]:
        r"""Residual ``R = Yhat - Y`` and the gradient of the smooth part at ``S``.

        .. math:: \nabla_{s_{i,\pm}} = \pm F^T D_i R - F^T (E_i\circ\mu_{i,\pm}).

        ``lam=None`` is the gated relaxation (no cone term).
        """
        Yhat, Gc = self.forward(S, lam, rho)
        R = Yhat - Y
        G = self.sign * self.loss_gradient(R)
        if Gc is not None:
            G -= Gc
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
            C = self.z_block(S, *key)
            C *= self.sign_mask(*key)
            viol = max(viol, -float(xp.min(C)))
            C *= -rho
            C += lam[r0:r1, :, :, p0:p1]
            lam[r0:r1, :, :, p0:p1] = xp.maximum(C, self._zeros(C.shape, C.dtype))
        return max(viol, 0.0)

    def violation(self, S: Array) -> float:
        """Largest cone-constraint violation at ``S`` (0 when feasible)."""
        viol = 0.0
        for key in self.chunks():
            C = self.z_block(S, *key)
            C *= self.sign_mask(*key)
            viol = max(viol, -float(self.xp.min(C)))
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
    """Default chunk sizes: one temporary has about ``_CHUNK_ENTRIES`` entries.

    Whole pattern rows are kept (``pattern_chunk = P``) while a chunk still
    holds ``_MIN_ROWS`` samples: splitting the patterns copies blocks of ``S``
    and shortens the contiguous inner loops of the elementwise work.
    """
    per_row = P * 2 * K
    if pattern_chunk is None:
        pattern_chunk = (
            P
            if per_row * _MIN_ROWS <= _CHUNK_ENTRIES
            else max(1, _CHUNK_ENTRIES // (_MIN_ROWS * 2 * K))
        )
    if row_chunk is None:
        row_chunk = max(1, min(n, _CHUNK_ENTRIES // (pattern_chunk * 2 * K)))
    return int(row_chunk), int(pattern_chunk)
