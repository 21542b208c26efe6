"""Proof checks of the paper's claims: registry, runner, reports and the CLI.

``verify`` joins ``theory`` (SymPy) and ``numerics`` (arrays, mpmath); neither
imports it.  A claim is a :class:`Claim` registered in :mod:`.claims`; the
runner drives its tiers with Hypothesis and writes one JSON record per
(claim, tier, instance) (:mod:`.records`); the Markdown and HTML reports are
rendered from those records only.  The command line is ``bnconvex``
(``python -m bnconvex.verify``).

Only the registry is imported eagerly; the runner, the record I/O and the CLI
(which pull in NumPy, Hypothesis and jsonschema) load on first access
(PEP 562 ``__getattr__``), so ``import bnconvex.verify`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from bnconvex.verify.registry import Claim, Evidence, all_claims, get_claim, register

#: public names of the lazily imported modules.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "cli": ("main",),
    "records": ("read_jsonl", "summarize", "validate_records", "write_jsonl"),
    "runner": ("RunOptions", "plan_units", "run_unit", "run_units", "select_claims"),
}

_LAZY_NAMES: dict[str, str] = {
    name: module for module, names in _LAZY_MODULES.items() for name in names
}

__all__ = ["Claim", "Evidence", "all_claims", "get_claim", "register"]
__all__ += sorted(_LAZY_NAMES)


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access (PEP 562)."""
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
