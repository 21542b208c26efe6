"""``xp_assert_close``-style comparison that also checks shape, dtype and namespace.

A bare ``assert np.allclose(...)`` hides the difference; these helpers report
the largest absolute and relative error and where it happened (style.md 17).
"""

from __future__ import annotations

import numpy as np
from bnconvex.numerics._array_api import array_namespace, to_numpy


def xp_assert_close(
    actual,
    desired,
    *,
    rtol=None,
    atol=0.0,
    check_dtype=True,
    check_namespace=True,
    err_msg="",
):
    """Assert ``|actual - desired| <= atol + rtol * |desired|`` elementwise.

    ``rtol`` defaults to ``4 * sqrt(eps)`` of the desired dtype (about 6e-8 for
    float64), the array-api-extra default for closed forms.
    """
    xp_a, xp_d = array_namespace(actual), array_namespace(desired)
    if check_namespace:
        assert xp_a.__name__ == xp_d.__name__, (
            f"namespaces differ: {xp_a.__name__} vs {xp_d.__name__}"
        )
    a, d = to_numpy(actual), to_numpy(desired)
    assert a.shape == d.shape, f"shapes differ: {a.shape} vs {d.shape}. {err_msg}"
    if check_dtype:
        assert a.dtype == d.dtype, f"dtypes differ: {a.dtype} vs {d.dtype}. {err_msg}"
    if rtol is None:
        rtol = (
            4 * np.sqrt(np.finfo(d.dtype).eps)
            if np.issubdtype(d.dtype, np.floating)
            else 0.0
        )
    np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=err_msg)


def assert_rel_close(
    actual: float, desired: float, rtol: float, what: str = "value"
) -> None:
    """Scalar relative comparison with a message that shows both numbers."""
    actual, desired = float(actual), float(desired)
    err = abs(actual - desired) / max(abs(desired), np.finfo(float).tiny)
    assert err <= rtol, (
        f"{what}: {actual!r} vs {desired!r}, relative error {err:.3e} > rtol {rtol:.1e}"
    )
