r"""Active-set polishing of an approximate solution (host, moderate ``n``).

First-order methods reach a relative accuracy of ~1e-4 quickly and 1e-6 with
cone violation 1e-6 slowly.  Polishing (in the spirit of OSQP's) guesses the
active set from an approximate point and solves the resulting smooth problem to
machine precision by Newton's method:

* active blocks :math:`b = (i, \pm)` are those with :math:`s_b \ne 0`;
* for each, the active rows :math:`J_b = \{j : (A_i s_b)_j \le \delta
  \max_j |(A_i s_b)_j|\}` are forced to equality, i.e. :math:`s_b = Q_b t_b`
  with :math:`Q_b` an orthonormal basis of :math:`\ker A_i[J_b]`;
* Newton with backtracking on the smooth (on :math:`t_b \ne 0`) problem
  :math:`\min_t \tfrac12\|\sum_b \pm D_iFQ_bt_b - y\|^2 + \beta\sum_b\|t_b\|`.

The caller accepts the polished point only if its cone violation and certified
gap (computed independently, over *all* patterns) meet the tolerances, so a
wrong guess costs time, never correctness.  Only for ``group="class"``, where
each class is an independent scalar program.

Relation to the other polish, :mod:`bnconvex.numerics.solvers._polish`
(``working-set`` and ``ipm``; ``ipm`` has no polish of its own, it calls that
one).  The face problem and its Newton step are the same mathematics
(:math:`\min_t \tfrac12\|Jt - y\|^2 + \beta\sum_b\|t_b\|` on the null
spaces of the active rows); what differs is the input and so the face guess:

* here the point is a first-order iterate (ADMM / FISTA) in the full-scale
  layout ``(m, 2, K, P)``, maybe infeasible by ~1e-6, without slacks or
  multipliers: the active rows are read off :math:`A_is_b` with a relative
  threshold ``delta`` tried at several values, and Newton is damped by an
  Armijo backtracking line search (the guess may be far off);
* there the point is an interior-point iterate in the stacked layout
  ``(2, P, m)`` whose slacks separate active from inactive rows by the
  barrier scale :math:`\theta`; it also merges blocks that split one neuron
  over neighbouring regions and adds violating faces, and solves the Newton
  systems by a PSD Cholesky solve.

Both keep a polished point only after an independent certificate, so
neither guess affects correctness.  Sharing the Newton core is left for when
the solvers' internals are settled (issue 11): the two back ends run on
different layouts and measured budgets (``benchmarks/bench_peers.py``).
"""

from __future__ import annotations

import numpy as np
from bnconvex.numerics.core.cone_norms import null_basis
from scipy.optimize import nnls

__all__ = ["polish_blocks", "project_blocks"]


def _newton(
    J: np.ndarray,
    y: np.ndarray,
    beta: float,
    sizes: list[int],
    t: np.ndarray,
    iters: int = 60,
) -> np.ndarray:
    r"""Minimise :math:`\tfrac12\|Jt-y\|^2 + \beta\sum_b\|t_b\|` by damped Newton."""
    splits = np.cumsum(sizes)[:-1]

    def value(t: np.ndarray) -> float:
        r = J @ t - y
        return 0.5 * float(r @ r) + beta * sum(
            float(np.linalg.norm(b)) for b in np.split(t, splits)
        )

    JtJ, Jty = J.T @ J, J.T @ y
    f = value(t)
    for _ in range(iters):
        blocks = np.split(t, splits)
        norms = [max(float(np.linalg.norm(b)), 1e-300) for b in blocks]
        g = (
            JtJ @ t
            - Jty
            + beta
            * np.concatenate([b / nb for b, nb in zip(blocks, norms, strict=True)])
        )
        H = JtJ.copy()
        start = 0
        for b, nb in zip(blocks, norms, strict=True):
            u = b / nb
            k = b.size
            H[start : start + k, start : start + k] += (
                beta / nb * (np.eye(k) - np.outer(u, u))
            )
            start += k
        H[np.diag_indices_from(H)] += 1e-14 * max(1.0, float(np.max(np.diag(H))))
        d = -np.linalg.solve(H, g)
        step = 1.0
        while step > 1e-12:
            t_new = t + step * d
            f_new = value(t_new)
            if f_new <= f + 1e-4 * step * float(g @ d):
                break
            step *= 0.5
        else:
            return t
        decrease = f - f_new
        t, f = t_new, f_new
        if decrease <= 1e-16 * max(abs(f), 1.0):
            break
    return t


def polish_blocks(
    F: np.ndarray,
    D: np.ndarray,
    y: np.ndarray,
    beta: float,
    S: np.ndarray,
    delta: float,
) -> np.ndarray:
    """Polished blocks for one class.

    Parameters
    ----------
    F : ndarray
        ``(n, m)`` features.
    D : ndarray
        ``(n, P)`` bool patterns.
    y : ndarray
        ``(n,)`` targets of this class.
    beta : float
        Regularisation coefficient.
    S : ndarray
        ``(m, 2, P)`` approximate blocks (sign axis: +, -).
    delta : float
        Relative threshold of the active-row guess.

    Returns
    -------
    ndarray
        ``(m, 2, P)`` polished blocks.
    """
    m = F.shape[1]
    E = np.where(D, 1.0, -1.0)
    active = [
        (sg, i) for sg in (0, 1) for i in range(D.shape[1]) if np.any(S[:, sg, i] != 0)
    ]
    if not active:
        return S.copy()
    cols, bases, sizes, t0 = [], [], [], []
    for sg, i in active:
        A = E[:, i, None] * F
        c = A @ S[:, sg, i]
        rows = c <= delta * float(np.max(np.abs(c)))
        Q = null_basis(A[rows], m)
        if Q.shape[1] == 0:
            continue
        sign = 1.0 if sg == 0 else -1.0
        cols.append(sign * (D[:, i, None] * F) @ Q)
        bases.append((sg, i, Q))
        sizes.append(Q.shape[1])
        t0.append(Q.T @ S[:, sg, i])
    out = np.zeros_like(S)
    if not cols:
        return out
    t = _newton(np.concatenate(cols, axis=1), y, beta, sizes, np.concatenate(t0))
    for (sg, i, Q), tb in zip(bases, np.split(t, np.cumsum(sizes)[:-1]), strict=True):
        out[:, sg, i] = Q @ tb
    return out


def project_blocks(F: np.ndarray, D: np.ndarray, S: np.ndarray) -> np.ndarray:
    r"""Project every nonzero block onto its cone: a feasible point near ``S``.

    Parameters
    ----------
    F : ndarray
        ``(n, m)`` features.
    D : ndarray
        ``(n, P)`` bool patterns.
    S : ndarray
        ``(m, 2, P)`` blocks of one class.

    Returns
    -------
    ndarray
        ``(m, 2, P)`` with every block in :math:`K_i = \{s: (2D_i - I)Fs \ge 0\}`.

    Notes
    -----
    :math:`\Pi_{K}(s) = s + A^T\lambda^\star`,
    :math:`\lambda^\star = \arg\min_{\lambda\ge0}\|s + A^T\lambda\|`
    (Moreau; one NNLS with ``m`` rows per block), :math:`A = (2D_i - I)F`.
    A block with a small violation moves by about its violation, so the loss
    changes by the same order: this turns an accurate but slightly infeasible
    first-order iterate into a feasible one whose gap is then certified.
    """
    out = S.copy()
    E = np.where(D, 1.0, -1.0)
    for sg in (0, 1):
        for i in np.flatnonzero(np.any(S[:, sg, :] != 0, axis=0)):
            A = E[:, i, None] * F
            s = S[:, sg, i]
            if np.min(A @ s) >= 0:
                continue
            lam, _ = nnls(A.T, -s)
            out[:, sg, i] = s + A.T @ lam
    return out
