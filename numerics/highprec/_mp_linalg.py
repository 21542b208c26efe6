"""Small dense linear algebra on mpmath matrices (internal helpers of mp_refine).

Every helper takes the mpmath context ``ctx`` explicitly and works at the
context's current precision; the callers in :mod:`bnconvex.numerics.highprec.mp_refine`
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
    "nnls",
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


def svd(ctx: Any, A: Any, *, full_matrices: bool) -> tuple[Any, Any, Any]:
    """Return ``ctx.svd_r(A)`` as ``(U, S, Vt)``, robust to its rare non-convergence.

    mpmath's one-sided Jacobi/QR iteration can stop with "no convergence to an
    eigenvalue" (seen on a 5 x 6 matrix with a 1.6e-39 entry).  Then the SVD is
    retried with twice the working precision, and then on ``A^T`` (whose
    factors are those of ``A`` swapped); the factors come back at the caller's
    precision.
    """
    try:
        return ctx.svd_r(A, full_matrices=full_matrices, compute_uv=True)
    except RuntimeError:
        pass
    with ctx.workdps(2 * ctx.dps + 10):
        try:
            U, S, Vt = ctx.svd_r(A, full_matrices=full_matrices, compute_uv=True)
        except RuntimeError:
            V, S, Ut = ctx.svd_r(A.T, full_matrices=full_matrices, compute_uv=True)
            U, Vt = Ut.T, V.T
    return +U, +S, +Vt


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
    _, S, Vt = svd(ctx, A, full_matrices=True)
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
    U, S, Vt = svd(ctx, A, full_matrices=False)
    rank = _svd_rank(ctx, S, rtol)
    x = ctx.matrix(A.cols, 1)
    for k in range(rank):
        coef = ctx.fdot((U[i, k], b[i]) for i in range(A.rows)) / S[k]
        for j in range(A.cols):
            x[j] += coef * Vt[k, j]
    return x


def _columns(ctx: Any, A: Any, cols: Sequence[int]) -> Any:
    """Return the sub-matrix of ``A`` made of the columns ``cols``."""
    out = ctx.matrix(A.rows, len(cols))
    for pos, j in enumerate(cols):
        for i in range(A.rows):
            out[i, pos] = A[i, j]
    return out


def _passive_solve(ctx: Any, A: Any, b: Any, P: list, rtol: Any) -> dict:
    """Least squares of ``A[:, P] z = b`` as ``{column: value}``."""
    if not P:
        return {}
    z = pinv_solve(ctx, _columns(ctx, A, P), b, rtol)
    return {j: z[pos] for pos, j in enumerate(P)}


def nnls(ctx: Any, A: Any, b: Any, rtol: Any) -> dict:
    r"""Return ``argmin_{x >= 0} ||A x - b||`` as ``{column: x_j > 0}`` (Lawson-Hanson).

    Parameters
    ----------
    ctx : mpmath context
    A : mpmath.matrix, shape (k, p)
    b : mpmath.matrix, shape (k, 1)
    rtol : mpf
        Relative tolerance: column ``j`` enters the passive set only when
        :math:`w_j > \mathrm{rtol}\,\|b\| \max_j\|a_j\|`, and
        :func:`pinv_solve` drops singular values below ``rtol``.

    Returns
    -------
    dict of int to mpf
        The support of ``x`` and its (positive) values.

    Notes
    -----
    The active-set method of Lawson & Hanson (1974, ch. 23), cold-started at
    :math:`x = 0`.  With :math:`w = A^T(b - Ax)` the column with the largest
    :math:`w_j` enters the passive set :math:`P`; the least-squares solution
    :math:`z` on :math:`P` is accepted when positive, else :math:`x` moves
    towards :math:`z` up to the first zero crossing and the zeroed columns
    leave :math:`P`.  A column whose own entry of :math:`z` is not positive
    right after entering (rounding at a degenerate vertex) is skipped, as in the
    reference Fortran code.  On exit every :math:`w_j` with :math:`x_j = 0` is
    at most the tolerance, so :math:`\|Ax - b\|` exceeds the minimum by
    :math:`O(\mathrm{rtol}^2)` relatively.  Unlike ``scipy.optimize.nnls``
    (SciPy >= 1.15 can return a non-optimal point, scipy issue #25389) every
    step is done at the working precision.
    """
    p = A.cols
    widest = max((norm(ctx, _columns(ctx, A, [j])) for j in range(p)), default=0)
    scale = norm(ctx, b) * widest
    x: dict = {}
    skip: set = set()
    for _ in range(3 * p + 3):
        res = b - matvec(ctx, A, column(ctx, [x.get(j, 0) for j in range(p)]))
        w = rmatvec(ctx, A, res)
        free = [j for j in range(p) if j not in x and j not in skip]
        j = max(free, key=lambda k: w[k], default=None)
        if j is None or w[j] <= rtol * scale:
            break
        x, entered = _lawson_hanson_inner(ctx, A, b, x, j, rtol)
        skip = set() if entered else skip | {j}
    return x


def _lawson_hanson_inner(
    ctx: Any, A: Any, b: Any, x: dict, j: int, rtol: Any
) -> tuple[dict, bool]:
    """Add column ``j`` to the passive set and restore ``x > 0`` (LH loop B).

    Returns the new ``x`` and whether ``j`` could enter at all.
    """
    P = sorted((*x, j))
    z = _passive_solve(ctx, A, b, P, rtol)
    if z[j] <= 0:
        return x, False
    while True:
        bad = [k for k in P if z[k] <= 0]
        if not bad:
            return z, True
        ratio = {k: x.get(k, 0) / (x.get(k, 0) - z[k]) for k in bad}
        first = min(bad, key=ratio.__getitem__)
        moved = {k: x.get(k, 0) + ratio[first] * (z[k] - x.get(k, 0)) for k in P}
        # each pass removes ``first`` at least, so the loop ends
        P = [k for k in P if k != first and moved[k] > 0]
        x = {k: moved[k] for k in P}
        z = _passive_solve(ctx, A, b, P, rtol)


def spd_solve(ctx: Any, H: Any, g: Any) -> Any:
    """Solve ``H x = g`` for a symmetric positive definite ``H`` (Cholesky).

    When rounding makes ``H`` numerically indefinite (a badly scaled
    regularised Hessian), fall back to the SVD pseudo-inverse.
    """
    try:
        return ctx.cholesky_solve(H, g)
    except (ValueError, ZeroDivisionError):
        return pinv_solve(ctx, H, g, ctx.eps * H.rows)
