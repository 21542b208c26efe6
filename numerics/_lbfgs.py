"""One L-BFGS driver for the local searches of the extension modules.

:mod:`bnconvex.numerics.extensions.deep`,
:mod:`~bnconvex.numerics.extensions.bn_after_relu` and
:mod:`~bnconvex.numerics.extensions.losses` each minimise a network objective from a
random start; they share this wrapper around :func:`scipy.optimize.minimize`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
from bnconvex.numerics.errors import InputError
from scipy.optimize import minimize

__all__ = ["lbfgs_network"]

Net = TypeVar("Net")


def lbfgs_network(
    value_and_grad: Callable[[Net], tuple[float, Net]],
    start: Net,
    pack: Callable[[Net], np.ndarray],
    unpack: Callable[[np.ndarray, Net], Net],
    *,
    max_iter: int,
) -> Net:
    """Minimise ``value_and_grad`` over network parameters by L-BFGS-B.

    Parameters
    ----------
    value_and_grad : callable
        ``net -> (objective, gradient packed like net)``.
    start : network
    pack, unpack : callable
        Flatten a network to a vector and back (``unpack(x, like)``).
    max_iter : int

    Returns
    -------
    network
        The final iterate.

    Notes
    -----
    Where BN is undefined (a constant pre-activation) ``value_and_grad``
    raises :class:`InputError`; the objective is then reported as ``+inf``
    so that the line search steps back.  Tolerances: ``gtol = 1e-10``,
    ``ftol = 1e-14``.
    """

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            value, grad = value_and_grad(unpack(x, start))
        except InputError:
            return np.inf, np.zeros_like(x)
        return value, pack(grad)

    res = minimize(
        fun,
        pack(start),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": int(max_iter), "gtol": 1e-10, "ftol": 1e-14},
    )
    return unpack(res.x, start)
