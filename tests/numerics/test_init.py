"""The package namespaces ``bnconvex.numerics`` and ``bnconvex.verify``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import bnconvex.numerics as numerics
import bnconvex.verify as verify
import pytest


@pytest.mark.parametrize("module", sorted(numerics._LAZY_MODULES))
def test_numerics_lazy_table_matches_each_module_all(module):
    mod = importlib.import_module(f"bnconvex.numerics.{module}")
    listed = numerics._LAZY_MODULES[module].split()
    qualified = numerics._QUALIFIED.get(module, "").split()
    assert sorted(listed + qualified) == sorted(mod.__all__), module


def test_qualified_names_clash_with_a_re_exported_name_or_a_submodule():
    for module, names in numerics._QUALIFIED.items():
        for name in names.split():
            owner = numerics._LAZY_NAMES.get(name)
            if owner is None:
                submodules = {key.rsplit(".", 1)[-1] for key in numerics._LAZY_MODULES}
                assert name in submodules, (module, name)
            else:
                assert owner != module, (module, name)


def test_a_name_listed_twice_is_refused():
    from bnconvex.numerics._lazy import attach

    with pytest.raises(ValueError, match="'f' is listed for both 'a' and 'b'"):
        attach("pkg", {"a": "f g", "b": "f"})


@pytest.mark.parametrize("package", [numerics, verify], ids=["numerics", "verify"])
def test_every_public_name_resolves_to_its_defining_object(package):
    for name in package.__all__:
        value = getattr(package, name)
        module = package._LAZY_NAMES.get(name)
        if module is not None:
            defining = importlib.import_module(f"{package.__name__}.{module}")
            assert value is getattr(defining, name), name
    assert len(set(package.__all__)) == len(package.__all__), "duplicate names"


@pytest.mark.parametrize("package", [numerics, verify], ids=["numerics", "verify"])
def test_unknown_name_is_an_attribute_error(package):
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        package.no_such_name  # noqa: B018


@pytest.mark.parametrize("package", ["bnconvex.numerics", "bnconvex.verify"])
def test_import_pulls_in_no_heavy_dependency(package):
    heavy = ["numpy", "scipy", "mpmath", "sympy", "torch", "cupy", "hypothesis"]
    code = (
        f"import sys; import {package}; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"`import {package}` imported {out}"
