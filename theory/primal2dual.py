r"""The dual of the rescaled BN problem, derived step by step (paper.md R1, R5).

Rescaled primal (R0):
.. math::
    p^* = \min_{\|s_j\|\le1,\,v_j} \tfrac12\|\textstyle\sum_j a_j v_j - y\|^2
    + \beta\sum_j|v_j|,

:math:`a_j = (U's_j)_+`.  With the prediction :math:`z = \sum_j a_j v_j` as a
constrained variable and multiplier :math:`\lambda`,

.. math::
    L = \tfrac12\|z-y\|^2 + \lambda^T(\textstyle\sum_j a_jv_j - z) + \beta\sum_j|v_j| .

Minimising over :math:`z` gives
:math:`-\ell^*(\lambda) = -\tfrac12\|\lambda\|^2-\lambda^Ty`;
minimising over :math:`v_j` gives :math:`0` when :math:`|\lambda^Ta_j|\le\beta` and
:math:`-\infty` otherwise; over all :math:`\|s_j\|\le 1` this is the semi-infinite
constraint.  With :math:`v = -\lambda`:

.. math::
    d^* = \max_v -\tfrac12\|v-y\|^2 + \tfrac12\|y\|^2\quad
    \text{s.t.}\ \max_{\|s\|\le1}|v^T(U's)_+|\le\beta .

The derivation is explicit at ``n = 3`` samples and ``m = 2`` neurons, whose
ReLU outputs :math:`a_j` are free symbolic vectors (the steps never use
their form); every step is coordinate-separable or a sum over neurons, so the
same algebra holds for any ``n`` and ``m``.
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from .conjugates import conjugate_squared
from .derivation import GENERAL, Derivation, Step, instance_scope
from .rescaling import penalty, scale_norm, vabs
from .symbols import beta, c, i, j, k, lam, m, matrix, n, r, relu, vector, z

__all__ = [
    "dual_derivation",
    "dual_derivation_general",
    "dual_objective",
    "primal_objective",
]

#: each step in words, as a report shows it.
TITLES = {
    "rescale": "rescale each neuron (AM-GM)",
    "lagrangian_on_constraint": "the Lagrangian on the constraint is the primal",
    "lagrangian_separates": "the Lagrangian separates over samples",
    "z_stationarity": "stationarity in the prediction",
    "z_convexity": "convexity in the prediction",
    "z_minimum": "minimise over the prediction: the conjugate of the loss",
    "v_gap_identity": "rewrite the inner minimum over an output weight",
    "v_gap_sign_cases": "check every sign case",
    "v_gap_nonneg": "the inner minimum is 0 when |a| <= beta",
    "v_unbounded_pos": "the inner minimum is unbounded when a > beta",
    "v_unbounded_neg": "the inner minimum is unbounded when a < -beta",
    "dual_objective": "substitute v = -lambda",
    "dual_constraint": "collect the constraints of all neurons",
    "constraint_homogeneous": "the constraint is attained on the unit sphere",
    "gap_expand": "expand the duality gap",
    "exchange_sums": "exchange the sums over samples and neurons",
    "weak_duality_gap": "the duality gap",
}

_SIZE, _NEURONS = 3, 2
_t, _delta, _A, _W = sp.symbols("t delta A W", positive=True)
_a = sp.Symbol("a", real=True)


def _relu_vec(vec: sp.Matrix) -> sp.Matrix:
    """Entrywise ReLU of a column, as :math:`(x + |x|)/2`."""
    return vec.applyfunc(relu)


def _sq(vec: sp.Matrix) -> sp.Expr:
    return (vec.T * vec)[0, 0]


def primal_objective(z: sp.Matrix, y: sp.Matrix, weights: sp.Matrix) -> sp.Expr:
    r""":math:`\tfrac12\|z-y\|^2 + \beta\sum_j|v_j|`.

    Parameters
    ----------
    z, y, weights : sympy.Matrix
        Prediction, labels and output weights.

    Returns
    -------
    sympy.Expr
    """
    return _sq(z - y) / 2 + beta * sum((sp.Abs(w) for w in weights), sp.S.Zero)


def dual_objective(dual: sp.Matrix, y: sp.Matrix) -> sp.Expr:
    r""":math:`-\tfrac12\|v-y\|^2 + \tfrac12\|y\|^2`.

    Parameters
    ----------
    dual, y : sympy.Matrix
        Dual point :math:`v` and labels.

    Returns
    -------
    sympy.Expr
    """
    return -_sq(dual - y) / 2 + _sq(y) / 2


def _inner_v_steps() -> tuple[Step, ...]:
    r"""Build the steps of :math:`\inf_v\, a v + \beta|v|` (0 or :math:`-\infty`)."""
    w = sp.Symbol("v", real=True)
    return (
        Step(
            "v_gap_identity",
            r"av + \beta|v| - (\beta-|a|)|v| = av + |a||v|",
            expr=_a * w + sp.Abs(_a) * sp.Abs(w),
            source=_a * w + beta * sp.Abs(w) - (beta - sp.Abs(_a)) * sp.Abs(w),
        ),
        Step(
            "v_gap_sign_cases",
            r"av + |a||v| \in \{2AW, 0, 0, 2AW, 0\}\ \text{for}\ "
            r"(a, v) = (\pm A, \pm W),\ a v = 0",
            expr=sp.Matrix([2 * _A * _W, 0, 0, 2 * _A * _W, 0]),
            source=sp.Matrix(
                [
                    (_a * w + sp.Abs(_a) * sp.Abs(w)).subs({_a: sa * _A, w: sw * _W})
                    for sa, sw in ((1, 1), (1, -1), (-1, 1), (-1, -1), (0, 1))
                ]
            ),
        ),
        Step(
            "v_gap_nonneg",
            r"av + |a||v| \ge 0\ \Rightarrow\ av+\beta|v| \ge (\beta-|a|)|v| \ge 0"
            r"\text{ when } |a|\le\beta",
            relation=">=",
            expr=sp.zeros(5, 1),
            source=sp.Matrix([2 * _A * _W, 0, 0, 2 * _A * _W, 0]),
        ),
        Step(
            "v_unbounded_pos",
            r"a = \beta+\delta:\ a(-t) + \beta|{-t}| = -\delta t \to -\infty",
            expr=-_delta * _t,
            source=(_a * w + beta * sp.Abs(w)).subs({_a: beta + _delta, w: -_t}),
        ),
        Step(
            "v_unbounded_neg",
            r"a = -\beta-\delta:\ a t + \beta|t| = -\delta t \to -\infty",
            expr=-_delta * _t,
            source=(_a * w + beta * sp.Abs(w)).subs({_a: -beta - _delta, w: _t}),
        ),
    )


def dual_derivation() -> Derivation:
    """Derive the dual: primal, Lagrangian, inner minimisation, dual (module notes).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Examples
    --------
    >>> d = dual_derivation()
    >>> [s.name for s in d.steps][-3:]
    ['dual_constraint', 'constraint_homogeneous', 'weak_duality_gap']
    >>> set(d.prove().values())
    {'zero'}
    """
    y, z, lam = vector("y", _SIZE), vector("z", _SIZE), vector("lambda", _SIZE)
    A = sp.Matrix.hstack(*(vector(f"a{j + 1}", _SIZE) for j in range(_NEURONS)))
    weights = vector("v", _NEURONS)
    pred = A * weights
    lagrangian = (
        _sq(z - y) / 2 + (lam.T * (pred - z))[0, 0] + beta * sum(map(sp.Abs, weights))
    )
    z_part = _sq(z - y) / 2 - (lam.T * z)[0, 0]
    z_star = y + lam
    dual = -lam
    u_prime, s_vec = matrix("u", _SIZE, 2), vector("s", 2)
    steps = (
        Step(
            "rescale",
            r"\min_{c>0}\tfrac\beta2(c^2\|s\|^2 + v^2/c^2) = \beta\|s\||v|"
            r"\ \Rightarrow\ \text{penalty } \beta\sum_j|v_j|,\ \|s_j\|\le1",
            expr=beta * scale_norm * vabs,
            source=penalty().subs(c, sp.sqrt(vabs / scale_norm)),
        ),
        Step(
            "lagrangian_on_constraint",
            r"L\big|_{z=\sum_j a_jv_j} = \tfrac12\|\sum_j a_jv_j - y\|^2"
            r" + \beta\sum_j|v_j|\quad(n=3,\ m=2)",
            expr=primal_objective(pred, y, weights),
            source=lagrangian.subs(dict(zip(z, pred, strict=False))),
        ),
        Step(
            "z_stationarity",
            r"\nabla_z L = z - y - \lambda = 0\ \Rightarrow\ z_\star = y+\lambda",
            expr=z - y - lam,
            source=sp.Matrix([sp.diff(lagrangian, zi) for zi in z]),
        ),
        Step(
            "z_convexity",
            r"\nabla_z^2 L = I \succeq 0",
            expr=sp.eye(_SIZE),
            source=sp.hessian(lagrangian, list(z)),
        ),
        Step(
            "z_minimum",
            r"\min_z \tfrac12\|z-y\|^2 - \lambda^Tz = -\tfrac12\|\lambda\|^2 -"
            r" \lambda^Ty"
            r" = -\ell^*(\lambda)",
            expr=-sum(
                (conjugate_squared(li, yi) for li, yi in zip(lam, y, strict=False)),
                sp.S.Zero,
            ),
            source=z_part.subs(dict(zip(z, z_star, strict=False))),
        ),
        *_inner_v_steps(),
        Step(
            "dual_objective",
            r"v = -\lambda:\ -\tfrac12\|\lambda\|^2-\lambda^Ty = "
            r"-\tfrac12\|v-y\|^2 + \tfrac12\|y\|^2",
            expr=dual_objective(dual, y),
            source=-_sq(lam) / 2 - (lam.T * y)[0, 0],
        ),
        Step(
            "dual_constraint",
            r"|\lambda^Ta_j| \le \beta\ \forall\,\|s_j\|\le1\ \iff\ "
            r"\max_{\|s\|\le1}|v^T(U's)_+| \le \beta",
            expr=sp.Abs((dual.T * A[:, 0])[0, 0]),
            source=sp.Abs((lam.T * A[:, 0])[0, 0]),
        ),
        Step(
            "constraint_homogeneous",
            r"v^T(U'(ts))_+ = t\,v^T(U's)_+\ (t>0):\ \max_{\|s\|\le1} "
            r"\text{ is attained on } \|s\| = 1\quad(n=3,\ r+1=2)",
            expr=_t * (dual.T * _relu_vec(u_prime * s_vec))[0, 0],
            source=(dual.T * _relu_vec(u_prime * (_t * s_vec)))[0, 0],
        ),
        Step(
            "weak_duality_gap",
            r"P - D = \tfrac12\|z + v - y\|^2 + \sum_j(\beta|v_j| - "
            r"(v^Ta_j)\,v_j),\ z = \sum_j a_j v_j",
            expr=_sq(pred + dual - y) / 2
            + sum(
                (
                    beta * sp.Abs(weights[j]) - (dual.T * A[:, j])[0, 0] * weights[j]
                    for j in range(_NEURONS)
                ),
                sp.S.Zero,
            ),
            source=primal_objective(pred, y, weights) - dual_objective(dual, y),
        ),
    )
    scalar = {"rescale"} | {st.name for st in _inner_v_steps()}
    steps = tuple(
        dataclasses.replace(st, scope=GENERAL) if st.name in scalar else st
        for st in steps
    )
    return (
        Derivation("dual of the rescaled BN problem (squared loss)", steps)
        .scoped(instance_scope(n=_SIZE, m=_NEURONS))
        .titled(TITLES)
    )


def _indexed(*names: str) -> tuple[sp.IndexedBase, ...]:
    return tuple(sp.IndexedBase(name, real=True) for name in names)


def _substitute(expr: sp.Expr, base: sp.IndexedBase, entry: object) -> sp.Expr:
    """Replace every ``base[q]`` in ``expr`` by ``entry(q)``."""
    return expr.replace(
        lambda e: isinstance(e, sp.Indexed) and e.base == base,
        lambda e: entry(e.indices[0]),
    )


def dual_derivation_general() -> Derivation:
    r"""Derive the dual for every number of samples ``n`` and neurons ``m``.

    The same chain as :func:`dual_derivation`, written with sums over
    ``i = 1..n`` (samples) and ``j = 1..m`` (neurons); :math:`A_{ij}` is the
    ReLU output of neuron ``j`` on sample ``i`` (any values: the steps never
    use their form), :math:`v_j` the output weights, :math:`\lambda_i` the
    multipliers.  Minimisation over the prediction is per coordinate (the
    Lagrangian separates), so its stationarity and convexity are scalar.

    Returns
    -------
    Derivation
        Every step ``general``.

    Examples
    --------
    >>> dual_derivation_general().scope_counts()
    {'general': 16, 'instance': 0}
    """
    y_, z_, lam_, A_, v_ = _indexed("y", "z", "lambda", "A", "v")
    u_, s_ = _indexed("u", "s")
    t = sp.Symbol("t", positive=True)
    y1 = sp.Symbol("y", real=True)  # one label

    def pred(q: object) -> sp.Expr:
        return sp.Sum(A_[q, j] * v_[j], (j, 1, m))

    def total(term: sp.Expr) -> sp.Expr:
        return sp.Sum(term, (i, 1, n))

    decay = beta * sp.Sum(sp.Abs(v_[j]), (j, 1, m))
    lagrangian = (
        total((z_[i] - y_[i]) ** 2 / 2) + total(lam_[i] * (pred(i) - z_[i])) + decay
    )
    z_part = total((z_[i] - y_[i]) ** 2 / 2 - lam_[i] * z_[i])
    scalar_z = (z - y1) ** 2 / 2 - lam * z
    primal = total((z_[i] - y_[i]) ** 2) / 2 + decay
    dual = -total((-lam_[i] - y_[i]) ** 2) / 2 + total(y_[i] ** 2) / 2
    inner_v = {st.name: st for st in _inner_v_steps()}
    sized = {st.name: st for st in dual_derivation()}
    steps = (
        sized["rescale"],
        Step(
            "lagrangian_on_constraint",
            r"L\big|_{z_i=\sum_j A_{ij}v_j} = \tfrac12\sum_i\big(\sum_j A_{ij}v_j"
            r" - y_i\big)^2 + \beta\sum_j|v_j|\quad(\text{every } n, m)",
            expr=total((pred(i) - y_[i]) ** 2 / 2) + decay,
            source=_substitute(lagrangian, z_, pred),
        ),
        Step(
            "lagrangian_separates",
            r"L = \sum_i\big(\tfrac12(z_i-y_i)^2 - \lambda_iz_i\big) + "
            r"\sum_i\lambda_i\sum_j A_{ij}v_j + \beta\sum_j|v_j|",
            expr=z_part + total(lam_[i] * pred(i)) + decay,
            source=lagrangian,
        ),
        Step(
            "z_stationarity",
            r"\partial_{z}\big(\tfrac12(z-y)^2 - \lambda z\big) = z - y - \lambda"
            r" = 0\ \Rightarrow\ z_\star = y+\lambda",
            expr=z - y1 - lam,
            source=sp.diff(scalar_z, z),
        ),
        Step(
            "z_convexity",
            r"\partial_z^2\big(\tfrac12(z-y)^2 - \lambda z\big) = 1 \ge 0",
            relation=">=",
            expr=sp.S.Zero,
            source=sp.diff(scalar_z, z, 2),
        ),
        Step(
            "z_minimum",
            r"\sum_i\big(\tfrac12(z_i-y_i)^2 - \lambda_iz_i\big)\Big|_{z=y+\lambda}"
            r" = -\sum_i\big(\tfrac12\lambda_i^2 + \lambda_iy_i\big) = "
            r"-\ell^*(\lambda)",
            expr=-total(conjugate_squared(lam_[i], y_[i])),
            source=_substitute(z_part, z_, lambda q: y_[q] + lam_[q]),
        ),
        *inner_v.values(),
        Step(
            "dual_objective",
            r"v = -\lambda:\ -\sum_i\big(\tfrac12\lambda_i^2+\lambda_iy_i\big) = "
            r"-\tfrac12\|v-y\|^2 + \tfrac12\|y\|^2",
            expr=dual,
            source=-total(lam_[i] ** 2) / 2 - total(lam_[i] * y_[i]),
        ),
        Step(
            "dual_constraint",
            r"\Big|\sum_i\lambda_iA_{ij}\Big| = \Big|\sum_i v_iA_{ij}\Big|"
            r"\le\beta\ \forall j\ \iff\ \max_{\|s\|\le1}|v^T(U's)_+| \le \beta",
            expr=sp.Abs(total(-lam_[i] * A_[i, j])),
            source=sp.Abs(total(lam_[i] * A_[i, j])),
        ),
        Step(
            "constraint_homogeneous",
            r"\sum_i v_i\Big(\sum_k U'_{ik}\,ts_k\Big)_+ = t\sum_i v_i"
            r"\Big(\sum_k U'_{ik}s_k\Big)_+\ (t>0):\ \text{the max is attained"
            r" on } \|s\| = 1",
            expr=t * total(-lam_[i] * relu(sp.Sum(u_[i, k] * s_[k], (k, 1, r)))),
            source=total(-lam_[i] * relu(sp.Sum(u_[i, k] * t * s_[k], (k, 1, r)))),
        ),
        Step(
            "gap_expand",
            r"P - D = \tfrac12\|z+v-y\|^2 - v^Tz + \beta\sum_j|v_j|",
            expr=total((z_[i] - lam_[i] - y_[i]) ** 2) / 2
            + total(lam_[i] * z_[i])
            + decay,
            source=primal - dual,
        ),
        Step(
            "exchange_sums",
            r"v^Tz = \sum_i v_i\sum_j A_{ij}v_j = \sum_j v_j\,(v^Ta_j),\quad "
            r"z_i = \sum_j A_{ij}v_j",
            expr=sp.Sum(v_[j] * total(-lam_[i] * A_[i, j]), (j, 1, m)),
            source=total(-lam_[i] * pred(i)),
        ),
    )
    return (
        Derivation("dual of the rescaled BN problem, every n and m", steps)
        .scoped(GENERAL)
        .titled(TITLES)
    )
