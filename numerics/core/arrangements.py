r"""Activation patterns of the whitened data: the hyperplane arrangement of :math:`U'`.

A pattern is the diagonal of :math:`D = \operatorname{diag}(\mathbf 1[U'u \ge 0])`
for some :math:`u \in \mathbb R^{r+1}` (paper.md R1).  Patterns are stored as
an ``(n, P)`` bool array ``D`` whose column ``i`` is the diagonal of
:math:`D_i`; the all-false pattern is never included (it contributes nothing
to the convex program).

Because the last column of :math:`U'` is the positive constant
:math:`1/\sqrt n`, every pattern is attained on an *open* region of the
central arrangement :math:`\{u : U'_j u = 0\}`: perturbing :math:`u` along
:math:`e_{r+1}` turns zeros into strict positives and keeps strict signs.  So
the patterns are exactly the sign vectors of the regions, and (since
:math:`\operatorname{col}(U') = \operatorname{col}([X, \mathbf 1])`) exactly the
affine dichotomies :math:`\mathbf 1[Xw + b\mathbf 1 \ge 0]` of the data points
(claim 8).
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Literal

import numpy as np
from bnconvex.numerics._validation import (
    check_finite,
    check_patterns,
    check_positive_int,
    load_numpy_file,
)
from bnconvex.numerics.errors import InputError, SolverError
from scipy.optimize import linprog

__all__ = [
    "LP_MARGIN_TOL",
    "enumerate_patterns",
    "is_realizable",
    "load_patterns",
    "max_pattern_count",
    "sample_patterns",
    "save_patterns",
]

#: A region counts as non-empty when its largest inscribed margin
#: :math:`\max\{t : \sigma_j U'_j u \ge t, \|u\|_\infty \le 1\}` exceeds this.
LP_MARGIN_TOL = 1e-9
#: Rows of ``U_prime`` closer than this (Euclidean) are the same hyperplane
#: (repeated data points); a ray value below it is a zero (degenerate data).
_ROW_TOL = 1e-10
_RAY_ZERO_TOL = 1e-10
_CHUNK = 4096

Method = Literal["auto", "vertex", "lp"]


def max_pattern_count(n: int, r: int) -> int:
    r"""Count the regions of ``n`` central hyperplanes in general position in R^{r+1}.

    Parameters
    ----------
    n : int
        Number of (distinct) data points.
    r : int
        Rank of the centred data.

    Returns
    -------
    int
        :math:`2\sum_{k=0}^{r}\binom{n-1}{k}`, including the all-false pattern;
        an upper bound for any data (Cover 1965; paper.md R1).

    Notes
    -----
    The patterns of :math:`U' = [U, \mathbf 1/\sqrt n]` are the sign patterns of
    :math:`U'u`, i.e. the regions cut by the :math:`n` hyperplanes
    :math:`\{u : u_i'^T u = 0\}` in :math:`\mathbb R^{r+1}`; central hyperplanes in
    general position cut :math:`2\sum_{k=0}^{r}\binom{n-1}{k}` regions and any
    other position fewer.

    Examples
    --------
    >>> max_pattern_count(15, 2)
    212
    """
    n = check_positive_int(n, "n")
    if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 0:
        raise InputError(f"`r` must be an integer >= 0; got {r!r}")
    return 2 * sum(math.comb(n - 1, k) for k in range(r + 1))


def _check_U_prime(U_prime: np.ndarray) -> np.ndarray:
    A = np.asarray(U_prime, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 2:
        raise InputError(
            f"`U_prime` must be a 2-D array (n x (r+1)), r >= 1; got shape {A.shape}"
        )
    check_finite(A, "U_prime")
    if not np.all(A[:, -1] > 0):
        raise InputError(
            "`U_prime` must have a positive last column (the shift direction "
            f"1/sqrt(n)); got min {float(A[:, -1].min()):.3g}"
        )
    return A


def _unique_rows(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge rows closer than ``_ROW_TOL``; return (representatives, row -> rep)."""
    reps: list[int] = []
    index = np.empty(A.shape[0], dtype=np.intp)
    for i, row in enumerate(A):
        if reps:
            dist = np.linalg.norm(A[reps] - row, axis=1)
            k = int(np.argmin(dist))
            if dist[k] <= _ROW_TOL:
                index[i] = k
                continue
        index[i] = len(reps)
        reps.append(i)
    return A[reps], index


def _dedupe_columns(S: np.ndarray) -> np.ndarray:
    """Return the unique columns of a bool array, in lexicographic order."""
    if S.shape[1] == 0:
        return S
    packed = np.ascontiguousarray(np.packbits(S, axis=0).T)  # one byte row per column
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first = np.unique(keys, return_index=True)  # sorted = lexicographic bits
    return S[:, first]


# -------------------------------------------------------------------------
# main path: lines (extreme rays) of the arrangement, recursing at degenerate ones
# -------------------------------------------------------------------------


def _first_unique_rows(B: np.ndarray) -> np.ndarray:
    """Return the indices of the first occurrence of each distinct bool row."""
    packed = np.ascontiguousarray(np.packbits(B, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    return np.unique(keys, return_index=True)[1]


def _lines(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct lines ``(rays (L, D), zero sets (L, k))`` of ``M``'s rows.

    A line is the null space of ``D - 1`` independent rows; two subsets give
    the same line iff the line lies on the same hyperplanes, so lines are
    deduplicated by their zero set.
    """
    k, D = M.shape
    subsets = np.array(list(itertools.combinations(range(k), D - 1)), dtype=np.intp)
    rays, zeros = [np.empty((0, D))], [np.empty((0, k), dtype=bool)]
    for start in range(0, len(subsets), _CHUNK):
        _, S, Vh = np.linalg.svd(M[subsets[start : start + _CHUNK]], full_matrices=True)
        chunk = Vh[S[:, -1] > _RAY_ZERO_TOL, -1, :]  # unit null vectors
        zero = np.abs(chunk @ M.T) <= _RAY_ZERO_TOL
        first = _first_unique_rows(zero)
        rays.append(chunk[first])
        zeros.append(zero[first])
    rays_all, zeros_all = np.concatenate(rays), np.concatenate(zeros)
    first = _first_unique_rows(zeros_all)
    return rays_all[first], zeros_all[first]


def _simple_regions(M: np.ndarray, rays: np.ndarray, zeros: np.ndarray) -> np.ndarray:
    """Regions at lines lying on exactly ``D - 1`` hyperplanes: all sign choices."""
    D = M.shape[1]
    base = rays @ M.T > 0  # (L, k)
    on = np.nonzero(zeros)[1].reshape(len(rays), D - 1)
    combos = np.array(list(itertools.product((False, True), repeat=D - 1)))
    out = np.repeat(base[:, None, :], len(combos), axis=1)  # (L, 2^(D-1), k)
    rows = np.arange(len(rays))[:, None]
    for c in range(len(combos)):
        out[rows, c, on] = combos[c]
    return out.reshape(-1, M.shape[0]).T


def _degenerate_regions(M: np.ndarray, ray: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Regions at a line lying on more than ``D - 1`` hyperplanes (recursion)."""
    sub = M[zero]
    basis = np.linalg.svd(sub)[2][: M.shape[1] - 1]  # row space of sub, dim D - 1
    local = _regions(sub @ basis.T)
    out = np.repeat((M @ ray > 0)[:, None], local.shape[1], axis=1)
    out[zero] = local
    return out


def _regions(M: np.ndarray) -> np.ndarray:
    r"""Sign vectors (bool, ``(k, R)``) of all regions of the rows of ``M``.

    ``M`` must have full column rank ``D`` (an essential arrangement) and no
    two proportional rows.

    Every region of an essential central arrangement in :math:`\mathbb R^D`,
    :math:`D \ge 2`, is a pointed cone, so it has an extreme ray, on a line
    cut out by :math:`D-1` independent hyperplanes.  The regions whose closure
    contains a ray :math:`\rho` keep the signs of :math:`\rho` off the
    hyperplanes :math:`Z` through it and, on :math:`Z`, run over all regions
    of the arrangement :math:`Z` in :math:`\rho^\perp` (dimension
    :math:`D-1`): all :math:`2^{D-1}` sign choices when :math:`|Z| = D-1`
    (general position), else found recursively.  Regions come in pairs
    :math:`\pm`, so only :math:`+\rho` is visited.
    """
    D = M.shape[1]
    if D == 1:
        return np.column_stack([M[:, 0] > 0, M[:, 0] < 0])
    rays, zeros = _lines(M)
    simple = zeros.sum(axis=1) == D - 1
    blocks = [_simple_regions(M, rays[simple], zeros[simple])]
    for ray, zero in zip(rays[~simple], zeros[~simple], strict=True):
        blocks.append(_degenerate_regions(M, ray, zero))
    S = _dedupe_columns(np.concatenate(blocks, axis=1))
    return _dedupe_columns(np.concatenate([S, ~S], axis=1))


def _enumerate_vertex(A: np.ndarray) -> np.ndarray | None:
    """Return all regions by the line method; ``None`` if above the count bound."""
    S = _regions(A)
    if S.shape[1] > max_pattern_count(A.shape[0], A.shape[1] - 1):
        return None  # numerical trouble: let the LP path decide
    return S


# -------------------------------------------------------------------------
# exact path for any data: incremental LP splitting
# -------------------------------------------------------------------------


def _max_margin(G: np.ndarray) -> tuple[float, np.ndarray]:
    """Solve ``max t s.t. G u >= t, |u|_inf <= 1, t <= 1``; return (t*, u*)."""
    k, D = G.shape
    c = np.zeros(D + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-G, np.ones((k, 1))])
    bounds = [(-1.0, 1.0)] * D + [(None, 1.0)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(k), bounds=bounds, method="highs")
    if res.status != 0:  # pragma: no cover - the LP is feasible and bounded
        raise RuntimeError(f"arrangement LP failed: {res.message}")
    return -float(res.fun), res.x[:D]


def _split(A: np.ndarray, j: int, signs: np.ndarray, u: np.ndarray):
    """Yield the (sign, witness) children of one region cut by hyperplane ``j``."""
    val = float(A[j] @ u)
    for side in (1.0, -1.0):
        if side * val > LP_MARGIN_TOL:  # the witness keeps a margin > tol
            yield side > 0, u
            continue
        G = np.vstack([(2.0 * signs[:j] - 1.0)[:, None] * A[:j], side * A[j]])
        t, w = _max_margin(G)
        if t > LP_MARGIN_TOL:
            yield side > 0, w


def _enumerate_lp(A: np.ndarray) -> np.ndarray:
    r"""All regions by adding hyperplanes one at a time (exact for any data).

    A region with sign vector :math:`s` (over the hyperplanes added so far) is
    cut by hyperplane :math:`j` into two iff both
    :math:`\{\operatorname{diag}(s)A u > 0, \pm A_j u > 0\}` are non-empty,
    tested as a max-margin LP.  Only the half with :math:`A_0 u > 0` is
    tracked; the other half is its negation.
    """
    N = A.shape[0]
    first = np.zeros(N, dtype=bool)
    first[0] = True
    regions = [(first, A[0] / np.linalg.norm(A[0]))]
    for j in range(1, N):
        new = []
        for signs, u in regions:
            for positive, w in _split(A, j, signs, u):
                child = signs.copy()
                child[j] = positive
                new.append((child, w))
        regions = new
    S = np.array([s for s, _ in regions]).T
    return np.concatenate([S, ~S], axis=1)


def enumerate_patterns(U_prime: np.ndarray, *, method: Method = "auto") -> np.ndarray:
    r"""Every activation pattern of the whitened data (exact enumeration).

    Parameters
    ----------
    U_prime : array, shape (n, r+1)
        Whitened data :math:`U'`; its last column must be positive.
    method : {"auto", "vertex", "lp"}, default "auto"
        ``"vertex"``: enumeration from the lines (extreme rays) of the
        arrangement, recursing at lines that lie on more than ``r``
        hyperplanes; ``"lp"``: incremental LP splitting, slower, an
        independent cross-check; ``"auto"``: ``"vertex"``, falling back to
        ``"lp"`` if its count exceeds :func:`max_pattern_count` (which only
        rounding trouble can cause).  Both are exact for any data.

    Returns
    -------
    D : bool array, shape (n, P)
        All distinct patterns except the all-false one, columns in
        lexicographic order.  ``P + 1 <= max_pattern_count(n, r)``, with
        equality for data in general position.

    Raises
    ------
    InputError
        ``U_prime`` not 2-D, non-finite, last column not positive, or an
        unknown ``method``.

    Notes
    -----
    Repeated data points give equal rows of :math:`U'` (merged when closer than
    ``1e-10``); they are one hyperplane and always share their sign.  The
    vertex path visits the :math:`O(\binom{n}{r})` lines and costs
    :math:`O(\binom{n}{r} 2^r n)` in general position; a row is zero on a
    line when :math:`|U'_j\rho| \le 10^{-10}` (:math:`\|\rho\| = 1`).  The
    LP path solves one small LP per region and hyperplane and counts a region
    when its largest inscribed margin (with :math:`\|u\|_\infty \le 1`)
    exceeds :data:`LP_MARGIN_TOL`.  Regions thinner than these tolerances
    (nearly degenerate data) may be merged or missed.

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.core.whitening import whiten
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> enumerate_patterns(whiten(X).U_prime).sum(axis=0).tolist()  # 5 = 6 - 1
    [1, 2, 1, 2, 3]
    """
    A = _check_U_prime(U_prime)
    if method not in ("auto", "vertex", "lp"):
        raise InputError(f"`method` must be 'auto', 'vertex' or 'lp'; got {method!r}")
    B, index = _unique_rows(A)
    S = None if method == "lp" else _enumerate_vertex(B)
    if S is None and method == "vertex":
        raise SolverError(
            "pattern enumeration by lines found more regions than the bound "
            "(rounding trouble); use method='lp'"
        )
    if S is None:
        S = _enumerate_lp(B)
    D = _dedupe_columns(S[index])
    return D[:, D.any(axis=0)]


def sample_patterns(
    U_prime: np.ndarray, num: int, *, seed: int | np.random.Generator
) -> np.ndarray:
    r"""Patterns :math:`\mathbf 1[U'u \ge 0]` of ``num`` Gaussian directions ``u``.

    Parameters
    ----------
    U_prime : array, shape (n, r+1)
    num : int
        Number of directions drawn.
    seed : int or numpy.random.Generator

    Returns
    -------
    D : bool array, shape (n, P)
        The distinct non-empty patterns found (``P <= num``), columns in
        lexicographic order.  A subset of :func:`enumerate_patterns`.

    Notes
    -----
    A direction :math:`u \sim N(0, I_{r+1})` lands in the region of pattern
    :math:`D_i` with probability equal to that region's solid angle, so small
    regions may be missed: a sampled set gives a lower bound on the convex
    program's value restricted to those patterns, not the global optimum
    (only the universal bound stays valid for the network; paper.md R1).

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.core.whitening import whiten
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> Up = whiten(X).U_prime
    >>> D = sample_patterns(Up, 50, seed=0)
    >>> D.shape, D.dtype  # here 50 directions find all 13 non-empty patterns
    ((4, 13), dtype('bool'))
    >>> all(is_realizable(Up, D[:, i]) for i in range(D.shape[1]))
    True
    """
    A = _check_U_prime(U_prime)
    num = check_positive_int(num, "num")
    rng = np.random.default_rng(seed)
    found: list[np.ndarray] = []
    for start in range(0, int(num), 65536):
        u = rng.standard_normal((A.shape[1], min(65536, int(num) - start)))
        found.append(_dedupe_columns(A @ u >= 0))
    D = _dedupe_columns(np.concatenate(found, axis=1))
    return D[:, D.any(axis=0)]


def is_realizable(U_prime: np.ndarray, pattern: np.ndarray) -> bool:
    r"""Whether some :math:`u` has :math:`\mathbf 1[A u \ge 0] =` ``pattern``.

    Parameters
    ----------
    U_prime : array, shape (n, k)
        Any matrix ``A`` (e.g. :math:`U'` or :math:`[X, \mathbf 1]`).
    pattern : bool or 0/1 array, shape (n,)

    Returns
    -------
    bool

    Notes
    -----
    Solves :math:`\max\{t : A_P u \ge 0,\ A_N u \le -t,\ \|u\|_\infty \le 1,\
    t \le 1\}` with :math:`P` the rows where ``pattern`` is true and
    :math:`N` the others; realisable iff :math:`N = \emptyset` or
    :math:`t^* >` :data:`LP_MARGIN_TOL` (by scale invariance, strictness on
    :math:`N` is equivalent to a positive margin).  The all-false pattern is
    realisable for :math:`U'` (``u = -e_{r+1}``) although ``D`` never holds it.

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.core.whitening import whiten
    >>> Up = whiten(np.array([[0.0], [1.0], [2.0]])).U_prime  # three points on a line
    >>> is_realizable(Up, np.array([True, False, True]))  # not an affine dichotomy
    False
    >>> is_realizable(Up, np.array([False, True, True]))
    True
    """
    A = np.asarray(U_prime, dtype=np.float64)
    if A.ndim != 2:
        raise InputError(f"`U_prime` must be a 2-D array; got ndim={A.ndim}")
    check_finite(A, "U_prime")
    p = _check_pattern_vector(pattern, A.shape[0])
    if p.all():
        return True
    k = A.shape[1]
    rows = np.vstack([-A[p], A[~p]])
    t_col = np.concatenate([np.zeros(int(p.sum())), np.ones(int((~p).sum()))])
    A_ub = np.hstack([rows, t_col[:, None]])
    c = np.zeros(k + 1)
    c[-1] = -1.0
    bounds = [(-1.0, 1.0)] * k + [(None, 1.0)]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(len(rows)), bounds=bounds, method="highs")
    return bool(res.status == 0 and -res.fun > LP_MARGIN_TOL)


def _check_pattern_vector(pattern: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(pattern)
    if p.shape != (n,):
        raise InputError(f"`pattern` must have shape ({n},); got {p.shape}")
    if p.dtype != bool and not np.all((p == 0) | (p == 1)):
        raise InputError("`pattern` must hold 0/1 or bool values")
    return p.astype(bool)


def load_patterns(path: str | os.PathLike[str], n: int) -> np.ndarray:
    """Read a pattern set written by :func:`save_patterns` (or by hand).

    Parameters
    ----------
    path : path-like
        ``.npy`` file holding an ``(n, P)`` array of 0/1 or bool values.
    n : int
        Number of samples of the data it will be used with.

    Returns
    -------
    D : bool array, shape (n, P)

    Raises
    ------
    InputError
        Missing or unreadable file, wrong ``ndim`` or ``n``, non-binary
        values, or an all-zero column; the message names ``patterns``.
    """
    D = load_numpy_file(path, "patterns")
    return check_patterns(D, int(n), "patterns", source=repr(os.fspath(path)))


def save_patterns(path: str | os.PathLike[str], D: np.ndarray) -> None:
    """Write a pattern set as a bool ``.npy`` array of shape ``(n, P)``."""
    D = np.asarray(D)
    D = check_patterns(
        D, D.shape[0] if D.ndim else 0, "patterns", source="to save", allow_empty=True
    )
    np.save(path, D)
