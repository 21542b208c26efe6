r"""Phase I of the interior-point solver: an interior point of every pattern cone.

Notes
-----
For each pattern, with :math:`G = (2D_i - I)U'`, the depth problem

.. math::

    \sigma^\star = \max_{x, \sigma} \; \sigma \quad \text{s.t.} \quad
    G x \ge \sigma \mathbf 1, \; \|x\|_2 \le 1

has :math:`\sigma^\star > 0` iff the cone :math:`\{Gx \ge 0\}` has an
interior.  All patterns are solved at once by a batched barrier method
(damped Newton on the self-concordant
:math:`-\tau\sigma - \sum_k \log(Gx - \sigma)_k - \log(1 - \|x\|^2)`,
barrier parameter :math:`n + 1`), starting from :math:`x = 0, \sigma = -1`.
At a centred point :math:`\sigma \le \sigma^\star \le \sigma + (n+1)/\tau`
(a factor 2 is allowed for approximate centring).  A pattern is declared
interior once :math:`\sigma \ge 2(n+1)/\tau` (its point is then at least half
as deep as the deepest one) and empty once the upper bound is below
``margin_tol``.
"""

from __future__ import annotations

import numpy as np

_MAX_NEWTON = 60


def _newton_direction(G: np.ndarray, x: np.ndarray, s: np.ndarray, tau: float):
    """Newton step and decrement for the batched depth barrier."""
    Pk, _, m = G.shape
    w = np.einsum("pnm,pm->pn", G, x) - s[:, None]
    q = 1.0 - np.einsum("pm,pm->p", x, x)
    iw, iw2 = 1.0 / w, 1.0 / w**2
    g = np.empty((Pk, m + 1))
    g[:, :m] = -np.einsum("pnm,pn->pm", G, iw) + 2.0 * x / q[:, None]
    g[:, m] = -tau + iw.sum(axis=1)
    H = np.empty((Pk, m + 1, m + 1))
    H[:, :m, :m] = np.einsum("pnm,pn,pnk->pmk", G, iw2, G)
    H[:, :m, :m] += 2.0 * np.eye(m) / q[:, None, None]
    H[:, :m, :m] += 4.0 * np.einsum("pm,pk->pmk", x, x) / (q**2)[:, None, None]
    H[:, :m, m] = H[:, m, :m] = -np.einsum("pnm,pn->pm", G, iw2)
    H[:, m, m] = iw2.sum(axis=1)
    dz = -np.linalg.solve(H, g[..., None])[..., 0]
    lam = np.sqrt(np.maximum(-np.einsum("pk,pk->p", g, dz), 0.0))
    return dz, lam


def _feasible(G: np.ndarray, x: np.ndarray, s: np.ndarray) -> np.ndarray:
    w = np.einsum("pnm,pm->pn", G, x) - s[:, None]
    return (w.min(axis=1) > 0) & (np.einsum("pm,pm->p", x, x) < 1.0)


def _center(G: np.ndarray, x: np.ndarray, s: np.ndarray, tau: float) -> None:
    """Damped Newton centring in place (self-concordant step 1/(1+lambda))."""
    m = x.shape[1]
    for _ in range(_MAX_NEWTON):
        dz, lam = _newton_direction(G, x, s, tau)
        if np.all(lam < 1e-4):
            return
        step = np.where(lam > 0.25, 1.0 / (1.0 + lam), 1.0)
        for _ in range(30):  # guard against rounding at the domain boundary
            xn, sn = x + step[:, None] * dz[:, :m], s + step * dz[:, m]
            ok = _feasible(G, xn, sn)
            if ok.all():
                break
            step = np.where(ok, step, 0.5 * step)
        x[...], s[...] = np.where(ok[:, None], xn, x), np.where(ok, sn, s)


def interior_points(
    U: np.ndarray, D: np.ndarray, *, margin_tol: float = 1e-11
) -> tuple[np.ndarray, np.ndarray]:
    r"""Interior points of the cones :math:`\{(2D_i - I)U's \ge 0\}`.

    Parameters
    ----------
    U : ndarray (n, m)
    D : ndarray (n, P) bool
    margin_tol : float
        Depth below which a cone counts as having empty interior.

    Returns
    -------
    points : ndarray (P, m)
        ``points[i]`` with ``||points[i]|| < 1`` and
        :math:`(2D_i - I)U' x > 0`; zero rows for empty cones.
    interior : ndarray (P,) bool
        Whether the cone has a (numerically) non-empty interior.
    """
    n, m = U.shape
    P = D.shape[1]
    G = np.where(D.T[:, :, None], 1.0, -1.0) * U[None]
    x, s = np.zeros((P, m)), -np.ones(P)
    state = np.zeros(P, dtype=np.int8)  # 0 undecided, 1 interior, -1 empty
    tau, nu = 1.0, 2.0 * (n + 1)
    while np.any(state == 0) and tau < 1e16:
        todo = np.flatnonzero(state == 0)
        xt, st = x[todo], s[todo]
        _center(G[todo], xt, st, tau)
        x[todo], s[todo] = xt, st
        state[todo[st >= nu / tau]] = 1
        state[todo[(st + nu / tau <= margin_tol) & (st < nu / tau)]] = -1
        tau *= 8.0
    interior = (state == 1) | ((state == 0) & (s > margin_tol))
    x[~interior] = 0.0
    return x, interior
