"""Figure 4: CIFAR-10 test accuracy against wall time and iterations.

Curves from the committed full-scale benchmark (``benchmarks/results/
cifar10*.json``, written by ``benchmarks/bench_cifar10.py``): the non-convex
BN network trained by SGD, the convex BN model, and the convex model with the
explicit (truncated-whitening) regulariser for a sweep of k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data

NAME = "fig4_cifar10_accuracy"

WHAT = (
    "(a) CIFAR-10 test accuracy against training wall time; (b) against iterations "
    "(epochs for SGD, solver iterations for the convex models). Non-convex BN network "
    "trained by SGD (blue), convex BN model (vermillion), convex model with the "
    "explicit "
    "truncated-whitening regulariser for several k (purple shades)."
)


def _runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for res in data["results"] for run in res.get("runs", [])]


def _style(run: dict[str, Any], ks: list[int]) -> dict[str, Any]:
    model = str(run.get("model", ""))
    if model.startswith("nonconvex"):
        return {"color": COLORS["nonconvex"], "ls": "-"}
    if run.get("k") is not None and ks:
        shade = plt.get_cmap("RdPu")(
            0.45 + 0.5 * ks.index(int(run["k"])) / max(len(ks) - 1, 1)
        )
        return {"color": shade, "ls": "-."}
    return {"color": COLORS["convex"], "ls": "--"}


def _label(run: dict[str, Any]) -> str:
    if run.get("label"):
        return str(run["label"])
    k = f", k={run['k']}" if run.get("k") is not None else ""
    return f"{run.get('model', '?')}{k}"


def _draw(axes: Any, data: dict[str, Any]) -> None:
    runs = _runs(data)
    ks = sorted({int(r["k"]) for r in runs if r.get("k") is not None})
    ax_a, ax_b = axes
    for run in runs:
        acc = 100 * np.asarray(run["test_accuracy"], dtype=float)
        style = _style(run, ks)
        ax_a.plot(run["seconds"], acc, label=_label(run), **style)
        steps = run.get("iterations", run.get("epochs"))
        if steps is not None:
            ax_b.plot(steps, acc, **style)
    ax_a.set(
        xlabel="wall time (s)", ylabel="test accuracy (%)", title="(a) accuracy vs time"
    )
    ax_b.set(
        xlabel="iterations / epochs",
        ylabel="test accuracy (%)",
        title="(b) accuracy vs iterations",
        xscale="log",
    )
    ax_a.legend(loc="lower right", fontsize=7)


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 4 from ``out_dir/fig4_cifar10_accuracy.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF and caption files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=8.0, height=3.2)


if __name__ == "__main__":  # pragma: no cover
    main()
