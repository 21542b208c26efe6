"""Small dense linear algebra on mpmath matrices (internal helpers of mp_refine).

Every helper takes the mpmath context ``ctx`` explicitly and works at the
context's current precision; the callers in :mod:`bnconvex.numerics.mp_refine`
raise the precision (guard digits) around them, as ``mpmath`` itself does in
``matrices/linalg.py``.  Matrices here are tiny (at most a few dozen rows), so
plain Python loops over ``ctx.matrix`` entries are adequate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "column",
    "dot",
    "matvec",
    "mp_matrix",
    "norm",
    "null_space",
    "pinv_solve",
    "rmatvec",
    "spd_solve",
    "to_float",
]


def mp_matrix(ctx: Any, A: np.ndarray) -> Any:
    """Return the float64 array ``A`` (1-D or 2-D) as an exact ``ctx.matrix``.

    ``ctx.mpf(float)`` is exact, so no rounding happens here; a 1-D array
    becomes a column.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1:
        A = A[:, None]
    M = ctx.matrix(A.shape[0], A.shape[1])
    for i, row in enumerate(A.tolist()):
        for j, value in enumerate(row):
            M[i, j] = ctx.mpf(value)
    return M


def column(ctx: Any, values: Sequence[Any]) -> Any:
    """Build a column ``ctx.matrix`` from a sequence of numbers."""
    v = ctx.matrix(len(values), 1)
    for i, value in enumerate(values):
        v[i] = value
    return v


def to_float(M: Any) -> np.ndarray:
    """Round an mpmath matrix to a float64 NumPy array of the same shape."""
    return np.array([[float(M[i, j]) for j in range(M.cols)] for i in range(M.rows)])


def dot(ctx: Any, a: Any, b: Any) -> Any:
    """Return the inner product of two column matrices (``ctx.fdot``: one rounding)."""
    return ctx.fdot((a[i], b[i]) for i in range(a.rows))


def norm(ctx: Any, a: Any) -> Any:
    """Return the Euclidean norm of a column matrix."""
    return ctx.sqrt(dot(ctx, a, a))


def matvec(ctx: Any, A: Any, x: Any) -> Any:
    """Return ``A @ x`` with one rounding per entry."""
    out = ctx.matrix(A.rows, 1)
    for i in range(A.rows):
        out[i] = ctx.fdot((A[i, k], x[k]) for k in range(A.cols))
    return out


def rmatvec(ctx: Any, A: Any, x: Any) -> Any:
    """Return ``A.T @ x`` with one rounding per entry."""
    out = ctx.matrix(A.cols, 1)
    for k in range(A.cols):
        out[k] = ctx.fdot((A[i, k], x[i]) for i in range(A.rows))
    return out


def _svd_rank(ctx: Any, S: Any, rtol: Any) -> int:
    """Count the singular values above ``rtol * S[0]`` (``S`` sorted descending)."""
    if S.rows == 0 or S[0] == 0:
        return 0
    return sum(1 for k in range(S.rows) if S[k] > rtol * S[0])


def null_space(ctx: Any, A: Any, rtol: Any) -> Any:
    """Return an orthonormal basis (columns) of the null space of ``A`` (k x m).

    Notes
    -----
    Computed from the full SVD ``A = U S V^T`` (``ctx.svd_r``): the rows of
    ``V^T`` beyond the numerical rank ``#{S_j > rtol S_1}`` span ``null(A)``.
    With no rows, the null space is the whole space (identity basis).
    """
    m = A.cols
    if A.rows == 0:
        return ctx.eye(m)
    _, S, Vt = ctx.svd_r(A, full_matrices=True, compute_uv=True)
    rank = _svd_rank(ctx, S, rtol)
    N = ctx.matrix(m, m - rank)
    for k in range(m - rank):
        for i in range(m):
            N[i, k] = Vt[rank + k, i]
    return N


def pinv_solve(ctx: Any, A: Any, b: Any, rtol: Any) -> Any:
    """Return the minimum-norm least-squares solution of ``A x = b`` via the SVD.

    Notes
    -----
    ``x = V S^+ U^T b`` with singular values below ``rtol * S_1`` treated as
    zero, so rank-deficient systems (duplicated constraints) are handled.
    """
    U, S, Vt = ctx.svd_r(A, full_matrices=False, compute_uv=True)
    rank = _svd_rank(ctx, S, rtol)
    x = ctx.matrix(A.cols, 1)
    for k in range(rank):
        coef = ctx.fdot((U[i, k], b[i]) for i in range(A.rows)) / S[k]
        for j in range(A.cols):
            x[j] += coef * Vt[k, j]
    return x


def spd_solve(ctx: Any, H: Any, g: Any) -> Any:
    """Solve ``H x = g`` for a symmetric positive definite ``H`` (Cholesky).

    When rounding makes ``H`` numerically indefinite (a badly scaled
    regularised Hessian), fall back to the SVD pseudo-inverse.
    """
    try:
        return ctx.cholesky_solve(H, g)
    except (ValueError, ZeroDivisionError):
        return pinv_solve(ctx, H, g, ctx.eps * H.rows)
