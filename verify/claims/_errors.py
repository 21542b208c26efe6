"""Error measures shared by the float64 tiers of the claims.

Each claim states its tolerance against one of these measures (relative to the
reference value, floored at the smallest normal float so that a zero reference
does not divide by zero).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bnconvex.verify.registry import Evidence

__all__ = ["TINY", "below", "judge", "rel_err", "vec_rel_err"]

TINY = float(np.finfo(float).tiny)


def rel_err(a: float, b: float) -> float:
    """Return ``|a - b| / max(|b|, tiny)``."""
    return abs(float(a) - float(b)) / max(abs(float(b)), TINY)


def vec_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Return ``||a - b||_2 / max(||b||_2, tiny)``."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), TINY))


def below(lower: float, value: float) -> float:
    """How far ``value`` falls below ``lower``, relative (0 when above)."""
    return max(0.0, (float(lower) - float(value)) / max(abs(float(lower)), TINY))


def judge(
    measured: float, gap: float, gap_limit: float, details: dict[str, Any]
) -> Evidence:
    """Evidence of a solver-based check, with the policy of ``claims/core.py``.

    ``measured`` (reconstruction error, how far local search falls below a
    *valid* lower bound) can disprove the claim whatever the solver reached,
    so it is compared with the tolerance by the runner. A certified gap above
    ``gap_limit`` with nothing disproved decides nothing: ``inconclusive``,
    never ``passed``.
    """
    if not gap <= gap_limit:
        details["reason"] = (
            f"certified relative gap {gap:.2e} > {gap_limit:.0e}: the solve stopped "
            "short, undecided on this instance"
        )
        return Evidence(max_rel_err=measured, status="inconclusive", details=details)
    return Evidence(max_rel_err=measured, details=details)
