"""Imports of the ``test`` extra: a missing package fails the tests, loudly.

``pytest.importorskip`` is for optional packages (CuPy, PyTorch).  The packages
of the ``test`` extra (``pip install -e .[test]``: CVXPY, Clarabel, ...) carry
independent checks; when one is missing those checks would silently vanish,
so :func:`import_test_extra` fails instead.  Only when the environment variable
``BNCONVEX_ALLOW_MISSING_TEST_EXTRA=1`` is set *and* the package is not
installed at all (no distribution metadata) is the module skipped; a package
that is installed but fails to import always fails.
"""

from __future__ import annotations

import importlib
import os
from importlib import metadata
from types import ModuleType

import pytest

__all__ = ["ALLOW_MISSING", "import_test_extra"]

#: environment variable that turns a missing (not installed) test extra into a skip
ALLOW_MISSING = "BNCONVEX_ALLOW_MISSING_TEST_EXTRA"


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def import_test_extra(module: str, distribution: str | None = None) -> ModuleType:
    """Import ``module`` of the ``test`` extra; fail (or skip, see above) if absent.

    Call it at module level of a test file; ``distribution`` defaults to
    ``module``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        installed = _installed(distribution or module)
        if not installed and os.environ.get(ALLOW_MISSING) == "1":
            pytest.skip(
                f"{module!r} (test extra) is not installed and {ALLOW_MISSING}=1",
                allow_module_level=True,
            )
        state = "is installed but does not import" if installed else "is missing"
        pytest.fail(
            f"{module!r} of the test extra {state} ({exc}); install it with "
            f"`pip install -e .[test]` (or set {ALLOW_MISSING}=1 to skip "
            "these checks knowingly)",
            pytrace=False,
        )
