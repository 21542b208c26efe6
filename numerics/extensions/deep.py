r"""Deep BN-ReLU networks and their overparameterised infimum (paper.md R4, claim 16).

The L-layer network of paper.md §1.2 (BN per column, convention A) is

.. math::
    H_0 = X,\qquad H_l = \bigl(BN_{\gamma^{(l)},\alpha^{(l)}}(H_{l-1}W_l)\bigr)_+
    \ (l = 1, \dots, L-1),\qquad f(X) = H_{L-1}v,

trained with squared loss and weight decay on every BN scale/shift and the
output weights,

.. math::
    \tfrac12\|f(X) - y\|^2 + \tfrac\beta2\Bigl(\sum_{l=1}^{L-1}
    \|\gamma^{(l)}\|^2 + \|\alpha^{(l)}\|^2 + \|v\|^2\Bigr).

(Decay on the :math:`W_l` would change nothing below: BN makes every column
of :math:`W_l` scale invariant, so that decay can be driven to zero.)

Facts checked by claim ``deep.overparameterized_closed_form`` [DERIVED; the
paper's deep theorem is UNCONFIRMED]:

* scaling :math:`(\gamma^{(l)}, \alpha^{(l)})` of a non-final layer
  :math:`l \le L-2` by :math:`c > 0` scales :math:`H_l` by :math:`c` and the
  next BN removes it: the function is unchanged, the penalty of that layer
  shrinks by :math:`c^2`;
* hence the L-layer objective is bounded below by the two-layer universal
  bound :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)` (paper.md R2), and with
  hidden width :math:`\ge n` random BN-ReLU features have
  :math:`\operatorname{rank}(CH_{L-2}) = n - 1`, so the R2 closed form on
  :math:`H_{L-2}` plus :math:`c \to 0` approaches the bound: the infimum
  equals it (not attained).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
from bnconvex.numerics._lbfgs import lbfgs_network
from bnconvex.numerics._validation import (
    check_beta,
    check_data,
    check_matrix,
    check_positive_int,
    check_positive_real,
)
from bnconvex.numerics.core.bn import batch_norm
from bnconvex.numerics.core.closed_form import highdim_network
from bnconvex.numerics.errors import InputError

__all__ = [
    "DeepBNNetwork",
    "centered_rank",
    "deep_forward",
    "deep_hidden",
    "deep_objective",
    "deep_objective_and_gradient",
    "deep_penalty",
    "overparameterized_network",
    "random_hidden_layers",
    "train_deep",
]


@dataclasses.dataclass(frozen=True)
class DeepBNNetwork:
    r"""Parameters of an L-layer BN-ReLU network (convention A).

    Parameters
    ----------
    Ws : tuple of ndarray
        ``Ws[l-1]`` is :math:`W_l`, shape ``(width_{l-1}, width_l)``,
        ``width_0 = d``; ``L - 1`` BN-ReLU layers.
    gammas, alphas : tuple of ndarray
        BN scale and shift of each layer, shape ``(width_l,)``.
    v : ndarray, shape (width_{L-1},)
        Output weights.
    """

    Ws: tuple[np.ndarray, ...]
    gammas: tuple[np.ndarray, ...]
    alphas: tuple[np.ndarray, ...]
    v: np.ndarray

    def __post_init__(self) -> None:
        for name in ("Ws", "gammas", "alphas"):
            arrays = tuple(np.asarray(a, dtype=np.float64) for a in getattr(self, name))
            object.__setattr__(self, name, arrays)
        object.__setattr__(self, "v", np.asarray(self.v, dtype=np.float64))
        if not (len(self.Ws) == len(self.gammas) == len(self.alphas) >= 1):
            raise InputError(
                "`Ws`, `gammas`, `alphas` must have the same length >= 1; got "
                f"{len(self.Ws)}, {len(self.gammas)}, {len(self.alphas)}"
            )
        prev = self.Ws[0].shape[0]
        for layer, (W, g, a) in enumerate(
            zip(self.Ws, self.gammas, self.alphas, strict=True), 1
        ):
            if (
                W.ndim != 2
                or W.shape[0] != prev
                or {g.shape, a.shape} != {(W.shape[1],)}
            ):
                raise InputError(
                    f"layer {layer}: `Ws` must chain ({prev} rows) and `gammas`, "
                    f"`alphas` match its {W.shape[-1]} columns; got W {W.shape}, "
                    f"gamma {g.shape}, alpha {a.shape}"
                )
            prev = W.shape[1]
        if self.v.shape != (prev,):
            raise InputError(f"`v` must have shape ({prev},); got {self.v.shape}")

    @property
    def L(self) -> int:
        """Number of weight layers (BN-ReLU layers + the output layer)."""
        return len(self.Ws) + 1

    def scaled(self, c: float) -> DeepBNNetwork:
        r"""Scale the BN parameters of the layers :math:`l \le L-2` by ``c``.

        The function is unchanged for ``c > 0`` (the next BN removes the
        scale); the penalty of those layers is multiplied by :math:`c^2`.
        """
        c = check_positive_real(c, "c")
        k = len(self.Ws) - 1
        return dataclasses.replace(
            self,
            gammas=tuple(c * g for g in self.gammas[:k]) + self.gammas[k:],
            alphas=tuple(c * a for a in self.alphas[:k]) + self.alphas[k:],
        )


def deep_hidden(net: DeepBNNetwork, X: Any) -> list[np.ndarray]:
    r"""Return the features ``[H_0 = X, H_1, ..., H_{L-1}]``.

    Parameters
    ----------
    net : DeepBNNetwork
    X : array_like, shape (n, d)
        Finite inputs, ``d = net.Ws[0].shape[0]``.

    Returns
    -------
    list of ndarray
        :math:`H_l` of shape ``(n, width_l)``, ``H[0] = X``.

    Notes
    -----
    :math:`H_l = (BN_{\gamma^{(l)},\alpha^{(l)}}(H_{l-1}W_l))_+` with the
    convention-A BN :math:`BN(h) = \gamma\,Ch/\|Ch\| + \alpha/\sqrt n`
    per column (:func:`bnconvex.numerics.core.bn.batch_norm`).

    Raises
    ------
    InputError
        Where a pre-activation column is constant (BN undefined); the
        message names the layer.
    """
    H = [check_matrix(X, "X", columns=net.Ws[0].shape[0])]
    for layer, (W, g, a) in enumerate(
        zip(net.Ws, net.gammas, net.alphas, strict=True), 1
    ):
        try:
            Z = batch_norm(H[-1] @ W, g, a)
        except InputError as exc:
            raise InputError(f"layer {layer}: {exc}") from None
        H.append(np.maximum(Z, 0.0))
    return H


def deep_forward(net: DeepBNNetwork, X: Any) -> np.ndarray:
    """Network output :math:`f(X) = H_{L-1}v`.

    Parameters
    ----------
    net : DeepBNNetwork
    X : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (n,)

    Notes
    -----
    :math:`H_{L-1}` from :func:`deep_hidden`; raises like it.
    """
    return deep_hidden(net, X)[-1] @ net.v


def deep_penalty(net: DeepBNNetwork, beta: float) -> float:
    r"""Weight decay of the BN parameters and the output weights.

    Parameters
    ----------
    net : DeepBNNetwork
    beta : float
        Coefficient, ``> 0``.

    Returns
    -------
    float

    Notes
    -----
    :math:`\tfrac\beta2\bigl(\sum_{l=1}^{L-1}\|\gamma^{(l)}\|^2
    + \|\alpha^{(l)}\|^2 + \|v\|^2\bigr)`; the :math:`W_l` carry no decay
    (BN makes their columns scale invariant, see the module Notes).
    """
    beta = check_beta(beta)
    total = sum(
        float(g @ g + a @ a) for g, a in zip(net.gammas, net.alphas, strict=True)
    )
    return 0.5 * beta * (total + float(net.v @ net.v))


def deep_objective(net: DeepBNNetwork, X: Any, y: Any, beta: float) -> float:
    r"""Training objective of the deep network (squared loss, convention A).

    Parameters
    ----------
    net : DeepBNNetwork
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    beta : float
        Coefficient, ``> 0``.

    Returns
    -------
    float

    Notes
    -----
    :math:`\tfrac12\|f(X)-y\|_2^2` plus :func:`deep_penalty`.
    """
    X, y = check_data(X, y)
    r = deep_forward(net, X) - y
    return 0.5 * float(r @ r) + deep_penalty(net, beta)


def deep_objective_and_gradient(
    net: DeepBNNetwork, X: Any, y: Any, beta: float
) -> tuple[float, DeepBNNetwork]:
    r"""Objective and its gradient by back-propagation (packed as a network).

    Notes
    -----
    Layer by layer from the top, with :math:`P_l = H_{l-1}W_l`,
    :math:`c = CP_l`, :math:`\rho = \|c\|` per column and
    :math:`G = \partial L/\partial Z_l = \partial L/\partial H_l \odot
    \mathbf 1[Z_l > 0]`:

    .. math::
        \partial\gamma = \mathbf 1^T(c\odot G)/\rho + \beta\gamma,\quad
        \partial\alpha = \mathbf 1^TG/\sqrt n + \beta\alpha,\quad
        \partial P_l = \frac{\gamma}{\rho}\bigl(CG - c\,\tfrac{c^TG}{\rho^2}\bigr),

    :math:`\partial W_l = H_{l-1}^T\partial P_l`,
    :math:`\partial H_{l-1} = \partial P_l W_l^T`; at a kink the one-sided
    derivative :math:`\mathbf 1[Z > 0]` is used.
    """
    X, y = check_data(X, y)
    beta = check_beta(beta)
    H = deep_hidden(net, X)
    n = X.shape[0]
    R = H[-1] @ net.v - y
    dH = R[:, None] * net.v[None, :]
    dWs, dgs, das = [], [], []
    for layer in range(len(net.Ws) - 1, -1, -1):
        W, g, a = net.Ws[layer], net.gammas[layer], net.alphas[layer]
        G = dH * (H[layer + 1] > 0)
        c = H[layer] @ W
        c = c - c.mean(axis=0)
        rho = np.linalg.norm(c, axis=0)
        cg = np.sum(c * G, axis=0)
        dP = g / rho * (G - G.mean(axis=0) - c * (cg / rho**2))
        dWs.append(H[layer].T @ dP)
        dgs.append(cg / rho + beta * g)
        das.append(G.sum(axis=0) / math.sqrt(n) + beta * a)
        dH = dP @ W.T
    grad = DeepBNNetwork(
        Ws=tuple(dWs[::-1]),
        gammas=tuple(dgs[::-1]),
        alphas=tuple(das[::-1]),
        v=H[-1].T @ R + beta * net.v,
    )
    return 0.5 * float(R @ R) + deep_penalty(net, beta), grad


def centered_rank(H: Any, rtol: float | None = None) -> int:
    r"""Numerical rank of the centred features :math:`CH`.

    Parameters
    ----------
    H : array_like, shape (n, width)
        Finite features.
    rtol : float, optional
        Relative cut-off, ``> 0``; default ``max(n, width) * eps`` (the rule
        of :func:`bnconvex.numerics.core.whitening.whiten`).

    Returns
    -------
    int
        0 when :math:`CH = 0`.

    Notes
    -----
    :math:`C = I - \tfrac1n\mathbf 1\mathbf 1^T`; the rank counts the
    singular values :math:`\sigma_k > \mathrm{rtol}\,\sigma_1` of :math:`CH`.
    Claim 16 needs :math:`\operatorname{rank}(CH_{L-2}) = n - 1`.

    Examples
    --------
    Three points in the plane: centring leaves rank 2 = n - 1.

    >>> import numpy as np
    >>> centered_rank(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    2
    """
    H = check_matrix(H, "H")
    tol = max(H.shape) * np.finfo(float).eps if rtol is None else rtol
    tol = check_positive_real(tol, "rtol")
    s = np.linalg.svd(H - H.mean(axis=0), compute_uv=False)
    if s[0] == 0:
        return 0
    return int(np.sum(s > tol * s[0]))


def random_hidden_layers(
    d: int, widths: tuple[int, ...], *, seed: int | np.random.Generator
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    r"""Draw random BN-ReLU layers.

    Parameters
    ----------
    d : int
        Input dimension.
    widths : tuple of int
        Hidden widths, each ``>= 1``.
    seed : int or numpy.random.Generator

    Returns
    -------
    Ws, gammas, alphas : tuple of ndarray
        One entry per hidden layer.

    Notes
    -----
    :math:`W_l \sim N(0, 1)` entrywise, :math:`\gamma = 1`,
    :math:`\alpha \sim N(0, 1)`.  A random shift :math:`\alpha` moves each
    ReLU's threshold, which is what makes wide layers reach
    :math:`\operatorname{rank}(CH) = n - 1`.
    """
    rng = np.random.default_rng(seed)
    dims = (
        check_positive_int(d, "d"),
        *(check_positive_int(w, "widths[k]") for w in widths),
    )
    Ws = tuple(rng.standard_normal((a, b)) for a, b in itertools.pairwise(dims))
    gammas = tuple(np.ones(b) for b in dims[1:])
    alphas = tuple(rng.standard_normal(b) for b in dims[1:])
    return Ws, gammas, alphas


def overparameterized_network(
    X: Any,
    y: Any,
    beta: float,
    widths: tuple[int, ...],
    *,
    seed: int,
    c: float = 1.0,
    hidden: tuple | None = None,
) -> DeepBNNetwork:
    r"""Random hidden layers + the R2 closed form on the last hidden features.

    Parameters
    ----------
    X, y : arrays
    beta : float
        Convention-A coefficient.
    widths : tuple of int
        Widths of the ``L - 2 >= 1`` random hidden layers; the last one
        must give :math:`\operatorname{rank}(CH_{L-2}) = n - 1` (width >= n).
    seed : int
    c : float, default 1.0
        Scale of the random layers' BN parameters (:meth:`DeepBNNetwork.scaled`).
    hidden : tuple (Ws, gammas, alphas), optional
        Use these hidden layers instead of :func:`random_hidden_layers`
        (``widths`` and ``seed`` are then ignored).

    Returns
    -------
    DeepBNNetwork
        Objective :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|) +
        \tfrac\beta2c^2\sum_{l\le L-2}(\|\gamma^{(l)}\|^2 + \|\alpha^{(l)}\|^2)`.

    Raises
    ------
    InputError
        When the features do not reach rank ``n - 1`` (from
        :func:`bnconvex.numerics.core.closed_form.highdim_network`).
    """
    X, y = check_data(X, y)
    if hidden is None:
        if len(widths) < 1:
            raise InputError(
                f"`widths` must name at least one hidden layer; got {widths!r}"
            )
        hidden = random_hidden_layers(X.shape[1], widths, seed=seed)
    Ws, gammas, alphas = (tuple(h) for h in hidden)
    features = DeepBNNetwork(Ws, gammas, alphas, np.zeros(len(gammas[-1])))
    top = highdim_network(deep_hidden(features, X)[-1], y, beta)
    net = DeepBNNetwork(
        (*Ws, np.asarray(top.W)),
        (*gammas, np.asarray(top.gamma)),
        (*alphas, np.asarray(top.alpha)),
        np.asarray(top.v),
    )
    return net.scaled(c) if c != 1.0 else net


def _pack(net: DeepBNNetwork) -> np.ndarray:
    parts = [*net.Ws, *net.gammas, *net.alphas, net.v]
    return np.concatenate([p.ravel() for p in parts])


def _unpack(x: np.ndarray, like: DeepBNNetwork) -> DeepBNNetwork:
    shapes = [W.shape for W in like.Ws] + [g.shape for g in like.gammas] * 2
    shapes.append(like.v.shape)
    cuts = np.cumsum([math.prod(s) for s in shapes])[:-1]
    arrays = [a.reshape(s) for a, s in zip(np.split(x, cuts), shapes, strict=True)]
    k = len(like.Ws)
    return DeepBNNetwork(
        tuple(arrays[:k]),
        tuple(arrays[k : 2 * k]),
        tuple(arrays[2 * k : 3 * k]),
        arrays[-1],
    )


def train_deep(
    X: Any,
    y: Any,
    beta: float,
    widths: tuple[int, ...],
    *,
    seed: int,
    max_iter: int = 1000,
) -> tuple[DeepBNNetwork, float]:
    r"""Local search (L-BFGS) on the deep network from a random start.

    Parameters
    ----------
    X, y : arrays
    beta : float
    widths : tuple of int
        Widths of all ``L - 1`` BN-ReLU layers.
    seed : int
        Start: :func:`random_hidden_layers` for every layer and
        :math:`v \sim N(0, 1/\text{width})`.
    max_iter : int, default 1000

    Returns
    -------
    net : DeepBNNetwork
    value : float
        Objective at ``net``; never below the universal bound (claim 16).
    """
    X, y = check_data(X, y)
    beta = check_beta(beta)
    Ws, gammas, alphas = random_hidden_layers(X.shape[1], widths, seed=seed)
    v = np.random.default_rng([seed, 1]).standard_normal(widths[-1]) / math.sqrt(
        widths[-1]
    )
    net = DeepBNNetwork(Ws, gammas, alphas, v)

    best = lbfgs_network(
        lambda nt: deep_objective_and_gradient(nt, X, y, beta),
        net,
        _pack,
        _unpack,
        max_iter=check_positive_int(max_iter, "max_iter"),
    )
    return best, deep_objective(best, X, y, beta)
