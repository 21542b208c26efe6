r"""Local search on the non-convex BN network (the baseline of the convex program).

Minimises :math:`\tfrac12\|f(X)-y\|^2 +
\tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+\|v_j\|^2)` over
:math:`(W, \gamma, \alpha, v)` with the analytic gradient of
:func:`bnconvex.numerics.core.network.objective_and_gradient`, by L-BFGS
(:func:`scipy.optimize.minimize`) or plain gradient descent.  No run can go
below the global optimum of the convex program (claim 10b); a run may stop at
a worse local point.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from bnconvex.numerics._validation import check_beta, check_data, check_positive_int
from bnconvex.numerics.core.bn import Convention, check_convention
from bnconvex.numerics.core.network import BNNetwork, objective_and_gradient
from bnconvex.numerics.errors import InputError
from scipy.optimize import minimize

__all__ = [
    "initial_network",
    "pack_network",
    "train_best_of",
    "train_nonconvex",
    "unpack_network",
]

Method = Literal["lbfgs", "gd"]


def pack_network(net: BNNetwork) -> np.ndarray:
    """Flatten ``(W, gamma, alpha, v)`` into one vector (for L-BFGS)."""
    return np.concatenate(
        [np.ravel(np.asarray(getattr(net, k))) for k in ("W", "gamma", "alpha", "v")]
    )


def unpack_network(x: np.ndarray, like: BNNetwork) -> BNNetwork:
    """Inverse of :func:`pack_network`, shapes and convention taken from ``like``."""
    d, m = like.d, like.m
    v_shape = tuple(like.v.shape)
    sizes = np.cumsum([d * m, m, m])
    W, gamma, alpha, v = np.split(x, sizes)
    return like.replace(
        W=W.reshape(d, m), gamma=gamma, alpha=alpha, v=v.reshape(v_shape)
    )


def initial_network(
    d: int, m: int, K: int | None, rng: np.random.Generator, convention: Convention
) -> BNNetwork:
    """Draw ``W ~ N(0, 1/d)``, ``gamma, alpha ~ N(0, 1)``, ``v ~ N(0, 1/m)``."""
    v_shape = (m,) if K is None else (m, K)
    return BNNetwork(
        W=rng.standard_normal((d, m)) / np.sqrt(d),
        gamma=rng.standard_normal(m),
        alpha=rng.standard_normal(m),
        v=rng.standard_normal(v_shape) / np.sqrt(m),
        convention=convention,
    )


def _check_init(
    init: BNNetwork, d: int, m: int, y: np.ndarray, convention: str
) -> BNNetwork:
    K_ok = (
        (init.v.ndim == 1)
        if y.ndim == 1
        else (init.v.ndim == 2 and init.K == y.shape[1])
    )
    if (init.d, init.m) != (d, m) or not K_ok or init.convention != convention:
        raise InputError(
            f"`init` must have d={d}, m={m}, output shape matching `y` and convention "
            f"{convention!r}; got d={init.d}, m={init.m}, "
            f"v.shape={tuple(init.v.shape)}, "
            f"convention={init.convention!r}"
        )
    return init


def train_nonconvex(
    X: np.ndarray,
    y: np.ndarray,
    beta: float,
    m: int,
    *,
    seed: int | np.random.Generator,
    method: Method = "lbfgs",
    convention: Convention = "a",
    max_iter: int = 2000,
    init: BNNetwork | None = None,
    lr: float = 1e-2,
    tol: float = 1e-12,
) -> tuple[BNNetwork, dict[str, Any]]:
    r"""Train a BN network with ``m`` neurons from a random (or given) start.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,) or (n, K)
    beta : float
        Weight decay, in ``convention``.
    m : int
        Number of neurons.
    seed : int or numpy.random.Generator
        Seed of the Gaussian initialisation (ignored with ``init``).
    method : {"lbfgs", "gd"}, default "lbfgs"
        ``"lbfgs"``: :func:`scipy.optimize.minimize` (L-BFGS-B, no bounds) with
        the analytic gradient; ``"gd"``: ``max_iter`` steps
        :math:`\theta \leftarrow \theta - \mathrm{lr}\,\nabla L(\theta)`.
    convention : {"a", "std"}, default "a"
    max_iter : int, default 2000
    init : BNNetwork, optional
        Starting point (same ``d``, ``m``, output shape and convention).
    lr : float, default 1e-2
        Step size of ``"gd"``.
    tol : float, default 1e-12
        L-BFGS ``gtol`` and ``ftol``.

    Returns
    -------
    net : BNNetwork
        Final parameters.
    history : dict
        ``objective`` (list: value at the start and after every iteration),
        ``gradient_norm`` (final Euclidean norm), ``iterations``, ``message``,
        ``method``, ``seed``.

    Notes
    -----
    At a ReLU kink the one-sided derivative is used, so L-BFGS may stop early
    with a line-search message; the history records it.  BN is
    scale invariant in each :math:`w_j` and :math:`w_j^T\nabla_{w_j}L = 0`, so
    GD never shrinks :math:`\|w_j\|` to zero (claim 7).

    Examples
    --------
    Local search never goes below the convex optimum (0.1325273784 here, from
    ``solve_convex`` on the exact arrangement):

    >>> from bnconvex.numerics.dataio.data import make_regression
    >>> from bnconvex.numerics.core.network import objective
    >>> X, y = make_regression(6, 2, seed=0)
    >>> net, history = train_nonconvex(X, y, 0.1, 4, seed=0)
    >>> net.m, history["method"], objective(net, X, y, 0.1) >= 0.1325273784
    (4, 'lbfgs', True)
    """
    X, y = check_data(X, y)
    beta = check_beta(beta)
    m = check_positive_int(m, "m")
    max_iter = check_positive_int(max_iter, "max_iter")
    check_convention(convention)
    if method not in ("lbfgs", "gd"):
        raise InputError(f"`method` must be 'lbfgs' or 'gd'; got {method!r}")
    K = None if y.ndim == 1 else y.shape[1]
    if init is None:
        net = initial_network(X.shape[1], m, K, np.random.default_rng(seed), convention)
    else:
        net = _check_init(init, X.shape[1], m, y, convention)
    run = _lbfgs if method == "lbfgs" else _gd
    net, history = run(net, X, y, beta, max_iter=max_iter, lr=lr, tol=tol)
    history.update(method=method, seed=seed if isinstance(seed, int) else None)
    return net, history


def _lbfgs(net, X, y, beta, *, max_iter, lr, tol):
    del lr

    def fun(x):
        value, grad = objective_and_gradient(unpack_network(x, net), X, y, beta)
        return value, pack_network(grad)

    values = [fun(pack_network(net))[0]]
    result = minimize(
        fun,
        pack_network(net),
        jac=True,
        method="L-BFGS-B",
        callback=lambda intermediate_result: values.append(
            float(intermediate_result.fun)
        ),
        options={"maxiter": max_iter, "gtol": tol, "ftol": tol},
    )
    final_value = fun(result.x)[0]  # the value at the returned point, recomputed
    if values[-1] != final_value:
        values.append(final_value)
    final = unpack_network(result.x, net)
    return final, {
        "objective": values,
        "gradient_norm": float(np.linalg.norm(result.jac)),
        "iterations": int(result.nit),
        "message": str(result.message),
    }


def _gd(net, X, y, beta, *, max_iter, lr, tol):
    del tol
    values = []
    x = pack_network(net)
    for _ in range(max_iter):
        value, grad = objective_and_gradient(unpack_network(x, net), X, y, beta)
        values.append(value)
        x = x - lr * pack_network(grad)
    final = unpack_network(x, net)
    value, grad = objective_and_gradient(final, X, y, beta)
    values.append(value)
    return final, {
        "objective": values,
        "gradient_norm": float(np.linalg.norm(pack_network(grad))),
        "iterations": max_iter,
        "message": "fixed number of gradient steps",
    }


def train_best_of(
    X: np.ndarray,
    y: np.ndarray,
    beta: float,
    m: int,
    *,
    seeds: Iterable[int],
    **options: Any,
) -> tuple[BNNetwork, list[dict[str, Any]]]:
    """Run :func:`train_nonconvex` once per seed and keep the lowest objective.

    Parameters
    ----------
    X, y, beta, m
        As in :func:`train_nonconvex`.
    seeds : iterable of int
        One run per seed.
    **options
        Passed to :func:`train_nonconvex`.

    Returns
    -------
    best : BNNetwork
        The network with the lowest final objective.
    histories : list of dict
        The history of every run, in the order of ``seeds``.
    """
    runs = [train_nonconvex(X, y, beta, m, seed=s, **options) for s in seeds]
    if not runs:
        raise InputError("`seeds` must contain at least one seed")
    best = min(runs, key=lambda run: run[1]["objective"][-1])
    return best[0], [history for _, history in runs]
