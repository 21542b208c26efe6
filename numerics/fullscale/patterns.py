"""Sampled activation patterns for large problems (array-API, seeded).

The core module :mod:`bnconvex.numerics.core.arrangements` samples and enumerates
patterns for small problems; this module keeps the *generators* ``u_i`` as well,
which a full-scale model needs to gate new samples, and deduplicates on the host
with packed bits so that ``n = 50,000`` costs a few MB.
"""

from __future__ import annotations

import numpy as np
from bnconvex.numerics._array_api import (
    Array,
    array_namespace,
    to_numpy,
    xp_capabilities,
)
from bnconvex.numerics._validation import check_positive_int
from bnconvex.numerics.errors import InputError

__all__ = ["sample_patterns"]


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


def _first_unique_nonempty(D: np.ndarray) -> np.ndarray:
    """Return the first index of each distinct non-empty column of ``D``."""
    packed = np.packbits(D, axis=0).T
    _, first = np.unique(packed, axis=0, return_index=True)
    first = np.sort(first)
    return first[D[:, first].any(axis=0)].astype(np.int64)
