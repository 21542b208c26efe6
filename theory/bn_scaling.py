r"""BN scaling identities (paper.md §1.1, §6 items 1-5), as named derivations.

Each function returns a :class:`~bnconvex.theory.derivation.Derivation` whose
steps the symbolic tier proves one by one.  The ``*_generic`` derivations hold
for *every* ``n`` and ``d``: entry ``i`` of BN is written with ``Sum`` over
``1..n`` (``IndexedBase`` vectors) and proved by splitting sums and pulling
constants out; the centring lemmas use ``KroneckerDelta``.  The sized
derivations repeat each identity with explicit symbolic entries at the small
sizes the caller asks for, as an independent cross-check.

Notes
-----
Convention A,
:math:`BN_{\gamma,\alpha}(h) = \gamma\,Ch/\|Ch\|_2 + \alpha\mathbf 1/\sqrt n`,
:math:`C = I - \tfrac1n\mathbf 1\mathbf 1^T`; convention std,
:math:`BN^{std}_{\gamma,\alpha}(h) = \gamma (h-\bar h\mathbf 1)/\operatorname{std}(h)
+ \alpha\mathbf 1`.
"""

from __future__ import annotations

import sympy as sp

from .derivation import GENERAL, Derivation, Step, instance_scope
from .symbols import (
    X_,
    b_,
    bn_a,
    bn_a_entry,
    bn_std,
    bn_std_entry,
    c,
    centering,
    check_size,
    d,
    gamma,
    h_,
    i,
    j,
    k,
    l,
    matrix,
    n,
    norm,
    ones,
    relu,
    v,
    vector,
    w_,
    z,
)

__all__ = [
    "centering_lemmas",
    "convention_conversion",
    "convention_conversion_generic",
    "scale_invariance",
    "scale_invariance_generic",
    "shift_invariance",
    "shift_invariance_generic",
]


#: each step of this module in words, as a report shows it.
TITLES = {
    "linearity_generic": "the data map is linear",
    "scale_generic": "rescaling the pre-activation cancels in BN",
    "sign_generic": "a sign flip of the pre-activation flips gamma",
    "statement_scale_generic": "rescaling the weights leaves BN unchanged",
    "statement_sign_generic": "flipping the weights flips gamma",
    "expand_shift_generic": "expand the shifted pre-activation",
    "shift_generic": "a constant shift cancels in the centring",
    "conversion_generic": "the standard deviation is the centred norm over sqrt(n)",
    "relu_homogeneous_generic": "move sqrt(n) from the ReLU into v",
    "beta_conversion_generic": "the weight decay converts by sqrt(n)",
    "C1_zero_generic": "centring annihilates constants",
    "C_idempotent_generic": "centring is a projection",
    "ones_norm_generic": "the normalised ones vector has unit length",
    "linearity": "the data map is linear",
    "centre": "centre the rescaled pre-activation",
    "norm_homogeneous": "the norm is positively homogeneous",
    "cancel_c": "cancel the scale factor",
    "sign_flip": "a sign flip of the pre-activation flips gamma",
    "statement_scale": "rescaling the weights leaves BN unchanged",
    "statement_sign": "flipping the weights flips gamma",
    "expand_shift": "expand the shifted pre-activation",
    "centre_kills_shift": "centring removes the shift",
    "statement_shift": "shifting the data leaves BN unchanged",
    "std_is_scaled_norm": "the standard deviation is the centred norm over sqrt(n)",
    "conversion": "standard BN is sqrt(n) times convention-A BN",
    "relu_homogeneous": "move sqrt(n) from the ReLU into v",
    "beta_conversion": "the weight decay converts by sqrt(n)",
}


def _c_entry(row: sp.Symbol, col: sp.Symbol) -> sp.Expr:
    r""":math:`C_{ij} = \delta_{ij} - 1/n` for the generic size ``n``."""
    return sp.KroneckerDelta(row, col) - 1 / n


def centering_lemmas() -> Derivation:
    r"""Prove generic-``n`` facts about the centring projector.

    :math:`C\mathbf 1 = 0`, :math:`C^2 = C`, :math:`\mathbf 1^T\mathbf 1/n = 1`,
    proved entrywise with Kronecker deltas.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.
    """
    steps = (
        Step(
            "C1_zero_generic",
            r"(C\mathbf 1)_i = \sum_{j=1}^n (\delta_{ij} - \tfrac1n) = 1 - 1 = 0"
            r"\quad(\text{every } n)",
            expr=sp.S.Zero,
            source=sp.Sum(_c_entry(i, j), (j, 1, n)),
        ),
        Step(
            "C_idempotent_generic",
            r"(C^2)_{ik} = \sum_j (\delta_{ij}-\tfrac1n)(\delta_{jk}-\tfrac1n)"
            r" = \delta_{ik} - \tfrac1n = C_{ik}",
            expr=_c_entry(i, k),
            source=sp.Sum(_c_entry(i, j) * _c_entry(j, k), (j, 1, n)),
        ),
        Step(
            "ones_norm_generic",
            r"\|\mathbf 1/\sqrt n\|_2^2 = \sum_{i=1}^n \tfrac1n = 1",
            expr=sp.S.One,
            source=sp.Sum(1 / n, (i, 1, n)),
        ),
    )
    return (
        Derivation("centring projector, generic n", steps)
        .scoped(GENERAL)
        .titled(TITLES)
    )


def scale_invariance(size: int = 3, dim: int = 2) -> Derivation:
    r"""BN is invariant to :math:`w\to cw` (:math:`c>0`) and odd in :math:`(w,\gamma)`.

    Parameters
    ----------
    size, dim : int
        ``n`` and ``d`` of the explicit symbolic data matrix ``X``.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    .. math::
        BN_{\gamma,\alpha}(X(cw)) = \gamma\frac{cCXw}{c\|CXw\|}
        + \frac{\alpha}{\sqrt n}\mathbf 1 = BN_{\gamma,\alpha}(Xw),\qquad
        BN_{\gamma,\alpha}(X(-w)) = BN_{-\gamma,\alpha}(Xw).

    Examples
    --------
    >>> d = scale_invariance()
    >>> [s.name for s in d.steps][-2:], set(d.prove().values())
    (['statement_scale', 'statement_sign'], {'zero'})
    """
    size, dim = (
        check_size("size", size, range(2, 9)),
        check_size("dim", dim, range(1, 6)),
    )
    X, w, h = matrix("x", size, dim), vector("w", dim), vector("h", size)
    C = centering(size)
    tag = rf"\quad(n={size},\ d={dim})"
    steps = (
        Step("linearity", r"X(cw) = c\,Xw" + tag, expr=c * (X * w), source=X * (c * w)),
        Step("centre", r"C(ch) = c\,Ch" + tag, expr=c * (C * h), source=C * (c * h)),
        Step(
            "norm_homogeneous",
            r"\|cCh\|_2 = \sqrt{c^2\|Ch\|_2^2} = c\,\|Ch\|_2\ (c>0)" + tag,
            expr=c * norm(C * h),
            source=norm(c * (C * h)),
        ),
        Step(
            "cancel_c",
            r"BN_{\gamma,\alpha}(ch) ="
            r" \gamma\frac{c\,Ch}{c\|Ch\|}+\frac{\alpha}{\sqrt n}\mathbf 1"
            r" = BN_{\gamma,\alpha}(h)" + tag,
            expr=bn_a(h),
            source=bn_a(c * h),
        ),
        Step(
            "sign_flip",
            r"BN_{\gamma,\alpha}(-h) = \gamma\frac{-Ch}{\|Ch\|}+\frac{\alpha}{\sqrt"
            r" n}\mathbf 1"
            r" = BN_{-\gamma,\alpha}(h)" + tag,
            expr=bn_a(h, -gamma),
            source=bn_a(-h),
        ),
        Step(
            "statement_scale",
            r"BN_{\gamma,\alpha}(X(cw)) = BN_{\gamma,\alpha}(Xw)" + tag,
            expr=bn_a(X * w),
            source=bn_a(X * (c * w)),
        ),
        Step(
            "statement_sign",
            r"BN_{\gamma,\alpha}(X(-w)) = BN_{-\gamma,\alpha}(Xw)" + tag,
            expr=bn_a(X * w, -gamma),
            source=bn_a(X * (-w)),
        ),
    )
    return Derivation(
        f"BN scale invariance and sign flip (n={size}, d={dim})", steps
    ).scoped(instance_scope(n=size, d=dim)).titled(TITLES)


def shift_invariance(size: int = 3, dim: int = 2) -> Derivation:
    r"""BN is invariant to shifting the data mean, :math:`X \to X + \mathbf 1 b^T`.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    .. math::
        (X + \mathbf 1 b^T)w = Xw + (b^Tw)\mathbf 1,\quad C\mathbf 1 = 0
        \;\Rightarrow\; BN((X+\mathbf 1b^T)w) = BN(Xw).

    :math:`C\mathbf 1 = 0` is proved for generic ``n``; the rest at ``size``.

    Parameters
    ----------
    size, dim : int
        ``n`` in 2..8 and ``d`` in 1..5 of the explicit symbolic data.
    """
    size, dim = (
        check_size("size", size, range(2, 9)),
        check_size("dim", dim, range(1, 6)),
    )
    X, w, b, h = (
        matrix("x", size, dim),
        vector("w", dim),
        vector("b", dim),
        vector("h", size),
    )
    C, one = centering(size), ones(size)
    tag = rf"\quad(n={size},\ d={dim})"
    shifted = X + one * b.T
    steps = (
        Step(
            "expand_shift",
            r"(X + \mathbf 1 b^T)w = Xw + (b^Tw)\mathbf 1" + tag,
            expr=X * w + (b.T * w)[0, 0] * one,
            source=shifted * w,
        ),
        centering_lemmas().step("C1_zero_generic"),
        Step(
            "centre_kills_shift",
            r"C(h + \tau\mathbf 1) = Ch + \tau C\mathbf 1 = Ch" + tag,
            expr=C * h,
            source=C * (h + z * one),
        ),
        Step(
            "statement_shift",
            r"BN_{\gamma,\alpha}((X + \mathbf 1 b^T)w) = BN_{\gamma,\alpha}(Xw)" + tag,
            expr=bn_a(X * w),
            source=bn_a(shifted * w),
        ),
    )
    return Derivation(f"BN data-shift invariance (n={size}, d={dim})", steps).scoped(
        instance_scope(n=size, d=dim)
    ).titled(TITLES)


def convention_conversion(size: int = 3) -> Derivation:
    r"""Derive :math:`BN^{std} = \sqrt n\,BN^A`, :math:`\beta_A = \beta_{std}/\sqrt n`.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    :math:`\operatorname{std}(h) = \|Ch\|/\sqrt n` gives
    :math:`BN^{std}_{\gamma,\alpha}(h) = \sqrt n\,BN_{\gamma,\alpha}(h)`.  A std
    neuron :math:`(BN^{std}(h))_+ v = (BN(h))_+ (\sqrt n v)`, and its rescaled
    penalty :math:`\beta_{std}\|[\gamma;\alpha]\||v|` equals
    :math:`(\beta_{std}/\sqrt n)\|[\gamma;\alpha]\|\,|\sqrt n v|`: the convention-A
    problem with :math:`\beta_A = \beta_{std}/\sqrt n` (paper.md §1.1).

    Parameters
    ----------
    size : int
        ``n`` in 2..8 of the explicit symbolic pre-activation.

    Examples
    --------
    >>> convention_conversion().prove()
    {'std_is_scaled_norm': 'zero', 'conversion': 'zero', 'relu_homogeneous': 'zero',
     'beta_conversion': 'zero'}
    """
    h = vector("h", check_size("size", size, range(2, 9)))
    root = sp.sqrt(size)
    mean = sum(h, sp.S.Zero) / size
    beta_std, scale = sp.symbols("beta_std a", positive=True)
    tag = rf"\quad(n={size})"
    steps = (
        Step(
            "std_is_scaled_norm",
            r"\operatorname{std}(h) = \sqrt{\tfrac1n\sum_i (h_i-\bar h)^2} ="
            r" \|Ch\|_2/\sqrt n" + tag,
            expr=norm(centering(size) * h) / root,
            source=sp.sqrt(sum(((e - mean) ** 2 for e in h), sp.S.Zero) / size),
        ),
        Step(
            "conversion",
            r"BN^{std}_{\gamma,\alpha}(h) = \gamma\frac{\sqrt n\,Ch}{\|Ch\|} +"
            r" \alpha\mathbf 1"
            r" = \sqrt n\,BN_{\gamma,\alpha}(h)" + tag,
            expr=root * bn_a(h),
            source=bn_std(h),
        ),
        Step(
            "relu_homogeneous",
            r"(\sqrt n\,x)_+\,v = (x)_+\,(\sqrt n\,v)",
            expr=relu(z) * (root * v),
            source=relu(root * z) * v,
        ),
        Step(
            "beta_conversion",
            r"\beta_{std}\,\|[\gamma;\alpha]\|\,|v| = \frac{\beta_{std}}{\sqrt n}\,"
            r"\|[\gamma;\alpha]\|\,|\sqrt n\,v|",
            expr=(beta_std / root) * scale * sp.Abs(root * v),
            source=beta_std * scale * sp.Abs(v),
        ),
    )
    return Derivation(f"BN convention conversion std <-> A (n={size})", steps).scoped(
        instance_scope(n=size)
    ).titled(TITLES)


_BETA_STD, _SCALE = sp.symbols("beta_std a", positive=True)


def _h(q: sp.Expr) -> sp.Expr:
    return h_[q]


def _xw(q: sp.Expr, weights: sp.IndexedBase = w_, factor: sp.Expr = 1) -> sp.Expr:
    r"""Return :math:`\sum_{l=1}^d x_{ql}\,(\text{factor}\cdot w_l)` (generic ``d``)."""
    return sp.Sum(X_[q, l] * (factor * weights[l]), (l, 1, d))


def scale_invariance_generic() -> Derivation:
    r"""Scale invariance and sign flip of BN for *every* ``n`` and ``d`` (entry ``i``).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    With :math:`h_q = (Xw)_q = \sum_l x_{ql}w_l`, entry ``i`` of BN is written with
    sums over ``1..n``; the proof splits the sums and pulls the constant ``c``
    out (no fixed size is used).
    """
    return Derivation(
        "BN scale invariance and sign flip, generic n and d",
        (
            Step(
                "linearity_generic",
                r"(X(cw))_i = \sum_{l=1}^d x_{il}\,c\,w_l = c\,(Xw)_i"
                r"\quad(\text{every } d)",
                expr=c * _xw(i),
                source=_xw(i, factor=c),
            ),
            Step(
                "scale_generic",
                r"BN_{\gamma,\alpha}(ch)_i = \gamma\frac{c(h_i-\bar h)}"
                r"{\sqrt{\sum_j c^2(h_j-\bar h)^2}} + \frac{\alpha}{\sqrt n}"
                r" = BN_{\gamma,\alpha}(h)_i\quad(\text{every } n)",
                expr=bn_a_entry(_h),
                source=bn_a_entry(lambda q: c * h_[q]),
            ),
            Step(
                "statement_scale_generic",
                r"BN_{\gamma,\alpha}(X(cw))_i = BN_{\gamma,\alpha}(Xw)_i"
                r"\quad(\text{every } n, d)",
                expr=bn_a_entry(_xw),
                source=bn_a_entry(lambda q: _xw(q, factor=c)),
            ),
            Step(
                "statement_sign_generic",
                r"BN_{\gamma,\alpha}(X(-w))_i = BN_{-\gamma,\alpha}(Xw)_i"
                r"\quad(\text{every } n, d)",
                expr=bn_a_entry(_xw, -gamma),
                source=bn_a_entry(lambda q: _xw(q, factor=-1)),
            ),
            Step(
                "sign_generic",
                r"BN_{\gamma,\alpha}(-h)_i = BN_{-\gamma,\alpha}(h)_i"
                r"\quad(\text{every } n)",
                expr=bn_a_entry(_h, -gamma),
                source=bn_a_entry(lambda q: -h_[q]),
            ),
        ),
    ).scoped(GENERAL).titled(TITLES)


def shift_invariance_generic() -> Derivation:
    r"""Data-shift invariance of BN for every ``n`` and ``d`` (entry ``i``).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    :math:`((X+\mathbf 1b^T)w)_q = (Xw)_q + \tau`, :math:`\tau = b^Tw` independent
    of ``q``; the mean absorbs :math:`\tau`, so every centred entry is unchanged.
    """
    tau = sp.Symbol("tau", real=True)
    return Derivation(
        "BN data-shift invariance, generic n and d",
        (
            Step(
                "expand_shift_generic",
                r"((X+\mathbf 1b^T)w)_i = \sum_l (x_{il}+b_l)w_l = (Xw)_i + b^Tw"
                r"\quad(\text{every } d)",
                expr=_xw(i) + sp.Sum(b_[l] * w_[l], (l, 1, d)),
                source=sp.Sum((X_[i, l] + b_[l]) * w_[l], (l, 1, d)),
            ),
            Step(
                "shift_generic",
                r"BN_{\gamma,\alpha}(h + \tau\mathbf 1)_i = BN_{\gamma,\alpha}(h)_i"
                r"\quad(\overline{h+\tau} = \bar h + \tau;\ \text{every } n)",
                expr=bn_a_entry(_h),
                source=bn_a_entry(lambda q: h_[q] + tau),
            ),
        ),
    ).scoped(GENERAL).titled(TITLES)


def convention_conversion_generic() -> Derivation:
    r""":math:`BN^{std}(h)_i = \sqrt n\,BN(h)_i` for every ``n``.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    :math:`\operatorname{std}(h) = \sqrt{\tfrac1n\sum_j(h_j-\bar h)^2}
    = \|Ch\|/\sqrt n`.
    """
    return Derivation(
        "BN convention conversion, generic n",
        (
            Step(
                "conversion_generic",
                r"BN^{std}_{\gamma,\alpha}(h)_i = \gamma\frac{h_i-\bar h}"
                r"{\sqrt{\frac1n\sum_j (h_j-\bar h)^2}} + \alpha = \sqrt n\,"
                r"BN_{\gamma,\alpha}(h)_i\quad(\text{every } n)",
                expr=sp.sqrt(n) * bn_a_entry(_h),
                source=bn_std_entry(_h),
            ),
            Step(
                "relu_homogeneous_generic",
                r"(\sqrt n\,x)_+\,v = (x)_+\,(\sqrt n\,v)\quad(\text{every } n)",
                expr=relu(z) * (sp.sqrt(n) * v),
                source=relu(sp.sqrt(n) * z) * v,
            ),
            Step(
                "beta_conversion_generic",
                r"\beta_{std}\,\|[\gamma;\alpha]\|\,|v| = \frac{\beta_{std}}"
                r"{\sqrt n}\,\|[\gamma;\alpha]\|\,|\sqrt n\,v|\quad(\text{every } n)",
                expr=(_BETA_STD / sp.sqrt(n)) * _SCALE * sp.Abs(sp.sqrt(n) * v),
                source=_BETA_STD * _SCALE * sp.Abs(v),
            ),
        ),
    ).scoped(GENERAL).titled(TITLES)
