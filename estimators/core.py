r"""Fitting and inference behind the scikit-learn estimators (no scikit-learn here).

A target matrix :math:`Y \in \mathbb R^{n\times K}` is fitted column by column:
the squared loss and the weight decay separate over the outputs when every
neuron feeds one output (``bnconvex train``'s ``group="class"``), so the fit is
``K`` scalar convex programs (paper.md R1),

.. math::

    \min \sum_{k=1}^K \Bigl[\tfrac12\bigl\|\textstyle\sum_i D_iU'(s_{ik} -
    s'_{ik}) - y_k\bigr\|^2 + \beta_a \sum_i (\|s_{ik}\| + \|s'_{ik}\|)\Bigr],

solved either by :func:`bnconvex.numerics.exact.fit_exact` once per column
(``method="exact"``) or by :func:`bnconvex.numerics.fullscale.fit` on the whole
matrix (``method="fullscale"``).  Objectives and lower bounds add up over the
columns; a sum of bounds is a bound of the kind of the weakest of them.

Inference on new samples uses the BN statistics of the training batch
(PyTorch's ``eval()`` mode with the running statistics set to the batch's):

.. math::

    z_j(x) = c\,\Bigl(\gamma_j\frac{x^Tw_j - \mu_j}{\sqrt{\sigma^2_j}}
    + \alpha_j\Bigr), \qquad f(x) = \sum_j (z_j(x))_+ v_j,

with :math:`\mu_j, \sigma^2_j` the mean and biased variance of
:math:`Xw_j` over the training batch and :math:`c = 1` (convention ``std``) or
:math:`1/\sqrt n` (convention ``a``: :math:`BN^a = BN^{std}/\sqrt n`).  On the
training batch :math:`f` is exactly :func:`bnconvex.numerics.forward`;
each prediction depends on its own row only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from bnconvex.numerics import BNNetwork, InputError, objective

__all__ = [
    "BOUND_ORDER",
    "EXACT_MAX_SAMPLES",
    "FULLSCALE_PATTERNS",
    "FitOptions",
    "FitSummary",
    "batch_statistics",
    "blocks_to_network",
    "choose_method",
    "fit_columns",
    "frozen_forward",
]

#: ``method="auto"`` fits with the exact solvers up to this many samples.
EXACT_MAX_SAMPLES = 1000
#: Sampled patterns of the full-scale path for ``arrangements="auto"``
#: (``bnconvex train``'s default).
FULLSCALE_PATTERNS = 512
#: Bound kinds from the strongest to the weakest (``numerics.exact``'s vocabulary).
BOUND_ORDER = ("global", "patterns", "universal")
_REGULARIZER_KEYS = ("k", "power", "shift")


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """The estimator parameters that reach the solvers (validated by :meth:`check`).

    Attributes mirror the estimators' constructor arguments; ``seed`` is the
    integer drawn from ``random_state``.
    """

    beta: float
    bn: str = "a"
    arrangements: str | int = "auto"
    method: str = "auto"
    solver: str | None = None
    tol: float | None = None
    max_iter: int | None = None
    time_limit: float | None = None
    regularizer: Mapping[str, Any] | None = None
    dtype: str = "float64"
    seed: int = 0
    verbose: bool = False

    def check(self) -> FitOptions:
        """Return ``self`` after checking the options the solvers do not check."""
        if self.bn not in ("a", "std"):
            raise InputError(f"`bn` must be 'a' or 'std'; got {self.bn!r}")
        if self.method not in ("auto", "exact", "fullscale"):
            raise InputError(
                f"`method` must be 'auto', 'exact' or 'fullscale'; got {self.method!r}"
            )
        if self.dtype not in ("float64", "float32"):
            raise InputError(
                f"`dtype` must be 'float64' or 'float32'; got {self.dtype!r}"
            )
        if self.regularizer is not None and (
            not isinstance(self.regularizer, Mapping)
            or set(self.regularizer) - set(_REGULARIZER_KEYS)
        ):
            raise InputError(
                "`regularizer` must be None or a mapping with keys among "
                f"{_REGULARIZER_KEYS}; got {self.regularizer!r}"
            )
        return self

    def solver_options(self) -> dict[str, Any]:
        """``tol``, ``max_iter`` and ``time_limit`` where set."""
        names = ("tol", "max_iter", "time_limit")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}


@dataclasses.dataclass(frozen=True)
class FitSummary:
    """A fitted network (convention ``bn``) with its certificate, all columns summed.

    Attributes
    ----------
    network : BNNetwork
        ``v`` of shape ``(m, K)``: each neuron feeds one output.
    objective : float
        Training objective of ``network`` (convention ``bn``), which equals
        the program's at a feasible point; with a regulariser, the
        regularised program's objective.
    lower_bound : float
        Lower bound of kind ``bound_kind`` on the optimum.
    pattern_lower_bound : float
        Lower bound on the program over the patterns used (kind ``patterns``).
    bound_kind : {"global", "patterns", "universal"}
    status : str
        ``"optimal"`` when every column's solve is, else the first other status.
    method : {"exact", "fullscale"}
    n_patterns : int
        Patterns per column (the largest over the columns).
    n_iter : int
        Solver iterations (the largest over the columns).
    """

    network: BNNetwork
    objective: float
    lower_bound: float
    pattern_lower_bound: float
    bound_kind: str
    status: str
    method: str
    n_patterns: int
    n_iter: int


def choose_method(options: FitOptions, n: int) -> str:
    """``"exact"`` or ``"fullscale"``: the option, or by size for ``"auto"``.

    ``"auto"`` is exact up to :data:`EXACT_MAX_SAMPLES` samples without a
    regulariser; a regulariser exists only on the full-scale path.
    """
    if options.method == "exact" and options.regularizer is not None:
        raise InputError(
            "`regularizer` needs method='fullscale' (or 'auto'); the exact "
            "program has none"
        )
    if options.method != "auto":
        return options.method
    small = n <= EXACT_MAX_SAMPLES and options.regularizer is None
    return "exact" if small else "fullscale"


def fit_columns(X: np.ndarray, Y: np.ndarray, options: FitOptions) -> FitSummary:
    """Fit the ``K`` columns of ``Y`` (``(n, K)`` float64) on ``X`` (``(n, d)``).

    Parameters
    ----------
    X : ndarray, shape (n, d)
    Y : ndarray, shape (n, K)
    options : FitOptions

    Returns
    -------
    FitSummary
    """
    options = options.check()
    if choose_method(options, X.shape[0]) == "exact":
        return _fit_exact(X, Y, options)
    return _fit_fullscale(X, Y, options)


def _weakest(kinds: list[str]) -> str:
    return max(kinds, key=BOUND_ORDER.index)


def _first_not_optimal(statuses: list[str]) -> str:
    return next((s for s in statuses if s != "optimal"), "optimal")


def _stack(nets: list[BNNetwork], d: int, convention: str) -> BNNetwork:
    """One network with ``v`` of shape ``(m, K)``: column ``k``'s neurons feed ``k``."""
    sizes = [net.m for net in nets]
    V = np.zeros((sum(sizes), len(nets)))
    start = 0
    for k, (net, size) in enumerate(zip(nets, sizes, strict=True)):
        V[start : start + size, k] = net.v
        start += size
    return BNNetwork(
        W=np.concatenate([np.reshape(net.W, (d, -1)) for net in nets], axis=1),
        gamma=np.concatenate([net.gamma for net in nets]),
        alpha=np.concatenate([net.alpha for net in nets]),
        v=V,
        convention=convention,
    )


def _fit_exact(X: np.ndarray, Y: np.ndarray, options: FitOptions) -> FitSummary:
    from bnconvex.numerics.exact import fit_exact

    arrangements = _arrangements(options.arrangements)
    fits = [
        fit_exact(
            X,
            Y[:, k],
            options.beta,
            bn=options.bn,
            arrangements=arrangements,
            seed=options.seed,
            solver=options.solver,
            verbose=options.verbose,
            **options.solver_options(),
        )
        for k in range(Y.shape[1])
    ]
    network = _stack([f.network for f in fits], X.shape[1], options.bn)
    return FitSummary(
        network=network,
        objective=objective(network, X, Y, options.beta),
        lower_bound=sum(f.lower_bound for f in fits),
        pattern_lower_bound=sum(f.pattern_lower_bound for f in fits),
        bound_kind=_weakest([f.bound_kind for f in fits]),
        status=_first_not_optimal([f.status for f in fits]),
        method="exact",
        n_patterns=max(int(f.D.shape[1]) for f in fits),
        n_iter=max(int(f.solution.iterations) for f in fits),
    )


def _arrangements(value: Any) -> str | int:
    """``"auto"``, ``"exact"`` or a positive sample count, else InputError."""
    if isinstance(value, str) and value in ("auto", "exact"):
        return value
    return _sample_count(value)


def _sample_count(arrangements: Any) -> int:
    integer = isinstance(arrangements, (int, np.integer))
    if isinstance(arrangements, bool) or not integer or arrangements < 1:
        raise InputError(
            "`arrangements` must be 'auto', 'exact' or a positive number of "
            f"sampled patterns; got {arrangements!r}"
        )
    return int(arrangements)


def _fit_fullscale(X: np.ndarray, Y: np.ndarray, options: FitOptions) -> FitSummary:
    from bnconvex.numerics import universal_lower_bound
    from bnconvex.numerics.fullscale import fit

    arrangements = _arrangements(options.arrangements)
    if arrangements == "exact":
        raise InputError(
            "`arrangements` 'exact' needs method='exact'; the full-scale solver "
            "samples patterns (pass a number)"
        )
    if options.solver not in (None, "auto", "admm", "al"):
        raise InputError(
            "`solver` of the full-scale path must be 'auto', 'admm' or 'al'; "
            f"got {options.solver!r}"
        )
    reg = dict(options.regularizer or {})
    model = fit(
        X,
        Y,
        options.beta,
        patterns=FULLSCALE_PATTERNS if arrangements == "auto" else arrangements,
        seed=options.seed,
        k=reg.get("k"),
        power=float(reg.get("power", 0.0)),
        scale=float(reg.get("shift", 1.0)),
        bn=options.bn,
        dtype=options.dtype,
        method=options.solver or "auto",
        verbose=options.verbose,
        **options.solver_options(),
    )
    sol = model.solution
    nets = [
        blocks_to_network(
            model.features, X, _column(sol.S_plus, k), _column(sol.S_minus, k)
        )
        for k in range(Y.shape[1])
    ]
    network = _in_convention(_stack(nets, X.shape[1], "a"), X.shape[0], options.bn)
    pattern_bound = float(sol.lower_bound)
    if reg:  # a bound on the regularised program, not on the network's problem
        value, lower, kind = float(sol.objective), pattern_bound, "patterns"
    else:
        value = objective(network, X, Y, options.beta)
        lower = sum(
            universal_lower_bound(Y[:, k], model.beta_a) for k in range(Y.shape[1])
        )
        kind = "universal"
    return FitSummary(
        network=network,
        objective=value,
        lower_bound=lower,
        pattern_lower_bound=pattern_bound,
        bound_kind=kind,
        status=str(sol.status),
        method="fullscale",
        n_patterns=int(sol.S_plus.shape[0]),
        n_iter=int(sol.iterations),
    )


def _column(S: Any, k: int) -> np.ndarray:
    S = np.asarray(S, dtype=np.float64)
    return S[:, :, k] if S.ndim == 3 else S


def _in_convention(net: BNNetwork, n: int, convention: str) -> BNNetwork:
    from bnconvex.numerics.exact import network_in_convention

    return network_in_convention(net, n, convention)


def blocks_to_network(
    features: Any, X: np.ndarray, S_plus: np.ndarray, S_minus: np.ndarray
) -> BNNetwork:
    r"""Convention-A BN network of full-scale blocks over an affine feature map.

    Parameters
    ----------
    features : FeatureMap
        :math:`\phi(x) = [A^T(x - \mu), c/\sqrt n]` of
        :mod:`bnconvex.numerics.fullscale.regularizers` (``mean``, ``A``,
        ``shift``).
    X : ndarray, shape (n, d)
        The training data the map was built on.
    S_plus, S_minus : ndarray, shape (P, k + 1)
        Blocks of one output.

    Returns
    -------
    BNNetwork
        One neuron per non-zero block, those of ``S_plus`` first, ``v`` 1-D.

    Notes
    -----
    For a block :math:`s = [t; s_0]` the neuron's pre-activation on the
    training batch is :math:`\phi(X)s = (X - \mathbf 1\mu^T)At + c s_0/\sqrt n`.
    With :math:`w = At/\|C X A t\|` (so :math:`\|CXw\| = 1`),
    :math:`\tilde\gamma = \|CXAt\|` and :math:`\tilde\alpha = c\,s_0` this is
    :math:`BN^a_{\tilde\gamma, \tilde\alpha}(Xw)`; balancing
    :math:`e = \|(\tilde\gamma, \tilde\alpha)\|` gives
    :math:`\gamma = \tilde\gamma/\sqrt e`, :math:`\alpha = \tilde\alpha/\sqrt
    e`, :math:`v = \pm\sqrt e` (the reconstruction of
    :func:`bnconvex.numerics.convex_to_network`, which this equals
    when :math:`\phi(X) = U'`).  :math:`t = 0` takes :math:`w` = the first
    column of :math:`A` and :math:`\gamma = 0`.
    """
    A = np.asarray(features.A, dtype=np.float64)
    mean = np.asarray(features.mean, dtype=np.float64)
    shift_weight = float(features.shift) * math.sqrt(X.shape[0])
    parts = []
    for S, sign in ((S_plus, 1.0), (S_minus, -1.0)):
        S = S[np.linalg.norm(S, axis=1) > 0]
        W = A @ S[:, :-1].T
        gamma_t = np.linalg.norm((X - mean) @ W, axis=0)
        W[:, gamma_t == 0] = A[:, :1]
        W[:, gamma_t > 0] /= gamma_t[gamma_t > 0]
        alpha_t = shift_weight * S[:, -1]
        root = np.hypot(gamma_t, alpha_t) ** 0.5
        parts.append((W, gamma_t / root, alpha_t / root, sign * root))
    W, gamma, alpha, v = (np.concatenate(p, axis=-1) for p in zip(*parts, strict=True))
    return BNNetwork(W=W, gamma=gamma, alpha=alpha, v=v, convention="a")


def batch_statistics(net: BNNetwork, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and biased variance of each neuron's pre-activation ``X w_j`` over ``X``."""
    H = X @ np.asarray(net.W)
    return H.mean(axis=0), H.var(axis=0)


def frozen_forward(
    net: BNNetwork,
    X: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    n_train: int,
) -> np.ndarray:
    """Network output with BN statistics frozen at the training batch (module Notes).

    Parameters
    ----------
    net : BNNetwork
        Convention ``a`` or ``std``, ``eps = 0``.
    X : ndarray, shape (N, d)
    running_mean, running_var : ndarray, shape (m,)
        :func:`batch_statistics` of the training batch.
    n_train : int
        Training batch size (convention ``a`` divides by its square root).

    Returns
    -------
    ndarray, shape (N,) or (N, K)
    """
    c = 1.0 / math.sqrt(n_train) if net.convention == "a" else 1.0
    H = X @ np.asarray(net.W)
    Z = c * (net.gamma * (H - running_mean) / np.sqrt(running_var) + net.alpha)
    return np.maximum(Z, 0.0) @ np.asarray(net.v)
