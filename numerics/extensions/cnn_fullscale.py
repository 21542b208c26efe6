r"""The convex BN CNN of :mod:`~bnconvex.numerics.extensions.cnn` at full scale.

The exact program of :mod:`bnconvex.numerics.extensions.cnn` builds objects of
size :math:`nK\times nK`; on CIFAR-10 (:math:`n = 50{,}000`, :math:`K = 144`
positions) that is impossible.  This module fits the same model chunk by
chunk, in float32, with :math:`P` sampled patterns.

**Features.**  The patch matrix :math:`\mathcal X` (:func:`patch_matrix`) is
whitened from its chunked Gram matrix: :math:`\mu` the mean patch,
:math:`C\mathcal X = \mathcal U\Sigma V^T`, and the top ``k`` directions are
kept (``k = None``: every direction, the exact BN program; ``k`` below the
rank: *truncated whitening*, the explicit regulariser of paper.md §4).  Each
patch :math:`x_p` gets the feature

.. math::
    F_p = \bigl[\sqrt{N}\,\Sigma_k^{-1}V_k^T(x_p - \mu);\ 1\bigr]
        = \sqrt{N}\,\mathcal U'_{p,:},\qquad N = nK,

(scaled so that its entries are of order one in float32).  Patterns come from
Gaussian gates on the *raw* patches, :math:`D_i(p) = 1[x_p^Tg_i\ge0]`.

**Program.**  With average pooling the prediction of image :math:`j` is linear
in the *pooled features* :math:`\phi_i(j) = \tfrac1K\sum_{p\in j}D_i(p)F_p`
(``n x P x r`` in all, :func:`pooled_features`):

.. math::
    \min_{u}\ \tfrac12\sum_c\Bigl\|\sum_i\Phi_iu_{ic} - y_c\Bigr\|^2
        + \lambda\sum_{i,c}\|u_{ic}\|,
    \qquad \lambda = \beta_a\sqrt N ,

one block per pattern and class (one-hot outputs, squared loss).  This is the
*gated relaxation* of the convex BN-CNN program: its cone constraints
:math:`(2D_i - I)F(v_{ic}) \ge 0`, :math:`u_{ic} = v_{ic} - w_{ic}`, range over
all :math:`nK` patches and all :math:`2PC` blocks, which costs
:math:`O(nK\,r\,PC)` per evaluation (teraflops on CIFAR-10) and is therefore
*not* imposed while solving.  What is stated instead:

* the relaxation's optimum is a lower bound of the cone-constrained program
  over the same patterns (every feasible :math:`(v, w)` gives
  :math:`u = v - w` with :math:`\|u\|\le\|v\| + \|w\|`); :func:`fit_gated_cnn`
  reports a dual lower bound of it (a *patterns* bound: not global);
* :func:`relu_reading` reads a BN-ReLU CNN off the blocks (one neuron per
  non-zero block, the sign that agrees best with :math:`D_i`) and measures
  the cone violation; where it is zero the ReLU network's prediction equals
  the convex prediction (tested against
  :func:`~bnconvex.numerics.extensions.cnn.cnn_forward`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bnconvex.numerics._validation import check_positive_int, check_positive_real
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.cnn import ConvGeometry, patch_matrix
from bnconvex.numerics.result import BoundedGap
from bnconvex.numerics.status import SolverStatus

__all__ = [
    "GatedCNNFit",
    "PatchWhitening",
    "ReluReading",
    "fit_gated_cnn",
    "gated_dual_bound",
    "image_patches",
    "patch_whitening",
    "pooled_features",
    "relu_reading",
    "sample_gates",
]

#: images per chunk of the patch computations (a chunk of CIFAR-10 patches is
#: 144 * 256 rows)
IMAGE_CHUNK = 256


def _check_geometry(geometry: Any) -> ConvGeometry:
    if not isinstance(geometry, ConvGeometry):
        raise InputError(
            f"`geometry` must be a ConvGeometry; got {type(geometry).__name__}"
        )
    if geometry.pooling != "average":
        raise InputError(
            f"`geometry` must use average pooling here; got {geometry.pooling!r}"
        )
    return geometry


def image_patches(images: Any, geometry: ConvGeometry) -> np.ndarray:
    """Patches of a batch of images, image-major: shape ``(n, K, h)``.

    :func:`~bnconvex.numerics.extensions.cnn.patch_matrix` (position-major,
    row ``k n + j``) regrouped so that ``out[j, k]`` is that row.
    """
    X = patch_matrix(images, geometry)
    n = int(np.shape(images)[0])
    return X.reshape(X.shape[0] // n, n, -1).transpose(1, 0, 2)


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


@dataclasses.dataclass(frozen=True)
class PatchWhitening:
    r"""Centred, scaled SVD whitening of a patch matrix (chunked).

    Attributes
    ----------
    mean : ndarray, shape (h,)
        Mean patch :math:`\mu`.
    V : ndarray, shape (h, k)
        Top ``k`` right singular vectors of :math:`C\mathcal X`.
    sigma : ndarray, shape (k,)
        Their singular values.
    count : int
        :math:`N = nK`, the patches the statistics were taken over.
    rank : int
        Numerical rank of :math:`C\mathcal X` (``k <= rank``).
    """

    mean: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    count: int
    rank: int

    @property
    def k(self) -> int:
        """Kept directions."""
        return int(self.sigma.size)

    def features(self, patches: np.ndarray) -> np.ndarray:
        r"""Return :math:`F = [\sqrt N\,(x - \mu)^TV_k\Sigma_k^{-1},\ 1]` in float32.

        ``patches`` has shape ``(..., h)``; the result ``(..., k + 1)``.
        """
        M = (self.V / self.sigma * math.sqrt(self.count)).astype(np.float32)
        Z = (np.asarray(patches, np.float32) - self.mean.astype(np.float32)) @ M
        ones = np.ones((*Z.shape[:-1], 1), np.float32)
        return np.concatenate([Z, ones], axis=-1)


def patch_whitening(
    images: np.ndarray, geometry: ConvGeometry, *, k: int | None = None
) -> PatchWhitening:
    r"""Whiten the patch matrix of ``images`` from its chunked Gram matrix.

    Parameters
    ----------
    images : ndarray, shape (n, c, H, W)
    geometry : ConvGeometry
    k : int, optional
        Directions kept (truncated whitening); default: the numerical rank.

    Returns
    -------
    PatchWhitening

    Notes
    -----
    The float64 Gram matrix :math:`\sum_p(x_p - m)(x_p - m)^T` about the
    first chunk's mean :math:`m` (which limits cancellation) is corrected to
    the mean :math:`\mu`; its eigenpairs are :math:`(\sigma^2, V)`.  The rank
    counts :math:`\sigma > h\,\epsilon_{64}\sigma_1\cdot 10^{3}` (the Gram
    matrix squares the condition number).
    """
    geometry = _check_geometry(geometry)
    n = int(np.shape(images)[0])
    shift, G, total, count = None, None, None, 0
    for a, b in _chunks(n, IMAGE_CHUNK):
        X = image_patches(images[a:b], geometry).reshape(
            -1, _patch_size(images, geometry)
        )
        if shift is None:
            shift = X.mean(axis=0)
            h = X.shape[1]
            G, total = np.zeros((h, h)), np.zeros(h)
        Xc = X - shift
        G += Xc.T @ Xc
        total += Xc.sum(axis=0)
        count += X.shape[0]
    d = total / count
    evals, evecs = np.linalg.eigh(G - count * np.outer(d, d))
    order = np.argsort(evals)[::-1]
    sigma = np.sqrt(np.clip(evals[order], 0.0, None))
    tol = sigma[0] * G.shape[0] * np.finfo(float).eps * 1e3
    rank = int(np.sum(sigma > tol))
    k = rank if k is None else check_positive_int(k, "k")
    if k > rank:
        raise InputError(f"`k` must be <= the patch rank {rank}; got {k}")
    return PatchWhitening(shift + d, evecs[:, order[:k]], sigma[:k], count, rank)


def _patch_size(images: np.ndarray, geometry: ConvGeometry) -> int:
    kh, kw = geometry.kernel
    return int(np.shape(images)[1]) * kh * kw


def sample_gates(h: int, P: int, *, seed: int) -> np.ndarray:
    r"""Gaussian gates :math:`g_i\sim\mathcal N(0, I_h)` on raw patches, ``(h, P)``."""
    rng = np.random.default_rng(seed)
    h, P = check_positive_int(h, "h"), check_positive_int(P, "P")
    return rng.standard_normal((h, P)).astype(np.float32)


def _check_gates(gates: Any, h: int) -> np.ndarray:
    g = np.asarray(gates, dtype=np.float32)
    if g.ndim != 2 or g.shape[0] != h or g.shape[1] < 1:
        raise InputError(f"`gates` must have shape ({h}, P); got {np.shape(gates)}")
    return g


def pooled_features(
    images: np.ndarray,
    geometry: ConvGeometry,
    whitening: PatchWhitening,
    gates: np.ndarray,
) -> np.ndarray:
    r"""Return :math:`\phi_i(j) = \tfrac1K\sum_{p\in j}D_i(p)F_p`, shape (n, P, k+1).

    Parameters
    ----------
    images : ndarray, shape (n, c, H, W)
    geometry : ConvGeometry
        Average pooling.
    whitening : PatchWhitening
        From the *training* patches (BN with the training statistics).
    gates : ndarray, shape (h, P)
        :math:`D_i(p) = 1[x_p^Tg_i \ge 0]` on the raw patches.

    Returns
    -------
    ndarray, float32
        ``n * P * (k+1) * 4`` bytes; one batched GEMM per chunk of images.
    """
    geometry = _check_geometry(geometry)
    g = _check_gates(gates, _patch_size(images, geometry))
    n = int(np.shape(images)[0])
    out = np.empty((n, g.shape[1], whitening.k + 1), np.float32)
    for a, b in _chunks(n, IMAGE_CHUNK):
        X = image_patches(images[a:b], geometry).astype(np.float32)
        D = (X @ g >= 0).astype(np.float32)  # (b-a, K, P)
        F = whitening.features(X)  # (b-a, K, r)
        np.matmul(D.transpose(0, 2, 1), F, out=out[a:b])
        out[a:b] /= X.shape[1]
    return out


def _flat(Phi: np.ndarray) -> np.ndarray:
    return Phi.reshape(Phi.shape[0], -1)


def _unit_roundoff_factor(n: int) -> float:
    r"""Return :math:`1 + \gamma_n = 1 + nu/(1 - nu)` (float32 sums of length n)."""
    nu = n * float(np.finfo(np.float32).eps) / 2
    return 1.0 + nu / (1.0 - nu)


def gated_dual_bound(
    Phi: np.ndarray, Y: np.ndarray, yhat: np.ndarray, lam: float
) -> float:
    r"""Dual lower bound of the gated program at the residual :math:`R = Y - \hat Y`.

    The dual is :math:`\max_V\ \langle V, Y\rangle - \tfrac12\|V\|^2` s.t.
    :math:`\|\Phi_i^TV_c\|\le\lambda`; :math:`V = cR`,
    :math:`c = \min(1, \lambda/b)`, with :math:`b` the largest
    :math:`\|\Phi_i^TR_c\|` inflated by :math:`1 + \gamma_n` (float32 sums of
    length :math:`n`, standard worst-case bound), is feasible, so the value is
    a lower bound of the gated optimum, hence of the cone-constrained program
    over the same patterns.  It is not a bound over other patterns.
    """
    R = np.asarray(Y, np.float64) - np.asarray(yhat, np.float64)
    n, P, r = Phi.shape
    corr = _flat(Phi).T @ R.astype(np.float32)  # (P r, C)
    b = float(
        np.sqrt((corr.astype(np.float64).reshape(P, r, -1) ** 2).sum(axis=1)).max()
    )
    b *= _unit_roundoff_factor(n)
    c = 1.0 if b <= lam else lam / b
    return float(c * np.sum(R * Y) - 0.5 * c * c * np.sum(R * R))


@dataclasses.dataclass
class GatedCNNFit(BoundedGap):
    """Result of :func:`fit_gated_cnn`.

    Attributes
    ----------
    blocks : ndarray, shape (P, k+1, C)
        :math:`u_{ic}`.
    objective, lower_bound : float
        Gated objective and the best dual bound seen (patterns bound).
    status : SolverStatus
        ``OPTIMAL`` (relative gap <= ``tol``), ``TIME_LIMIT`` or ``MAX_ITERATIONS``.
    iterations : int
    seconds : float
    history : list of dict
        ``seconds, iteration, objective, lower_bound`` (plus the callback's
        keys) at each record.
    """

    blocks: np.ndarray
    objective: float
    lower_bound: float
    status: SolverStatus
    iterations: int
    seconds: float
    history: list

    @property
    def active_blocks(self) -> int:
        """Non-zero blocks (neurons of the network they define)."""
        return int(np.count_nonzero(np.linalg.norm(self.blocks, axis=1)))


def _objective(Phi: np.ndarray, Y: np.ndarray, U: np.ndarray, lam: float):
    yhat = (_flat(Phi) @ U.reshape(-1, U.shape[-1])).astype(np.float64)
    R = yhat - Y
    norms = np.linalg.norm(U.astype(np.float64), axis=1).sum()
    return 0.5 * float(np.sum(R * R)) + lam * float(norms), yhat


def _lipschitz(Phi: np.ndarray, seed: int = 0, iters: int = 12) -> float:
    r""":math:`\|\Phi\|_2^2` by subspace iteration on 8 vectors, times 1.1.

    A Rayleigh quotient underestimates; the factor covers the error left
    after the iterations (measured below 1% on CIFAR-10 features).
    """
    A = _flat(Phi)
    Q = np.random.default_rng(seed).standard_normal((A.shape[1], 8)).astype(np.float32)
    for _ in range(iters):
        Q, _r = np.linalg.qr(A.T @ (A @ Q))
    Z = A @ Q
    return 1.1 * float(np.linalg.eigvalsh((Z.T @ Z).astype(np.float64))[-1])


def _shrink(V: np.ndarray, t: float) -> np.ndarray:
    nrm = np.linalg.norm(V, axis=1, keepdims=True)
    return V * np.clip(1.0 - t / np.maximum(nrm, 1e-30), 0.0, None)


def fit_gated_cnn(
    Phi: np.ndarray,
    Y: Any,
    lam: float,
    *,
    time_limit: float = math.inf,
    max_iter: int = 10_000,
    tol: float = 1e-6,
    record_every: float = 5.0,
    callback: Callable[[np.ndarray], dict] | None = None,
) -> GatedCNNFit:
    r"""FISTA with gradient restarts on the gated convex CNN program.

    Parameters
    ----------
    Phi : ndarray, shape (n, P, r)
        :func:`pooled_features`.
    Y : array_like, shape (n, C) or (n,)
        Targets (one-hot for classification).
    lam : float
        :math:`\lambda = \beta_a\sqrt{nK}` (see the module docstring).
    time_limit : float
        Seconds; the last step that fits is kept (status ``TIME_LIMIT``).
    max_iter : int
    tol : float
        Relative gap of the dual bound (:func:`gated_dual_bound`) that stops.
    record_every : float
        Seconds between records (objective, dual bound, ``callback``).
    callback : callable, optional
        ``callback(blocks) -> dict`` of extra values to record (e.g. test
        accuracy); its time is excluded from ``time_limit``.

    Returns
    -------
    GatedCNNFit

    Notes
    -----
    Step :math:`1/L`, :math:`L` from :func:`_lipschitz`; the prox is group
    soft-thresholding; momentum restarts when
    :math:`\langle y_k - x_{k+1}, x_{k+1} - x_k\rangle > 0` (O'Donoghue and
    Candès).  Each step is two passes over ``Phi``.
    """
    t_start = time.perf_counter()
    Phi = np.asarray(Phi)
    if Phi.ndim != 3 or Phi.dtype != np.float32:
        raise InputError(
            f"`Phi` must be a float32 (n, P, r) array; got {Phi.dtype} {Phi.shape}"
        )
    Y = np.asarray(Y, np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != Phi.shape[0] or not np.all(np.isfinite(Y)):
        raise InputError(
            f"`Y` must be finite with {Phi.shape[0]} rows; got {np.shape(Y)}"
        )
    lam = check_positive_real(lam, "lam")
    P, r = Phi.shape[1:]
    A, Y32 = _flat(Phi), Y.astype(np.float32)
    step = 1.0 / _lipschitz(Phi)
    X = np.zeros((P, r, Y.shape[1]), np.float32)
    Z, theta = X.copy(), 1.0
    history: list = []
    lower, obj, excluded, it = -math.inf, math.inf, 0.0, 0
    status, last_record = SolverStatus.MAX_ITERATIONS, -math.inf

    def elapsed() -> float:
        return time.perf_counter() - t_start - excluded

    step_seconds = 0.0
    for it in range(1, max_iter + 1):
        t0 = time.perf_counter()
        G = (A.T @ (A @ Z.reshape(P * r, -1) - Y32)).reshape(X.shape)
        X_new = _shrink(Z - step * G, step * lam)
        if np.sum((Z - X_new) * (X_new - X)) > 0:
            theta = 1.0  # restart
        theta_new = 0.5 * (1 + math.sqrt(1 + 4 * theta * theta))
        Z = X_new + ((theta - 1) / theta_new) * (X_new - X)
        X, theta = X_new, theta_new
        step_seconds = time.perf_counter() - t0
        if elapsed() - last_record >= record_every or it == max_iter:
            obj, yhat = _objective(Phi, Y, X, lam)
            lower = max(lower, gated_dual_bound(Phi, Y, yhat, lam))
            last_record = elapsed()
            t1 = time.perf_counter()
            extra = callback(X) if callback is not None else {}
            excluded += time.perf_counter() - t1
            history.append(
                {
                    "seconds": last_record,
                    "iteration": it,
                    "objective": obj,
                    "lower_bound": lower,
                    **extra,
                }
            )
            if obj - lower <= tol * abs(obj):
                status = SolverStatus.OPTIMAL
                break
        if elapsed() + 3 * step_seconds > time_limit:
            status = SolverStatus.TIME_LIMIT
            break
    obj, yhat = _objective(Phi, Y, X, lam)
    lower = max(lower, gated_dual_bound(Phi, Y, yhat, lam))
    if obj - lower <= tol * abs(obj):
        status = SolverStatus.OPTIMAL
    return GatedCNNFit(X, obj, lower, status, it, elapsed(), history)


@dataclasses.dataclass
class ReluReading:
    r"""The BN-ReLU CNN read off gated blocks, on one set of images.

    Attributes
    ----------
    prediction : ndarray, shape (n, C)
        :math:`\sum_{ic}\sigma_{ic}\,\mathrm{pool}((\sigma_{ic}Fu_{ic})_+)`.
    gated_prediction : ndarray, shape (n, C)
        The convex (gated) prediction :math:`\sum_i\phi_i u_{ic}`.
    signs : ndarray, shape (P, C)
        :math:`\sigma_{ic}\in\{-1, 0, 1\}` (0: zero block).
    violation : float
        Relative cone violation :math:`\|(-(2D_i-I)\sigma Fu)_+\| / \|Fu\|`,
        block-norm weighted mean over the non-zero blocks.
    disagreement : float
        Fraction of (patch, non-zero block) pairs whose ReLU pattern differs
        from :math:`D_i`.
    """

    prediction: np.ndarray
    gated_prediction: np.ndarray
    signs: np.ndarray
    violation: float
    disagreement: float


def relu_reading(
    images: np.ndarray,
    geometry: ConvGeometry,
    whitening: PatchWhitening,
    gates: np.ndarray,
    blocks: np.ndarray,
    *,
    signs: np.ndarray | None = None,
    chunk: int = 32,
) -> ReluReading:
    r"""Evaluate the BN-ReLU CNN whose neurons are the non-zero blocks.

    Block :math:`u_{ic}` becomes neuron :math:`\sigma\,\mathrm{pool}((\sigma
    Fu_{ic})_+)` of output :math:`c`; with :math:`u = [a; b]` its filter is
    :math:`w = V_k\Sigma_k^{-1}a` and BN (training statistics, convention A
    on :math:`nK` entries) maps :math:`\mathcal Xw` to :math:`Fu/\sqrt{nK}`
    up to :math:`\gamma, \alpha` (as
    :func:`~bnconvex.numerics.core.reconstruct.convex_to_network`).  The sign
    :math:`\sigma` is the one whose pattern agrees with :math:`D_i` on more
    of ``images``' patches unless ``signs`` is given.  Where the block is in
    the cone of :math:`D_i` (violation 0) the neuron equals the convex term
    :math:`\sigma D_iF(\sigma u)`.

    Parameters
    ----------
    images, geometry, whitening, gates
        As in :func:`pooled_features`.
    blocks : ndarray, shape (P, k+1, C)
    signs : ndarray, shape (P, C), optional
        Fixed signs (e.g. those chosen on training images).
    chunk : int
        Images per chunk (each holds ``chunk * K * active`` floats).

    Returns
    -------
    ReluReading
    """
    geometry = _check_geometry(geometry)
    g = _check_gates(gates, _patch_size(images, geometry))
    blocks = np.asarray(blocks, np.float32)
    if blocks.ndim != 3 or blocks.shape[:2] != (g.shape[1], whitening.k + 1):
        raise InputError(
            f"`blocks` must have shape ({g.shape[1]}, {whitening.k + 1}, C); "
            f"got {blocks.shape}"
        )
    P, _, C = blocks.shape
    pi, ci = np.nonzero(np.linalg.norm(blocks, axis=1))
    Ub = blocks[pi, :, ci].T  # (r, B)
    n, B = int(np.shape(images)[0]), pi.size
    pooled = np.empty((3, n, B), np.float32)  # gated, Fu_+, Fu_- pooled
    agree, patches = np.zeros(B), 0
    sq = np.zeros((3, B))  # violation^2 for sigma = +1, -1; ||Fu||^2
    for a, b in _chunks(n, chunk):
        X = image_patches(images[a:b], geometry).astype(np.float32)
        Fu = whitening.features(X) @ Ub  # (m, K, B)
        D = (X @ g[:, pi]) >= 0
        pos, neg = np.maximum(Fu, 0), np.minimum(Fu, 0)
        pooled[0, a:b] = np.where(D, Fu, 0).mean(axis=1)
        pooled[1, a:b], pooled[2, a:b] = pos.mean(axis=1), neg.mean(axis=1)
        agree += np.sum(D == (Fu >= 0), axis=(0, 1))
        for row, part in enumerate((np.where(D, neg, pos), np.where(D, pos, neg), Fu)):
            sq[row] += np.sum(part.astype(np.float64) ** 2, axis=(0, 1))
        patches += X.shape[0] * X.shape[1]
    if signs is None:
        sgn = np.where(2 * agree >= patches, 1.0, -1.0)
    else:
        sgn = np.asarray(signs, float)[pi, ci]
    agree = np.where(sgn > 0, agree, patches - agree)
    E = np.zeros((B, C))
    E[np.arange(B), ci] = 1.0
    relu = np.where(sgn > 0, pooled[1], pooled[2]).astype(np.float64)
    weights = np.linalg.norm(Ub.astype(np.float64), axis=0)
    rel = np.sqrt(np.where(sgn > 0, sq[0], sq[1])) / np.maximum(np.sqrt(sq[2]), 1e-300)
    sign_full = np.zeros((P, C))
    sign_full[pi, ci] = sgn
    return ReluReading(
        prediction=relu @ E,
        gated_prediction=pooled[0].astype(np.float64) @ E,
        signs=sign_full,
        violation=float(np.sum(weights * rel) / max(weights.sum(), 1e-300)),
        disagreement=float(1.0 - agree.sum() / max(patches * B, 1)),
    )
