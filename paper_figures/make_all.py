"""Make every paper figure: ``python -m bnconvex.paper_figures.make_all [--out DIR]``.

For each figure the data step (:func:`bnconvex.paper_figures.data.ensure_data`,
which computes small figures and reads benchmark results for full-scale ones)
runs first, then the figure script's ``main`` plots from the cached file.  A
figure whose benchmark results are missing is reported as **not produced**
and a ``<name>.NOT_PRODUCED.txt`` note says which benchmark to run; nothing
is plotted from placeholder data.  ``bnconvex figures`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bnconvex.numerics.dataio.atomic import atomic_write_text
from bnconvex.numerics.errors import BnConvexError, InputError

__all__ = ["FIGURES", "FigureOutcome", "main", "run"]

#: figure name -> plotting module (each has ``main(out_dir) -> list[Path]``)
FIGURES: dict[str, str] = {
    name: f"bnconvex.paper_figures.{name}"
    for name in (
        "fig1_training_objective",
        "fig2_closed_form_beta",
        "fig3_implicit_bias",
        "fig4_cifar10_accuracy",
        "fig5_solver_scaling",
        "fig6_fullscale_gap",
        "fig7_cifar10_cnn",
    )
}

Prepare = Callable[[str, Path], object]


@dataclasses.dataclass
class FigureOutcome:
    """What happened to one figure.

    Attributes
    ----------
    name : str
    status : {"produced", "missing-results", "failed"}
    files : list of Path
        PNG, PDF and caption when produced; the note file otherwise.
    message : str
        Why it was not produced (names the benchmark to run), or "".
    seconds : float
        Data step plus plotting.
    """

    name: str
    status: str
    files: list[Path]
    message: str
    seconds: float


def _default_prepare(name: str, out_dir: Path) -> object:
    from bnconvex.paper_figures.data import ensure_data

    return ensure_data(name, out_dir)


def _not_produced(
    name: str, out_dir: Path, status: str, message: str, start: float
) -> FigureOutcome:
    for suffix in (".png", ".pdf", ".caption.txt", ".settings.txt"):
        (out_dir / f"{name}{suffix}").unlink(
            missing_ok=True
        )  # never leave a stale figure
    note = out_dir / f"{name}.NOT_PRODUCED.txt"
    atomic_write_text(note, f"{name} was not produced: {message}\n")
    return FigureOutcome(name, status, [note], message, time.perf_counter() - start)


def _one(name: str, out_dir: Path, prepare: Prepare) -> FigureOutcome:
    start = time.perf_counter()
    try:
        prepare(name, out_dir)
    except BnConvexError as exc:
        missing = type(exc).__name__ == "ResultsMissing"
        return _not_produced(
            name, out_dir, "missing-results" if missing else "failed", str(exc), start
        )
    files = importlib.import_module(FIGURES[name]).main(out_dir)
    (out_dir / f"{name}.NOT_PRODUCED.txt").unlink(missing_ok=True)
    return FigureOutcome(name, "produced", list(files), "", time.perf_counter() - start)


def run(
    out_dir: str | Path = "figures",
    *,
    only: Sequence[str] | None = None,
    prepare: Prepare | None = None,
    log: Callable[[str], None] | None = None,
) -> list[FigureOutcome]:
    """Make the selected figures in ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder for data, PNG, PDF and caption files (created if needed).
    only : sequence of str, optional
        Figure names (keys of :data:`FIGURES`); all when omitted.
    prepare : callable, optional
        ``prepare(name, out_dir)`` makes the data file; default
        :func:`bnconvex.paper_figures.data.ensure_data`.
    log : callable, optional
        Receives one line per figure.

    Returns
    -------
    list of FigureOutcome

    Raises
    ------
    InputError
        For an unknown figure name.
    """
    names = list(only) if only else list(FIGURES)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise InputError(
            f"`--only` must name figures among {', '.join(FIGURES)}; got {unknown[0]!r}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for name in names:
        outcome = _one(name, out, prepare or _default_prepare)
        if log is not None:
            detail = (
                ", ".join(p.name for p in outcome.files)
                if outcome.status == "produced"
                else outcome.message
            )
            log(f"{name}: {outcome.status} ({outcome.seconds:.1f} s) {detail}")
        outcomes.append(outcome)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line; exit 1 if a figure failed (missing results do not)."""
    parser = argparse.ArgumentParser(prog="python -m bnconvex.paper_figures.make_all")
    parser.add_argument("--out", default="figures", type=Path)
    parser.add_argument("--only", action="append", choices=list(FIGURES))
    args = parser.parse_args(argv)
    outcomes = run(args.out, only=args.only, log=lambda s: print(s, file=sys.stderr))
    return int(any(o.status == "failed" for o in outcomes))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
