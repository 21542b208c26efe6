r"""Block layouts of the convex program, and the named conversions between them.

The variables of the program are the blocks :math:`s_i, s'_i \in \mathbb
R^{m}` (``m = r + 1``), one pair per pattern :math:`i = 1..P`, with ``K``
columns for ``K`` outputs.  One layout is canonical; the others are working
layouts of particular methods, reached only through the functions below.

=====================  ===================  ===============================
layout                 shape                used by
=====================  ===================  ===============================
**canonical** pair     ``(P, m)`` x 2       every result (``S_plus``,
                       (``(P, m, K)``)      ``S_minus``), ``predict``,
                                            ``convex_to_network``
stacked                ``(2, P, m)``        interior-point / barrier
                                            iterates (sign first):
                                            :func:`stack_blocks`,
                                            :func:`split_blocks`,
                                            :func:`scatter_blocks`
full-scale             ``(m, 2, K, P)``     the chunked GEMMs of
                                            :mod:`bnconvex.numerics.fullscale`
                                            (``F @ S.reshape(m, -1)``):
                                            :func:`to_fullscale`,
                                            :func:`from_fullscale`
=====================  ===================  ===============================

Index 0 of the sign axis is :math:`s_i` (``S_plus``), index 1 :math:`s'_i`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "from_fullscale",
    "scatter_blocks",
    "split_blocks",
    "stack_blocks",
    "to_fullscale",
]


def stack_blocks(S_plus: Any, S_minus: Any) -> np.ndarray:
    """Canonical pair -> stacked ``(2, P, m)``.

    Examples
    --------
    >>> X = stack_blocks(np.ones((3, 2)), np.zeros((3, 2)))
    >>> X.shape, float(X[0].sum()), float(X[1].sum())
    ((2, 3, 2), 6.0, 0.0)
    """
    return np.stack([np.asarray(S_plus), np.asarray(S_minus)])


def split_blocks(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stacked ``(2, P, m)`` -> canonical pair ``(S_plus, S_minus)``."""
    return X[0], X[1]


def scatter_blocks(
    X: np.ndarray, kept: np.ndarray, P: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stacked blocks of the patterns ``kept`` -> canonical pair over all ``P``.

    Parameters
    ----------
    X : ndarray, shape (2, len(kept), m)
    kept : ndarray of int
        Pattern indices of the rows of ``X``; the other blocks are zero.
    P : int

    Examples
    --------
    >>> Sp, Sm = scatter_blocks(np.ones((2, 1, 2)), np.array([2]), 3)
    >>> Sp.tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    """
    S = np.zeros((2, P, X.shape[-1]))
    S[:, kept] = X
    return split_blocks(S)


def to_fullscale(S_plus: Any, S_minus: Any, xp: ModuleType, dtype: Any) -> Any:
    """Canonical pair ``(P, m)`` or ``(P, m, K)`` -> full-scale ``(m, 2, K, P)``."""
    Sp, Sm = xp.asarray(S_plus, dtype=dtype), xp.asarray(S_minus, dtype=dtype)
    if len(Sp.shape) == 2:
        Sp, Sm = Sp[:, :, None], Sm[:, :, None]
    return xp.stack(
        [xp.permute_dims(Sp, (1, 2, 0)), xp.permute_dims(Sm, (1, 2, 0))], axis=1
    )


def from_fullscale(S: Any, xp: ModuleType, vector: bool) -> tuple[Any, Any]:
    """Full-scale ``(m, 2, K, P)`` -> canonical pair (``(P, m)`` unless ``vector``).

    Examples
    --------
    >>> Sp = np.arange(6.0).reshape(3, 2)
    >>> back = from_fullscale(to_fullscale(Sp, -Sp, np, np.float64), np, False)
    >>> bool((back[0] == Sp).all() and (back[1] == -Sp).all())
    True
    """
    Sp = xp.permute_dims(S[:, 0, :, :], (2, 0, 1))
    Sm = xp.permute_dims(S[:, 1, :, :], (2, 0, 1))
    if not vector:
        Sp, Sm = Sp[:, :, 0], Sm[:, :, 0]
    return Sp, Sm
