r"""High-level full-scale fit: whitening, regulariser, patterns, solve, predict.

This is the entry point for ``bnconvex train`` and the CIFAR benchmark::

    from bnconvex.numerics.fullscale import fit
    model = fit(X_train, Y_onehot, beta=1e-3, patterns=256, seed=0, k=100,
                dtype="float32", time_limit=600)
    scores = model.predict(X_test)          # (N, K); argmax for the class
    model.solution.status, model.solution.relative_gap

Everything is array-API code: pass CuPy arrays to run on a GPU.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
from bnconvex.numerics._array_api import Array, array_namespace, xp_capabilities
from bnconvex.numerics._validation import check_beta
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale.checkpoint import PatternRecord, saved_patterns
from bnconvex.numerics.fullscale.patterns import (
    NETWORK_PASSES,
    network_pass_seconds,
    network_patterns,
    sample_patterns,
)
from bnconvex.numerics.fullscale.regularizers import FeatureMap, spectral_features
from bnconvex.numerics.fullscale.solver import FullScaleSolution, solve_fullscale
from bnconvex.numerics.fullscale.whitening import (
    SpectralFactors,
    whiten_large,
    whiten_randomized,
)

__all__ = ["FullScaleModel", "fit"]


@dataclasses.dataclass
class FullScaleModel:
    r"""A fitted convex BN model (the BN network is implicit in its blocks).

    Attributes
    ----------
    features : FeatureMap
        Whitening / regulariser map :math:`\\phi` (replaces :math:`U'`).
    gates : Array or None
        ``(m, P)`` pattern generators :math:`u_i` (``None`` when patterns were given).
    solution : FullScaleSolution
        The solver output (status, objective, certified gap, blocks).
    beta_a : float
        The coefficient in convention A actually used.
    sampling : {"gaussian", "network"} or None
        How the patterns were sampled (``None`` when they were given); it
        differs from :func:`fit`'s ``sampling`` when the time left could not
        pay for a network (:func:`fit`, ``sampling``).
    """

    features: FeatureMap
    gates: Array | None
    solution: FullScaleSolution
    beta_a: float
    sampling: str | None = None

    def predict(self, X: Array, *, chunk_rows: int = 4096) -> Array:
        r"""Network output on new samples, ``(N,)`` or ``(N, K)``.

        Exact model: :math:`f(x) = \sum_i (\phi(x)^Ts_i)_+ - (\phi(x)^Ts'_i)_+`,
        the ReLU network of R1 with BN statistics frozen at the training batch.
        Gated relaxation: :math:`\sum_i 1[\phi(x)^Tu_i \ge 0]\,\phi(x)^T(s_i - s'_i)`.
        """
        dtype = self.solution.S_plus.dtype
        out = [
            self.predict_features(
                self.features.transform(
                    X[r0 : min(r0 + chunk_rows, X.shape[0]), :], dtype=dtype
                )
            )
            for r0 in range(0, X.shape[0], chunk_rows)
        ]
        return array_namespace(X).concat(out, axis=0)

    def predict_features(self, phi: Array) -> Array:
        r"""Network output from precomputed features :math:`\phi(X)`, ``(N, m)``.

        Same as :meth:`predict` (``phi = self.features.transform(X)``), for
        scoring many solutions on the same samples without re-transforming.
        """
        xp = array_namespace(phi)
        sol = self.solution
        Sp, Sm = sol.S_plus, sol.S_minus
        vector = len(Sp.shape) == 3
        if not vector:
            Sp, Sm = Sp[:, :, None], Sm[:, :, None]
        if len(phi.shape) != 2 or phi.shape[1] != Sp.shape[1]:
            raise InputError(
                f"`phi` must have shape (N, {Sp.shape[1]}); got {tuple(phi.shape)}"
            )
        if sol.gated and self.gates is None:
            raise InputError(
                "`predict` of a gated model needs the pattern generators; "
                "fit with an integer `patterns`"
            )
        Y = self._predict_chunk(xp, phi, Sp, Sm)
        return Y if vector else Y[:, 0]

    def _predict_chunk(self, xp, phi: Array, Sp: Array, Sm: Array) -> Array:
        P, m, K = Sp.shape
        Zp = xp.reshape(
            xp.matmul(phi, xp.reshape(xp.permute_dims(Sp, (1, 0, 2)), (m, P * K))),
            (phi.shape[0], P, K),
        )
        Zm = xp.reshape(
            xp.matmul(phi, xp.reshape(xp.permute_dims(Sm, (1, 0, 2)), (m, P * K))),
            (phi.shape[0], P, K),
        )
        if self.solution.gated:
            gate = xp.astype(xp.matmul(phi, self.gates) >= 0, phi.dtype)[:, :, None]
            return xp.sum(gate * (Zp - Zm), axis=1)
        return xp.sum(xp.maximum(Zp, 0.0) - xp.maximum(Zm, 0.0), axis=1)


@xp_capabilities()
def fit(
    X: Array,
    y: Array,
    beta: float,
    *,
    patterns: int | Array = 256,
    sampling: str = "gaussian",
    seed: int = 0,
    k: int | None = None,
    power: float = 0.0,
    scale: float = 1.0,
    bn: str = "a",
    dtype: Any = "float64",
    gated: bool = False,
    rtol: float | None = None,
    whitening: str = "auto",
    phase: Any = None,
    **solver_options: Any,
) -> FullScaleModel:
    r"""Fit the convex BN model on full-scale data.

    Parameters
    ----------
    X : Array
        ``(n, d)`` training data (NumPy, CuPy or array-api-strict).
    y : Array
        ``(n,)`` targets or ``(n, K)`` one-hot / real targets.
    beta : float
        Weight decay, in the convention ``bn``.
    patterns : int or Array
        Number of patterns to sample (seeded by ``seed``), or an ``(n, P)``
        bool pattern array.
    sampling : {"gaussian", "network"}
        How an integer ``patterns`` is sampled: Gaussian generators
        (:func:`~bnconvex.numerics.fullscale.sample_patterns`), or the
        half-spaces of a BN network of ``patterns`` neurons trained on the
        features (:func:`~bnconvex.numerics.fullscale.network_patterns`; about 7 s on
        CIFAR-10, charged to ``time_limit``, of which it takes at most half
        of what is left).  When that half cannot pay for the network's
        full-batch passes and one epoch
        (:func:`~bnconvex.numerics.fullscale.patterns.network_pass_seconds`),
        Gaussian patterns are sampled instead and the model's ``sampling``
        says so.
    seed : int
        Seed of the pattern sampling.
    k, power, scale : int, float, float
        Regulariser :math:`[U_k(\Sigma_k/\sigma_1)^p, c/\sqrt n]`
        (:mod:`~bnconvex.numerics.fullscale.regularizers`); defaults give R1's
        :math:`U'` exactly.
    bn : {"a", "std"}
        BN convention of ``beta``; ``"std"`` uses :math:`\beta/\sqrt n`.
    dtype : {"float64", "float32"}
        Working precision of the solver and of a randomized whitening
        (the exact whitening is always float64).
    gated : bool
        Solve the gated relaxation instead of the exact program.
    rtol : float, optional
        Rank cut-off of the whitening.
    whitening : {"auto", "exact", "randomized"}
        ``"exact"``: :func:`~bnconvex.numerics.fullscale.whiten_large` (float64
        Gram, ``n d^2`` work); ``"randomized"``: the leading ``k`` directions
        by :func:`~bnconvex.numerics.fullscale.whiten_randomized` in the working
        dtype (needs ``k``).  ``"auto"`` picks the randomized SVD when ``k`` is
        given and its passes cost less than half the Gram matrix
        (:math:`4(k + 32) < d/2`, e.g. CIFAR-10 with ``k = 256``).
    phase : callable, optional
        ``phase(name)`` at the start of each step: ``"whitening"``,
        ``"features"``, ``"patterns"``, ``"solve"`` (for progress lines).
    **solver_options
        Passed to :func:`~bnconvex.numerics.fullscale.solve_fullscale`
        (``tol``, ``time_limit``, ``max_iter``, ``method``, ``verbose``,
        ``checkpoint``, ``resume``, ``group``, ``callback``, ...).
        ``time_limit`` bounds this whole call: whitening, features and
        pattern sampling are charged to it, and the solver gets what is left
        (none: it takes no step and reports ``iterations == 0``).  With
        ``resume`` and an integer ``patterns``, the patterns are the
        checkpoint's (:func:`~bnconvex.numerics.fullscale.checkpoint.saved_patterns`;
        count, ``sampling`` and ``seed`` must be the ones it was written
        with), not sampled again.

    Returns
    -------
    FullScaleModel
    """
    t_start = time.perf_counter()
    xp = array_namespace(X, y)
    beta = check_beta(beta)
    if bn not in ("a", "std"):
        raise InputError(f"`bn` must be 'a' or 'std'; got {bn!r}")
    if dtype not in ("float64", "float32"):
        raise InputError(f"`dtype` must be 'float64' or 'float32'; got {dtype!r}")
    if sampling not in ("gaussian", "network"):
        raise InputError(
            f"`sampling` must be 'gaussian' or 'network'; got {sampling!r}"
        )
    n = X.shape[0]
    beta_a = beta / math.sqrt(n) if bn == "std" else beta
    phase = (lambda name: None) if phase is None else phase
    phase("whitening")
    fac = _factors(X, k, rtol, whitening, seed, getattr(xp, dtype))
    fmap = spectral_features(fac, power, k=k, scale=scale)
    phase("features")
    F = fmap.transform(X, dtype=getattr(xp, dtype))
    limit = solver_options.pop("time_limit", None)

    def left() -> float | None:
        """Return what is left of ``time_limit`` (counted from the start)."""
        if limit is None:
            return None
        return max(0.0, float(limit) - (time.perf_counter() - t_start))

    record = None
    if isinstance(patterns, (int, np.integer)) and not isinstance(patterns, bool):
        phase("patterns")
        record = PatternRecord(int(patterns), sampling, sampling, seed)
        resume = solver_options.get("resume")
        saved = None
        if resume is not None:
            saved = saved_patterns(resume, record, tuple(F.shape), xp)
            if saved is not None:  # the checkpoint keeps its classes' starts
                saved = (*saved, None)
        if saved is None:
            # at most half of what is left, so that the solver gets the rest
            share = None if limit is None else left() / 2
            saved = _sample(F, y, record, share)
        D, gates, sampling, signs = saved
        record = dataclasses.replace(record, sampling=sampling, gates=gates)
    else:
        D, gates, sampling, signs = patterns, None, None, None
    phase("solve")
    guess = {} if signs is None else {"start_signs": signs, "generators": gates}
    sol = solve_fullscale(
        F,
        y,
        beta_a,
        D,
        gated=gated,
        time_limit=left(),
        pattern_record=record,
        **guess,
        **solver_options,
    )
    return FullScaleModel(fmap, gates, sol, beta_a, sampling)


def _sample(
    F: Array, y: Array, record: PatternRecord, share: float | None
) -> tuple[Array, Array, str, np.ndarray | None]:
    """Sample ``record.count`` patterns as ``record.asked``, within ``share`` seconds.

    Returns the mask, the generators, the sampling used (Gaussian when
    ``share`` cannot pay for the network, :func:`_network_fits`) and, for
    the network's patterns, the signs of its output weights (the
    working-set method's start, :func:`solve_fullscale`'s ``start_signs``).
    """
    count, sampling, seed = record.count, record.asked, record.seed
    pass_seconds = None
    if sampling == "network" and share is not None:
        pass_seconds = network_pass_seconds(F, count)  # probed once, used twice
        if not _network_fits(pass_seconds, share):
            sampling = "gaussian"
    if sampling == "network":
        D, gates, signs = network_patterns(
            F,
            y,
            count,
            seed=seed,
            time_limit=share,
            pass_seconds=pass_seconds,
            with_signs=True,
        )
        return D, gates, sampling, signs
    D, gates = sample_patterns(F, count, seed=seed)
    return D, gates, sampling, None


def _network_fits(pass_seconds: float, share: float) -> bool:
    """Whether ``share`` seconds pay for the pattern network.

    Its full-batch passes and one epoch of steps (about three passes), at
    ``pass_seconds`` a pass (:func:`network_pass_seconds`), must fit;
    otherwise :func:`fit` samples Gaussian patterns.
    """
    return share >= (NETWORK_PASSES + 3) * pass_seconds


def _factors(
    X: Array, k: int | None, rtol: float | None, whitening: str, seed: int, dtype
) -> SpectralFactors:
    """Centred SVD of ``X`` by the method ``whitening`` (see :func:`fit`).

    The randomized SVD runs in the working ``dtype``; the exact one in float64.
    """
    if whitening not in ("auto", "exact", "randomized"):
        raise InputError(
            f"`whitening` must be 'auto', 'exact' or 'randomized'; got {whitening!r}"
        )
    if whitening == "randomized" and k is None:
        raise InputError("`whitening`='randomized' needs `k` (the directions kept)")
    d = X.shape[1]
    if whitening == "randomized" or (
        whitening == "auto" and k is not None and 8 * (k + 32) < d
    ):
        xp = array_namespace(X)
        return whiten_randomized(
            X if X.dtype == dtype else xp.astype(X, dtype), k, seed=seed
        )
    return whiten_large(X, rtol=rtol)
