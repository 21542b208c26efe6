r"""Implicit bias of gradient descent on BN networks (paper.md §4, claims 19-20).

Two measurements:

* **Claim 19 (mechanism)**, :func:`preconditioning_error`: one GD step on a
  neuron's first-layer weights :math:`w` moves its whitened coordinates
  :math:`q = \Sigma V^T w` by exactly :math:`-\eta\Sigma^2\nabla_q L`.
* **Claim 20 (effect)**, :func:`implicit_bias_curves`: full-batch GD on the BN
  network and on the *whitened* network :math:`g(S, v) = (U'S^T)_+ v`,
  started from the same function (:func:`whitened_parameters`); along both
  trajectories the fraction of the fitted change :math:`f_t - f_0` that lies
  in :math:`\operatorname{span}(u_1, \dots, u_k)` (top-:math:`k` left singular
  vectors of the centred data).  The BN network's GD is :math:`\Sigma^2`
  pre-conditioned, so it fits large-:math:`\sigma` directions first and its
  fraction tends to be larger; the whitened network's GD treats all
  directions alike.  The effect is weak and seed dependent (diluted by the
  output layer), which is why :func:`implicit_bias_experiment` runs many seeds.

Everything returns NumPy arrays ready for figures (``paper_figures`` plots
them; it never runs GD itself).  The measurements are made on small data
(full-batch GD, scalar output, the exact whitening) in NumPy; the full-scale
comparison of the BN network trained by minibatch SGD in the array-API code
with the regularised convex models is :mod:`bnconvex.numerics.baselines.sgd` and
``benchmarks/bench_cifar10.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
from bnconvex.numerics._array_api import (
    Array,
    array_namespace,
    to_numpy,
    xp_capabilities,
)
from bnconvex.numerics._validation import (
    check_data,
    check_finite,
    check_positive_int,
    check_positive_real,
)
from bnconvex.numerics.baselines.sgd import minibatch_objective_and_gradient
from bnconvex.numerics.core.network import BNNetwork, forward
from bnconvex.numerics.core.whitening import Whitening, whiten
from bnconvex.numerics.errors import InputError

__all__ = [
    "PAPER_SETTING",
    "ImplicitBiasCurves",
    "curves_to_numpy",
    "energy_fraction",
    "implicit_bias_curves",
    "implicit_bias_experiment",
    "preconditioning_error",
    "spread_spectrum_instance",
    "whitened_objective_and_gradient",
    "whitened_parameters",
]

#: paper.md §6 item 20: X = G diag(5, 3, 1, .5, .2, .1), n = 40, m = 20, k = 2,
#: eta = 2e-3, T = 300, squared loss without weight decay.
PAPER_SETTING: dict[str, Any] = {
    "n": 40,
    "spectrum": (5.0, 3.0, 1.0, 0.5, 0.2, 0.1),
    "m": 20,
    "k": 2,
    "eta": 2e-3,
    "T": 300,
    "beta": 0.0,
}


@dataclasses.dataclass(frozen=True)
class ImplicitBiasCurves:
    r"""Top-``k`` energy fractions along the two GD trajectories.

    Attributes
    ----------
    iterations : numpy.ndarray
        ``0, 1, ..., T`` (the fraction at 0 is ``nan``: no change yet).
    energy_bn, energy_whitened : numpy.ndarray
        :math:`\|U_k^T(f_t - f_0)\|^2 / \|f_t - f_0\|^2` for the BN network
        and the whitened network.
    loss_bn, loss_whitened : numpy.ndarray
        Objective values along the trajectories.
    per_direction_bn, per_direction_whitened : numpy.ndarray
        Shape (r,): fraction :math:`(u_j^T(f_T - f_0))^2 / \|f_T - f_0\|^2`
        along each singular direction at the last step (the remainder lies
        along :math:`1/\sqrt n` or outside :math:`\operatorname{col}(U')`).
    sigma : numpy.ndarray
        Singular values of the centred data.
    k, eta, beta : int, float, float
        Settings of the run.
    """

    iterations: np.ndarray
    energy_bn: np.ndarray
    energy_whitened: np.ndarray
    loss_bn: np.ndarray
    loss_whitened: np.ndarray
    per_direction_bn: np.ndarray
    per_direction_whitened: np.ndarray
    sigma: np.ndarray
    k: int
    eta: float
    beta: float


# --------------------------------------------------------------------------
# the whitened network
# --------------------------------------------------------------------------
@xp_capabilities()
def whitened_parameters(net: BNNetwork, wh: Whitening) -> Array:
    r"""Whitened first-layer parameters ``S`` (m, r+1) of a convention-A BN network.

    Notes
    -----
    Row :math:`j` is :math:`s_j = [\gamma_j q_j/\|q_j\|;\ \alpha_j]` with
    :math:`q_j = \Sigma V^T w_j`, so that :math:`BN_{\gamma_j,\alpha_j}(X w_j)
    = U' s_j` (paper.md §1.1, claim 4) and :math:`(U'S^T)_+ v = f(X)`.
    """
    if net.convention != "a":
        raise InputError(f"`net` must use BN convention 'a'; got {net.convention!r}")
    xp = array_namespace(net.W, wh.U)
    Q = wh.sigma[:, None] * (wh.Vt @ net.W)  # (r, m)
    norms = xp.sqrt(xp.sum(Q * Q, axis=0))
    return xp.concat([(net.gamma * Q / norms).T, net.alpha[:, None]], axis=1)


def _relu(xp: ModuleType, Z: Array) -> Array:
    return xp.maximum(Z, xp.zeros_like(Z))


@xp_capabilities()
def whitened_objective_and_gradient(
    S: Array, v: Array, U_prime: Array, y: Array, beta: float = 0.0
) -> tuple[float, Array, Array]:
    r"""Objective of the whitened network and its gradient in ``(S, v)``.

    Parameters
    ----------
    S : array, shape (m, r+1)
    v : array, shape (m,)
    U_prime : array, shape (n, r+1)
    y : array, shape (n,)
    beta : float
        Weight decay :math:`\tfrac\beta2(\|S\|_F^2 + \|v\|^2)` (>= 0).

    Returns
    -------
    value, dS, dv

    Notes
    -----
    With :math:`A = U'S^T`, :math:`R = (A)_+ v - y`:
    :math:`\partial_v = (A)_+^T R + \beta v` and
    :math:`\partial_S = \bigl((R v^T)\odot 1[A > 0]\bigr)^T U' + \beta S`.
    """
    xp = array_namespace(S, v, U_prime, y)
    A = U_prime @ S.T
    H = _relu(xp, A)
    R = H @ v - y
    dv = H.T @ R + beta * v
    dS = ((R[:, None] * v[None, :]) * xp.astype(A > 0, A.dtype)).T @ U_prime + beta * S
    value = 0.5 * float(xp.sum(R * R)) + 0.5 * beta * float(
        xp.sum(S * S) + xp.sum(v * v)
    )
    return value, dS, dv


def energy_fraction(delta: Array, U: Array, k: int) -> float:
    r"""Fraction :math:`\|U_k^T\delta\|^2/\|\delta\|^2` of ``delta`` in the top-k span.

    ``nan`` when ``delta = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> energy_fraction(np.array([3.0, 4.0, 0.0, 0.0]), np.eye(4)[:, :3], 1)  # 9 / 25
    0.36
    """
    xp = array_namespace(delta, U)
    if delta.ndim != 1 or U.ndim != 2 or U.shape[0] != delta.shape[0]:
        raise InputError(
            f"`delta` must be (n,) and `U` (n, r); got shapes {tuple(delta.shape)} "
            f"and {tuple(U.shape)}"
        )
    k = check_positive_int(k, "k")
    check_finite(delta, "delta")
    total = float(xp.sum(delta * delta))
    if total == 0.0:
        return math.nan
    proj = U[:, :k].T @ delta
    return float(xp.sum(proj * proj)) / total


def _per_direction(delta: np.ndarray, U: np.ndarray) -> np.ndarray:
    total = float(np.sum(delta * delta))
    return (U.T @ delta) ** 2 / total if total > 0 else np.full(U.shape[1], np.nan)


# --------------------------------------------------------------------------
# the two GD trajectories
# --------------------------------------------------------------------------
def _bn_step(params: list[Array], X: Array, Y: Array, eta: float, beta: float):
    n = X.shape[0]
    value, grads, _ = minibatch_objective_and_gradient(
        tuple(params), X, Y, beta, n_train=n, convention="a", eps=0.0
    )
    # the minibatch objective of the whole set is objective / n
    return value * n, [p - (eta * n) * g for p, g in zip(params, grads, strict=True)]


def _curves_iv(X: Any, y: Any, net: BNNetwork, k: int, eta: float, T: int, beta: float):
    X, y = check_data(X, y)
    if y.ndim != 1:
        raise InputError(f"`y` must be 1-D (scalar output); got shape {y.shape}")
    if net.K != 1 or net.v.ndim != 1 or net.convention != "a" or net.eps != 0.0:
        raise InputError(
            "`net` must be a scalar-output convention-'a' network with eps=0"
        )
    if net.d != X.shape[1]:
        raise InputError(f"`net` has d={net.d} but `X` has {X.shape[1]} columns")
    check_positive_int(k, "k")
    check_positive_int(T, "T")
    check_positive_real(eta, "eta")
    if not (math.isfinite(beta) and beta >= 0):
        raise InputError(f"`beta` must be a finite number >= 0; got {beta!r}")
    return X, y


def implicit_bias_curves(
    X: Array,
    y: Array,
    net: BNNetwork,
    *,
    k: int = 2,
    eta: float = 2e-3,
    T: int = 300,
    beta: float = 0.0,
) -> ImplicitBiasCurves:
    r"""Run full-batch GD on the BN network and on the matching whitened network.

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
    net : BNNetwork
        Initial network: convention ``"a"``, ``eps = 0``, scalar output
        (``v`` of shape (m,)).
    k : int
        Size of the top singular subspace; must be ``<= rank(CX)``.
    eta : float
        Step size, the same for both networks (on the *un-normalised*
        objective :math:`\tfrac12\|f - y\|^2 + \text{decay}`).
    T : int
        Number of GD steps.
    beta : float
        Weight decay (>= 0) on :math:`\gamma, \alpha, v` (BN) and on
        :math:`S, v` (whitened); the two penalties agree at the start since
        :math:`\|s_j\|^2 = \gamma_j^2 + \alpha_j^2`.

    Returns
    -------
    ImplicitBiasCurves

    Notes
    -----
    Both networks start from the same function :math:`f_0`
    (:func:`whitened_parameters`).  BN network: plain GD on
    :math:`(W, \gamma, \alpha, v)`; by claim 19 its :math:`q_j` move with the
    pre-conditioner :math:`\Sigma^2`.  Whitened network: plain GD on
    :math:`(S, v)`, no pre-conditioner.  Recorded at every step:
    :math:`E_t = \|U_k^T(f_t - f_0)\|^2 / \|f_t - f_0\|^2`.
    """
    X, y = _curves_iv(X, y, net, k, eta, T, beta)
    wh = whiten(X)
    if k > wh.rank:
        raise InputError(f"`k` must be <= rank(CX) = {wh.rank}; got {k}")
    U, Up = wh.U, wh.U_prime
    S, vw = whitened_parameters(net, wh), np.array(net.v, dtype=np.float64)
    params = [net.W, net.gamma, net.alpha, net.v[:, None]]
    f0, Y = forward(net, X), y[:, None]
    rows = np.full((T + 1, 4), np.nan)
    for t in range(T + 1):
        loss_w, dS, dv = whitened_objective_and_gradient(S, vw, Up, y, beta)
        loss_b, new_params = _bn_step(params, X, Y, eta, beta)
        f_bn = forward(BNNetwork(params[0], params[1], params[2], params[3][:, 0]), X)
        f_wh = _relu(np, Up @ S.T) @ vw
        rows[t] = (  # at t = 0 both changes are zero up to rounding: nan
            energy_fraction(f_bn - f0, U, k) if t else math.nan,
            energy_fraction(f_wh - f0, U, k) if t else math.nan,
            loss_b,
            loss_w,
        )
        params, S, vw = new_params, S - eta * dS, vw - eta * dv
    return ImplicitBiasCurves(
        per_direction_bn=_per_direction(f_bn - f0, U),
        per_direction_whitened=_per_direction(f_wh - f0, U),
        iterations=np.arange(T + 1),
        energy_bn=rows[:, 0],
        energy_whitened=rows[:, 1],
        loss_bn=rows[:, 2],
        loss_whitened=rows[:, 3],
        sigma=np.asarray(wh.sigma),
        k=int(k),
        eta=float(eta),
        beta=float(beta),
    )


def spread_spectrum_instance(
    seed: int,
    *,
    n: int = PAPER_SETTING["n"],
    spectrum: Sequence[float] = PAPER_SETTING["spectrum"],
    m: int = PAPER_SETTING["m"],
) -> tuple[np.ndarray, np.ndarray, BNNetwork]:
    r"""Build claim 20's setting: spread-spectrum data and an initial network.

    With ``rng = numpy.random.default_rng(seed)``, drawn in this order:
    :math:`X = G\,\mathrm{diag}(\text{spectrum})`, :math:`G_{ij}\sim N(0,1)`
    (n x d); :math:`W_{ij}\sim N(0,1)` (d x m); :math:`v_j\sim N(0,1/m)`;
    :math:`y_i\sim N(0,1)`.  :math:`\gamma = 1`, :math:`\alpha = 0`,
    convention ``"a"``, ``eps = 0``.
    """
    n = check_positive_int(n, "n")
    m = check_positive_int(m, "m")
    rng = np.random.default_rng(seed)
    scale = np.asarray(spectrum, dtype=np.float64)
    X = rng.standard_normal((n, scale.size)) * scale
    W = rng.standard_normal((scale.size, m))
    v = rng.standard_normal(m) / math.sqrt(m)
    y = rng.standard_normal(n)
    return X, y, BNNetwork(W=W, gamma=np.ones(m), alpha=np.zeros(m), v=v)


def implicit_bias_experiment(
    seeds: Sequence[int],
    *,
    k: int = PAPER_SETTING["k"],
    eta: float = PAPER_SETTING["eta"],
    T: int = PAPER_SETTING["T"],
    beta: float = PAPER_SETTING["beta"],
    **instance: Any,
) -> dict[str, np.ndarray]:
    """Claim 20 over many seeds: curves stacked as ``(len(seeds), T + 1)`` arrays.

    Returns a dict with ``seeds``, ``iterations``, ``sigma`` (of the first
    seed), ``energy_bn``, ``energy_whitened``, ``loss_bn``, ``loss_whitened``
    (``(seeds, T + 1)``) and ``per_direction_bn``, ``per_direction_whitened``
    (``(seeds, r)``) (figure data;
    ``instance`` keywords go to :func:`spread_spectrum_instance`).
    """
    curves = [
        implicit_bias_curves(
            *spread_spectrum_instance(s, **instance), k=k, eta=eta, T=T, beta=beta
        )
        for s in seeds
    ]
    out = {
        "seeds": np.asarray(list(seeds), dtype=np.int64),
        "iterations": curves[0].iterations,
        "sigma": curves[0].sigma,
    }
    keys = (
        "energy_bn",
        "energy_whitened",
        "loss_bn",
        "loss_whitened",
        "per_direction_bn",
        "per_direction_whitened",
    )
    for key in keys:
        out[key] = np.stack([getattr(c, key) for c in curves])
    return out


# --------------------------------------------------------------------------
# claim 19: the Sigma^2 pre-conditioning of one GD step
# --------------------------------------------------------------------------
def _grad_q(net: BNNetwork, wh: Whitening, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Gradient of the loss in whitened coordinates ``q_j``, shape (r, m).

    Computed in whitened coordinates only (independently of ``W``'s
    gradient): with :math:`z_j = \gamma_j U q_j/\|q_j\| + \alpha_j 1/\sqrt n`
    and :math:`g_j = \partial L/\partial z_j`,
    :math:`\nabla_{q_j} L = \frac{\gamma_j}{\|q_j\|}
    (I - \hat q_j\hat q_j^T) U^T g_j`.
    """
    Q = wh.sigma[:, None] * (wh.Vt @ net.W)
    norms = np.linalg.norm(Q, axis=0)
    Z = wh.U @ (net.gamma * Q / norms) + net.alpha / math.sqrt(wh.n)
    R = np.maximum(Z, 0) @ net.v - y
    G = (Z > 0) * (R[:, None] * net.v[None, :])
    UG = wh.U.T @ G
    Qh = Q / norms
    return (net.gamma / norms) * (UG - Qh * np.sum(Qh * UG, axis=0))


def preconditioning_error(X: Any, y: Any, net: BNNetwork, eta: float = 1e-3) -> float:
    r"""Relative error of :math:`\Delta q = -\eta\Sigma^2\nabla_q L` after a GD step.

    Parameters
    ----------
    X, y : arrays (n, d), (n,)
    net : BNNetwork
        Convention ``"a"``, ``eps = 0``, scalar output.
    eta : float

    Returns
    -------
    float
        :math:`\max_j\|\Delta q_j + \eta\Sigma^2\nabla_{q_j}L\| /
        \max_j\|\eta\Sigma^2\nabla_{q_j}L\|`, where :math:`\Delta q` comes from
        a GD step on :math:`W` with the network's analytic gradient
        (:func:`minibatch_objective_and_gradient` on the full batch) and
        :math:`\nabla_q L` from :func:`_grad_q`, computed in whitened
        coordinates.  Exact in exact arithmetic (paper.md §4): the identity is
        linear in the step.

    Examples
    --------
    The identity holds to rounding for a random network:

    >>> import numpy as np
    >>> from bnconvex.numerics.dataio.data import make_regression
    >>> X, y = make_regression(12, 2, seed=0)
    >>> rng = np.random.default_rng(0)
    >>> net = BNNetwork(rng.standard_normal((2, 6)), np.ones(6), np.zeros(6),
    ...                 rng.standard_normal(6))
    >>> preconditioning_error(X, y, net, eta=1e-3) < 1e-10
    True
    """
    X, y = _curves_iv(X, y, net, 1, eta, 1, 0.0)
    wh = whiten(X)
    _, new = _bn_step(
        [net.W, net.gamma, net.alpha, net.v[:, None]], X, y[:, None], eta, 0.0
    )
    dq = wh.sigma[:, None] * (wh.Vt @ (new[0] - net.W))
    predicted = -eta * (wh.sigma**2)[:, None] * _grad_q(net, wh, X, y)
    scale = float(np.max(np.linalg.norm(predicted, axis=0)))
    return float(np.max(np.linalg.norm(dq - predicted, axis=0))) / max(
        scale, np.finfo(float).tiny
    )


def curves_to_numpy(curves: ImplicitBiasCurves) -> dict[str, np.ndarray]:
    """Return the curves as a flat dict of NumPy arrays (for ``.npz`` figure data)."""
    return {
        f.name: to_numpy(np.asarray(getattr(curves, f.name)))
        for f in dataclasses.fields(curves)
    }
