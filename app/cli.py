"""The ``bnconvex`` command line (also ``python -m bnconvex.app``).

Subcommands live in :mod:`bnconvex.app.commands`, one module each, exposing
``add_parser(subparsers)`` and ``run(args) -> int``.  Exit status: 0 success,
1 when a claim failed (``verify``) or a job did not reach its target, 2 for a
usage error or bad input (one line on stderr naming the argument).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from bnconvex.app._progress import process_age
from bnconvex.numerics.errors import BnConvexError, InputError

__all__ = ["COMMANDS", "build_parser", "main"]

#: subcommand name -> module in ``bnconvex.app.commands``
COMMANDS: dict[str, str] = {
    "list": "list_claims",
    "verify": "verify",
    "report": "report",
    "solve": "solve",
    "certify": "certify",
    "train": "train",
    "figures": "figures",
}


def _version() -> str:
    try:
        return metadata.version("bnconvex")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line on stderr, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand of :data:`COMMANDS`."""
    parser = _Parser(
        prog="bnconvex",
        description="Exact convex models, certificates and proof checks for "
        "batch-normalised ReLU networks.",
    )
    version = f"bnconvex {_version()}"
    parser.add_argument("-V", "--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
        importlib.import_module(f"bnconvex.app.commands.{module}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    started = time.perf_counter() - (process_age() if argv is None else 0.0)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.started = started  # a command's wall-time budget counts from here
    try:
        return int(args.run(args))
    except InputError as exc:
        print(f"bnconvex {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BnConvexError as exc:
        print(f"bnconvex {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive
        print(f"bnconvex {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_stdout()
    except Exception as exc:  # a bug: one line, not a traceback
        if os.environ.get("BNCONVEX_TRACEBACK"):
            raise
        print(
            f"bnconvex {args.command}: internal error: {type(exc).__name__}: {exc} "
            "(please report it; BNCONVEX_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1


def _closed_stdout() -> int:
    """Stop quietly when the reader of stdout has gone (``bnconvex list | head``).

    Python's recipe (``signal`` docs, "Note on SIGPIPE"): point stdout at
    ``/dev/null`` so the interpreter's final flush does not raise again, and
    exit 1 as ``sys.exit`` would after an unhandled error, without a traceback.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
