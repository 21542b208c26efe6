r"""Figure 2: the high-dimensional closed form (paper.md R2) against the exact solver.

(a) Optimal value against beta: the closed form
:math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)` as a line, the convex solver's
optimum and its certified lower bound as markers.  (b) Their relative
difference.  (c) The two-neuron structure: the number of non-zero blocks of
the solver's solution against the closed form's count
:math:`[\|y_+\| > \beta] + [\|y_-\| > \beta]`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data
from matplotlib.ticker import NullFormatter

NAME = "fig2_closed_form_beta"

WHAT = (
    "The exact convex solver reproduces the high-dimensional closed form (R2) at "
    "every beta. (a) Optimal value p* against beta: closed form h(||y+||) + "
    "h(||y-||) (line), the solver over all patterns (circles) and its certified "
    "dual lower bound (crosses). (b) Relative difference between solver and closed "
    "form, far below the solver tolerance (dashed); an exact agreement (difference "
    "0) is drawn as a triangle on the bottom axis. (c) The solver's output of each "
    "sign, ||z+|| and ||z-||, against the closed form's two neurons (||y+-|| - "
    "beta)_+; each switches off at beta = ||y+-|| (dotted)."
)


def _column(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([r[key] for r in rows], dtype=float)


def _thresholds(ax: Any, data: dict[str, Any]) -> None:
    for key, label in (("norm_pos", "||y+||"), ("norm_neg", "||y-||")):
        ax.axvline(data[key], color=COLORS["grey"], lw=0.8, ls=":")
        ax.annotate(
            label,
            (data[key], 0.98),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color=COLORS["grey"],
            ha="right",
            va="top",
            rotation=90,
        )


def _draw(axes: Any, data: dict[str, Any]) -> None:
    rows = data["rows"]
    beta, closed = _column(rows, "beta"), _column(rows, "closed_form")
    solver, bound = _column(rows, "solver"), _column(rows, "lower_bound")
    grid = np.geomspace(beta.min(), beta.max(), 200)
    ax_a, ax_b, ax_c = axes
    ax_a.plot(beta, closed, color=COLORS["convex"], lw=1.6, label="closed form (R2)")
    ax_a.plot(
        beta, solver, "o", mfc="none", color=COLORS["nonconvex"], label="convex solver"
    )
    ax_a.plot(beta, bound, "x", color=COLORS["bound"], ms=5, label="dual lower bound")
    rel = np.abs(solver - closed) / np.abs(closed)
    exact = rel == 0
    nonzero = rel[~exact]
    ax_b.plot(
        beta[~exact], nonzero, "o-", color=COLORS["nonconvex"], mfc="none", lw=1.0
    )
    if data.get("solver_tol"):
        ax_b.axhline(
            data["solver_tol"],
            color=COLORS["convex"],
            ls="--",
            lw=1.0,
            label=f"solver tolerance {data['solver_tol']:.0e}",
        )
    tol = data.get("solver_tol") or (nonzero.max() if nonzero.size else 1.0)
    low = min(nonzero.min() if nonzero.size else tol, tol)
    high = max(nonzero.max() if nonzero.size else tol, tol)
    ax_b.set_ylim(low / 10, high * 10)
    if exact.any():  # a difference of exactly 0 has no place on a log axis
        ax_b.plot(
            beta[exact],
            np.full(int(exact.sum()), low / 10),
            "v",
            color=COLORS["nonconvex"],
            clip_on=False,
            label="exactly 0",
        )
    if ax_b.get_legend_handles_labels()[0]:
        ax_b.legend(loc="center right")
    ax_b.yaxis.set_minor_formatter(NullFormatter())
    for key, norm_key, color, sign in (
        ("neuron_pos", "norm_pos", COLORS["convex"], "+"),
        ("neuron_neg", "norm_neg", COLORS["bound"], "−"),
    ):
        ax_c.plot(grid, np.maximum(data[norm_key] - grid, 0.0), color=color, lw=1.6)
        ax_c.plot(beta, _column(rows, key), "o", mfc="none", color=color)
        ax_c.annotate(
            f"sign {sign}",
            (grid[0], data[norm_key] - grid[0]),
            xytext=(0, 5),
            textcoords="offset points",
            color=color,
            fontsize=7,
        )
    ax_c.plot([], [], color=COLORS["grey"], lw=1.6, label="closed form (||y±|| − β)+")
    ax_c.plot([], [], "o", mfc="none", color=COLORS["grey"], label="solver ||z±||")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("β")
        _thresholds(ax, data)
    ax_a.set(ylabel="optimal value p*", title="(a) optimum", ylim=(0, None))
    ax_b.set(
        yscale="log", ylabel="relative difference", title="(b) solver vs closed form"
    )
    ax_c.set(ylabel="output norm of the neuron", title="(c) the two neurons")
    ax_a.legend(loc="upper left")
    top = max(data["norm_pos"], data["norm_neg"])
    ax_c.set_ylim(-0.05 * top, 1.3 * top)  # head room for the legend
    ax_c.legend(loc="upper left", fontsize=7)


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 2 from ``out_dir/fig2_closed_form_beta.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF and caption files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=3, width=9.6, height=3.0)


if __name__ == "__main__":  # pragma: no cover
    main()
