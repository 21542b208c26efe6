r"""Dual optimality certificates for the convex BN program (paper.md R1, claims 11-12).

Any point ``v`` of the dual feasible set gives a lower bound ``d(v)`` on the
optimum; scaling the residual ``y - yhat`` of a candidate into that set gives a
certified duality gap for the candidate.

Notes
-----
Weak duality (paper.md R1): for every :math:`v \in \mathbb{R}^n` with
:math:`\max_{\|s\|_2 \le 1} |v^T (U's)_+| \le \beta`,

.. math::

    p^\star \ge d(v) = -\tfrac12 \|v - y\|_2^2 + \tfrac12 \|y\|_2^2 .

Split the constraint over the patterns: with
:math:`G_i = (2D_i - I)U'`, :math:`K_i = \{s : G_i s \ge 0\}` and
:math:`c_i = U'^T D_i v`, :math:`(U's)_+ = D_i U' s` on :math:`K_i`, so

.. math::

    \max_{s \in K_i, \|s\| \le 1} c_i^T s = \|\Pi_{K_i}(c_i)\|_2
    = \min_{\lambda \ge 0} \|c_i + G_i^T \lambda\|_2

(Moreau decomposition: :math:`K_i^\circ = \{-G_i^T\lambda : \lambda \ge 0\}`).
For *any* :math:`\lambda \ge 0` and :math:`s \in K_i`, :math:`\|s\| \le 1`,
:math:`c_i^T s \le (c_i + G_i^T\lambda)^T s \le \|c_i + G_i^T\lambda\|`, so
the evaluated norm at any multipliers is a rigorous upper bound (not relying
on the active-set method of :mod:`bnconvex.numerics.core.cone_norms` having
converged) and equals the maximum at the optimal ones.  The
maximum over patterns and both signs :math:`\pm c_i` is the
*dual constraint bound* :math:`b(v)`; :math:`v \cdot \min(1, \beta / b(v))`
is dual feasible.  The bound covers every :math:`s \in \mathbb{R}^m` (hence is
valid for the non-convex network) only when the cones :math:`K_i` cover
:math:`\mathbb{R}^m`, i.e. when ``D`` is the complete arrangement of
:math:`U'`; otherwise it certifies the convex program with those patterns only,
and the universal bound :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`
(paper.md R2, claim 12) is the one that holds for the network.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np
from bnconvex.numerics._validation import (
    check_beta,
    check_data,
    check_labels,
    check_matrix,
    check_patterns,
    check_positive_int,
)
from bnconvex.numerics.core.closed_form import universal_lower_bound
from bnconvex.numerics.core.convex_program import ConvexProblem, check_problem
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.result import relative_gap

__all__ = [
    "Certificate",
    "both_signs",
    "certify_network",
    "certify_predictions",
    "certify_residual",
    "cover_rounding",
    "dual_constraint_bound",
    "dual_objective",
    "dual_scale",
    "pattern_vectors",
    "residual_lower_bound",
]

BoundKind = Literal["global", "patterns"]

#: Patterns are enumerated exactly by :func:`certify_network` up to this count.
MAX_EXACT_PATTERNS = 20_000


@dataclasses.dataclass(frozen=True)
class Certificate:
    r"""A certified lower bound and gap for a candidate (convention A values).

    Attributes
    ----------
    objective : float
        Objective of the candidate (network or convex point).
    lower_bound : float
        Dual value :math:`d(v)` at the scaled residual; a lower bound on the
        convex program with the given patterns, and on the global optimum when
        ``bound_kind == "global"``.
    gap, relative_gap : float
        ``objective - lower_bound`` and ``gap / max(|objective|, tiny)``.
    dual_scale : float
        :math:`\min(1, \beta / b(v))` applied to the residual.
    bound_kind : {"global", "patterns"}
        Whether the pattern set is the complete arrangement.
    constraint_bound : float
        The dual constraint bound :math:`b(v)` of the unscaled residual.
    universal_bound : float
        :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`, always a valid lower bound on the
        global optimum (paper.md R2); NaN when not computed.
    global_lower_bound : float
        The best bound valid for the non-convex network:
        ``max(lower_bound, universal_bound)`` when global, else ``universal_bound``.
    """

    objective: float
    lower_bound: float
    gap: float
    relative_gap: float
    dual_scale: float
    bound_kind: BoundKind
    constraint_bound: float
    universal_bound: float
    global_lower_bound: float


def dual_objective(y: Any, v: Any) -> float:
    r"""Dual value :math:`d(v) = -\tfrac12\|v - y\|^2 + \tfrac12\|y\|^2`.

    Parameters
    ----------
    y : array_like, shape (n,)
        Labels.
    v : array_like, shape (n,)
        Dual point.

    Returns
    -------
    float
        A lower bound on the convex optimum when ``v`` is dual feasible.

    Notes
    -----
    Evaluated as :math:`v^Ty - \tfrac12\|v\|^2` (the same number), which
    avoids the cancellation of :math:`\|y\|^2`; the module Notes give the
    weak-duality argument.

    Examples
    --------
    >>> dual_objective([1.0, 2.0], [1.0, 2.0])
    2.5
    """
    y = check_labels(y, int(np.size(y)), "y")
    v = check_labels(v, y.shape[0], "v")
    if y.ndim != 1 or v.ndim != 1:
        raise InputError(
            f"`y` and `v` must be 1-D; got shapes {y.shape} and {v.shape}"
        )
    # -0.5|v - y|^2 + 0.5|y|^2 = v.y - 0.5|v|^2, without cancellation of |y|^2
    return float(v @ y - 0.5 * (v @ v))


def pattern_vectors(U_prime: np.ndarray, D: np.ndarray, v: np.ndarray) -> np.ndarray:
    r"""Rows :math:`c_i = U'^T D_i v`, shape (P, m): one GEMM :math:`D^T(v \odot U')`.

    With a float ``D`` no ``n x P`` temporary is formed.
    """
    return D.T @ (U_prime * v[:, None])


def cover_rounding(bound: float, n: int, m: int) -> float:
    """Inflate a computed cone-norm bound by ``4 (n + m) eps`` relative (rounding)."""
    return float(bound * (1.0 + 4.0 * (n + m) * np.finfo(float).eps))


def both_signs(P: int) -> np.ndarray:
    """Pattern of each of the ``2P`` blocks ``(+, i)`` then ``(-, i)``."""
    return np.tile(np.arange(P), 2)


def dual_constraint_bound(U_prime: Any, D: Any, v: Any) -> float:
    r"""Rigorous upper bound of the dual constraint over the patterns ``D``.

    Bounds :math:`\max_i \max_{s \in K_i, \|s\| \le 1} |v^T D_i U' s|`.

    Parameters
    ----------
    U_prime : array_like, shape (n, m)
    D : array_like, shape (n, P)
        Patterns (bool or 0/1).
    v : array_like, shape (n,)

    Returns
    -------
    float
        The bound, inflated by ``4 (n + m) eps`` relative to cover rounding.

    Notes
    -----
    The cone norms of the :math:`2P` vectors :math:`\pm c_i` are computed by
    the batched active-set method of :func:`bnconvex.numerics.core.cone_norms.
    max_cone_norm` in :math:`\mathbb{R}^m` (blocks in decreasing order of
    :math:`\|c_i\|`, each stopped once its bound is below the largest exact
    one); every returned value is :math:`\|c + G^T\lambda\|` for some
    :math:`\lambda \ge 0`, hence an upper bound (module Notes).

    Examples
    --------
    >>> b = dual_constraint_bound(np.eye(2), np.ones((2, 1), bool), [3.0, -4.0])
    >>> 4.0 <= b <= 4.0 * (1 + 1e-14)
    True
    """
    from bnconvex.numerics.core.cone_norms import max_cone_norm

    U = check_matrix(U_prime, "U_prime")
    n, m = U.shape
    Dm = check_patterns(D, n, "D")
    v = check_labels(v, n, "v")
    C = pattern_vectors(U, Dm, v)
    best, _ = max_cone_norm(U, Dm, both_signs(Dm.shape[1]), np.concatenate([C, -C]))
    return cover_rounding(best, n, m)


def dual_scale(bound: Any, beta: float, xp: Any = np) -> Any:
    r"""Return the scale :math:`\min(1, \beta / b)` making a residual dual feasible.

    ``bound`` is a rigorous bound :math:`b(r)` of the dual constraint at the
    residual :math:`r` (a number or an array in namespace ``xp``); then
    :math:`r \min(1, \beta/b(r))` is dual feasible (module Notes).  Written
    :math:`\beta / \max(b, \beta)` (1 when :math:`b = 0`).
    """
    return beta / xp.maximum(bound, xp.full_like(bound, beta))


def residual_lower_bound(
    y: np.ndarray, r: np.ndarray, beta: float, bound: float
) -> tuple[float, float]:
    r"""Dual value and scale of the residual ``r`` whose constraint bound is ``bound``.

    The one certificate kernel: :math:`v = r\min(1, \beta/b)` is dual feasible
    and :math:`d(v) = v^Ty - \tfrac12\|v\|^2` is a lower bound on the optimum
    (module Notes).  Returns ``(d(v), scale)``.
    """
    scale = float(dual_scale(bound, beta))
    return dual_objective(y, scale * r), scale


def certify_residual(
    U: np.ndarray,
    D: np.ndarray,
    y: np.ndarray,
    beta: float,
    yhat: np.ndarray,
    objective: float,
    bound_kind: BoundKind,
    *,
    with_universal: bool,
    bound: float | None = None,
) -> Certificate:
    r"""Certificate of a candidate with predictions ``yhat`` and value ``objective``.

    The residual :math:`r = y - \hat y` is scaled into the dual feasible set by
    :func:`residual_lower_bound`; ``bound`` is a rigorous bound of its dual
    constraint already known to the caller (a solver's), else
    :func:`dual_constraint_bound` computes it.  The universal bound
    (paper.md R2) is added when ``with_universal``.
    """
    r = y - yhat
    if bound is None:
        bound = dual_constraint_bound(U, D, r)
    lower, scale = residual_lower_bound(y, r, beta, bound)
    gap = objective - lower
    univ = universal_lower_bound(y, beta) if with_universal else math.nan
    if bound_kind == "global":
        glob = lower if math.isnan(univ) else max(lower, univ)
    else:
        glob = univ
    return Certificate(
        objective=float(objective),
        lower_bound=lower,
        gap=gap,
        relative_gap=relative_gap(gap, objective),
        dual_scale=scale,
        bound_kind=bound_kind,
        constraint_bound=bound,
        universal_bound=univ,
        global_lower_bound=glob,
    )


def certify_predictions(
    problem: ConvexProblem,
    yhat: Any,
    primal_objective: float,
    *,
    complete: bool = False,
    with_universal: bool = True,
    constraint_bound: float | None = None,
) -> Certificate:
    """Certify a candidate of ``problem`` from its predictions and objective.

    Parameters
    ----------
    problem : ConvexProblem
    yhat : array_like, shape (n,)
        Predictions of the candidate.
    primal_objective : float
        Its objective (convex or network, convention A).
    complete : bool, optional
        Whether ``problem.D`` is the complete arrangement of ``U_prime``
        (sets ``bound_kind``).
    with_universal : bool, optional
        Also compute the universal bound (paper.md R2); when False the field
        is NaN (the solvers skip it: it says nothing about their gap).
    constraint_bound : float, optional
        A rigorous bound of the dual constraint at ``y - yhat`` already
        computed (``ConvexSolution.certificate.constraint_bound`` of the
        solver that returned the candidate): the cone norms are then not
        solved again.

    Returns
    -------
    Certificate
        With ``v = (y - yhat) * min(1, beta / b(y - yhat))``.

    Raises
    ------
    InputError
        When ``problem`` is not a :class:`ConvexProblem`, ``yhat`` has the
        wrong length or non-finite entries, or ``primal_objective`` is not a
        finite number.
    """
    check_problem(problem)
    yhat = check_labels(yhat, problem.n, "yhat")
    try:
        value = float(primal_objective)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(primal_objective, (bool, str)) or not math.isfinite(value):
        raise InputError(f"`primal_objective` must be finite; got {primal_objective!r}")
    if constraint_bound is not None and not (
        isinstance(constraint_bound, (int, float))
        and math.isfinite(constraint_bound)
        and constraint_bound >= 0
    ):
        raise InputError(
            f"`constraint_bound` must be a finite number >= 0; got {constraint_bound!r}"
        )
    kind: BoundKind = "global" if complete else "patterns"
    return certify_residual(
        problem.U_prime,
        problem.D,
        problem.y,
        problem.beta,
        yhat,
        value,
        kind,
        with_universal=with_universal,
        bound=constraint_bound,
    )


def _default_patterns(
    U_prime: np.ndarray, seed: int, num_samples: int
) -> tuple[np.ndarray, BoundKind]:
    from bnconvex.numerics.core.arrangements import (
        enumerate_patterns,
        max_pattern_count,
        sample_patterns,
    )

    n, m = U_prime.shape
    if max_pattern_count(n, m - 1) <= MAX_EXACT_PATTERNS:
        return enumerate_patterns(U_prime), "global"
    return sample_patterns(U_prime, num_samples, seed=seed), "patterns"


def certify_network(
    net: Any,
    X: Any,
    y: Any,
    beta: float,
    *,
    D: Any = None,
    complete: bool = False,
    seed: int = 0,
    num_samples: int = 20_000,
) -> Certificate:
    """Certified gap of a BN network against the global optimum.

    Parameters
    ----------
    net : BNNetwork
        Scalar-output network in convention ``net.convention`` ("a" or "std").
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    beta : float
        Weight decay in the network's own convention.
    D : array_like, shape (n, P), optional
        Patterns; default: the exact arrangement of ``U'`` when it has at most
        ``MAX_EXACT_PATTERNS`` patterns (``bound_kind="global"``), else
        ``num_samples`` sampled ones (``"patterns"``).
    complete : bool, optional
        With a user ``D``: whether it is the complete arrangement.
    seed, num_samples : int, optional
        For the sampled fallback.

    Returns
    -------
    Certificate
        ``objective`` is :func:`bnconvex.numerics.core.network.objective` in the
        network's convention; bounds are for the convention-A program with
        ``beta_a = beta / sqrt(n)`` for a ``"std"`` network, whose optimum is
        the same number (paper.md 1.1, claim 5).

    Raises
    ------
    InputError
        When ``X``/``y`` have mismatched lengths, NaN/inf or ``y`` is not 1-D,
        ``beta <= 0``, ``num_samples < 1``, or ``D`` is not an ``(n, P)``
        0/1 pattern set.
    """
    from bnconvex.numerics.core.bn import convert_beta
    from bnconvex.numerics.core.network import forward, objective
    from bnconvex.numerics.core.whitening import whiten

    X, y = check_data(X, y)
    if y.ndim != 1:
        raise InputError(f"`y` must be 1-D (scalar output); got shape {y.shape}")
    beta = check_beta(beta)
    num_samples = check_positive_int(num_samples, "num_samples")
    beta_a = convert_beta(beta, X.shape[0], source=net.convention, target="a")
    U = np.asarray(whiten(X).U_prime, dtype=np.float64)
    if D is None:
        Dm, kind = _default_patterns(U, seed, num_samples)
    else:
        Dm, kind = (
            check_patterns(D, X.shape[0], "D"),
            ("global" if complete else "patterns"),
        )
    obj = float(objective(net, X, y, beta))
    yhat = np.asarray(forward(net, X), dtype=np.float64).reshape(-1)
    return certify_residual(U, Dm, y, beta_a, yhat, obj, kind, with_universal=True)
