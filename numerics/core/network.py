r"""The two-layer BN-before-ReLU network, its objective, gradient and file formats.

The network (paper.md §1.2) is

.. math::

    f(X) = \sum_{j=1}^m \bigl(BN_{\gamma_j,\alpha_j}(X w_j)\bigr)_+ v_j^T,

trained with squared loss and weight decay on :math:`\gamma, \alpha, v`
(paper.md §1.3).  Forward pass, objective and gradient are array-API code;
file input/output is NumPy (and PyTorch, imported lazily).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import array_api_compat
import numpy as np
from bnconvex.numerics._array_api import (
    Array,
    array_namespace,
    to_numpy,
    xp_capabilities,
)
from bnconvex.numerics._validation import (
    check_beta,
    check_file,
    check_finite,
    check_real_array,
    load_npz_arrays,
    one_line_message,
)
from bnconvex.numerics.core.bn import (
    Convention,
    batch_norm,
    check_convention,
    convention_scale,
)
from bnconvex.numerics.errors import InputError

__all__ = [
    "TORCH_DEFAULT_EPS",
    "BNNetwork",
    "forward",
    "load_network",
    "objective",
    "objective_and_gradient",
    "penalty",
    "save_network",
]

#: ``torch.nn.BatchNorm1d``'s default ``eps``; a state dict does not store it.
TORCH_DEFAULT_EPS = 1e-5


@dataclasses.dataclass(frozen=True, eq=False)
class BNNetwork:
    """Parameters of a two-layer BN-ReLU network (immutable).

    Parameters
    ----------
    W : array, shape (d, m)
        First-layer weights, one column per neuron.
    gamma, alpha : array, shape (m,)
        BN scale and shift.
    v : array, shape (m,) or (m, K)
        Output weights (scalar or ``K``-dimensional output).
    convention : {"a", "std"}, default "a"
        BN convention (see :func:`bnconvex.numerics.core.bn.batch_norm`).
    eps : float, default 0.0
        BN variance offset (PyTorch's ``eps``).  The exact convex program
        assumes ``eps = 0``; see :func:`load_network` for why a certified lower
        bound stays valid for a network with ``eps > 0``.

    Notes
    -----
    Arrays may come from any array-API library; lists are converted to
    float64 NumPy arrays.  ``m = 0`` (no neuron, ``f = 0``) is allowed.
    """

    W: Array
    gamma: Array
    alpha: Array
    v: Array
    convention: Convention = "a"
    eps: float = 0.0

    def __post_init__(self) -> None:
        for name in ("W", "gamma", "alpha", "v"):
            value = getattr(self, name)
            if not array_api_compat.is_array_api_obj(value):
                object.__setattr__(self, name, np.asarray(value, dtype=np.float64))
        check_convention(self.convention)
        if not (math.isfinite(self.eps) and self.eps >= 0):
            raise InputError(f"`eps` must be a finite number >= 0; got {self.eps!r}")
        _check_shapes(self.W, self.gamma, self.alpha, self.v)

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.W.shape[0])

    @property
    def m(self) -> int:
        """Number of neurons."""
        return int(self.W.shape[1])

    @property
    def K(self) -> int:
        """Output dimension (1 for a scalar output)."""
        return 1 if self.v.ndim == 1 else int(self.v.shape[1])

    def replace(self, **changes: Any) -> BNNetwork:
        """Return a copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


def _check_shapes(W: Array, gamma: Array, alpha: Array, v: Array) -> None:
    if W.ndim != 2:
        raise InputError(f"`W` must be a 2-D array (d x m); got ndim={W.ndim}")
    m = W.shape[1]
    for name, arr in (("gamma", gamma), ("alpha", alpha)):
        if tuple(arr.shape) != (m,):
            raise InputError(f"`{name}` must have shape ({m},); got {tuple(arr.shape)}")
    if v.ndim not in (1, 2) or v.shape[0] != m:
        raise InputError(
            f"`v` must have shape ({m},) or ({m}, K); got {tuple(v.shape)}"
        )


def _check_X(net: BNNetwork, X: Array) -> None:
    if X.ndim != 2 or X.shape[1] != net.d:
        raise InputError(
            f"`X` must have shape (n, {net.d}) to match the network; "
            f"got {tuple(X.shape)}"
        )
    check_finite(X, "X")


def _hidden(net: BNNetwork, X: Array) -> tuple[Array, Array]:
    """Return the BN outputs ``Z`` and the ReLU activations ``A = (Z)_+``."""
    xp = array_namespace(X, net.W)
    _check_X(net, X)
    try:
        Z = batch_norm(
            X @ net.W, net.gamma, net.alpha, convention=net.convention, eps=net.eps
        )
    except InputError as exc:  # name the neuron, not batch_norm's argument
        raise InputError(
            str(exc).replace("`H` column", "neuron (`W` column)")
        ) from None
    return Z, xp.maximum(Z, xp.zeros_like(Z))


@xp_capabilities()
def forward(net: BNNetwork, X: Array) -> Array:
    r"""Evaluate the network on a whole batch.

    Parameters
    ----------
    net : BNNetwork
    X : array, shape (n, d)
        The batch; BN statistics are those of this batch (training mode).

    Returns
    -------
    array, shape (n,) or (n, K)
        :math:`f(X) = (BN(XW))_+ v`.

    Raises
    ------
    InputError
        ``X`` not ``(n, d)``, non-finite, ``n < 2``, or a neuron whose centred
        pre-activation :math:`CXw_j` is zero (BN undefined).

    Notes
    -----
    Neuron :math:`j` computes
    :math:`\kappa\bigl(\gamma_j\, CXw_j/\rho_j + \alpha_j/\sqrt n\bigr)` with
    :math:`\rho_j = \sqrt{\|CXw_j\|^2 + n\epsilon}` and :math:`\kappa = 1`
    (convention ``a``) or :math:`\sqrt n` (``std``), :math:`C = I - \tfrac1n
    \mathbf 1\mathbf 1^T`; the statistics are those of the batch ``X``.

    Examples
    --------
    One neuron on ``x = (0, 2)``: :math:`Ch = (-1, 1)`, so
    :math:`BN = (-1, 1)/\sqrt 2` and :math:`f = 2\,(0, 1/\sqrt 2)`.

    >>> import numpy as np
    >>> net = BNNetwork(W=[[1.0]], gamma=[1.0], alpha=[0.0], v=[2.0])
    >>> forward(net, np.array([[0.0], [2.0]]))
    array([0.        , 1.41421356])
    >>> objective(net, np.array([[0.0], [2.0]]), np.array([0.0, 2.0**0.5]), 1.0)
    2.5
    """
    _, A = _hidden(net, X)
    return A @ net.v


@xp_capabilities()
def penalty(net: BNNetwork, beta: float) -> float:
    r"""Weight decay :math:`\tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+\|v_j\|^2)`.

    Parameters
    ----------
    net : BNNetwork
    beta : float
        Weight-decay coefficient, ``> 0``.

    Returns
    -------
    float

    Notes
    -----
    ``W`` is not penalised: BN makes the network invariant to the scale of each
    column :math:`w_j` (paper.md R0), so only :math:`(\gamma, \alpha, v)` carry
    weight decay.

    Examples
    --------
    >>> import numpy as np
    >>> net = BNNetwork(np.eye(2), np.array([1.0, 2.0]), np.array([0.0, 1.0]),
    ...                 np.array([1.0, -1.0]))
    >>> penalty(net, 0.5)  # 0.25 * (1 + 4 + 0 + 1 + 1 + 1)
    2.0
    """
    xp = array_namespace(net.gamma, net.alpha, net.v)
    beta = check_beta(beta)
    total = xp.sum(net.gamma**2) + xp.sum(net.alpha**2) + xp.sum(net.v**2)
    return 0.5 * beta * float(total)


def _residual(net: BNNetwork, f: Array, y: Array) -> Array:
    if tuple(y.shape) != tuple(f.shape):
        raise InputError(
            f"`y` must have shape {tuple(f.shape)} to match the network output; "
            f"got {tuple(y.shape)}"
        )
    check_finite(y, "y")
    return f - y


@xp_capabilities()
def objective(net: BNNetwork, X: Array, y: Array, beta: float) -> float:
    r"""Training objective of the network on ``(X, y)``.

    Parameters
    ----------
    net : BNNetwork
    X : array, shape (n, d)
    y : array, shape (n,) or (n, K)
        Must match the shape of ``forward(net, X)``.
    beta : float
        Weight-decay coefficient (in the network's BN convention).

    Returns
    -------
    float
        :math:`\tfrac12\|f(X)-y\|^2 +
        \tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+\|v_j\|^2)`.

    Raises
    ------
    InputError
        Bad ``X`` (see :func:`forward`), ``y`` of another shape than the output
        or non-finite, ``beta <= 0``.

    Notes
    -----
    The loss is the training objective with batch statistics; it is
    non-convex in :math:`(W, \gamma, \alpha, v)`, and its global optimum equals
    that of the convex program (paper.md R1) once the network is wide enough.

    Examples
    --------
    >>> import numpy as np
    >>> net = BNNetwork(np.eye(2), np.array([1.0, 2.0]), np.array([0.0, 1.0]),
    ...                 np.array([1.0, -1.0]))
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0])
    >>> round(objective(net, X, y, 0.5), 10)
    4.3978450264
    """
    xp = array_namespace(X, y)
    R = _residual(net, forward(net, X), y)
    return 0.5 * float(xp.sum(R * R)) + penalty(net, beta)


@xp_capabilities()
def objective_and_gradient(
    net: BNNetwork, X: Array, y: Array, beta: float
) -> tuple[float, BNNetwork]:
    r"""Objective and its analytic gradient, packed as a :class:`BNNetwork`.

    Parameters
    ----------
    net : BNNetwork
    X : array, shape (n, d)
    y : array, shape (n,) or (n, K)
    beta : float

    Returns
    -------
    value : float
        :func:`objective` at ``net``.
    grad : BNNetwork
        Partial derivatives with respect to ``W, gamma, alpha, v`` in the same
        layout.  At a ReLU kink (``Z_ij = 0``) the one-sided derivative
        :math:`\mathbf 1[Z_{ij} > 0]` is used.

    Notes
    -----
    With :math:`c_j = C X w_j`, :math:`\rho_j = \sqrt{\|c_j\|^2 + n\epsilon}`,
    :math:`\kappa = 1` (convention a) or :math:`\sqrt n` (std),
    :math:`z_j = \kappa(\gamma_j c_j/\rho_j + \alpha_j\mathbf 1/\sqrt n)`,
    :math:`R = f - y` and :math:`g_j = \mathbf 1[z_j > 0] \odot (R v_j)`:

    .. math::

        \partial_{v_j} = (z_j)_+^T R + \beta v_j, \quad
        \partial_{\gamma_j} = \kappa\, c_j^T g_j/\rho_j + \beta\gamma_j, \quad
        \partial_{\alpha_j} = \kappa\,\mathbf 1^T g_j/\sqrt n + \beta\alpha_j,

    .. math::

        \partial_{w_j} = \frac{\kappa\gamma_j}{\rho_j}\, X^T
            \Bigl(C g_j - c_j \frac{c_j^T g_j}{\rho_j^2}\Bigr).

    The last one is orthogonal to :math:`w_j` when :math:`\epsilon = 0`
    (scale invariance, claim 7).

    Examples
    --------
    BN is scale invariant in each column of ``W``, so the gradient in ``W`` is
    orthogonal to ``W`` (paper.md §6 item 7):

    >>> import numpy as np
    >>> net = BNNetwork(np.eye(2), np.array([1.0, 2.0]), np.array([0.0, 1.0]),
    ...                 np.array([1.0, -1.0]))
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0])
    >>> f, grad = objective_and_gradient(net, X, y, 0.5)
    >>> abs(float(np.sum(grad.W * net.W))) < 1e-12
    True
    """
    xp = array_namespace(X, y, net.W)
    beta = check_beta(beta)
    Z, A = _hidden(net, X)
    R = _residual(net, A @ net.v, y)
    n = X.shape[0]
    kappa = convention_scale(n, net.convention)
    Rv = R[:, None] * net.v[None, :] if R.ndim == 1 else R @ net.v.T
    G = xp.astype(Z > 0, X.dtype) * Rv
    Hc = X @ net.W
    Hc = Hc - xp.mean(Hc, axis=0, keepdims=True)
    rho2 = xp.sum(Hc * Hc, axis=0) + n * net.eps
    rho = xp.sqrt(rho2)
    cg = xp.sum(Hc * G, axis=0)
    Gc = G - xp.mean(G, axis=0, keepdims=True)
    dW = X.T @ ((kappa * net.gamma / rho) * (Gc - Hc * (cg / rho2)))
    grad = BNNetwork(
        W=dW,
        gamma=kappa * cg / rho + beta * net.gamma,
        alpha=kappa * xp.sum(G, axis=0) / math.sqrt(n) + beta * net.alpha,
        v=A.T @ R + beta * net.v,
        convention=net.convention,
        eps=net.eps,
    )
    value = 0.5 * float(xp.sum(R * R)) + penalty(net, beta)
    return value, grad


# ----------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------


def save_network(
    net: BNNetwork,
    path: str | os.PathLike[str],
    *,
    running_stats: tuple[Array, Array] | None = None,
) -> None:
    """Write a network to ``path``.

    Parameters
    ----------
    net : BNNetwork
    path : path-like
        ``.npz``: arrays ``W, gamma, alpha, v`` plus ``convention`` and
        ``eps``.  ``.pt``/``.pth``: a PyTorch state dict of
        ``nn.Sequential(Linear(d, m), BatchNorm1d(m), ReLU(), Linear(m, K))``
        (needs PyTorch and ``net.convention == "std"``; the Linear biases are
        zero).
    running_stats : (array, array), optional
        ``.pt``/``.pth`` only: the BN ``running_mean`` and ``running_var``
        (shape ``(m,)`` each) used by the model in ``eval()`` mode, e.g. the
        mean and biased variance of ``X @ W`` over the training batch; default
        0 and 1.  Training-mode outputs (and ``load_network``) ignore them.
    """
    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    arrays = {
        k: np.asarray(to_numpy(getattr(net, k))) for k in ("W", "gamma", "alpha", "v")
    }
    if suffix == "npz":
        np.savez(
            path,
            **arrays,
            convention=np.asarray(net.convention),
            eps=np.asarray(net.eps),
        )
    elif suffix in ("pt", "pth"):
        _save_torch(arrays, net, path, running_stats)
    else:
        raise InputError(
            f"`path` must end in .npz, .pt or .pth; got {os.fspath(path)!r}"
        )


def load_network(
    path: str | os.PathLike[str], *, bn_eps: float | None = None
) -> BNNetwork:
    r"""Read a network from a ``.npz`` file or a PyTorch state dict.

    Parameters
    ----------
    path : path-like
        ``.npz`` with arrays ``W`` (d x m), ``gamma``, ``alpha``, ``v`` (m or
        m x K) and optionally ``convention`` (default ``"a"``) and ``eps``
        (default 0); or ``.pt``/``.pth``: a state dict saved with
        ``torch.save(model.state_dict(), path)`` of
        ``nn.Sequential(Linear(d, m), BatchNorm1d(m), ReLU(), Linear(m, K))``
        (key prefixes are allowed).
    bn_eps : float, optional
        BN ``eps`` of a PyTorch model.  A state dict does not store it, so it
        defaults to PyTorch's ``1e-5`` (:data:`TORCH_DEFAULT_EPS`); pass
        ``0.0`` for a model built with ``eps=0``.  Ignored for ``.npz``.

    Returns
    -------
    BNNetwork
        For a state dict: ``convention="std"``, ``eps`` as above,
        ``gamma, alpha`` = BN weight and bias, ``W`` = first Linear weight
        transposed, ``v`` = last Linear weight (transposed when ``K > 1``).

    Raises
    ------
    InputError
        Missing file or arrays, wrong layout, PyTorch not installed, or a
        non-zero output bias (the architecture has none; retrain with
        ``Linear(m, K, bias=False)`` or set it to zero).

    Notes
    -----
    * The first Linear bias is ignored: BN subtracts the batch mean, which
      cancels any constant added to a pre-activation.
    * The BN running statistics are ignored: the objective is the training
      objective, with batch statistics.
    * ``eps > 0``: :math:`\gamma(h-\bar h)/\sqrt{var+\epsilon} =
      \gamma'(h-\bar h)/\operatorname{std}(h)` with
      :math:`|\gamma'| < |\gamma|`, so the network equals an ``eps = 0``
      network with a smaller penalty: its objective (computed with ``eps``)
      is still bounded below by the ``eps = 0`` global optimum.
    """
    path = check_file(path, "NETWORK")
    suffix = path.rsplit(".", 1)[-1].lower()
    if suffix == "npz":
        return _load_npz(path)
    if suffix in ("pt", "pth"):
        eps = TORCH_DEFAULT_EPS if bn_eps is None else float(bn_eps)
        return _load_torch(path, eps)
    raise InputError(f"`NETWORK` must be a .npz, .pt or .pth file; got {path!r}")


def _load_npz(path: str) -> BNNetwork:
    keys = ("W", "gamma", "alpha", "v")
    data = load_npz_arrays(path, "NETWORK", keys, optional=("convention", "eps"))
    arrays = {k: check_real_array(data[k], f"NETWORK {k}") for k in keys}
    convention = str(data["convention"]) if "convention" in data else "a"
    if convention not in ("a", "std"):
        raise InputError(
            f"`NETWORK` {path!r} convention must be 'a' or 'std'; got {convention!r}"
        )
    eps = 0.0
    if "eps" in data:
        eps_array = check_real_array(data["eps"], "NETWORK eps")
        if eps_array.size != 1:
            raise InputError(
                f"`NETWORK` {path!r} eps must be one number; got shape "
                f"{eps_array.shape}"
            )
        eps = float(eps_array.reshape(()))
    try:
        return BNNetwork(**arrays, convention=convention, eps=eps)  # type: ignore[arg-type]
    except InputError as exc:
        raise InputError(f"`NETWORK` {path!r}: {exc}") from None


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise InputError(
            "`NETWORK` is a PyTorch file but PyTorch is not installed "
            "(pip install torch, or save the network as .npz)"
        ) from None
    return torch


def _load_torch(path: str, eps: float) -> BNNetwork:
    torch = _import_torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure is bad input
        raise InputError(
            f"`NETWORK` {path!r} is not a readable state dict "
            "(torch.save(model.state_dict(), path); a whole pickled model is "
            f"refused): {one_line_message(exc)}"
        ) from None
    if not isinstance(state, dict):
        raise InputError(
            f"`NETWORK` {path!r} must hold a state dict "
            "(torch.save(model.state_dict(), path)); "
            f"got {type(state).__name__}"
        )
    layers = _group_layers(
        {
            k: v.detach().double().numpy()
            for k, v in state.items()
            if hasattr(v, "detach")
        }
    )
    first, bn, last = _match_layers(layers, path)
    _check_output_bias(last, path)
    v = last["weight"][0] if last["weight"].shape[0] == 1 else last["weight"].T
    return BNNetwork(
        W=first["weight"].T.copy(),
        gamma=bn["weight"].copy(),
        alpha=bn["bias"].copy(),
        v=np.ascontiguousarray(v),
        convention="std",
        eps=eps,
    )


def _group_layers(state: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Group ``prefix.name`` entries by prefix, in insertion order."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state.items():
        prefix, _, name = key.rpartition(".")
        groups.setdefault(prefix, {})[name] = value
    return list(groups.values())


def _match_layers(layers: list[dict[str, np.ndarray]], path: str):
    shapes = [tuple(g["weight"].shape) if "weight" in g else None for g in layers]
    ok = (
        len(layers) == 3
        and all(s is not None for s in shapes)
        and len(shapes[0]) == 2
        and len(shapes[1]) == 1
        and len(shapes[2]) == 2
        and "running_mean" in layers[1]
        and "bias" in layers[1]
        and shapes[1][0] == shapes[0][0] == shapes[2][1]
    )
    if not ok:
        raise InputError(
            f"`NETWORK` {path!r} must be the state dict of Linear(d, m), "
            f"BatchNorm1d(m), ReLU(), Linear(m, K); got weight shapes {shapes}"
        )
    return layers


def _check_output_bias(last: dict[str, np.ndarray], path: str) -> None:
    bias = last.get("bias")
    if bias is not None and np.any(bias != 0):
        raise InputError(
            f"`NETWORK` {path!r} has a non-zero output bias (max |b| = "
            f"{float(np.max(np.abs(bias))):.3g}); the architecture has no output bias: "
            "use Linear(m, K, bias=False) or set the bias to zero"
        )


def _save_torch(
    arrays: dict[str, np.ndarray],
    net: BNNetwork,
    path: Any,
    running_stats: tuple[Array, Array] | None,
) -> None:
    if net.convention != "std":
        raise InputError(
            "`net` must use convention 'std' to be saved as a PyTorch state dict; "
            f"got {net.convention!r}"
        )
    torch = _import_torch()
    m = arrays["W"].shape[1]
    v = arrays["v"]
    K = 1 if v.ndim == 1 else v.shape[1]
    mean, var = np.zeros(m), np.ones(m)
    if running_stats is not None:
        mean, var = (np.asarray(to_numpy(a), dtype=np.float64) for a in running_stats)
        if mean.shape != (m,) or var.shape != (m,) or not np.all(var >= 0):
            raise InputError(
                f"`running_stats` must be two arrays of shape ({m},), the variance "
                f">= 0; got shapes {mean.shape} and {var.shape}"
            )
    state = {
        "0.weight": arrays["W"].T,
        "0.bias": np.zeros(m),
        "1.weight": arrays["gamma"],
        "1.bias": arrays["alpha"],
        "1.running_mean": mean,
        "1.running_var": var,
        "3.weight": v.reshape(1, m) if v.ndim == 1 else v.T,
        "3.bias": np.zeros(K),
    }
    tensors = {k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in state.items()}
    tensors["1.num_batches_tracked"] = torch.tensor(0)
    torch.save(tensors, path)
