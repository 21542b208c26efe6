"""Figure 5: solver time against program size, bnconvex's solver vs the peers.

Peers: CVXPY + Clarabel, adelie, pyscnn.  Timings from the committed peer
benchmark (``benchmarks/results/peers*.json``, written by
``benchmarks/bench_peers.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data
from matplotlib.ticker import (
    FuncFormatter,
    LogFormatterSciNotation,
    LogLocator,
    NullFormatter,
)

NAME = "fig5_solver_scaling"

WHAT = (
    "How the exact solver's wall time compares with the peers' as the program "
    "grows, every solver measured in the same benchmark run on the same machine. "
    "(a) Median in-process solve time (whiskers: fastest and slowest run; dotted: "
    "median whole-process time) against the program's size n P (d+1). (b) Speed-up "
    "of bnconvex's default solver over each peer, instance by instance (above 1: "
    "faster). A black triangle marks a solver stopped by the time limit (its time "
    "is a lower bound, not a result); a cross, a run that did not meet the success "
    "criterion."
)

_MARKERS = ("o", "s", "^", "D", "v")


#: Solvers that are not this package's (``bench_peers.py`` names).
PEER_SOLVERS = ("cvxpy-clarabel", "adelie", "pyscnn")


def _is_peer(solver: str) -> bool:
    """Whether a benchmark worker name is a peer's (``adelie-default`` is)."""
    return solver.startswith(PEER_SOLVERS)


def _solver_colors(solvers: list[str]) -> dict[str, str]:
    """Peers in blues/grey, this package's solvers in warm colours (Okabe-Ito)."""
    peer = iter((COLORS["peer"], COLORS["nonconvex"], COLORS["grey"]))
    own = iter((COLORS["convex"], COLORS["regularised"], COLORS["whitened"]))
    return {s: next(peer if _is_peer(s) else own, "black") for s in sorted(solvers)}


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
    limited = np.array([bool(r.get("time_limited", False)) for r in rows])
    return x, t, lo, hi, proc, ok, limited


def _panel(ax: Any, timings: list[dict[str, Any]], key: str) -> None:
    solvers = sorted({str(r["solver"]) for r in timings})
    colors = _solver_colors(solvers)
    for i, solver in enumerate(solvers):
        x, t, lo, hi, proc, ok, limited = _series(
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
        failed = ~ok & ~limited
        ax.plot(x[failed], t[failed], "x", color="black", ms=8, mew=1.5)
        ax.plot(x[limited], t[limited], "^", color="black", ms=7)
    ax.plot([], [], ".:", color=COLORS["grey"], label="whole process (median)")
    if any(r.get("time_limited") for r in timings):
        ax.plot([], [], "^", color="black", ms=7, label="stopped at the time limit")
    if any(not r.get("success", True) and not r.get("time_limited") for r in timings):
        ax.plot(
            [], [], "x", color="black", ms=8, mew=1.5, label="not every run succeeded"
        )
    ax.set(xscale="log", yscale="log", ylabel="wall time (s)")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    if key == "size":  # spans 1e5..1e8: decades only, in powers of ten
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0,)))
        ax.xaxis.set_major_formatter(LogFormatterSciNotation())


def _with_size(timings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``size = n P (d + 1)``, the number of cone-constraint entries."""
    return [
        {**r, "size": r["n"] * r["P"] * (r["d"] + 1)}
        for r in timings
        if None not in (r.get("n"), r.get("P"), r.get("d"))
    ]


def _speedups(ax: Any, timings: list[dict[str, Any]]) -> None:
    """Panel (b): peer time / our default solver's time, per instance."""
    ours = sorted(s for s in {str(r["solver"]) for r in timings} if not _is_peer(s))
    own = next(
        (s for s in ours if s.startswith("working-set")), ours[0] if ours else ""
    )
    base = {(r["n"], r["d"], r["P"]): r for r in timings if r["solver"] == own}
    colors = _solver_colors(sorted({str(r["solver"]) for r in timings}))
    for peer in sorted(
        {str(r["solver"]) for r in timings if _is_peer(str(r["solver"]))}
    ):
        rows = sorted(
            (r for r in _with_size(timings) if r["solver"] == peer),
            key=lambda r: r["size"],
        )
        pairs = [
            (r["size"], r["seconds"] / base[key]["seconds"], key)
            for r in rows
            if (key := (r["n"], r["d"], r["P"])) in base and r.get("seconds")
        ]
        if pairs:
            x = np.array([p[0] for p in pairs], dtype=float)
            ratio = np.array([p[1] for p in pairs], dtype=float)
            ax.plot(x, ratio, "o-", color=colors[peer], mfc="none", label=peer)
            for xi, ri, (n, d, P) in pairs:
                ax.annotate(
                    f"{n}×{d}×{P}",
                    (xi, ri),
                    xytext=(0, 6 if ri >= 1 else -11),
                    textcoords="offset points",
                    ha="center",
                    fontsize=6,
                    color=COLORS["grey"],
                )
    ax.axhline(1.0, color=COLORS["grey"], lw=0.8, ls="--")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="n P (d+1) (cone-constraint entries)",
        ylabel=f"peer time / {own} time",
        title=f"(b) speed-up of {own}",
    )
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.legend(loc="upper left", fontsize=7)
    ax.margins(x=0.12, y=0.15)


def _draw(axes: Any, data: dict[str, Any]) -> None:
    timings = data["timings"]
    _panel(axes[0], _with_size(timings), "size")
    axes[0].set(
        xlabel="n P (d+1) (cone-constraint entries)", title="(a) time vs program size"
    )
    _speedups(axes[1], timings)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].figure.legend(
        handles, labels, loc="outside lower center", ncol=4, fontsize=7, frameon=False
    )


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 5 from ``out_dir/fig5_solver_scaling.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF and caption files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=7.6, height=3.6)


if __name__ == "__main__":  # pragma: no cover
    main()
