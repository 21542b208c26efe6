"""The theory package imports SymPy only (design.md: theory never imports numerics)."""

from __future__ import annotations

import subprocess
import sys

import bnconvex.theory as theory

_PROBE = (
    "import sys, bnconvex.theory\n"
    "bad = sorted(m for m in sys.modules if m.startswith(('bnconvex.numerics', "
    "'bnconvex.verify', 'numpy', 'scipy')))\n"
    "print(','.join(bad))\n"
)


def test_importing_theory_loads_no_numerics_verify_or_numpy():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"bnconvex.theory imported: {out.stdout.strip()}"


def test_all_names_resolve():
    missing = [name for name in theory.__all__ if not hasattr(theory, name)]
    assert missing == [], f"__all__ lists undefined names {missing}"
    assert theory.__all__ == sorted(theory.__all__), "__all__ should be sorted"
