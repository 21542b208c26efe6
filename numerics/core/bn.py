"""Batch normalisation of pre-activations, in both conventions of the project.

Convention ``"a"`` (canonical, paper.md §1.1) normalises by the l2 norm of the
centred pre-activation and shifts by ``alpha / sqrt(n)``; convention ``"std"``
is PyTorch's ``BatchNorm1d`` in training mode (biased variance).  Both are
written once against the array API, so NumPy, CuPy and ``array-api-strict``
arrays go through the same code.
"""

from __future__ import annotations

import math
from typing import Literal

from bnconvex.numerics._array_api import Array, array_namespace, xp_capabilities
from bnconvex.numerics._validation import check_beta, check_positive_int
from bnconvex.numerics.errors import InputError

__all__ = [
    "CONVENTIONS",
    "Convention",
    "batch_norm",
    "check_convention",
    "convention_scale",
    "convert_beta",
]

Convention = Literal["a", "std"]
CONVENTIONS: tuple[str, ...] = ("a", "std")


def check_convention(convention: str, name: str = "convention") -> str:
    """Return ``convention`` if it is one of :data:`CONVENTIONS`.

    Parameters
    ----------
    convention : str
        ``"a"`` (canonical, :math:`BN^a`) or ``"std"`` (PyTorch's).
    name : str
        The argument's name in the error message.

    Raises
    ------
    InputError
        Naming ``name`` for any other value.
    """
    if convention not in CONVENTIONS:
        raise InputError(f"`{name}` must be 'a' or 'std'; got {convention!r}")
    return convention


def convention_scale(n: int, convention: str) -> float:
    r"""Return the factor :math:`\kappa` with :math:`BN^{conv} = \kappa\, BN^{a}`.

    Parameters
    ----------
    n : int
        Batch size (number of samples).
    convention : {"a", "std"}
        BN convention.

    Returns
    -------
    float
        ``1.0`` for convention ``"a"``, ``sqrt(n)`` for ``"std"``.

    Notes
    -----
    Convention A divides the centred pre-activation by its norm,
    :math:`BN^a(h) = \gamma\, Ch/\|Ch\| + \alpha/\sqrt n`; PyTorch's divides by
    the standard deviation :math:`\|Ch\|/\sqrt n` and adds :math:`\alpha`, so
    :math:`BN^{std} = \sqrt n\, BN^a` (paper.md §1.1).

    Examples
    --------
    >>> convention_scale(16, "std"), convention_scale(16, "a")
    (4.0, 1.0)
    """
    n = check_positive_int(n, "n")
    return 1.0 if check_convention(convention) == "a" else math.sqrt(n)


def _zero_norm_tolerance(n: int, dtype_eps: float) -> float:
    """Relative tolerance below which a centred column counts as zero."""
    return n * dtype_eps


@xp_capabilities()
def batch_norm(
    H: Array,
    gamma: Array | float,
    alpha: Array | float,
    *,
    convention: Convention = "a",
    eps: float = 0.0,
) -> Array:
    r"""Batch-normalise every column of ``H`` (one column = one neuron).

    Parameters
    ----------
    H : array, shape (n, m) or (n,)
        Pre-activations ``X @ W`` of a whole batch; a 1-D array is one neuron.
    gamma, alpha : array of shape (m,) or float
        BN scale and shift per column.
    convention : {"a", "std"}, default "a"
        ``"a"``: :math:`\gamma\, Ch/\|Ch\|_2 + \alpha/\sqrt n`;
        ``"std"``: :math:`\gamma (h - \bar h)/\operatorname{std}(h) + \alpha`
        with the biased standard deviation.
    eps : float, default 0.0
        PyTorch's variance offset: the normaliser becomes
        :math:`\sqrt{\operatorname{var}(h) + \epsilon}`.  The exact convex
        program assumes ``eps = 0``.

    Returns
    -------
    array, same shape and namespace as ``H``

    Raises
    ------
    InputError
        If ``eps == 0`` and a column has (numerically) zero centred norm:
        :math:`\|Ch\|_2 \le n\,\varepsilon_{mach} \max_i |h_i|`, where BN is
        undefined; the message names the column.

    Notes
    -----
    With :math:`C = I - \tfrac1n \mathbf 1\mathbf 1^T` and
    :math:`\rho = \sqrt{\|Ch\|_2^2 + n\epsilon}`,

    .. math::

        BN^{a}_{\gamma,\alpha}(h)
            = \gamma\,\frac{Ch}{\rho} + \frac{\alpha}{\sqrt n}\mathbf 1,
        \qquad BN^{std}_{\gamma,\alpha}(h) = \sqrt n\, BN^{a}_{\gamma,\alpha}(h),

    since :math:`\operatorname{std}(h) = \|Ch\|_2/\sqrt n` (paper.md §1.1,
    claim 5).  The zero-norm tolerance :math:`n\,\varepsilon_{mach}\max|h|`
    is the rounding level of computing :math:`Ch` by subtracting the mean.

    Examples
    --------
    >>> import numpy as np
    >>> batch_norm(np.array([[1.0], [3.0]]), np.array([2.0]), np.array([0.0]))
    array([[-1.41421356],
           [ 1.41421356]])
    """
    xp = array_namespace(H)
    check_convention(convention)
    one_d = H.ndim == 1
    Hm = xp.reshape(H, (H.shape[0], 1)) if one_d else H
    if Hm.ndim != 2:
        raise InputError(
            f"`H` must be 1-D or 2-D (n samples x m neurons); got ndim={H.ndim}"
        )
    n = Hm.shape[0]
    if n < 2:
        raise InputError(f"`H` must have at least 2 rows (samples) for BN; got {n}")
    Hc = Hm - xp.mean(Hm, axis=0, keepdims=True)
    sq = xp.sum(Hc * Hc, axis=0)
    if eps == 0.0:
        _check_nonzero_columns(xp, Hm, sq)
    rho = xp.sqrt(sq + n * eps)
    Z = gamma * Hc / rho + alpha / math.sqrt(n)
    if convention == "std":
        Z = Z * math.sqrt(n)
    return Z[:, 0] if one_d else Z


def _check_nonzero_columns(xp, Hm: Array, sq: Array) -> None:
    """Raise :class:`InputError` naming the first column with zero centred norm."""
    n = Hm.shape[0]
    tol = _zero_norm_tolerance(n, float(xp.finfo(Hm.dtype).eps))
    scale = xp.max(xp.abs(Hm), axis=0)
    bad = xp.sqrt(sq) <= tol * scale
    if bool(xp.any(bad)):
        j = int(xp.argmax(xp.astype(bad, xp.int8)))
        raise InputError(
            f"`H` column {j} has zero centred norm (constant pre-activation, "
            f"||C h|| <= n*eps*max|h|): batch norm is undefined there"
        )


def convert_beta(
    beta: float, n: int, *, source: Convention, target: Convention
) -> float:
    r"""Convert a weight-decay coefficient between BN conventions.

    Parameters
    ----------
    beta : float
        Coefficient in convention ``source``.
    n : int
        Batch size.
    source, target : {"a", "std"}
        Conventions to convert from and to.

    Returns
    -------
    float
        The coefficient giving the same optimal value in ``target``.

    Notes
    -----
    A std-BN network with :math:`(\gamma,\alpha,v)` computes the same function
    as a convention-A network with :math:`(\sqrt n\gamma, \sqrt n\alpha, v)`;
    after the AM-GM rescaling (paper.md R0) its penalty is
    :math:`\beta_{std}\,\|[\gamma;\alpha]\|\,|v| = (\beta_{std}/\sqrt n)\,
    \|[\sqrt n\gamma;\sqrt n\alpha]\|\,|v|`, hence
    :math:`\beta_{std} = \sqrt n\,\beta_a` (claim 5).

    Examples
    --------
    >>> convert_beta(0.5, 16, source="a", target="std")
    2.0
    """
    check_convention(source, "source")
    check_convention(target, "target")
    n = check_positive_int(n, "n")
    beta = check_beta(beta)
    return beta * convention_scale(n, target) / convention_scale(n, source)
