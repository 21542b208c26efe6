r"""Figure 3: :math:`\Sigma^2` preconditioning of GD, its implicit bias (claims 19-20).

Both networks start from the same function and run GD with the same step.
The BN network's GD moves :math:`q = \Sigma V^T w` by
:math:`-\eta\Sigma^2\nabla_q L`, the whitened network's has no
:math:`\Sigma^2`.  (a) Fraction of the energy of the fitted change
:math:`f_t - f_0` in the top-k singular directions, over training.
(b) The fraction along each singular direction :math:`u_k` at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data

NAME = "fig3_implicit_bias"

WHAT = (
    "Gradient descent on the BN network fits the large-singular-value directions of "
    "the data first, more than the whitened network started from the same function "
    "does (the Sigma^2 preconditioning). (a) Fraction of the energy of the fitted "
    "change f_t - f_0 in span(u_1..u_k): BN network minus whitened network over GD "
    "iterations, mean over seeds (line) with the interquartile band and the "
    "min-max range (light); above zero = more on the top directions. (b) Energy "
    "fraction along each singular direction u_j at the last iteration, mean over "
    "seeds with standard-error whiskers; tick labels give the column scale."
)


def _bars(
    ax: Any, x: np.ndarray, values: np.ndarray, shift: float, color: str, label: str
) -> None:
    sem = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
    ax.bar(
        x + shift,
        values.mean(axis=0),
        width=0.38,
        color=color,
        label=label,
        yerr=sem,
        error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#333333"},
    )


def _draw(axes: Any, data: dict[str, Any]) -> None:
    it = np.asarray(data["iterations"], dtype=float)
    k = int(data["k"])
    ax_a, ax_b = axes
    diff = np.asarray(data["topk_bn"]) - np.asarray(data["topk_whitened"])
    color = COLORS["nonconvex"]
    ax_a.fill_between(
        it, diff.min(axis=0), diff.max(axis=0), color=color, alpha=0.1, label="min-max"
    )
    q1, q3 = np.percentile(diff, [25, 75], axis=0)
    ax_a.fill_between(it, q1, q3, color=color, alpha=0.3, label="interquartile")
    ax_a.plot(
        it, diff.mean(axis=0), color=color, lw=2.0, label=f"mean of {len(diff)} seeds"
    )
    ax_a.axhline(0.0, color="black", lw=0.8, ls="--")
    ax_a.set(
        xlabel="GD iteration",
        ylabel=f"top-{k} energy: BN − whitened",
        title=f"(a) extra top-{k} energy of the BN network",
        xlim=(0, it[-1]),
    )
    x = np.arange(len(data["spectrum"]))
    _bars(
        ax_b,
        x,
        np.asarray(data["per_direction_bn"]),
        -0.2,
        COLORS["nonconvex"],
        "BN network",
    )
    _bars(
        ax_b,
        x,
        np.asarray(data["per_direction_whitened"]),
        0.2,
        COLORS["whitened"],
        "whitened network",
    )
    ax_b.set_xticks(x, [f"u{j + 1}\n(×{s:g})" for j, s in enumerate(data["spectrum"])])
    ax_b.set(
        ylabel="energy fraction",
        ylim=(0, None),
        title=f"(b) per direction at iteration {int(it[-1])}",
    )
    ax_a.legend(loc="upper left")
    ax_b.legend(loc="upper right")


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 3 from ``out_dir/fig3_implicit_bias.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF and caption files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=7.6, height=3.0)


if __name__ == "__main__":  # pragma: no cover
    main()
