"""Figure 5: solver time against n and P, this solver vs CVXPY + Clarabel.

Timings from the committed peer benchmark (``benchmarks/results/peers*.json``,
written by ``benchmarks/bench_peers.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, benchmark_runs, plot_from_data

NAME = "fig5_solver_scaling"

WHAT = (
    "Wall time to solve the convex BN program to the benchmark's tolerance, (a) "
    "against "
    "the number of samples n and (b) against the number of patterns P, for each solver "
    "(log-log; one marker per instance, lines join the medians)."
)

_MARKERS = ("o", "s", "^", "D", "v")


def _solver_colors(solvers: list[str]) -> dict[str, str]:
    """Peers (CVXPY/Clarabel) in light blue, this package's solvers in warm colours."""
    own = iter(
        (COLORS["convex"], COLORS["regularised"], COLORS["bound"], COLORS["grey"])
    )
    return {
        s: COLORS["peer"] if ("cvxpy" in s or "clarabel" in s) else next(own, "black")
        for s in solvers
    }


def _panel(ax: Any, runs: list[dict[str, Any]], key: str) -> None:
    solvers = sorted({str(r["solver"]) for r in runs})
    colors = _solver_colors(solvers)
    for i, solver in enumerate(solvers):
        mine = [r for r in runs if r["solver"] == solver and r.get(key) is not None]
        x = np.array([r[key] for r in mine], dtype=float)
        t = np.array([r["seconds"] for r in mine], dtype=float)
        color = colors[solver]
        ax.plot(x, t, _MARKERS[i % 5], mfc="none", color=color, label=solver)
        xs = np.unique(x)
        ax.plot(xs, [np.median(t[x == v]) for v in xs], "-", color=color, lw=1.0)
    ax.set(xscale="log", yscale="log", ylabel="wall time (s)")


def _draw(axes: Any, data: dict[str, Any]) -> None:
    runs = benchmark_runs(data)
    _panel(axes[0], runs, "n")
    _panel(axes[1], runs, "P")
    axes[0].set(xlabel="samples n", title="(a) time vs n")
    axes[1].set(xlabel="patterns P", title="(b) time vs P")
    axes[0].legend(loc="upper left")


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 5 from ``out_dir/fig5_solver_scaling.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF and caption files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=7.6, height=3.0)


if __name__ == "__main__":  # pragma: no cover
    main()
