r"""Claim ``gd.implicit_bias`` (paper.md §4 and §6 item 20).

Gradient descent on the BN network fits high-singular-value directions of the
data first: started from the *same function*, the BN network's fitted change
:math:`f_T - f_0` puts more of its energy in :math:`\operatorname{span}(u_1,
\dots, u_k)` than plain GD on the whitened network :math:`(U'S^T)_+ v`.

The effect is real but weak and seed dependent (paper.md calls it "weak,
diluted by the output layer"; the sharp deterministic mechanism is claim 19,
``gd.sigma2_preconditioning``).  The check is therefore statistical and stated
as such: one instance is a *block of 10 recorded seeds* of paper.md's setting
(:data:`bnconvex.numerics.extensions.implicit_bias.PAPER_SETTING`: n=40,
X = G diag(5,3,1,.5,.2,.1), m=20, k=2, eta=2e-3, T=300, no weight decay), and
it passes when the block's mean difference of top-2 energy fractions at
T=300 is at least :data:`MARGIN`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from bnconvex.numerics.extensions.implicit_bias import (
    PAPER_SETTING,
    implicit_bias_experiment,
)
from bnconvex.verify.registry import Claim, Evidence, register
from hypothesis import strategies as st

__all__ = ["MARGIN", "SEED_BLOCKS", "ImplicitBias"]

#: Required mean difference E_bn - E_whitened of the top-k energy fraction at
#: step T over one block of seeds.  Measured on the recorded blocks
#: (2026-11-25): 0.096, 0.061, 0.081, 0.031, 0.097, 0.074 (per-seed wins
#: 9, 8, 10, 9, 8, 9 of 10); per-seed standard deviation about 0.11.
MARGIN = 0.02
#: First seeds of the recorded 10-seed blocks (seeds b, b+1, ..., b+9).
SEED_BLOCKS: tuple[int, ...] = (0, 1000, 2000, 3000, 4000, 5000)
BLOCK_SIZE = 10


@register
class ImplicitBias(Claim):
    """GD on the BN network favours top singular directions (claim 20)."""

    id = "gd.implicit_bias"
    title = "GD on the BN net fits top-k singular directions more than the whitened net"
    paper_ref = "docs/theory.md#gd-implicit_bias (implicit bias; paper: abstract)"
    paper_tag = "DERIVED+NUM"
    statement = (
        r"\overline{E_T^{BN}} - \overline{E_T^{white}} \ge \delta,\quad "
        r"E_T = \frac{\|U_k^T(f_T - f_0)\|^2}{\|f_T - f_0\|^2}"
        r"\ \text{(mean over a block of seeds)}"
    )
    tolerances: ClassVar[dict[str, float]] = {"float64": 0.0}
    tolerance_kind: ClassVar[dict[str, str]] = {"float64": "abs"}
    tolerance_notes: ClassVar[dict[str, str]] = {
        "float64": (
            f"measured error = max(0, {MARGIN} - mean difference); a statistical, "
            "not a rounding, threshold: blocks of 10 seeds, per-seed sd ~0.11, "
            "so a fresh block falls below the margin with probability ~1%"
        )
    }
    tags = ("statistical",)
    examples: ClassVar[dict[str, int]] = {
        "quick": 1,
        "default": 2,
        "thorough": len(SEED_BLOCKS),
    }

    def instances(self) -> Any:
        """Draw one of the recorded seed blocks of paper.md's setting."""
        return st.sampled_from(SEED_BLOCKS).map(
            lambda b: {"first_seed": b, "num_seeds": BLOCK_SIZE}
        )

    def quick_instances(self) -> Any:
        """Use the first recorded block only."""
        return st.just({"first_seed": SEED_BLOCKS[0], "num_seeds": BLOCK_SIZE})

    def check_float64(self, instance: dict[str, int]) -> Evidence:
        """Run both GD trajectories for every seed of the block."""
        first = int(instance["first_seed"])
        seeds = list(range(first, first + int(instance["num_seeds"])))
        out = implicit_bias_experiment(seeds)
        e_bn, e_wh = out["energy_bn"][:, -1], out["energy_whitened"][:, -1]
        diff = float(np.mean(e_bn - e_wh))
        early = 10
        return Evidence(
            max_abs_err=max(0.0, MARGIN - diff),
            details={
                "seeds": seeds,
                "setting": {
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in PAPER_SETTING.items()
                },
                "margin": MARGIN,
                "mean_energy_bn_T": float(np.mean(e_bn)),
                "mean_energy_whitened_T": float(np.mean(e_wh)),
                "mean_difference_T": diff,
                "seeds_where_bn_larger": int(np.sum(e_bn > e_wh)),
                f"mean_energy_bn_t{early}": float(np.mean(out["energy_bn"][:, early])),
                f"mean_energy_whitened_t{early}": float(
                    np.mean(out["energy_whitened"][:, early])
                ),
            },
        )
