r"""Figure 4: CIFAR-10 test accuracy of the convex BN model and of SGD, over seeds.

Curves from the committed four-seed benchmark (``benchmarks/results/
cifar10_dual_step_seed*.json``, written by ``benchmarks/bench_cifar10.py``,
one file per seed, the same protocol): the non-convex BN network trained by SGD
and the convex BN model with the explicit regulariser
:math:`[U_k (\Sigma_k/\sigma_1)^p, 1/\sqrt n]`.  Each model is drawn as the mean
over seeds with the min-max band, and its final accuracy per seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, benchmark_runs, plot_from_data

NAME = "fig4_cifar10_accuracy"

WHAT = (
    "The regularised convex BN model reaches a higher CIFAR-10 test accuracy than "
    "the SGD-trained BN network of the same width within the same time budget, at "
    "every seed. (a) Test accuracy against training wall time: mean over seeds "
    "(line) and min-max band. (b) Final test accuracy per seed; a line joins the two "
    "models of one seed. The convex model is the time-limited iterate of its "
    "program (not a certified optimum)."
)

#: model name in the benchmark files -> (legend label, colour)
_MODELS = {
    "nonconvex": ("BN network, SGD", COLORS["nonconvex"]),
    "convex": ("convex BN model (regularised)", COLORS["convex"]),
}


def _kind(run: dict[str, Any]) -> str:
    model = str(run.get("model", ""))
    return "nonconvex" if model.startswith(("nonconvex", "non-convex")) else "convex"


def _curves(runs: list[dict[str, Any]], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean-ready curves of one model: a common time grid and accuracies on it.

    Each run's curve is interpolated onto the grid between the latest first
    record and the earliest last record of the runs (no extrapolation).
    """
    mine = [r for r in runs if _kind(r) == kind and len(r.get("seconds", [])) > 1]
    start = max(float(r["seconds"][0]) for r in mine)
    end = min(float(r["seconds"][-1]) for r in mine)
    grid = np.linspace(start, end, 200)
    acc = [
        np.interp(grid, np.asarray(r["seconds"], float), r["test_accuracy"])
        for r in mine
    ]
    return grid, 100 * np.asarray(acc)


def _final(run: dict[str, Any]) -> float:
    value = run.get("test_accuracy_final")
    return 100 * float(value if value is not None else run["test_accuracy"][-1])


def _draw(axes: Any, data: dict[str, Any]) -> None:
    runs = benchmark_runs(data)
    ax_a, ax_b = axes
    kinds = [k for k in _MODELS if any(_kind(r) == k for r in runs)]
    for kind in kinds:
        label, color = _MODELS[kind]
        grid, acc = _curves(runs, kind)
        ax_a.plot(
            grid, acc.mean(axis=0), color=color, label=f"{label}, {len(acc)} seeds"
        )
        ax_a.fill_between(
            grid, acc.min(axis=0), acc.max(axis=0), color=color, alpha=0.2
        )
    seeds: dict[str, dict[str, float]] = {}
    for res in data.get("results", []):
        seed = str(res.get("settings", {}).get("seed", res.get("file")))
        for run in res.get("runs", []):
            seeds.setdefault(seed, {})[_kind(run)] = _final(run)
    for x, kind in enumerate(kinds):
        label, color = _MODELS[kind]
        values = [s[kind] for s in seeds.values() if kind in s]
        ax_b.plot(np.full(len(values), x), values, "o", color=color, mfc="none")
    for finals in seeds.values():
        if len(finals) == len(kinds) == 2:
            ax_b.plot([0, 1], [finals[k] for k in kinds], color=COLORS["grey"], lw=0.7)
    ax_a.set(
        xlabel="wall time (s)",
        ylabel="test accuracy (%)",
        title="(a) accuracy vs time (mean, min-max)",
    )
    ax_a.legend(loc="lower right", fontsize=7)
    ax_b.set(
        xticks=range(len(kinds)),
        xlim=(-0.5, len(kinds) - 0.5),
        ylabel="final test accuracy (%)",
        title="(b) final accuracy per seed",
    )
    ax_b.set_xticklabels(
        [_MODELS[k][0].replace(" (", "\n(") for k in kinds], fontsize=7
    )


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 4 from ``out_dir/fig4_cifar10_accuracy.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF, caption and settings files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=8.0, height=3.2)


if __name__ == "__main__":  # pragma: no cover
    main()
