r"""Vector-output BN networks with general labels: an exact small-instance solver (R3).

The rescaled problem of paper.md R3 is

.. math::
    p^\star = \min_{\|s_j\|\le1,\ g_j\in\mathbb R^K}\
    \tfrac12\Bigl\|\sum_j (U's_j)_+g_j^T - Y\Bigr\|_F^2 + \beta\sum_j\|g_j\|_2 ,

i.e. :math:`\min_Z \tfrac12\|Z - Y\|_F^2 + \beta\|Z\|_{\mathcal A}` for the
atomic norm of the atoms :math:`(U's)_+g^T`, :math:`\|s\|,\|g\|\le 1` (equal to
R3's :math:`\sum_i\|V_i\|_{*,K_i}` program with the complete arrangement).
Its dual is :math:`\max_\Lambda \langle\Lambda, Y\rangle - \tfrac12\|\Lambda\|_F^2`
s.t. :math:`b(\Lambda) = \max_{\|s\|\le1}\|\Lambda^T(U's)_+\|_2\le\beta`.

**Exact linear minimisation.** On the cone :math:`K_i` of pattern :math:`i`,
:math:`\|\Lambda^T(U's)_+\|^2 = s^TQ_is`, :math:`Q_i = M_i^TM_i`,
:math:`M_i = \Lambda^TD_iU'`, a convex quadratic.  Its maximiser over
:math:`K_i\cap\{\|s\| = 1\}` lies in the relative interior of a face of
:math:`K_i`, whose span is the null space :math:`N` of some set of at most
:math:`r` rows of :math:`U'`, and is there a stationary point of
:math:`s^TQ_is` on the unit sphere of :math:`N`: an eigenvector of
:math:`N^TQ_iN` (with a repeated eigenvalue, the value is also reached on a
smaller face).  So :math:`b(\Lambda)` is the largest
:math:`\|\Lambda^T(U's)_+\|` over the unit eigenvectors of
:math:`N^TQ_iN` for every pattern and every row subset of size
:math:`\le r` — exact, and every candidate's value is attained, so no
feasibility test is needed.  The count is :math:`P\sum_{k\le r}\binom nk`:
small instances only.

**Solver.** An exchange (fully corrective conditional-gradient) phase adds
the maximising atom and re-solves the group lasso over the atoms (FISTA);
then a *sliding* phase fixes each atom's face (rows of :math:`U's_j` within
``face_tol`` of zero) and minimises the smooth objective
:math:`\tfrac12\|\sum_jB_jt_jg_j^T - Y\|^2 + \tfrac\beta2\sum_j\|t_j\|^2+\|g_j\|^2`,
:math:`B_j = D_jU'N_j`, by L-BFGS.  Every candidate is certified with the
residual :math:`\Lambda = Y - Z` scaled by :math:`\min(1, \beta/b(\Lambda))`
(weak duality, as R1), evaluated with the true ReLU; the best certified
point is returned.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
from bnconvex.numerics._validation import check_beta, check_data, check_matrix
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.certificate import dual_scale
from bnconvex.numerics.core.closed_form import huber_h
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.core.whitening import Whitening, whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.result import BoundedGap, relative_gap
from bnconvex.numerics.status import SolverStatus
from scipy.optimize import minimize

__all__ = [
    "VectorSolution",
    "atom_bound",
    "separable_upper_bound",
    "singular_value_lower_bound",
    "solve_atoms",
    "solve_vector",
    "vector_network",
]


def _subspaces(U: np.ndarray) -> list[np.ndarray]:
    """Return null-space bases of every set of <= r rows of ``U'`` (deduplicated)."""
    n, m = U.shape
    out, seen = [np.eye(m)], set()
    for k in range(1, m):
        for rows in itertools.combinations(range(n), k):
            _, sv, Vt = np.linalg.svd(U[list(rows)])
            rank = int(np.sum(sv > 1e-10 * sv[0]))
            N = Vt[rank:].T
            key = np.round(N @ N.T, 9).tobytes()
            if N.shape[1] and key not in seen:
                seen.add(key)
                out.append(N)
    return out


def _candidates(U: np.ndarray, D: np.ndarray, Lam: np.ndarray, subs) -> np.ndarray:
    """Return unit eigenvector candidates ``s`` (rows), every pattern and face span."""
    M = np.einsum("nk,np,nm->pkm", Lam, D.astype(float), U)  # (P, K, m)
    Q = np.einsum("pkm,pkl->pml", M, M)
    cands = []
    for N in subs:
        _, E = np.linalg.eigh(N.T @ Q @ N)  # (P, k, k)
        cands.append(np.einsum("mk,pkj->pjm", N, E).reshape(-1, U.shape[1]))
    S = np.vstack(cands)
    return np.vstack([S, -S])


def atom_bound(
    U_prime: Any, Lam: Any, *, D: Any = None, subspaces: Any = None
) -> tuple[float, np.ndarray]:
    r"""Return :math:`b(\Lambda) = \max_{\|s\|\le1}\|\Lambda^T(U's)_+\|`, a maximiser.

    Parameters
    ----------
    U_prime : array_like, shape (n, r+1)
    Lam : array_like, shape (n, K)
    D : bool array, shape (n, P), optional
        The complete arrangement of ``U_prime`` (computed when omitted).
    subspaces : list of ndarray, optional
        Face spans (cached by :func:`solve_vector`).

    Returns
    -------
    bound : float
        Inflated by ``8 (n + r + 1) eps`` relative for rounding.
    s : ndarray, shape (r+1,)
        A unit maximiser.

    Examples
    --------
    With :math:`\Lambda = e_1` the maximum is :math:`\max_s (U's)_1 = \|U'_{1,:}\|`:

    >>> U = whiten(np.array([[0.0], [1.0], [3.0], [4.0]])).U_prime
    >>> b, s = atom_bound(U, np.eye(4)[:, :1])
    >>> bool(abs(b - np.linalg.norm(U[0])) < 1e-12)
    True
    """
    U = check_matrix(U_prime, "U_prime")
    Lam = check_matrix(Lam, "Lam")
    if Lam.shape[0] != U.shape[0]:
        raise InputError(f"`Lam` must have {U.shape[0]} rows; got {Lam.shape[0]}")
    D = enumerate_patterns(U) if D is None else np.asarray(D, bool)
    subs = _subspaces(U) if subspaces is None else subspaces
    S = _candidates(U, D, Lam, subs)
    vals = np.linalg.norm(np.maximum(S @ U.T, 0.0) @ Lam, axis=1)
    k = int(np.argmax(vals))
    inflate = 1.0 + 8.0 * (U.shape[0] + U.shape[1]) * np.finfo(float).eps
    return float(vals[k]) * inflate, S[k]


@dataclasses.dataclass
class VectorSolution(BoundedGap):
    r"""Solution of :func:`solve_vector`.

    Attributes
    ----------
    atoms : ndarray, shape (J, r+1)
        :math:`\tilde s_j` (not normalised): neuron ``j`` outputs
        :math:`(U'\tilde s_j)_+g_j^T`, balanced:
        :math:`\|\tilde s_j\| = \|g_j\|`.
    G : ndarray, shape (J, K)
        Output weights :math:`g_j`.
    objective : float
        :math:`\tfrac12\|Z - Y\|^2 + \beta\sum_j\|\tilde s_j\|\|g_j\|`.
    lower_bound : float
        Certified dual value (global: complete arrangement, exact bound).
    constraint_bound : float
        :math:`b(\Lambda)` of the residual.
    status : SolverStatus
    iterations : int
        Rounds of exchange and sliding.
    """

    atoms: np.ndarray
    G: np.ndarray
    objective: float
    lower_bound: float
    constraint_bound: float
    status: SolverStatus
    iterations: int


@dataclasses.dataclass
class _Ctx:
    U: np.ndarray
    Y: np.ndarray
    beta: float
    D: np.ndarray
    subs: list
    pool: np.ndarray  # output map S (identity without pooling)

    def outputs(self, atoms: np.ndarray) -> np.ndarray:
        r"""Columns :math:`S(U'\tilde s_j)_+`, shape (n_out, J)."""
        return self.pool @ np.maximum(self.U @ atoms.T, 0.0)

    def bound(self, R: np.ndarray) -> tuple[float, np.ndarray]:
        """:func:`atom_bound` of the residual ``R`` through the output map."""
        return atom_bound(self.U, self.pool.T @ R, D=self.D, subspaces=self.subs)


def _evaluate(
    ctx: _Ctx, atoms: np.ndarray, G: np.ndarray
) -> tuple[float, float, float]:
    """Objective, certified lower bound and b of the residual (true ReLU)."""
    R = ctx.Y - ctx.outputs(atoms) @ G
    obj = 0.5 * float(np.sum(R * R)) + ctx.beta * float(
        np.sum(np.linalg.norm(atoms, axis=1) * np.linalg.norm(G, axis=1))
    )
    b, _ = ctx.bound(R)
    c = float(dual_scale(b, ctx.beta))
    lower = c * float(np.sum(R * ctx.Y)) - 0.5 * c * c * float(np.sum(R * R))
    return obj, lower, b


def _group_lasso(A: np.ndarray, Y: np.ndarray, beta: float, G0: np.ndarray, iters: int):
    r"""FISTA for :math:`\min_G \tfrac12\|AG - Y\|^2 + \beta\sum_j\|G_j\|`.

    Stops after ``iters`` steps or once a step changes ``G`` by at most
    ``1e-13`` relative.
    """
    L = max(float(np.linalg.norm(A, 2)) ** 2, 1e-300)
    # the normal-equation blocks are (atoms x atoms) and (atoms x K): cheap
    AtA_L, AtY_L = (A.T @ A) / L, (A.T @ Y) / L
    G, Z, t = G0.copy(), G0.copy(), 1.0
    for _ in range(iters):
        V = Z - (AtA_L @ Z - AtY_L)
        nrm = np.sqrt(np.einsum("ij,ij->i", V, V))[:, None]
        Gn = V * np.maximum(0.0, 1.0 - (beta / L) / np.maximum(nrm, 1e-300))
        tn = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        delta = Gn - G
        step = np.abs(delta).max(initial=0.0)
        Z, G, t = Gn + ((t - 1.0) / tn) * delta, Gn, tn
        if step <= 1e-13 * (1.0 + np.abs(G).max(initial=0.0)):
            break
    return G


def _exchange(ctx: _Ctx, atoms: np.ndarray, G: np.ndarray, max_iter: int, tol: float):
    """Add maximising atoms and re-solve the group lasso until ``b <= beta (1+tol)``."""
    K = ctx.Y.shape[1]
    for _ in range(max_iter):
        b, s = ctx.bound(ctx.Y - ctx.outputs(atoms) @ G)
        if b <= ctx.beta * (1.0 + tol):
            break
        atoms = np.vstack([atoms, s])
        G = np.vstack([G, np.zeros((1, K))])
        G = _group_lasso(ctx.outputs(atoms), ctx.Y, ctx.beta, G, 3000)
        keep = np.linalg.norm(G, axis=1) > 0
        atoms, G = atoms[keep], G[keep]
    return atoms, G


def _face_bases(U: np.ndarray, atoms: np.ndarray, tol: float) -> list[np.ndarray]:
    """Null space of the rows of ``U'`` on which atom ``j`` is (nearly) zero."""
    bases = []
    for s in atoms:
        z = U @ s
        tight = np.abs(z) <= tol * np.linalg.norm(s)
        if not tight.any():
            bases.append(np.eye(U.shape[1]))
            continue
        _, sv, Vt = np.linalg.svd(U[tight])
        rank = int(np.sum(sv > 1e-10 * sv[0]))
        bases.append(Vt[rank:].T)
    return bases


def _merge(atoms: np.ndarray, G: np.ndarray, tol: float = 1e-6):
    """Merge atoms along the same direction (their outputs add) and drop zero ones."""
    keep = (np.linalg.norm(G, axis=1) > 0) & (np.linalg.norm(atoms, axis=1) > 0)
    atoms, G = atoms[keep], G[keep]
    dirs = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
    out_a, out_g = [], []
    for j in range(len(atoms)):
        for k, a in enumerate(out_a):
            if np.linalg.norm(dirs[j] - a) <= tol:
                out_g[k] = out_g[k] + G[j] * np.linalg.norm(atoms[j])
                break
        else:
            out_a.append(dirs[j])
            out_g.append(G[j] * np.linalg.norm(atoms[j]))
    return np.array(out_a).reshape(-1, atoms.shape[1]), np.array(out_g).reshape(
        -1, G.shape[1]
    )


def _slide(ctx: _Ctx, atoms: np.ndarray, G: np.ndarray, face_tol: float):
    """Smooth local solve with each atom kept on its face (see module Notes)."""
    U, Y, beta = ctx.U, ctx.Y, ctx.beta
    atoms, G = _merge(atoms, G, 1e-4)
    N = _face_bases(U, atoms, face_tol)
    Dj = [(U @ s > 0).astype(float) for s in atoms]
    B = [ctx.pool @ (Dj[j][:, None] * (U @ N[j])) for j in range(len(N))]
    T0 = [N[j].T @ atoms[j] for j in range(len(N))]
    scale = [
        math.sqrt(np.linalg.norm(G[j]) / max(np.linalg.norm(T0[j]), 1e-300))
        for j in range(len(N))
    ]
    T0 = [T0[j] * scale[j] for j in range(len(N))]
    G0 = [G[j] / max(scale[j], 1e-300) for j in range(len(N))]
    # one array for all atoms: face coordinates padded with zeros to the widest
    # face (a padded coordinate has a zero column in B and gradient beta t = 0
    # at t = 0, so it stays 0); vectorised over atoms, no Python loop per call
    J, K = len(N), Y.shape[1]
    width = max(t.size for t in T0)
    Bs = np.zeros((J, B[0].shape[0], width))
    T_init = np.zeros((J, width))
    for j in range(J):
        Bs[j, :, : T0[j].size] = B[j]
        T_init[j, : T0[j].size] = T0[j]

    def fun(x):
        T, Gm = x[: J * width].reshape(J, width), x[J * width :].reshape(J, K)
        O = np.einsum("jnk,jk->jn", Bs, T)
        R = O.T @ Gm - Y
        val = 0.5 * np.sum(R * R) + 0.5 * beta * (np.sum(T * T) + np.sum(Gm * Gm))
        grad_T = np.einsum("jnk,nj->jk", Bs, R @ Gm.T) + beta * T
        grad_G = O @ R + beta * Gm
        return val, np.concatenate([grad_T.ravel(), grad_G.ravel()])

    x0 = np.concatenate([T_init.ravel(), np.asarray(G0).ravel()])
    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "gtol": 1e-14, "ftol": 1e-16},
    )
    # Newton-CG (finite-difference Hessian products) sharpens the stationary point
    res = minimize(
        fun, res.x, jac=True, method="Newton-CG", options={"maxiter": 50, "xtol": 1e-15}
    )
    T, Gm = res.x[: J * width].reshape(J, width), res.x[J * width :].reshape(J, K)
    atoms = np.array([N[j] @ T[j, : N[j].shape[1]] for j in range(J)])
    return atoms, Gm.copy()


def _balance(atoms: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Rescale :math:`(\tilde s_j, g_j)\to(c\tilde s_j, g_j/c)` to equal norms.

    The output :math:`(U'c\tilde s)_+g^T/c` is unchanged and, by AM-GM,
    :math:`\tfrac12(\|c\tilde s\|^2 + \|g/c\|^2) = \|\tilde s\|\|g\|` (R0).
    """
    a, g = np.linalg.norm(atoms, axis=1), np.linalg.norm(G, axis=1)
    keep = (a > 0) & (g > 0)
    c = np.sqrt(g[keep] / a[keep])
    return atoms[keep] * c[:, None], G[keep] / c[:, None]


def solve_atoms(
    U_prime: Any,
    Y: Any,
    beta: float,
    *,
    pool: Any = None,
    max_rounds: int = 4,
    cert_tol: float = 1e-8,
) -> VectorSolution:
    r"""Certified solution of the atomic program with an output map :math:`S`.

    .. math::
        \min_{\tilde s_j, g_j}\ \tfrac12\Bigl\|\sum_jS(U'\tilde s_j)_+g_j^T - Y\Bigr\|^2
        + \beta\sum_j\|\tilde s_j\|\|g_j\|

    Parameters
    ----------
    U_prime : array_like, shape (N, r+1)
        Whitened data (last column positive), e.g. ``whiten(X).U_prime``.
    Y : array_like, shape (n, K)
    beta : float
        Convention A.
    pool : array_like, shape (n, N), optional
        Output map :math:`S` (default the identity, ``n = N``); a pooling
        matrix makes this the convex CNN program with :math:`K = 1`
        (:mod:`bnconvex.numerics.extensions.cnn`).
    max_rounds : int, default 4
        Rounds of (at most 20 exchange steps, then sliding), each continuing
        from the best certified point, until the certified relative gap is
        below ``cert_tol / 10``.
    cert_tol : float, default 1e-8
        Certified relative gap for ``OPTIMAL``.

    Returns
    -------
    VectorSolution
        The best certified of the exchange points and the slid points
        (face tolerances 1e-3 .. 1e-9); the bound uses the complete
        arrangement of ``U_prime`` and :math:`b(S^T\Lambda)`.
    """
    U = check_matrix(U_prime, "U_prime")
    Y = check_matrix(Y, "Y")
    beta = check_beta(beta)
    S = np.eye(U.shape[0]) if pool is None else check_matrix(pool, "pool")
    if S.shape != (Y.shape[0], U.shape[0]):
        raise InputError(
            f"`pool` must have shape ({Y.shape[0]}, {U.shape[0]}); got {S.shape}"
        )
    ctx = _Ctx(U, Y, beta, enumerate_patterns(U), _subspaces(U), S)
    m, K = U.shape[1], Y.shape[1]
    atoms, G = np.zeros((0, m)), np.zeros((0, K))
    best, rounds = None, 0
    for rounds in range(1, max_rounds + 1):  # noqa: B007 (reported)
        atoms, G = _exchange(ctx, atoms, G, 20, 1e-10)
        cands = [(atoms, G)]
        if len(atoms):
            cands += [_slide(ctx, atoms, G, tol) for tol in (1e-3, 1e-5, 1e-7, 1e-9)]
        for a2, g2 in cands:
            cand = (a2, g2, *_evaluate(ctx, a2, g2))
            if best is None or cand[2] - cand[3] < best[2] - best[3]:
                best = cand
        if best[2] - best[3] <= 0.1 * cert_tol * max(abs(best[2]), 1e-300):
            break
        atoms, G = _merge(best[0], best[1], 1e-4)  # continue from the best point
    atoms, G, obj, lower, b = best
    atoms, G = _balance(atoms, G)
    rel = relative_gap(obj - lower, obj)
    status = SolverStatus.OPTIMAL if rel <= cert_tol else SolverStatus.INACCURATE
    return VectorSolution(atoms, G, obj, lower, b, status, rounds)


def solve_vector(
    X: Any,
    Y: Any,
    beta: float,
    *,
    max_rounds: int = 4,
    cert_tol: float = 1e-8,
) -> VectorSolution:
    r"""Certified solution of R3's program on a small instance (complete arrangement).

    Parameters
    ----------
    X : array_like, shape (n, d)
    Y : array_like, shape (n, K)
    beta : float
        Convention A.
    max_rounds, cert_tol
        As in :func:`solve_atoms`.

    Returns
    -------
    VectorSolution
        :func:`solve_atoms` on ``whiten(X).U_prime``.
    """
    X, Y = check_data(X, Y)
    if Y.ndim != 2:
        raise InputError(f"`Y` must be 2-D (n, K); got shape {Y.shape}")
    U = np.asarray(whiten(X).U_prime)
    return solve_atoms(U, Y, beta, max_rounds=max_rounds, cert_tol=cert_tol)


def vector_network(whitening: Whitening, solution: VectorSolution) -> BNNetwork:
    r"""Build the vector-output BN network of a solution (convention A).

    Parameters
    ----------
    whitening : Whitening
        ``whiten(X)``.
    solution : VectorSolution

    Returns
    -------
    BNNetwork
        One neuron per atom :math:`\tilde s = [q; s_{r+1}]`:
        :math:`w = V\Sigma^{-1}q`, :math:`\gamma = \|q\|`,
        :math:`\alpha = s_{r+1}`, :math:`v = g` (``v`` of shape (J, K)), so
        that :math:`BN_{\gamma,\alpha}(Xw) = U'\tilde s` (R0 key identity) and
        the penalty :math:`\tfrac\beta2(\gamma^2+\alpha^2+\|v\|^2) =
        \beta\|\tilde s\|\|g\|` for a balanced atom.  If :math:`q = 0`,
        :math:`\gamma = 0` and :math:`w = v_1/\sigma_1`.
    """
    Vt, sig = np.asarray(whitening.Vt), np.asarray(whitening.sigma)
    q = solution.atoms[:, :-1]
    W = Vt.T @ (q / sig).T
    zero = np.linalg.norm(q, axis=1) == 0
    W[:, zero] = (Vt[0] / sig[0])[:, None]
    return BNNetwork(
        W=W,
        gamma=np.linalg.norm(q, axis=1),
        alpha=solution.atoms[:, -1].copy(),
        v=solution.G.copy(),
        convention="a",
    )


def singular_value_lower_bound(Y: Any, beta: float) -> float:
    r"""Return :math:`\sum_k h_\beta(\sigma_k(Y))`, a lower bound on :math:`p^\star`.

    Because :math:`\sum_j\|a_j\|\|g_j\|\ge\|\sum_ja_jg_j^T\|_*` and
    :math:`\|(U's)_+\|\le\|s\|`, :math:`p^\star\ge\min_Z\tfrac12\|Z-Y\|^2 +
    \beta\|Z\|_*`, solved by singular-value soft-thresholding.

    Examples
    --------
    >>> round(singular_value_lower_bound(np.eye(3)[:, :2], 0.5), 12)
    0.75
    """
    sig = np.linalg.svd(check_matrix(Y, "Y"), compute_uv=False)
    return float(np.sum(huber_h(sig, check_beta(beta))))


def separable_upper_bound(X: Any, Y: Any, beta: float) -> tuple[float, float]:
    r"""Per-class (separable) programs: each neuron feeds one class.

    Returns
    -------
    upper : float
        :math:`\sum_k` objective of the certified solution of column ``k``'s
        scalar program (R1, solved by :func:`solve_atoms` with ``K = 1``):
        together an achievable vector network, so :math:`\ge p^\star`.
    lower : float
        :math:`\sum_k` of their certified lower bounds (how well they were solved).

    Notes
    -----
    With :math:`K = 1` the atomic program is R1's: an atom
    :math:`(U'\tilde s)_+g` with :math:`g\in\mathbb R` is a neuron with output
    weight :math:`g`, penalty :math:`\beta\|\tilde s\||g|`.
    """
    X, Y = check_data(X, Y)
    U = np.asarray(whiten(X).U_prime)
    sols = [solve_atoms(U, Y[:, [k]], beta) for k in range(Y.shape[1])]
    return float(sum(s.objective for s in sols)), float(
        sum(s.lower_bound for s in sols)
    )
