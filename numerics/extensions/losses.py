r"""Convex losses for the general-loss convex program (paper.md R5, claim 18).

Every loss is a sum over samples, :math:`\ell(z, y) = \sum_j \ell_j(z_j)`, so
value, gradient, Hessian (diagonal) and conjugate are computed entrywise.

* squared: :math:`\ell_j(z) = \tfrac12(z-y_j)^2`,
  :math:`\ell_j^*(\lambda) = \tfrac12\lambda^2+\lambda y_j`;
* logistic (:math:`y_j = \pm1`): :math:`\ell_j(z) = \log(1+e^{-y_jz})`,
  :math:`\ell_j^*(\lambda) = u\log u+(1-u)\log(1-u)` with
  :math:`u=-y_j\lambda\in[0,1]`;
* hinge (:math:`y_j = \pm1`): :math:`\ell_j(z) = \max(0, 1-y_jz)`,
  :math:`\ell_j^*(\lambda) = y_j\lambda` on :math:`y_j\lambda\in[-1,0]`.

The second half of the module is the convex program of paper.md R5 with any
of these losses, its own solver path (:mod:`.solvers.loss_barrier`), the dual
lower bound :math:`-\ell^*(c\lambda)` and the non-convex BN network with the
same loss (objective, gradient, local search).

Outside its domain a conjugate is :math:`+\infty`.  These formulas are the
ones derived symbolically in :mod:`bnconvex.theory.conjugates`; the tests
compare the two implementations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from bnconvex.numerics._lbfgs import lbfgs_network
from bnconvex.numerics._validation import (
    check_beta,
    check_data,
    check_labels,
    check_positive_int,
    check_positive_real,
)
from bnconvex.numerics.baselines.nonconvex import (
    initial_network,
    pack_network,
    unpack_network,
)
from bnconvex.numerics.core.blocks import scatter_blocks
from bnconvex.numerics.core.certificate import dual_constraint_bound, dual_scale
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    ConvexSolution,
    check_problem,
    cone_violation,
    predict,
)
from bnconvex.numerics.core.network import (
    BNNetwork,
    forward,
    objective_and_gradient,
    penalty,
)
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.solvers._phase1 import interior_points
from bnconvex.numerics.solvers.loss_barrier import BlockProgram, solve_block_program
from scipy.special import expit, xlogy

__all__ = [
    "LOSSES",
    "Loss",
    "LossName",
    "get_loss",
    "loss_convex_objective",
    "loss_dual_bound",
    "network_loss_objective",
    "solve_loss_program",
    "train_loss_network",
]

LossName = Literal["squared", "logistic", "hinge"]


def _squared_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.5 * (z - y) ** 2


def _squared_conj(lam: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.5 * lam * lam + lam * y


def _logistic_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, -y * z)


def _logistic_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -y * expit(-y * z)


def _logistic_hess(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = expit(y * z)
    return p * (1.0 - p)


def _logistic_conj(lam: np.ndarray, y: np.ndarray) -> np.ndarray:
    u = -y * lam
    inside = (u >= 0.0) & (u <= 1.0)
    uc = np.clip(u, 0.0, 1.0)
    return np.where(inside, xlogy(uc, uc) + xlogy(1.0 - uc, 1.0 - uc), np.inf)


def _hinge_value(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - y * z)


def _hinge_grad(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    # a subgradient: -y where the margin is violated, 0 elsewhere (incl. the kink)
    return np.where(1.0 - y * z > 0.0, -y, 0.0)


def _hinge_conj(lam: np.ndarray, y: np.ndarray) -> np.ndarray:
    u = y * lam
    return np.where((u >= -1.0) & (u <= 0.0), u, np.inf)


@dataclasses.dataclass(frozen=True)
class Loss:
    r"""A separable convex loss :math:`\ell(z, y) = \sum_j \ell_j(z_j)`.

    Attributes
    ----------
    name : {"squared", "logistic", "hinge"}
    smooth : bool
        Whether the loss is twice differentiable (``hinge`` is not; solvers
        handle it through an epigraph slack).
    binary_labels : bool
        Whether labels must be ``+-1``.
    """

    name: LossName
    smooth: bool
    binary_labels: bool
    _value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    _grad: Callable[[np.ndarray, np.ndarray], np.ndarray]
    _hess: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    _conj: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def check_labels(self, y: np.ndarray, n: int | None = None) -> np.ndarray:
        """Return ``y`` as float64 (n,), requiring ``+-1`` for binary losses."""
        y = np.asarray(y)
        y = check_labels(y, y.shape[0] if n is None and y.ndim else n)
        if y.ndim != 1:
            raise InputError(f"`y` must be 1-D (scalar output); got shape {y.shape}")
        if self.binary_labels and not np.all(np.abs(y) == 1.0):
            bad = y[np.abs(y) != 1.0][0]
            raise InputError(
                f"`y` must be +-1 for the {self.name} loss; got a label {bad!r}"
            )
        return y

    def value(self, z: np.ndarray, y: np.ndarray) -> float:
        r""":math:`\sum_j \ell_j(z_j)`."""
        return float(np.sum(self._value(np.asarray(z, float), y)))

    def gradient(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Gradient (a subgradient for ``hinge``: ``-y_j`` where ``y_j z_j < 1``)."""
        return self._grad(np.asarray(z, float), y)

    def hessian_diag(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian; :class:`InputError` for a non-smooth loss."""
        if self._hess is None:
            raise InputError(f"`loss` {self.name!r} has no Hessian (not smooth)")
        return self._hess(np.asarray(z, float), y)

    def conjugate(self, lam: np.ndarray, y: np.ndarray) -> float:
        r"""Conjugate :math:`\ell^*(\lambda) = \sup_z \lambda^Tz - \ell(z, y)`.

        ``inf`` when :math:`\lambda` is outside the conjugate's domain.
        """
        return float(np.sum(self._conj(np.asarray(lam, float), y)))


#: The built-in losses by name.
LOSSES: dict[str, Loss] = {
    "squared": Loss(
        "squared",
        True,
        False,
        _squared_value,
        lambda z, y: z - y,
        lambda z, y: np.ones_like(z),
        _squared_conj,
    ),
    "logistic": Loss(
        "logistic",
        True,
        True,
        _logistic_value,
        _logistic_grad,
        _logistic_hess,
        _logistic_conj,
    ),
    "hinge": Loss("hinge", False, True, _hinge_value, _hinge_grad, None, _hinge_conj),
}


def get_loss(loss: str | Loss) -> Loss:
    """Return the :class:`Loss` named ``loss`` (a :class:`Loss` passes through).

    Parameters
    ----------
    loss : {"squared", "logistic", "hinge"} or Loss

    Returns
    -------
    Loss

    Raises
    ------
    InputError
        For any other value.

    Examples
    --------
    >>> import numpy as np
    >>> get_loss("hinge").value(np.array([0.5, 2.0]), np.array([1.0, 1.0]))
    0.5
    >>> round(get_loss("logistic").conjugate(np.array([-0.5]), np.array([1.0])), 6)
    -0.693147
    """
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise InputError(f"`loss` must be one of {sorted(LOSSES)}; got {loss!r}")
    return LOSSES[loss]


# ----------------------------------------------------------------------------
# the convex program of paper.md R5 and the matching non-convex network
# ----------------------------------------------------------------------------
def loss_convex_objective(
    problem: ConvexProblem, loss: str | Loss, S_plus: Any, S_minus: Any
) -> float:
    r"""R5 objective at blocks ``(S_plus, S_minus)``.

    Parameters
    ----------
    problem : ConvexProblem
    loss : str or Loss
    S_plus, S_minus : array_like, shape (P, m)

    Returns
    -------
    float

    Notes
    -----
    :math:`\ell(\sum_i D_iU'(s_i - s'_i), y) +
    \beta\sum_i(\|s_i\|+\|s'_i\|)`.  The cone constraints are not
    checked (see :func:`bnconvex.numerics.core.convex_program.cone_violation`).
    """
    loss = get_loss(loss)
    norms = (
        np.linalg.norm(np.asarray(S_plus, float), axis=1).sum()
        + np.linalg.norm(np.asarray(S_minus, float), axis=1).sum()
    )
    return loss.value(predict(problem, S_plus, S_minus), problem.y) + (
        problem.beta * float(norms)
    )


def _block_program(problem: ConvexProblem, loss: Loss, keep: np.ndarray, start):
    """R5 as a :class:`BlockProgram`: blocks s_i (i kept), then s'_i."""
    U, D = problem.U_prime, problem.D[:, keep]
    parts = D[:, :, None] * U[:, None, :]  # (n, k, m): D_i U'
    cones = np.where(D.T, 1.0, -1.0)[:, :, None] * U[None]  # (k, n, m)
    K = 2 * keep.size
    return BlockProgram(
        A=np.concatenate([parts, -parts], axis=1),
        B=np.broadcast_to(np.eye(problem.m), (K, problem.m, problem.m)),
        G=np.concatenate([cones, cones]),
        y=problem.y,
        beta=problem.beta,
        loss=loss,
        radius=np.full(K, np.inf),
        start=np.concatenate([start, start]),
    )


def solve_loss_program(
    problem: ConvexProblem, loss: str | Loss, *, tol: float = 1e-10
) -> tuple[ConvexSolution, np.ndarray]:
    r"""Solve the R5 program with the project's barrier method.

    Parameters
    ----------
    problem : ConvexProblem
        ``U_prime``, labels, ``beta`` and patterns (labels ``+-1`` for the
        logistic and hinge losses).
    loss : {"squared", "logistic", "hinge"} or Loss
    tol : float, default 1e-10
        Target relative central-path gap, ``> 0``.

    Returns
    -------
    solution : ConvexSolution
        ``lower_bound = objective - gap`` with the barrier's gap bound
        :math:`\nu/t` (see :mod:`.solvers.loss_barrier`);
        ``solver = "loss-barrier"``.  For an independent, rigorous bound use
        :func:`loss_dual_bound` with the returned dual point.
    loss_dual : ndarray, shape (n,)
        A dual point :math:`\lambda \approx \partial\ell(\hat y)`: of the
        barrier's last eight centred iterates, the one whose
        :func:`loss_dual_bound` is largest.

    Notes
    -----
    Patterns whose cone has an empty interior (none for an exact
    arrangement) are dropped; their blocks are zero.
    """
    check_problem(problem)
    loss = get_loss(loss)
    loss.check_labels(problem.y)
    tol = check_positive_real(tol, "tol")
    start, interior = interior_points(problem.U_prime, problem.D)
    keep = np.flatnonzero(interior)
    prog = _block_program(problem, loss, keep, 0.5 * start[keep])
    res = solve_block_program(prog, tol=tol)
    lam = _best_dual(problem, loss, [*res.dual_history[-8:], res.loss_dual])
    S_plus, S_minus = scatter_blocks(
        res.x.reshape(2, keep.size, problem.m), keep, problem.P
    )
    sol = ConvexSolution(
        S_plus=S_plus,
        S_minus=S_minus,
        objective=res.objective,
        lower_bound=res.objective - res.gap,
        gap=res.gap,
        status=res.status,
        iterations=res.iterations,
        seconds=res.seconds,
        max_violation=cone_violation(problem, S_plus, S_minus),
        solver="loss-barrier",
        dropped_patterns=np.flatnonzero(~interior),
    )
    return sol, lam


def _best_dual(problem: ConvexProblem, loss: Loss, candidates: list) -> np.ndarray:
    """Return the candidate with the largest rigorous :func:`loss_dual_bound`."""
    bounds = [loss_dual_bound(problem, loss, lam)[0] for lam in candidates]
    return candidates[int(np.argmax(bounds))]


def loss_dual_bound(
    problem: ConvexProblem, loss: str | Loss, lam: Any
) -> tuple[float, float]:
    r"""Rigorous lower bound :math:`-\ell^*(c\lambda)` on the R5 optimum.

    Parameters
    ----------
    problem : ConvexProblem
    loss : str or Loss
    lam : array_like, shape (n,)
        A dual point in the domain of :math:`\ell^*` (e.g. the gradient of the
        loss at a near-optimal prediction).

    Returns
    -------
    bound : float
        :math:`-\ell^*(c\lambda)`, ``-inf`` if :math:`c\lambda` is outside
        the conjugate's domain.
    c : float
        The scale :math:`c = \min(1, \beta/b(\lambda))` with :math:`b` the
        rigorous constraint bound of
        :func:`bnconvex.numerics.core.certificate.dual_constraint_bound`.

    Notes
    -----
    For any feasible :math:`(s_i, s'_i)` with prediction :math:`z`,
    Fenchel-Young gives :math:`\ell(z) \ge \mu^Tz - \ell^*(\mu)` and
    :math:`\mu^TD_iU's \ge -\beta\|s\|` on every cone when
    :math:`\max_i\max_{s\in K_i,\|s\|\le1}|\mu^TD_iU's| \le \beta`, which
    :math:`\mu = c\lambda` satisfies; summing, the objective is
    :math:`\ge -\ell^*(\mu)`.  Scaling by :math:`c \in (0, 1]` keeps a dual
    point of the logistic or hinge loss inside the domain (an interval
    containing 0).
    """
    check_problem(problem)
    loss = get_loss(loss)
    lam = check_labels(lam, problem.n, "lam")
    bound = dual_constraint_bound(problem.U_prime, problem.D, lam)
    c = float(dual_scale(bound, problem.beta))
    return -loss.conjugate(c * lam, problem.y), c


def network_loss_objective(
    net: BNNetwork, X: Any, y: Any, beta: float, loss: str | Loss
) -> float:
    r"""Objective of the BN-before-ReLU network with loss ``loss``.

    Parameters
    ----------
    net : BNNetwork
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
        ``+-1`` for the logistic and hinge losses.
    beta : float
    loss : str or Loss

    Returns
    -------
    float

    Notes
    -----
    :math:`\ell(f(X), y) + \tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+v_j^2)`
    with :math:`f` from :func:`bnconvex.numerics.core.network.forward`.
    """
    loss = get_loss(loss)
    X, y = check_data(X, y)
    return loss.value(forward(net, X), loss.check_labels(y)) + penalty(net, beta)


def _loss_value_and_gradient(net, X, y, beta, loss):
    """Objective and gradient, reusing the squared-loss backpropagation.

    ``objective_and_gradient`` back-propagates the residual ``f - y_fake``;
    with ``y_fake = f - grad loss(f)`` that residual is the loss gradient.
    """
    f = forward(net, X)
    g_loss = loss.gradient(f, y)
    _, grad = objective_and_gradient(net, X, f - g_loss, beta)
    return loss.value(f, y) + penalty(net, beta), grad


def train_loss_network(
    X: Any,
    y: Any,
    beta: float,
    m: int,
    loss: str | Loss,
    *,
    seed: int,
    max_iter: int = 500,
) -> tuple[BNNetwork, float]:
    r"""Local search (L-BFGS) on the BN-before-ReLU network with loss ``loss``.

    Parameters
    ----------
    X, y : arrays
    beta : float
    m : int
        Number of neurons.
    loss : str or Loss
    seed : int
        Seed of the Gaussian start (as :func:`.nonconvex.train_nonconvex`).
    max_iter : int, default 500

    Returns
    -------
    net : BNNetwork
    value : float
        :func:`network_loss_objective` at ``net``.

    Notes
    -----
    The hinge loss is non-smooth; L-BFGS then uses a subgradient and may stop
    early.  Either way the value is an upper bound on the global optimum, so
    it can never be below the convex optimum (claim 18).
    """
    loss = get_loss(loss)
    X, y = check_data(X, y)
    y = loss.check_labels(y)
    beta = check_beta(beta)
    m, max_iter = check_positive_int(m, "m"), check_positive_int(max_iter, "max_iter")
    net = initial_network(X.shape[1], m, None, np.random.default_rng(seed), "a")

    best = lbfgs_network(
        lambda nt: _loss_value_and_gradient(nt, X, y, beta, loss),
        net,
        pack_network,
        unpack_network,
        max_iter=max_iter,
    )
    return best, network_loss_objective(best, X, y, beta, loss)
