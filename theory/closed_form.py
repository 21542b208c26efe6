r"""Closed forms of the high-dimensional regime (paper.md R2, R3; §6 items 13, 15).

When :math:`\operatorname{rank}(CX) = n-1`, :math:`U'` is orthogonal and the
rescaled problem becomes
:math:`\min_{a,b\ge0}\tfrac12\|a-b-y\|^2 + \beta(\|a\|+\|b\|)`, solved by
two-sided group soft-thresholding:
:math:`a = (1-\beta/\|y_+\|)_+\,y_+`, :math:`b = (1-\beta/\|y_-\|)_+\,y_-`, value
:math:`h_\beta(\|y_+\|)+h_\beta(\|y_-\|)`.

The KKT conditions are checked *per coordinate* for generic norms
:math:`P = \|y_+\|`, :math:`M = \|y_-\|` (a coordinate is in
:math:`\operatorname{supp} y_+`, in :math:`\operatorname{supp} y_-`, or zero), so the
proof holds for every ``n``; each of the four cases
(:math:`P \gtrless \beta`, :math:`M \gtrless \beta`) is encoded exactly:
active :math:`P = \beta(1+\delta)`, inactive :math:`P = \beta/(1+\delta)`,
:math:`\delta>0`.
"""

from __future__ import annotations

import dataclasses
import itertools

import sympy as sp

from .bn_scaling import centering_lemmas
from .derivation import GENERAL, Derivation, Step, instance_scope
from .rewrite import Rewrite
from .svd_facts import (
    C_,
    CENTRED_SVD,
    RANK_N_MINUS_1,
    SIGMA_INVERTIBLE,
    U_,
    V_,
    V_ORTHONORMAL,
    Sigma_,
    X_mat,
    column,
)
from .symbols import (
    K,
    beta,
    bn_a_entry,
    centering,
    i,
    j,
    k,
    l,
    mean_generic,
    n,
    norm,
    ones,
    relu,
    vector,
)
from .symbols import bn_a as _bn_a
from .whitening import svd_family

__all__ = [
    "highdim_kkt",
    "highdim_optimum",
    "highdim_weights",
    "highdim_weights_general",
    "huber_h",
    "onehot_closed_form",
    "onehot_closed_form_general",
]

_p, _m = sp.symbols("p m", positive=True)  # one entry of y_+ and of y_-
_dp, _dm = sp.symbols("delta_p delta_m", positive=True)


def huber_h(t: sp.Expr, b: sp.Expr = beta) -> sp.Expr:
    r"""Return the Huber-like :math:`h_\beta(t)`.

    :math:`t^2/2` for :math:`t\le\beta`, else :math:`\beta t-\beta^2/2`.

    Parameters
    ----------
    t, b : sympy.Expr
        Argument and threshold :math:`\beta`.

    Returns
    -------
    sympy.Piecewise

    Examples
    --------
    >>> import sympy as sp
    >>> huber_h(sp.Integer(3), sp.Integer(1)), huber_h(sp.Rational(1, 2), sp.Integer(1))
    (5/2, 1/8)
    """
    return sp.Piecewise((t**2 / 2, t <= b), (b * t - b**2 / 2, True))


def highdim_optimum(pos_norm: sp.Expr, neg_norm: sp.Expr, b: sp.Expr = beta) -> sp.Expr:
    r""":math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`.

    Parameters
    ----------
    pos_norm, neg_norm, b : sympy.Expr
        :math:`\|y_+\|`, :math:`\|y_-\|` and :math:`\beta`.

    Returns
    -------
    sympy.Expr

    Examples
    --------
    >>> import sympy as sp
    >>> highdim_optimum(sp.Integer(3), sp.Integer(4), sp.Integer(1))
    6
    """
    return huber_h(pos_norm, b) + huber_h(neg_norm, b)


def _case_norm(active: bool, delta: sp.Symbol) -> sp.Expr:
    return beta * (1 + delta) if active else beta / (1 + delta)


def _kkt_case(active_p: bool, active_m: bool) -> tuple[Step, ...]:
    """KKT steps for one of the four cases; coordinates of type +, -, 0."""
    P, M = _case_norm(active_p, _dp), _case_norm(active_m, _dm)
    shrink_a = 1 - beta / P if active_p else sp.S.Zero
    shrink_b = 1 - beta / M if active_m else sp.S.Zero
    g_a = _p / P if active_p else _p / beta  # subgradient of ||a|| on supp y_+
    g_b = _m / M if active_m else _m / beta
    # coordinate types: (y_i, a_i, b_i, g_a_i, g_b_i)
    coords = {
        "+": (_p, shrink_a * _p, 0, g_a, 0),
        "-": (-_m, 0, shrink_b * _m, 0, g_b),
        "0": (0, 0, 0, 0, 0),
    }
    mu_a = {k: a - b - yi + beta * ga for k, (yi, a, b, ga, _) in coords.items()}
    mu_b = {k: -(a - b - yi) + beta * gb for k, (yi, a, b, _, gb) in coords.items()}
    tag = f"P{'>' if active_p else '<'}beta,M{'>' if active_m else '<'}beta"
    case = (
        f"(||y+|| {'>' if active_p else '<'} beta, "
        f"||y-|| {'>' if active_m else '<'} beta)"
    )
    note = (
        "active: ||y_+|| = beta(1+delta_p); inactive: ||y_+|| = beta/(1+delta_p);"
        " likewise for y_-"
    )
    mus = sp.Matrix([mu_a[k] for k in coords] + [mu_b[k] for k in coords])
    value = ((1 - shrink_a) ** 2 * P**2 + (1 - shrink_b) ** 2 * M**2) / 2 + beta * (
        shrink_a * P + shrink_b * M
    )
    fit_sq = shrink_a**2 * P**2 + shrink_b**2 * M**2
    return (
        Step(
            f"multipliers_{tag}",
            r"\mu_a = a-b-y+\beta g_a,\ \mu_b = -(a-b-y)+\beta g_b"
            r"\ \text{on coordinates of type } (+,-,0)",
            relation=">=",
            title=f"the multipliers are non-negative {case}",
            note=note,
            expr=sp.zeros(6, 1),
            source=mus,
        ),
        Step(
            f"complementarity_{tag}",
            r"\mu_{a,i}\,a_i = 0,\ \mu_{b,i}\,b_i = 0",
            title=f"complementary slackness {case}",
            note=note,
            expr=sp.zeros(6, 1),
            source=sp.Matrix(
                [mu_a[k] * coords[k][1] for k in coords]
                + [mu_b[k] * coords[k][2] for k in coords]
            ),
        ),
        Step(
            f"subgradient_norm_{tag}",
            r"1 - \|g_a\|^2 \ge 0,\ 1 - \|g_b\|^2 \ge 0"
            r"\quad(\|g_a\|^2 = \sum_{+} g_{a,i}^2 = (g_{a,i}/p)^2P^2)",
            relation=">=",
            title=f"the subgradients have norm at most 1 {case}",
            note=note,
            expr=sp.zeros(2, 1),
            source=sp.Matrix([1 - (g_a / _p) ** 2 * P**2, 1 - (g_b / _m) ** 2 * M**2]),
        ),
        Step(
            f"primal_feasible_{tag}",
            r"a = (1-\beta/P)_+\,y_+ \ge 0,\ b \ge 0",
            relation=">=",
            title=f"the weights are feasible {case}",
            note=note,
            expr=sp.zeros(2, 1),
            source=sp.Matrix([shrink_a, shrink_b]),
        ),
        Step(
            f"value_{tag}",
            r"\tfrac12\|a-b-y\|^2 + \beta(\|a\|+\|b\|) = h_\beta(P) + h_\beta(M)",
            title=f"the primal value is h(||y+||) + h(||y-||) {case}",
            note=note,
            expr=highdim_optimum(P, M),
            source=value,
        ),
        Step(
            f"dual_value_{tag}",
            r"v = y-\hat y:\ -\tfrac12\|v-y\|^2+\tfrac12\|y\|^2 = "
            r"\tfrac12(P^2+M^2-\|\hat y\|^2) = h_\beta(P)+h_\beta(M)",
            title=f"the dual value is the same {case}",
            note=note,
            expr=highdim_optimum(P, M),
            source=(P**2 + M**2 - fit_sq) / 2,
        ),
        Step(
            f"dual_feasible_{tag}",
            r"\max_{\|s\|\le1}|v^T(U's)_+| = \max(\|v_+\|,\|v_-\|)\le\beta"
            r"\quad(U'\ \text{orthogonal})",
            relation=">=",
            title=f"the dual point is feasible {case}",
            note=note,
            expr=sp.zeros(2, 1),
            source=sp.Matrix(
                [
                    beta**2 - (1 - shrink_a) ** 2 * P**2,
                    beta**2 - (1 - shrink_b) ** 2 * M**2,
                ]
            ),
        ),
    )


def highdim_kkt() -> Derivation:
    r"""KKT certificate of the R2 closed form in all four cases (generic ``n``).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    Stationarity :math:`a-b-y+\beta g_a-\mu_a = 0`, :math:`-(a-b-y)+\beta g_b-\mu_b=0`
    with :math:`g\in\partial\|\cdot\|`, multipliers :math:`\mu\ge0` of
    :math:`a,b\ge0`, complementarity, and equal primal and dual values with
    a feasible dual point :math:`v = y - \hat y` (strong duality).
    """
    steps: tuple[Step, ...] = ()
    for active_p, active_m in itertools.product((True, False), repeat=2):
        steps += _kkt_case(active_p, active_m)
    return Derivation(
        "R2 closed form: KKT conditions and strong duality (generic n)", steps
    ).scoped(GENERAL)


def highdim_weights() -> Derivation:
    r"""Derive the R2 neuron for a target :math:`t\ge0` (SVD family, ``n=3``, rank 2).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    :math:`w = V\Sigma^{-1}U^Tt` gives :math:`CXw = UU^Tt = Ct` (rank ``n-1``), and with
    :math:`\kappa = \sqrt{\|t\|-\beta}`,
    :math:`\gamma = \kappa\|Ct\|/\|t\|`,
    :math:`\alpha = \kappa\,\mathbf 1^Tt/(\sqrt n\|t\|)`,
    :math:`v=\kappa`: :math:`(BN_{\gamma,\alpha}(Xw))_+v = (1-\beta/\|t\|)\,t` and
    :math:`\tfrac\beta2(\gamma^2+\alpha^2+v^2) = \beta(\|t\|-\beta)`.
    """
    fam = svd_family()
    size = 3
    t = vector("t", size, positive=True)
    kappa = sp.Symbol("kappa", positive=True)
    N = norm(t)
    b_of_kappa = N - kappa**2  # beta = ||t|| - kappa^2 < ||t||: the neuron is active
    ct = centering(size) * t
    g = kappa * norm(ct) / N
    a = kappa * (ones(size).T * t)[0, 0] / (sp.sqrt(size) * N)
    w = fam.V * sp.diag(*fam.sigma).inv() * fam.U.T * t
    lemmas = centering_lemmas()
    steps = (
        Step(
            "pseudo_inverse",
            r"CXw = U\Sigma V^TV\Sigma^{-1}U^Tt = UU^Tt = Ct\quad(\operatorname{rank}"
            r" CX = n-1)",
            expr=ct,
            source=centering(size) * fam.X * w,
        ),
        lemmas.step("ones_norm_generic"),
        Step(
            "pythagoras",
            r"\|Ct\|^2 + (\mathbf 1^Tt)^2/n = \|t\|^2\quad(n=3)",
            expr=N**2,
            source=norm(ct) ** 2 + (ones(size).T * t)[0, 0] ** 2 / size,
        ),
        Step(
            "bn_output",
            r"BN_{\gamma,\alpha}(Xw) = \frac{\kappa}{\|t\|}\Big(Ct + "
            r"\frac{\mathbf 1^Tt}{n}\mathbf 1\Big) = \frac{\kappa}{\|t\|}\,t",
            expr=kappa * t / N,
            source=_bn_a(t, g, a),
        ),
        Step(
            "prediction",
            r"(BN_{\gamma,\alpha}(Xw))_+\,\kappa = \frac{\kappa^2}{\|t\|}t = "
            r"(1-\beta/\|t\|)\,t",
            expr=(1 - b_of_kappa / N) * t,
            source=(kappa * t / N).applyfunc(relu) * kappa,
        ),
        Step(
            "penalty",
            r"\tfrac\beta2(\gamma^2+\alpha^2+v^2) = \beta\kappa^2 = \beta(\|t\|-\beta)",
            expr=beta * (N - b_of_kappa),
            source=beta / 2 * (g**2 + a**2 + kappa**2),
        ),
    )
    return Derivation(
        "R2 closed-form weights (explicit SVD family, n=3, rank 2)", steps
    ).scoped(instance_scope(n=3, r=2))


def highdim_weights_general() -> Derivation:
    r"""Derive the R2 neuron for a target :math:`t\ge0`, every ``n`` (rank ``n-1``).

    Returns
    -------
    Derivation
        Every step ``general``: the pseudo-inverse step as a matrix
        expression with the named hypotheses (centred SVD, :math:`V^TV = I`,
        :math:`UU^T = C` when :math:`\operatorname{rank} CX = n-1`), the rest
        with sums over ``1..n`` (:math:`t_i` one entry, :math:`\kappa^2 =
        \|t\|-\beta`).

    Examples
    --------
    >>> set(highdim_weights_general().prove().values())
    {'zero'}
    """
    t_ = sp.IndexedBase("t", positive=True)
    entry = lambda a: t_[a]  # noqa: E731
    kappa = sp.Symbol("kappa", positive=True)
    total = sp.Sum(t_[k], (k, 1, n))
    N = sp.sqrt(sp.Sum(t_[j] ** 2, (j, 1, n)))
    ct_sq = sp.Sum((t_[j] - mean_generic(entry)) ** 2, (j, 1, n))
    g = kappa * sp.sqrt(ct_sq) / N
    a = kappa * total / (sp.sqrt(n) * N)
    t_vec = column("t", n)
    t_i, t_norm = sp.symbols("t_i T", positive=True)  # one entry and ||t||
    steps = (
        Step(
            "pseudo_inverse",
            r"CXw = U\Sigma V^TV\Sigma^{-1}U^Tt = UU^Tt = Ct,\quad "
            r"w = V\Sigma^{-1}U^Tt",
            title="choose the weights by the pseudo-inverse",
            expr=C_ * t_vec,
            source=C_ * X_mat * V_ * Sigma_.I * U_.T * t_vec,
            hypotheses=(CENTRED_SVD, V_ORTHONORMAL, SIGMA_INVERTIBLE, RANK_N_MINUS_1),
        ),
        Step(
            "pythagoras",
            r"\|Ct\|^2 + (\mathbf 1^Tt)^2/n = \sum_j(t_j-\bar t)^2 + "
            r"\tfrac1n\big(\sum_j t_j\big)^2 = \|t\|^2",
            title="split t into its centred part and its mean",
            expr=N**2,
            source=ct_sq + total**2 / n,
        ),
        Step(
            "bn_output",
            r"BN_{\gamma,\alpha}(Ct)_i = \frac{\kappa}{\|t\|}\Big(t_i - \bar t"
            r" + \bar t\Big) = \frac{\kappa}{\|t\|}\,t_i,\quad "
            r"\gamma = \kappa\frac{\|Ct\|}{\|t\|},\ "
            r"\alpha = \kappa\frac{\mathbf 1^Tt}{\sqrt n\|t\|}",
            title="BN of the neuron reproduces t up to scale",
            expr=kappa * t_[i] / N,
            source=bn_a_entry(entry, g, a),
        ),
        Step(
            "prediction",
            r"\Big(\frac{\kappa}{\|t\|}t_i\Big)_+\,\kappa = "
            r"\frac{\kappa^2}{\|t\|}t_i = (1-\beta/\|t\|)\,t_i,\quad "
            r"\beta = \|t\|-\kappa^2",
            title="the neuron predicts the soft-thresholded target",
            expr=(1 - (t_norm - kappa**2) / t_norm) * t_i,
            source=relu(kappa * t_i / t_norm) * kappa,
        ),
        Step(
            "penalty",
            r"\tfrac\beta2(\gamma^2+\alpha^2+v^2) = \tfrac\beta2\,\kappa^2"
            r"\Big(\frac{\|Ct\|^2 + (\mathbf 1^Tt)^2/n}{\|t\|^2} + 1\Big) = "
            r"\beta\kappa^2 = \beta(\|t\|-\beta)",
            title="its weight decay",
            expr=beta * kappa**2,
            source=beta / 2 * (g**2 + a**2 + kappa**2),
        ),
    )
    return Derivation("R2 closed-form weights, every n", steps).scoped(GENERAL)


def onehot_closed_form() -> Derivation:
    r"""One-hot vector output: :math:`p^* = \sum_k h_\beta(\sqrt{n_k})` (R3).

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    Class columns :math:`y_k` have disjoint supports, so
    :math:`Y^TY = \operatorname{diag}(n_k)` and :math:`\sigma_k(Y) = \sqrt{n_k}`.  One
    neuron per class (the R2 neuron with :math:`t = y_k`,
    :math:`v_k = \sqrt{\sqrt{n_k}-\beta}\,e_k`) attains
    :math:`\sum_k h_\beta(\sqrt{n_k})`, which equals the nuclear-norm lower
    bound :math:`\sum_k h_\beta(\sigma_k(Y))`; hence it is optimal.  Explicit
    example: ``n = 6`` samples in classes of sizes ``(2, 3, 1)``; the
    per-class value is proved for a generic class size.
    """
    labels = (0, 0, 1, 1, 1, 2)
    Y = sp.Matrix(len(labels), 3, lambda r, col: int(labels[r] == col))
    sizes = [labels.count(k) for k in range(3)]
    sigma = [
        sp.sqrt(ev) for ev, mult in (Y.T * Y).eigenvals().items() for _ in range(mult)
    ]
    nk = sp.Symbol("n_k", positive=True)
    steps = (
        Step(
            "gram",
            r"Y^TY = \operatorname{diag}(n_1,\dots,n_K)\quad(\text{labels }"
            r" 0,0,1,1,1,2)",
            expr=sp.diag(*sizes),
            source=Y.T * Y,
        ),
        Step(
            "singular_values",
            r"\sigma_k(Y) = \sqrt{n_k}",
            expr=sp.Matrix(sorted(sp.sqrt(s) for s in sizes)),
            source=sp.Matrix(sorted(sigma)),
        ),
    )
    for active in (True, False):
        root = _case_norm(active, _dp)  # sqrt(n_k), either side of beta
        shrink = 1 - beta / root if active else sp.S.Zero
        tag = "active" if active else "inactive"
        steps += (
            Step(
                f"class_value_{tag}",
                r"\tfrac12\|(1-c_k)y_k\|^2 + \beta\,c_k\sqrt{n_k} = "
                r"h_\beta(\sqrt{n_k}),\ c_k = (1-\beta/\sqrt{n_k})_+",
                note=f"{tag}: sqrt(n_k) = beta*(1+delta)^(+-1)",
                expr=huber_h(root),
                source=(1 - shrink) ** 2 * root**2 / 2 + beta * shrink * root,
            ),
        )
    steps += (
        Step(
            "lower_bound_attained",
            r"\sum_k h_\beta(\sigma_k(Y)) = \sum_k h_\beta(\sqrt{n_k})",
            expr=sum((huber_h(sp.sqrt(s)) for s in sizes), sp.S.Zero),
            source=sum((huber_h(s) for s in sigma), sp.S.Zero),
        ),
        Step(
            "class_norm",
            r"\|y_k\|_2 = \sqrt{n_k}\quad(\text{generic } n_k)",
            expr=sp.sqrt(nk),
            source=sp.sqrt(sp.Sum(1, (sp.Symbol("i", integer=True), 1, nk)).doit()),
        ),
    )
    general = {"class_value_active", "class_value_inactive", "class_norm"}
    steps = tuple(
        dataclasses.replace(st, scope=GENERAL) if st.name in general else st
        for st in steps
    )
    return Derivation("one-hot vector output closed form", steps).scoped(
        instance_scope(n=6, K=3)
    )


#: one-hot labels: entries of ``Y`` (n x K) are 0/1 with one 1 per row.
Y_onehot = sp.IndexedBase("Y", nonnegative=True)
ONE_HOT_ROWS = Rewrite(
    "each row of Y has a single 1",
    r"Y_{ik}Y_{il} = \delta_{kl}\,Y_{ik}",
    Y_onehot[i, k] * Y_onehot[i, l],
    sp.KroneckerDelta(k, l) * Y_onehot[i, k],
)
ZERO_ONE = Rewrite(
    "the entries of Y are 0 or 1",
    r"Y_{ik}^2 = Y_{ik}",
    Y_onehot[i, k] ** 2,
    Y_onehot[i, k],
)


def onehot_closed_form_general() -> Derivation:
    r"""One-hot vector output for every ``n`` and number of classes ``K`` (R3).

    Returns
    -------
    Derivation
        Every step ``general``: the Gram matrix of one-hot labels with sums over
        ``1..n`` and the named hypotheses :data:`ONE_HOT_ROWS` and
        :data:`ZERO_ONE`; its eigen-pairs with Kronecker deltas over ``1..K``;
        the per-class value for a generic class size (both cases
        :math:`\sqrt{n_k}\gtrless\beta`).

    Examples
    --------
    >>> onehot_closed_form_general().scope_counts()
    {'general': 6, 'instance': 0}
    """
    sizes = sp.IndexedBase("n", positive=True)  # n_k, the class sizes
    sigma = sp.IndexedBase("sigma", positive=True)
    class_size = sp.Sum(Y_onehot[i, k], (i, 1, n))
    singular = Rewrite(
        "singular values of Y (step 2)",
        r"\sigma_k = \sqrt{n_k}",
        sigma[k],
        sp.sqrt(sizes[k]),
    )
    steps = (
        Step(
            "gram",
            r"(Y^TY)_{kl} = \sum_{i=1}^n Y_{ik}Y_{il} = \delta_{kl}\sum_i Y_{ik} = "
            r"\delta_{kl}\,n_k\quad(\text{every } n)",
            title="the Gram matrix of one-hot labels is diagonal",
            expr=sp.KroneckerDelta(k, l) * class_size,
            source=sp.Sum(Y_onehot[i, k] * Y_onehot[i, l], (i, 1, n)),
            hypotheses=(ONE_HOT_ROWS,),
        ),
        Step(
            "eigenpairs",
            r"(Y^TY\,e_j)_k = \sum_{l=1}^K \delta_{kl}n_k\,\delta_{lj} = n_j\,"
            r"(e_j)_k\ \Rightarrow\ \sigma_j(Y) = \sqrt{n_j}\quad(\text{every } K)",
            title="its eigenvalues are the class sizes",
            expr=sizes[j] * sp.KroneckerDelta(k, j),
            source=sp.Sum(
                sp.KroneckerDelta(k, l) * sizes[k] * sp.KroneckerDelta(l, j), (l, 1, K)
            ),
        ),
    )
    for active in (True, False):
        root = _case_norm(active, _dp)  # sqrt(n_k), either side of beta
        shrink = 1 - beta / root if active else sp.S.Zero
        tag = "active" if active else "inactive"
        steps += (
            Step(
                f"class_value_{tag}",
                r"\tfrac12\|(1-c_k)y_k\|^2 + \beta\,c_k\sqrt{n_k} = "
                r"h_\beta(\sqrt{n_k}),\ c_k = (1-\beta/\sqrt{n_k})_+",
                title=f"the value of one class ({tag} neuron)",
                note=f"{tag}: sqrt(n_k) = beta*(1+delta)^(+-1)",
                expr=huber_h(root),
                source=(1 - shrink) ** 2 * root**2 / 2 + beta * shrink * root,
            ),
        )
    steps += (
        Step(
            "class_norm",
            r"\|y_k\|_2^2 = \sum_i Y_{ik}^2 = \sum_i Y_{ik} = n_k",
            title="a class column has norm sqrt(n_k)",
            expr=class_size,
            source=sp.Sum(Y_onehot[i, k] ** 2, (i, 1, n)),
            hypotheses=(ZERO_ONE,),
        ),
        Step(
            "lower_bound_attained",
            r"\sum_{k=1}^K h_\beta(\sigma_k(Y)) = \sum_{k=1}^K h_\beta(\sqrt{n_k})",
            title="the nuclear-norm lower bound is attained",
            expr=sp.Sum(huber_h(sp.sqrt(sizes[k])), (k, 1, K)),
            source=sp.Sum(huber_h(sigma[k]), (k, 1, K)),
            hypotheses=(singular,),
        ),
    )
    return Derivation("one-hot vector output closed form, every n and K", steps).scoped(
        GENERAL
    )
