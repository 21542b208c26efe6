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

import sympy as sp

from .derivation import Derivation, Step
from .symbols import (
    bn_a,
    bn_a_entry,
    cayley3,
    check_size,
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

__all__ = ["gradient_orthogonality", "sigma2_preconditioning"]

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
            ),
        ),
    )


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
        ),
        Step(
            "bn_homogeneous_generic",
            r"\sum_{l=1}^n h_l\,\partial_{h_l}BN_{\gamma,\alpha}(h)_i = 0"
            r"\quad(\text{every } n)",
            expr=sp.S.Zero,
            source=sp.Sum(h_[l] * sp.diff(bn_i, h_[l]), (l, 1, n)),
        ),
    )


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
    )
