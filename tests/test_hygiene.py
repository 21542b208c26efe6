"""Layering hygiene: no private name crosses a module, nothing imports the CLI.

The counts come from ``tools/count_private_imports.py`` (AST only); its
definition is in that script's docstring.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common import extras

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "count_private_imports.py"


def _tool():
    spec = importlib.util.spec_from_file_location("count_private_imports", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_package_code_imports_no_private_name_across_modules():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--scope", "package", "--list"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert out.startswith("package: 0 cross-module private imports"), out


def test_the_counter_sees_each_form_of_private_import(tmp_path):
    tool = _tool()
    pkg = tmp_path / "numerics"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "_priv.py").write_text("def public():\n    pass\n")
    (pkg / "a.py").write_text("def _helper():\n    pass\n_X = 1\n__version__ = '1'\n")
    (pkg / "sub" / "b.py").write_text(
        "from bnconvex.numerics.a import _helper, __version__\n"  # 1
        "from ..a import _X\n"  # 2 (relative)
        "from bnconvex.numerics import _priv, a\n"  # a private MODULE: allowed
        "from bnconvex.numerics._priv import public\n"  # public name: allowed
        "import bnconvex.numerics.a as mod_a\n"
        "_priv.public(); a._helper(); mod_a._X\n"  # 3, 4
        "def _own():\n    return _own\n"  # its own private name: allowed
    )
    found = tool.scan_file(
        pkg / "sub" / "b.py", tool.package_modules(tmp_path), tmp_path
    )
    assert sorted((f.line, f.name) for f in found) == [
        (1, "_helper"),
        (2, "_X"),
        (6, "_X"),
        (6, "_helper"),
    ]


def test_nothing_imports_the_command_line():
    """Only ``app`` itself may import ``bnconvex.app`` (library, benchmarks too)."""
    offenders = []
    tops = ("theory", "numerics", "verify", "paper_figures", "estimators", "benchmarks")
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.is_relative_to(ROOT / "benchmarks" / "envs"):
                continue  # the peers' virtual environments (make_envs.sh), not ours
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                if any(
                    n == "bnconvex.app" or n.startswith("bnconvex.app.") for n in names
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_a_missing_test_extra_fails(monkeypatch):
    monkeypatch.delenv(extras.ALLOW_MISSING, raising=False)
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        extras.import_test_extra("bnconvex_no_such_module")


def test_a_missing_test_extra_is_skipped_only_when_allowed(monkeypatch):
    monkeypatch.setenv(extras.ALLOW_MISSING, "1")
    with pytest.raises(pytest.skip.Exception, match="is not installed"):
        extras.import_test_extra("bnconvex_no_such_module")


def test_an_installed_extra_that_does_not_import_always_fails(monkeypatch):
    monkeypatch.setenv(extras.ALLOW_MISSING, "1")

    def broken(name):
        raise ImportError(f"cannot import {name}")

    monkeypatch.setattr(extras.importlib, "import_module", broken)
    with pytest.raises(pytest.fail.Exception, match="installed but does not import"):
        extras.import_test_extra("numpy")
