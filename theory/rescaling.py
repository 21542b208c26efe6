r"""Rescaling lemma (AM-GM), paper.md R0.1 and §6 item 6.

The network output is unchanged by :math:`(\gamma,\alpha,v)\to(c\gamma,c\alpha,v/c)`,
:math:`c>0`; over :math:`c` the weight decay
:math:`\varphi(c) = \tfrac\beta2(c^2a^2 + |v|^2/c^2)`,
:math:`a = \|[\gamma;\alpha]\|_2`,
is minimised at :math:`c^2 = |v|/a` with value :math:`\beta a|v|`, and
:math:`\tfrac12(a^2+v^2)\ge a|v|` with equality iff :math:`a = |v|`.
"""

from __future__ import annotations

import sympy as sp

from .derivation import GENERAL, Derivation, Step, instance_scope
from .symbols import (
    alpha,
    beta,
    bn_a,
    bn_a_entry,
    c,
    check_size,
    gamma,
    h_,
    relu,
    v,
    vector,
    z,
)

__all__ = ["am_gm", "am_gm_general", "penalty", "scale_norm", "vabs"]

#: each step of the lemma in words, as a report shows it.
TITLES = {
    "relu_homogeneous": "the ReLU is positively homogeneous",
    "bn_homogeneous_in_scale": "BN is linear in (gamma, alpha)",
    "output_invariant": "rescaling leaves the neuron's output unchanged",
    "penalty_in_c": "write the weight decay as a function of c",
    "stationarity": "differentiate in c",
    "critical_point": "the critical point",
    "second_derivative": "differentiate twice",
    "convex_in_c": "the penalty is convex in c",
    "minimum_value": "the value at the minimum",
    "balanced_at_minimum": "both layers balance at the minimum",
    "am_gm_gap": "the AM-GM gap is a square",
    "am_gm_inequality": "AM-GM",
    "equality_condition": "equality in AM-GM",
    "rescaled_penalty": "the rescaled penalty",
}

#: :math:`a = \|[\gamma;\alpha]\|_2` and :math:`|v|`, both positive in the lemma.
scale_norm, vabs = sp.symbols("a V", positive=True)


def penalty(scale: sp.Expr = c) -> sp.Expr:
    r"""Return :math:`\varphi(c) = \tfrac\beta2\,(c^2 a^2 + V^2/c^2)`, ``V = |v|``.

    Examples
    --------
    >>> penalty()
    beta*(V**2/c**2 + a**2*c**2)/2
    """
    return beta / 2 * (scale**2 * scale_norm**2 + vabs**2 / scale**2)


def am_gm(size: int = 3) -> Derivation:
    r"""Derive the rescaling lemma (output invariance at ``n = size``).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    .. math::
        \varphi'(c) = \beta(c a^2 - V^2/c^3) = 0 \iff c^2 = V/a,\quad
        \varphi''(c) = \beta(a^2 + 3V^2/c^4) > 0,\quad
        \varphi(\sqrt{V/a}) = \beta a V,\quad
        \tfrac12(a^2+V^2) - aV = \tfrac12(a - V)^2 .

    Parameters
    ----------
    size : int
        ``n`` in 2..8 for the output-invariance step.

    Examples
    --------
    >>> d = am_gm()
    >>> d.name
    'rescaling lemma (AM-GM, n=3)'
    >>> set(d.prove().values())
    {'zero'}
    """
    h = vector("h", check_size("size", size, range(2, 9)))
    c_star = sp.sqrt(vabs / scale_norm)
    phi = penalty()
    steps = (
        Step(
            "relu_homogeneous",
            r"(cx)_+ = c\,(x)_+\quad (c>0)",
            expr=c * relu(z),
            source=relu(c * z),
        ),
        Step(
            "output_invariant",
            rf"(BN_{{c\gamma,c\alpha}}(h))_+\,\frac vc ="
            rf" (BN_{{\gamma,\alpha}}(h))_+\,v\quad(n={size})",
            expr=bn_a(h).applyfunc(relu) * v,
            source=bn_a(h, c * gamma, c * alpha).applyfunc(relu) * (v / c),
            scope=instance_scope(n=size),
        ),
        Step(
            "penalty_in_c",
            r"\tfrac\beta2\big((c\gamma)^2+(c\alpha)^2+(v/c)^2\big) ="
            r" \tfrac\beta2(c^2a^2 + v^2/c^2)",
            expr=beta / 2 * (c**2 * (gamma**2 + alpha**2) + v**2 / c**2),
            source=beta / 2 * ((c * gamma) ** 2 + (c * alpha) ** 2 + (v / c) ** 2),
        ),
        Step(
            "stationarity",
            r"\varphi'(c) = \beta\,(c\,a^2 - V^2/c^3)",
            expr=beta * (c * scale_norm**2 - vabs**2 / c**3),
            source=sp.diff(phi, c),
        ),
        Step(
            "critical_point",
            r"\varphi'(c_\star) = 0,\quad c_\star^2 = V/a",
            expr=sp.S.Zero,
            source=sp.diff(phi, c).subs(c, c_star),
        ),
        Step(
            "second_derivative",
            r"\varphi''(c) = \beta\,(a^2 + 3V^2/c^4)",
            expr=beta * (scale_norm**2 + 3 * vabs**2 / c**4),
            source=sp.diff(phi, c, 2),
        ),
        Step(
            "convex_in_c",
            r"\beta\,(a^2 + 3V^2/c^4) \ge 0",
            relation=">=",
            expr=sp.S.Zero,
            source=beta * (scale_norm**2 + 3 * vabs**2 / c**4),
        ),
        Step(
            "minimum_value",
            r"\varphi(c_\star) = \tfrac\beta2\,(Va + Va) = \beta\,a\,V",
            expr=beta * scale_norm * vabs,
            source=phi.subs(c, c_star),
        ),
        Step(
            "balanced_at_minimum",
            r"c_\star^2 a^2 = V^2/c_\star^2\ \ (\text{i.e. } "
            r"\|[c\gamma;c\alpha]\| = |v/c|)",
            expr=vabs**2 / c_star**2,
            source=c_star**2 * scale_norm**2,
        ),
        Step(
            "am_gm_gap",
            r"\tfrac12(a^2+V^2) - aV = \tfrac12(a-V)^2",
            expr=(scale_norm - vabs) ** 2 / 2,
            source=(scale_norm**2 + vabs**2) / 2 - scale_norm * vabs,
        ),
        Step(
            "am_gm_inequality",
            r"\tfrac12(a-V)^2 \ge 0",
            relation=">=",
            expr=sp.S.Zero,
            source=(scale_norm - vabs) ** 2 / 2,
        ),
        Step(
            "equality_condition",
            r"\tfrac12(a-V)^2 = 0 \iff a = V",
            expr=sp.Matrix([vabs]),
            source=sp.Matrix(
                sp.solve(sp.Eq((scale_norm - vabs) ** 2 / 2, 0), scale_norm)
            ),
        ),
        Step(
            "rescaled_penalty",
            r"\min_{c>0}\tfrac\beta2\big(c^2(\gamma^2+\alpha^2) + v^2/c^2\big)"
            r" = \beta\,\|[\gamma;\alpha]\|_2\,|v|",
            expr=beta * sp.sqrt(gamma**2 + alpha**2) * sp.Abs(v),
            source=phi.subs(c, c_star).subs(
                {scale_norm: sp.sqrt(gamma**2 + alpha**2), vabs: sp.Abs(v)}
            ),
            note="for (gamma, alpha) != 0 and v != 0, where a and |v| are positive",
        ),
    )
    return (
        Derivation(f"rescaling lemma (AM-GM, n={size})", steps)
        .scoped(GENERAL)
        .titled(TITLES)
    )


def am_gm_general() -> Derivation:
    r"""Derive the rescaling lemma with the output invariance for every ``n``.

    The same steps as :func:`am_gm`, except that the output invariance is
    proved for entry ``i`` of a pre-activation of symbolic length ``n``
    (sums over ``1..n``): BN is linear in :math:`(\gamma,\alpha)`, and the
    ReLU is positively homogeneous.  The scalar steps never used a size.

    Returns
    -------
    Derivation
        Every step ``general``.

    Examples
    --------
    >>> am_gm_general().scope_counts()
    {'general': 14, 'instance': 0}
    """
    entry = lambda a: h_[a]  # noqa: E731
    generic = (
        Step(
            "bn_homogeneous_in_scale",
            r"BN_{c\gamma,c\alpha}(h)_i = c\,BN_{\gamma,\alpha}(h)_i"
            r"\quad(\text{every } n)",
            expr=c * bn_a_entry(entry),
            source=bn_a_entry(entry, c * gamma, c * alpha),
        ),
        Step(
            "output_invariant",
            r"(BN_{c\gamma,c\alpha}(h)_i)_+\,\frac vc ="
            r" (BN_{\gamma,\alpha}(h)_i)_+\,v\quad(\text{every } n)",
            expr=relu(bn_a_entry(entry)) * v,
            source=relu(bn_a_entry(entry, c * gamma, c * alpha)) * (v / c),
        ),
    )
    sized = am_gm().steps
    steps = (sized[0], *generic, *sized[2:])
    return (
        Derivation("rescaling lemma (AM-GM), every n", steps)
        .scoped(GENERAL)
        .titled(TITLES)
    )
