"""Structural statistics of the bnconvex package code (AST only, nothing imported).

Usage::

    python tools/code_stats.py [--list]

Printed, for the folders installed as ``bnconvex.*`` (``tests``, ``benchmarks``
and ``tools`` excluded):

* cross-module private imports: the package count of
  ``tools/count_private_imports.py`` (see its docstring for the definition);
* result classes: classes named ``Certificate`` or ``*Solution``, ``*Result``,
  ``*Certificate``, except the claim classes of ``verify/claims/`` (a claim
  named ``DualCertificate`` is a check, not a result);
* certificate implementations: functions whose name matches
  ``CERTIFICATE_NAME`` (the names the float64, full-scale, loss and mpmath
  certificates use, and those of the shared kernel ``dual_scale`` /
  ``residual_lower_bound``) and that call no other function matching it,
  i.e. the leaves that compute the bound, not the wrappers that delegate to one
  (predicates named ``is_*`` are not counted).  This is a
  name heuristic: ``--list`` prints every function counted so a reader can judge;
* function length: lines per ``def`` (``end_lineno - lineno + 1``, decorators
  excluded, nested functions and methods counted on their own), median and
  90th percentile, with and without the docstring.
"""

from __future__ import annotations

import argparse
import ast
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from count_private_imports import PACKAGE_DIRS, ROOT, scan

RESULT_NAME = re.compile(r"^(Certificate|\w+(Solution|Result|Certificate))$")
CERTIFICATE_NAME = re.compile(
    r"certif|dual_bound|dual_scale|residual_lower_bound|max_bound|exact_bound"
    r"|^certificate$|^certificate_of$"
)


def package_files(root: Path = ROOT) -> list[Path]:
    """Every ``.py`` file of the package folders under ``root``."""
    return sorted(
        path
        for top in PACKAGE_DIRS
        if (root / top).is_dir()
        for path in (root / top).rglob("*.py")
    )


def _trees(root: Path) -> list[tuple[str, ast.Module]]:
    return [
        (str(p.relative_to(root)), ast.parse(p.read_text(encoding="utf-8")))
        for p in package_files(root)
    ]


def result_classes(trees: list[tuple[str, ast.Module]]) -> list[str]:
    """``path:line name`` of every result class."""
    return [
        f"{path}:{node.lineno} {node.name}"
        for path, tree in trees
        if not path.startswith("verify/claims/")
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and RESULT_NAME.match(node.name)
    ]


def _called_names(func: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            target = node.func
            if isinstance(target, ast.Attribute):
                names.add(target.attr)
            elif isinstance(target, ast.Name):
                names.add(target.id)
    return names


def _functions(trees):
    for path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def certificate_implementations(trees: list[tuple[str, ast.Module]]) -> list[str]:
    """``path:line name`` of each leaf certificate function (see module doc)."""
    found = []
    for path, func in _functions(trees):
        if func.name.startswith("is_") or not CERTIFICATE_NAME.search(func.name):
            continue
        callees = {n for n in _called_names(func) if n != func.name}
        if not any(CERTIFICATE_NAME.search(name) for name in callees):
            found.append(f"{path}:{func.lineno} {func.name}")
    return found


def _docstring_lines(func: ast.AST) -> int:
    body = func.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0].end_lineno - body[0].lineno + 1
    return 0


def function_lengths(trees) -> tuple[list[int], list[int]]:
    """Lines per def, with and without the docstring."""
    total, code = [], []
    for _, func in _functions(trees):
        n = func.end_lineno - func.lineno + 1
        total.append(n)
        code.append(n - _docstring_lines(func))
    return total, code


def _percentile(values: list[int], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def main(argv: list[str] | None = None) -> int:
    """Print the statistics; ``--list`` also prints the items counted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    trees = _trees(ROOT)
    private = scan("package")
    results = result_classes(trees)
    certs = certificate_implementations(trees)
    total, code = function_lengths(trees)
    print(f"cross-module private imports (package): {len(private)}")
    print(f"result classes: {len(results)}")
    if args.list:
        print("".join(f"  {item}\n" for item in results), end="")
    print(f"certificate implementations (leaf functions): {len(certs)}")
    if args.list:
        print("".join(f"  {item}\n" for item in certs), end="")
    print(
        f"function length over {len(total)} defs: median {statistics.median(total):g}, "
        f"p90 {_percentile(total, 90):g} lines (without docstring: median "
        f"{statistics.median(code):g}, p90 {_percentile(code, 90):g})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
