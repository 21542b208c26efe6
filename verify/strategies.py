"""Hypothesis strategies of small, valid-by-construction instances (style.md 19-22).

Arrays are drawn *directly* (``hypothesis.extra.numpy.arrays``), never as
integer seeds, so that a shrunk counterexample is a simpler instance.  Every
drawn perturbation is added to a fixed generic base (a seeded Gaussian
matrix), so shrinking moves towards a valid generic instance rather than
towards the all-zero (constant, BN-undefined) data set.

Instances are plain ``dict`` objects with NumPy arrays and floats, which the
report writer serialises as small JSON.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "BASE_SEED",
    "base_labels",
    "base_matrix",
    "betas",
    "bounded_floats",
    "highdim_instances",
    "invertible_matrices",
    "labels",
    "networks",
    "perturbed_labels",
    "perturbed_matrix",
    "regression_instances",
    "whitened_vectors",
    "with_affine_map",
    "with_network",
    "with_whitened_vector",
]

#: Seed of the fixed generic base matrices (documented in every report).
BASE_SEED = 20220301


def bounded_floats(bound: float = 1.0) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]``, no NaN, no subnormals (style.md 19)."""
    return st.floats(
        -bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False
    )


def base_matrix(n: int, d: int) -> np.ndarray:
    """Return the fixed generic ``n x d`` base matrix (seeded standard normal).

    The seed depends only on ``(n, d)``, so the same shape always gets the same
    base; its rows are in general position with probability one.
    """
    rng = np.random.default_rng([BASE_SEED, n, d])
    return rng.standard_normal((n, d))


@st.composite
def perturbed_matrix(draw: st.DrawFn, n: int, d: int, scale: float = 0.5) -> np.ndarray:
    """Return ``base_matrix(n, d) + scale * E``, ``E`` drawn entrywise in [-1, 1]."""
    E = draw(hnp.arrays(np.float64, (n, d), elements=bounded_floats(1.0)))
    return base_matrix(n, d) + scale * E


def labels(n: int, bound: float = 2.0) -> st.SearchStrategy[np.ndarray]:
    """Scalar labels ``y`` in ``[-bound, bound]^n`` drawn directly."""
    return hnp.arrays(np.float64, (n,), elements=bounded_floats(bound))


def base_labels(n: int) -> np.ndarray:
    """Return the fixed generic labels of length ``n`` (seeded standard normal)."""
    return np.random.default_rng([BASE_SEED, n]).standard_normal(n)


@st.composite
def perturbed_labels(draw: st.DrawFn, n: int, scale: float = 1.0) -> np.ndarray:
    """Return ``base_labels(n) + scale * e`` with ``e`` drawn entrywise in [-1, 1].

    Shrinking moves towards the generic base labels, not towards ``y = 0``
    (whose optimum is the trivial zero network).
    """
    e = draw(hnp.arrays(np.float64, (n,), elements=bounded_floats(1.0)))
    return base_labels(n) + scale * e


def betas(low: float = 0.05, high: float = 1.0) -> st.SearchStrategy[float]:
    """Weight-decay coefficients ``beta`` in ``[low, high]`` (strictly positive)."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def _centred_rank(X: np.ndarray) -> int:
    Xc = X - X.mean(axis=0)
    s = np.linalg.svd(Xc, compute_uv=False)
    return int(np.sum(s > max(X.shape) * np.finfo(float).eps * max(s[0], 1.0)))


@st.composite
def regression_instances(
    draw: st.DrawFn,
    n_range: tuple[int, int] = (4, 8),
    d_range: tuple[int, int] = (1, 3),
    beta_range: tuple[float, float] = (0.05, 1.0),
) -> dict[str, Any]:
    """Draw data sets ``{"X", "y", "beta"}`` with ``rank(C X) = min(n - 1, d)``.

    Parameters
    ----------
    n_range, d_range
        Inclusive ranges of the number of samples and features.
    beta_range
        Inclusive range of the weight-decay coefficient.

    Notes
    -----
    ``X`` is a perturbed generic base; the rank condition holds except on a
    measure-zero set, which :func:`hypothesis.assume` discards.
    """
    n = draw(st.integers(*n_range), label="n")
    d = draw(st.integers(*d_range), label="d")
    X = draw(perturbed_matrix(n, d), label="X")
    assume(_centred_rank(X) == min(n - 1, d))
    y = draw(perturbed_labels(n), label="y")
    assume(float(np.linalg.norm(y)) > 1e-3)
    beta = draw(betas(*beta_range), label="beta")
    return {"X": X, "y": y, "beta": beta}


def highdim_instances(
    n_range: tuple[int, int] = (3, 7),
    beta_range: tuple[float, float] = (0.05, 1.0),
) -> st.SearchStrategy[dict[str, Any]]:
    """Instances with ``rank(C X) = n - 1`` (the high-dimensional regime, R2).

    ``d`` is drawn in ``[n - 1, n + 2]`` so that the centred data have full
    row rank ``n - 1``.
    """

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        n = draw(st.integers(*n_range), label="n")
        d = draw(st.integers(n - 1, n + 2), label="d")
        X = draw(perturbed_matrix(n, d), label="X")
        assume(_centred_rank(X) == n - 1)
        y = draw(perturbed_labels(n), label="y")
        beta = draw(betas(*beta_range), label="beta")
        return {"X": X, "y": y, "beta": beta}

    return build()


@st.composite
def invertible_matrices(draw: st.DrawFn, d: int) -> np.ndarray:
    """Well-conditioned invertible ``d x d`` matrices ``3 I + 0.5 E``, ``|E_ij| <= 1``.

    Notes
    -----
    For ``d <= 4`` each row has diagonal ``>= 2.5`` and off-diagonal absolute
    sum ``<= 1.5``, so the matrix is strictly diagonally dominant (invertible,
    by Gershgorin) with condition number at most ``4 / 1 = 4`` in the
    infinity norm.
    """
    E = draw(hnp.arrays(np.float64, (d, d), elements=bounded_floats(1.0)))
    return 3.0 * np.eye(d) + 0.5 * E


@st.composite
def whitened_vectors(
    draw: st.DrawFn, m: int, *, nonzero_head: bool = True
) -> np.ndarray:
    """Vectors ``s`` in ``R^m`` (whitened coordinates), entries in ``[-2, 2]``.

    With ``nonzero_head`` the first ``m - 1`` entries (the ``U`` part) are
    shifted away from zero so that ``s[:m-1] != 0`` by construction.
    """
    s = draw(hnp.arrays(np.float64, (m,), elements=bounded_floats(2.0)))
    if nonzero_head and m > 1:
        s = s.copy()
        s[0] = s[0] + (2.5 if s[0] >= 0 else -2.5)
    return s


@st.composite
def networks(draw: st.DrawFn, d: int, m: int) -> dict[str, np.ndarray]:
    """Draw ``W`` (d x m, generic) and ``gamma``, ``alpha``, ``v`` in ``[-2, 2]^m``."""
    W = draw(perturbed_matrix(d, m), label="W")
    vec = hnp.arrays(np.float64, (m,), elements=bounded_floats(2.0))
    return {"W": W, "gamma": draw(vec), "alpha": draw(vec), "v": draw(vec)}


@st.composite
def with_network(
    draw: st.DrawFn,
    base: st.SearchStrategy[dict[str, Any]],
    m_range: tuple[int, int] = (1, 4),
) -> dict[str, Any]:
    """Extend a data instance with a BN network ``"net"`` of width in ``m_range``."""
    inst = dict(draw(base))
    m = draw(st.integers(*m_range), label="m")
    inst["net"] = draw(networks(inst["X"].shape[1], m), label="net")
    return inst


@st.composite
def with_whitened_vector(
    draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]
) -> dict[str, Any]:
    """Extend a data instance with ``"s"`` in ``R^{r+1}``, ``s[:r] != 0``.

    ``r = rank(CX)``, so ``s`` lives in the coordinates of ``U'``.
    """
    inst = dict(draw(base))
    inst["s"] = draw(whitened_vectors(_centred_rank(inst["X"]) + 1), label="s")
    return inst


@st.composite
def with_affine_map(
    draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]
) -> dict[str, Any]:
    """Extend a data instance with an invertible ``"A"`` (d x d) and a shift ``"c"``."""
    inst = dict(draw(base))
    d = inst["X"].shape[1]
    inst["A"] = draw(invertible_matrices(d), label="A")
    inst["c"] = draw(hnp.arrays(np.float64, (d,), elements=bounded_floats(3.0)))
    return inst


# ---------------------------------------------------------------------------
# Degenerate data (numerics model side: arrangements, whitening)
# ---------------------------------------------------------------------------

__all__ += ["degenerate_points"]


@st.composite
def degenerate_points(
    draw: st.DrawFn,
    k_range: tuple[int, int] = (3, 6),
    d_range: tuple[int, int] = (1, 3),
    max_repeats: int = 3,
) -> dict[str, Any]:
    """Draw data *not* in general position: repeated and collinear points.

    Returns ``{"X", "unique", "index"}`` with ``X = unique[index]``.  The
    distinct points ``unique`` are a perturbed generic base plus, when
    ``d >= 2``, the midpoint of the first two points (three collinear points).
    ``index`` lists every distinct point at least once and repeats up to
    ``max_repeats`` of them, in a drawn order.
    """
    k = draw(st.integers(*k_range), label="k")
    d = draw(st.integers(*d_range), label="d")
    unique = draw(perturbed_matrix(k, d), label="unique")
    if d >= 2:
        unique = np.vstack([unique, 0.5 * (unique[0] + unique[1])])
    extra = draw(
        st.lists(st.integers(0, len(unique) - 1), max_size=max_repeats), label="repeats"
    )
    index = np.array(draw(st.permutations(list(range(len(unique))) + extra)))
    return {"X": unique[index], "unique": unique, "index": index}
