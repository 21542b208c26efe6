"""Error measures shared by the float64 tiers of the claims.

Each claim states its tolerance against one of these measures (relative to the
reference value, floored at the smallest normal float so that a zero reference
does not divide by zero).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TINY", "below", "rel_err", "vec_rel_err"]

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
