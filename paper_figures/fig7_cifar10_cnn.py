"""Figure 7: CIFAR-10 convex BN-CNN, with and without truncated whitening, against SGD.

Curves of ``benchmarks/bench_cifar10_cnn.py`` (``benchmarks/results/
cifar10_cnn*.json``): test accuracy against wall time of the convex BN-CNN
(gated program, truncated whitening k = 20 and full whitening) and of the
SGD-trained BN CNN of the same width; the relative gap of the convex runs to
their own dual bound (over the sampled patterns only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.paper_figures._common import COLORS, plot_from_data

NAME = "fig7_cifar10_cnn"

WHAT = (
    "(a) CIFAR-10 test accuracy against training wall time (all 50,000 images, "
    "the same budget per model, scoring time excluded) of the convex BN-CNN with "
    "truncated and with full patch whitening and of the SGD-trained BN CNN of the "
    "same width. A square marks a run stopped by its time limit, a cross one whose "
    "loss diverged; a star, the test accuracy of the BN-ReLU CNN read off the "
    "convex blocks (the program drops the cone constraints, so this network "
    "differs from the convex model). (b) Relative gap of each convex iterate to its "
    "best dual bound: a bound over the sampled patterns of the gated program only, "
    "not a global certificate."
)

#: model -> (legend label, colour)
_MODELS = {
    "convex-trunc": ("convex, truncated whitening", COLORS["convex"]),
    "convex-full": ("convex, full whitening", COLORS["whitened"]),
    "sgd": ("non-convex BN CNN, SGD", COLORS["nonconvex"]),
}


#: how a run ended -> marker at its last point
_END_MARKERS = {"time_limit": "s", "diverged": "X"}


def _label(run: dict[str, Any]) -> str:
    label, _ = _MODELS.get(run["model"], (run["model"], COLORS["grey"]))
    if run["model"].startswith("convex"):
        return f"{label} (k={run.get('k')}, {run.get('neurons')} neurons)"
    return f"{label}, lr {run.get('lr')} ({run.get('width')} filters)"


def _runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for res in data.get("results", []) for run in res.get("runs", [])]


def _draw(axes: Any, data: dict[str, Any]) -> None:
    ax_a, ax_b = axes
    for run in _runs(data):
        color = _MODELS.get(run["model"], ("", COLORS["grey"]))[1]
        curve = [c for c in run.get("curve", []) if "test_accuracy" in c]
        if not curve:
            continue
        t = np.array([c["seconds"] for c in curve], float)
        acc = 100 * np.array([c["test_accuracy"] for c in curve], float)
        failed = run.get("status") == "diverged"
        color = COLORS["grey"] if failed else color
        style = "o--" if failed else "o-"
        ax_a.plot(t, acc, style, color=color, ms=3, lw=1.0, label=_label(run))
        marker = _END_MARKERS.get(run.get("status"))
        if marker is not None:
            ax_a.plot(t[-1], acc[-1], marker, color=color, mfc="none", ms=8, mew=1.5)
        relu = run.get("relu_network", {}).get("test_accuracy")
        if relu is not None:
            ax_a.plot(t[-1], 100 * relu, "*", color=color, ms=10)
        gaps = [
            (c["seconds"], (c["objective"] - c["lower_bound"]) / abs(c["objective"]))
            for c in curve
            if "lower_bound" in c and np.isfinite(c["lower_bound"])
        ]
        if gaps:
            tg, g = np.array(gaps, float).T
            ax_b.semilogy(tg, np.maximum(g, 1e-12), "o-", color=color, ms=3, lw=1.2)
    for status, marker in _END_MARKERS.items():
        label = status.replace("_", " ")
        ax_a.plot([], [], marker, color=COLORS["grey"], mfc="none", label=label)
    ax_a.plot([], [], "*", color=COLORS["grey"], label="ReLU network read off")
    ax_a.set(xlabel="wall time (s)", ylabel="test accuracy (%)", ylim=(0, None))
    ax_a.set_title("(a) test accuracy")
    ax_a.figure.legend(loc="outside lower center", ncols=3, fontsize=7.5)
    ax_b.set(xlabel="wall time (s)", ylabel="relative gap (patterns bound)")
    ax_b.set_title("(b) gap of the convex iterate")


def main(out_dir: str | Path = "figures") -> list[Path]:
    """Plot figure 7 from ``out_dir/fig7_cifar10_cnn.data.json``.

    Returns
    -------
    list of Path
        The PNG, PDF, caption and settings files written into ``out_dir``.
    """
    return plot_from_data(out_dir, NAME, WHAT, _draw, ncols=2, width=8.4, height=4.0)


if __name__ == "__main__":  # pragma: no cover
    main()
