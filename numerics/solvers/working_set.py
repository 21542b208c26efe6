r"""``working-set``: block working sets around a primal-dual interior-point method.

Notes
-----
At the optimum of the convex BN program only a few of the :math:`2P` blocks
are nonzero.  A block :math:`(\sigma, i)` left out of a restricted program can
be zero at the optimum of the full program exactly when the dual constraint
holds for it at the restricted optimum's residual :math:`r = y - \hat y`,

.. math::

    \max_{s \in K_i,\ \|s\| \le 1} \sigma\, r^T D_i U' s \;\le\; \beta,

whose left side is the cone norm of :math:`\sigma U'^T D_i r` (a projection
onto a polyhedral cone in :math:`\mathbb{R}^m`,
:mod:`bnconvex.numerics.core.cone_norms`;
:func:`bnconvex.numerics.core.certificate.dual_constraint_bound` computes the same
quantity for the certificate).  The solver

1. starts from the ``initial_blocks`` blocks with the largest bound on their
   cone norm at :math:`r = y` (the ones that enter the regularisation path
   first);
2. solves the restricted program by Mehrotra's predictor-corrector method
   (:mod:`._pdip`): per iteration a dense ``k m x k m`` Cholesky
   factorisation (``k`` the working-set size) or, when cheaper, an
   ``n x n`` Woodbury one; rounds after the first are warm-started from the
   previous round's iterate; a round stops at ``ROUND_TOL`` and only the
   last round is solved to the final tolerance;
3. adds the blocks whose dual constraint is violated (largest exact cone
   norm first, :meth:`BlockScores.violators`; at most ``max(min_add, k/2)``
   per round), drops the zero blocks that are
   strictly inactive (each block at most once, so the rounds cannot cycle),
   and repeats until no block outside the set violates;
4. polishes the point (when it misses ``tol``, and by default also on
   programs with ``n <= POLISH_ALWAYS_N``) by the active-set Newton step of
   :mod:`._polish`, first on ``ipm``'s barrier-based guess of the optimal
   face (which merges the blocks of one neuron that the interior point
   splits over neighbouring patterns), then, if that misses ``tol``, on the
   face read off the primal-dual iterate (support: blocks above
   ``ZERO_BLOCK``; active rows: slack below multiplier; float64 runs out in
   the interior-point method before ``1e-9`` on programs with hundreds of
   non-zero blocks).  A polished point that meets ``tol`` is kept (exact
   zeros, one block per neuron, so at most ``n + 1`` neurons); otherwise the
   point with the smaller certified gap.

*Row sets.*  A block of the restricted program carries only some of the
``n`` cone rows :math:`(2D_i - I)U's \ge 0` (at the optimum at most ``m``
are active): at first its cone-norm projection's active rows and the
``ROW_START * m`` rows of smallest slack along that projection; after each
interior-point solve, if the point violates a row left out, every block
gains its rows of small slack and the program is solved again (warm).  A
point satisfying every row solves the program with all rows, so the result
is the same as with all rows, at :math:`O(km\,r)` instead of :math:`O(kmn)`
per interior-point iteration for the cone rows (``r`` rows per block); the
prediction still uses every row (:math:`O(nmk)` GEMMs).

Each block keeps :math:`g = G_i^T\lambda` and the passive rows of its last
cone-norm solve; :math:`\|\sigma U'^TD_ir + g\|` bounds its cone norm at any
later residual, so few cone norms are solved again (and those warm-started)
(:class:`BlockScores`).  The returned point is certified over *all* ``2P``
blocks with the rigorous bound of :meth:`BlockScores.max_bound`, so the
status never rests on the working set.

Each round costs :math:`O(n (km)^2)` (dense) once plus :math:`O((km)^3)` or
:math:`O(n^2 km + n^3)` per interior-point iteration; the blocks outside the
working set cost one :math:`n \times P` GEMM per round plus the cone norms
whose bound exceeds :math:`\beta`.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from typing import Any

import numpy as np
from bnconvex.numerics.core.certificate import (
    Certificate,
    certify_residual,
    cover_rounding,
    pattern_vectors,
)
from bnconvex.numerics.core.cone_norms import (
    ConeNorms,
    cone_norms,
    max_cone_norm,
    null_basis,
)
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    ConvexSolution,
    cone_violation,
    convex_objective,
    predict,
)
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.solvers._blocks import make_blocks
from bnconvex.numerics.solvers._common import StopReason, finish
from bnconvex.numerics.solvers._gram import PatternGram
from bnconvex.numerics.solvers._pdip import (
    SINGLE_GAP,
    Iterate,
    PDResult,
    Restricted,
    restricted,
    solve_restricted,
    warm_start,
)
from bnconvex.numerics.solvers._polish import polish, polish_faces

name = "working-set"

#: Blocks of the first working set (fewer when fewer violate at zero).
INITIAL_BLOCKS = 12
#: Smallest number of violating blocks added per round.
MIN_ADD = 16
#: Distance into the cone interior of a warm start (normalised units, ||y|| = 1).
WARM_SHIFT = 1e-3
#: Smallest relative tolerance asked of the interior-point solves (float64).
INNER_TOL = 1e-11
#: Interior-point iterations one run on a working set may take at most.
ROUND_MAX_ITER = 100
#: A new block's dual cone vector starts at most this fraction of beta long
#: (:meth:`_Rounds.dual_start`).
DUAL_START = 0.9
#: Relative tolerance of the rounds that only look for violating blocks.
ROUND_TOL = 1e-4
#: A block whose norm is below this fraction of the largest counts as zero.
ZERO_BLOCK = 1e-6
#: Zero blocks with cone norm below beta (1 - DROP_MARGIN) leave the working set.
DROP_MARGIN = 1e-3
#: Up to this many samples the point is polished even when it already meets tol.
POLISH_ALWAYS_N = 100
#: A block violates when its cone norm exceeds beta by this relative margin.
VIOLATION_MARGIN = 1e-9
#: A new block starts with its projection's active rows and the ROW_START * m
#: rows of smallest slack along the projection (module Notes, row sets).
ROW_START = 8
#: Rows of normalised slack below ROW_MARGIN * ||x_b|| join a block's rows ...
ROW_MARGIN = 5e-2
#: ... at most ROW_ADD * m per block and check, when some row is violated.
ROW_ADD = 4
#: Row checks (re-solves) per interior-point solve of a working set, at most.
ROW_CHECKS = 30
#: Relative tolerance at which the row sets are settled before the final solve.
ROW_TOL = 1e-4
#: ``guess_blocks`` join the first working set when the largest cone norm at
#: the zero point is at least this many times beta (many active blocks; see
#: :func:`solve`).  Between the two measured cases, 50 and 600-700.
GUESS_MIN_RATIO = 200
#: Candidate violators are tightened in chunks of at least this many blocks
#: (:meth:`BlockScores.violators`).
VIOLATOR_CHUNK = 4096


def is_installed() -> bool:
    """Return True: the solver needs only NumPy and SciPy."""
    return True


class BlockScores:
    r"""Upper bounds of the cone norms of all blocks at the current residual.

    The cone norm of block :math:`(\sigma, i)` at residual :math:`r` is
    :math:`\max_{s \in K_i, \|s\| \le 1} \sigma r^TD_iU's
    = \min_{\lambda \ge 0} \|\sigma c_i + G_i^T\lambda\|`,
    :math:`c_i = U'^TD_ir`, :math:`G_i = (2D_i - I)U'`.  Any
    :math:`\lambda \ge 0` gives an upper bound, so each block keeps the vector
    :math:`g = G_i^T\lambda` of its last solve
    (:func:`~bnconvex.numerics.core.cone_norms.cone_norms`) and its passive rows;
    its bound at a new residual is :math:`\|\sigma c_i + g\|`: one ``n x P``
    GEMM for all blocks.  Cone norms are solved again, batched and warm-started
    from the kept passive rows, only where that bound decides something.
    """

    def __init__(self, U: np.ndarray, D: np.ndarray) -> None:
        self.U, self.D = U, D
        self.Df = D.astype(U.dtype)  # for the GEMM of :meth:`update`
        P, m = D.shape[1], U.shape[1]
        self.ub = np.full((2, P), np.inf)
        self.g = np.zeros((2, P, m))
        self.rows = np.zeros((2, P, m), np.intp)
        self.k = np.zeros((2, P), np.intp)
        self.C = np.zeros((P, m))

    def update(self, r: np.ndarray) -> None:
        """Move the bounds to the residual ``r`` (no cone norm solved)."""
        self.C = pattern_vectors(self.U, self.Df, r)
        self.ub = np.linalg.norm(self._signed() + self.g, axis=-1)

    def _signed(self) -> np.ndarray:
        return np.stack([self.C, -self.C])

    def _store(self, flat: np.ndarray, out: ConeNorms) -> None:
        """Keep the multipliers and passive rows of the blocks ``flat``."""
        P = self.D.shape[1]
        s, i = np.divmod(flat, P)
        better = out.bound < self.ub[s, i]  # keep whichever bound is smaller
        s, i = s[better], i[better]
        self.g[s, i], self.ub[s, i] = out.g[better], out.bound[better]
        self.rows[s, i], self.k[s, i] = out.rows[better], out.k[better]

    def tighten(self, blocks, level: float = 0.0, top: int = 0) -> None:
        """Solve the cone norms of the flat ``blocks`` (each until below ``level``).

        With ``top > 0`` a block also stops below the ``top``-th largest exact
        cone norm found (it cannot be among the ``top`` largest).
        """
        flat = np.asarray(blocks, dtype=np.intp)
        if not flat.size:
            return
        s, i = np.divmod(flat, self.D.shape[1])
        out = cone_norms(
            self.U,
            self.D,
            i,
            self._signed()[s, i],
            level=level,
            running_max=top,
            warm=(self.rows[s, i], self.k[s, i]),
        )
        self._store(flat, out)

    def violators(self, threshold: float, skip: np.ndarray, cap: int) -> np.ndarray:
        """Return up to ``cap`` blocks outside ``skip`` above ``threshold``.

        Flat indices, largest bound first.  Candidates are tightened (each until
        its bound falls to ``threshold``, or below the ``cap``-th largest exact
        cone norm, or its cone norm is exact) in chunks of
        ``max(2 cap, VIOLATOR_CHUNK)`` in decreasing order of their bound, until
        ``cap`` violators are found; an empty result means that no block
        outside ``skip`` violates.  With all candidates in one chunk (the
        default) the blocks added are those of largest *exact* cone norm, a
        better choice than the largest bound (two rounds instead of three at
        1000 x 50 x 256 in ``benchmarks/bench_peers.py``).
        """
        ub = self.ub.ravel()
        flat = np.flatnonzero((ub > threshold) & ~skip.ravel())
        flat = flat[np.argsort(-ub[flat], kind="stable")]
        found = np.zeros(0, np.intp)
        step = max(2 * cap, VIOLATOR_CHUNK)
        for start in range(0, flat.size, step):
            chunk = flat[start : start + step]
            self.tighten(chunk, threshold, top=cap)
            found = np.concatenate([found, chunk[self.ub.ravel()[chunk] > threshold]])
            if found.size >= cap:
                break
        ub = self.ub.ravel()
        return found[np.argsort(-ub[found], kind="stable")][:cap]

    def max_bound(self) -> float:
        """Return a rigorous upper bound of the largest cone norm (certificate)."""
        P = self.D.shape[1]
        s, i = np.divmod(np.arange(2 * P), P)
        best, visited = max_cone_norm(
            self.U,
            self.D,
            i,
            self._signed()[s, i],
            ub=self.ub.ravel(),
            warm=(self.rows.reshape(2 * P, -1), self.k.ravel()),
        )
        for flat, out in visited:
            self._store(flat, out)
        # every ub is a valid bound (visited blocks keep the smaller of two),
        # and the skipped ones are at most ``best``
        return cover_rounding(min(best, float(self.ub.max())), *self.U.shape)


def _warm(R: Restricted, W: np.ndarray, prev, duals) -> Iterate:
    """Start for blocks ``W`` from a previous ``(W_prev, rows_prev, state)``.

    Blocks new to ``R`` start at ``X = 0`` with the multipliers
    ``duals(blocks)`` gives (``(zl, zq)`` for all of ``W``, read at the new
    blocks), cone rows new to a block with zero multipliers (all moved into
    the interior by :func:`warm_start`); the others keep theirs.
    """
    prev_W, prev_rows, st = prev
    k, m = R.k, R.m
    X, t = np.zeros((k, m)), np.zeros(k)
    zl, zq = duals(np.flatnonzero(~np.isin(W, prev_W)))
    pos = np.searchsorted(W, prev_W)
    X[pos], t[pos], zq[pos] = st.X, st.t, st.zq
    zl[pos] = _map_rows(R.rows[pos], prev_rows, st.zl)
    return warm_start(R, X, t, zl, zq, WARM_SHIFT)


def _map_rows(new: np.ndarray, old: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per block, ``values`` of the ``old`` rows at the places of ``new`` (else 0)."""
    match = new[:, :, None] == old[:, None, :]
    at = np.take_along_axis(values, match.argmax(axis=2), axis=1)
    return np.where(match.any(axis=2), at, 0.0)


def _pd_faces(blk, W: np.ndarray, rows: np.ndarray, state: Iterate) -> list:
    """Faces of the primal-dual iterate ``state`` of the blocks ``W`` (flat indices).

    The support is the blocks above ``ZERO_BLOCK`` of the largest norm; the
    active rows of a block are those whose slack is below its multiplier
    (``sl < zl``: near the optimum of a strictly complementary program the
    active slacks and the inactive multipliers both go to zero).  Every block
    keeps its own face; blocks of different patterns that meet on a common
    face stay separate (the face Hessian's ridge covers the flat direction).
    ``rows`` (k, r) are the cone rows of each block in ``state``.
    """
    norms = np.linalg.norm(state.X, axis=1)
    faces = []
    for j in np.flatnonzero(norms > ZERO_BLOCK * norms.max(initial=0.0)):
        s, p = divmod(int(W[j]), blk.P)
        active = rows[j][state.sl[j] < state.zl[j]]
        N = null_basis((blk.sign[:, p, None] * blk.U)[active], blk.m)
        if N.shape[1] > 0:
            faces.append((s, p, N, N @ (N.T @ state.X[j])))
    return faces


class _Rounds:
    """State of the working-set loop in normalised units (``||y|| = 1``)."""

    def __init__(self, problem: ConvexProblem, options: dict) -> None:
        self.problem, self.opts = problem, options
        self.norm_y = float(np.linalg.norm(problem.y))
        self.y = problem.y / self.norm_y
        self.beta = problem.beta / self.norm_y
        self.threshold = self.beta * (1 + VIOLATION_MARGIN)
        self.inside = np.zeros((2, problem.P), dtype=bool)
        self.dropped = np.zeros_like(self.inside)
        self.scores = BlockScores(problem.U_prime, problem.D)
        self.X = np.zeros((2, problem.P, problem.m))
        self.V = problem.U_prime / np.linalg.norm(problem.U_prime, axis=1)[:, None]
        self.rows: dict[int, np.ndarray] = {}
        self.gram: tuple[np.ndarray, np.ndarray] | None = None
        self.prev = None
        #: blocks of the last interior-point run that converged (normalised)
        self.converged: np.ndarray | None = None
        self.iterations = 0
        self.history: list[dict[str, float]] = []

    def restricted(self, W: np.ndarray) -> Restricted:
        """Return the program restricted to the sorted flat block indices ``W``.

        Block ``b`` carries the cone rows ``self.rows[b]`` (padded by repeating
        its first row, a harmless duplicate constraint).
        """
        s_idx, p_idx = np.divmod(W, self.problem.P)
        E = np.where(self.problem.D[:, p_idx], 1.0, -1.0).T
        sigma = np.where(s_idx == 0, 1.0, -1.0)
        lists = [self.rows[int(b)] for b in W]
        rows = np.empty((W.size, max(map(len, lists))), np.intp)
        for j, own in enumerate(lists):
            rows[j] = own[0]
            rows[j, : own.size] = own
        R = restricted(self.problem.U_prime, E, sigma, self.y, self.beta, rows)
        if self.opts.get("pattern_gram") is not None:  # shared with other programs
            R.__dict__["Qu"] = self.opts["pattern_gram"].gram(p_idx, sigma)
        elif self.gram is not None:  # J^T J depends on W only, not on rows
            W0, Q0 = self.gram
            if np.array_equal(W0, W):
                R.__dict__["Qu"] = Q0
            else:
                _, new_at, old_at = np.intersect1d(
                    W, W0, assume_unique=True, return_indices=True
                )
                if 2 * new_at.size >= W.size:  # mostly shared: reuse its entries
                    R.gram_from(Q0, old_at, new_at)
        return R

    def start_rows(self, add: np.ndarray) -> None:
        r"""Set the cone rows of the new blocks ``add`` (module Notes, row sets).

        At the current residual the block's cone-norm solve left
        :math:`d = \sigma c_i + G_i^T\lambda` (the projection of
        :math:`\sigma c_i` when exact) and its passive rows; the
        ``ROW_START * m`` rows of smallest normalised slack along ``d`` join
        them.
        """
        add = np.array([b for b in add if int(b) not in self.rows], dtype=np.intp)
        if not add.size:
            return
        sc, P = self.scores, self.problem.P
        s_idx, p_idx = np.divmod(add, P)
        sigma = np.where(s_idx == 0, 1.0, -1.0)[:, None]
        d = sigma * sc.C[p_idx] + sc.g[s_idx, p_idx]
        slack = self.V @ d.T
        slack *= np.where(self.problem.D[:, p_idx], 1.0, -1.0)
        near = min(ROW_START * self.problem.m, slack.shape[0])
        close = np.argpartition(slack, near - 1, axis=0)[:near].T
        gated = self._gate_rows(add, near)
        for j, b in enumerate(add):
            passive = sc.rows[s_idx[j], p_idx[j], : sc.k[s_idx[j], p_idx[j]]]
            self.rows[int(b)] = np.union1d(passive, close[j])
            if int(b) in gated:
                self.rows[int(b)] = np.union1d(self.rows[int(b)], gated[int(b)])

    def _gate_rows(self, add: np.ndarray, near: int) -> dict[int, np.ndarray]:
        r"""Return the ``near`` rows nearest each start block's generator's hyperplane.

        For the blocks given as ``start_blocks`` or (used) ``guess_blocks``,
        with ``generators``: the rows of smallest :math:`|v_j^Tu_i|`
        (``V`` the unit rows of :math:`U'`).  A block started from a guess of
        the support (a trained network's neuron) has no cone-norm projection
        at the residual that would point at its active rows, and the rows
        near its own hyperplane are where its cone is thin: from those, a
        CIFAR-10 class started from the pattern network's 128 signed blocks
        violated 7 rows left out instead of 1.2 million.
        """
        gens, start = self.opts.get("generators"), self.opts.get("start")
        if gens is None or start is None:
            return {}
        chosen = add[np.isin(add, start)]
        if not chosen.size:
            return {}
        dist = np.abs(self.V @ gens[:, chosen % self.problem.P])
        close = np.argpartition(dist, near - 1, axis=0)[:near].T
        return {int(b): close[j] for j, b in enumerate(chosen)}

    def dual_start(
        self, R: Restricted, W: np.ndarray, new: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        r"""Multipliers ``(zl, zq)`` of the blocks ``W[new]`` from their cone norms.

        Block :math:`b` is dual feasible when
        :math:`\sigma c_b + V^T(E_b z_l) + z_{q,x} = 0` with
        :math:`\|z_{q,x}\| \le z_{q,t} = \beta`.  Its last cone-norm solve
        (:class:`BlockScores`) left :math:`g = G_A^T\lambda_A` on its passive
        rows :math:`A`: with :math:`z_l = \lambda\|u_j\|` there (least squares
        for :math:`\lambda`, clipped at 0) the condition asks
        :math:`z_{q,x} = -(\sigma c_b + g)`, whose norm is the block's bound
        (above :math:`\beta` for a violator), so it is scaled to
        ``DUAL_START * beta`` when larger.  Other blocks get zeros and
        :math:`z_q = (\beta, 0)`.  (1000 x 50 x 256 in
        ``benchmarks/bench_peers.py``: 42 -> 38 interior-point iterations;
        20000 x 20 x 256: 66 -> 54.)
        """
        sc, P = self.scores, self.problem.P
        U, D = self.problem.U_prime, self.problem.D
        zl, zq = np.zeros(R.E.shape), np.zeros((R.k, R.m + 1))
        zq[:, 0] = self.beta  # (beta, 0) is interior
        s_idx, p_idx = np.divmod(W[new], P)
        sigma = np.where(s_idx == 0, 1.0, -1.0)[:, None]
        pv = sigma * sc.C[p_idx] + sc.g[s_idx, p_idx]
        npv = np.maximum(np.linalg.norm(pv, axis=1), np.finfo(float).tiny)
        zq[new, 1:] = -pv * np.minimum(1.0, DUAL_START * self.beta / npv)[:, None]
        for j, s, p in zip(new, s_idx, p_idx, strict=True):
            own = self.rows[int(W[j])]  # sorted: the first places of R.rows[j]
            rows = sc.rows[s, p, : sc.k[s, p]]
            at = np.minimum(np.searchsorted(own, rows), own.size - 1)
            rows, at = rows[own[at] == rows], at[own[at] == rows]
            if rows.size:
                GA = np.where(D[rows, p], 1.0, -1.0)[:, None] * U[rows]
                lam = np.linalg.lstsq(GA.T, sc.g[s, p], rcond=None)[0]
                zl[j, at] = np.maximum(lam, 0.0) * np.linalg.norm(U[rows], axis=1)
        return zl, zq

    def grow_rows(self, W: np.ndarray, X: np.ndarray) -> bool:
        """Add cone rows that the blocks ``X`` of ``W`` violate; whether any did.

        Only when some row outside a block's set is violated (slack < 0) is the
        program changed: then every block gains its rows of normalised slack
        below ``ROW_MARGIN`` times its norm (at most ``ROW_ADD * m``, smallest
        first).  A point that satisfies every row solves the program with all
        rows, so no change means the rows are complete.
        """
        p_idx = W % self.problem.P
        slack = self.V @ X.T
        slack *= np.where(self.problem.D[:, p_idx], 1.0, -1.0)
        norms = np.linalg.norm(X, axis=1)
        for j, b in enumerate(W):
            slack[self.rows[int(b)], j] = np.inf
        if not np.any(slack < 0):
            return False
        if self.opts["verbose"]:
            bad = int(np.sum(slack < 0))
            print(f"[working-set] cone rows violated: {bad}", file=sys.stderr)
        low = slack < ROW_MARGIN * norms
        cap = ROW_ADD * self.problem.m
        for j in np.flatnonzero(low.any(axis=0)):
            cand = np.flatnonzero(low[:, j])
            cand = cand[np.argsort(slack[cand, j])[:cap]]
            self.rows[int(W[j])] = np.union1d(self.rows[int(W[j])], cand)
        return True

    def solve_rows(
        self, W: np.ndarray, start, tol: float
    ) -> tuple[Restricted, PDResult]:
        """Solve on ``W`` from ``start`` (iterate or earlier triple), growing rows.

        The rows are settled at the loose tolerance ``ROW_TOL`` (re-solved
        warm after each :meth:`grow_rows` that changed the program, at most
        ``ROW_CHECKS`` times), then the same program is solved to ``tol`` from
        that iterate and checked once more.
        """
        for _ in range(ROW_CHECKS):
            R = self.restricted(W)
            if isinstance(start, tuple):
                start = _warm(R, W, start, functools.partial(self.dual_start, R, W))
            res = self.run(R, W, start, max(tol, ROW_TOL))
            if "Qu" in R.__dict__:
                self.gram = (W, R.Qu)
            if res.reason in ("time", "max_iter"):
                return R, res
            if self.grow_rows(W, res.X):
                start = (W, R.rows, res.state)
                continue
            if tol >= ROW_TOL:
                return R, res
            res = self.run(R, W, res.state, tol)
            if res.reason in ("time", "max_iter") or not self.grow_rows(W, res.X):
                return R, res
            start = (W, R.rows, res.state)
        return R, res

    def run(self, R: Restricted, W: np.ndarray, start, tol: float) -> PDResult:
        """Interior-point run on ``R``; sets the blocks and the scores.

        A run that stalls is repeated from a cold start with every
        factorisation in float64: a warm start reached through the float32
        factorisations of early iterations (``_pdip.SINGLE_GAP``) can leave a
        path that float64 steps cannot finish (Fashion-MNIST, 60,000 x 21, one
        class of ten stalled at certified gap 8e-4; the same restart from the
        warm start stalled again; from a cold start: 1.3e-9 in 72 more
        iterations).
        """
        res = self._ipm(R, start, tol, SINGLE_GAP)
        if res.reason == "stalled":
            res = self._ipm(R, None, tol, 0.0)
        self.X = np.zeros_like(self.X)
        s_idx, p_idx = np.divmod(W, self.problem.P)
        self.X[s_idx, p_idx] = res.X
        self.scores.update(self.y - R.jx(res.X))  # prediction of the W blocks only
        if res.reason == "converged":
            self.converged = self.X.copy()
        return res

    def _ipm(self, R: Restricted, start, tol: float, single_gap: float) -> PDResult:
        """One :func:`solve_restricted` run, its iterations counted.

        A run that reaches :data:`ROUND_MAX_ITER` with the caller's
        ``max_iter`` not spent has stalled: it is reported as such, not as the
        caller's budget (which would end the solve with ``MAX_ITERATIONS``; a
        CIFAR-10 class at 33 columns and ``tol`` 1e-9 did, at a certified
        gap of 6e-8, after 406 of its 5,000 iterations).
        """
        left = self.opts["max_iter"] - self.iterations
        res = solve_restricted(
            R,
            start=start,
            tol=tol,
            deadline=self.opts["deadline"],
            max_iter=min(ROUND_MAX_ITER, left),
            single_gap=single_gap,
        )
        self.iterations += res.iterations
        if res.reason == "max_iter" and res.iterations < left:
            res = dataclasses.replace(res, reason="stalled")
        return res

    def violators(self, cap: int) -> np.ndarray:
        """Blocks to add (at most ``cap``); empty when none violates."""
        return self.scores.violators(self.threshold, self.inside, cap)

    def drop_inactive(self, W: np.ndarray, rows: np.ndarray, state: Iterate) -> None:
        """Remove the zero blocks with cone norm below ``beta (1 - DROP_MARGIN)``.

        Such blocks are strictly inactive; each block is dropped at most once,
        so the rounds cannot cycle.  The warm start keeps the other blocks.
        """
        norms = np.linalg.norm(state.X, axis=1)
        zero = norms <= ZERO_BLOCK * norms.max(initial=0.0)
        zero &= ~self.dropped.ravel()[W]
        self.scores.tighten(W[zero])
        drop = zero & (self.scores.ub.ravel()[W] < self.beta * (1 - DROP_MARGIN))
        self.inside.ravel()[W[drop]] = False
        self.dropped.ravel()[W[drop]] = True
        keep = ~drop
        fields = dataclasses.fields(state)
        kept = Iterate(*(getattr(state, f.name)[keep] for f in fields))
        self.prev = (W[keep], rows[keep], kept)

    def round(self, add: np.ndarray) -> tuple[np.ndarray, PDResult]:
        """Add the blocks ``add``, solve, and return the next violators."""
        self.inside.ravel()[add] = True
        self.start_rows(add)
        W = np.flatnonzero(self.inside)
        final = self.opts["final_tol"]
        R, res = self.solve_rows(W, self.prev, max(final, ROUND_TOL))
        cap = max(self.opts["min_add"], int(self.inside.sum()) // 2)
        nxt = self.violators(cap)
        if not nxt.size and final < ROUND_TOL and res.reason == "converged":
            # no violator at the round tolerance: finish this program accurately
            R, res = self.solve_rows(W, res.state, final)
            nxt = self.violators(cap)
        self.prev = (W, R.rows, res.state)
        if nxt.size:
            self.drop_inactive(W, R.rows, res.state)
        self.record(res, nxt)
        return nxt, res

    def record(self, res: PDResult, nxt: np.ndarray) -> None:
        """Append the round to the history (and stderr when verbose)."""
        worst = float(self.scores.ub.ravel()[nxt[0]]) / self.beta if nxt.size else 1.0
        entry = {
            "blocks": int(self.inside.sum()),
            "iterations": self.iterations,
            "objective": res.objective * self.norm_y**2,
            "worst_ratio": worst,
        }
        self.history.append(entry)
        if self.opts["verbose"]:
            print(
                f"[working-set] blocks={entry['blocks']} ipm_iters={self.iterations} "
                f"({res.reason}) obj={entry['objective']:.12e} worst/beta={worst:.3e}",
                file=sys.stderr,
            )

    def polish(self, gap: float, tol: float):
        r"""Active-set Newton polish of the last round's point (:mod:`._polish`).

        Two guesses of the optimal face are tried in turn: ``ipm``'s guess at
        the barrier weight :math:`\tau = \nu/\text{gap}`, which also merges
        blocks of one neuron split over neighbouring patterns (exact,
        sparse optima of small programs), then, if that misses ``tol``, the
        face read off the primal-dual iterate (:func:`_pd_faces`: robust on
        programs with hundreds of blocks).  Returns the first polished point
        that meets ``tol``, else the one with the smallest certified gap, as
        blocks (2, P, m) in the units of ``y`` with their certificate; None
        when no guess gives a feasible point.  Called after the last round,
        which found no violator, so ``prev`` is that round's whole working set
        and final iterate (:meth:`drop_inactive` narrows it only otherwise).
        """
        W, rows, state = self.prev
        P = self.problem.P
        best = None
        for make in (
            lambda: self._barrier_polish(np.unique(W % P), gap),
            lambda: self._pd_polish(W, rows, state),
        ):
            try:
                with np.errstate(divide="raise", invalid="raise", over="raise"):
                    Xp = make()
            except (np.linalg.LinAlgError, FloatingPointError):
                Xp = None
            if Xp is None:
                continue
            self.scores.update(self.y - predict(self.problem, Xp[0], Xp[1]))
            found = (Xp * self.norm_y, self.certificate_of(Xp))
            if found[1].relative_gap <= tol:
                return found
            if best is None or found[1].gap < best[1].gap:
                best = found
        return best

    def _pd_polish(
        self, W: np.ndarray, rows: np.ndarray, state: Iterate
    ) -> np.ndarray | None:
        """Polish from the faces of the primal-dual iterate (:func:`_pd_faces`)."""
        full = make_blocks(self.problem, np.arange(self.problem.P), newton_data=False)
        return polish_faces(full, _pd_faces(full, W, rows, state), self.X.shape)

    def _barrier_polish(self, kept: np.ndarray, gap: float) -> np.ndarray | None:
        r"""``ipm``'s polish from the face guessed at :math:`\tau = \nu/\text{gap}`."""
        blk = make_blocks(self.problem, kept, newton_data=False)
        tau = blk.nu / max(gap, np.finfo(float).tiny)
        Xp = polish(blk, self.X[:, kept], tau)
        if Xp is None:
            return None
        X = np.zeros_like(self.X)
        X[:, kept] = Xp
        return X

    def stopped_point(self, tol: float) -> tuple[np.ndarray, Certificate]:
        """Blocks and certificate to return when a budget stopped the rounds.

        An interior-point run cut short may be far outside the cones (a
        CIFAR-10 class at 33 columns stopped with violation 14 and an
        objective thousands of times that of zero).  Its residual still gives a
        valid lower bound, as does the last converged run's: the point
        returned is the one of smallest objective, among the cut iterate, the
        last converged run's blocks and zero, whose violation meets ``tol``
        (as in :func:`~bnconvex.numerics.solvers._common.is_certified`),
        certified by the larger of the two bounds.
        """
        problem, cert = self.problem, self.certificate()
        if self.converged is not None:
            Xc = self.converged * self.norm_y
            self.scores.update(self.y - predict(problem, Xc[0], Xc[1]) / self.norm_y)
            cert = max(cert, self.certificate_of(self.converged), key=_lower)
        limit = tol * max(1.0, float(np.linalg.norm(problem.y)))
        candidates = [self.X, np.zeros_like(self.X)]
        if self.converged is not None:
            candidates.append(self.converged)
        best, best_obj = None, np.inf
        for X in candidates:
            X = X * self.norm_y
            if cone_violation(problem, X[0], X[1]) > limit:
                continue
            obj = convex_objective(problem, X[0], X[1])
            if obj < best_obj:
                best, best_obj = X, obj
        gap = best_obj - cert.lower_bound
        relative = gap / max(abs(best_obj), np.finfo(float).tiny)
        return best, dataclasses.replace(
            cert, objective=best_obj, gap=gap, relative_gap=relative
        )

    def certificate(self) -> Certificate:
        """Return the dual certificate of the current blocks (bound from the scores)."""
        return self.certificate_of(self.X)

    def certificate_of(self, X: np.ndarray) -> Certificate:
        """Return the certificate of normalised blocks ``X`` at the scores' residual."""
        X = X * self.norm_y
        return certify_residual(
            self.problem.U_prime,
            self.problem.D,
            self.problem.y,
            self.problem.beta,
            predict(self.problem, X[0], X[1]),
            convex_objective(self.problem, X[0], X[1]),
            "patterns",
            with_universal=False,
            bound=self.scores.max_bound() * self.norm_y,
        )


def _lower(cert: Certificate) -> float:
    """Sort key: the lower bound of a certificate."""
    return cert.lower_bound


def _better(polished: Certificate, current: Certificate, tol: float) -> bool:
    """Whether to keep the polished point: it meets ``tol`` or has the smaller gap.

    A polished point meeting ``tol`` is preferred even to an interior-point
    one that meets it too: its zero blocks are exact and split neurons are
    merged, so the rebuilt network has at most ``n + 1`` neurons.
    """
    return polished.relative_gap <= tol or polished.gap < current.gap


def _check_pattern_gram(gram: Any, problem: ConvexProblem) -> PatternGram | None:
    """``pattern_gram`` if it is a cache of this problem's ``U'`` and ``D``."""
    if gram is None:
        return None
    if not isinstance(gram, PatternGram):
        raise InputError(
            f"`pattern_gram` must be a PatternGram; got {type(gram).__name__}"
        )
    same_u = gram.U is problem.U_prime or np.array_equal(gram.U, problem.U_prime)
    if not (same_u and np.array_equal(gram.D, problem.D)):
        raise InputError("`pattern_gram` caches other data: its U' or D differ")
    return gram


def _check_generators(generators: Any, problem: ConvexProblem) -> np.ndarray | None:
    """Return ``generators`` as a finite float64 ``(m, P)`` array, or raise."""
    if generators is None:
        return None
    G = np.asarray(generators, dtype=np.float64)
    if G.shape != (problem.m, problem.P) or not np.all(np.isfinite(G)):
        raise InputError(
            f"`generators` must be a finite ({problem.m}, {problem.P}) array "
            f"(m, P); got shape {G.shape}"
        )
    return G


def _check_start_blocks(blocks: Any, P: int, name: str = "start_blocks") -> np.ndarray:
    """``blocks`` as unique flat indices in ``[0, 2P)``, or InputError."""
    flat = np.asarray(blocks)
    if flat.ndim != 1 or not np.issubdtype(flat.dtype, np.integer):
        raise InputError(
            f"`{name}` must be a 1-D array of integers; got {flat.dtype} "
            f"with shape {flat.shape}"
        )
    if flat.size and (flat.min() < 0 or flat.max() >= 2 * P):
        raise InputError(
            f"`{name}` must lie in [0, {2 * P}) (2P blocks); got "
            f"{int(flat.min())}..{int(flat.max())}"
        )
    return np.unique(flat).astype(np.intp)


def solve(
    problem: ConvexProblem,
    *,
    tol: float = 1e-9,
    max_iter: int = 10_000,
    time_limit: float = 60.0,
    verbose: bool = False,
    initial_blocks: int = INITIAL_BLOCKS,
    min_add: int = MIN_ADD,
    polish: bool | None = None,
    start_blocks: Any = None,
    guess_blocks: Any = None,
    generators: Any = None,
    pattern_gram: PatternGram | None = None,
) -> ConvexSolution:
    r"""Solve ``problem`` by working sets of blocks; see the module Notes.

    Parameters
    ----------
    problem : ConvexProblem
    tol : float
        Target certified relative gap and cone violation.
    max_iter : int
        Interior-point iterations in total, over all rounds (each run on a
        working set takes at most :data:`ROUND_MAX_ITER`).
    time_limit : float
        Seconds; checked at every interior-point iteration.
    verbose : bool
        One progress line per round on stderr.
    initial_blocks, min_add : int
        Size of the first working set and the smallest number of blocks added
        per round.
    polish : bool or None
        Polish the interior-point result (module Notes, step 4): always
        (True), only when it misses ``tol`` (False), or by default (None)
        also when ``n <= POLISH_ALWAYS_N``, where the polish is cheap and
        gives exact zeros and one block per neuron (the rebuilt network then
        has at most ``n + 1`` neurons).  On larger programs a polish the
        point does not need costs about as much as the solve (n = 1,000-2,000
        in ``benchmarks/bench_peers.py``).
    start_blocks : array_like of int, optional
        A warm start: blocks to put in the first working set besides the
        ``initial_blocks`` largest violators, as flat indices (``i`` for
        :math:`s_i`, ``P + i`` for :math:`s'_i`), e.g. the support of a
        network's convex image.  Blocks that turn out inactive leave the
        working set as usual, so a poor guess costs time, never accuracy.
    guess_blocks : array_like of int, optional
        A guess of the support (flat indices, e.g. a trained network's
        neurons signed by their output weights), put in the first working
        set only where ``beta`` leaves many blocks active: when the largest
        cone norm at the zero point is at least :data:`GUESS_MIN_RATIO`
        ``beta``.  (CIFAR-10 at 33 columns and beta 0.03, ratio 600-700:
        115 interior-point iterations from the network's 128 signed blocks,
        459 without; Fashion-MNIST at beta 0.5, ratio 50, optimum on 51
        blocks: 50 s without, over twice that from the 128.)
    generators : array_like, shape (m, P), optional
        A generator :math:`u_i` of each pattern (:math:`D_i = 1[U'u_i \ge
        0]`, e.g. a pattern network's gates): the blocks of ``start_blocks``
        and ``guess_blocks`` then also start with the cone rows nearest their
        generator's hyperplane (:meth:`_Rounds._gate_rows`).  Only the
        choice of rows depends on it, never the result.
    pattern_gram : PatternGram, optional
        The Gram matrices :math:`U'^TD_iD_jU'` of the patterns, cached and
        shared by programs on the same ``U'`` and ``D`` (the per-class
        programs of a full-scale fit, :mod:`._gram`); its rows and columns
        are computed for the patterns that this solve uses and it does not
        have.  Without it, each round's :math:`J^TJ` is computed here (from
        the previous round's where the blocks overlap).

    Returns
    -------
    ConvexSolution
        ``history`` has one entry per round (working-set size, cumulative
        interior-point iterations, objective, largest violating cone norm /
        beta, 1 when none violates).
    """
    start = time.perf_counter()
    if not np.any(problem.y):
        zeros = np.zeros((problem.P, problem.m))
        return finish(
            problem,
            zeros,
            zeros.copy(),
            solver=name,
            tol=tol,
            reason="converged",
            iterations=0,
            seconds=0.0,
        )
    options = {
        "deadline": start + time_limit,
        "max_iter": max_iter,
        "final_tol": max(INNER_TOL, 1e-2 * tol),
        "min_add": min_add,
        "verbose": verbose,
        "pattern_gram": _check_pattern_gram(pattern_gram, problem),
        "generators": _check_generators(generators, problem),
    }
    rounds = _Rounds(problem, options)
    rounds.scores.update(rounds.y)
    add = rounds.violators(initial_blocks)
    given = np.zeros(0, np.intp)  # blocks started without a projection
    if start_blocks is not None:
        given = _check_start_blocks(start_blocks, problem.P)
    if guess_blocks is not None:
        guess = _check_start_blocks(guess_blocks, problem.P, "guess_blocks")
        if rounds.scores.max_bound() >= GUESS_MIN_RATIO * rounds.beta:
            given = np.union1d(given, guess)
    if given.size:
        options["start"] = given
        add = np.union1d(add, given)
    reason: StopReason = "converged"
    last = None
    while add.size:
        add, res = rounds.round(add)
        last = res
        if res.reason in ("time", "max_iter"):
            reason = res.reason
            break
        if add.size and time.perf_counter() > options["deadline"]:
            reason = "time"
            break
    if reason == "converged":
        X, cert = rounds.X * rounds.norm_y, rounds.certificate()
    else:
        X, cert = rounds.stopped_point(tol)
    wanted = polish if polish is not None else problem.n <= POLISH_ALWAYS_N
    if (
        reason == "converged"
        and last is not None
        and (wanted or cert.relative_gap > tol)
    ):
        polished = rounds.polish(last.gap, tol)
        if polished is not None and _better(polished[1], cert, tol):
            X, cert = polished
    return finish(
        problem,
        X[0],
        X[1],
        solver=name,
        tol=tol,
        reason=reason,
        iterations=rounds.iterations,
        seconds=time.perf_counter() - start,
        history=rounds.history,
        cert=cert,
    )
