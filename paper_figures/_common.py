"""Shared plotting helpers: style, data loading, saving PNG + PDF + caption + settings.

Figure scripts only *read* the cached data file that
:mod:`bnconvex.paper_figures.data` wrote next to the figure
(``DIR/<name>.data.json``) and never solve anything, so a figure can be
re-styled without re-running the numerics.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; set before pyplot is imported anywhere

import matplotlib.pyplot as plt
from bnconvex.numerics.dataio.atomic import atomic_write, atomic_write_text
from bnconvex.numerics.errors import InputError
from matplotlib.figure import Figure

__all__ = [
    "COLORS",
    "DATA_SUFFIX",
    "benchmark_runs",
    "caption_text",
    "data_path",
    "figure",
    "load_data",
    "plot_from_data",
    "save_figure",
    "settings_text",
]

DATA_SUFFIX = ".data.json"

#: Colour-blind-safe palette (Okabe-Ito), by role.
COLORS = {
    "nonconvex": "#0072B2",
    "convex": "#D55E00",
    "bound": "#009E73",
    "whitened": "#E69F00",
    "regularised": "#CC79A7",
    "peer": "#56B4E9",
    "grey": "#666666",
}

_RC = {
    "figure.dpi": 100,
    "savefig.dpi": 160,
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.4,
    "pdf.fonttype": 42,
    "svg.hashsalt": "bnconvex",
}


def data_path(out_dir: str | Path, name: str) -> Path:
    """Return where the cached data of figure ``name`` lives in ``out_dir``."""
    return Path(out_dir) / f"{name}{DATA_SUFFIX}"


def load_data(out_dir: str | Path, name: str) -> dict[str, Any]:
    """Read the cached data of figure ``name``.

    Raises
    ------
    InputError
        If the file is missing (names the command that computes it) or is not
        a JSON object.
    """
    path = data_path(out_dir, name)
    if not path.is_file():
        raise InputError(
            f"`out_dir` has no data for figure {name!r} ({path}); compute it with "
            f"`bnconvex figures --out {out_dir} --only {name}`"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise InputError(f"`{path}` must hold a JSON object; got {type(data).__name__}")
    return data


@contextlib.contextmanager
def figure(
    ncols: int = 1, *, width: float = 6.6, height: float = 2.8
) -> Iterator[tuple[Figure, Any]]:
    """Yield ``(fig, axes)`` in the house style; the figure is closed afterwards."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(
            1, ncols, figsize=(width, height), layout="constrained"
        )
        try:
            yield fig, axes
        finally:
            plt.close(fig)


#: The longest caption allowed, in words (settings go to the side file).
MAX_CAPTION_WORDS = 150
SETTINGS_SUFFIX = ".settings.txt"


def caption_text(title: str, what: str, name: str) -> str:
    """Compose a caption: the title, what the figure shows, where its settings are.

    Parameters
    ----------
    title : str
        One line.
    what : str
        What the figure shows, in a few sentences (its one point).
    name : str
        Figure name; the caption points to ``<name>.settings.txt``.

    Raises
    ------
    ValueError
        If the caption is longer than :data:`MAX_CAPTION_WORDS` words (a
        programming error of the figure script, not bad input).
    """
    text = f"{title}\n\n{what}\n\nSettings and departures from the paper: "
    text += f"{name}{SETTINGS_SUFFIX}.\n"
    words = len(text.split())
    if words > MAX_CAPTION_WORDS:
        raise ValueError(f"caption of {name} has {words} words (> {MAX_CAPTION_WORDS})")
    return text


def settings_text(settings: Mapping[str, Any], departures: Sequence[str]) -> str:
    """Compose the side file: what was run, and departures from the paper.

    Parameters
    ----------
    settings : mapping
        What was run (data, n, d, P, beta, seeds, BN convention, machine, ...);
        written one ``key: value`` per line.
    departures : sequence of str
        Where this run departs from the paper's setting.
    """
    lines = ["What was run:"]
    lines += [f"  {k}: {_plain(v)}" for k, v in settings.items()]
    lines += ["", "Departures from the paper's setting:"]
    lines += [f"  - {d}" for d in departures] or ["  - none known"]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        return f"{list(value[:5])} ... ({len(value)} values)"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    return str(value)


def save_figure(
    fig: Figure, out_dir: str | Path, name: str, caption: str, settings: str
) -> list[Path]:
    """Write ``name.png``, ``.pdf``, ``.caption.txt`` and ``.settings.txt``.

    Each file is written atomically (:mod:`bnconvex.numerics.dataio.atomic`).

    Returns
    -------
    list of Path
        The four files, PNG first.
    """
    out = Path(out_dir)
    png, pdf, cap, side = (
        out / f"{name}.png",
        out / f"{name}.pdf",
        out / f"{name}.caption.txt",
        out / f"{name}{SETTINGS_SUFFIX}",
    )
    metadata = {  # no software versions or dates: identical data, identical files
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "Creator": None},
    }
    with plt.rc_context(_RC):
        for path, fmt in ((png, "png"), (pdf, "pdf")):
            atomic_write(
                path, lambda h, f=fmt: fig.savefig(h, format=f, metadata=metadata[f])
            )
    atomic_write_text(cap, caption)
    atomic_write_text(side, settings)
    return [png, pdf, cap, side]


def plot_from_data(
    out_dir: str | Path,
    name: str,
    what: str,
    draw: Callable[[Any, dict[str, Any]], None],
    *,
    ncols: int,
    width: float,
    height: float,
) -> list[Path]:
    """Load a figure's cached data, draw it, save PNG + PDF + caption.

    Parameters
    ----------
    out_dir : str or Path
        Folder holding ``<name>.data.json``; the outputs go there too.
    name : str
        Figure name.
    what : str
        What the panels show (caption paragraph).
    draw : callable
        ``draw(axes, data)`` fills the panels.
    ncols, width, height
        Panel count and figure size in inches.

    Returns
    -------
    list of Path
        The PNG, PDF, caption and settings files.
    """
    data = load_data(out_dir, name)
    cap = data.get("caption", {})
    caption = caption_text(cap.get("title", name), what, name)
    side = settings_text(data.get("settings", {}), cap.get("departures", []))
    with figure(ncols, width=width, height=height) as (fig, axes):
        draw(axes, data)
        return save_figure(fig, out_dir, name, caption, side)


def benchmark_runs(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return every run of the benchmark result files cached in ``data["results"]``.

    A file holds ``runs`` directly or in blocks ``results: [{"runs": [...]}]``
    (the layout of ``benchmarks/bench_cifar10.py``); a run's curve may sit in
    ``run["curve"]`` or in the run itself.  Each returned run has its curve
    keys (``seconds``, ``iterations``/``epochs``, ``test_accuracy``) at the top.
    """
    runs = []
    for res in data.get("results", []):
        for block in res.get("results", [res]):
            for run in block.get("runs", []):
                curve = run.get("curve")
                runs.append(
                    {**run, **curve} if isinstance(curve, Mapping) else dict(run)
                )
    return runs
