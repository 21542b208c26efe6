"""Proof checks of the paper's claims: registry, runner, records and reports.

``verify`` joins ``theory`` (SymPy) and ``numerics`` (arrays, mpmath); neither
imports it.  A claim is a :class:`Claim` registered in :mod:`.claims`; the
runner drives its tiers with Hypothesis and writes one JSON record per
(claim, tier, instance) (:mod:`.records`); the Markdown and HTML reports are
rendered from those records only.  The command line that drives it is
:mod:`bnconvex.app` (``bnconvex``, ``python -m bnconvex.app``).

Only the registry is imported eagerly; the runner and the record I/O
(which pull in NumPy, Hypothesis and jsonschema) load on first access
(PEP 562 ``__getattr__``), so ``import bnconvex.verify`` stays cheap.
"""

from __future__ import annotations

from bnconvex.numerics._lazy import attach
from bnconvex.verify.registry import Claim, Evidence, all_claims, get_claim, register

#: public names of the lazily imported modules, whitespace-separated.
_LAZY_MODULES: dict[str, str] = {
    "records": "read_jsonl summarize validate_records write_jsonl",
    "runner": "RunOptions plan_units run_unit run_units select_claims",
}

_LAZY_NAMES, __getattr__, __dir__ = attach(__name__, _LAZY_MODULES)

__all__ = ["Claim", "Evidence", "all_claims", "get_claim", "register"]
__all__ += sorted(_LAZY_NAMES)
