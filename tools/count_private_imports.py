"""Count private (underscore) names imported across modules of bnconvex.

Usage::

    python tools/count_private_imports.py [--list] [--scope SCOPE]

A *cross-module private import* is, in a file of the scope:

* ``from M import _name`` (absolute or relative) where ``M`` is a module of the
  ``bnconvex`` package other than the importing module itself, and ``_name`` is
  not a submodule of ``M`` (importing a private *module* such as ``_pdip`` is
  allowed; what is counted is a private *name* taken out of another module);
* an attribute access ``alias._name`` or ``bnconvex.a.b._name`` where ``alias``
  is bound to a ``bnconvex`` module by an ``import`` statement of the same file
  and ``_name`` is not a submodule.

Dunder names (``__version__``, ``__all__``) are not private. Package code is the
folders installed as ``bnconvex.*`` (theory, numerics, verify, paper_figures,
app, estimators); ``tests`` and ``benchmarks`` are counted separately because
tests may reach into internals on purpose. The exit status is 0 whatever the
count; ``tests/test_hygiene.py`` asserts the package count is 0.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("theory", "numerics", "verify", "paper_figures", "app", "estimators")
SCOPES = {
    "package": PACKAGE_DIRS,
    "tests": ("tests",),
    "benchmarks": ("benchmarks",),
}


@dataclass(frozen=True)
class PrivateImport:
    """One private name taken from another module."""

    path: str
    line: int
    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module}.{self.name}"


def module_name(path: Path, root: Path = ROOT) -> str:
    """Dotted module name of ``path`` (``bnconvex.<dir>...`` for package code)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts and parts[0] in PACKAGE_DIRS:
        parts = ["bnconvex", *parts]
    return ".".join(parts)


def is_private(name: str) -> bool:
    """Whether ``name`` is a single-underscore (not dunder) name."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def package_modules(root: Path = ROOT) -> set[str]:
    """Dotted names of every module and package of ``bnconvex`` under ``root``."""
    names = {"bnconvex"}
    for top in PACKAGE_DIRS:
        for path in (root / top).rglob("*.py") if (root / top).is_dir() else ():
            names.add(module_name(path, root))
    return names


def _resolve_from(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    drop = node.level - 1 if is_package else node.level
    base = base[: len(base) - drop] if drop else base
    return ".".join([*base, node.module] if node.module else base)


def _dotted(node: ast.AST) -> list[str] | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def scan_file(path: Path, modules: set[str], root: Path = ROOT) -> list[PrivateImport]:
    """Cross-module private imports and attribute accesses in one file."""
    current = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = str(path.relative_to(root))
    found: list[PrivateImport] = []
    aliases: dict[str, str] = {}  # local name -> bnconvex module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve_from(node, current, is_package)
            if source not in modules:
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if full in modules:
                    aliases[alias.asname or alias.name] = full
                elif is_private(alias.name) and source != current:
                    found.append(PrivateImport(rel, node.lineno, source, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "bnconvex":
                    local = alias.asname or alias.name.split(".")[0]
                    aliases[local] = alias.name if alias.asname else "bnconvex"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not is_private(node.attr):
            continue
        chain = _dotted(node.value)
        if chain is None or chain[0] not in aliases:
            continue
        owner = ".".join([aliases[chain[0]], *chain[1:]])
        if (
            owner in modules
            and f"{owner}.{node.attr}" not in modules
            and owner != current
        ):
            found.append(PrivateImport(rel, node.lineno, owner, node.attr))
    return found


def scan(scope: str = "package", root: Path = ROOT) -> list[PrivateImport]:
    """All cross-module private imports in the folders of ``scope``."""
    modules = package_modules(root)
    found: list[PrivateImport] = []
    for top in SCOPES[scope]:
        folder = root / top
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            # benchmarks/envs holds the peers' virtual environments (not ours)
            if "envs" in path.relative_to(folder).parts[:1]:
                continue
            found.extend(scan_file(path, modules, root))
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the count (and with ``--list`` each occurrence) per scope."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scope", choices=[*SCOPES, "all"], default="all")
    parser.add_argument("--list", action="store_true", help="print each occurrence")
    args = parser.parse_args(argv)
    for scope in SCOPES if args.scope == "all" else (args.scope,):
        found = scan(scope)
        print(f"{scope}: {len(found)} cross-module private imports")
        if args.list:
            for item in found:
                print(f"  {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
