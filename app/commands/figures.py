"""``bnconvex figures [--out DIR] [--only NAME] [--recompute] [--results DIR]``.

Computes the data of each paper figure (cached as ``DIR/<name>.data.json``,
reused unless ``--recompute``), then plots it to PNG + PDF with a caption file.
Full-scale figures read the committed benchmark results; when those are
missing the figure is reported as not produced, with the benchmark to run.
Exit status: 0 when every selected figure was produced or only lacks
benchmark results, except that a figure named with ``--only`` must be
produced; 1 otherwise.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from bnconvex.app._progress import progress_enabled
from bnconvex.paper_figures.data import ensure_data
from bnconvex.paper_figures.make_all import FIGURES
from bnconvex.paper_figures.make_all import run as run_figures

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``figures`` subcommand."""
    p = subparsers.add_parser(
        "figures",
        help="compute and draw the paper figures (PNG, PDF, caption)",
        description="Compute each paper figure's data (cached next to it), plot it.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("figures"),
        help="output folder (default: ./figures)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=list(FIGURES),
        metavar="NAME",
        help=f"only this figure (repeatable): {', '.join(FIGURES)}",
    )
    p.add_argument(
        "--recompute",
        action="store_true",
        help="recompute cached data of the small figures",
    )
    p.add_argument(
        "--results",
        type=Path,
        default=None,
        help="benchmark results folder (default: benchmarks/results of the repo)",
    )
    p.add_argument(
        "--quiet", action="store_true", help="no per-figure progress lines on stderr"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Make the figures; see the module docstring for the exit status."""
    from bnconvex.numerics._validation import check_output_dir

    check_output_dir(args.out, "--out")
    prepare = functools.partial(
        _prepare, recompute=args.recompute, results_dir=args.results
    )
    show = progress_enabled(args.quiet)
    log = (lambda line: print(line, file=sys.stderr)) if show else None
    outcomes = run_figures(args.out, only=args.only, prepare=prepare, log=log)
    for o in outcomes:
        if o.status != "produced":
            print(
                f"bnconvex figures: {o.name} NOT PRODUCED: {o.message}", file=sys.stderr
            )
    made = [o.name for o in outcomes if o.status == "produced"]
    print(
        f"{len(made)} of {len(outcomes)} figures produced in {args.out}"
        + (f": {', '.join(made)}" if made else "")
    )
    required = set(args.only or ())
    bad = [
        o
        for o in outcomes
        if o.status == "failed" or (o.status != "produced" and o.name in required)
    ]
    return int(bool(bad))


def _prepare(
    name: str, out_dir: Path, *, recompute: bool, results_dir: Path | None
) -> Path:
    return ensure_data(name, out_dir, recompute=recompute, results_dir=results_dir)
