r"""Closed-form optima and weights (paper.md R2, R3; claims 12, 13, 15).

With :math:`y_\pm = \max(\pm y, 0)` and the Huber-like function
:math:`h_\beta(t) = t^2/2` for :math:`t \le \beta`, :math:`\beta t - \beta^2/2`
otherwise, every BN network has objective at least
:math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`, with equality at the optimum when
:math:`\operatorname{rank}(CX) = n - 1` (then :math:`U'` is square orthogonal).
All in convention A.
"""

from __future__ import annotations

import math

import numpy as np
from bnconvex.numerics._validation import check_beta, check_data, check_labels
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.core.whitening import Whitening, whiten
from bnconvex.numerics.errors import InputError

__all__ = [
    "highdim_network",
    "highdim_optimum",
    "highdim_prediction",
    "huber_h",
    "onehot_network",
    "onehot_optimum",
    "universal_lower_bound",
]


def huber_h(t: float | np.ndarray, beta: float) -> float | np.ndarray:
    r"""Evaluate the function :math:`h_\beta` of paper.md R2, elementwise.

    Parameters
    ----------
    t : float or array
        Non-negative arguments (norms).
    beta : float
        Weight-decay coefficient, ``> 0``.

    Returns
    -------
    float or array
        :math:`t^2/2` if :math:`t \le \beta`, else :math:`\beta t - \beta^2/2`.

    Notes
    -----
    :math:`h_\beta(t) = \min_{a \ge 0} \tfrac12(t - a)^2 + \beta a`: the
    minimiser is :math:`a = (t - \beta)_+`, the loss of one neuron that fits a
    target of norm :math:`t` at penalty :math:`\beta a` (paper.md R2).

    Examples
    --------
    >>> float(huber_h(0.5, 1.0)), float(huber_h(3.0, 1.0))
    (0.125, 2.5)
    """
    beta = check_beta(beta)
    t = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t) & (t >= 0)):
        raise InputError(f"`t` must be finite and >= 0 (a norm); got {t!r}")
    out = np.where(t <= beta, 0.5 * t * t, beta * t - 0.5 * beta * beta)
    return float(out) if out.ndim == 0 else out


def _check_y(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"`y` must be 1-D (scalar output); got shape {y.shape}")
    return check_labels(y, y.shape[0])


def _split_norms(y: np.ndarray) -> tuple[float, float]:
    return float(np.linalg.norm(np.maximum(y, 0))), float(
        np.linalg.norm(np.maximum(-y, 0))
    )


def universal_lower_bound(y: np.ndarray, beta: float) -> float:
    r"""Lower bound :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)` on the optimum (any X).

    Parameters
    ----------
    y : array, shape (n,)
    beta : float
        Convention-A coefficient.

    Returns
    -------
    float

    Notes
    -----
    Each neuron's output :math:`(U's)_+v` is entrywise non-negative or
    non-positive and costs :math:`\beta\|s\||v| \ge \beta\|(U's)_+v\|`; so the
    prediction splits as :math:`a - b` with :math:`a, b \ge 0` and penalty
    :math:`\ge \beta(\|a\| + \|b\|)`.  Minimising
    :math:`\tfrac12\|a - b - y\|^2 + \beta(\|a\|+\|b\|)` over :math:`a, b \ge 0`
    separates over the supports of :math:`y_\pm` (claim 12).

    Examples
    --------
    >>> import numpy as np
    >>> universal_lower_bound(np.array([3.0, -4.0, 0.0]), 1.0)  # h(3) + h(4): 2.5 + 3.5
    6.0
    """
    plus, minus = _split_norms(_check_y(y))
    return float(huber_h(plus, beta) + huber_h(minus, beta))


def highdim_optimum(y: np.ndarray, beta: float) -> float:
    r"""Optimal value when :math:`\operatorname{rank}(CX) = n - 1` (paper.md R2).

    Parameters
    ----------
    y : array, shape (n,)
        Labels.
    beta : float
        Weight-decay coefficient, ``> 0``.

    Returns
    -------
    float

    Notes
    -----
    Equals :func:`universal_lower_bound`,
    :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`; the bound is attained by
    :func:`highdim_network` when :math:`\operatorname{rank}(CX) = n - 1`
    (claim 13), since then one neuron can fit :math:`y_+` and one :math:`y_-`.

    Examples
    --------
    >>> import numpy as np
    >>> highdim_optimum(np.array([3.0, -4.0, 0.0]), 1.0)
    6.0
    """
    return universal_lower_bound(y, beta)


def highdim_prediction(y: np.ndarray, beta: float) -> np.ndarray:
    r"""Optimal prediction :math:`(1-\beta/\|y_+\|)_+y_+ - (1-\beta/\|y_-\|)_+y_-`.

    Parameters
    ----------
    y : array, shape (n,)
    beta : float

    Returns
    -------
    array, shape (n,)
        Two-sided group soft-thresholding of ``y`` (paper.md R2).

    Notes
    -----
    When :math:`\operatorname{rank}(CX) = n - 1` one neuron reaches any
    non-negative target, and fitting :math:`y_+` at penalty :math:`\beta a`
    solves :math:`\min_{a\ge0}\tfrac12(\|y_+\|-a)^2+\beta a`, i.e.
    :math:`a = (\|y_+\| - \beta)_+`; likewise for :math:`y_-`.  The prediction
    is :math:`a_+ y_+/\|y_+\| - a_- y_-/\|y_-\|`.

    Examples
    --------
    Two-sided group soft-thresholding of the labels:

    >>> import numpy as np
    >>> highdim_prediction(np.array([3.0, -4.0, 0.0]), 1.0)
    array([ 2., -3.,  0.])
    """
    y = _check_y(y)
    beta = check_beta(beta)
    out = np.zeros_like(y)
    for t, sign in ((np.maximum(y, 0), 1.0), (np.maximum(-y, 0), -1.0)):
        norm = float(np.linalg.norm(t))
        if norm > beta:
            out += sign * (1.0 - beta / norm) * t
    return out


def _highdim_whitening(X: np.ndarray, n: int) -> Whitening:
    w = whiten(X)
    if w.rank != n - 1:
        raise InputError(
            f"`X` must have rank(CX) = n - 1 = {n - 1} (high-dimensional regime); "
            f"got rank {w.rank}"
        )
    return w


def _r2_neuron(
    w: Whitening, t: np.ndarray, beta: float
) -> tuple[np.ndarray, float, float, float]:
    r"""R2 weights ``(w, gamma, alpha, |v|)`` of the neuron fitting ``t >= 0``."""
    norm_t = float(np.linalg.norm(t))
    root = math.sqrt(norm_t - beta)
    Ut = w.U.T @ t
    norm_Ut = float(np.linalg.norm(Ut))
    if norm_Ut > w.n * np.finfo(float).eps * norm_t:
        # a positive multiple of (CX)^+ t = V Sigma^-1 U^T t, scaled so ||CXw|| = 1
        weights = w.Vt.T @ (Ut / norm_Ut / w.sigma)
    else:  # t constant (U^T t is rounding noise): gamma = 0, any w with CXw != 0
        norm_Ut = 0.0
        weights = w.Vt[0] / w.sigma[0]
    gamma = root * norm_Ut / norm_t
    alpha = root * (float(np.sum(t)) / math.sqrt(w.n)) / norm_t
    return weights, gamma, alpha, root


def highdim_network(X: np.ndarray, y: np.ndarray, beta: float) -> BNNetwork:
    r"""Build the optimal BN network in the high-dimensional regime (paper.md R2).

    Parameters
    ----------
    X : array, shape (n, d)
        Data with :math:`\operatorname{rank}(CX) = n - 1`.
    y : array, shape (n,)
    beta : float
        Convention-A coefficient.

    Returns
    -------
    BNNetwork
        Convention ``"a"``, at most two neurons: ``+`` iff
        :math:`\|y_+\| > \beta`, ``-`` iff :math:`\|y_-\| > \beta`.

    Raises
    ------
    InputError
        If :math:`\operatorname{rank}(CX) \ne n - 1` (names ``X``).

    Notes
    -----
    For :math:`t \in \{y_+, y_-\}` with :math:`\|t\| > \beta`:

    .. math::

        w = (CX)^\dagger t = V\Sigma^{-1}U^Tt, \quad
        \gamma = \sqrt{\|t\|-\beta}\,\frac{\|U^Tt\|}{\|t\|}, \quad
        \alpha = \sqrt{\|t\|-\beta}\,\frac{\mathbf 1^Tt/\sqrt n}{\|t\|}, \quad
        v = \pm\sqrt{\|t\|-\beta}.

    Then :math:`BN_{\gamma,\alpha}(Xw) = (1-\beta/\|t\|)\,t/\sqrt{\|t\|-\beta}
    \ge 0`, so the neuron outputs :math:`\pm(1-\beta/\|t\|)t` at penalty
    :math:`\beta(\|t\| - \beta)`.  If :math:`U^Tt = 0` (constant ``t``;
    numerically :math:`\|U^Tt\| \le n\varepsilon\|t\|`) then
    :math:`\gamma = 0` and any ``w`` with :math:`CXw \ne 0` is used.

    Examples
    --------
    Three points in general position (:math:`r = 2 = n - 1`),
    :math:`\|y_\pm\| = 1 > \beta`: two neurons and
    :math:`p^* = 2 h_{0.5}(1) = 2(0.5 - 0.125)`.

    >>> import numpy as np
    >>> from bnconvex.numerics.core.network import objective
    >>> X, y = np.eye(3), np.array([1.0, -1.0, 0.0])
    >>> net = highdim_network(X, y, 0.5)
    >>> net.m, round(objective(net, X, y, 0.5), 12), highdim_optimum(y, 0.5)
    (2, 0.75, 0.75)
    """
    X, y = check_data(X, _check_y(y))
    beta = check_beta(beta)
    w = _highdim_whitening(X, X.shape[0])
    neurons = []
    for t, sign in ((np.maximum(y, 0), 1.0), (np.maximum(-y, 0), -1.0)):
        if np.linalg.norm(t) > beta:
            weights, gamma, alpha, root = _r2_neuron(w, t, beta)
            neurons.append((weights, gamma, alpha, sign * root))
    return _pack(neurons, X.shape[1])


def _pack(neurons: list, d: int, K: int | None = None) -> BNNetwork:
    """Stack per-neuron ``(w, gamma, alpha, v)`` tuples into a network."""
    if not neurons:
        v_shape = (0,) if K is None else (0, K)
        return BNNetwork(np.zeros((d, 0)), np.zeros(0), np.zeros(0), np.zeros(v_shape))
    W, gamma, alpha, v = zip(*neurons, strict=True)
    return BNNetwork(
        W=np.column_stack(W),
        gamma=np.array(gamma),
        alpha=np.array(alpha),
        v=np.array(v),
    )


def _check_onehot(Y: np.ndarray) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise InputError(f"`Y` must be a 2-D one-hot array (n, K); got ndim={Y.ndim}")
    if not (np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1)):
        raise InputError("`Y` must be one-hot: 0/1 entries with exactly one 1 per row")
    return Y.astype(np.float64)


def onehot_optimum(Y: np.ndarray, beta: float) -> float:
    r"""Optimal value :math:`\sum_k h_\beta(\sqrt{n_k})` for one-hot labels (R3).

    Parameters
    ----------
    Y : array, shape (n, K)
        One-hot labels; :math:`n_k` is the size of class ``k``.
    beta : float

    Returns
    -------
    float
        The optimum when :math:`\operatorname{rank}(CX) = n - 1` (claim 15),
        and a lower bound for any ``X`` (singular values of a one-hot ``Y`` are
        :math:`\sqrt{n_k}`; paper.md R3 lower bound).

    Examples
    --------
    Three classes of two samples: :math:`3\,h_{1/2}(\sqrt2)`:

    >>> import numpy as np
    >>> Y = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    >>> round(onehot_optimum(Y, 0.5), 12)
    1.74632034356
    """
    Y = _check_onehot(Y)
    return float(np.sum(huber_h(np.sqrt(Y.sum(axis=0)), beta)))


def onehot_network(X: np.ndarray, Y: np.ndarray, beta: float) -> BNNetwork:
    r"""Optimal vector-output network for one-hot labels, ``rank(CX) = n - 1`` (R3).

    Parameters
    ----------
    X : array, shape (n, d)
    Y : array, shape (n, K)
        One-hot labels.
    beta : float

    Returns
    -------
    BNNetwork
        One neuron per class with :math:`\sqrt{n_k} > \beta`: the R2 weights
        for :math:`t = Y_{:,k}` and :math:`v_k = \sqrt{\sqrt{n_k}-\beta}\,e_k`;
        ``v`` has shape ``(m, K)``.

    Examples
    --------
    >>> from bnconvex.numerics.dataio.data import make_classification
    >>> from bnconvex.numerics.core.network import objective
    >>> X, Y = make_classification(9, 12, 3, seed=0)  # n = 9 <= d = 12
    >>> net = onehot_network(X, Y, 0.4)
    >>> net.m, net.K, abs(objective(net, X, Y, 0.4) - onehot_optimum(Y, 0.4)) < 1e-10
    (3, 3, True)
    """
    Y = _check_onehot(Y)
    X, Y = check_data(X, Y, name_y="Y")
    beta = check_beta(beta)
    w = _highdim_whitening(X, X.shape[0])
    K = Y.shape[1]
    neurons = []
    for k in range(K):
        t = Y[:, k]
        if math.sqrt(t.sum()) > beta:
            weights, gamma, alpha, root = _r2_neuron(w, t, beta)
            neurons.append((weights, gamma, alpha, root * np.eye(K)[k]))
    return _pack(neurons, X.shape[1], K)
