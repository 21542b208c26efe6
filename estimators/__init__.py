"""scikit-learn estimators of two-layer BN-ReLU networks fitted to global optimality.

:class:`ConvexBNRegressor` and :class:`ConvexBNClassifier` wrap the exact fit
(:func:`bnconvex.numerics.exact.fit_exact`) and the full-scale solver
(:func:`bnconvex.numerics.fullscale.fit`) in scikit-learn's API: ``fit`` /
``predict`` / ``score``, ``get_params`` / ``set_params``, pipelines and grid
searches; the certificate of every fit is in the learned attributes
(``objective_``, ``lower_bound_``, ``gap_``, ``bound_kind_``, ``status_``).

scikit-learn is an optional dependency (``pip install 'bnconvex[sklearn]'``):
this package imports without it, and naming an estimator raises
:class:`~bnconvex.numerics.InputError` saying what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

from bnconvex.numerics import InputError

__all__ = ["ConvexBNClassifier", "ConvexBNRegressor"]

_MODULES = {"ConvexBNRegressor": "regression", "ConvexBNClassifier": "classification"}


def __getattr__(name: str) -> Any:
    """Import an estimator on first use (scikit-learn is optional)."""
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise InputError(
            f"`{name}` needs scikit-learn >= 1.5, which is not installed: "
            "pip install 'bnconvex[sklearn]'"
        ) from None
    return getattr(importlib.import_module(f".{_MODULES[name]}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
