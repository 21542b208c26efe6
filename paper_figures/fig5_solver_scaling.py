"""Figure 5: solver time against n and P, bnconvex's solvers vs the peers.

Peers: CVXPY + Clarabel, adelie, pyscnn.  Timings from the committed peer
benchmark (``benchmarks/results/peers*.json``, written by
``benchmarks/bench_peers.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

NAME = "fig5_solver_scaling"

WHAT = (
    "Wall time to solve the same convex BN program (same features, patterns and beta) "
    "to the benchmark's tolerance, (a) against the number of samples n and (b) against "
    "the number of patterns P, per solver, log-log. Markers: median in-process solve "
    "time over the runs (whiskers: fastest and slowest run); dotted: median time of "
    "the whole process (interpreter start, imports, CVXPY canonicalisation). A cross "
    "marks an instance where not every run met the success criterion."
)

_MARKERS = ("o", "s", "^", "D", "v")


#: Solvers that are not this package's (``bench_peers.py`` names).
PEER_SOLVERS = ("cvxpy-clarabel", "adelie", "pyscnn")


def _solver_colors(solvers: list[str]) -> dict[str, str]:
    """Peers in blues/grey, this package's solvers in warm colours (Okabe-Ito)."""
    peer = iter((COLORS["peer"], COLORS["nonconvex"], COLORS["grey"]))
    own = iter((COLORS["convex"], COLORS["regularised"], COLORS["whitened"]))
    return {
        s: next(peer if s in PEER_SOLVERS else own, "black") for s in sorted(solvers)
    }


def _series(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, ...]:
    rows = sorted(
        (r for r in rows if r.get(key) is not None and r.get("seconds")),
        key=lambda r: r[key],
    )
    x = np.array([r[key] for r in rows], dtype=float)
    t = np.array([r["seconds"] for r in rows], dtype=float)
    lo = np.array([min(v for v in r["run_seconds"] if v) for r in rows], dtype=float)
    hi = np.array([max(v for v in r["run_seconds"] if v) for r in rows], dtype=float)
    proc = np.array([r.get("process_seconds") or np.nan for r in rows], dtype=float)
    ok = np.array([bool(r.get("success", True)) for r in rows])
    return x, t, lo, hi, proc, ok


def _panel(ax: Any, timings: list[dict[str, Any]], key: str) -> None:
    solvers = sorted({str(r["solver"]) for r in timings})
    colors = _solver_colors(solvers)
    for i, solver in enumerate(solvers):
        x, t, lo, hi, proc, ok = _series(
            [r for r in timings if r["solver"] == solver], key
        )
        c = colors[solver]
        ax.errorbar(
            x,
            t,
            yerr=[t - lo, hi - t],
            fmt=_MARKERS[i % 5] + "-",
            color=c,
            mfc="none",
            capsize=2,
            lw=1.0,
            label=solver,
        )
        ax.plot(x, proc, ".:", color=c, lw=1.0, ms=4)
        ax.plot(x[~ok], t[~ok], "x", color="black", ms=8, mew=1.5)
    ax.plot([], [], ".:", color=COLORS["grey"], label="whole process (median)")
    if not all(r.get("success", True) for r in timings):
        ax.plot(
            [], [], "x", color="black", ms=8, mew=1.5, label="not every run succeeded"
        )
    ax.set(xscale="log", yscale="log", ylabel="wall time (s)")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _draw(axes: Any, data: dict[str, Any]) -> None:
    timings = data["timings"]
    _panel(axes[0], timings, "n")
    _panel(axes[1], timings, "P")
    axes[0].set(xlabel="samples n", title="(a) time vs n")
    axes[1].set(xlabel="patterns P", title="(b) time vs P")
    axes[0].legend(loc="best")


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
