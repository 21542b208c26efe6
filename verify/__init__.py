"""Proof checks of the paper's claims: registry, runner, reports and the CLI.

``verify`` joins ``theory`` (SymPy) and ``numerics`` (arrays, mpmath); neither
imports it.  A claim is a :class:`Claim` registered in :mod:`.claims`; the
runner drives its tiers with Hypothesis and writes one JSON record per
(claim, tier, instance) (:mod:`.records`); the Markdown and HTML reports are
rendered from those records only.  The command line is ``bnconvex``
(``python -m bnconvex.verify``).
"""

from bnconvex.verify.records import read_jsonl, summarize, write_jsonl
from bnconvex.verify.registry import Claim, Evidence, all_claims, get_claim, register
from bnconvex.verify.runner import RunOptions, plan_units, run_units, select_claims

__all__ = [
    "Claim",
    "Evidence",
    "RunOptions",
    "all_claims",
    "get_claim",
    "plan_units",
    "read_jsonl",
    "register",
    "run_units",
    "select_claims",
    "summarize",
    "write_jsonl",
]
