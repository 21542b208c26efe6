"""``bnconvex report JSONL [--out DIR]``: re-render report.md (and report.html).

Also home of :func:`write_report_files`, which ``bnconvex verify`` uses: every
output is rendered in memory first and only then written, each file through a
temporary file and :func:`os.replace`, so a failure leaves no partial report.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bnconvex.numerics._validation import check_file
from bnconvex.numerics.dataio.atomic import atomic_write_text
from bnconvex.numerics.errors import InputError
from bnconvex.verify.records import read_jsonl, theory_source, write_jsonl
from bnconvex.verify.render_md import render_markdown

__all__ = [
    "add_parser",
    "prepare_out_dir",
    "render_reports",
    "run",
    "write_report_files",
]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        help="re-render report.md/report.html from a report.jsonl",
        description="Render report.md (and report.html when the HTML renderer is "
        "installed) from a report.jsonl written by `bnconvex verify`.",
    )
    p.add_argument("jsonl", metavar="JSONL", help="path of a report.jsonl")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="output folder (default: the folder of JSONL)",
    )
    p.set_defaults(run=run)


def prepare_out_dir(path: str | os.PathLike[str], name: str = "--out") -> Path:
    """Check that ``path`` is (or can be made) a folder; create it lazily later."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"`{name}` must be a folder; {str(out)!r} is a file")
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not os.access(parent, os.W_OK):
        raise InputError(f"`{name}` {str(out)!r} is not writable")
    return out


def render_reports(
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    figure_dir: Path | None = None,
) -> dict[str, str]:
    """Render every report format in memory: file name -> text.

    The HTML report embeds every ``*.png`` in ``figure_dir`` (by default none),
    e.g. the ``figures/`` folder that ``bnconvex figures --out DIR/figures``
    wrote beside the report.
    """
    texts = {"report.md": render_markdown(header, records)}
    try:
        html = importlib.import_module("bnconvex.verify.render_html")
    except ModuleNotFoundError as exc:
        if exc.name != "bnconvex.verify.render_html":
            raise
        return texts
    figures = (
        sorted(figure_dir.glob("*.png"))
        if figure_dir is not None and figure_dir.is_dir()
        else []
    )
    texts["report.html"] = html.render_html_string(
        [dict(header), *records], figures=figures
    )
    return texts


def write_report_files(
    out: Path,
    header: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    jsonl: bool = True,
) -> list[Path]:
    """Render, then write report.jsonl (optional), report.md and report.html."""
    texts = render_reports(header, records, figure_dir=out / "figures")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if jsonl:
        write_jsonl(out / "report.jsonl", header, records)
        written.append(out / "report.jsonl")
    for name, text in texts.items():
        atomic_write_text(out / name, text)
        written.append(out / name)
    theory = theory_source()
    if theory is not None:  # the reports' theory links point to this copy
        atomic_write_text(out / "theory.md", theory.read_text(encoding="utf-8"))
        written.append(out / "theory.md")
    return written


def run(args: argparse.Namespace) -> int:
    """Re-render the reports; exit status 0 (2 for a missing or malformed file)."""
    src = Path(check_file(args.jsonl, "JSONL"))
    header, records = read_jsonl(src)
    out = prepare_out_dir(args.out if args.out is not None else src.parent)
    for path in write_report_files(out, header, records, jsonl=False):
        print(path)
    return 0
