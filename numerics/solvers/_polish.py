r"""Active-set Newton polish of an interior-point iterate.

Notes
-----
From a barrier iterate, guess the support :math:`\mathcal S` (blocks with
:math:`\|x_b\| > \theta`) and, per supported block, the active linear
constraints (slack :math:`< \theta`), where
:math:`\theta = \sqrt{(n+2)/(\tau\beta)}` separates the :math:`O(1/\tau)`
slacks of active constraints and zero blocks from the :math:`O(1)` ones.
With :math:`N_b` an orthonormal basis of the null space of the active rows,
:math:`x_b = N_b z_b`, and the program restricted to that face is the smooth
(away from :math:`z_b = 0`) problem

.. math::

    \min_z \; \phi(z) = \tfrac12\|Mz - y\|^2 + \beta\sum_{b \in \mathcal S} \|z_b\|,
    \qquad M = [\pm D_b U' N_b]_{b \in \mathcal S},

solved by Newton's method with Hessian
:math:`M^TM + \beta\,\mathrm{blkdiag}((I - \hat z_b \hat z_b^T)/\|z_b\|)`.
When the guess is right it converges quadratically to the exact optimum; a
wrong guess is caught afterwards by the feasibility check and the dual
certificate, never trusted.  :func:`polish` guesses the face from a barrier
iterate; :func:`polish_faces` takes any guess (``working-set`` reads it off
its primal-dual iterate).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from bnconvex.numerics.core.certificate import both_signs
from bnconvex.numerics.core.cone_norms import cone_norms, null_basis
from bnconvex.numerics.solvers._blocks import SIGNS, Blocks


def _clusters(X: np.ndarray, theta: float) -> list[tuple[int, int, np.ndarray]]:
    """Group supported blocks of equal sign and direction: ``(sign, pattern, sum)``.

    Several regions can share an optimal neuron lying on their common face (the
    barrier splits it between them); on that face their blocks act alike, so
    their sum is one block of any of them.
    """
    angle = float(np.sqrt(theta))  # generous: a wrong merge is undone by the rounds
    norms = np.linalg.norm(X, axis=-1)
    clusters: list[tuple[int, int, np.ndarray]] = []
    for flat in np.argsort(-norms, axis=None):
        s, p = np.unravel_index(flat, norms.shape)
        if norms[s, p] <= theta:
            break
        u = X[s, p] / norms[s, p]
        for k, (cs, cp, total) in enumerate(clusters):
            if cs == s and np.linalg.norm(u - total / np.linalg.norm(total)) < angle:
                clusters[k] = (cs, cp, total + X[s, p])
                break
        else:
            clusters.append((int(s), int(p), X[s, p].copy()))
    return clusters


def _faces(blk: Blocks, X: np.ndarray, theta: float):
    """Faces ``(sign, pattern, basis N, start x)`` of the guessed optimal support."""
    faces = []
    for s, p, total in _clusters(X, theta):
        on_plane = np.abs(blk.U @ total) < theta * np.linalg.norm(total)
        N = null_basis(blk.U[on_plane], blk.m)
        if N.shape[1] > 0:
            faces.append((s, p, N, total))
    return faces


#: Relative norm below which a block that shrinks during Newton counts as
#: collapsing to zero (it is removed; the violator search re-adds it if needed).
COLLAPSE = 1e-6


def _phi(M, y, beta, z, splits) -> float:
    e = M @ z - y
    return 0.5 * e @ e + beta * sum(np.linalg.norm(zb) for zb in np.split(z, splits))


def _newton_system(M, y, beta, parts, nz):
    """Gradient and Hessian of phi at the blocks ``parts`` (all non-zero)."""
    z = np.concatenate(parts)
    g = M.T @ (M @ z - y) + beta * np.concatenate(
        [zb / r for zb, r in zip(parts, nz, strict=True)]
    )
    H = M.T @ M
    k = 0
    for zb, r in zip(parts, nz, strict=True):
        u, j = zb / r, k + len(zb)
        H[k:j, k:j] += beta * (np.eye(len(zb)) - np.outer(u, u)) / r
        k = j
    return g, H


def _psd_solve(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve with the PSD face Hessian (least squares as the fallback).

    A ``1e-14`` relative ridge covers the flat directions of duplicated faces.
    """
    ridge = 1e-14 * max(float(np.trace(H)), 1e-300) * np.eye(H.shape[0])
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(H + ridge), b)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(H, b, rcond=None)[0]


def _newton(M, y, beta, z, sizes, max_iter=60):
    """Newton's method on phi.

    Returns ``(z, None)`` at convergence or ``(z, b)`` when block ``b``
    collapses towards zero (then it is not in the support).
    """
    splits = np.cumsum(sizes)[:-1]
    gtol = 1e-15 * (1.0 + np.linalg.norm(M.T @ y))
    nz0 = np.array([np.linalg.norm(zb) for zb in np.split(z, splits)])
    for _ in range(max_iter):
        parts = np.split(z, splits)
        nz = np.array([np.linalg.norm(zb) for zb in parts])
        shrunk = (nz <= COLLAPSE * nz.max()) & (nz < 0.5 * nz0)
        if shrunk.any():
            return z, int(np.argmax(shrunk))
        g, H = _newton_system(M, y, beta, parts, nz)
        if np.linalg.norm(g) <= gtol:
            break
        dz = _psd_solve(H, -g)
        alpha, f0, slope = 1.0, _phi(M, y, beta, z, splits), g @ dz
        while alpha > 1e-10 and _phi(M, y, beta, z + alpha * dz, splits) > (
            f0 + 1e-4 * alpha * slope + 1e-15 * abs(f0)
        ):
            alpha *= 0.5
        z = z + alpha * dz
        if np.linalg.norm(alpha * dz) <= 1e-15 * np.linalg.norm(z):
            break
    return z, None


def _solve_faces(blk: Blocks, faces: list) -> list:
    """Newton on the faces, dropping blocks that collapse; faces with new values."""
    z = np.concatenate([N.T @ x for _, _, N, x in faces] + [np.zeros(0)])
    while faces:
        sizes = [N.shape[1] for _, _, N, _ in faces]
        M = np.concatenate(
            [SIGNS[s] * (blk.D[:, p, None] * blk.U) @ N for s, p, N, _ in faces], axis=1
        )
        z, bad = _newton(M, blk.y, blk.beta, z, sizes)
        parts = np.split(z, np.cumsum(sizes)[:-1])
        if bad is None:
            return [
                (s, p, N, N @ zb) for (s, p, N, _), zb in zip(faces, parts, strict=True)
            ]
        faces = faces[:bad] + faces[bad + 1 :]
        z = np.concatenate(parts[:bad] + parts[bad + 1 :]) if faces else z[:0]
    return faces


def _to_blocks(blk: Blocks, faces: list, shape: tuple) -> np.ndarray:
    """Sum the face points per block (faces of one pattern add up within its cone)."""
    Xp = np.zeros(shape)
    for s, p, _, x in faces:
        Xp[s, p] += x
    return Xp


def _tighten(blk: Blocks, faces: list) -> tuple[list, bool]:
    """Add the rows a face point violates to its active set (projecting the point)."""
    out, changed = [], False
    for s, p, N, x in faces:
        G = blk.sign[:, p, None] * blk.U
        bad = G @ x < -1e-13 * max(1.0, float(np.linalg.norm(x)))
        if bad.any():
            on = (
                (np.abs(G @ x) < 1e-9 * np.linalg.norm(x))
                | bad
                | (np.abs(G @ N).sum(1) < 1e-12)
            )
            N = null_basis(G[on], blk.m)
            x = N @ (N.T @ x)
            changed = True
        if N.shape[1] > 0:
            out.append((s, p, N, x))
    return out, changed


def _has_face(have: dict, s: int, p: int, N: np.ndarray) -> bool:
    """Whether block ``(s, p)`` already has a face spanning ``range(N)``."""
    proj = N @ N.T
    olds = have.get((int(s), int(p)), [])
    return any(np.abs(proj - old).max() < 1e-8 for old in olds)


def _violators(blk: Blocks, Xp: np.ndarray, faces: list, limit: int = 2) -> list:
    r"""Return new faces for the blocks whose dual constraint is violated most.

    For block ``(s, p)`` the objective decreases along :math:`d \\in K_p` iff
    :math:`\\pm c_p^T d > \\beta\\|d\\|`, i.e. iff
    :math:`\\|\\Pi_{K_p}(\\pm c_p)\\| > \\beta` (``+`` for :math:`s_i`); the new
    block starts along that projection, on the face of its passive rows,
    at the step minimising the objective along it.  A block already in the
    support may get a second face (the points of one cone add up), unless it
    already has that face.
    """
    r = blk.y - blk.predict(Xp)
    C = blk.adjoint(r)
    have: dict[tuple[int, int], list[np.ndarray]] = {}
    for s, p, N, _ in faces:
        have.setdefault((int(s), int(p)), []).append(N @ N.T)
    cand = np.flatnonzero(np.linalg.norm(C, axis=1) > blk.beta)
    pats = both_signs(cand.size)  # positions in ``cand``, sign + then -
    signed = np.concatenate([C[cand], -C[cand]])
    out = cone_norms(blk.U, blk.D > 0, cand[pats], signed, level=blk.beta)
    found = []
    for b in np.flatnonzero(out.bound - blk.beta > 1e-10 * blk.beta):
        s, p = divmod(int(b), cand.size)
        active = out.rows[b, : out.k[b]]
        d = signed[b] + out.g[b]
        found.append((out.bound[b] - blk.beta, s, int(cand[p]), d, active))
    found.sort(key=lambda item: -item[0])
    new = []
    for excess, s, p, d, active in found[:limit]:
        N = null_basis(blk.U[active], blk.m)  # row signs do not change the null space
        u = N @ (N.T @ d)
        if N.shape[1] == 0 or not np.any(u) or _has_face(have, s, p, N):
            continue
        u /= np.linalg.norm(u)
        curv = float(np.sum((blk.D[:, p] * (blk.U @ u)) ** 2))
        new.append((s, p, N, u * excess / max(curv, 1e-12)))
    return new


def polish(
    blk: Blocks, X: np.ndarray, tau: float, *, rounds: int = 8
) -> np.ndarray | None:
    """Polished blocks (2, P, m) on the guessed face, or None if the guess failed.

    The face is guessed from the barrier iterate ``X`` at barrier weight
    ``tau`` (module Notes) and handed to :func:`polish_faces`.
    """
    theta = float(np.sqrt((blk.n + 2) / (tau * blk.beta)))
    return polish_faces(blk, _faces(blk, X, theta), X.shape, rounds=rounds)


def polish_faces(
    blk: Blocks, faces: list, shape: tuple, *, rounds: int = 8
) -> np.ndarray | None:
    """Polished blocks of the given shape from the starting ``faces``, or None.

    ``faces`` holds ``(sign, pattern, N, x)``: block ``(sign, pattern)``
    restricted to ``range(N)`` (``N`` an orthonormal basis of the null space of
    its guessed active rows), starting at ``x``.  Each round solves the face
    problem by Newton's method, moves rows that the solution violates into the
    active sets, and adds the blocks whose dual constraint is violated most (a
    primal active-set step).  The result is returned only if every linear
    slack stays above ``-1e-13`` (rounding); optimality is judged by the
    caller's certificate.
    """
    for _ in range(rounds):
        faces = _solve_faces(blk, faces)
        faces, changed = _tighten(blk, faces)
        if changed:
            continue
        extra = _violators(blk, _to_blocks(blk, faces, shape), faces)
        if not extra:
            break
        faces = faces + extra
    Xp = _to_blocks(blk, faces, shape)
    if blk.slacks(Xp).min() < -1e-13:
        return None
    return Xp
