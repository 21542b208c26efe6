r"""Maps between the convex program's blocks and BN-network weights (paper.md R1).

``convex_to_network`` is the weight reconstruction (the ``invert`` of the
reduction network -> convex program); ``network_to_convex`` is the forward
map, which never increases the objective (AM-GM and the triangle inequality).
"""

from __future__ import annotations

import math

import numpy as np
from bnconvex.numerics._validation import check_finite, check_matrix
from bnconvex.numerics.core.bn import convention_scale
from bnconvex.numerics.core.network import BNNetwork, forward
from bnconvex.numerics.core.whitening import Whitening, whiten
from bnconvex.numerics.errors import InputError

__all__ = ["convex_to_network", "network_to_convex"]


def _check_blocks(S: np.ndarray, name: str, m: int) -> np.ndarray:
    arr = np.asarray(S, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != m:
        raise InputError(
            f"`{name}` must have shape (P, {m}) = (P, r+1); got {arr.shape}"
        )
    check_finite(arr, name)
    return arr


def _neurons(whitening: Whitening, S: np.ndarray) -> tuple[np.ndarray, ...]:
    r"""Weights ``(W, gamma, alpha, |v|)`` of one neuron per row ``s`` of ``S``.

    ``w = V\Sigma^{-1} q/\|q\|`` with ``q = s[:r]`` (a positive multiple of
    the paper's ``V\Sigma^{-1}q``), or ``w = v_1/\sigma_1`` (so that
    ``CXw = u_1 \ne 0``) when ``q = 0``, in which case ``gamma = 0``.
    """
    r = whitening.rank
    Q = S[:, :r]
    norm_q = np.linalg.norm(Q, axis=1)
    norm_s = np.linalg.norm(S, axis=1)
    root = np.sqrt(norm_s)
    directions = np.zeros_like(Q)
    directions[:, 0] = 1.0  # q = 0: w = v_1 / sigma_1
    nonzero = norm_q > 0
    directions[nonzero] = Q[nonzero] / norm_q[nonzero, None]
    W = whitening.Vt.T @ (directions / whitening.sigma).T
    return W, norm_q / root, S[:, r] / root, root


def convex_to_network(
    whitening: Whitening, S_plus: np.ndarray, S_minus: np.ndarray, *, tol: float = 0.0
) -> BNNetwork:
    r"""Read BN-network weights off a solution of the convex program.

    Parameters
    ----------
    whitening : Whitening
        Centred SVD of the training data (``whiten(X)``), the one whose
        ``U_prime`` the blocks refer to.
    S_plus, S_minus : array, shape (P, r+1)
        Blocks :math:`s_i, s'_i` in the coordinates of :math:`U'`.
    tol : float, default 0.0
        Blocks with :math:`\|s\|_2 \le` ``tol`` are dropped.

    Returns
    -------
    BNNetwork
        Convention ``"a"``, one neuron per kept block (those of ``S_plus``
        first), ``v`` 1-D.

    Notes
    -----
    For a block :math:`s = [q; s_{r+1}] \ne 0` (paper.md R1, claim 9):

    .. math::

        w = V\Sigma^{-1} q, \quad
        \gamma = \frac{\|q\|}{\sqrt{\|s\|}}, \quad
        \alpha = \frac{s_{r+1}}{\sqrt{\|s\|}}, \quad
        v = \pm\sqrt{\|s\|},

    so that :math:`CXw = Uq`, :math:`BN_{\gamma,\alpha}(Xw) = U's/\sqrt{\|s\|}`,
    :math:`(BN_{\gamma,\alpha}(Xw))_+ v = \pm(U's)_+` and
    :math:`\tfrac\beta2(\gamma^2+\alpha^2+v^2) = \beta\|s\|`.  If :math:`q = 0`
    then :math:`\gamma = 0` and any :math:`w` with :math:`CXw \ne 0` works.
    For a feasible point (:math:`(2D_i - I)U's \ge 0`, hence
    :math:`(U's)_+ = D_iU's`) the network's objective equals the convex
    objective.

    Examples
    --------
    Solve the convex program on a small instance and read the network off:

    >>> from bnconvex.numerics.core.network import objective
    >>> from bnconvex.numerics.dataio.data import make_regression
    >>> from bnconvex.numerics.exact import exact_program
    >>> from bnconvex.numerics.solvers import solve_convex
    >>> X, y = make_regression(6, 2, seed=0)
    >>> prog = exact_program(X, y, 0.1, arrangements="exact")  # whiten, patterns
    >>> sol = solve_convex(prog.problem)
    >>> net = convex_to_network(prog.whitening, sol.S_plus, sol.S_minus)
    >>> net.m, abs(objective(net, X, y, 0.1) - sol.objective) < 1e-8
    (3, True)
    """
    m = whitening.rank + 1
    S_plus = _check_blocks(S_plus, "S_plus", m)
    S_minus = _check_blocks(S_minus, "S_minus", m)
    if not (math.isfinite(tol) and tol >= 0):
        raise InputError(f"`tol` must be a finite number >= 0; got {tol!r}")
    parts = []
    for S, sign in ((S_plus, 1.0), (S_minus, -1.0)):
        kept = S[np.linalg.norm(S, axis=1) > tol]
        W, gamma, alpha, v = _neurons(whitening, kept)
        parts.append((W, gamma, alpha, sign * v))
    W, gamma, alpha, v = (np.concatenate(p, axis=-1) for p in zip(*parts, strict=True))
    return BNNetwork(W=W, gamma=gamma, alpha=alpha, v=v, convention="a")


def _neuron_blocks(net: BNNetwork, whitening: Whitening) -> np.ndarray:
    r"""Return the rows ``s_j = [\gamma'_j q_j/\|q_j\|; \alpha_j]`` of the neurons."""
    Q = (whitening.sigma[:, None] * (whitening.Vt @ np.asarray(net.W))).T  # (m, r)
    norm_q = np.linalg.norm(Q, axis=1)
    # eps > 0 allows q = 0 (constant pre-activation): BN then outputs alpha/sqrt(n)
    safe = np.where(norm_q > 0, norm_q, 1.0)
    shrink = norm_q / np.sqrt(norm_q**2 + whitening.n * net.eps)
    gamma = np.asarray(net.gamma) * shrink
    return np.column_stack([gamma[:, None] * Q / safe[:, None], np.asarray(net.alpha)])


def network_to_convex(
    net: BNNetwork, X: np.ndarray, *, whitening: Whitening | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Express a scalar-output BN network as a feasible point of the convex program.

    Parameters
    ----------
    net : BNNetwork
        Scalar output (``v`` of shape ``(m,)``), either convention, any ``eps``.
    X : array, shape (n, d)
        Training data.
    whitening : Whitening, optional
        ``whiten(X)``, if already computed (the blocks refer to its ``U'``).

    Returns
    -------
    D : bool array, shape (n, P)
        The distinct non-empty patterns of the neurons (lexicographic order).
    S_plus, S_minus : array, shape (P, r+1)
        Blocks; the point is feasible, predicts exactly ``forward(net, X)``
        and has convex objective (with :math:`\beta_a`, see Notes) at most
        the network's objective.

    Notes
    -----
    Neuron :math:`j` outputs :math:`(\kappa U's_j)_+ v_j` with
    :math:`s_j = [\gamma'_j q_j/\|q_j\|; \alpha_j]`, :math:`q_j = \Sigma V^Tw_j`,
    :math:`\gamma'_j = \gamma_j\|q_j\|/\sqrt{\|q_j\|^2 + n\epsilon}` and
    :math:`\kappa = 1` (convention a) or :math:`\sqrt n` (std).  Its block is
    :math:`\kappa|v_j|s_j` in pattern :math:`\mathbf 1[U's_j \ge 0]`, in
    ``S_plus`` if :math:`v_j > 0` and ``S_minus`` otherwise; blocks of equal
    pattern and sign are summed (the cone is convex).  Penalties:
    :math:`\beta_a\|\sum_j\kappa|v_j|s_j\| \le \beta_a\kappa\sum_j|v_j|\|s_j\|
    \le \tfrac{\beta}2\sum_j(\gamma_j^2+\alpha_j^2+v_j^2)` with
    :math:`\beta_a = \beta/\kappa` (``convert_beta``), by the triangle
    inequality, :math:`|\gamma'_j| \le |\gamma_j|` and AM-GM.

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.core.convex_program import convex_objective
    >>> from bnconvex.numerics.core.network import BNNetwork, objective
    >>> from bnconvex.numerics.exact import exact_program
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0])
    >>> net = BNNetwork(np.eye(2), np.array([1.0, 2.0]), np.array([0.0, 1.0]),
    ...                 np.array([1.0, -1.0]))
    >>> D, S_plus, S_minus = network_to_convex(net, X)
    >>> problem = exact_program(X, y, 0.5, patterns=D).problem
    >>> f_convex = convex_objective(problem, S_plus, S_minus)
    >>> bool(f_convex <= objective(net, X, y, 0.5) + 1e-12)
    True
    """
    if net.v.ndim != 1:
        raise InputError(
            "`net` must have a scalar output (v of shape (m,)); "
            f"got v.shape={tuple(net.v.shape)}"
        )
    X = check_matrix(X, "X", min_rows=2)
    forward(net, X)  # validates shapes and that BN is defined for every neuron
    w = whiten(X) if whitening is None else whitening
    n = X.shape[0]
    blocks = (
        _neuron_blocks(net, w)
        * (convention_scale(n, net.convention) * np.abs(net.v))[:, None]
    )
    patterns = (w.U_prime @ blocks.T) >= 0  # (n, m)
    keep = patterns.any(axis=0) & (np.asarray(net.v) != 0)
    return _merge(patterns[:, keep], blocks[keep], np.asarray(net.v)[keep] > 0)


def _merge(
    patterns: np.ndarray, blocks: np.ndarray, positive: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum blocks of equal pattern, separately for each output sign."""
    if patterns.shape[1] == 0:
        empty = np.zeros((0, blocks.shape[1]))
        return patterns, empty, empty.copy()
    D, which = np.unique(patterns, axis=1, return_inverse=True)
    which = np.ravel(which)
    S_plus = np.zeros((D.shape[1], blocks.shape[1]))
    S_minus = np.zeros_like(S_plus)
    np.add.at(S_plus, which[positive], blocks[positive])
    np.add.at(S_minus, which[~positive], blocks[~positive])
    return D, S_plus, S_minus
