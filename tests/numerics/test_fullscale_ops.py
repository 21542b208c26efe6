"""Chunked operator of the full-scale solver against dense NumPy formulas.

The references are the defining formulas evaluated with ``np.einsum`` on whole
arrays (no chunks), so every chunking (rows, patterns, edge chunks, the
``m > P`` loss-gradient branch) must reproduce them to rounding.
"""

import numpy as np
import pytest
from bnconvex.numerics.fullscale._ops import ChunkedOperator, chunk_sizes

from tests.common.assertions import assert_rel_close, xp_assert_close

# (n, m, P, K, row_chunk, pattern_chunk); None = the default chunk sizes
CASES = [
    (37, 5, 9, 1, 7, 4),  # row and pattern chunks with ragged edges
    (37, 5, 9, 3, 40, 9),  # one chunk
    (50, 12, 6, 2, 8, 5),  # m > P: the masked loss-gradient branch
    (33, 3, 40, 4, 5, 7),
    (200, 21, 64, 1, None, None),
]


def _data(n, m, P, K, seed=1):
    rng = np.random.default_rng(seed)
    return {
        "F": rng.standard_normal((n, m)),
        "D": (rng.random((n, P)) < 0.5).astype(np.float64),
        "S": rng.standard_normal((m, 2, K, P)),
        "Y": rng.standard_normal((n, K)),
        "lam": np.maximum(rng.standard_normal((n, 2, K, P)), 0.0),
    }


def _dense(d, rho):
    """Yhat, loss gradient at R = Yhat - Y, cone gradient, violation (dense)."""
    F, D, S, lam = d["F"], d["D"], d["S"], d["lam"]
    Z = np.einsum("jl,lski->jski", F, S)
    Yhat = np.einsum("ji,jki->jk", D, Z[:, 0] - Z[:, 1])
    R = Yhat - d["Y"]
    Lg = np.einsum("jl,ji,jk->lki", F, D, R)[:, None]
    E = (2.0 * D - 1.0)[:, None, None, :]
    mu = np.maximum(lam - rho * E * Z, 0.0)
    Gc = np.einsum("jl,jski->lski", F, E * mu)
    sign = np.array([1.0, -1.0]).reshape(1, 2, 1, 1)
    return Yhat, Lg, sign * Lg - Gc, max(0.0, float(np.max(-E * Z))), mu


def _op(d, xp, rc, pc):
    n, P, K = d["D"].shape[0], d["D"].shape[1], d["S"].shape[2]
    rc, pc = chunk_sizes(n, P, K, rc, pc)
    return ChunkedOperator(
        xp.asarray(d["F"]), xp.asarray(d["D"]), xp, row_chunk=rc, pattern_chunk=pc
    )


def _close(actual, desired, xp, what):
    # float64 sums of <= 200 O(1) terms in a different order: 1e-12 of the scale
    scale = float(np.max(np.abs(desired)))
    xp_assert_close(
        actual, xp.asarray(desired), rtol=1e-12, atol=1e-12 * scale, err_msg=what
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("rho", [0.0, 0.7])
def test_gradient_matches_dense(xp, case, rho):
    n, m, P, K, rc, pc = case
    d = _data(n, m, P, K)
    Yhat, Lg, G, _, _ = _dense(d, rho)
    op = _op(d, xp, rc, pc)
    S, Y, lam = (xp.asarray(d[k]) for k in ("S", "Y", "lam"))
    R, Gx = op.gradient(S, Y, lam, rho)
    _close(R, Yhat - d["Y"], xp, "residual")
    _close(Gx, G, xp, "gradient with cone multipliers")
    _close(op.loss_gradient(R), Lg, xp, "loss gradient")
    _, Gg = op.gradient(S, Y, None, rho)  # gated relaxation: no cone term
    sign = np.array([1.0, -1.0]).reshape(1, 2, 1, 1)
    _close(Gg, sign * Lg, xp, "gated gradient")


@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: "x".join(map(str, c)))
def test_multiplier_step_and_violation(xp, case):
    n, m, P, K, rc, pc = case
    d = _data(n, m, P, K, seed=2)
    rho = 0.3
    _, _, _, viol, mu = _dense(d, rho)
    op = _op(d, xp, rc, pc)
    S, lam = xp.asarray(d["S"]), xp.asarray(d["lam"])
    assert_rel_close(op.violation(S), viol, 1e-12, "violation")
    assert_rel_close(op.multiplier_step(S, lam, rho), viol, 1e-12, "step violation")
    _close(lam, mu, xp, "multipliers after the step")


def test_float32_gradient_matches_float64():
    n, m, P, K = 120, 7, 16, 2
    d = _data(n, m, P, K, seed=3)
    _, _, G, _, _ = _dense(d, 0.5)
    d32 = {k: v.astype(np.float32) for k, v in d.items()}
    op = _op(d32, np, 50, 16)
    _, G32 = op.gradient(d32["S"], d32["Y"], d32["lam"], 0.5)
    assert G32.dtype == np.float32, f"dtype {G32.dtype}"
    # float32 (eps 6e-8) sums of ~120 terms: 1e-4 of the scale
    xp_assert_close(
        G32.astype(np.float64), G, rtol=1e-4, atol=1e-4 * float(np.max(np.abs(G)))
    )


@pytest.mark.parametrize(
    ("n", "P", "K", "expected"),
    [
        (2000, 256, 1, (256, 256)),  # 131072 // 512 rows, whole pattern rows
        (20000, 64, 10, (102, 64)),  # 131072 // 1280
        (100, 256, 10, (64, 102)),  # 2KP * 64 > 131072: 131072 // (64 * 20) patterns
        (10, 8, 1, (10, 8)),  # fewer rows than a chunk
    ],
)
def test_chunk_sizes(n, P, K, expected):
    assert chunk_sizes(n, P, K, None, None) == expected
    assert chunk_sizes(n, P, K, 3, 2) == (3, 2), "explicit sizes are kept"
