"""``bnconvex list``: the registered claims with paper references and tiers."""

from __future__ import annotations

import argparse
import json

from bnconvex.verify.records import claim_metadata
from bnconvex.verify.registry import all_claims

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``list`` subcommand."""
    p = subparsers.add_parser(
        "list",
        help="list the claims, their ids, paper references and tiers",
        description="List the registered claims: id, paper reference, tiers, title.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line instead of a table",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the claim table (or JSON lines) on stdout; exit status 0."""
    claims = list(all_claims())
    if args.json:
        for c in claims:
            print(json.dumps({"id": c.id, **claim_metadata(c)}))
        return 0
    rows = [(c.id, c.paper_ref, ",".join(c.tiers), c.title) for c in claims]
    head = ("id", "paper ref", "tiers", "title")
    widths = [max(len(r[k]) for r in [head, *rows]) for k in range(3)]
    for row in [head, *rows]:
        cells = [row[k].ljust(widths[k]) for k in range(3)]
        print("  ".join([*cells, row[3]]))
    return 0
