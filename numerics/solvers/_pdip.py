r"""Primal-dual interior-point method for a restricted convex BN program.

The program over a set of ``k`` blocks (pairs ``(sign, pattern)``) is the conic
quadratic program

.. math::

    \min_{x, t}\; \tfrac12\|Jx - y\|^2 + \beta \sum_b t_b
    \quad\text{s.t.}\quad (t_b, x_b) \in \mathcal Q^{m+1},\;
    E_b \odot (U x_b) \ge 0,

with :math:`J = [\sigma_b D_b U]_b` (:math:`\sigma_b = \pm 1`) and
:math:`E_b = 2D_b - 1`.

Notes
-----
Mehrotra predictor-corrector with Nesterov-Todd scaling, as in CVXOPT's
``coneqp`` [1]_.  In the standard form :math:`Gz + s = h`, :math:`s \in K`
(:math:`K` = ``k`` nonnegative orthants of dimension ``n`` and ``k`` second-order
cones), every Newton system reduces to

.. math::

    (Q + G^T W^{-2} G)\,\Delta z = -r_z - G^T(W^{-2} r_s + W^{-1} u),

where :math:`Q = J^TJ` is constant and :math:`G^TW^{-2}G` is block diagonal
(:math:`V^T \mathrm{diag}(z/s) V` plus the cone block per block, with
:math:`V` the row-normalised :math:`U`).  The ``t`` components are eliminated
blockwise, leaving one factorisation per iteration (two solves: predictor and
corrector): a dense ``k m x k m`` Cholesky, or the Woodbury form with the
``n x n`` matrix :math:`I + JB^{-1}J^T` when that is cheaper.  The stopping
test asks for the complementarity gap and the residuals below ``tol``
relative to the objective; once the gap is below ``PLATEAU_GAP``, a run in
which neither gap nor residuals halve over ``PLATEAU`` iterations ends
(float64 exhausted).  Near the optimum the ratios :math:`z/s` span some 30
orders of magnitude and one solve leaves residuals of the linearised system
(up to ``1e-7`` in normalised units on programs with hundreds of blocks) that
the steps then never remove, so every direction gets one step of iterative
refinement on the *full* linearised KKT system with the same factor
(:func:`_refined_direction`); a step whose end rounds to outside a cone is
halved rather than ending the run.  Far from the optimum (relative gap above
``SINGLE_GAP``) the dense factorisation runs in float32, half the time, and
each solve with it is refined once against the float64 matrix instead.
For the second-order cone the scaling is :math:`W = \eta(2vv^T - J)` with
:math:`\eta^2 = \sqrt{\det s/\det z}` and :math:`v` the Jordan square root of
the NT point
:math:`\bar w = (\bar s + J\bar z)/(2\gamma)`.

The iterate is not trusted: the caller certifies it with the exact dual bound.

References
----------
.. [1] L. Vandenberghe, "The CVXOPT linear and quadratic cone program
   solvers", 2010, sections 7 and 9.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import numpy as np
import scipy.linalg
import scipy.linalg.blas
from bnconvex.numerics.solvers._cones import lin_max_step, soc_max_step, soc_slack

#: Iterations over which the larger of the relative gap and the relative
#: residual must halve once the gap is small.
PLATEAU = 5
#: ... and only once the relative gap is below this (near float64 resolution).
PLATEAU_GAP = 1e-8
#: Fraction of the step to the boundary.
STEP_FRACTION = 0.99
#: Halvings of a step whose end rounds to outside the cones.
BACKTRACKS = 8


#: Relative gap above which the dense normal matrix is factored in float32
#: (half the time of float64; each solve refined against the float64 matrix).
#: On the scale program of ``benchmarks/bench_peers.py`` the iterations are the
#: same down to 1e-5 (at every size there) and the final phase stalls from 1e-6
#: on: 1e-4 keeps a decade of margin.
SINGLE_GAP = 1e-4
#: Refinement steps of each float32 solve (against the float64 matrix).
SINGLE_REFINE = 1

#: Rows per chunk when :math:`J^TJ` is accumulated (temporaries ``chunk x km``).
Q_ROW_CHUNK = 2048
#: The outer products of the rows of ``V`` are stored up to this many entries.
UU_MAX_ENTRIES = 1 << 25


def masked_columns(M: np.ndarray, U: np.ndarray) -> np.ndarray:
    r"""Rows of ``[M[:, 0] * U, ..., M[:, k-1] * U]``: ``(r, k m)`` from ``M`` (r, k).

    A row chunk of :math:`J = [\sigma_b D_b U]_b` when ``M`` holds the signed
    masks (also :class:`~bnconvex.numerics.solvers._gram.PatternGram`'s).
    """
    return (M[:, :, None] * U[:, None, :]).reshape(M.shape[0], -1)


def _outer_rows(V: np.ndarray) -> np.ndarray:
    """Row ``j`` is the flattened outer product of row ``j`` of ``V`` with itself."""
    n, m = V.shape
    return (V[:, :, None] * V[:, None, :]).reshape(n, m * m)


@dataclasses.dataclass(frozen=True)
class Restricted:
    r"""Data of the restricted program (normalised so that ``||y|| = 1``).

    Memory :math:`O(nk + nm)`: the ``n x km`` matrix
    :math:`J = [\sigma_b D_b U]_b` is never stored for the products
    (:meth:`jx`, :meth:`jt` use ``U`` and the masks), only built (as
    :attr:`Jt`) by the Woodbury factorisation, which runs when
    :math:`n < km`, where it is smaller than the ``km x km`` matrix :attr:`Q`.

    Attributes
    ----------
    U : ndarray (n, m)
    E : ndarray (k, r)
        Row ``b`` is ``2 D_b - 1`` of block ``b``'s pattern on its cone rows
        (all ``n`` rows when ``rows`` is None).
    rows : ndarray (k, r) of int or None
        The rows of :math:`U'` whose cone constraints block ``b`` carries (a
        row working set; repeated entries pad short lists); None: all rows.
    M : ndarray (k, n)
        Row ``b`` is ``sigma_b D_b``: :math:`J x = \sum_b M_b \odot (U x_b)`.
    V : ndarray (n, m)
        ``U`` with unit rows: the cone rows :math:`E_b \odot (Vx_b) \ge 0`
        define the same cone as with ``U`` and are better scaled (the
        equilibration conic solvers apply).
    y : ndarray (n,)
    beta : float
    """

    U: np.ndarray
    E: np.ndarray
    M: np.ndarray
    y: np.ndarray
    beta: float
    V: np.ndarray
    rows: np.ndarray | None = None

    @functools.cached_property
    def Vr(self) -> np.ndarray | None:
        """Unit rows of the cone constraints per block (k, r, m); None for all rows."""
        return None if self.rows is None else self.V[self.rows]

    def lin(self, X: np.ndarray) -> np.ndarray:
        r"""Cone-row values :math:`E_b \odot (V_b x_b)`, shape (k, r)."""
        if self.Vr is None:
            return self.E * (X @ self.V.T)
        return self.E * np.einsum("brm,bm->br", self.Vr, X)

    def lin_t(self, z: np.ndarray) -> np.ndarray:
        r"""Adjoint of :meth:`lin`: :math:`V_b^T (E_b \odot z_b)`, shape (k, m)."""
        if self.Vr is None:
            return (self.E * z) @ self.V
        return np.einsum("br,brm->bm", self.E * z, self.Vr)

    def jx(self, X: np.ndarray) -> np.ndarray:
        r""":math:`J\,\mathrm{vec}(X) = \sum_b M_b \odot (U x_b)`, shape (n,)."""
        return np.einsum("bn,bn->n", self.M, X @ self.U.T)

    def jt(self, e: np.ndarray) -> np.ndarray:
        r""":math:`J^Te` as blocks (k, m): :math:`(M_b \odot e)^T U`."""
        return (self.M * e) @ self.U

    def qx(self, X: np.ndarray) -> np.ndarray:
        r""":math:`J^TJ\,\mathrm{vec}(X)` as blocks (k, m).

        With :attr:`Qu` at hand (the dense factorisation computed it) one
        symmetric matrix-vector product, :math:`O((km)^2)`, instead of the
        :math:`O(nkm)` of :meth:`jt` after :meth:`jx` (the refinement steps'
        products: 20 times fewer flops for 131 blocks of 33 columns on
        50,000 rows).
        """
        Qu = self.__dict__.get("Qu")
        if Qu is None:
            return self.jt(self.jx(X))
        return scipy.linalg.blas.dsymv(1.0, Qu, X.ravel(), lower=0).reshape(X.shape)

    @functools.cached_property
    def Jt(self) -> np.ndarray:
        """``Jt[b] = (sigma_b D_b U)^T``, (k, m, n) block-major (Woodbury only)."""
        return np.multiply(self.U.T[None, :, :], self.M[:, None, :], order="C")

    @functools.cached_property
    def Qu(self) -> np.ndarray:
        """Upper triangle of ``J^T J`` (km x km, Fortran order; lower not set).

        Accumulated over row chunks of ``J`` on first use; the factorisations
        read this triangle only.
        """
        k, m, n = self.k, self.m, self.U.shape[0]
        Q = np.zeros((k * m, k * m), order="F")
        for lo in range(0, n, Q_ROW_CHUNK):
            Jc = self._j_chunk(slice(lo, lo + Q_ROW_CHUNK))
            # upper triangle of Q += Jc^T Jc (SYRK: half the flops of a GEMM)
            Q = scipy.linalg.blas.dsyrk(1.0, Jc, beta=1.0, c=Q, trans=1, overwrite_c=1)
        return Q

    def _j_chunk(self, rows: slice) -> np.ndarray:
        """Rows ``rows`` of ``J`` (``r x km``)."""
        return masked_columns(self.M[:, rows].T, self.U[rows])

    def gram_from(self, Q_old: np.ndarray, old_at: np.ndarray, new_at: np.ndarray):
        r"""Set :attr:`Qu` from an earlier program's, sharing some blocks.

        Block ``old_at[j]`` of the earlier program (whose upper triangle of
        :math:`J^TJ` is ``Q_old``) is block ``new_at[j]`` here, both in
        increasing order, so the shared blocks' entries keep their triangle;
        only the columns of the other blocks are computed, by GEMMs over row
        chunks: :math:`O(n\,km\,fm)` for ``f`` new blocks instead of the
        :math:`O(n(km)^2/2)` of a fresh SYRK (a working-set round adds a few
        blocks to many).
        """
        k, m, n = self.k, self.m, self.U.shape[0]
        inner = np.arange(m)
        oi = (old_at[:, None] * m + inner).ravel()
        ni = (new_at[:, None] * m + inner).ravel()
        fresh = np.setdiff1d(np.arange(k), new_at)
        Q = np.zeros((k * m, k * m), order="F")
        Q[np.ix_(ni, ni)] = Q_old[np.ix_(oi, oi)]
        if fresh.size:
            fi = (fresh[:, None] * m + inner).ravel()
            C = np.zeros((k * m, fi.size))
            for lo in range(0, n, Q_ROW_CHUNK):
                Jc = self._j_chunk(slice(lo, lo + Q_ROW_CHUNK))
                C += Jc.T @ Jc[:, fi]
            Q[:, fi] = C
            Q[fi, :] = C.T
        self.__dict__["Qu"] = Q

    @functools.cached_property
    def Q(self) -> np.ndarray:
        """``J^T J`` (km x km), from :attr:`Qu`."""
        return np.triu(self.Qu) + np.triu(self.Qu, 1).T

    @functools.cached_property
    def Q32(self) -> np.ndarray:
        """:attr:`Qu` in float32 (the float32 factorisations)."""
        return self.Qu.astype(np.float32, order="F")

    @property
    def k(self) -> int:
        """Number of blocks."""
        return self.E.shape[0]

    @property
    def m(self) -> int:
        """Block dimension."""
        return self.U.shape[1]

    @functools.cached_property
    def UU(self) -> np.ndarray | None:
        """Flattened outer products of the rows of ``V`` (n, m*m), if small enough."""
        n, m = self.V.shape
        if n * m * m > UU_MAX_ENTRIES:
            return None
        return _outer_rows(self.V)

    def cone_hessian(self, dl: np.ndarray) -> np.ndarray:
        r""":math:`V^T\mathrm{diag}(d_b)V` per block, shape (k, m, m).

        One GEMM with :attr:`UU` when it is stored, else the same GEMM over
        row chunks of it built on the fly (memory ``Q_ROW_CHUNK m^2``).
        """
        n, m = self.V.shape
        if self.Vr is not None:
            # batched GEMM (no einsum path search per call)
            return np.swapaxes(self.Vr * dl[:, :, None], 1, 2) @ self.Vr
        if self.UU is not None:
            return (dl @ self.UU).reshape(-1, m, m)
        H = np.zeros((dl.shape[0], m * m))
        for lo in range(0, n, Q_ROW_CHUNK):
            rows = slice(lo, lo + Q_ROW_CHUNK)
            H += dl[:, rows] @ _outer_rows(self.V[rows])
        return H.reshape(-1, m, m)


def restricted(
    U: np.ndarray,
    E: np.ndarray,
    sigma: np.ndarray,
    y: np.ndarray,
    beta: float,
    rows: np.ndarray | None = None,
) -> Restricted:
    """Build :class:`Restricted` from block signs ``E`` (k, n) and ``sigma`` (k,).

    With ``rows`` (k, r), block ``b`` keeps the cone constraints of those rows
    only (the prediction still uses every row of its pattern).
    """
    M = (E > 0).astype(U.dtype) * sigma[:, None]  # (k, n)
    V = U / np.linalg.norm(U, axis=1, keepdims=True)
    Er = E if rows is None else np.take_along_axis(E, rows, axis=1)
    return Restricted(U=U, E=Er, M=M, y=y, beta=float(beta), V=V, rows=rows)


# ---------------------------------------------------------------- cone algebra
def _jmul(a: np.ndarray) -> np.ndarray:
    """``J a`` blockwise for second-order-cone vectors (k, m+1)."""
    out = -a
    out[:, 0] = a[:, 0]
    return out


def _soc_det(a: np.ndarray) -> np.ndarray:
    """``a_0^2 - ||a_1||^2`` of cone vectors stored ``(t, x)`` row-wise."""
    return soc_slack(a[:, 0], a[:, 1:])


def _jordan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Jordan product ``a o b`` of second-order-cone vectors, blockwise."""
    out = np.empty_like(a)
    out[:, 0] = np.sum(a * b, axis=1)
    out[:, 1:] = a[:, :1] * b[:, 1:] + b[:, :1] * a[:, 1:]
    return out


def _jordan_solve(lam: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``u`` with ``lam o u = d`` (arrow-matrix solve), blockwise."""
    det = _soc_det(lam)
    u0 = (lam[:, 0] * d[:, 0] - np.sum(lam[:, 1:] * d[:, 1:], axis=1)) / det
    u1 = (d[:, 1:] - u0[:, None] * lam[:, 1:]) / lam[:, :1]
    return np.concatenate([u0[:, None], u1], axis=1)


@dataclasses.dataclass
class _Scaling:
    """Nesterov-Todd scaling of one iterate."""

    wl: np.ndarray  # (k, n): sqrt(s/z)
    eta: np.ndarray  # (k,)
    v: np.ndarray  # (k, m+1)
    wbar: np.ndarray  # (k, m+1)
    lam_l: np.ndarray
    lam_q: np.ndarray

    def apply(self, a: np.ndarray) -> np.ndarray:
        """``W a`` for cone vectors (k, m+1)."""
        va = np.sum(self.v * a, axis=1, keepdims=True)
        return self.eta[:, None] * (2.0 * self.v * va - _jmul(a))

    def apply_inv(self, a: np.ndarray) -> np.ndarray:
        """``W^{-1} a`` for cone vectors (k, m+1)."""
        jv = _jmul(self.v)
        return (2.0 * jv * np.sum(jv * a, axis=1, keepdims=True) - _jmul(a)) / self.eta[
            :, None
        ]

    def eliminated(self):
        r"""``(h, htt, S)`` of :math:`W^{-2}` in ``(t, x)`` order, ``t`` eliminated.

        With :math:`\bar w = (w_0, w_1)`, :math:`w_0^2 - \|w_1\|^2 = 1`:
        :math:`h = -2w_0w_1/\eta^2`, :math:`h_{tt} = (2w_0^2 - 1)/\eta^2` and the
        Schur complement :math:`S = (I - 2w_1w_1^T/(1 + 2\|w_1\|^2))/\eta^2`,
        evaluated in this form to avoid cancellation.
        """
        e2 = self.eta**2
        w0, w1 = self.wbar[:, 0], self.wbar[:, 1:]
        n1 = np.sum(w1**2, axis=1)
        h = -2.0 * (w0 / e2)[:, None] * w1
        htt = (1.0 + 2.0 * n1) / e2
        m = w1.shape[1]
        S = -2.0 * w1[:, :, None] * w1[:, None, :] / (1.0 + 2.0 * n1)[:, None, None]
        S[:, np.arange(m), np.arange(m)] += 1.0
        return h, htt, S / e2[:, None, None]

    def inv_square(self) -> np.ndarray:
        """``W^{-2}`` of the cones, (k, m+1, m+1)."""
        jw = _jmul(self.wbar)
        m1 = jw.shape[1]
        M = 2.0 * jw[:, :, None] * jw[:, None, :]
        M[:, np.arange(m1), np.arange(m1)] -= np.r_[1.0, -np.ones(m1 - 1)]
        return M / (self.eta**2)[:, None, None]


def _scaling(sl, zl, sq, zq) -> _Scaling:
    ds, dz = np.sqrt(_soc_det(sq)), np.sqrt(_soc_det(zq))
    sb, zb = sq / ds[:, None], zq / dz[:, None]
    gamma = np.sqrt(0.5 * (1.0 + np.sum(sb * zb, axis=1)))
    wbar = (sb + _jmul(zb)) / (2.0 * gamma[:, None])
    e = np.zeros_like(wbar)
    e[:, 0] = 1.0
    v = (wbar + e) / np.sqrt(2.0 * (wbar[:, :1] + 1.0))
    sc = _Scaling(
        wl=np.sqrt(sl / zl),
        eta=np.sqrt(ds / dz),
        v=v,
        wbar=wbar,
        lam_l=np.sqrt(sl * zl),
        lam_q=np.empty(0),
    )
    sc.lam_q = sc.apply(zq)
    return sc


# ------------------------------------------------------------------ iterate
@dataclasses.dataclass
class Iterate:
    """A primal-dual point of the restricted program (working-set warm starts).

    Attributes
    ----------
    X, t : ndarray
        Primal blocks ``(k, m)`` and their epigraph variables ``(k,)``.
    sl, zl : ndarray
        Slacks and multipliers of the linear (pattern) rows, ``(k, n)``.
    sq, zq : ndarray
        Slacks and multipliers of the second-order cones, ``(k, m + 1)``
        ordered (t-part, x-part).
    """

    X: np.ndarray  # (k, m)
    t: np.ndarray  # (k,)
    sl: np.ndarray  # (k, n)
    zl: np.ndarray
    sq: np.ndarray  # (k, m+1) = (t-part, x-part)
    zq: np.ndarray


def _G(R: Restricted, X: np.ndarray, t: np.ndarray):
    """``G (x, t)``: linear rows ``-E (U x)`` and cone rows ``-(t, x)``."""
    return -R.lin(X), -np.concatenate([t[:, None], X], axis=1)


def _GT(R: Restricted, zl: np.ndarray, zq: np.ndarray):
    """``G^T z`` as ``(x part (k, m), t part (k,))``."""
    return -R.lin_t(zl) - zq[:, 1:], -zq[:, 0]


class _NormalSystem:
    r"""Factor of :math:`Q + G^TW^{-2}G` with the ``t`` components eliminated.

    The matrix is :math:`B + J^TJ` with :math:`B` block diagonal (``k``
    blocks of size ``m``).  It is factored densely (Cholesky of order
    :math:`km`, cost :math:`(km)^3/3`) or, when cheaper, through the Woodbury
    identity with the :math:`n \times n` matrix :math:`I + JB^{-1}J^T`
    (cost :math:`n^2 km + n^3/3`), followed by one step of iterative
    refinement with the exact product.  With ``single`` the dense factor is
    computed in float32 (far from the optimum, :data:`SINGLE_GAP`) and every
    solve refined :data:`SINGLE_REFINE` times with the float64 product.
    """

    def __init__(
        self, R: Restricted, dl: np.ndarray, cone_blocks, single: bool = False
    ) -> None:
        k, m, n = R.k, R.m, R.U.shape[0]
        self.R, self.k, self.m = R, k, m
        self.h, self.htt, schur = cone_blocks
        self.H = R.cone_hessian(dl) + schur
        self.woodbury = n * n * k * m + n**3 / 3 < (k * m) ** 3 / 3
        self.single = single and not self.woodbury
        if self.woodbury:
            self._factor_woodbury()
        else:
            self._factor_dense()

    def _factor_dense(self) -> None:
        k, m = self.k, self.m
        Q, idx = self.R.Qu, np.arange(k)
        # symmetric Jacobi scaling: the diagonal spans many orders near the end
        diag = np.einsum("ii->i", Q) + np.einsum("bii->bi", self.H).ravel()
        self.d = d = 1.0 / np.sqrt(diag)
        # two passes over the upper triangle's matrix (Fortran order), the
        # first a copy; float32 from the cached float32 J^T J
        Q, d_ = (self.R.Q32, d.astype(np.float32)) if self.single else (Q, d)
        K = np.multiply(Q, d_[:, None], order="F")
        K *= d_[None, :]
        db = d.reshape(k, m)
        # the diagonal blocks through the C-ordered view K.T (symmetric blocks)
        K.T.reshape(k, m, k, m)[idx, :, idx, :] += (
            self.H * db[:, :, None] * db[:, None, :]
        )
        np.einsum("ii->i", K)[...] += 1e-14
        self.cho = scipy.linalg.cho_factor(
            K, lower=False, overwrite_a=True, check_finite=False
        )

    def _factor_woodbury(self) -> None:
        k, m, n = self.k, self.m, self.R.U.shape[0]
        d = 1.0 / np.sqrt(np.einsum("bii->bi", self.H))
        Hs = self.H * d[:, :, None] * d[:, None, :] + 1e-14 * np.eye(m)
        Cinv = np.linalg.inv(np.linalg.cholesky(Hs))  # (k, m, m), lower
        # B^{-1} = diag(d) C^{-T} C^{-1} diag(d);  A = J diag(d) C^{-T}
        self.Binv = np.swapaxes(Cinv, 1, 2) @ Cinv * d[:, :, None] * d[:, None, :]
        # A^T = blockdiag(C^{-1} diag(d)) J^T, block-major, then S = I + A A^T
        # (upper triangle by SYRK on the Fortran-ordered view of A)
        At = ((Cinv * d[:, None, :]) @ self.R.Jt).reshape(k * m, n)
        S = scipy.linalg.blas.dsyrk(1.0, At.T, trans=0, lower=0)
        np.einsum("ii->i", S)[...] += 1.0
        self.cho = scipy.linalg.cho_factor(
            S, lower=False, overwrite_a=True, check_finite=False
        )

    def _apply(self, x: np.ndarray) -> np.ndarray:
        """``(B + J^TJ) x`` for ``x`` (k, m)."""
        R = self.R
        return (self.H @ x[:, :, None])[:, :, 0] + R.qx(x)

    def _solve_dense(self, b: np.ndarray) -> np.ndarray:
        rhs = self.d * b.ravel()
        if self.single:
            rhs = rhs.astype(np.float32)
        x = scipy.linalg.cho_solve(self.cho, rhs, check_finite=False)
        return (self.d * x).reshape(b.shape)

    def _solve_woodbury(self, b: np.ndarray) -> np.ndarray:
        R = self.R
        h = (self.Binv @ b[:, :, None])[:, :, 0]
        u = scipy.linalg.cho_solve(self.cho, R.jx(h), check_finite=False)
        back = R.jt(u)
        return h - (self.Binv @ back[:, :, None])[:, :, 0]

    def _solve_x(self, b: np.ndarray) -> np.ndarray:
        if not self.woodbury:
            x = self._solve_dense(b)
            for _ in range(SINGLE_REFINE if self.single else 0):
                x += self._solve_dense(b - self._apply(x))
            return x
        x = self._solve_woodbury(b)
        return x + self._solve_woodbury(b - self._apply(x))

    def solve(self, bx: np.ndarray, bt: np.ndarray):
        """Solve for ``(dx (k, m), dt (k,))`` given the right-hand sides."""
        dx = self._solve_x(bx - self.h * (bt / self.htt)[:, None])
        dt = (bt - np.sum(self.h * dx, axis=1)) / self.htt
        return dx, dt


def _normal_system(R: Restricted, it: Iterate, sc, single: bool) -> _NormalSystem:
    """:class:`_NormalSystem` of the iterate; float64 when float32 fails."""
    if single:
        try:
            return _NormalSystem(R, it.zl / it.sl, sc.eliminated(), True)
        except np.linalg.LinAlgError:
            pass
    return _NormalSystem(R, it.zl / it.sl, sc.eliminated())


def _initial(R: Restricted) -> Iterate:
    """CVXOPT's start: least-squares point with unit scaling, shifted into the cones."""
    k, m = R.k, R.m
    cone = (np.zeros((k, m)), np.ones(k), np.broadcast_to(np.eye(m), (k, m, m)))
    ns = _NormalSystem(R, np.ones(R.E.shape), cone)
    bx = R.jt(R.y)
    X, t = ns.solve(bx, -R.beta * np.ones(k))
    gl, gq = _G(R, X, t)
    sl, sq = -gl, -gq
    zl, zq = gl.copy(), gq.copy()
    (sl, sq), (zl, zq) = _shift(sl, sq), _shift(zl, zq)
    return Iterate(X, t, sl, zl, sq, zq)


def _shift(al: np.ndarray, aq: np.ndarray):
    """Shift ``(al, aq)`` by a multiple of the identity into the cone interior."""
    depth = min(
        float(al.min()), float(np.min(aq[:, 0] - np.linalg.norm(aq[:, 1:], axis=1)))
    )
    if depth <= 0:
        al = al + (1.0 - depth)
        aq = aq.copy()
        aq[:, 0] += 1.0 - depth
    return al, aq


@dataclasses.dataclass
class PDResult:
    """Outcome of :func:`solve_restricted`."""

    X: np.ndarray
    t: np.ndarray
    iterations: int
    reason: str  # "converged", "max_iter", "time", "stalled"
    gap: float
    objective: float
    state: Iterate | None = None


def _objective(R: Restricted, X: np.ndarray, t: np.ndarray) -> float:
    e = R.jx(X) - R.y
    return float(0.5 * e @ e + R.beta * t.sum())


def _residuals(R: Restricted, it: Iterate):
    """Residuals ``(rx, rt, rl, rq)`` of the iterate and its objective.

    One product with ``J`` serves both (the objective of the same point
    took a second one).
    """
    gx, gt = _GT(R, it.zl, it.zq)
    e = R.jx(it.X) - R.y
    rx = R.jt(e) + gx
    rt = R.beta + gt
    gl, gq = _G(R, it.X, it.t)
    objective = float(0.5 * e @ e + R.beta * it.t.sum())
    return (rx, rt, it.sl + gl, it.sq + gq), objective


def _direction(R, ns, sc, Wq2, res, ul, uq):
    """Search direction for the complementarity right-hand side ``u``."""
    rx, rt, rl, rq = res
    # q = W^{-2} r_s + W^{-1} u
    ql = rl / sc.wl**2 + ul / sc.wl
    qq = np.einsum("bij,bj->bi", Wq2, rq) + sc.apply_inv(uq)
    gx, gt = _GT(R, ql, qq)
    dX, dt = ns.solve(-rx - gx, -rt - gt)
    gl, gq = _G(R, dX, dt)
    dzl = (gl + rl) / sc.wl**2 + ul / sc.wl
    dzq = np.einsum("bij,bj->bi", Wq2, gq + rq) + sc.apply_inv(uq)
    return dX, dt, -rl - gl, dzl, -rq - gq, dzq


def _kkt_residual(R, sc, res, ul, uq, d):
    """Return the residual of ``d`` in the linearised KKT system as ``(res, ul, uq)``.

    The system is ``Q dX + (G^T dz)_x = -rx``, ``(G^T dz)_t = -rt``,
    ``G (dX, dt) + ds = -(rl, rq)``, ``W dz + W^{-1} ds = u``; the returned
    right-hand side makes :func:`_direction` solve for the correction.
    """
    dX, dt, dsl, dzl, dsq, dzq = d
    gx, gt = _GT(R, dzl, dzq)
    Qdx = R.qx(dX)
    gl, gq = _G(R, dX, dt)
    return (
        (res[0] + Qdx + gx, res[1] + gt, res[2] + gl + dsl, res[3] + gq + dsq),
        ul - (sc.wl * dzl + dsl / sc.wl),
        uq - (sc.apply(dzq) + sc.apply_inv(dsq)),
    )


def _refined_direction(R, ns, sc, Wq2, res, ul, uq):
    """:func:`_direction` plus one step of iterative refinement on the full system.

    Near the optimum the scaled normal matrix spans many orders of magnitude
    and one solve leaves primal and dual residuals of about ``1e-7`` that the
    steps never remove; the correction is solved with the same factor.
    """
    d = _direction(R, ns, sc, Wq2, res, ul, uq)
    if ns.single:  # far from the optimum: the refined float32 solve suffices
        return d
    corr = _direction(R, ns, sc, Wq2, *_kkt_residual(R, sc, res, ul, uq, d))
    return tuple(a + b for a, b in zip(d, corr, strict=True))


def _max_step(it: Iterate, d) -> float:
    _, _, dsl, dzl, dsq, dzq = d
    return min(
        lin_max_step(it.sl, dsl),
        lin_max_step(it.zl, dzl),
        soc_max_step(it.sq[:, 0], it.sq[:, 1:], dsq[:, 0], dsq[:, 1:]),
        soc_max_step(it.zq[:, 0], it.zq[:, 1:], dzq[:, 0], dzq[:, 1:]),
    )


def _interior(it: Iterate) -> bool:
    """Whether every slack and multiplier is strictly inside its cone."""
    return bool(
        np.all(it.sl > 0)
        and np.all(it.zl > 0)
        and np.all(it.sq[:, 0] > 0)
        and np.all(it.zq[:, 0] > 0)
        and np.all(_soc_det(it.sq) > 0)
        and np.all(_soc_det(it.zq) > 0)
    )


def warm_start(
    R: Restricted,
    X: np.ndarray,
    t: np.ndarray,
    zl: np.ndarray,
    zq: np.ndarray,
    shift: float,
) -> Iterate:
    """Build an interior start near a previous solution (slacks from ``X, t``).

    Every slack and multiplier is moved ``shift`` into the interior of its
    cone, so the start is close to the central path at ``mu ~ shift^2``.
    """
    sl = R.lin(X)
    sq = np.concatenate([t[:, None], X], axis=1)
    (sl, sq), (zl, zq) = _push(sl, sq, shift), _push(zl, zq, shift)
    return Iterate(X.copy(), t.copy(), sl, zl, sq, zq)


def _push(al: np.ndarray, aq: np.ndarray, shift: float):
    al = np.maximum(al, 0.0) + shift
    aq = aq.copy()
    aq[:, 0] = np.maximum(aq[:, 0], np.linalg.norm(aq[:, 1:], axis=1)) + shift
    return al, aq


def _step(it: Iterate, d, alpha: float) -> Iterate | None:
    """Return ``it + alpha d``, halving ``alpha`` while the point leaves the cones.

    The step to the boundary is computed in floating point; near the
    boundary a cone of a fraction ``STEP_FRACTION`` of it can still round to
    outside, so ``alpha`` is halved (at most ``BACKTRACKS`` times).  None when
    ``alpha`` falls below ``1e-10`` (float64 exhausted).
    """
    cur = (it.X, it.t, it.sl, it.zl, it.sq, it.zq)
    for _ in range(BACKTRACKS + 1):
        if alpha < 1e-10:
            return None
        nxt = Iterate(*(a + alpha * da for a, da in zip(cur, d, strict=True)))
        if _interior(nxt):
            return nxt
        alpha *= 0.5
    return None


def solve_restricted(
    R: Restricted,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
    deadline: float = np.inf,
    start: Iterate | None = None,
    single_gap: float = SINGLE_GAP,
) -> PDResult:
    """Mehrotra predictor-corrector on the restricted program; see module Notes.

    ``single_gap``: factor in float32 while the relative gap is above it
    (:data:`SINGLE_GAP`; 0 keeps every factorisation in float64).

    Stops when the complementarity gap ``s^T z`` and the residuals are below
    ``tol`` relative to the objective (``"converged"``), at ``max_iter``, at
    ``deadline`` (a :func:`time.perf_counter` value; checked every iteration)
    or when the step collapses (``"stalled"``).
    """
    it = _initial(R) if start is None else start
    nu = R.k * (R.E.shape[1] + 1)
    reason, k_it = "max_iter", 0
    merits: list[float] = []
    while k_it < max_iter:
        k_it += 1
        res, pobj = _residuals(R, it)
        gap = float(np.sum(it.sl * it.zl) + np.sum(it.sq * it.zq))
        scale = max(abs(pobj), 1e-300)
        feas = max(
            float(np.abs(res[0]).max()),
            float(np.abs(res[1]).max()),
            float(np.abs(res[2]).max()),
            float(np.abs(res[3]).max()),
        )
        if gap <= tol * scale and feas <= tol * max(1.0, scale):
            reason = "converged"
            break
        merits.append(max(gap / scale, feas / max(1.0, scale)))
        if (
            gap <= PLATEAU_GAP * scale
            and len(merits) > PLATEAU
            and merits[-1] > 0.5 * merits[-1 - PLATEAU]
        ):
            reason = "stalled"  # no progress any more: float64 exhausted
            break
        if time.perf_counter() > deadline:
            reason = "time"
            break
        mu = gap / nu
        sc = _scaling(it.sl, it.zl, it.sq, it.zq)
        Wq2 = sc.inv_square()
        try:
            ns = _normal_system(R, it, sc, gap > single_gap * scale)
        except np.linalg.LinAlgError:
            reason = "stalled"
            break
        # predictor: d = -lam o lam, u = -lam
        da = _refined_direction(R, ns, sc, Wq2, res, -sc.lam_l, -sc.lam_q)
        alpha_a = min(1.0, _max_step(it, da))
        sigma = (1.0 - alpha_a) ** 3
        # corrector: d = -lam o lam - (W^{-1} ds_a) o (W dz_a) + sigma mu e
        dl = -(sc.lam_l**2) - (da[2] / sc.wl) * (da[3] * sc.wl) + sigma * mu
        dq = -_jordan(sc.lam_q, sc.lam_q) - _jordan(
            sc.apply_inv(da[4]), sc.apply(da[5])
        )
        dq[:, 0] += sigma * mu
        d = _refined_direction(
            R, ns, sc, Wq2, res, dl / sc.lam_l, _jordan_solve(sc.lam_q, dq)
        )
        nxt = _step(it, d, min(1.0, STEP_FRACTION * _max_step(it, d)))
        if nxt is None:
            reason = "stalled"  # float64 exhausted: keep the last interior iterate
            break
        it = nxt
    gap = float(np.sum(it.sl * it.zl) + np.sum(it.sq * it.zq))
    return PDResult(
        X=it.X,
        t=it.t,
        iterations=k_it,
        reason=reason,
        gap=gap,
        objective=_objective(R, it.X, it.t),
        state=it,
    )
