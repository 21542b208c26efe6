"""Sampled activation patterns for large problems (array-API, seeded).

The core module :mod:`bnconvex.numerics.core.arrangements` samples and enumerates
patterns for small problems; this module keeps the *generators* ``u_i`` as well,
which a full-scale model needs to gate new samples, and deduplicates on the host
with packed bits so that ``n = 50,000`` costs a few MB.
"""

from __future__ import annotations

import time

import numpy as np
from bnconvex.numerics._array_api import (
    Array,
    array_namespace,
    to_numpy,
    xp_capabilities,
)
from bnconvex.numerics._validation import check_positive_int
from bnconvex.numerics.errors import InputError

__all__ = ["network_pass_seconds", "network_patterns", "sample_patterns"]

#: Adam epochs of the network :func:`network_patterns` trains, whose width is
#: the number of patterns asked (about 7 s at width 128 on CIFAR-10's 50,000
#: x 21 features, one core).
NETWORK_EPOCHS = 100
#: Rows per chunk of ``F @ gates`` (4 MB in float32 at width 128).
_ROW_CHUNK = 8192
#: Full-batch passes of :func:`network_patterns` besides its Adam steps, in
#: units of :func:`network_pass_seconds`: the statistics before the first
#: step, the statistics and the prediction after the last
#: (:func:`~bnconvex.numerics.baselines.sgd.train_sgd`), and the patterns.
NETWORK_PASSES = 4
#: Rows of the probe of :func:`network_pass_seconds`.
_PROBE_ROWS = 4096


def network_pass_seconds(F: Array, width: int) -> float:
    """Estimated seconds of one full-batch pass of the pattern network over ``F``.

    Times :func:`~bnconvex.numerics.baselines.sgd.full_batch_statistics` of a
    freshly initialised network of width ``width`` (the patterns asked of
    :func:`network_patterns`) on the first ``min(n, 4096)`` rows (the faster
    of two runs) and scales it to ``n``.  An epoch of Adam steps costs about
    three such passes.
    """
    from bnconvex.numerics.baselines.sgd import full_batch_statistics, init_network

    xp = array_namespace(F)
    n, r = F.shape[0], min(F.shape[0], _PROBE_ROWS)
    width = check_positive_int(width, "width")
    net = init_network(F.shape[1], width, 1, seed=0, xp=xp, dtype=F.dtype)
    seconds = []
    for _ in range(2):  # the first run also pays for first-touch allocations
        start = time.perf_counter()
        float(xp.sum(full_batch_statistics(net, F[:r, :]).var))  # waits for a device
        seconds.append(time.perf_counter() - start)
    return min(seconds) * n / r


@xp_capabilities()
def sample_patterns(
    F: Array, num: int, *, seed: int | np.random.Generator
) -> tuple[Array, Array]:
    r"""Sample distinct activation patterns :math:`D_i = \mathrm{diag}(1[F u_i \ge 0])`.

    Parameters
    ----------
    F : Array
        Feature matrix :math:`U'`, shape ``(n, m)``.
    num : int
        Number of Gaussian directions drawn; duplicates and the all-false pattern
        are dropped, so at most ``num`` patterns are returned.
    seed : int or numpy.random.Generator
        Source of the directions (drawn with NumPy, then moved to ``F``'s
        namespace and device), so every backend sees the same patterns.

    Returns
    -------
    D : Array
        ``(n, P)`` bool, column ``i`` the diagonal of :math:`D_i`, in order of first
        appearance.
    gates : Array
        ``(m, P)`` the generator :math:`u_i` of each kept pattern, in ``F``'s dtype.

    Notes
    -----
    :math:`u_i \sim \mathcal N(0, I_m)`.  For :math:`F = U'` this is the same law
    as sampling :math:`(w, b)` for the affine arrangement of the data.
    """
    xp = array_namespace(F)
    num = check_positive_int(num, "num")
    if len(F.shape) != 2:
        raise InputError(f"`F` must be a 2-D array (n x m); got ndim={len(F.shape)}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    u = rng.standard_normal((F.shape[1], num))
    gates = xp.asarray(u.astype(to_numpy(F[:1, :1]).dtype))
    D = xp.matmul(F, gates) >= 0
    keep = _first_unique_nonempty(to_numpy(D))
    idx = xp.asarray(keep)
    return xp.take(D, idx, axis=1), xp.take(gates, idx, axis=1)


@xp_capabilities()
def network_patterns(
    F: Array,
    Y: Array,
    num: int,
    *,
    seed: int,
    epochs: int = NETWORK_EPOCHS,
    time_limit: float | None = None,
    pass_seconds: float | None = None,
    with_signs: bool = False,
) -> tuple[Array, Array] | tuple[Array, Array, np.ndarray]:
    r"""Patterns of a BN network of ``num`` neurons trained on ``F``.

    A two-layer BN-ReLU network of width ``num`` is trained on the features
    for ``epochs`` epochs of Adam
    (:func:`bnconvex.numerics.baselines.sgd.train_sgd`, squared loss, batch
    256, learning rate ``1e-3``); with its full-batch training statistics,
    neuron :math:`j` is active on the half-space

    .. math::

        \gamma_j \frac{F w_j - \mu_j}{s_j} + \alpha_j \ge 0
        \iff F g_j \ge 0, \qquad
        g_j = \frac{\gamma_j}{s_j} w_j
              + \frac{\alpha_j - \gamma_j \mu_j / s_j}{c}\, e_m,

    where :math:`c` is the constant last column of ``F`` (the :math:`1/\sqrt n`
    of :math:`U'`).  The neurons are ranked by their weight
    :math:`\sqrt{\gamma_j^2+\alpha_j^2}\,\|v_j\|` and their distinct
    non-empty patterns kept in that order.

    The convex program is exact over any pattern set, so this changes only
    which hyperplanes its neurons may use (a certificate stays one "over the
    sampled patterns"); trained hyperplanes fit the data with fewer patterns
    than Gaussian ones.  Each neuron of a network of exactly ``num``
    neurons, scaled by its output weight for a class, is a feasible block of
    that class's program, so the program can use the hyperplanes together as
    the network did; on CIFAR-10 they beat the ``num`` heaviest neurons of a
    wider, briefly trained network (``benchmarks/README.md``, session 10).

    Parameters
    ----------
    F : Array
        ``(n, m)`` features whose last column is constant and non-zero.
    Y : Array
        ``(n, K)`` targets (one-hot for classification) or ``(n,)``.
    num : int
        Number of patterns wanted, and the width of the network; at most
        ``num`` are returned (fewer when neurons share a pattern or are never
        active).
    seed : int
        Seeds the initialisation and the minibatch order.
    epochs : int
        Adam epochs.
    time_limit : float, optional
        Seconds for the whole call.  The Adam steps get what the
        :data:`NETWORK_PASSES` full-batch passes (estimated by
        :func:`network_pass_seconds`) leave of it, and stop after the step
        that crosses that; at least one step is taken.
    pass_seconds : float, optional
        The caller's :func:`network_pass_seconds` of ``F`` (probed here when
        ``None`` and ``time_limit`` is given).
    with_signs : bool
        Also return the signs of the kept neurons' output weights.

    Returns
    -------
    D : Array
        ``(n, P)`` bool, in order of neuron weight.
    gates : Array
        ``(m, P)`` the generators :math:`g_j`, in ``F``'s dtype: ``D = F g >= 0``.
    signs : numpy.ndarray
        Only with ``with_signs``: ``(P, K)`` the sign (``+1`` or ``-1``) of
        each kept neuron's output weight for each target column.  The
        network's convex image has block :math:`(+, j)` of column ``k``
        nonzero where it is ``+1``, :math:`(-, j)` where ``-1``: a guess of
        the support of the convex optimum over these patterns (the
        working-set method's start, :func:`~bnconvex.numerics.fullscale.fit`).
    """
    from bnconvex.numerics.baselines.sgd import train_sgd

    xp = array_namespace(F, Y)
    num = check_positive_int(num, "num")
    epochs = check_positive_int(epochs, "epochs")
    if len(F.shape) != 2 or F.shape[0] < 2 or F.shape[1] < 2:
        raise InputError(f"`F` must be (n, m) with n, m >= 2; got {tuple(F.shape)}")
    if Y.shape[0] != F.shape[0] or len(Y.shape) not in (1, 2):
        raise InputError(
            f"`Y` must be (n,) or (n, K) with n = {F.shape[0]}; got {tuple(Y.shape)}"
        )
    c = float(F[0, -1])
    if c == 0.0 or not bool(xp.all(F[:, -1] == F[0, -1])):
        raise InputError("`F` needs a constant non-zero last column (the shift)")
    Y2 = Y if len(Y.shape) == 2 else xp.reshape(Y, (-1, 1))
    steps_limit = None
    if time_limit is not None:
        start = time.perf_counter()
        if pass_seconds is None:
            pass_seconds = network_pass_seconds(F, num)
        passes = NETWORK_PASSES * pass_seconds
        steps_limit = max(0.0, time_limit - passes - (time.perf_counter() - start))
    # beta only steers the weight decay of this short run (std convention)
    res = train_sgd(
        F,
        xp.astype(Y2, F.dtype),
        1e-4,
        num,
        seed=seed,
        convention="std",
        optimizer="adam",
        lr=1e-3,
        epochs=epochs,
        batch_size=256,
        time_limit=steps_limit,
    )
    net, stats = res.net, res.statistics  # full-batch, after the last step
    s = xp.sqrt(stats.var + net.eps)
    gates = net.W * (net.gamma / s)
    shift = (net.alpha - net.gamma * stats.mean / s) / c
    gates = xp.concat([gates[:-1, :], gates[-1:, :] + shift[None, :]], axis=0)
    weight = to_numpy(
        xp.sqrt(net.gamma**2 + net.alpha**2) * xp.linalg.vector_norm(net.v, axis=1)
    )
    order = np.argsort(-weight, kind="stable")
    gates = xp.take(gates, xp.asarray(order), axis=1)
    D = _signs(F, gates)
    kept = _first_unique_nonempty(to_numpy(D))[:num]
    idx = xp.asarray(kept)
    out = xp.take(D, idx, axis=1), xp.astype(xp.take(gates, idx, axis=1), F.dtype)
    if not with_signs:
        return out
    v = np.asarray(to_numpy(net.v), dtype=np.float64)[order[kept]]
    return (*out, np.where(v >= 0, 1.0, -1.0))


def _signs(F: Array, gates: Array) -> Array:
    """``F @ gates >= 0`` in row chunks (one float chunk at a time)."""
    xp = array_namespace(F, gates)
    n = F.shape[0]
    rows = [(r, min(n, r + _ROW_CHUNK)) for r in range(0, n, _ROW_CHUNK)]
    return xp.concat([xp.matmul(F[r0:r1, :], gates) >= 0 for r0, r1 in rows])


def _first_unique_nonempty(D: np.ndarray) -> np.ndarray:
    """Return the first index of each distinct non-empty column of ``D``."""
    packed = np.packbits(D, axis=0).T
    _, first = np.unique(packed, axis=0, return_index=True)
    first = np.sort(first)
    return first[D[:, first].any(axis=0)].astype(np.int64)
