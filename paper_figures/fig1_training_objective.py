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

import matplotlib.pyplot as plt
import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data

NAME = "fig1_training_objective"

WHAT = (
    "(a) Non-convex training objective (convention A) against GD iterations for each "
    "random initialisation; horizontal lines: the convex optimum p* and the dual lower "
    "bound d(v) certified at the convex solution (they coincide up to the solver gap). "
    "(b) Best objective so far minus the certified lower bound, log scale (GD on this "
    "non-smooth objective oscillates near the end, so the running minimum is shown); "
    "dashed: the convex solution's own certified gap."
)


def _draw(axes: Any, data: dict[str, Any]) -> None:
    p_star, bound = data["convex_optimum"], data["dual_lower_bound"]
    ax_a, ax_b = axes
    shades = plt.get_cmap("Blues")(np.linspace(0.45, 0.95, len(data["seeds"])))
    label = f"GD, {len(data['seeds'])} random inits"
    for i, (curve, shade) in enumerate(zip(data["curves"], shades, strict=True)):
        it = np.arange(1, len(curve) + 1)
        ax_a.plot(it, curve, color=shade, lw=1.1, label=None if i else label)
        ax_b.plot(
            it,
            np.maximum(np.minimum.accumulate(np.asarray(curve)) - bound, 1e-16),
            color=shade,
            lw=1.1,
        )
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
        max(p_star - bound, 1e-16),
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
    top = max(max(c[min(5, len(c) - 1)] for c in data["curves"]), p_star * 1.05)
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
