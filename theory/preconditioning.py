r"""Gradient geometry of one BN neuron (paper.md §4; §6 items 7 and 19).

A neuron's loss depends on its first-layer weights only through
:math:`q = \Sigma V^Tw` (:math:`CXw = Uq`), and only through :math:`q/\|q\|`.  Hence

* **orthogonality** (item 7): :math:`q^T\nabla_qL = 0` and :math:`w^T\nabla_wL = 0`
  (Euler's identity for functions homogeneous of degree 0);
* **Sigma^2 preconditioning** (item 19): :math:`\nabla_wL = V\Sigma\nabla_qL`, so a GD
  step :math:`w\leftarrow w-\eta\nabla_wL` moves :math:`q` by exactly
  :math:`-\eta\,\Sigma V^TV\Sigma\,\nabla_qL = -\eta\,\Sigma^2\nabla_qL`.

``G`` and ``F`` below are *undefined* SymPy functions: the identities hold
for every differentiable loss.  Orthogonal ``V`` are rational (Cayley or
rotation) families, so :math:`V^TV = I` holds exactly.
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from .derivation import GENERAL, Derivation, Step, instance_scope
from .rewrite import Rewrite
from .svd_facts import (
    CHAIN_RULE,
    SIGMA_DIAGONAL,
    V_,
    V_ORTHONORMAL,
    Sigma_,
    X_mat,
    column,
)
from .symbols import (
    bn_a,
    bn_a_entry,
    cayley3,
    check_size,
    d,
    eta,
    h_,
    i,
    j,
    k,
    l,
    matrix,
    n,
    norm,
    q_,
    r,
    rotation2,
    vector,
)

__all__ = [
    "gradient_orthogonality",
    "gradient_orthogonality_general",
    "sigma2_preconditioning",
    "sigma2_preconditioning_general",
]

_G, _F = sp.Function("G"), sp.Function("F")


def _grad(expr: sp.Expr, variables: sp.Matrix) -> sp.Matrix:
    return sp.Matrix([sp.diff(expr, x) for x in variables])


def _euler(vec: sp.Matrix, variables: sp.Matrix) -> sp.Matrix:
    r""":math:`\sum_i x_i\,\partial f/\partial x_i` for a vector-valued ``f``."""
    return sum((sp.diff(vec, x) * x for x in variables), sp.zeros(*vec.shape))


def gradient_orthogonality(rank: int = 2, size: int = 3, dim: int = 2) -> Derivation:
    r"""Derive :math:`q^T\nabla_q G(q/\|q\|) = 0` and :math:`w^T\nabla_w F(BN(Xw)) = 0`.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    For :math:`f` homogeneous of degree 0, :math:`x^T\nabla f(x) = 0`.  The map
    :math:`q\mapsto q/\|q\|` and the BN map :math:`h\mapsto BN(h)` are, hence any
    loss through them has a gradient orthogonal to its argument; with
    :math:`h = Xw` (linear), :math:`w^T\nabla_w L = h^T\nabla_h L = 0`.

    Parameters
    ----------
    rank, size, dim : int
        Explicit ``r`` (1..4), ``n`` (2..5) and ``d`` (1..3) of the sized steps.
    """
    check_size("rank", rank, range(1, 5))
    check_size("size", size, range(2, 6))
    check_size("dim", dim, range(1, 4))
    q, h, w = vector("q", rank), vector("h", size), vector("w", dim)
    X = matrix("x", size, dim)
    unit = q / norm(q)
    loss_q = _G(*unit)
    return Derivation(
        f"gradient orthogonality (generic r and n; r={rank}; n={size}, d={dim})",
        (
            *_generic_euler_steps(),
            Step(
                "unit_homogeneous",
                r"\sum_i q_i\,\partial_{q_i}\frac{q}{\|q\|} = 0",
                expr=sp.zeros(rank, 1),
                source=_euler(unit, q),
            ),
            Step(
                "orthogonal_q",
                r"q^T\nabla_q G\Big(\frac{q}{\|q\|}\Big) = 0\ (\text{any } G)",
                expr=sp.S.Zero,
                source=(q.T * _grad(loss_q, q))[0, 0],
            ),
            Step(
                "bn_homogeneous",
                rf"\sum_i h_i\,\partial_{{h_i}}BN_{{\gamma,\alpha}}(h) = 0\ (n={size})",
                expr=sp.zeros(size, 1),
                source=_euler(bn_a(h), h),
            ),
            Step(
                "chain_rule_w",
                r"w^T\nabla_w F(Xw) = (Xw)^T\nabla_h F(h)\big|_{h=Xw}",
                expr=sum(
                    (
                        hx
                        * sp.Derivative(_F(*h), hv).subs(
                            dict(zip(h, X * w, strict=False))
                        )
                        for hx, hv in zip(X * w, h, strict=False)
                    ),
                    sp.S.Zero,
                ),
                source=(w.T * _grad(_F(*(X * w)), w))[0, 0],
            ),
            Step(
                "orthogonal_w",
                r"w^T\nabla_w F(BN(Xw)) = 0\ (\text{any } F;\ n=2,\ d=2)",
                expr=sp.S.Zero,
                source=_orthogonal_w_source(),
                scope=instance_scope(n=2, d=2),
            ),
        ),
    ).scoped(instance_scope(r=rank, n=size, d=dim))


def _generic_euler_steps() -> tuple[Step, ...]:
    r"""Euler's identity for :math:`q/\|q\|` (every ``r``) and BN (every ``n``)."""
    unit_i = q_[i] / sp.sqrt(sp.Sum(q_[k] ** 2, (k, 1, r)))
    bn_i = bn_a_entry(lambda p: h_[p])
    return (
        Step(
            "unit_homogeneous_generic",
            r"\sum_{j=1}^r q_j\,\partial_{q_j}\frac{q_i}{\|q\|} = \frac{q_i}{\|q\|}"
            r" - \frac{q_i\sum_j q_j^2}{\|q\|^3} = 0\quad(\text{every } r)",
            expr=sp.S.Zero,
            source=sp.Sum(q_[j] * sp.diff(unit_i, q_[j]), (j, 1, r)),
            scope=GENERAL,
        ),
        Step(
            "bn_homogeneous_generic",
            r"\sum_{l=1}^n h_l\,\partial_{h_l}BN_{\gamma,\alpha}(h)_i = 0"
            r"\quad(\text{every } n)",
            expr=sp.S.Zero,
            source=sp.Sum(h_[l] * sp.diff(bn_i, h_[l]), (l, 1, n)),
            scope=GENERAL,
        ),
    )


_g, _f = sp.IndexedBase("g", real=True), sp.IndexedBase("f", real=True)
_CHAIN_UNIT = Rewrite(
    "chain rule (used to write the left side)",
    r"\partial_{q_j}G(u(q)) = \sum_i g_i\,\partial_{q_j}u_i,\quad "
    r"g = \nabla G(u)",
)
_CHAIN_BN = Rewrite(
    "chain rule (used to write the left side)",
    r"\partial_{h_l}F(BN(h)) = \sum_i f_i\,\partial_{h_l}BN(h)_i,\quad "
    r"f = \nabla F(BN(h))",
)


def gradient_orthogonality_general() -> Derivation:
    r""":math:`q^T\nabla_qG(q/\|q\|) = 0`, :math:`w^T\nabla_wF(BN(Xw)) = 0`, any size.

    Returns
    -------
    Derivation
        Every step ``general``: Euler's identity for :math:`q/\|q\|` (every
        ``r``) and for BN (every ``n``), the chain rule written with indexed
        sums (the gradient of the outer function is an arbitrary vector ``g``
        or ``f``), and the linear inner map :math:`h = Xw` as a matrix
        expression.

    Examples
    --------
    >>> set(gradient_orthogonality_general().prove().values())
    {'zero'}
    """
    unit = lambda a: q_[a] / sp.sqrt(sp.Sum(q_[k] ** 2, (k, 1, r)))  # noqa: E731
    bn_i = bn_a_entry(lambda p: h_[p])
    w, f = column("w", d), column("f", n)
    euler_unit, euler_bn = _generic_euler_steps()
    return Derivation(
        "gradient orthogonality, every n, d, r",
        (
            dataclasses.replace(euler_unit, title="Euler's identity for q/||q||"),
            Step(
                "orthogonal_q_generic",
                r"q^T\nabla_qG\Big(\frac{q}{\|q\|}\Big) = \sum_i g_i\sum_j "
                r"q_j\,\partial_{q_j}\frac{q_i}{\|q\|} = 0\quad(\text{any } G)",
                title="the gradient in q is orthogonal to q",
                expr=sp.S.Zero,
                source=sp.Sum(
                    _g[i] * sp.Sum(q_[j] * sp.diff(unit(i), q_[j]), (j, 1, r)),
                    (i, 1, r),
                ),
                hypotheses=(_CHAIN_UNIT,),
            ),
            dataclasses.replace(euler_bn, title="Euler's identity for BN"),
            Step(
                "chain_rule_w_generic",
                r"w^T\nabla_w F(Xw) = w^TX^T\nabla_hF = (Xw)^T\nabla_hF",
                title="pull the gradient back through h = Xw",
                expr=(X_mat * w).T * f,
                source=w.T * sp.diff(X_mat * w, w) * f,
                hypotheses=(CHAIN_RULE,),
            ),
            Step(
                "orthogonal_w_generic",
                r"h^T\nabla_hF(BN(h)) = \sum_i f_i\sum_l h_l\,\partial_{h_l}"
                r"BN_{\gamma,\alpha}(h)_i = 0\quad(\text{any } F)",
                title="the gradient in w is orthogonal to w",
                expr=sp.S.Zero,
                source=sp.Sum(
                    _f[i] * sp.Sum(h_[l] * sp.diff(bn_i, h_[l]), (l, 1, n)),
                    (i, 1, n),
                ),
                hypotheses=(_CHAIN_BN,),
            ),
        ),
    ).scoped(GENERAL)


def _orthogonal_w_source() -> sp.Expr:
    """``w . grad_w F(BN(Xw))`` at the smallest size (n = d = 2), kept cheap."""
    X, w = matrix("x", 2, 2), vector("w", 2)
    return (w.T * _grad(_F(*bn_a(X * w)), w))[0, 0]


def sigma2_preconditioning(dim: int = 3) -> Derivation:
    r"""Derive that GD moves :math:`q = \Sigma V^Tw` by :math:`-\eta\Sigma^2\nabla_qG`.

    Parameters
    ----------
    dim : {2, 3}
        ``d``; ``r = 2``.  ``V`` is a rational rotation (d=2) or the first two
        columns of a Cayley-transform orthogonal matrix (d=3).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Examples
    --------
    >>> sigma2_preconditioning(2).prove()
    {'orthonormal_V': 'zero', 'jacobian': 'zero', 'chain_rule': 'zero',
     'gd_step_in_q': 'zero'}
    """
    check_size("dim", dim, (2, 3))
    if dim == 2:
        V = rotation2(sp.Symbol("rho", real=True))
    else:
        V = cayley3(*sp.symbols("p_1:4", real=True))[:, :2]
    Sigma = sp.diag(*vector("sigma", 2, positive=True))
    w, g = vector("w", dim), vector("g", 2)
    xs = vector("xi", 2)
    q_w = Sigma * V.T * w
    grad_q = sp.Matrix(
        [sp.Derivative(_G(*xs), x).subs(dict(zip(xs, q_w, strict=False))) for x in xs]
    )
    step_w = w - eta * V * Sigma * g
    return Derivation(
        f"Sigma^2 preconditioning of a GD step (d={dim}, r=2)",
        (
            Step("orthonormal_V", r"V^TV = I_r", expr=sp.eye(2), source=(V.T * V)),
            Step(
                "jacobian",
                r"\partial q/\partial w = \Sigma V^T",
                expr=Sigma * V.T,
                source=q_w.jacobian(w),
            ),
            Step(
                "chain_rule",
                r"\nabla_w G(\Sigma V^Tw) = V\Sigma\,\nabla_qG",
                expr=V * Sigma * grad_q,
                source=_grad(_G(*q_w), w),
            ),
            Step(
                "gd_step_in_q",
                r"q(w - \eta V\Sigma g) - q(w) = -\eta\,\Sigma V^TV\Sigma g = "
                r"-\eta\,\Sigma^2 g",
                expr=-eta * Sigma**2 * g,
                source=Sigma * V.T * step_w - q_w,
            ),
        ),
    ).scoped(instance_scope(d=dim, r=2))


def sigma2_preconditioning_general() -> Derivation:
    r"""GD on ``w`` moves :math:`q = \Sigma V^Tw` by :math:`-\eta\Sigma^2\nabla_qG`.

    Every ``d`` and ``r``: matrix expressions with the named hypotheses
    :math:`V^TV = I_r` and :math:`\Sigma^T = \Sigma`; ``g`` stands for
    :math:`\nabla_qG` at :math:`q(w)`, for any differentiable ``G``.

    Returns
    -------
    Derivation
        Every step ``general``.

    Examples
    --------
    >>> set(sigma2_preconditioning_general().prove().values())
    {'zero'}
    """
    w, g = column("w", d), column("g", r)
    q_of_w = Sigma_ * V_.T * w
    return Derivation(
        "Sigma^2 preconditioning of a GD step, every d and r",
        (
            Step(
                "jacobian",
                r"\nabla_w(\Sigma V^Tw) = (\Sigma V^T)^T = V\Sigma",
                title="differentiate the linear map w to q",
                expr=V_ * Sigma_,
                source=sp.diff(q_of_w, w),
                hypotheses=(SIGMA_DIAGONAL,),
            ),
            Step(
                "chain_rule",
                r"\nabla_w G(\Sigma V^Tw) = V\Sigma\,\nabla_qG",
                title="pull the gradient back to w",
                expr=V_ * Sigma_ * g,
                source=sp.diff(q_of_w, w) * g,
                hypotheses=(CHAIN_RULE, SIGMA_DIAGONAL),
            ),
            Step(
                "gd_step_in_q",
                r"q(w - \eta V\Sigma g) - q(w) = -\eta\,\Sigma V^TV\Sigma g = "
                r"-\eta\,\Sigma^2 g",
                title="take one gradient step and map it to q",
                expr=-eta * Sigma_ * Sigma_ * g,
                source=Sigma_ * V_.T * (w - eta * V_ * Sigma_ * g) - q_of_w,
                hypotheses=(V_ORTHONORMAL,),
            ),
        ),
    ).scoped(GENERAL)
