r"""Cone norms of many blocks at once, by an active-set method in :math:`\mathbb{R}^m`.

Notes
-----
Block :math:`b` has a pattern :math:`D_{p_b}` and a vector :math:`c_b \in
\mathbb{R}^m`; with :math:`G = (2D_{p_b} - I)U'` (``n`` rows
:math:`\sigma_j u_j^T`) and :math:`K = \{s : Gs \ge 0\}`, its *cone norm* is

.. math::

    \max_{s \in K,\ \|s\| \le 1} c_b^T s = \|\Pi_K(c_b)\|
    = \min_{\lambda \ge 0} \|c_b + G^T\lambda\|

(Moreau: the polar cone is :math:`\{-G^T\lambda : \lambda \ge 0\}`).  For any
:math:`\lambda \ge 0` and :math:`s \in K`, :math:`\|s\| \le 1`,
:math:`c_b^Ts \le (c_b + G^T\lambda)^Ts \le \|c_b + G^T\lambda\|`, so every
iterate below gives a rigorous upper bound, whether or not it has converged.

The projection lives in :math:`\mathbb{R}^m` and has at most ``m`` active
constraints, so the minimisation over :math:`\lambda \in \mathbb{R}^n_{\ge 0}`
is solved by Lawson and Hanson's active-set method with the *passive set*
:math:`A` (at most ``m`` rows) stored explicitly: per iteration, with
:math:`s = c_b + G_A^T\lambda_A`,

1. the most violated row :math:`j = \arg\min_j (Gs)_j` of all ``n`` enters
   :math:`A` (one GEMM :math:`U'S^T` for all blocks still running), with up
   to :data:`ENTER_ROWS` - 1 further violated rows, most violated first (a
   block whose entering rows are dependent retries with one row);
2. :math:`z = \arg\min_z \|c_b + G_A^Tz\|` from the normal equations with
   the inverse :math:`H = (G_AG_A^T)^{-1}` kept per block (bordered by the
   Schur complement when rows enter, downdated by a rank-one term when a row
   leaves, one step of iterative refinement per solve, computed anew when
   that step shows drift; QR of :math:`G_A^T` when the Gram matrix is ill
   conditioned); while some :math:`z_k \le 0` the iterate moves towards
   :math:`z` until a multiplier hits zero and leaves :math:`A`.

The residual norm :math:`\|s\|` never increases, and when
:math:`Gs \ge -\tau\max_j\|u_j\|\|s\|` (:data:`FEAS_TOL`) the KKT conditions of
the projection hold (:math:`s \in K` up to :math:`\tau`,
:math:`\lambda \ge 0`, :math:`G_As = 0`), so the bound is the cone norm.  A
block stops early once its bound is below a level the caller gives (the
threshold of a violation test, or the largest exact cone norm found so far
when only the maximum is wanted), and a block may start from the passive set
of an earlier call (warm start: at a nearby :math:`c_b` it is usually right).

*Screening.*  When blocks only need a bound below a positive level (a
violation test) and ``m >= SCREEN_MIN_DIM``, a first-order pre-pass runs
first: FISTA on :math:`\min_{\lambda\ge0}\tfrac12\|c_b + G^T\lambda\|^2` with
step :math:`1/\|U'\|_2^2`, two GEMMs per step for all blocks; every iterate
has :math:`\lambda \ge 0`, so its bound is rigorous, and most blocks far below
the level drop under it in a few dozen steps without the active-set method's
many small solves (the steps run in float32; the kept multipliers are
evaluated in float64).

Cost: :math:`O(nmL)` per iteration for the ``L`` running blocks plus
:math:`O(Lm^2)` per row that enters or leaves (:math:`O(Lm^3)` when an
inverse is computed anew); memory :math:`O(nL + Lm^2)` (the pre-pass holds
``L x n`` multipliers, in float32).
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "FEAS_TOL",
    "ConeNorms",
    "block_chunk",
    "cone_norms",
    "max_cone_norm",
    "null_basis",
]

#: Relative feasibility tolerance of the projection (KKT test, module Notes).
FEAS_TOL = 1e-11
#: A new passive row whose QR diagonal is below this fraction of the largest
#: is (numerically) dependent on the others: the block stops there.
RANK_TOL = 1e-12
#: Normal equations are used when the smallest Cholesky pivot is at least this
#: fraction of the largest (condition number of the Gram matrix below 1e6).
GRAM_PIVOT = 1e-3
#: A kept inverse Gram matrix whose refinement step changes the solution by more
#: than this (relative) is computed anew (the updates drifted).
REFRESH_TOL = 1e-6
#: Outer iterations allowed per dimension of ``s`` (the passive set grows by
#: one row per iteration; rows also leave, so more than ``m`` are usual).
MAX_ITER_PER_DIM = 20
#: Rows (times ``m``) kept from a full scan: the most violated, scanned alone
#: until none of them is violated (then a full scan confirms or refreshes).
SCAN_ROWS = 4
#: With at most this many times ``SCAN_ROWS * m`` rows every step scans all
#: rows: one ``L x m x n`` GEMM is then cheaper than gathering the candidate
#: rows, and the entering rows are the most violated of all (the violator test
#: at ``r = y`` at 1000 x 50 x 256 in ``benchmarks/bench_peers.py``: 0.25 ->
#: 0.17 s; at 20000 x 20 x 256, ratio 238, the candidates stay faster).
FULL_SCAN_RATIO = 32
#: Violated rows entering the passive set per step (the most violated first;
#: a block falls back to one row when they cannot all enter).
ENTER_ROWS = 4
#: Screening calls (a positive level) on blocks of at least this dimension
#: start with a first-order pre-pass (:func:`_fista`): with ``m`` this large
#: the active-set steps are bound by their many small solves.
SCREEN_MIN_DIM = 32
#: FISTA steps of that pre-pass.
SCREEN_ITERS = 40
#: Entries of the ``n x L`` products per chunk of blocks (32 MiB of float64).
CHUNK_ENTRIES = 1 << 22
#: Blocks in the first chunk of :func:`max_cone_norm` (later chunks double): the
#: blocks of largest prior bound set the level that lets the others stop early.
FIRST_CHUNK = 32


@dataclasses.dataclass
class ConeNorms:
    r"""Result of :func:`cone_norms` for ``B`` blocks.

    Attributes
    ----------
    bound : ndarray, shape (B,)
        :math:`\|c_b + G^T\lambda_b\|` for the final :math:`\lambda_b \ge 0`: a
        rigorous upper bound of the cone norm (before rounding, which the
        caller covers).
    g : ndarray, shape (B, m)
        :math:`G^T\lambda_b`; :math:`\|c + g_b\|` bounds the cone norm at any
        other vector ``c`` of the same block.
    rows, k : ndarray of int, shapes (B, m) and (B,)
        Passive set: the first ``k[b]`` entries of ``rows[b]`` (row indices of
        :math:`U'`); a warm start for a later call.
    exact : ndarray of bool, shape (B,)
        Whether the KKT test passed (``bound`` is then the cone norm, up to
        :data:`FEAS_TOL`).
    """

    bound: np.ndarray
    g: np.ndarray
    rows: np.ndarray
    k: np.ndarray
    exact: np.ndarray


def cone_norms(
    U: np.ndarray,
    D: np.ndarray,
    p: np.ndarray,
    C: np.ndarray,
    *,
    level: float | np.ndarray = 0.0,
    running_max: int = 0,
    warm: tuple[np.ndarray, np.ndarray] | None = None,
) -> ConeNorms:
    r"""Upper bounds (exact where needed) of the cone norms of the blocks ``(p, C)``.

    Parameters
    ----------
    U : ndarray, shape (n, m)
        Features :math:`U'` (float64).
    D : ndarray of bool, shape (n, P)
        Patterns.
    p : ndarray of int, shape (B,)
        Pattern of each block.
    C : ndarray, shape (B, m)
        The vectors :math:`c_b` (sign included).
    level : float or ndarray, optional
        A block stops once its bound is at most ``level`` (per block or one
        for all); 0 asks for every cone norm exactly.
    running_max : int or bool, optional
        Raise ``level`` to the largest exact bound found so far (True or 1):
        the maximum of the returned bounds is then still an upper bound of the
        largest cone norm, at far fewer iterations.  An integer ``t > 1``
        raises it to the ``t``-th largest exact bound: a block that stops
        there is not among the ``t`` largest cone norms (ties aside), so the
        ``t`` largest returned bounds are exact.
    warm : (rows, k), optional
        Passive sets to start from (see :class:`ConeNorms`).

    Returns
    -------
    ConeNorms

    Examples
    --------
    The cone :math:`\{s : s_1 \ge 0, s_2 \ge 0\}` (``U = I``, ``D`` all ones):

    >>> out = cone_norms(np.eye(2), np.ones((2, 1), bool), np.array([0]),
    ...                  np.array([[3.0, -4.0]]))
    >>> float(out.bound[0]), bool(out.exact[0])
    (3.0, True)
    """
    B, step = C.shape[0], block_chunk(U.shape[0])
    level = np.broadcast_to(np.asarray(level, float), (B,)).copy()
    parts = []
    for start in range(0, max(B, 1), step):
        sl = slice(start, start + step)
        w = None if warm is None else (warm[0][sl], warm[1][sl])
        parts.append(_chunk(U, D, p[sl], C[sl], level[sl], running_max, w))
        if running_max == 1:
            level = np.maximum(level, float(parts[-1].bound.max(initial=0.0)))
        elif running_max:
            done = np.concatenate([o.bound[o.exact] for o in parts])
            level = np.maximum(level, _top(done, int(running_max)))
    if len(parts) == 1:
        return parts[0]
    fields = (f.name for f in dataclasses.fields(ConeNorms))
    return ConeNorms(*(np.concatenate([getattr(o, f) for o in parts]) for f in fields))


def _chunk(U, D, p, C, level, running_max, warm) -> ConeNorms:
    """:func:`cone_norms` on one chunk of blocks (``level`` per block)."""
    m = U.shape[1]
    B = C.shape[0]
    if warm is not None and warm[1].any():
        P = _warm_multipliers(U, D, p, C, warm[0], warm[1])
    else:
        rows = np.zeros((B, m), np.intp) if warm is None else warm[0]
        P = _passive(U, D, p, rows, np.zeros(B, np.intp))
    g = _apply(P.A, P.lam)
    bound = np.linalg.norm(C + g, axis=1)
    exact = np.zeros(B, bool)
    running = np.ones(B, bool)
    u_max = float(np.linalg.norm(U, axis=1).max(initial=0.0))
    c_norm = np.linalg.norm(C, axis=1)
    # signs of the blocks' rows, (B, n); float32 holds +-1 exactly (half the memory)
    sign = np.where(D[:, p].T, np.float32(1.0), np.float32(-1.0))
    q = min(U.shape[0], SCAN_ROWS * m)
    cand = Gc = None  # with few rows all are scanned at every step
    if U.shape[0] > FULL_SCAN_RATIO * q:
        cand = np.zeros((B, q), np.intp)  # rows most violated at the last full scan
        Gc = np.zeros((B, q, m))  # their signed rows
    full = np.ones(B, bool)  # next scan over all n rows
    enter = np.full(B, ENTER_ROWS)  # rows entering per step
    first = _screen(U, sign, C, g, bound, level)  # (g, bound, warm) or None
    if first is not None:
        g, bound = first[0].copy(), first[1].copy()
        ix, warm_rows, warm_k = first[2]  # the rest start from FISTA's support
        if ix.size:
            P.put(ix, _warm_multipliers(U, D, p[ix], C[ix], warm_rows, warm_k))
            g[ix] = _apply(P.A[ix], P.lam[ix])
            bound[ix] = np.linalg.norm(C[ix] + g[ix], axis=1)
    for _ in range(MAX_ITER_PER_DIM * m + 50):
        if running_max:
            level = np.maximum(level, _top(bound[exact], int(running_max)))
        running &= ~exact & (bound > level)
        idx = np.flatnonzero(running)
        if not idx.size:
            break
        S = C[idx] + g[idx]
        if cand is None:  # every row is a candidate: one GEMM scans them all
            f, rows_of = np.ones(idx.size, bool), None
            val = S @ U.T
            val *= sign[idx]
            j = np.argmin(val, axis=1)
            worst = val[np.arange(idx.size), j]
        else:
            f = full[idx]
            if f.any():
                scan = _full_scan(U, sign[idx[f]], S[f], q)
                cand[idx[f]], Gc[idx[f]] = scan[2], scan[3]
            val = np.einsum("bqm,bm->bq", Gc[idx], S)  # the candidate rows' values
            at, rows_of = np.argmin(val, axis=1), cand[idx]
            j, worst = rows_of[np.arange(idx.size), at], val[np.arange(idx.size), at]
            if f.any():  # a full scan sees all n rows
                j[f], worst[f] = scan[0], scan[1]
        tol_b = FEAS_TOL * u_max * bound[idx]
        ok = worst >= -tol_b
        # a candidate scan without violation is confirmed by a full scan next
        full[idx[ok & ~f]] = True
        ok &= f
        full[idx[f & ~ok]] = False
        ok |= bound[idx] <= FEAS_TOL * c_norm[idx]  # projection 0: c in the polar
        exact[idx[ok]] = True
        go = ~ok & ~((worst >= -tol_b) & ~f)  # not exact, not only scanned
        stuck = go & (P.k()[idx] >= m)
        running[idx[stuck]] = False  # m passive rows and still infeasible
        go &= ~stuck
        idx, j, val = idx[go], j[go], val[go]
        rows_of = None if rows_of is None else rows_of[go]
        tol_e = FEAS_TOL * u_max * bound[idx]
        new = _entering(val, rows_of, j, tol_e, enter[idx])
        room = P.k()[idx][:, None] + np.arange(new.shape[1])[None, :] < m
        sub = P.take(idx)
        entered = _lawson_hanson_step(
            U, D, p[idx], C[idx], sub, np.where(room, new, -1)
        )
        P.put(idx, sub)
        # a block whose new rows could not enter retries with one row; stalled
        # when a single row cannot enter
        running[idx[~entered & (enter[idx] == 1)]] = False
        enter[idx] = np.where(entered, enter[idx], 1)
        g[idx] = _apply(sub.A, sub.lam)
        bound[idx] = np.linalg.norm(C[idx] + g[idx], axis=1)
    if first is not None:  # keep the first-order bound where it is smaller
        better = first[1] < bound
        g[better], bound[better] = first[0][better], first[1][better]
    exact |= bound <= FEAS_TOL * c_norm  # 0 <= cone norm <= bound ~ 0
    rows = np.take_along_axis(P.rows, _order(P.on), 1)  # passive rows first
    out = ConeNorms(bound=bound, g=g, rows=rows, k=P.k(), exact=exact)
    if running_max:
        level = np.maximum(level, _top(bound[exact], int(running_max)))
    _fallback(U, sign, C, out, np.flatnonzero(~exact & (bound > level)), u_max)
    return out


def _fallback(U, sign, C, out: ConeNorms, idx: np.ndarray, u_max: float) -> None:
    r"""Solve the blocks ``idx`` that the active-set loop left unsettled by NNLS.

    The loop stops a block whose entering row is numerically dependent on its
    passive rows (and, rarely, one out of iterations); its bound can then be
    far above the cone norm (CIFAR-10, beta = 1e-3 beta_max: 3.5 beta for a
    block whose cone norm is 0.999999 beta, which turned a certified optimum
    into a relative gap of 5e-3).  SciPy's Lawson-Hanson NNLS,
    :math:`\min_{\lambda\ge0}\|c + G^T\lambda\|` with all ``n`` rows, pivots
    through such degenerate steps; its multipliers are :math:`\ge 0`, so its
    bound is rigorous too, and the smaller of the two is kept.  Cost
    :math:`O(nm)` per NNLS iteration, on a few blocks.
    """
    from scipy.optimize import nnls

    m = U.shape[1]
    for b in idx:
        G = U * sign[b][:, None]
        lam = nnls(G.T, -C[b], maxiter=50 * U.shape[0])[0]
        g = G.T @ lam
        bound = float(np.linalg.norm(C[b] + g))
        if bound >= out.bound[b]:
            continue
        out.g[b], out.bound[b] = g, bound
        support = np.flatnonzero(lam > 0)[:m]
        out.rows[b, : support.size], out.k[b] = support, support.size
        out.rows[b, support.size :] = 0
        worst = float(np.min(G @ (C[b] + g)))
        zero = bound <= FEAS_TOL * float(np.linalg.norm(C[b]))  # c in the polar
        out.exact[b] = zero or worst >= -FEAS_TOL * u_max * bound


def _screen(U, sign, C, g, bound, level):
    r"""First-order pre-pass of a screening call: ``(g, bound, warm)``, or None.

    Run (:data:`SCREEN_ITERS` steps of FISTA, :func:`_fista`) when blocks of
    dimension ``m >= SCREEN_MIN_DIM`` only need their bound below a positive
    ``level``; each block keeps the smaller of its given and its new bound.
    ``warm = (blocks, rows, k)``: the blocks still above the level, with the
    rows of their ``m - ENTER_ROWS`` largest multipliers as passive sets to
    start from (room for a step of entering rows; a full set of ``m`` rows
    made the first violator test at 1000 x 50 x 256 0.164 s instead of
    0.13-0.15 s).
    """
    todo = np.flatnonzero((bound > level) & (level > 0))
    if U.shape[1] < SCREEN_MIN_DIM or not todo.size:
        return None
    g, bound = g.copy(), bound.copy()
    new_g, new_b, on, lam = _fista(U, sign[todo], C[todo], level[todo], SCREEN_ITERS)
    better = new_b < bound[todo]
    g[todo[better]], bound[todo[better]] = new_g[better], new_b[better]
    m = U.shape[1]
    rows = np.argsort(-lam, axis=1)[:, :m]
    k = np.minimum(np.sum(lam > 0, axis=1), max(m - ENTER_ROWS, 1))
    return g, bound, (todo[on], rows, k)


def _fista(U, sign, C, level, iters):
    r"""FISTA on :math:`\min_{\lambda \ge 0} \tfrac12\|c + G^T\lambda\|^2` per block.

    Step :math:`1/L`, :math:`L = \|U\|_2^2 = \|G\|_2^2`; two ``L x n x m``
    GEMMs per step, no small solves, in float32 (half the time of float64).
    Every iterate :math:`\lambda \ge 0` gives the rigorous bound
    :math:`\|c + G^T\lambda\|` (module Notes); the iterate of smallest
    (float32) bound is kept per block, blocks leave once it is at most
    ``level``, and the kept multipliers are evaluated in float64 at the end,
    so the returned bounds are as rigorous as the active-set ones.  Returns
    ``(g, bound)`` with :math:`g = G^T\lambda` of the kept iterates, and the
    blocks still above ``level`` with their last multipliers (L', n).
    """
    f32 = np.float32
    lip = f32(np.linalg.eigvalsh(U.T @ U)[-1])
    U32, C32, level32 = U.astype(f32), C.astype(f32), level.astype(f32)
    best_b = np.linalg.norm(C32, axis=1)
    best_lam = np.zeros((C.shape[0], U.shape[0]), f32)
    on = np.flatnonzero(best_b > level32)
    lam = lam_y = np.zeros((on.size, U.shape[0]), f32)
    g = g_y = np.zeros((on.size, U.shape[1]), f32)
    sg, c = sign[on], C32[on]  # of the blocks on, gathered when ``on`` shrinks
    t = 1.0
    for it in range(iters):
        if not on.size:
            break
        step = (c + g_y) @ U32.T  # gradient, then the projected step in place
        step *= sg
        step *= f32(-1.0 / lip)
        step += lam_y
        lam_new = np.maximum(step, f32(0.0), out=step)
        g_new = (lam_new * sg) @ U32
        b = np.linalg.norm(c + g_new, axis=1)
        better = b < best_b[on]
        best_lam[on[better]], best_b[on[better]] = lam_new[better], b[better]
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        w = f32((t - 1.0) / t_new)
        lam_y = lam_new - lam
        lam_y *= w
        lam_y += lam_new
        g_y = g_new + w * (g_new - g)
        lam, g, t = lam_new, g_new, t_new
        if it % 10 == 9:
            keep = best_b[on] > level32[on]
            on, lam, lam_y, g, g_y, sg, c = (
                a[keep] for a in (on, lam, lam_y, g, g_y, sg, c)
            )
    best_g = (best_lam * sign).astype(float) @ U  # float64: rigorous bounds
    bound = np.linalg.norm(C + best_g, axis=1)
    keep = bound[on] > level[on]
    return best_g, bound, on[keep], lam[keep].astype(float)


def _entering(val, cand, j, tol, enter) -> np.ndarray:
    """Rows to enter per block, (L, max(enter)): ``j`` then the most violated.

    Among the candidate rows ``cand`` of each block (all rows when None;
    values ``val`` of their constraints at the block's ``s``), those violated
    by more than ``tol``, most violated first, at most ``enter`` per block;
    -1 fills the unused places.
    """
    width = int(enter.max(initial=1))
    out = np.full((j.size, width), -1, np.intp)
    out[:, 0] = j
    if width == 1:
        return out
    rows = np.arange(val.shape[1])[None, :] if cand is None else cand
    val = np.where(rows == j[:, None], np.inf, val)
    w = min(width - 1, val.shape[1])
    part = np.argpartition(val, w - 1, axis=1)[:, :w]
    order = np.take_along_axis(part, np.argsort(np.take_along_axis(val, part, 1)), 1)
    more = np.take_along_axis(np.broadcast_to(rows, val.shape), order, 1)
    use = np.take_along_axis(val, order, 1) < -tol[:, None]
    use &= np.arange(1, more.shape[1] + 1)[None, :] < enter[:, None]
    out[:, 1 : 1 + more.shape[1]] = np.where(use, more, -1)
    return out


def _top(values: np.ndarray, t: int) -> float:
    """Return the ``t``-th largest of ``values`` (0 when there are fewer)."""
    if values.size < t:
        return 0.0
    return float(np.partition(values, values.size - t)[values.size - t])


def _full_scan(U: np.ndarray, sign: np.ndarray, S: np.ndarray, q: int):
    r"""Most violated row of :math:`Gs` over all ``n`` rows per block, and ``q`` most.

    ``sign`` (L, n) holds the blocks' row signs :math:`\sigma_j`.  Returns the
    row, its value, the ``q`` rows of smallest value and their signed rows
    :math:`\sigma_ju_j`.
    """
    GS = S @ U.T  # (L, n): row-major, so the argmin runs along contiguous rows
    GS *= sign
    j = np.argmin(GS, axis=1)
    worst = GS[np.arange(GS.shape[0]), j]
    if q < GS.shape[1]:
        top = np.argpartition(GS, q - 1, axis=1)[:, :q]
    else:
        top = np.broadcast_to(np.arange(q), (GS.shape[0], q))
    signs = np.take_along_axis(sign, top, 1).astype(U.dtype)
    return j, worst, top, U[top] * signs[..., None]


def _passive_rows(
    U: np.ndarray, D: np.ndarray, p: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    r"""Rows :math:`\sigma_j u_j` of the passive slots, shape (B, m, m)."""
    sign = np.where(D[rows, p[:, None]], 1.0, -1.0)
    return U[rows] * sign[..., None]


def _apply(R: np.ndarray, lam: np.ndarray) -> np.ndarray:
    r""":math:`G_A^T\lambda_A` per block (``lam`` is zero off the passive slots)."""
    return np.einsum("bk,bkm->bm", lam, R)


def _least_squares(
    R: np.ndarray, C: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`z = \arg\min \|c + G_A^Tz\|` over the first ``k`` slots, and ``ok``.

    Only the first ``max(k)`` slots take part.  Normal equations
    :math:`G_AG_A^Tz = -G_Ac` by Cholesky when its diagonal shows them well
    conditioned (smallest pivot at least :data:`GRAM_PIVOT` times the largest,
    so the error is at most about ``1e-10`` relative), else QR of
    :math:`[G_A^T, 0]`; unused slots get :math:`z = 0` (identity rows).  ``ok``
    is False where the QR diagonal is below :data:`RANK_TOL` times the largest
    (dependent rows).
    """
    m = R.shape[1]
    w = max(int(k.max(initial=0)), 1)
    used = np.arange(w)[None, :] < k[:, None]
    Rk = R[:, :w] * used[..., None]
    gram = Rk @ np.swapaxes(Rk, 1, 2)
    gram[:, np.arange(w), np.arange(w)] += ~used
    rhs = -(Rk @ C[..., None])[..., 0]
    z = np.zeros((R.shape[0], m))
    try:
        L = np.linalg.cholesky(gram)
        piv = np.abs(np.diagonal(L, axis1=1, axis2=2))
        if np.all(piv.min(axis=1) >= GRAM_PIVOT * piv.max(axis=1)):
            z[:, :w] = np.linalg.solve(gram, rhs[..., None])[..., 0] * used
            return z, np.ones(R.shape[0], bool)
    except np.linalg.LinAlgError:
        pass
    Q, T = np.linalg.qr(np.swapaxes(Rk, 1, 2))
    diag = np.abs(np.diagonal(T, axis1=1, axis2=2))
    ok = np.all(~used | (diag > RANK_TOL * diag.max(axis=1, initial=0.0)[:, None]), 1)
    rhs = -np.einsum("bji,bj->bi", Q, C) * used
    T = T * (used[:, :, None] & used[:, None, :])
    T[:, np.arange(w), np.arange(w)] += ~used
    # a dependent block's z is discarded below: solve an identity there (adding
    # 1 to its diagonal could cancel a pivot of -1 and make T singular)
    T[~ok] = np.eye(w)
    z[:, :w] = np.linalg.solve(T, rhs[..., None])[..., 0] * (used & ok[:, None])
    return z, ok


def _lawson_hanson_step(U, D, p, C, P: _Passive, new: np.ndarray) -> np.ndarray:
    r"""Inner loop of Lawson-Hanson after the rows ``new`` (L, t; -1: none) enter.

    Updates ``P``: the passive sets (kept rows first, in order) and their
    multipliers (:math:`\ge 0` throughout, zero on unused slots).  Returns
    whether some entering row is still passive.  Rows found dependent on the
    others leave again at once; the multipliers are then unchanged.
    """
    slot, present = _border(P, U, D, p, new)
    z, ok = _solve(P, C)
    if not ok.all():  # dependent rows: back to the old passive set
        b, j = np.nonzero(present & ~ok[:, None])
        P.on[b, slot[b, j]], P.A[b, slot[b, j]] = False, 0.0
        P.valid &= ok  # its inverse is computed anew
    todo = np.flatnonzero(ok)
    for _ in range(P.rows.shape[1] + 1):
        bad = P.on[todo] & (z[todo] <= 0)
        step = bad.any(axis=1)
        P.lam[todo[~step]] = z[todo[~step]]
        todo, bad = todo[step], bad[step]
        if not todo.size:
            break
        sub = P.take(todo)
        sub.lam, on = _move_towards(sub.lam, z[todo], bad, sub.on)
        _drop(sub, sub.on & ~on)
        z[todo] = _solve(sub, C[todo])[0]
        P.put(todo, sub)
    passive = np.where(P.on, P.rows, -2)
    return np.any(passive[:, :, None] == new[:, None, :], axis=(1, 2))


def _move_towards(lam, z, bad, on):
    """Step from ``lam`` towards ``z`` until a multiplier hits zero; drop it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bad & (lam - z > 0), lam / (lam - z), 0.0)
    ratio = np.where(bad, ratio, np.inf)
    alpha = ratio.min(axis=1)
    lam = lam + alpha[:, None] * (z - lam)
    lam[np.arange(lam.shape[0]), ratio.argmin(axis=1)] = 0.0
    on = on & (lam > 0)
    return np.where(on, lam, 0.0), on


def _order(keep: np.ndarray) -> np.ndarray:
    """Permutation per block moving the kept slots first (stable)."""
    return np.argsort(~keep, axis=1, kind="stable")


def _warm_multipliers(U, D, p, C, rows, k) -> _Passive:
    r"""Passive sets and multipliers :math:`\ge 0` from warm passive sets.

    Rows whose least-squares multiplier is :math:`\le 0` leave until all are
    positive (a dependent set is emptied).
    """
    P = _passive(U, D, p, rows, k)
    for _ in range(rows.shape[1] + 1):
        z, ok = _solve(P, C)
        if not ok.all():
            P.A[~ok], P.H[~ok], P.on[~ok], z[~ok] = 0.0, 0.0, False, 0.0
            P.valid[~ok] = True
        keep = P.on & (z > 0)
        P.lam = np.where(keep, z, 0.0)
        if np.array_equal(keep, P.on):
            break
        _drop(P, P.on & ~keep)
    return P


@dataclasses.dataclass
class _Passive:
    r"""Passive sets of a batch of blocks with the inverses of their Gram matrices.

    Attributes
    ----------
    rows, on, lam : ndarray, shapes (B, m), (B, m), (B, m)
        Slots (row indices), which of them are passive (no order: rows leave
        without moving the others), and multipliers (zero off ``on``).
    A : ndarray, shape (B, m, m)
        Signed rows :math:`\sigma_ju_j` of the passive slots, zero elsewhere.
    H : ndarray, shape (B, m, m)
        :math:`(G_AG_A^T)^{-1}` on the passive slots, zero elsewhere; kept up
        to date by bordering (rows enter) and rank-one downdates (rows leave)
        where ``valid``; other blocks are solved by :func:`_least_squares`.
    valid : ndarray of bool, shape (B,)
    """

    rows: np.ndarray
    on: np.ndarray
    lam: np.ndarray
    A: np.ndarray
    H: np.ndarray
    valid: np.ndarray

    def take(self, idx: np.ndarray) -> _Passive:
        """Return the blocks ``idx`` (copies)."""
        s = self
        return _Passive(
            s.rows[idx], s.on[idx], s.lam[idx], s.A[idx], s.H[idx], s.valid[idx]
        )

    def put(self, idx: np.ndarray, sub: _Passive) -> None:
        """Write ``sub`` back to the blocks ``idx``."""
        self.rows[idx], self.on[idx], self.lam[idx] = sub.rows, sub.on, sub.lam
        self.A[idx], self.H[idx], self.valid[idx] = sub.A, sub.H, sub.valid

    def k(self) -> np.ndarray:
        """Sizes of the passive sets, (B,)."""
        return self.on.sum(axis=1)


def _passive(U, D, p, rows, k) -> _Passive:
    """:class:`_Passive` of the passive sets ``(rows, k)`` (multipliers zero)."""
    B, m = rows.shape
    on = np.arange(m)[None, :] < k[:, None]
    A, H, valid = np.zeros((B, m, m)), np.zeros((B, m, m)), np.ones(B, bool)
    some = np.flatnonzero(k > 0)
    A[some] = _passive_rows(U, D, p[some], rows[some]) * on[some, :, None]
    H[some], valid[some] = _inverse_gram(A[some], on[some])
    return _Passive(rows.copy(), on, np.zeros((B, m)), A, H, valid)


def _inverse_gram(A: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`(G_AG_A^T)^{-1}` on the slots ``used``, and whether well conditioned.

    Well conditioned: the Cholesky pivots of the passive slots span at most
    a factor ``1 / GRAM_PIVOT`` (as in :func:`_least_squares`).  A batch whose
    Cholesky factorisation fails is reported ill conditioned as a whole.
    """
    B, m = A.shape[:2]
    gram = A @ np.swapaxes(A, 1, 2)
    diag = np.arange(m)
    gram[:, diag, diag] += ~used
    try:
        L = np.linalg.cholesky(gram)
    except np.linalg.LinAlgError:
        return np.zeros_like(gram), np.zeros(B, bool)
    piv = np.abs(np.diagonal(L, axis1=1, axis2=2))
    low = np.where(used, piv, np.inf).min(axis=1)
    ok = low >= GRAM_PIVOT * np.where(used, piv, 0.0).max(axis=1)
    H = np.zeros_like(gram)
    if ok.any():  # well conditioned, so LU (cheaper than from the factor) is safe
        H[ok] = np.linalg.inv(gram[ok])
    H *= used[:, :, None] & used[:, None, :]
    return H, ok


def _solve(P: _Passive, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`z = \arg\min \|c + G_A^Tz\|` on the passive slots, and ``ok``.

    Normal equations with the kept inverse ``H`` and one step of iterative
    refinement with the exact Gram product; a block whose correction exceeds
    ``REFRESH_TOL`` relative (the updates of ``H`` drifted), or whose ``H`` is
    not valid, gets a new inverse (:func:`_inverse_gram`), and an ill
    conditioned one the QR solve of :func:`_least_squares` (``ok`` False
    there for dependent rows).  Updates ``P.H`` and ``P.valid``.
    """
    fresh = ~P.valid
    if fresh.any():
        P.H[fresh], P.valid[fresh] = _inverse_gram(P.A[fresh], P.on[fresh])
    z, dz = _refined(P.A, P.H, C)
    stale = (
        P.valid
        & ~fresh
        & (np.linalg.norm(dz, axis=1) > REFRESH_TOL * np.linalg.norm(z, axis=1))
    )
    if stale.any():
        P.H[stale], P.valid[stale] = _inverse_gram(P.A[stale], P.on[stale])
        z[stale] = _refined(P.A[stale], P.H[stale], C[stale])[0]
    ok = np.ones(C.shape[0], bool)
    qr = ~P.valid
    if qr.any():
        z[qr], ok[qr] = _masked_least_squares(P.A[qr], C[qr], P.on[qr])
    return z, ok


def _refined(A, H, C):
    """``z = -H A c`` plus one refinement step, and that step."""
    v = (A @ C[..., None])[..., 0]
    z = -(H @ v[..., None])[..., 0]
    g = (z[:, None, :] @ A)[:, 0]
    r = -v - (A @ g[..., None])[..., 0]
    dz = (H @ r[..., None])[..., 0]
    return z + dz, dz


def _border(P: _Passive, U, D, p, new: np.ndarray):
    r"""Enter the rows ``new`` (L, t; -1: none) at free slots; ``(slot, present)``.

    The rows that enter form a prefix of each block's ``new``.  With signed
    rows ``N`` (L, t, m),
    :math:`G_{12} = AN^T`, :math:`W = HG_{12}` and the Schur complement
    :math:`S = NN^T - G_{12}^TW`, the new inverse is
    :math:`H + (W - E)S^{-1}(W - E)^T` (``E`` places the new slots).  A block
    where a new row lies closer than ``GRAM_PIVOT`` times its norm to the span
    of the others (:math:`1/(S^{-1})_{jj}` is that distance squared) keeps its
    old ``H`` and is marked not valid.
    """
    present = new >= 0
    N = _passive_rows(U, D, p, np.maximum(new, 0)) * present[..., None]
    L, t, m = N.shape
    G12 = P.A @ np.swapaxes(N, 1, 2)
    W = P.H @ G12
    S = N @ np.swapaxes(N, 1, 2) - np.swapaxes(G12, 1, 2) @ W
    dt = np.arange(t)
    S[:, dt, dt] += ~present
    try:
        Sinv = np.linalg.inv(S)
    except np.linalg.LinAlgError:
        Sinv = np.zeros_like(S)
    q = np.diagonal(Sinv, axis1=1, axis2=2)  # 1 / squared distances
    near = (q <= 0) | (q * (GRAM_PIVOT**2 * np.sum(N * N, axis=2)) > 1.0)
    ok = ~np.any(present & near, axis=1)
    slot = np.argsort(P.on, axis=1, kind="stable")[:, :t]  # free slots first
    b, j = np.nonzero(present)
    P.A[b, slot[b, j]], P.rows[b, slot[b, j]] = N[b, j], new[b, j]
    P.on[b, slot[b, j]] = True
    E = np.zeros((L, m, t))
    E[b, slot[b, j], j] = 1.0
    Z = W - E
    upd = np.flatnonzero(ok & P.valid)
    P.H[upd] += Z[upd] @ Sinv[upd] @ np.swapaxes(Z[upd], 1, 2)
    P.valid &= ok
    return slot, present


def _drop(P: _Passive, leave: np.ndarray) -> None:
    r"""Remove the passive slots ``leave`` (L, m).

    Each removed slot :math:`j` downdates
    :math:`H \leftarrow H - H_{:j}H_{j:}/H_{jj}` (the inverse of the Gram
    matrix without row :math:`j`).
    """
    leave = leave.copy()
    ar = np.arange(leave.shape[0])
    while leave.any():
        has = leave.any(axis=1)
        j = np.argmax(leave, axis=1)
        on = np.flatnonzero(has & P.valid)
        h = P.H[on, :, j[on]]
        P.H[on] -= h[:, :, None] * (h / P.H[on, j[on], j[on]][:, None])[:, None, :]
        b, j = ar[has], j[has]
        P.H[b, j, :], P.H[b, :, j], P.A[b, j] = 0.0, 0.0, 0.0
        P.lam[b, j], P.on[b, j], leave[b, j] = 0.0, False, False


def _masked_least_squares(R, C, used):
    """:func:`_least_squares` on the slots ``used`` (any order); zeros elsewhere."""
    order = _order(used)
    z, ok = _least_squares(np.take_along_axis(R, order[..., None], 1), C, used.sum(1))
    out = np.zeros(z.shape)
    np.put_along_axis(out, order, z, 1)
    return out, ok


def block_chunk(n: int) -> int:
    """Blocks per chunk so that one ``n x L`` product has about ``CHUNK_ENTRIES``."""
    return max(16, CHUNK_ENTRIES // max(n, 1))


def max_cone_norm(
    U: np.ndarray,
    D: np.ndarray,
    p: np.ndarray,
    C: np.ndarray,
    *,
    ub: np.ndarray | None = None,
    warm: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, list[tuple[np.ndarray, ConeNorms]]]:
    r"""Rigorous upper bound of the largest cone norm of the blocks ``(p, C)``.

    Blocks are visited in decreasing order of ``ub`` (upper bounds of their
    cone norms known beforehand; default :math:`\|c_b\|`) in chunks of
    :data:`FIRST_CHUNK` blocks, doubling up to :func:`block_chunk`; a block
    whose ``ub`` is at most the best bound so far is skipped, and within a
    chunk :func:`cone_norms` runs with ``running_max``.  The maximum of all
    final bounds (skipped blocks count with their ``ub``) bounds every cone
    norm; the returned value is that
    maximum over the blocks visited, which is at least every skipped ``ub``.

    Returns
    -------
    best : float
        The bound (before rounding).
    visited : list of (indices, ConeNorms)
        The blocks solved, per chunk (to keep their multipliers).
    """
    ub = np.linalg.norm(C, axis=1) if ub is None else ub
    order = np.argsort(-ub, kind="stable")
    best, visited = 0.0, []
    start, step = 0, min(FIRST_CHUNK, block_chunk(U.shape[0]))
    while start < order.size:
        idx = order[start : start + step]
        start, step = start + step, min(2 * step, block_chunk(U.shape[0]))
        idx = idx[ub[idx] > best]
        if not idx.size:
            break
        w = None if warm is None else (warm[0][idx], warm[1][idx])
        out = cone_norms(U, D, p[idx], C[idx], level=best, running_max=True, warm=w)
        best = max(best, float(out.bound.max()))
        visited.append((idx, out))
    return best, visited


def null_basis(rows: np.ndarray, m: int) -> np.ndarray:
    r"""Orthonormal basis (m, q) of :math:`\{x : \text{rows}\, x = 0\}` (a face).

    Singular values below ``1e-10`` times the largest count as zero.  Only
    the right singular vectors are formed: with ``q >= m`` rows the thin SVD
    already has all ``m`` of them (a full SVD would form a ``q x q`` matrix:
    27 GB for the 60,000 rows of a Fashion-MNIST face).
    """
    if rows.shape[0] == 0:
        return np.eye(m)
    full = rows.shape[0] < rows.shape[1]  # then U is small and V needs completing
    _, sv, Vt = np.linalg.svd(rows, full_matrices=full)
    rank = int(np.sum(sv > 1e-10 * max(sv[0], 1e-300)))
    return Vt[rank:].T
