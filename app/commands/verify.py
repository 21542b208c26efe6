"""``bnconvex verify``: run the proof checks and write DIR/report.{jsonl,md,html}.

Exit status: 0 when no claim failed, 1 when one failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bnconvex.app._progress import Progress, progress_enabled
from bnconvex.app.commands.report import prepare_out_dir, write_report_files
from bnconvex.numerics.errors import InputError
from bnconvex.verify import runner
from bnconvex.verify.records import aggregate_status, header_record, summarize
from bnconvex.verify.registry import TIERS

__all__ = ["add_parser", "run"]

_BACKEND_HINTS = {
    "cupy": "install CuPy with: python -m pip install 'bnconvex[gpu]'",
    "array-api-strict": "install it with: python -m pip install array-api-strict",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer; got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def _dps(text: str) -> int:
    value = _positive_int(text)
    low = min(runner.MP_NEIGHBOUR_DPS)
    if value < low:
        raise argparse.ArgumentTypeError(
            f"must be at least {low} (the mp tier also runs at "
            f"{runner.MP_NEIGHBOUR_DPS}); got {text!r}"
        )
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``verify`` subcommand."""
    p = subparsers.add_parser(
        "verify",
        help="run the proof checks and write the reports",
        description="Run the symbolic, high-precision and float64 checks of the "
        "selected claims on built-in synthetic instances and write DIR/report.jsonl, "
        "DIR/report.md and DIR/report.html.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="few examples per claim (CI smoke run)",
    )
    mode.add_argument(
        "--thorough",
        dest="mode",
        action="store_const",
        const="thorough",
        help="many examples per claim",
    )
    p.set_defaults(mode="default")
    p.add_argument(
        "--claim",
        nargs="+",
        action="extend",
        default=[],
        metavar="ID",
        help="only these claim ids (see `bnconvex list`)",
    )
    p.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="T",
        help="only claims carrying tag T (repeatable)",
    )
    p.add_argument(
        "--tier",
        action="append",
        default=[],
        choices=TIERS,
        help="only this tier (repeatable)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="bnconvex-report",
        help="output folder (default: ./bnconvex-report)",
    )
    p.add_argument(
        "--dps",
        type=_dps,
        default=runner.DEFAULT_DPS,
        help=f"mpmath decimal digits of the mp tier (default {runner.DEFAULT_DPS}; "
        f"also run at {runner.MP_NEIGHBOUR_DPS})",
    )
    p.add_argument(
        "--backend",
        choices=runner.BACKENDS,
        default="numpy",
        help="array backend of the xp tier",
    )
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="local worker processes (default 1)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on a Dask distributed scheduler (needs bnconvex[dask])",
    )
    p.add_argument(
        "--figures",
        action="store_true",
        help="also draw the paper figures into DIR/figures and embed them in "
        "report.html (same as `bnconvex figures --out DIR/figures` first)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run)


def _draw_figures(out: Path, quiet: bool) -> None:
    """Draw every paper figure into ``out/figures`` (cached data is reused)."""
    from bnconvex.app.commands import figures

    fig_args = argparse.Namespace(
        out=out / "figures", only=None, recompute=False, results=None, quiet=quiet
    )
    if figures.run(fig_args):
        print("bnconvex verify: some figures failed; see above", file=sys.stderr)


def _check_backend(backend: str) -> None:
    if backend == "numpy":
        return
    module = "cupy" if backend == "cupy" else "array_api_strict"
    try:
        __import__(module)
    except ImportError:
        raise InputError(
            f"`--backend {backend}` is not installed; {_BACKEND_HINTS[backend]}"
        ) from None


def _print_summary(records: list[dict[str, Any]], out: Any) -> str:
    sums = summarize(records)
    for cid, s in sums.items():
        if s.status != "passed":
            print(f"{s.status:>12}  {cid}")
    counts = {
        k: sum(s.status == k for s in sums.values())
        for k in ("passed", "failed", "inconclusive", "skipped")
    }
    text = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    print(f"{len(sums)} claims: {text}. Report: {out / 'report.md'}")
    return aggregate_status(s.status for s in sums.values())


def run(args: argparse.Namespace) -> int:
    """Run the selected checks; exit 1 if any claim failed."""
    _check_backend(args.backend)
    out = prepare_out_dir(args.out)
    claims = runner.select_claims(args.claim, args.tag, args.tier)
    if not claims:
        raise InputError("`--claim/--tag/--tier` select no claim; see `bnconvex list`")
    options = runner.RunOptions(
        mode=args.mode,
        dps=args.dps,
        backend=args.backend,
        jobs=args.jobs,
        scheduler=args.scheduler,
    )
    units = runner.plan_units(claims, args.tier, options)
    bar = Progress(len(units), enabled=progress_enabled(args.quiet))
    records = runner.run_units(
        units,
        options,
        progress=lambda u, recs: bar.update(
            f"{u.claim_id} [{u.tier}] {aggregate_status(r['status'] for r in recs)}"
        ),
    )
    bar.close()
    header = header_record(
        mode=args.mode,
        dps=args.dps,
        dps_levels=runner.dps_levels(args.dps),
        backend=args.backend,
        claims=claims,
        argv=sys.argv,
    )
    if args.figures:
        _draw_figures(out, args.quiet)
    write_report_files(out, header, records)
    overall = _print_summary(records, out)
    return 1 if overall == "failed" else 0
