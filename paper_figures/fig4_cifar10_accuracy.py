"""Figure 4: CIFAR-10 test accuracy against wall time and iterations.

Curves from the committed full-scale benchmark (``benchmarks/results/
cifar10*.json``, written by ``benchmarks/bench_cifar10.py``): the non-convex
BN network trained by SGD, the convex BN model on U', and the convex model with
the explicit regulariser [U_k (Sigma_k/sigma_1)^p, 1/sqrt(n)] (truncation k,
spectral power p, beta chosen on a validation split by the benchmark).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from bnconvex.paper_figures._common import COLORS, benchmark_runs, plot_from_data

NAME = "fig4_cifar10_accuracy"

WHAT = (
    "(a) CIFAR-10 test accuracy against training wall time; (b) against iterations "
    "(minibatch steps for SGD, solver iterations for the convex models). Non-convex "
    "BN network trained by SGD (blue), convex BN model on U' (vermillion), convex "
    "model with the explicit regulariser [U_k (Sigma_k/sigma_1)^p, 1/sqrt(n)] "
    "(pink shades by k; k, p and beta chosen on a validation split)."
)


def _style(run: dict[str, Any], ks: list[int]) -> dict[str, Any]:
    model = str(run.get("model", ""))
    if model.startswith(("nonconvex", "non-convex")):
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


def _iterations(run: dict[str, Any]) -> np.ndarray | None:
    """Return solver iterations, or SGD steps (epochs x steps per epoch)."""
    if run.get("iterations") is not None:
        return np.asarray(run["iterations"], dtype=float)
    epochs, steps, done = run.get("epochs"), run.get("steps"), run.get("epochs_done")
    if epochs is None or not steps or not done:
        return None
    return np.asarray(epochs, dtype=float) * (steps / done)


def _draw(axes: Any, data: dict[str, Any]) -> None:
    runs = benchmark_runs(data)
    ks = sorted({int(r["k"]) for r in runs if r.get("k") is not None})
    ax_a, ax_b = axes
    for run in runs:
        acc = 100 * np.asarray(run["test_accuracy"], dtype=float)
        style = _style(run, ks)
        if len(acc) < 20:  # sparse curves (a convex solver's outer rounds): mark points
            style = {"marker": "o", "markersize": 5, **style}
        ax_a.plot(run["seconds"], acc, label=_label(run), **style)
        steps = _iterations(run)
        if steps is not None:
            keep = steps > 0  # log axis: the untrained starting point has no place
            ax_b.plot(steps[keep], acc[keep], **style)
    ax_a.set(
        xlabel="wall time (s)", ylabel="test accuracy (%)", title="(a) accuracy vs time"
    )
    ax_b.set(
        xlabel="iterations (solver iterations; SGD steps)",
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
