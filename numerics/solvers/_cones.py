r"""Slacks and steps to the boundary of the cones shared by the interior-point solvers.

Every block has a second-order cone :math:`t \ge \|x\|` and the nonnegative
orthant of its linear slacks; :mod:`._barrier` (``ipm``) and :mod:`._pdip`
(``working-set``) both need the same two quantities below.
"""

from __future__ import annotations

import numpy as np


def soc_slack(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Return :math:`t^2 - \|x\|^2` (norm over the last axis of ``x``).

    Computed as :math:`(t - \|x\|)(t + \|x\|)`, accurate near the cone boundary.
    """
    r = np.linalg.norm(x, axis=-1)
    return (t - r) * (t + r)


def soc_max_step(t: np.ndarray, x: np.ndarray, dt: np.ndarray, dx: np.ndarray) -> float:
    r"""Largest :math:`\alpha` with :math:`(t, x) + \alpha (dt, dx)` in the cones.

    Notes
    -----
    The smallest positive root of :math:`q(\alpha) = a\alpha^2 + b\alpha + c`,
    :math:`a = dt^2 - \|dx\|^2`, :math:`b = 2(t\,dt - x \cdot dx)`,
    :math:`c = t^2 - \|x\|^2 > 0`, over all cones, with the roots computed in
    the cancellation-free form :math:`q/a` and :math:`c/q`; ``inf`` when no
    cone is left.
    """
    a = dt**2 - np.sum(dx**2, axis=-1)
    b = 2.0 * (t * dt - np.sum(x * dx, axis=-1))
    c = soc_slack(t, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b**2 - 4.0 * a * c
        qq = -0.5 * (b + np.copysign(np.sqrt(np.maximum(disc, 0.0)), b))
        roots = np.stack([qq / a, c / qq])
    ok = (disc >= 0) & (roots > 0) & np.isfinite(roots)
    return float(np.min(np.where(ok, roots, np.inf), initial=np.inf))


def lin_max_step(s: np.ndarray, ds: np.ndarray) -> float:
    """Largest ``alpha`` with ``s + alpha ds >= 0`` (``s > 0``); ``inf`` if none."""
    neg = ds < 0
    return float(np.min(-s[neg] / ds[neg], initial=np.inf))
