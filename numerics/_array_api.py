"""Array-API helpers: one code path for NumPy, CuPy and ``array-api-strict``.

Follows SciPy's ``scipy/_lib/_array_api.py``: public numeric functions open with
``xp = array_namespace(*arrays)`` and then use only ``xp.*``.  There is no global
backend state; the device is chosen at the edge (the CLI ``--backend`` option).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

import array_api_compat
import numpy as np

__all__ = [
    "Array",
    "array_namespace",
    "capabilities",
    "is_numpy_namespace",
    "to_numpy",
    "xp_capabilities",
]

Array = Any  # an array of any array-API-compatible library
F = TypeVar("F", bound=Callable[..., Any])

#: Registry of which public functions run on which backends (SciPy's
#: ``xp_capabilities`` in spirit); filled by :func:`xp_capabilities`.
capabilities: dict[str, dict[str, bool]] = {}


def array_namespace(*arrays: Array) -> ModuleType:
    """Return the array-API namespace shared by ``arrays``.

    Python scalars and ``None`` are ignored.  Mixing libraries (e.g. NumPy and
    CuPy arrays) raises ``TypeError``, as :func:`array_api_compat.array_namespace`
    does.
    """
    arrays = tuple(
        a for a in arrays if a is not None and not isinstance(a, (int, float, bool))
    )
    if not arrays:
        return array_api_compat.array_namespace(np.empty(0))
    return array_api_compat.array_namespace(*arrays)


def is_numpy_namespace(xp: ModuleType) -> bool:
    """Whether ``xp`` is NumPy (or array-api-compat's NumPy wrapper)."""
    return array_api_compat.is_numpy_namespace(xp)


def to_numpy(x: Array) -> np.ndarray:
    """Copy an array of any supported backend to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy
        return x.get()
    try:
        return np.from_dlpack(x)
    except (TypeError, AttributeError, RuntimeError, BufferError):
        return np.asarray(x)


def xp_capabilities(
    *, cpu: bool = True, gpu: bool = True, strict: bool = True
) -> Callable[[F], F]:
    """Record which backends a public function supports.

    Parameters
    ----------
    cpu, gpu, strict
        Whether the function runs with NumPy, CuPy, and ``array-api-strict``.
    """

    def decorate(func: F) -> F:
        capabilities[f"{func.__module__}.{func.__qualname__}"] = {
            "numpy": cpu,
            "cupy": gpu,
            "array_api_strict": strict,
        }
        return func

    return decorate
