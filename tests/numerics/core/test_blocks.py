"""Named conversions between the block layouts (numerics/core/blocks.py)."""

from __future__ import annotations

import numpy as np
import pytest
from bnconvex.numerics.core.blocks import (
    from_fullscale,
    scatter_blocks,
    split_blocks,
    stack_blocks,
    to_fullscale,
)


@pytest.mark.parametrize("shape", [(5, 3), (5, 3, 4)], ids=["scalar", "K=4"])
def test_fullscale_round_trip_is_exact(shape):
    rng = np.random.default_rng(0)
    Sp, Sm = rng.standard_normal(shape), rng.standard_normal(shape)
    S = to_fullscale(Sp, Sm, np, np.float64)
    K = shape[2] if len(shape) == 3 else 1
    assert S.shape == (3, 2, K, 5)  # (m, 2, K, P)
    assert S[1, 0, 0, 2] == (Sp[2, 1] if len(shape) == 2 else Sp[2, 1, 0])
    back = from_fullscale(S, np, vector=len(shape) == 3)
    np.testing.assert_array_equal(back[0], Sp)
    np.testing.assert_array_equal(back[1], Sm)


def test_stack_split_and_scatter():
    Sp, Sm = np.arange(6.0).reshape(3, 2), -np.arange(6.0).reshape(3, 2)
    X = stack_blocks(Sp, Sm)
    assert X.shape == (2, 3, 2)
    a, b = split_blocks(X)
    np.testing.assert_array_equal(a, Sp)
    np.testing.assert_array_equal(b, Sm)
    full_p, full_m = scatter_blocks(X[:, [0, 2]], np.array([1, 4]), 5)
    np.testing.assert_array_equal(full_p[[1, 4]], Sp[[0, 2]])
    np.testing.assert_array_equal(full_m[[1, 4]], Sm[[0, 2]])
    assert not full_p[[0, 2, 3]].any()
