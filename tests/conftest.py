"""Shared pytest configuration: Hypothesis profiles, mpmath reset, xp fixture.

Profiles (style.md 23) are chosen with ``HYPOTHESIS_PROFILE`` or
``--hypothesis-profile``: ``dev`` (25 examples), ``ci`` (derandomised, no
deadline, no database; default when ``CI`` is set) and ``thorough``
(2,000 examples).
"""

from __future__ import annotations

import os

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("ci"),
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(autouse=True)
def _reset_mp_globals():
    """Restore mpmath's global precision after every test (mpmath conftest)."""
    dps = mpmath.mp.dps
    yield
    mpmath.mp.dps = dps


def _namespaces():
    params = [pytest.param(np, id="numpy")]
    try:
        import array_api_strict

        params.append(pytest.param(array_api_strict, id="array_api_strict"))
    except ImportError:  # pragma: no cover
        pass
    try:  # pragma: no cover - no GPU on CI machines
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            params.append(pytest.param(cupy, id="cupy", marks=pytest.mark.gpu))
    except Exception:
        pass
    return params


@pytest.fixture(params=_namespaces())
def xp(request):
    """Array namespace under test: NumPy, array-api-strict, CuPy when a GPU exists."""
    return request.param


def pytest_report_header(config):
    import platform

    import hypothesis
    import scipy
    import sympy

    return (
        f"bnconvex test env: python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"sympy {sympy.__version__}, mpmath {mpmath.__version__}, "
        f"hypothesis {hypothesis.__version__}, profile {settings._current_profile}"
    )
