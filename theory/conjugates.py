r"""Convex conjugates of the losses used by the dual (paper.md R1, R5).

:math:`\ell^*(\lambda) = \sup_z\,\lambda z - \ell(z)` for one coordinate (every
loss here is a sum over samples, so the vector conjugate is the sum of the
scalar ones).  Each loss comes with a derivation: stationarity, concavity of
:math:`z\mapsto\lambda z-\ell(z)`, the value at the maximiser, and the domain
(where the supremum is :math:`+\infty`).

Notes
-----
* squared, :math:`\ell(z) = \tfrac12(z-y)^2`:
  :math:`\ell^*(\lambda) = \tfrac12\lambda^2 + \lambda y`;
* logistic, :math:`\ell(z) = \log(1+e^{-yz})`, :math:`y\in\{\pm1\}`:
  :math:`\ell^*(\lambda) = u\log u + (1-u)\log(1-u)` with :math:`u = -y\lambda\in[0,1]`
  (:math:`0\log 0 = 0`), :math:`+\infty` otherwise;
* hinge, :math:`\ell(z) = \max(0, 1-yz)`: :math:`\ell^*(\lambda) = y\lambda` for
  :math:`y\lambda\in[-1,0]`, :math:`+\infty` otherwise.
"""

from __future__ import annotations

import sympy as sp

from .derivation import GENERAL, Derivation, Step
from .symbols import lam, z

__all__ = [
    "conjugate_hinge",
    "conjugate_logistic",
    "conjugate_squared",
    "hinge_derivation",
    "hinge_loss",
    "logistic_derivation",
    "logistic_loss",
    "squared_derivation",
    "squared_loss",
]

#: the label of one sample (real for the squared loss, +-1 otherwise).
y = sp.Symbol("y", real=True)
#: positive parameters of u = P/(P+Q) in (0, 1), and a positive step u.
_P, _Q, _u, _lam_pos = sp.symbols("P Q u mu", positive=True)


_BASE_TITLES = {
    "stationarity": "stationarity of lambda z - l(z)",
    "maximiser": "solve for the maximiser",
    "concavity": "lambda z - l(z) is concave in z",
    "value": "the value at the maximiser",
    "fenchel_young": "the Fenchel-Young inequality",
    "boundary_u0": "the boundary u = 0",
    "boundary_u1": "the boundary u = 1",
    "unbounded_outside": "the supremum is infinite outside [0, 1]",
    "gap_left": "the gap left of the hinge",
    "gap_left_nonneg": "the gap left of the hinge is non-negative",
    "gap_right": "the gap right of the hinge",
    "gap_right_nonneg": "the gap right of the hinge is non-negative",
    "attained": "the supremum is attained at the hinge",
    "unbounded_right": "the supremum is infinite for lambda y > 0",
    "unbounded_left": "the supremum is infinite for lambda y < -1",
    "label_symmetry": "the label y = -1 by symmetry",
}
#: each step in words (the logistic steps per label y = +1, -1).
TITLES = {
    **_BASE_TITLES,
    **{
        f"{name}_y={label}": f"{title} (y = {label})"
        for name, title in _BASE_TITLES.items()
        for label in ("+1", "-1")
    },
}


def squared_loss(pred: sp.Expr = z, label: sp.Expr = y) -> sp.Expr:
    r""":math:`\tfrac12(z-y)^2`."""
    return (pred - label) ** 2 / 2


def logistic_loss(pred: sp.Expr = z, label: sp.Expr = y) -> sp.Expr:
    r""":math:`\log(1+e^{-yz})`."""
    return sp.log(1 + sp.exp(-label * pred))


def hinge_loss(pred: sp.Expr = z, label: sp.Expr = y) -> sp.Expr:
    r""":math:`\max(0, 1-yz)`."""
    return sp.Max(0, 1 - label * pred)


def conjugate_squared(dual: sp.Expr = lam, label: sp.Expr = y) -> sp.Expr:
    r""":math:`\tfrac12\lambda^2+\lambda y`.

    Parameters
    ----------
    dual, label : sympy.Expr
        :math:`\lambda` and the label :math:`y`.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> conjugate_squared()
    lambda**2/2 + lambda*y
    """
    return dual**2 / 2 + dual * label


def conjugate_logistic(dual: sp.Expr = lam, label: sp.Expr = y) -> sp.Expr:
    r"""Return :math:`u\log u + (1-u)\log(1-u)` (:math:`u=-y\lambda`), or oo.

    Parameters
    ----------
    dual, label : sympy.Expr
        :math:`\lambda` and the label :math:`y\in\{\pm1\}`.

    Returns
    -------
    sympy.Piecewise
    """
    u = -label * dual
    entropy = sp.Piecewise((0, sp.Eq(u, 0)), (u * sp.log(u), True)) + sp.Piecewise(
        (0, sp.Eq(u, 1)), ((1 - u) * sp.log(1 - u), True)
    )
    return sp.Piecewise((entropy, (u >= 0) & (u <= 1)), (sp.oo, True))


def conjugate_hinge(dual: sp.Expr = lam, label: sp.Expr = y) -> sp.Expr:
    r""":math:`y\lambda` for :math:`y\lambda\in[-1,0]`; ``oo`` outside.

    Parameters
    ----------
    dual, label : sympy.Expr
        :math:`\lambda` and the label :math:`y\in\{\pm1\}`.

    Returns
    -------
    sympy.Piecewise
    """
    u = label * dual
    return sp.Piecewise((u, (u >= -1) & (u <= 0)), (sp.oo, True))


def squared_derivation() -> Derivation:
    """SymPy computes the squared loss's conjugate: solve, check concavity, evaluate.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Examples
    --------
    >>> d = squared_derivation()
    >>> d.prove()
    {'stationarity': 'zero', 'maximiser': 'zero', 'concavity': 'zero',
     'value': 'zero', 'fenchel_young': 'zero'}
    """
    objective = lam * z - squared_loss()
    (z_star,) = sp.solve(sp.diff(objective, z), z)
    return (
        Derivation(
            "conjugate of the squared loss",
            (
                Step(
                    "stationarity",
                    r"\partial_z(\lambda z - \tfrac12(z-y)^2) = \lambda - z + y",
                    expr=lam - z + y,
                    source=sp.diff(objective, z),
                ),
                Step(
                    "maximiser",
                    r"z_\star = y + \lambda\ (\text{solve})",
                    expr=y + lam,
                    source=z_star,
                ),
                Step(
                    "concavity",
                    r"-\partial_z^2(\lambda z - \ell(z)) = 1 \ge 0",
                    relation=">=",
                    expr=sp.S.Zero,
                    source=-sp.diff(objective, z, 2),
                ),
                Step(
                    "value",
                    r"\ell^*(\lambda) = \lambda z_\star - \ell(z_\star) ="
                    r" \tfrac12\lambda^2 + \lambda y",
                    expr=conjugate_squared(),
                    source=objective.subs(z, z_star),
                ),
                Step(
                    "fenchel_young",
                    r"\ell(z) + \ell^*(\lambda) - \lambda z = "
                    r"\tfrac12(z - y - \lambda)^2",
                    expr=(z - y - lam) ** 2 / 2,
                    source=squared_loss() + conjugate_squared() - lam * z,
                ),
            ),
        )
        .scoped(GENERAL)
        .titled(TITLES)
    )


def _logistic_unit(label: int) -> tuple[Step, ...]:
    """Build the logistic conjugate's steps for one label value, u = P/(P+Q)."""
    u = _P / (_P + _Q)
    dual = -label * u
    objective = lam * z - logistic_loss(z, label)
    z_star = label * sp.log((1 - u) / u)
    tag = f"y={label:+d}"
    return (
        Step(
            f"stationarity_{tag}",
            rf"\partial_z(\lambda z - \ell(z)) = \lambda + \frac{{y}}{{1+e^{{yz}}}}"
            rf"\ ({tag})",
            expr=lam + label / (1 + sp.exp(label * z)),
            source=sp.diff(objective, z),
        ),
        Step(
            f"maximiser_{tag}",
            rf"z_\star = y\log\frac{{1-u}}{{u}},\ \lambda = -yu\ \Rightarrow\ "
            rf"\partial_z = 0\ ({tag})",
            expr=sp.S.Zero,
            source=sp.diff(objective, z).subs({z: z_star, lam: dual}),
        ),
        Step(
            f"concavity_{tag}",
            rf"-\partial_z^2(\lambda z - \ell(z)) ="
            rf" \frac{{e^{{z}}}}{{(1+e^{{z}})^2}}\ge0\ ({tag})",
            relation=">=",
            expr=sp.S.Zero,
            source=-sp.diff(objective, z, 2),
        ),
        Step(
            f"value_{tag}",
            rf"\lambda z_\star - \ell(z_\star) = u\log u + (1-u)\log(1-u)\ ({tag})",
            expr=sp.expand_log(u * sp.log(u) + (1 - u) * sp.log(1 - u), force=True),
            source=objective.subs({z: z_star, lam: dual}),
        ),
    )


def logistic_derivation() -> Derivation:
    r"""Derive the logistic conjugate for :math:`y = \pm1`, and its domain.

    The interior point is parametrised as :math:`u = P/(P+Q)\in(0,1)` so that
    logarithms expand exactly; the boundary values are limits, and outside
    :math:`[0,1]` the supremum is :math:`+\infty` (shown as ``1/sup = 0``).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.
    """
    ent = _u * sp.log(_u) + (1 - _u) * sp.log(1 - _u)
    boundary = (
        Step(
            "boundary_u0",
            r"\lim_{u\to0^+} u\log u + (1-u)\log(1-u) = 0",
            expr=sp.S.Zero,
            source=sp.limit(ent, _u, 0, "+"),
        ),
        Step(
            "boundary_u1",
            r"\lim_{u\to1^-} u\log u + (1-u)\log(1-u) = 0",
            expr=sp.S.Zero,
            source=sp.limit(ent, _u, 1, "-"),
        ),
        Step(
            "unbounded_outside",
            r"y\lambda = \mu > 0:\ \lim_{z\to\infty}\lambda z - \log(1+e^{-z}) = "
            r"+\infty\ (1/\sup = 0)",
            expr=sp.S.Zero,
            source=1 / sp.limit(_lam_pos * z - logistic_loss(z, 1), z, sp.oo),
        ),
    )
    return (
        Derivation(
            "conjugate of the logistic loss",
            _logistic_unit(1) + _logistic_unit(-1) + boundary,
        )
        .scoped(GENERAL)
        .titled(TITLES)
    )


def hinge_derivation() -> Derivation:
    r"""Derive the hinge conjugate (:math:`y=1`; :math:`y=-1` by :math:`z\to -z`).

    For :math:`\lambda = -u`, :math:`u\in[0,1]`, the gap
    :math:`\lambda - (\lambda z - \ell(z))`
    is non-negative on both sides of the hinge and zero at :math:`z = 1`.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.
    """
    u = _P / (_P + _Q)
    dual = -u
    gap = dual - (dual * z - hinge_loss(z, 1))
    return (
        Derivation(
            "conjugate of the hinge loss",
            (
                Step(
                    "gap_left",
                    r"z = 1 - t:\ \lambda - (\lambda z - \ell(z)) = (1-u)\,t",
                    expr=(1 - u) * _u,
                    source=gap.subs(z, 1 - _u),
                ),
                Step(
                    "gap_left_nonneg",
                    r"(1-u)\,t \ge 0",
                    relation=">=",
                    expr=sp.S.Zero,
                    source=sp.cancel((1 - u) * _u),
                ),
                Step(
                    "gap_right",
                    r"z = 1 + t:\ \lambda - (\lambda z - \ell(z)) = u\,t",
                    expr=u * _u,
                    source=gap.subs(z, 1 + _u),
                ),
                Step(
                    "gap_right_nonneg",
                    r"u\,t \ge 0",
                    relation=">=",
                    expr=sp.S.Zero,
                    source=u * _u,
                ),
                Step(
                    "attained",
                    r"z = 1:\ \lambda z - \ell(z) = \lambda = \ell^*(\lambda)",
                    expr=dual,
                    source=(dual * z - hinge_loss(z, 1)).subs(z, 1),
                ),
                Step(
                    "unbounded_right",
                    r"\lambda = \mu > 0:\ \lambda(1+t) - \ell(1+t)\to+\infty",
                    expr=sp.S.Zero,
                    source=1
                    / sp.limit(_lam_pos * (1 + _u) - hinge_loss(1 + _u, 1), _u, sp.oo),
                ),
                Step(
                    "unbounded_left",
                    r"\lambda = -1-\mu:\ \lambda(1-t) - \ell(1-t) = \lambda + \mu"
                    r" t\to+\infty",
                    expr=sp.S.Zero,
                    source=1
                    / sp.limit(
                        (-1 - _lam_pos) * (1 - _u) - hinge_loss(1 - _u, 1), _u, sp.oo
                    ),
                ),
                Step(
                    "label_symmetry",
                    r"\ell_{y=-1}(z) = \ell_{y=1}(-z)\ \Rightarrow\ "
                    r"\ell^*_{y=-1}(\lambda) = \ell^*_{y=1}(-\lambda)",
                    expr=hinge_loss(-z, 1),
                    source=hinge_loss(z, -1),
                ),
            ),
        )
        .scoped(GENERAL)
        .titled(TITLES)
    )
