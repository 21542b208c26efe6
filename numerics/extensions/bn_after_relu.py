r"""BN after ReLU: the network, its exact convex program and weight recovery.

The architecture of paper.md §1.2 (R6, claim 17) is

.. math::
    f(X) = \sum_{j=1}^m BN_{\gamma_j,\alpha_j}\bigl((Xw_j)_+\bigr)\, v_j,

with weight decay :math:`\tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+v_j^2)`.  The
parameters are stored in a :class:`~bnconvex.numerics.core.network.BNNetwork`
(same fields, different architecture): use the functions of *this* module
with it, not :func:`bnconvex.numerics.core.network.forward`.

Activation patterns now come from :math:`X` itself, with no bias:
:math:`D_i = \operatorname{diag}(\mathbf 1[Xu \ge 0])`.  For a pattern let
:math:`M_i = CD_iX` and :math:`e = \mathbf 1/\sqrt n` (:math:`M_i^Te = 0`).
A neuron whose :math:`w` lies in the cone :math:`(2D_i - I)Xw \ge 0` outputs
:math:`(\gamma M_iw/\|M_iw\| + \alpha e)v`, and by AM-GM its penalty is at
least :math:`\beta\|o\|` for its output :math:`o`.  The exact convex program
(paper.md R6) is

.. math::
    \min_{w_i^\pm, t_i^\pm}\ \ell\Bigl(\sum_i (M_iw_i^+ + t_i^+e)
        - (M_iw_i^- + t_i^-e), y\Bigr)
    + \beta\sum_i\bigl(\|M_iw_i^+ + t_i^+e\| + \|M_iw_i^- + t_i^-e\|\bigr)
    \ \text{s.t.}\ (2D_i - I)Xw_i^\pm \ge 0,

and a solution maps back to one neuron per non-zero block:
:math:`o = M_iw + te`, :math:`\gamma = \|M_iw\|/\sqrt{\|o\|}`,
:math:`\alpha = t/\sqrt{\|o\|}`, :math:`v = \pm\sqrt{\|o\|}`.

Deviation from paper.md R6 (which drops patterns with fewer than two active
samples): a pattern with exactly one active sample :math:`j` has
:math:`M_iw = (x_j^Tw)\,Ce_j \ne 0`, so BN is defined and such neurons are
realisable; they are kept.  Only the empty pattern (BN undefined) is
dropped.  ``min_active=2`` reproduces paper.md's choice.
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
    check_patterns,
    check_positive_int,
)
from bnconvex.numerics.baselines.nonconvex import pack_network, unpack_network
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.bn import batch_norm, convention_scale
from bnconvex.numerics.core.network import BNNetwork, penalty
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.losses import Loss, get_loss
from bnconvex.numerics.result import SolveResult
from bnconvex.numerics.solvers.loss_barrier import (
    BarrierResult,
    BlockProgram,
    solve_block_program,
)

__all__ = [
    "AfterReLUProblem",
    "AfterReLUSolution",
    "after_relu_forward",
    "after_relu_objective",
    "after_relu_objective_and_gradient",
    "convex_objective",
    "reconstruct",
    "relu_patterns",
    "solve_after_relu",
    "train_after_relu",
]


# ----------------------------------------------------------------------------
# patterns of X (central arrangement, no bias)
# ----------------------------------------------------------------------------
def _generic_direction(X: np.ndarray) -> np.ndarray:
    """Return a unit vector with ``|x_j . e| > 1e-8 ||x_j||`` for every row."""
    rng = np.random.default_rng(0)
    norms = np.linalg.norm(X, axis=1)
    for _ in range(100):
        e = rng.standard_normal(X.shape[1])
        e /= np.linalg.norm(e)
        if np.all(np.abs(X @ e) > 1e-8 * norms):
            return e
    raise InputError("`X` rows are too degenerate to find a generic direction")


def relu_patterns(X: Any, *, min_active: int = 1) -> np.ndarray:
    r"""All activation patterns :math:`\mathbf 1[Xu \ge 0]`, :math:`u \in \mathbb R^d`.

    Parameters
    ----------
    X : array, shape (n, d)
    min_active : int, default 1
        Patterns with fewer active samples are dropped (``2`` = paper.md R6).

    Returns
    -------
    D : bool array, shape (n, P)
        One column per region of the central arrangement of the rows of
        ``X`` (zero rows count as always active), lexicographic order.

    Notes
    -----
    Exact, by reduction to
    :func:`~bnconvex.numerics.core.arrangements.enumerate_patterns`:
    rotate coordinates so that a generic direction :math:`e` is the last
    axis and flip the sign of every row with :math:`x_j^Te < 0`; the
    hyperplanes are unchanged and the last column becomes positive, as that
    function requires.  A region's signs flip back on the flipped rows; the
    region :math:`-e` (all rows negative after flipping, which that function
    omits) is added.  At most :math:`2\sum_{k<d}\binom{n-1}{k}` patterns.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    >>> relu_patterns(X).shape  # 3 lines through 0 cut the plane into 6 wedges
    (3, 6)
    """
    X = check_matrix(X, "X", min_rows=2)
    min_active = check_positive_int(min_active, "min_active")
    zero = np.linalg.norm(X, axis=1) == 0
    Xs = X[~zero]
    if Xs.shape[0] == 0:
        raise InputError("`X` has only zero rows: every pattern is trivial")
    if X.shape[1] == 1:
        S = np.column_stack([Xs[:, 0] >= 0, Xs[:, 0] <= 0])
    else:
        e = _generic_direction(Xs)
        Q = np.roll(np.linalg.qr(np.column_stack([e, np.eye(X.shape[1])]))[0], -1, 1)
        Q[:, -1] *= np.sign(Q[:, -1] @ e)  # orthonormal basis ending with e
        sigma = np.sign(Xs @ e)
        DA = enumerate_patterns(sigma[:, None] * (Xs @ Q))  # last column > 0
        DA = np.column_stack([DA, np.zeros(Xs.shape[0], dtype=bool)])
        S = np.where(sigma[:, None] > 0, DA, ~DA)
    D = np.ones((X.shape[0], S.shape[1]), dtype=bool)
    D[~zero] = S
    D = np.unique(D.T, axis=0).T
    return D[:, D.sum(axis=0) >= min_active]


# ----------------------------------------------------------------------------
# the non-convex network
# ----------------------------------------------------------------------------
def after_relu_forward(net: BNNetwork, X: Any) -> np.ndarray:
    r"""Output of the BN-after-ReLU network.

    Parameters
    ----------
    net : BNNetwork
        Scalar output; BN in ``net.convention``.
    X : array_like, shape (n, net.d)
        Finite inputs.

    Returns
    -------
    ndarray, shape (n,)

    Notes
    -----
    :math:`f(X) = \sum_j BN_{\gamma_j,\alpha_j}\bigl((Xw_j)_+\bigr)v_j`, the
    ReLU before the normalisation (paper.md R6), with
    :math:`BN(h) = \gamma\,Ch/\|Ch\| + \alpha/\sqrt n` in convention A.

    Raises
    ------
    InputError
        When a neuron's ReLU output is constant over the batch (BN undefined).
    """
    X = check_matrix(X, "X", columns=net.d)
    Hr = np.maximum(X @ np.asarray(net.W), 0.0)
    try:
        Z = batch_norm(Hr, net.gamma, net.alpha, convention=net.convention)
    except InputError as exc:
        raise InputError(
            str(exc).replace("`H` column", "neuron (`W` column)")
        ) from None
    return Z @ net.v


def after_relu_objective(
    net: BNNetwork, X: Any, y: Any, beta: float, loss: str | Loss = "squared"
) -> float:
    r"""Training objective of the BN-after-ReLU network.

    Parameters
    ----------
    net : BNNetwork
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    beta : float
        Coefficient, ``> 0``.
    loss : str or Loss, default "squared"

    Returns
    -------
    float

    Notes
    -----
    :math:`\ell(f(X), y) + \tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+v_j^2)`
    with :math:`f` from :func:`after_relu_forward`.
    """
    loss = get_loss(loss)
    X, y = check_data(X, y)
    return loss.value(after_relu_forward(net, X), loss.check_labels(y)) + penalty(
        net, beta
    )


def after_relu_objective_and_gradient(
    net: BNNetwork, X: Any, y: Any, beta: float, loss: str | Loss = "squared"
) -> tuple[float, BNNetwork]:
    r"""Objective and analytic gradient (packed as a :class:`BNNetwork`).

    Notes
    -----
    With :math:`H = (XW)_+`, :math:`c_j = Ch_j`, :math:`\rho_j = \|c_j\|`,
    :math:`\kappa` the convention factor, :math:`z_j = \kappa(\gamma_jc_j/\rho_j
    + \alpha_je)` and :math:`G = \nabla\ell\, v^T` (:math:`\partial/\partial Z`):

    .. math::
        \partial_{v_j} = z_j^T\nabla\ell + \beta v_j,\quad
        \partial_{\gamma_j} = \kappa c_j^Tg_j/\rho_j + \beta\gamma_j,\quad
        \partial_{\alpha_j} = \kappa\mathbf 1^Tg_j/\sqrt n + \beta\alpha_j,

    .. math::
        \partial_{w_j} = X^T\Bigl(\mathbf 1[Xw_j > 0]\odot
            \frac{\kappa\gamma_j}{\rho_j}
            \bigl(Cg_j - c_j\,c_j^Tg_j/\rho_j^2\bigr)\Bigr).
    """
    loss = get_loss(loss)
    X, y = check_data(X, y)
    beta = check_beta(beta)
    n = X.shape[0]
    f = after_relu_forward(net, X)  # raises where BN is undefined
    P = X @ np.asarray(net.W)
    Hr = np.maximum(P, 0.0)
    Hc = Hr - Hr.mean(axis=0)
    rho = np.linalg.norm(Hc, axis=0)
    Z = batch_norm(Hr, net.gamma, net.alpha, convention=net.convention)
    grad_f = loss.gradient(f, y)
    kappa = convention_scale(n, net.convention)
    G = grad_f[:, None] * np.asarray(net.v)[None, :]
    cg = np.sum(Hc * G, axis=0)
    Gc = G - G.mean(axis=0)
    dH = kappa * net.gamma / rho * (Gc - Hc * (cg / rho**2))
    grad = net.replace(
        W=X.T @ (dH * (P > 0)),
        gamma=kappa * cg / rho + beta * net.gamma,
        alpha=kappa * G.sum(axis=0) / math.sqrt(n) + beta * net.alpha,
        v=Z.T @ grad_f + beta * net.v,
    )
    return loss.value(f, y) + penalty(net, beta), grad


def train_after_relu(
    X: Any,
    y: Any,
    beta: float,
    m: int,
    *,
    seed: int,
    loss: str | Loss = "squared",
    max_iter: int = 1000,
) -> tuple[BNNetwork, float]:
    r"""Local search (L-BFGS) on the BN-after-ReLU network.

    Parameters
    ----------
    X, y : arrays
    beta : float
        Convention-A coefficient.
    m : int
        Neurons.
    seed : int
        Seed of the start ``W ~ N(0, 1/d)``, ``gamma, alpha ~ N(0, 1)``,
        ``v ~ N(0, 1/m)``.
    loss : str or Loss, default "squared"
    max_iter : int, default 1000

    Returns
    -------
    net : BNNetwork
    value : float
        Objective at ``net``; never below the convex optimum (claim 17).

    Notes
    -----
    Where a neuron's ReLU output is constant (BN undefined) the objective is
    reported as ``+inf`` to the line search, which then steps back.
    """
    X, y = check_data(X, y)
    m = check_positive_int(m, "m")
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    net = BNNetwork(
        W=rng.standard_normal((d, m)) / math.sqrt(d),
        gamma=rng.standard_normal(m),
        alpha=rng.standard_normal(m),
        v=rng.standard_normal(m) / math.sqrt(m),
    )

    best = lbfgs_network(
        lambda nt: after_relu_objective_and_gradient(nt, X, y, beta, loss),
        net,
        pack_network,
        unpack_network,
        max_iter=check_positive_int(max_iter, "max_iter"),
    )
    return best, after_relu_objective(best, X, y, beta, loss)


# ----------------------------------------------------------------------------
# the convex program
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class AfterReLUProblem:
    r"""Data of R6's convex program (convention A).

    Parameters
    ----------
    X : array, shape (n, d)
    y : array, shape (n,)
    beta : float
    D : bool array, shape (n, P)
        Patterns of ``X`` (:func:`relu_patterns`), bool or 0/1; the empty
        one is refused (BN is undefined there).
    loss : str or Loss, default "squared"

    Attributes
    ----------
    M : ndarray, shape (P, n, d)
        :math:`M_i = CD_iX`.
    """

    X: np.ndarray
    y: np.ndarray
    beta: float
    D: np.ndarray
    loss: Loss = dataclasses.field(default_factory=lambda: get_loss("squared"))

    def __post_init__(self) -> None:
        X, y = check_data(self.X, self.y)
        D = check_patterns(self.D, X.shape[0], "D")
        loss = get_loss(self.loss)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", loss.check_labels(y))
        object.__setattr__(self, "beta", check_beta(self.beta))
        object.__setattr__(self, "D", D)
        object.__setattr__(self, "loss", loss)

    @property
    def n(self) -> int:
        """Samples."""
        return int(self.X.shape[0])

    @property
    def P(self) -> int:
        """Patterns."""
        return int(self.D.shape[1])

    @property
    def M(self) -> np.ndarray:
        """:math:`M_i = CD_iX`, shape (P, n, d)."""
        DX = self.D.T[:, :, None] * self.X[None]
        return DX - DX.mean(axis=1, keepdims=True)

    def outputs(self, W: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Neuron outputs :math:`o_i = M_iw_i + t_ie`, shape (P, n)."""
        return np.einsum("pnd,pd->pn", self.M, W) + t[:, None] / math.sqrt(self.n)


@dataclasses.dataclass
class AfterReLUSolution(SolveResult):
    r"""Solution of :func:`solve_after_relu`.

    A :class:`~bnconvex.numerics.result.SolveResult` of the barrier method
    (``gap`` its bound, see :mod:`.solvers.loss_barrier`;
    ``lower_bound = objective - gap``; ``max_violation`` the largest cone
    violation :math:`\max(-(2D_i-I)Xw)_+`), and:

    Attributes
    ----------
    W_plus, W_minus : ndarray, shape (P, d)
    t_plus, t_minus : ndarray, shape (P,)
    """

    W_plus: np.ndarray
    t_plus: np.ndarray
    W_minus: np.ndarray
    t_minus: np.ndarray


def convex_objective(
    problem: AfterReLUProblem, W_plus, t_plus, W_minus, t_minus
) -> float:
    r"""R6 objective at the given blocks (constraints not checked).

    Parameters
    ----------
    problem : AfterReLUProblem
    W_plus, W_minus : array_like, shape (P, d)
    t_plus, t_minus : array_like, shape (P,)

    Returns
    -------
    float

    Notes
    -----
    With outputs :math:`o_i = CD_iXw_i + t_i\mathbf 1/\sqrt n`
    (:meth:`AfterReLUProblem.outputs`),
    :math:`\ell\bigl(\sum_i o_i^+ - o_i^-, y\bigr)
    + \beta\sum_i \|o_i^+\|_2 + \|o_i^-\|_2`.
    """
    o_plus, o_minus = problem.outputs(W_plus, t_plus), problem.outputs(W_minus, t_minus)
    pred = o_plus.sum(axis=0) - o_minus.sum(axis=0)
    norms = np.linalg.norm(o_plus, axis=1).sum() + np.linalg.norm(o_minus, axis=1).sum()
    return problem.loss.value(pred, problem.y) + problem.beta * float(norms)


def _cone_rays(G: np.ndarray) -> np.ndarray:
    r"""Extreme rays (columns) of the pointed cone :math:`\{w : Gw \ge 0\}`.

    Every extreme ray spans the null space of :math:`d-1` independent rows of
    :math:`G` and satisfies all rows; candidates from every subset of
    :math:`d-1` rows are tested (fine for the tiny instances of claim 17).
    """
    n, d = G.shape
    scale = np.linalg.norm(G, axis=1).max()
    rays: list[np.ndarray] = []
    for rows in itertools.combinations(range(n), d - 1):
        _, sv, Vt = np.linalg.svd(G[list(rows)].reshape(len(rows), d))
        if d > 1 and sv[-1] <= 1e-10 * scale:
            continue  # dependent rows: no line
        cands = [Vt[-1]] if d > 1 else [np.ones(1)]
        for r in (c * sgn for c in cands for sgn in (1.0, -1.0)):
            if np.all(G @ r >= -1e-10 * scale) and not any(
                np.linalg.norm(r - q) < 1e-8 for q in rays
            ):
                rays.append(r)
    return np.array(rays).T


def _pattern_generators(problem: AfterReLUProblem) -> np.ndarray:
    r"""Return generators :math:`R_i` (columns) of every pattern's cone; (P, d, p).

    Rays with :math:`M_ir = 0` add nothing to the output and are dropped
    (their barrier would be unbounded); patterns with fewer rays repeat
    their first kept ray so that all blocks have the same size ``p``.
    """
    X, M = problem.X, problem.M
    Vx = np.linalg.svd(X, full_matrices=False)[2]
    Vx = Vx[: np.linalg.matrix_rank(X)].T  # w in row(X) loses nothing
    sign = np.where(problem.D, 1.0, -1.0)
    gens = []
    for i in range(problem.P):
        R = Vx @ _cone_rays(sign[:, i, None] * (X @ Vx))
        keep = np.linalg.norm(M[i] @ R, axis=0) > 1e-12 * max(1.0, np.abs(X).max())
        gens.append(R[:, keep] / np.linalg.norm(M[i] @ R[:, keep], axis=0))
    p = max(g.shape[1] for g in gens)
    return np.stack(
        [np.concatenate([g] + [g[:, :1]] * (p - g.shape[1]), 1) for g in gens]
    )


def _block_program(problem: AfterReLUProblem, R: np.ndarray) -> BlockProgram:
    """R6 in generator coordinates: blocks ``(lambda, t)``, ``lambda >= 0``."""
    n, P, p = problem.n, problem.P, R.shape[2]
    e = np.full((P, n, 1), 1.0 / math.sqrt(n))
    Mt = np.concatenate([problem.M @ R, e], axis=2)  # (P, n, p+1): [M_i R_i, e]
    G = np.concatenate([np.eye(p), np.zeros((p, 1))], axis=1)
    A = np.swapaxes(Mt, 0, 1)
    x0 = np.concatenate([np.full((P, p), 1.0 / p), np.zeros((P, 1))], axis=1)
    return BlockProgram(
        A=np.concatenate([A, -A], axis=1),
        B=np.concatenate([Mt, Mt]),
        G=np.broadcast_to(G, (2 * P, p, p + 1)),
        y=problem.y,
        beta=problem.beta,
        loss=problem.loss,
        radius=np.full(2 * P, np.inf),
        start=np.concatenate([x0, x0]),
    )


def solve_after_relu(
    problem: AfterReLUProblem, *, tol: float = 1e-10
) -> AfterReLUSolution:
    r"""Solve R6's convex program with the project's barrier method.

    Parameters
    ----------
    problem : AfterReLUProblem
    tol : float, default 1e-10
        Target relative gap bound.

    Returns
    -------
    AfterReLUSolution

    Notes
    -----
    The objective depends on :math:`w` only through :math:`M_iw`, and along
    a direction of :math:`\operatorname{null}(M_i)` inside the cone a log
    barrier on :math:`w` would be unbounded below.  So each cone
    :math:`\{w : (2D_i - I)Xw \ge 0\}` (pointed once :math:`w` is restricted
    to :math:`\operatorname{row}(X)`, which changes no output) is written by
    its extreme rays, :math:`w = R_i\lambda`, :math:`\lambda \ge 0`, and rays
    with :math:`M_ir = 0` are dropped: the output cone
    :math:`\{M_iw + te\}` is unchanged and the program is exactly R6.
    """
    R = _pattern_generators(problem)
    res: BarrierResult = solve_block_program(_block_program(problem, R), tol=tol)
    P, p = problem.P, R.shape[2]
    x = res.x.reshape(2, P, p + 1)
    W = [np.einsum("pdk,pk->pd", R, x[k, :, :p]) for k in (0, 1)]
    sign = np.where(problem.D, 1.0, -1.0)
    viol = max(float(np.max(-(sign * (problem.X @ Wk.T)), initial=0.0)) for Wk in W)
    return AfterReLUSolution(
        W_plus=W[0],
        t_plus=x[0, :, p],
        W_minus=W[1],
        t_minus=x[1, :, p],
        objective=res.objective,
        lower_bound=res.lower_bound,
        gap=res.gap,
        status=res.status,
        iterations=res.iterations,
        seconds=res.seconds,
        max_violation=viol,
        solver=res.solver,
    )


def _constant_free_direction(X: np.ndarray) -> np.ndarray:
    """Return a ``w`` with a non-constant ReLU output (for ``gamma = 0`` neurons)."""
    for w in np.vstack([np.eye(X.shape[1]), -np.eye(X.shape[1])]):
        h = np.maximum(X @ w, 0.0)
        if np.ptp(h) > 0:
            return w
    raise InputError("`X` gives constant ReLU outputs in every coordinate direction")


def reconstruct(
    problem: AfterReLUProblem, solution: AfterReLUSolution, *, rtol: float = 1e-9
) -> BNNetwork:
    r"""Map a solution of R6 to a BN-after-ReLU network (one neuron per block).

    Parameters
    ----------
    problem : AfterReLUProblem
    solution : AfterReLUSolution
    rtol : float, default 1e-9
        Blocks with :math:`\|o\| \le` ``rtol`` times the largest are dropped.

    Returns
    -------
    BNNetwork
        Convention A; ``W[:, j] = w``, :math:`\gamma = \|M_iw\|/\sqrt{\|o\|}`,
        :math:`\alpha = t/\sqrt{\|o\|}`, :math:`v = \pm\sqrt{\|o\|}`.

    Notes
    -----
    Its output is :math:`\sum_i o_i^+ - o_i^-` and its penalty
    :math:`\beta\sum\|o\|`, so its objective equals the convex objective
    (claim 17).  When :math:`M_iw = 0` (a constant neuron) :math:`\gamma = 0`
    and any :math:`w` with a non-constant ReLU output is used.
    """
    cols, gam, alp, vs = [], [], [], []
    blocks = [
        (solution.W_plus, solution.t_plus, 1.0),
        (solution.W_minus, solution.t_minus, -1.0),
    ]
    outs = [problem.outputs(W, t) for W, t, _ in blocks]
    big = max(float(np.linalg.norm(o, axis=1).max(initial=0.0)) for o in outs)
    M = problem.M
    for (W, t, sign), O in zip(blocks, outs, strict=True):
        for i in np.flatnonzero(np.linalg.norm(O, axis=1) > rtol * big):
            norm_o = float(np.linalg.norm(O[i]))
            mw = float(np.linalg.norm(M[i] @ W[i]))
            w = W[i] if mw > 1e-14 * norm_o else _constant_free_direction(problem.X)
            cols.append(w)
            gam.append(mw / math.sqrt(norm_o) if mw > 1e-14 * norm_o else 0.0)
            alp.append(t[i] / math.sqrt(norm_o))
            vs.append(sign * math.sqrt(norm_o))
    d = problem.X.shape[1]
    W = np.array(cols).T if cols else np.zeros((d, 0))
    return BNNetwork(W=W, gamma=np.array(gam), alpha=np.array(alp), v=np.array(vs))
