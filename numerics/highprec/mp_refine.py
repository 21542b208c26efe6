"""High-precision refinement and certification of the convex BN program (mpmath).

A float64 solution of the convex program (R1 of the paper digest) fixes the
combinatorial structure of the optimum: which blocks ``s_i``/``s'_i`` are
non-zero and which cone constraints ``(2D_i - I) U' s >= 0`` are tight.  On that
active set the optimality conditions are smooth equations, solved here by a
regularised Newton method in ``mpmath`` at any precision; the result is then
certified, also in ``mpmath``, by a dual feasible point and its duality gap.

Every public function is precision-generic: it takes the mpmath context
``ctx`` (default ``mpmath.mp``) and a target ``dps``, works at ``dps`` plus
:data:`GUARD_DPS` guard digits inside ``try``/``finally`` and leaves the
context's precision as it found it (``mpmath/matrices/linalg.py::lu_solve``).
The float64 inputs are read exactly (``mpf(float)`` is exact), so the only
approximation is the finite working precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import mpmath
import numpy as np
import scipy.optimize
from bnconvex.numerics._validation import (
    check_beta,
    check_data,
    check_labels,
    check_matrix,
    check_patterns,
    check_positive_int,
)
from bnconvex.numerics.core.whitening import default_rtol, whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.highprec import _mp_linalg as la

__all__ = [
    "GUARD_DPS",
    "MIN_DPS",
    "MpCertificate",
    "MpSolution",
    "MpWhitening",
    "certify_mp",
    "highdim_optimum_mp",
    "refine_solution",
    "whiten_mp",
]

#: Extra decimal digits carried inside every function on top of ``dps``.
GUARD_DPS = 15
#: Smallest accepted target precision (float64 already gives ~16 digits).
MIN_DPS = 15
#: Outer rounds of active-set revision in :func:`refine_solution`.
_MAX_ROUNDS = 50
#: Relative margin below the largest cone bound within which multipliers are
#: refined in mp (farther patterns keep their float NNLS multipliers).
_REFINE_MARGIN = 1e-6

BoundKind = Literal["global", "patterns"]


@dataclass(frozen=True)
class MpWhitening:
    """Centred compact SVD ``C X = U diag(sigma) Vt`` in mpmath.

    Attributes
    ----------
    U, Vt : mpmath.matrix
        ``n x r`` and ``r x d`` factors (``r`` = numerical rank).
    sigma : tuple of mpf
        The ``r`` retained singular values, descending.
    mean : tuple of mpf
        Column means of ``X``.
    U_prime : mpmath.matrix
        ``n x (r + 1)`` matrix ``[U, 1/sqrt(n)]``; ``U'^T U' = I`` to ``dps`` digits.
    n, rank : int
        Number of samples and ``r``.
    rtol : float
        Rank tolerance used: ``sigma_k > rtol * max(sigma_1, ||X||_F)`` is kept.
    dps : int
        Target precision in decimal digits.
    """

    U: Any
    sigma: tuple
    Vt: Any
    mean: tuple
    U_prime: Any
    n: int
    rank: int
    rtol: float
    dps: int


@dataclass(frozen=True)
class MpSolution:
    """A convex-program solution refined in mpmath.

    Attributes
    ----------
    S_plus, S_minus : mpmath.matrix
        ``P x m`` blocks in the coordinates of ``whitening.U_prime`` (zero rows
        for inactive blocks), the layout of ``ConvexSolution``.
    yhat : mpmath.matrix
        ``n x 1`` prediction ``sum_i D_i U' (s_i - s'_i)``.
    objective : mpf
        Convex objective at ``(S_plus, S_minus)``.
    iterations : int
        Newton iterations over all active-set rounds.
    dps : int
        Target precision.
    whitening : MpWhitening
        The high-precision ``U'`` the blocks refer to.
    active : tuple of (int, int, tuple of int)
        ``(pattern, sign, tight rows)`` of every non-zero block; sign ``+1`` is
        ``S_plus``, ``-1`` is ``S_minus``.
    grad_norm : mpf
        Norm of the reduced gradient at the returned point.
    """

    S_plus: Any
    S_minus: Any
    yhat: Any
    objective: Any
    iterations: int
    dps: int
    whitening: MpWhitening
    active: tuple
    grad_norm: Any


@dataclass(frozen=True)
class MpCertificate:
    """Duality-gap certificate evaluated in mpmath.

    Attributes
    ----------
    primal : mpf
        Convex objective of the solution.
    dual_bound : mpf
        ``d(v)`` at the scaled residual; a lower bound on the optimum over the
        patterns in ``D`` (on the global optimum when ``bound_kind == "global"``).
    gap : mpf
        ``primal - dual_bound``.
    kkt_residuals : dict of str to mpf
        ``stationarity``, ``primal_feasibility``, ``complementarity``,
        ``dual_feasibility`` (absolute values; see :func:`certify_mp`).
    digits : float
        ``-log10(gap / |primal|)``, capped at the precision.
    dps : int
        Precision of the evaluation.
    bound_kind : {"global", "patterns"}
        Whether the lower bound holds for the BN network problem itself.
    constraint_bound : mpf
        ``B``, the rigorous upper bound on the dual constraint at ``v = r``.
    dual_scale : mpf
        ``min(1, beta / B)``.
    """

    primal: Any
    dual_bound: Any
    gap: Any
    kkt_residuals: dict
    digits: float
    dps: int
    bound_kind: BoundKind
    constraint_bound: Any
    dual_scale: Any


class _Block(NamedTuple):
    """A non-zero block: pattern column, sign (+1: s_i, -1: s'_i), tight rows."""

    pattern: int
    sign: int
    active: tuple


# ----------------------------------------------------------------------------
# input validation
# ----------------------------------------------------------------------------


def _check_dps(dps: Any) -> int:
    if isinstance(dps, bool) or not isinstance(dps, (int, np.integer)) or dps < MIN_DPS:
        raise InputError(f"`dps` must be an integer >= {MIN_DPS}; got {dps!r}")
    return int(dps)


def _check_vector(y: Any, name: str = "y") -> np.ndarray:
    arr = check_labels(y, np.shape(y)[0] if np.ndim(y) else -1, name)
    if arr.ndim != 1:
        raise InputError(
            f"`{name}` must be 1-D (scalar outputs); got shape {arr.shape}"
        )
    return arr


def _check_solution(solution: Any, P: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        S_plus = np.asarray(solution.S_plus, dtype=np.float64)
        S_minus = np.asarray(solution.S_minus, dtype=np.float64)
    except AttributeError:
        raise InputError(
            "`solution` must have attributes S_plus and S_minus; "
            f"got {type(solution).__name__}"
        ) from None
    if S_plus.ndim != 2 or S_plus.shape[0] != P or S_plus.shape != S_minus.shape:
        raise InputError(
            f"`solution` blocks must both have shape (P={P}, m); "
            f"got {S_plus.shape}, {S_minus.shape}"
        )
    if not (np.isfinite(S_plus).all() and np.isfinite(S_minus).all()):
        raise InputError("`solution` contains NaN or infinite block entries")
    return S_plus, S_minus


def _float_U_prime(X: np.ndarray, U_prime: Any, m: int) -> np.ndarray:
    """Return the float ``U'`` in whose coordinates the float solution is written."""
    if U_prime is None:
        U_prime = whiten(X).U_prime
    Uf = check_matrix(U_prime, "U_prime")
    if Uf.shape != (X.shape[0], m):
        raise InputError(
            f"`U_prime` must have shape (n, m) = ({X.shape[0]}, {m}); got {Uf.shape}"
        )
    return Uf


# ----------------------------------------------------------------------------
# whitening
# ----------------------------------------------------------------------------


def _default_rtol(X: np.ndarray) -> float:
    """Return the float rank tolerance of ``numerics.whitening`` (``max(n, d) eps``)."""
    return default_rtol(*X.shape)


def whiten_mp(
    X: Any, *, dps: int, rtol: float | None = None, ctx: Any = mpmath.mp
) -> MpWhitening:
    r"""Centred compact SVD of ``X`` in mpmath, from the exact float64 entries.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data, read exactly (every float64 is an mpf).
    dps : int
        Target precision in decimal digits (>= 15); the work uses
        ``dps + GUARD_DPS`` digits.
    rtol : float, optional
        Rank tolerance in (0, 1); default ``max(n, d) * eps`` with ``eps`` the
        float64 machine epsilon, the rule of ``numerics.whitening.whiten``.
    ctx : mpmath context, optional
        Default ``mpmath.mp``; its precision is restored on return.

    Returns
    -------
    MpWhitening

    Raises
    ------
    InputError
        Bad ``X`` or ``dps``; constant data (centred rank 0).

    Notes
    -----
    With the centring projector :math:`C = I - \tfrac1n 1 1^T`,
    :math:`C X = U \Sigma V^T` (``mpmath.svd_r``) and
    :math:`U' = [U, 1/\sqrt n]`.  The rank follows the float rule of
    ``numerics.whitening.whiten``:
    :math:`r = \#\{k : \sigma_k > \mathrm{rtol}\max(\sigma_1, \|X\|_F)\}`.
    The centred matrix is formed at high precision, so singular values that are
    zero in exact arithmetic come out near :math:`10^{-\mathrm{dps}}\|X\|_F`, far
    below the float threshold; a float and an mp rank can only differ when a
    singular value lies within float rounding of the threshold itself.

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.highprec.mp_refine import whiten_mp
    >>> W = whiten_mp(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]), dps=30)
    >>> W.rank, W.U_prime.rows, W.U_prime.cols
    (1, 3, 2)
    >>> import mpmath
    >>> mpmath.nstr(W.sigma[0], 30)  # ||x - mean(x)|| = sqrt(2)
    '1.41421356237309504880168872421'
    """
    X = check_matrix(X, "X", min_rows=2)
    dps = _check_dps(dps)
    rtol = _default_rtol(X) if rtol is None else float(rtol)
    if not 0 < rtol < 1:
        raise InputError(f"`rtol` must lie in (0, 1); got {rtol!r}")
    prec = ctx.prec
    try:
        ctx.dps = dps + GUARD_DPS
        return _whiten(ctx, X, rtol, dps)
    finally:
        ctx.prec = prec


def _whiten(ctx: Any, X: np.ndarray, rtol: float, dps: int) -> MpWhitening:
    n, d = X.shape
    A = la.mp_matrix(ctx, X)
    mean = tuple(ctx.fsum(A[i, j] for i in range(n)) / n for j in range(d))
    for i in range(n):
        for j in range(d):
            A[i, j] -= mean[j]
    U, S, Vt = ctx.svd_r(A, full_matrices=False, compute_uv=True)
    floor = max(S[0], ctx.sqrt(ctx.fsum(ctx.mpf(x) ** 2 for x in X.ravel().tolist())))
    r = sum(1 for k in range(S.rows) if S[k] > rtol * floor)
    if r == 0:
        raise InputError("`X` has constant columns only: rank(CX) = 0 (constant data)")
    U_r, U_prime, Vt_r = ctx.matrix(n, r), ctx.matrix(n, r + 1), ctx.matrix(r, d)
    for i in range(n):
        for k in range(r):
            U_r[i, k] = U_prime[i, k] = U[i, k]
        U_prime[i, r] = 1 / ctx.sqrt(n)
    for k in range(r):
        for j in range(d):
            Vt_r[k, j] = Vt[k, j]
    sigma = tuple(S[k] for k in range(r))
    return MpWhitening(U_r, sigma, Vt_r, mean, U_prime, n, r, rtol, dps)


# ----------------------------------------------------------------------------
# shared pieces: block matrices, predictions, objective
# ----------------------------------------------------------------------------


def _block_matrices(ctx: Any, Up: Any, d_col: np.ndarray) -> tuple[Any, Any]:
    """Return ``A = D_i U'`` and ``G = (2 D_i - I) U'`` for one pattern column."""
    n, m = Up.rows, Up.cols
    A, G = ctx.matrix(n, m), ctx.matrix(n, m)
    for j in range(n):
        on = bool(d_col[j])
        for k in range(m):
            A[j, k] = Up[j, k] if on else 0
            G[j, k] = Up[j, k] if on else -Up[j, k]
    return A, G


def _row(ctx: Any, S: Any, i: int) -> Any:
    return la.column(ctx, [S[i, k] for k in range(S.cols)])


def _nonzero_blocks(ctx: Any, sol: MpSolution) -> list[tuple[int, int, Any]]:
    """List ``(pattern, sign, s)`` of every non-zero row of ``S_plus`` / ``S_minus``."""
    out = []
    for sign, S in ((1, sol.S_plus), (-1, sol.S_minus)):
        for i in range(S.rows):
            s = _row(ctx, S, i)
            if any(s[k] != 0 for k in range(s.rows)):
                out.append((i, sign, s))
    return out


def _predict(
    ctx: Any, Up: Any, D: np.ndarray, blocks: list[tuple[int, int, Any]]
) -> Any:
    """Return ``yhat = sum_b sign_b D_{i_b} U' s_b``."""
    yhat = ctx.matrix(Up.rows, 1)
    for i, sign, s in blocks:
        z = la.matvec(ctx, Up, s)
        for j in range(Up.rows):
            if D[j, i]:
                yhat[j] += sign * z[j]
    return yhat


def _objective(ctx: Any, yhat: Any, y: Any, beta: Any, norms: list) -> Any:
    """Return ``0.5 ||yhat - y||^2 + beta * sum of block norms``."""
    res = yhat - y
    return la.dot(ctx, res, res) / 2 + beta * ctx.fsum(norms)


# ----------------------------------------------------------------------------
# refinement
# ----------------------------------------------------------------------------


def refine_solution(
    X: Any,
    y: Any,
    beta: float,
    D: Any,
    solution: Any,
    *,
    dps: int = 50,
    U_prime: Any = None,
    prune_rtol: float = 1e-4,
    active_rtol: float = 1e-6,
    max_iter: int = 60,
    ctx: Any = mpmath.mp,
) -> MpSolution:
    r"""Refine a float64 solution of the convex program to ``dps`` digits.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data (read exactly).
    y : array_like, shape (n,)
        Labels.
    beta : float
        Regularisation coefficient (convention A).
    D : array_like of bool, shape (n, P)
        Patterns; column ``i`` is the diagonal of ``D_i``.
    solution : object with ``S_plus``, ``S_minus`` of shape (P, m)
        Float solution (e.g. ``ConvexSolution``) in the coordinates of ``U_prime``.
    dps : int, default 50
        Target precision (>= 15).
    U_prime : array_like, shape (n, m), optional
        The float ``U'`` of ``solution``; default
        ``numerics.whitening.whiten(X).U_prime``.
    prune_rtol : float, default 1e-4
        Blocks with ``||s|| <= prune_rtol * max(sum ||s||, ||y||, beta)`` are
        dropped first
        (interior-point solvers leave zero blocks at about ``sqrt(tol)``); a
        pruned block that is needed is added back by the dual check.
    active_rtol : float, default 1e-6
        Row ``j`` of block ``s`` is tight when ``(G_i s)_j <= active_rtol ||s||``.
    max_iter : int, default 60
        Newton iterations per active-set round.
    ctx : mpmath context, optional
        Default ``mpmath.mp``; its precision is restored on return.

    Returns
    -------
    MpSolution

    Notes
    -----
    The float blocks are mapped to the mp coordinates by
    :math:`s \mapsto U'^T_{mp} U'_{f} s`.  For each kept block :math:`b`
    (pattern :math:`i`, sign :math:`\sigma_b`, tight rows :math:`J_b`), with
    :math:`A_b = D_i U'`, :math:`G_b = (2D_i - I) U'`, the KKT system of the
    program restricted to the active set is

    .. math::

        \sigma_b A_b^T(\hat y - y) + \beta \frac{s_b}{\|s_b\|}
        - G_{b,J}^T \lambda_b = 0, \qquad G_{b,J}\, s_b = 0 .

    It is solved in the null space: :math:`s_b = N_b t_b` with :math:`N_b` an
    orthonormal basis of :math:`\ker G_{b,J}` (mp SVD), which removes
    :math:`\lambda_b` and leaves the gradient of the smooth convex function
    :math:`f(t) = \tfrac12\|\sum_b \sigma_b A_b N_b t_b - y\|^2 + \beta\sum_b \|t_b\|`.
    Its Hessian is singular when several blocks realise collinear outputs
    (non-unique :math:`s`, unique :math:`\hat y`), so the step solves
    :math:`(\nabla^2 f + \mu I) d = -\nabla f` with :math:`\mu = \|\nabla f\|`
    (regularised Newton / Levenberg-Marquardt; quadratic convergence under a
    local error bound, Li, Fukushima, Qi & Yamashita 2004), with Armijo
    backtracking.  A ratio test keeps every step inside the cones; a step that
    stops on a cone row makes that row tight.  After each Newton run the active
    set is revised (a primal active-set method): blocks that shrink towards
    zero and stall Newton are dropped, rows with a negative multiplier
    :math:`\lambda = (G_{b,J}^T)^+ (\ldots)` are released, and when the point
    is stationary the (pattern, sign) with the most violated dual constraint
    (see :func:`certify_mp`; multipliers by NNLS in mp) is added; at most
    ``_MAX_ROUNDS`` rounds, and the rounds stop at a stationary active set
    already seen (an added block that was dropped again).

    Examples
    --------
    See :func:`certify_mp`, which refines and certifies a solution.
    """
    X, y = check_data(X, y)
    y = _check_vector(y)
    beta = check_beta(beta)
    D = check_patterns(D, X.shape[0])
    dps = _check_dps(dps)
    S_plus, S_minus = _check_solution(solution, D.shape[1])
    Uf = _float_U_prime(X, U_prime, S_plus.shape[1])
    for name, value in (("prune_rtol", prune_rtol), ("active_rtol", active_rtol)):
        if not 0 <= value < 1:
            raise InputError(f"`{name}` must lie in [0, 1); got {value!r}")
    max_iter = check_positive_int(max_iter, "max_iter")
    prec = ctx.prec
    try:
        ctx.dps = dps + GUARD_DPS
        W = _whiten(ctx, X, _default_rtol(X), dps)
        blocks, s_float = _initial_blocks(
            W,
            Uf,
            S_plus,
            S_minus,
            D,
            prune_rtol,
            active_rtol,
            max(float(np.linalg.norm(y)), beta),
        )
        s_list = [la.mp_matrix(ctx, s) for s in s_float]
        return _refine(
            ctx, W, la.mp_matrix(ctx, y), ctx.mpf(beta), D, blocks, s_list, max_iter
        )
    finally:
        ctx.prec = prec


def _initial_blocks(
    W: MpWhitening,
    Uf: np.ndarray,
    S_plus: np.ndarray,
    S_minus: np.ndarray,
    D: np.ndarray,
    prune_rtol: float,
    active_rtol: float,
    scale: float,
) -> tuple[list[_Block], list[np.ndarray]]:
    """Map float blocks to mp coordinates, prune small ones, find tight rows."""
    Um = la.to_float(W.U_prime)
    Q = Um.T @ Uf
    mapped = ((1, S_plus @ Q.T), (-1, S_minus @ Q.T))
    total = sum(float(np.linalg.norm(S, axis=1).sum()) for _, S in mapped)
    # s has the units of y (and of beta): a zero solution stays zero
    total = max(total, scale)
    blocks, s_float = [], []
    for sign, S in mapped:
        for i, s in enumerate(S):
            size = float(np.linalg.norm(s))
            if size == 0 or size <= prune_rtol * total:
                continue
            slack = (np.where(D[:, i], 1.0, -1.0)[:, None] * Um) @ s
            active = tuple(int(j) for j in np.flatnonzero(slack <= active_rtol * size))
            blocks.append(_Block(i, sign, active))
            s_float.append(s)
    return blocks, s_float


def _reduced_block(
    ctx: Any, Up: Any, D: np.ndarray, block: _Block, rtol: Any
) -> tuple[Any, Any, list]:
    """Return the null-space basis ``N``, ``sign D_i U' N`` and the free rows.

    ``N`` spans the null space of the tight rows; the free rows are returned as
    ``(j, G_j N)``, the cone constraints in reduced coordinates.
    """
    A, G = _block_matrices(ctx, Up, D[:, block.pattern])
    G_J = ctx.matrix(len(block.active), Up.cols)
    for r, j in enumerate(block.active):
        for k in range(Up.cols):
            G_J[r, k] = G[j, k]
    N = la.null_space(ctx, G_J, rtol)
    GN = G * N
    free = [
        (j, [GN[j, k] for k in range(N.cols)])
        for j in range(G.rows)
        if j not in block.active
    ]
    return N, (A * N) * block.sign, free


def _refine(
    ctx: Any,
    W: MpWhitening,
    y: Any,
    beta: Any,
    D: np.ndarray,
    blocks: list[_Block],
    s_list: list,
    max_iter: int,
) -> MpSolution:
    """Active-set rounds of regularised Newton; assemble the MpSolution."""
    Up = W.U_prime
    tiny = ctx.mpf(10) ** (-(W.dps // 2))
    scale = max(1, la.norm(ctx, y))
    tol = ctx.mpf(10) ** (-(W.dps + GUARD_DPS // 2)) * scale
    iterations, gnorm, converged = 0, ctx.zero, set()
    for _ in range(_MAX_ROUNDS):
        blocks, s_list, problem = _reduce_all(ctx, Up, D, y, beta, blocks, s_list, tiny)
        t0 = [la.rmatvec(ctx, N, s) for N, s in zip(problem.Ns, s_list, strict=True)]
        t, its, gnorm, hit = _newton(ctx, problem, t0, tol, max_iter)
        iterations += its
        new_s = [N * tb for N, tb in zip(problem.Ns, t, strict=True)]
        if hit is not None:
            b, j = hit
            blocks = list(blocks)
            blocks[b] = blocks[b]._replace(active=tuple(sorted((*blocks[b].active, j))))
            revised = blocks, new_s
        elif gnorm > ctx.mpf(10) ** (-W.dps) * scale:
            revised = _drop_shrinking(ctx, blocks, s_list, new_s)
        elif (signature := frozenset(blocks)) in converged:
            revised = None  # an added block led back here: stop, not cycle
        else:
            converged.add(signature)
            revised = _revise_active_set(
                ctx, Up, D, y, beta, blocks, new_s, tiny
            ) or _add_violating_block(ctx, Up, D, y, beta, blocks, new_s, tiny)
        s_list = new_s
        if revised is None:
            break
        blocks, s_list = revised
    return _assemble(ctx, W, D, y, beta, blocks, s_list, iterations, gnorm)


def _reduce_all(
    ctx: Any,
    Up: Any,
    D: np.ndarray,
    y: Any,
    beta: Any,
    blocks: list[_Block],
    s_list: list,
    tiny: Any,
) -> tuple[list, list, _Reduced]:
    """Reduce every block; drop blocks whose tight rows leave no free direction."""
    reduced = [_reduced_block(ctx, Up, D, b, tiny) for b in blocks]
    keep = [k for k, red in enumerate(reduced) if red[0].cols > 0]
    problem = _Reduced(ctx, [reduced[k] for k in keep], y, beta)
    return [blocks[k] for k in keep], [s_list[k] for k in keep], problem


def _drop_shrinking(
    ctx: Any, blocks: list[_Block], old_s: list, new_s: list
) -> tuple[list[_Block], list] | None:
    """After a stalled Newton run, drop the blocks heading for zero.

    A block whose optimal value is zero makes ``||t_b||`` non-smooth at the
    solution; Newton then shrinks it step after step and stalls.  Blocks that
    at least halved and are below 1% of the largest are dropped (else the
    smallest such block); :func:`_add_violating_block` re-adds a block later if
    the dual check says it is needed.
    """
    old = [la.norm(ctx, s) for s in old_s]
    new = [la.norm(ctx, s) for s in new_s]
    small = max(new, default=ctx.zero) / 100
    drop = {k for k in range(len(new)) if new[k] <= min(old[k] / 2, small)}
    if not drop:
        k = min(range(len(new)), key=lambda k: new[k], default=None)
        if k is None or new[k] > small:
            return None
        drop = {k}
    keep = [k for k in range(len(new)) if k not in drop]
    return [blocks[k] for k in keep], [new_s[k] for k in keep]


def _add_violating_block(
    ctx: Any,
    Up: Any,
    D: np.ndarray,
    y: Any,
    beta: Any,
    blocks: list[_Block],
    s_list: list,
    tiny: Any,
) -> tuple[list[_Block], list] | None:
    r"""Add the (pattern, sign) whose dual constraint is most violated, if any.

    Notes
    -----
    With :math:`v = y - \hat y` and :math:`q = c + G_i^T\lambda` the NNLS
    residual of :class:`_ConeBounds`, :math:`u = q/\|q\|` lies in
    :math:`K_i` and maximises :math:`c^T s` over the unit ball of the cone.  If
    :math:`\|q\| > \beta`, adding :math:`s = \varepsilon u` with
    :math:`\varepsilon = (\|q\| - \beta)/\|D_i U' u\|^2` lowers the
    objective by :math:`(\|q\| - \beta)^2 / (2\|D_i U'u\|^2)`.
    """
    triples = [(b.pattern, b.sign, s) for b, s in zip(blocks, s_list, strict=True)]
    cones = _ConeBounds(ctx, Up, D, y - _predict(ctx, Up, D, triples))
    present = {(b.pattern, b.sign) for b in blocks}
    keys = [(i, g) for i in range(D.shape[1]) for g in (1, -1) if (i, g) not in present]
    if not keys:
        return None
    key = _most_violated(cones, keys, beta * (1 + tiny))
    if key is None:
        return None
    q = cones.residual(*key, cones.lam[key])
    size = la.norm(ctx, q)
    u = q / size
    Au = la.matvec(ctx, _block_matrices(ctx, Up, D[:, key[0]])[0], u)
    s = u * ((size - beta) / la.dot(ctx, Au, Au))
    block = _Block(key[0], key[1], tuple(sorted(cones.lam[key])))
    return [*blocks, block], [*s_list, s]


def _most_violated(cones: _ConeBounds, keys: list, threshold: Any) -> Any:
    """Return the key with the largest mp cone bound above ``threshold``, or None.

    Float NNLS bounds are valid upper bounds but may be far above the true
    minimum (scipy issue #25389), so keys are refined in mp in decreasing order
    of their float bound until no unrefined float bound exceeds both the best
    refined bound and ``threshold``.
    """
    for key in keys:
        cones.float_multipliers(*key)
    float_bound = {key: cones.bound(*key) for key in keys}
    best, best_bound = None, threshold
    for key in sorted(keys, key=float_bound.__getitem__, reverse=True):
        if float_bound[key] <= best_bound:
            break
        cones.refine(*key)
        bound = cones.bound(*key)
        if bound > best_bound:
            best, best_bound = key, bound
    return best


class _Reduced:
    r"""The smooth problem on a fixed active set, in null-space coordinates.

    :math:`f(t) = \tfrac12\|M t - y\|^2 + \beta\sum_b \|t_b\|` with
    :math:`M = [\sigma_b D_{i_b} U' N_b]_b`, and the free cone rows
    :math:`G_j N_b t_b \ge 0` that a step must not cross.
    """

    def __init__(self, ctx: Any, reduced: list, y: Any, beta: Any) -> None:
        self.ctx, self.y, self.beta = ctx, y, beta
        self.Ns = [N for N, _, _ in reduced]
        self.sizes = [N.cols for N in self.Ns]
        if reduced:
            self.M = _hstack(ctx, [M for _, M, _ in reduced], y.rows)
            self.MtM = self.M.T * self.M
        self.rows, pos = [], 0
        for b, (_, _, free) in enumerate(reduced):
            self.rows += [(b, j, pos, coef) for j, coef in free]
            pos += self.sizes[b]

    def norms(self, t: Any) -> list:
        """Return the block norms ``||t_b||``."""
        return _block_norms(self.ctx, t, self.sizes)

    def value_grad(self, t: Any) -> tuple[Any, Any]:
        """Return ``f(t)`` and its gradient."""
        ctx = self.ctx
        res = la.matvec(ctx, self.M, t) - self.y
        norms = self.norms(t)
        g = la.rmatvec(ctx, self.M, res)
        pos = 0
        for size, nb in zip(self.sizes, norms, strict=True):
            for k in range(pos, pos + size):
                g[k] += self.beta * t[k] / nb
            pos += size
        return la.dot(ctx, res, res) / 2 + self.beta * ctx.fsum(norms), g

    def hessian(self, t: Any, mu: Any) -> Any:
        """Return ``M^T M + blockdiag(beta/||t_b|| (I - u_b u_b^T)) + mu I``."""
        H = self.MtM + mu * self.ctx.eye(t.rows)
        pos = 0
        for size, nb in zip(self.sizes, self.norms(t), strict=True):
            for a in range(pos, pos + size):
                for b in range(pos, pos + size):
                    H[a, b] += self.beta / nb * ((a == b) - t[a] * t[b] / nb**2)
            pos += size
        return H

    def max_step(self, t: Any, d: Any) -> tuple[Any, tuple[int, int] | None]:
        """Return the largest step in ``[0, 1]`` keeping the free rows feasible.

        Slacks are linear in the step, so this is a ratio test; the second
        value names the blocking ``(block, row)`` or is ``None``.
        """
        ctx, cap, hit = self.ctx, self.ctx.one, None
        for b, j, pos, coef in self.rows:
            rate = ctx.fdot((c, d[pos + k]) for k, c in enumerate(coef))
            if rate < 0:
                slack = ctx.fdot((c, t[pos + k]) for k, c in enumerate(coef))
                ratio = max(ctx.zero, slack / -rate)
                if ratio < cap:
                    cap, hit = ratio, (b, j)
        return cap, hit


def _newton(
    ctx: Any, problem: _Reduced, t0: list, tol: Any, max_iter: int
) -> tuple[list, int, Any, tuple[int, int] | None]:
    """Regularised Newton on ``problem``; stops at a blocking cone row.

    Returns the blocks ``t_b``, the iteration count, the gradient norm and the
    ``(block, row)`` where a step stopped on the cone boundary (or ``None``).
    """
    if not problem.sizes:
        return [], 0, ctx.zero, None
    t = _vstack(ctx, t0)
    f, g = problem.value_grad(t)
    gnorm, stalls, its, hit = la.norm(ctx, g), 0, 0, None
    while its < max_iter and gnorm > tol and stalls < 3 and hit is None:
        d = la.spd_solve(ctx, problem.hessian(t, gnorm), -g)
        cap, blocking = problem.max_step(t, d)
        step, f_new, g_new = _line_search(ctx, problem, t, f, g, d, cap)
        its += 1
        if step is None:
            break
        if blocking is not None and step == cap:
            hit = blocking
        g_norm_new = la.norm(ctx, g_new)
        stalls = stalls + 1 if g_norm_new > gnorm / 2 else 0
        t, f, g, gnorm = t + d * step, f_new, g_new, g_norm_new
    return _vsplit(ctx, t, problem.sizes), its, gnorm, hit


def _line_search(
    ctx: Any, problem: _Reduced, t: Any, f: Any, g: Any, d: Any, cap: Any
) -> tuple[Any, Any, Any]:
    """Armijo backtracking from ``min(1, cap)``; halving ``||grad||`` also passes.

    The second test matters near the optimum, where the decrease of ``f``
    drops below the working precision before the gradient does.
    """
    slope, step, gnorm = la.dot(ctx, g, d), min(ctx.one, cap), la.norm(ctx, g)
    for _ in range(60):
        t_new = t + d * step
        if all(nb > 0 for nb in problem.norms(t_new)):
            f_new, g_new = problem.value_grad(t_new)
            if f_new <= f + step * slope / 10**4 or la.norm(ctx, g_new) <= gnorm / 2:
                return step, f_new, g_new
        step /= 2
    return None, f, g


def _block_norms(ctx: Any, t: Any, sizes: list) -> list:
    norms, pos = [], 0
    for size in sizes:
        norms.append(ctx.sqrt(ctx.fsum(t[k] ** 2 for k in range(pos, pos + size))))
        pos += size
    return norms


def _hstack(ctx: Any, Ms: list, rows: int) -> Any:
    out = ctx.matrix(rows, sum(M.cols for M in Ms))
    pos = 0
    for M in Ms:
        for i in range(M.rows):
            for k in range(M.cols):
                out[i, pos + k] = M[i, k]
        pos += M.cols
    return out


def _vstack(ctx: Any, ts: list) -> Any:
    return la.column(ctx, [tb[k] for tb in ts for k in range(tb.rows)])


def _vsplit(ctx: Any, t: Any, sizes: list) -> list:
    out, pos = [], 0
    for size in sizes:
        out.append(la.column(ctx, [t[k] for k in range(pos, pos + size)]))
        pos += size
    return out


def _revise_active_set(
    ctx: Any,
    Up: Any,
    D: np.ndarray,
    y: Any,
    beta: Any,
    blocks: list[_Block],
    s_list: list,
    tiny: Any,
) -> tuple[list[_Block], list] | None:
    """One active-set revision per block; ``None`` when nothing changes."""
    triples = [(b.pattern, b.sign, s) for b, s in zip(blocks, s_list, strict=True)]
    res = _predict(ctx, Up, D, triples) - y
    norms = [la.norm(ctx, s) for s in s_list]
    largest = max(norms, default=ctx.zero)
    new_blocks, new_s, changed = [], [], False
    for block, s, size in zip(blocks, s_list, norms, strict=True):
        if size <= tiny * largest:
            changed = True
            continue
        active = _revised_rows(ctx, Up, D, block, s, size, res, beta, tiny)
        changed = changed or active != block.active
        new_blocks.append(block._replace(active=active))
        new_s.append(s)
    return (new_blocks, new_s) if changed else None


def _revised_rows(
    ctx: Any,
    Up: Any,
    D: np.ndarray,
    block: _Block,
    s: Any,
    size: Any,
    res: Any,
    beta: Any,
    tiny: Any,
) -> tuple:
    """Add the most violated free row, else release the most negative multiplier."""
    A, G = _block_matrices(ctx, Up, D[:, block.pattern])
    slack = la.matvec(ctx, G, s)
    free = [j for j in range(G.rows) if j not in block.active]
    worst = min(free, key=lambda j: slack[j], default=None)
    if worst is not None and slack[worst] < -tiny * size:
        return tuple(sorted((*block.active, worst)))
    if not block.active:
        return block.active
    w = la.rmatvec(ctx, A, res) * block.sign + s * (beta / size)
    G_Jt = ctx.matrix(G.cols, len(block.active))
    for r, j in enumerate(block.active):
        for k in range(G.cols):
            G_Jt[k, r] = G[j, k]
    lam = la.pinv_solve(ctx, G_Jt, w, tiny)
    r_min = min(range(lam.rows), key=lambda r: lam[r])
    if lam[r_min] < -tiny * beta:
        return tuple(j for r, j in enumerate(block.active) if r != r_min)
    return block.active


def _assemble(
    ctx: Any,
    W: MpWhitening,
    D: np.ndarray,
    y: Any,
    beta: Any,
    blocks: list[_Block],
    s_list: list,
    iterations: int,
    gnorm: Any,
) -> MpSolution:
    P, m = D.shape[1], W.U_prime.cols
    S = {1: ctx.zeros(P, m), -1: ctx.zeros(P, m)}
    for block, s in zip(blocks, s_list, strict=True):
        for k in range(m):
            S[block.sign][block.pattern, k] += s[k]
    triples = [(b.pattern, b.sign, s) for b, s in zip(blocks, s_list, strict=True)]
    yhat = _predict(ctx, W.U_prime, D, triples)
    objective = _objective(ctx, yhat, y, beta, [la.norm(ctx, s) for s in s_list])
    active = tuple((b.pattern, b.sign, b.active) for b in blocks)
    return MpSolution(S[1], S[-1], yhat, objective, iterations, W.dps, W, active, gnorm)


# ----------------------------------------------------------------------------
# certification
# ----------------------------------------------------------------------------


def certify_mp(
    X: Any,
    y: Any,
    beta: float,
    D: Any,
    mp_solution: MpSolution,
    *,
    dps: int = 50,
    complete: bool = False,
    ctx: Any = mpmath.mp,
) -> MpCertificate:
    r"""Duality gap and KKT residuals of an mp solution, all in mpmath.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Data (only checked against the solution's whitening).
    y : array_like, shape (n,)
        Labels.
    beta : float
        Regularisation coefficient (convention A).
    D : array_like of bool, shape (n, P)
        Patterns of ``mp_solution``.
    mp_solution : MpSolution
        From :func:`refine_solution`.
    dps : int, default 50
        Evaluation precision (>= 15); ``digits`` is capped at
        ``min(dps, mp_solution.dps)``.
    complete : bool, default False
        The caller states that ``D`` is the complete arrangement of ``U'``;
        only then is ``bound_kind`` ``"global"``.
    ctx : mpmath context, optional
        Default ``mpmath.mp``; its precision is restored on return.

    Returns
    -------
    MpCertificate

    Notes
    -----
    With :math:`r = y - \hat y`, for pattern :math:`i` and sign :math:`\pm`
    let :math:`c = \pm U'^T D_i r` and :math:`K_i = \{s : G_i s \ge 0\}`.
    For any :math:`\lambda \ge 0` and :math:`s \in K_i`,
    :math:`c^T s \le (c + G_i^T\lambda)^T s \le \|c + G_i^T\lambda\|\,\|s\|`,
    so :math:`B = \max_{i,\pm}\|c + G_i^T \lambda\|` bounds
    :math:`\max_i \max_{s\in K_i, \|s\|\le 1} |r^T D_i U' s|` for every
    choice of :math:`\lambda \ge 0`.  Here :math:`\lambda` comes from float
    NNLS (``scipy.optimize.nnls(G_i^T, -c)``), is converted exactly, and for
    the patterns near the maximum is re-solved by Lawson-Hanson NNLS in mp
    (``_mp_linalg.nnls``; the float result can be far from optimal, which only
    loosens the bound).  Then :math:`v = r \min(1, \beta/B)` is dual feasible and
    :math:`d(v) = -\tfrac12\|v - y\|^2 + \tfrac12\|y\|^2` is a lower bound
    (weak duality).  The bound is rigorous up to the working precision
    (``dps + GUARD_DPS`` digits; no interval arithmetic).  KKT residuals, with
    the same multipliers: stationarity
    :math:`\max_b \|c_b + G_b^T\lambda_b - \beta s_b/\|s_b\|\|`, primal
    feasibility :math:`\max (-(G_i s)_j)_+`, complementarity
    :math:`\max_b |\lambda_b^T G_b s_b|`, dual feasibility :math:`(B - \beta)_+`.

    Examples
    --------
    >>> from bnconvex.numerics.dataio.data import make_regression
    >>> from bnconvex.numerics.exact import fit_exact
    >>> X, y = make_regression(6, 2, seed=0)
    >>> fit = fit_exact(X, y, 0.1, arrangements="exact")
    >>> D = fit.D
    >>> mp_sol = refine_solution(X, y, 0.1, D, fit.solution, dps=20)
    >>> mpmath.nstr(mp_sol.objective, 12)
    '0.132527378414'
    >>> cert = certify_mp(X, y, 0.1, D, mp_sol, dps=20, complete=True)
    >>> cert.bound_kind, cert.digits, cert.gap < mpmath.mpf("1e-18")
    ('global', 20.0, True)
    """
    X, y = check_data(X, y)
    y = _check_vector(y)
    beta = check_beta(beta)
    D = check_patterns(D, X.shape[0])
    dps = _check_dps(dps)
    if not isinstance(mp_solution, MpSolution):
        raise InputError(
            f"`mp_solution` must be an MpSolution; got {type(mp_solution).__name__}"
        )
    if mp_solution.S_plus.rows != D.shape[1] or mp_solution.whitening.n != X.shape[0]:
        raise InputError(
            f"`mp_solution` has P={mp_solution.S_plus.rows}, "
            f"n={mp_solution.whitening.n}; "
            f"`D` has P={D.shape[1]}, n={X.shape[0]}"
        )
    _check_same_data(X, mp_solution.whitening)
    prec = ctx.prec
    try:
        ctx.dps = dps + GUARD_DPS
        return _certify(
            ctx, la.mp_matrix(ctx, y), ctx.mpf(beta), D, mp_solution, dps, complete
        )
    finally:
        ctx.prec = prec


def _check_same_data(X: np.ndarray, W: MpWhitening) -> None:
    """Raise unless the column means of ``X`` match those of the whitening."""
    mean = np.array([float(m) for m in W.mean])
    err = float(np.max(np.abs(X.mean(axis=0) - mean), initial=0.0))
    if mean.shape != (X.shape[1],) or err > 1e-12 * (1 + np.max(np.abs(X))):
        raise InputError(
            "`X` is not the data `mp_solution` was refined on (column means differ)"
        )


def _certify(
    ctx: Any,
    y: Any,
    beta: Any,
    D: np.ndarray,
    sol: MpSolution,
    dps: int,
    complete: bool,
) -> MpCertificate:
    Up = sol.whitening.U_prime
    blocks = _nonzero_blocks(ctx, sol)
    yhat = _predict(ctx, Up, D, blocks)
    primal = _objective(ctx, yhat, y, beta, [la.norm(ctx, s) for *_, s in blocks])
    r = y - yhat
    cones = _ConeBounds(ctx, Up, D, r)
    bounds = cones.all_bounds({(i, sign) for i, sign, _ in blocks})
    B = max(bounds.values())
    scale = min(ctx.one, beta / B) if B > 0 else ctx.one
    v = r * scale
    dual = -la.dot(ctx, v - y, v - y) / 2 + la.dot(ctx, y, y) / 2
    gap = primal - dual
    kkt = _kkt_residuals(ctx, cones, blocks, beta, B)
    cap = min(dps, sol.dps)
    rel = gap / abs(primal) if primal != 0 else gap
    digits = float(cap) if rel <= 0 else min(float(cap), float(-ctx.log10(rel)))
    kind: BoundKind = "global" if complete else "patterns"
    return MpCertificate(primal, dual, gap, kkt, digits, dps, kind, B, scale)


class _ConeBounds:
    """Upper bounds ``min_{lam >= 0} ||c + G_i^T lam||`` for all patterns and signs."""

    def __init__(self, ctx: Any, Up: Any, D: np.ndarray, r: Any) -> None:
        self.ctx, self.Up, self.D = ctx, Up, D
        self.Uf = la.to_float(Up)
        n, m = Up.rows, Up.cols
        self.weighted = [[r[j] * Up[j, k] for k in range(m)] for j in range(n)]
        self.lam: dict[tuple[int, int], dict[int, Any]] = {}
        self.refined: set[tuple[int, int]] = set()
        self.tiny = ctx.mpf(10) ** (-(ctx.dps // 2))

    def c(self, i: int, sign: int) -> Any:
        """Return ``sign * U'^T D_i r``."""
        rows = np.flatnonzero(self.D[:, i])
        return la.column(
            self.ctx,
            [
                sign * self.ctx.fsum(self.weighted[j][k] for j in rows)
                for k in range(self.Up.cols)
            ],
        )

    def G_row(self, i: int, j: int) -> list:
        sgn = 1 if self.D[j, i] else -1
        return [sgn * self.Up[j, k] for k in range(self.Up.cols)]

    def residual(self, i: int, sign: int, lam: dict[int, Any]) -> Any:
        """Return ``c + G_i^T lam`` (mp column)."""
        q = self.c(i, sign)
        for j, lj in lam.items():
            for k, g in enumerate(self.G_row(i, j)):
                q[k] += lj * g
        return q

    def bound(self, i: int, sign: int) -> Any:
        return la.norm(self.ctx, self.residual(i, sign, self.lam[i, sign]))

    def float_multipliers(self, i: int, sign: int) -> None:
        c = la.to_float(self.c(i, sign))[:, 0]
        Gf = np.where(self.D[:, i], 1.0, -1.0)[:, None] * self.Uf
        lam, _ = scipy.optimize.nnls(Gf.T, -c)
        self.lam[i, sign] = {
            int(j): self.ctx.mpf(float(lam[j])) for j in np.flatnonzero(lam > 0)
        }

    def refine(self, i: int, sign: int) -> None:
        """Re-solve the multipliers by NNLS in mp; keep the better of the two."""
        self.refined.add((i, sign))
        Gt = self.ctx.matrix(self.Up.cols, self.D.shape[0])
        for j in range(self.D.shape[0]):
            for k, g in enumerate(self.G_row(i, j)):
                Gt[k, j] = g
        cand = la.nnls(self.ctx, Gt, -self.c(i, sign), self.tiny)
        if la.norm(self.ctx, self.residual(i, sign, cand)) < self.bound(i, sign):
            self.lam[i, sign] = cand

    def all_bounds(self, must_refine: set) -> dict[tuple[int, int], Any]:
        """Bounds for every (pattern, sign); the near-maximal ones refined in mp."""
        keys = [(i, sign) for i in range(self.D.shape[1]) for sign in (1, -1)]
        for key in keys:
            self.float_multipliers(*key)
        bounds = {key: self.bound(*key) for key in keys}
        todo = set(must_refine)
        while todo:
            for key in todo:
                self.refine(*key)
                bounds[key] = self.bound(*key)
            top = max(bounds.values())
            todo = {
                k
                for k in keys
                if k not in self.refined and bounds[k] >= top * (1 - _REFINE_MARGIN)
            }
        return bounds


def _kkt_residuals(
    ctx: Any, cones: _ConeBounds, blocks: list, beta: Any, B: Any
) -> dict[str, Any]:
    stat, feas, comp = ctx.zero, ctx.zero, ctx.zero
    for i, sign, s in blocks:
        size = la.norm(ctx, s)
        stat = max(
            stat,
            la.norm(
                ctx, cones.residual(i, sign, cones.lam[i, sign]) - s * (beta / size)
            ),
        )
        slack = [
            ctx.fdot((g, s[k]) for k, g in enumerate(cones.G_row(i, j)))
            for j in range(cones.Up.rows)
        ]
        feas = max(feas, max(-x for x in slack))
        comp = max(
            comp, abs(ctx.fsum(lj * slack[j] for j, lj in cones.lam[i, sign].items()))
        )
    return {
        "stationarity": stat,
        "primal_feasibility": feas,
        "complementarity": comp,
        "dual_feasibility": max(ctx.zero, B - beta),
    }


# ----------------------------------------------------------------------------
# closed form (R2)
# ----------------------------------------------------------------------------


def highdim_optimum_mp(y: Any, beta: float, *, dps: int, ctx: Any = mpmath.mp) -> Any:
    r"""R2 closed-form optimum ``h_beta(||y_+||) + h_beta(||y_-||)`` in mpmath.

    Parameters
    ----------
    y : array_like, shape (n,)
        Labels (read exactly).
    beta : float
        Regularisation coefficient (convention A).
    dps : int
        Target precision (>= 15).
    ctx : mpmath context, optional
        Default ``mpmath.mp``; its precision is restored on return.

    Returns
    -------
    mpf

    Notes
    -----
    .. math::

        p^* = h_\beta(\|y_+\|) + h_\beta(\|y_-\|), \qquad
        h_\beta(t) = \begin{cases} t^2/2 & t \le \beta \\
        \beta t - \beta^2/2 & t > \beta \end{cases}

    It is the optimum of the convex program whenever ``rank(CX) = n - 1``, and
    a lower bound on it for every ``X`` (paper digest R2).

    Examples
    --------
    >>> from bnconvex.numerics.highprec.mp_refine import highdim_optimum_mp
    >>> highdim_optimum_mp([3.0, -4.0], 1.0, dps=30)  # (3 - 1/2) + (4 - 1/2)
    mpf('6.0')
    """
    y = _check_vector(y)
    beta = check_beta(beta)
    dps = _check_dps(dps)
    prec = ctx.prec
    try:
        ctx.dps = dps + GUARD_DPS
        b = ctx.mpf(beta)
        total = ctx.zero
        for part in (np.maximum(y, 0.0), np.maximum(-y, 0.0)):
            t = ctx.sqrt(ctx.fsum(ctx.mpf(float(x)) ** 2 for x in part))
            total += t**2 / 2 if t <= b else b * t - b**2 / 2
        return total
    finally:
        ctx.prec = prec
