"""Figure 6: the full-scale solver's certified gap and test accuracy against time.

Records of ``benchmarks/bench_fullscale_gap.py`` (``benchmarks/results/
fullscale_gap*.json``): for each run, the relative gap between the objective of
the current iterate and the best lower bound so far, whether that gap certifies
the iterate (its cone violation within tolerance), and the test accuracy of
the network the iterate defines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.numerics.errors import InputError
from bnconvex.paper_figures._common import COLORS, plot_from_data

NAME = "fig6_fullscale_gap"

WHAT = (
    "A certificate at full scale comes from exact per-class solves on few feature "
    "columns, not from the first-order method on wide features. (a) Relative gap "
    "between the objective and the best dual lower bound so far, against wall time "
    "(log scale); filled markers: certified points (cone violation within "
    "tolerance), hollow: not certified. The augmented Lagrangian (al, 256 "
    "whitened directions) stays near 1; the working-set method (20 or 32 directions) "
    "finishes one class at a time, so its bound and gap move in steps. (b) Test "
    "accuracy of the network each point defines (one legend below; AL: augmented "
    "Lagrangian, WS: working-set); for the working-set method, "
    "classes not solved yet score zero, hence the ramp."
)

_COLORS = tuple(
    COLORS[k]
    for k in ("nonconvex", "convex", "regularised", "bound", "whitened", "peer")
)


#: line styles: runs beyond the six colours repeat them dashed
_LINES = ("-", "--")

_SHORT = {"cifar10": "CIFAR-10", "fashion-mnist": "F-MNIST"}


def _label(res: dict[str, Any]) -> str:
    """``F-MNIST 60k, WS k=20, beta=0.5``: data, size, method (AL / WS), features.

    Runs on several worker processes add ``, 2 workers``; runs whose patterns
    come from a trained network add ``, net patterns``, and those whose
    classes started from that network's neurons (``working_set_start``,
    session 11 on) ``, net start``.
    """
    name = res.get("dataset", res["file"])
    n = res.get("n")
    size = f" {n // 1000}k" if isinstance(n, int) else ""
    method = res.get("method", "al")  # files before the option: the AL preset
    method = "WS" if method == "working-set" else "AL"
    k = res.get("k")
    where = f"k={k}" if k is not None else "all directions"
    beta = res.get("beta_a")
    beta = f", \u03b2={beta:g}" if isinstance(beta, (int, float)) else ""
    workers = res.get("workers")
    workers = f", {workers} workers" if isinstance(workers, int) and workers > 1 else ""
    net = ", net patterns" if res.get("sampling") == "network" else ""
    net += ", net start" if res.get("working_set_start") == "network" else ""
    return f"{_SHORT.get(name, name)}{size}, {method} {where}{beta}{workers}{net}"


def _draw(axes: Any, data: dict[str, Any]) -> None:
    ax_a, ax_b = axes
    most = len(_COLORS) * len(_LINES)
    if len(data["results"]) > most:
        raise InputError(
            f"figure 6 draws at most {most} runs; the results folder has "
            f"{len(data['results'])} fullscale_gap*.json files"
        )
    for j, res in enumerate(data["results"]):
        color, line = _COLORS[j % len(_COLORS)], _LINES[j // len(_COLORS)]
        recs = [r for r in res.get("records", []) if r.get("relative_gap") is not None]
        if not recs:
            continue
        t = np.array([r["seconds"] for r in recs], dtype=float)
        gap = np.array([r["relative_gap"] for r in recs], dtype=float)
        certified = np.array([bool(r.get("gap_certified")) for r in recs])
        ax_a.plot(t, gap, line, color=color, lw=1.0, label=_label(res))
        ax_a.plot(t[~certified], gap[~certified], "o", mfc="none", color=color, ms=4)
        ax_a.plot(t[certified], gap[certified], "o", color=color, ms=4)
        acc = [(r["seconds"], r["test_accuracy"]) for r in recs if "test_accuracy" in r]
        if acc:
            ta, a = np.array(acc, dtype=float).T
            ax_b.plot(ta, 100 * a, "o" + line, color=color, mfc="none", ms=4)
    ax_a.plot([], [], "o", mfc="none", color=COLORS["grey"], label="not certified")
    ax_a.set(
        yscale="log",
        ylim=(1e-10, 2.0),  # 1 is no information; certified optima end near 1e-9
        xlabel="wall time (s)",
        ylabel="relative gap",
        title="(a) gap of the iterate",
    )
    ax_b.set(xlabel="wall time (s)", ylabel="test accuracy (%)", title="(b) accuracy")
    handles, labels = ax_a.get_legend_handles_labels()  # below both panels:
    ax_a.figure.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=7)


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 6 from ``out_dir/fig6_fullscale_gap.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF, caption and settings files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=7.6, height=3.7)


if __name__ == "__main__":  # pragma: no cover
    main()
