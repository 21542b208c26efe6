"""Figure 1: non-convex BN training against the convex optimum and the dual bound.

Left: the training objective of full-batch GD on the two-layer BN network
from several random initialisations, with the global optimum :math:`p^*` of
the exact convex program and the certified dual lower bound as horizontal
lines.  Right: the same runs as the distance to the lower bound, on log axes,
with the convex solution's own certified gap for comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data

NAME = "fig1_training_objective"

WHAT = (
    "Gradient descent on the non-convex BN network approaches, from above and never "
    "below, the optimum that the convex program certifies. (a) Training objective "
    "(convention A) against GD iterations over random initialisations: median "
    "(line) and min-max band; horizontal lines: the convex optimum p* and the dual "
    "lower bound d(v) at the convex solution (they coincide up to the solver gap). "
    "(b) Best objective so far minus the certified lower bound, log scale, median "
    "and min-max band; dashed: the convex solution's own certified gap."
)


def _band(ax: Any, it: np.ndarray, curves: np.ndarray, label: str) -> None:
    """Median over runs (line) and the min-max band."""
    color = COLORS["nonconvex"]
    ax.fill_between(it, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.2)
    ax.plot(it, np.median(curves, axis=0), color=color, lw=1.4, label=label)


def _draw(axes: Any, data: dict[str, Any]) -> None:
    p_star, bound = data["convex_optimum"], data["dual_lower_bound"]
    ax_a, ax_b = axes
    length = min(len(c) for c in data["curves"])
    curves = np.array([c[:length] for c in data["curves"]], dtype=float)
    it = np.arange(1, length + 1)
    _band(ax_a, it, curves, f"GD, median of {len(curves)} random inits")
    # GD's objective is >= p* >= the bound; a tiny negative difference is rounding
    best = np.minimum.accumulate(curves, axis=1) - bound
    _band(ax_b, it, np.maximum(best, np.finfo(float).tiny), "GD (median, min-max)")
    ax_a.axhline(
        p_star,
        color=COLORS["convex"],
        lw=1.6,
        label=f"convex optimum p* = {p_star:.6f}",
    )
    ax_a.axhline(
        bound,
        color=COLORS["bound"],
        lw=1.4,
        ls="--",
        label=f"dual lower bound = {bound:.6f}",
    )
    ax_b.axhline(
        max(p_star - bound, np.finfo(float).tiny),
        color=COLORS["convex"],
        lw=1.4,
        ls="--",
        label=f"convex solution: gap {p_star - bound:.1e}",
    )
    ax_a.set(
        xscale="log",
        xlabel="GD iteration",
        ylabel="training objective",
        title="(a) objective vs iterations",
    )
    top = max(curves[:, min(5, length - 1)].max(), p_star * 1.05)
    ax_a.set_ylim(bound - 0.05 * (top - bound), top)
    ax_b.set(
        xscale="log",
        yscale="log",
        xlabel="GD iteration",
        ylabel="best objective − lower bound",
        title="(b) distance to the certified bound",
    )
    ax_a.legend(loc="upper right")
    ax_b.legend(loc="lower left")


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 1 from ``out_dir/fig1_training_objective.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF and caption files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=7.6, height=3.1)


if __name__ == "__main__":  # pragma: no cover
    main()
