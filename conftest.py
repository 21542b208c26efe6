"""Root pytest configuration: doctests of the package code.

The folders ``theory/``, ``numerics/``, ``verify/``, ``paper_figures/``,
``app/`` and ``estimators/`` are installed as the subpackages ``bnconvex.theory``, ...
(``package-dir`` in ``pyproject.toml``).  Pytest's own ``--doctest-modules``
would import ``numerics/core/bn.py`` a second time as the top-level module
``numerics.core.bn``; every module would then exist twice, and the claim registry of
``verify/claims`` would see each claim registered twice.  The hook below
collects the ``Examples`` of each module instead from the module imported by
its installed name (``bnconvex.numerics.core.bn``), so a doctest sees exactly the
objects a user sees.

Doctests are collected whenever pytest walks one of those folders, which the
default ``testpaths`` in ``pyproject.toml`` does; ``pytest tests/`` runs none.
``__main__.py`` files are never imported (importing one runs the CLI).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from _pytest.doctest import DoctestModule

_ROOT = Path(__file__).resolve().parent
#: folder under the repository root -> installed package name
_PACKAGES = {
    "theory": "bnconvex.theory",
    "numerics": "bnconvex.numerics",
    "verify": "bnconvex.verify",
    "paper_figures": "bnconvex.paper_figures",
    "app": "bnconvex.app",
    "estimators": "bnconvex.estimators",
}
#: modules whose import needs an optional extra (install hint in the skip reason)
_OPTIONAL_IMPORTS = ("cupy", "torch", "dask", "distributed", "sklearn")


def installed_module_name(path: Path) -> str | None:
    """Return the installed dotted name of a package source file, or None.

    >>> installed_module_name(_ROOT / "numerics" / "core" / "bn.py")
    'bnconvex.numerics.core.bn'
    >>> installed_module_name(_ROOT / "verify" / "claims" / "__init__.py")
    'bnconvex.verify.claims'
    >>> installed_module_name(_ROOT / "tests" / "conftest.py") is None
    True
    """
    try:
        parts = path.resolve().relative_to(_ROOT).with_suffix("").parts
    except ValueError:
        return None
    if len(parts) < 2 or parts[0] not in _PACKAGES or parts[-1] == "__main__":
        return None
    rest = parts[1:-1] if parts[-1] == "__init__" else parts[1:]
    return ".".join((_PACKAGES[parts[0]], *rest))


class InstalledDoctestModule(DoctestModule):
    """A doctest module imported by its installed ``bnconvex.*`` name."""

    def _getobj(self):
        name = installed_module_name(self.path)
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            if exc.name and exc.name.split(".")[0] in _OPTIONAL_IMPORTS:
                pytest.skip(f"{name} needs the optional package {exc.name!r}")
            raise


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """Collect the doctests of every package module under its installed name."""
    if file_path.suffix != ".py" or installed_module_name(file_path) is None:
        return None
    return InstalledDoctestModule.from_parent(parent, path=file_path)
