"""Theory claims about the optimisation problem (paper.md §6 6, 7, 13, 15, 19; R1, R5).

Rescaling lemma, gradient geometry of GD, the dual derivation, loss
conjugates and the high-dimensional / one-hot closed forms.  Same three tiers
as :mod:`.theory_bn`: symbolic (derivation proved step by step), mp
(lambdified SymPy against independent high-precision computations) and
float64 (against :mod:`bnconvex.numerics`, imported inside the checks).
"""

from __future__ import annotations

import functools
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from bnconvex import theory
from bnconvex.theory import conjugates as conj
from bnconvex.theory.symbols import beta as beta_sym
from bnconvex.theory.symbols import lam
from bnconvex.verify.claims._theory_support import (
    bn_function,
    float_evidence,
    mp_evidence,
    mp_grad,
    mp_matrix,
    mp_whiten,
)
from bnconvex.verify.claims.theory_bn import MP_NOTE, MP_TOL, TheoryClaim
from bnconvex.verify.registry import Evidence, register
from bnconvex.verify.strategies import (
    bounded_floats,
    highdim_instances,
)
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__: list[str] = []


def _mpf(x: float) -> Any:
    return mpmath.mpf(float(x))


def _bracketed_root(f: Any, lo: float, hi: float) -> Any:
    """Find the root of a monotone ``f`` on ``[lo, hi]``: 40 bisections, then secant."""
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    sign_lo = mpmath.sign(f(lo))
    for _ in range(40):
        mid = (lo + hi) / 2
        if mpmath.sign(f(mid)) == sign_lo:
            lo = mid
        else:
            hi = mid
    return mpmath.findroot(f, (lo + hi) / 2)


def _relu(x: Any) -> Any:
    return x if x > 0 else 0 * x


def _neuron_loss_w(inst: dict[str, Any]) -> Any:
    """``L(w) = 1/2 ||(BN(Xw))_+ v - y||^2`` with the lambdified BN (mpmath)."""
    X, y = mp_matrix(inst["X"]), [_mpf(t) for t in inst["y"]]
    g, a, v = _mpf(inst["gamma"]), _mpf(inst["alpha"]), _mpf(inst["v"])
    bn = bn_function(X.rows, "mpmath")

    def loss(w: list[Any]) -> Any:
        h = X * mpmath.matrix(w)
        out = bn(*[h[i, 0] for i in range(X.rows)], g, a)
        return sum((_relu(o) * v - t) ** 2 for o, t in zip(out, y, strict=True)) / 2

    return loss


def _neuron_loss_q(inst: dict[str, Any], U: mpmath.matrix) -> Any:
    r"""``L(q) = 1/2 ||(gamma Uq/||q|| + alpha 1/sqrt n)_+ v - y||^2`` (mpmath)."""
    y = [_mpf(t) for t in inst["y"]]
    g, a, v = _mpf(inst["gamma"]), _mpf(inst["alpha"]), _mpf(inst["v"])
    n = U.rows

    def loss(q: list[Any]) -> Any:
        Uq = U * mpmath.matrix(q)
        qn = mpmath.sqrt(sum(x * x for x in q))
        out = [g * Uq[i, 0] / qn + a / mpmath.sqrt(n) for i in range(n)]
        return sum((_relu(o) * v - t) ** 2 for o, t in zip(out, y, strict=True)) / 2

    return loss


def _one_neuron(inst: dict[str, Any], scale: float = 1.0) -> Any:
    """Return the instance's neuron as a BNNetwork with ``(c gamma, c alpha, v/c)``."""
    from bnconvex.numerics.core.network import BNNetwork

    return BNNetwork(
        W=inst["w"][:, None],
        gamma=np.array([scale * inst["gamma"]]),
        alpha=np.array([scale * inst["alpha"]]),
        v=np.array([inst["v"] / scale]),
    )


@functools.lru_cache(maxsize=1)
def _am_gm_fns() -> tuple[Any, Any, Any]:
    """Lambdify (mpmath) phi(c), phi'(c) and the lemma's closed forms."""
    from bnconvex.theory.rescaling import penalty, scale_norm, vabs

    c, args = theory.symbols.c, (scale_norm, vabs, beta_sym)
    phi = penalty()
    closed = [
        vabs / scale_norm,  # c_star^2
        beta_sym * scale_norm * vabs,  # min value
        (scale_norm**2 + vabs**2) / 2 - scale_norm * vabs,  # AM-GM gap
        (scale_norm - vabs) ** 2 / 2,
    ]
    return (
        sp.lambdify([c, *args], phi, "mpmath"),
        sp.lambdify([c, *args], sp.diff(phi, c), "mpmath"),
        sp.lambdify(list(args), closed, "mpmath"),
    )


@register
class RescalingAmGm(TheoryClaim):
    """The AM-GM rescaling lemma."""

    id = "rescaling.am_gm"
    title = "Rescaling lemma: min_c of the weight decay is beta ||[gamma; alpha]|| |v|"
    title_latex = (
        r"Rescaling lemma: $\min_c$ of the weight decay is "
        r"$\beta\,\|[\gamma;\alpha]\|\,|v|$"
    )
    paper_ref = "docs/theory.md#rescaling-am_gm (R0.1)"
    statement = (
        r"\min_{c>0}\tfrac\beta2\big(c^2(\gamma^2+\alpha^2)+v^2/c^2\big) = "
        r"\beta\|[\gamma;\alpha]\|_2|v|\ \text{at}\ c^2 = |v|/\|[\gamma;\alpha]\|;"
        r"\ \tfrac12(a^2+v^2)\ge a|v|,\ = \iff a = |v|"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-10}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": (
            "brentq root of phi'(c) to xtol 1e-14 and numerics.network"
            " forward/penalty; "
            "normwise relative"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Return the AM-GM derivation (every n; scalars a, |v|, c, beta)."""
        return theory.am_gm_general()

    @staticmethod
    def _phi(inst: dict[str, Any], mod: Any) -> tuple[Any, Any, Any]:
        g, a, v, b = (mod(inst[k]) for k in ("gamma", "alpha", "v", "beta"))
        scale = (g * g + a * a) ** 0.5 if mod is float else mpmath.sqrt(g * g + a * a)
        return scale, abs(v), b

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Compare the numerical minimiser of phi (root of phi') with closed forms."""
        a, V, b = self._phi(inst, _mpf)
        phi, dphi, closed = _am_gm_fns()
        # phi'(c) is increasing in c; find its root in u = log c by bracketing
        c_star = mpmath.exp(
            _bracketed_root(lambda u: dphi(mpmath.exp(u), a, V, b), -40, 40)
        )
        argmin, min_value, gap, square = closed(a, V, b)
        value = phi(c_star, a, V, b)
        return mp_evidence(
            {
                "argmin": (c_star**2, argmin),
                "min_value": (value, min_value),
                "am_gm_gap": (gap, square),
            },
            {"c_star": c_star, "min_value": value},
            dps,
            scales={"am_gm_gap": (a * a + V * V) / 2},
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.network: output invariance under rescaling, penalty at c_star."""
        from bnconvex.numerics.core.network import forward, penalty
        from scipy.optimize import brentq

        a, V, b = self._phi(inst, float)
        c_root = brentq(
            lambda c: c * a * a - V * V / c**3, 1e-6, 1e6, xtol=1e-14, rtol=1e-15
        )
        c_star = float(np.sqrt(V / a))
        X = inst["X"]
        return float_evidence(
            {
                "forward_invariant": (
                    forward(_one_neuron(inst, inst["c"]), X),
                    forward(_one_neuron(inst), X),
                ),
                "argmin": (c_root, c_star),
                "penalty_at_c_star": (penalty(_one_neuron(inst, c_star), b), b * a * V),
            }
        )


@register
class GradientOrthogonality(TheoryClaim):
    """q^T grad_q L = 0 and w^T grad_w L = 0."""

    id = "bn.gradient_orthogonality"
    title = "The loss gradient of a BN neuron is orthogonal to its weights"
    title_latex = (
        r"The loss gradient of a BN neuron is orthogonal to its weights: "
        r"$w^T\nabla_w L = 0$"
    )
    paper_ref = "docs/theory.md#bn-gradient_orthogonality (implicit bias, mechanism)"
    statement = r"q^T\nabla_qL(q) = 0,\qquad w^T\nabla_wL(w) = 0"
    tolerances = {"mp": MP_TOL, "float64": 1e-10}
    tolerance_notes = {
        "mp": MP_NOTE
        + (
            "; |w.grad_w L| is divided by a rigorous bound of ||w|| ||grad_w L|| "
            "(|gamma v| (||r||+||y||+1) ||X||_F ||w|| / ||CXw||), likewise in q"
        ),
        "float64": (
            "w.grad_W of numerics.network.objective_and_gradient over the same bound; "
            "the analytic gradient's rounding is a few ulps of that bound"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Return Euler's identities and the chain rule for every n, d, r."""
        return theory.gradient_orthogonality_general()

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """mpmath.diff gradients in w and in whitened q; cosines with w and q."""
        w = [_mpf(t) for t in inst["w"]]
        gw = mp_grad(_neuron_loss_w(inst), w)
        U, S, Vt = mp_whiten(inst["X"])
        qm = mpmath.diag(S) * Vt * mpmath.matrix(w)
        q = [qm[k, 0] for k in range(qm.rows)]
        gq = mp_grad(_neuron_loss_q(inst, U), q)
        bound = _mpf(_gradient_bound(inst))
        h = mp_matrix(inst["X"]) * mpmath.matrix(w)
        centred = mpmath.sqrt(sum((x - sum(h) / h.rows) ** 2 for x in h))
        scale_w = (
            bound
            * mpmath.mnorm(mp_matrix(inst["X"]), "f")
            * mpmath.norm(mpmath.matrix(w))
            / centred
        )
        return mp_evidence(
            {
                "w_dot_grad_w": (_dot(w, gw), 0),
                "q_dot_grad_q": (_dot(q, gq), 0),
            },
            {"loss": _neuron_loss_w(inst)(w), "q": q},
            dps,
            scales={"w_dot_grad_w": scale_w, "q_dot_grad_q": bound},
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.network.objective_and_gradient: cos(w, grad_W)."""
        from bnconvex.numerics.core.network import objective_and_gradient

        X, w = inst["X"], inst["w"]
        _, grad = objective_and_gradient(_one_neuron(inst), X, inst["y"], inst["beta"])
        h = X @ w
        scale = (
            _gradient_bound(inst)
            * np.linalg.norm(X)
            * np.linalg.norm(w)
            / np.linalg.norm(h - h.mean())
        )
        return float_evidence(
            {"w_dot_grad_w": (float(w @ np.asarray(grad.W)[:, 0]), 0.0)},
            scales={"w_dot_grad_w": scale},
        )


def _gradient_bound(inst: dict[str, Any]) -> float:
    r"""Upper bound of :math:`\|q\|\,\|\nabla_qL\|`: :math:`|\gamma v|(\|r\|+\|y\|+1)`.

    :math:`\nabla_qL = J^T((\cdot)_+'\,v\,r)` with :math:`\|J\|\le|\gamma|/\|q\|` and
    residual :math:`r`; ``+ ||y|| + 1`` keeps the scale positive when ``r = 0``.
    """
    from bnconvex.numerics.core.bn import batch_norm

    X, w, y = inst["X"], inst["w"], inst["y"]
    r = np.maximum(batch_norm(X @ w, inst["gamma"], inst["alpha"]), 0) * inst["v"] - y
    return abs(inst["gamma"] * inst["v"]) * (
        np.linalg.norm(r) + np.linalg.norm(y) + 1.0
    )


def _dot(a: list[Any], b: list[Any]) -> Any:
    return sum(x * y for x, y in zip(a, b, strict=True))


@register
class Sigma2Preconditioning(TheoryClaim):
    """A GD step on w moves q = Sigma V^T w by exactly -eta Sigma^2 grad_q L."""

    id = "gd.sigma2_preconditioning"
    title = "GD on BN weights is GD in whitened coordinates preconditioned by Sigma^2"
    title_latex = (
        r"GD on BN weights is GD in whitened coordinates preconditioned by "
        r"$\Sigma^2$"
    )
    paper_ref = (
        "docs/theory.md#gd-sigma2_preconditioning "
        "(implicit bias, mechanism; paper: abstract)"
    )
    statement = (
        r"q(w - \eta\nabla_wL) - q(w) = -\eta\,\Sigma^2\nabla_qL,\quad q = \Sigma V^Tw"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-6}
    tolerance_notes = {
        "mp": MP_NOTE
        + (
            "; errors relative to eta sigma_1^2 |gamma v| (||r||+||y||+1)/||q||, a"
            " bound of "
            "||eta Sigma^2 grad_q L||"
        ),
        "float64": (
            "same scale as mp; grad_q L by float64 central differences (step 1e-6"
            " ||q||): truncation "
            "O(1e-12 L''') plus rounding O(eps/1e-6) ~ 1e-10, with margin"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Return the matrix-expression derivation for every d and r."""
        return theory.sigma2_preconditioning_general()

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """mpmath.diff gradients; Delta q against -eta Sigma^2 grad_q."""
        eta = _mpf(inst["eta"])
        w = [_mpf(t) for t in inst["w"]]
        gw = mp_grad(_neuron_loss_w(inst), w)
        U, S, Vt = mp_whiten(inst["X"])
        SV = mpmath.diag(S) * Vt
        qm = SV * mpmath.matrix(w)
        q = [qm[k, 0] for k in range(qm.rows)]
        gq = mp_grad(_neuron_loss_q(inst, U), q)
        dq = SV * mpmath.matrix([-eta * g for g in gw])
        want = [-eta * S[k] ** 2 * gq[k] for k in range(len(S))]
        scale = eta * S[0] ** 2 * _mpf(_gradient_bound(inst)) / mpmath.norm(qm)
        return mp_evidence(
            {"delta_q": ([dq[k, 0] for k in range(dq.rows)], want)},
            {"q": q, "sigma": S},
            dps,
            scales={"delta_q": scale},
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Numerics gradient and whitening; grad_q by central differences."""
        from bnconvex.numerics.core.network import objective_and_gradient
        from bnconvex.numerics.core.whitening import whiten

        _, grad = objective_and_gradient(
            _one_neuron(inst), inst["X"], inst["y"], inst["beta"]
        )
        wh = whiten(inst["X"])
        sigma, Vt, U = (np.asarray(t) for t in (wh.sigma, wh.Vt, wh.U))
        q = sigma * (Vt @ inst["w"])
        dq = sigma * (Vt @ (-inst["eta"] * np.asarray(grad.W)[:, 0]))
        gq = _central_grad(lambda x: _loss_q_np(inst, U, x), q)
        scale = inst["eta"] * sigma[0] ** 2 * _gradient_bound(inst) / np.linalg.norm(q)
        return float_evidence(
            {"delta_q": (dq, -inst["eta"] * sigma**2 * gq)}, scales={"delta_q": scale}
        )


def _loss_q_np(inst: dict[str, Any], U: np.ndarray, q: np.ndarray) -> float:
    out = inst["gamma"] * (U @ q) / np.linalg.norm(q) + inst["alpha"] / np.sqrt(
        U.shape[0]
    )
    return 0.5 * float(np.sum((np.maximum(out, 0) * inst["v"] - inst["y"]) ** 2))


def _central_grad(f: Any, x: np.ndarray) -> np.ndarray:
    step = 1e-6 * max(1.0, float(np.linalg.norm(x)))
    eye = np.eye(x.size)
    return np.array([(f(x + step * e) - f(x - step * e)) / (2 * step) for e in eye])


@st.composite
def _dual_instances(draw: st.DrawFn) -> dict[str, Any]:
    """Labels, a multiplier, ReLU outputs ``A >= 0`` and output weights (n<=7, m<=3)."""
    n, m = draw(st.integers(3, 7), label="n"), draw(st.integers(1, 3), label="m")

    def vec(shape: tuple[int, ...], bound: float) -> np.ndarray:
        return draw(hnp.arrays(np.float64, shape, elements=bounded_floats(bound)))

    return {
        "y": vec((n,), 2.0),
        "lam": vec((n,), 2.0),
        "A": np.abs(vec((n, m), 2.0)),
        "weights": vec((m,), 2.0),
        "beta": draw(st.floats(0.05, 1.0)),
    }


@functools.lru_cache(maxsize=16)
def _dual_objective_np(size: int) -> Any:
    v, y = theory.symbols.vector("v", size), theory.symbols.vector("y", size)
    from bnconvex.theory.primal2dual import dual_objective

    return sp.lambdify([*v, *y], dual_objective(v, y), "numpy")


@register
class DualDerivation(TheoryClaim):
    """The dual of the rescaled problem, derived step by step."""

    id = "dual.derivation"
    title = (
        "Rescaled primal -> Lagrangian -> inner minimisation -> dual with "
        "semi-infinite constraint"
    )
    title_latex = (
        r"Rescaled primal $\to$ Lagrangian $\to$ inner minimisation $\to$ dual "
        r"with a semi-infinite constraint"
    )
    paper_ref = (
        "docs/theory.md#dual-derivation "
        "(R1 dual; R5; paper: abstract, convex duality)"
    )
    statement = (
        r"d^* = \max_v -\tfrac12\|v-y\|^2+\tfrac12\|y\|^2\ \ \text{s.t.}\ "
        r"\max_{\|s\|\le1}|v^T(U's)_+|\le\beta;\quad P - D = \tfrac12\|z+v-y\|^2 + "
        r"\sum_j(\beta|v_j| - (v^Ta_j)v_j) \ge 0"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-12}
    tolerance_notes = {
        "mp": MP_NOTE + "; errors relative to 1 + ||y||^2 + ||lambda||^2 + P",
        "float64": "relative to 1 + ||y||^2 + ||v||^2; sums of O(10) terms",
    }

    def derivation(self) -> theory.Derivation:
        """Return the dual derivation for every n and m (free ReLU outputs)."""
        return theory.dual_derivation_general()

    def instances(self) -> Any:
        """Random labels, multipliers, non-negative ReLU outputs and weights."""
        return _dual_instances()

    quick_instances = instances

    @staticmethod
    def _parts(inst: dict[str, Any], mat: Any) -> tuple[Any, ...]:
        y, lam_, A, wts = (mat(inst[k]) for k in ("y", "lam", "A", "weights"))
        return y, lam_, A, wts

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Findroot for the inner z-minimum; weak-duality identity at dps."""
        y, lm, A, wts = self._parts(inst, mp_matrix)
        b = _mpf(inst["beta"])
        n = y.rows
        grad = lambda *z: [z[i] - y[i] - lm[i] for i in range(n)]  # noqa: E731
        z_star = mpmath.findroot(grad, [mpmath.mpf(0)] * n)
        inner = sum((z_star[i] - y[i]) ** 2 / 2 - lm[i] * z_star[i] for i in range(n))
        conj_sq = sp.lambdify([lam, conj.y], conj.conjugate_squared(), "mpmath")
        minus_conj = -sum(conj_sq(lm[i], y[i]) for i in range(n))
        z, dual = A * wts, -lm
        primal = mpmath.norm(z - y) ** 2 / 2 + b * sum(abs(x) for x in wts)
        dual_val = -(mpmath.norm(dual - y) ** 2) / 2 + mpmath.norm(y) ** 2 / 2
        gap = mpmath.norm(z + dual - y) ** 2 / 2 + sum(
            b * abs(wts[j]) - (dual.T * A[:, j])[0, 0] * wts[j] for j in range(wts.rows)
        )
        scale = 1 + mpmath.norm(y) ** 2 + mpmath.norm(lm) ** 2 + primal
        return mp_evidence(
            {
                "z_minimum": (inner, minus_conj),
                "weak_duality_gap": (primal - dual_val, gap),
            },
            {"inner": inner, "gap": gap},
            dps,
            scales={"z_minimum": scale, "weak_duality_gap": scale},
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.certificate.dual_objective against the lambdified dual objective."""
        from bnconvex.numerics.core.certificate import dual_objective

        y, v = inst["y"], -inst["lam"]
        want = _dual_objective_np(y.size)(*v, *y)
        return float_evidence(
            {"dual_objective": (dual_objective(y, v), want)},
            scales={"dual_objective": 1 + y @ y + v @ v},
        )


@st.composite
def _conjugate_instances(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a loss, a label and a dual point inside the conjugate's domain."""
    loss = draw(st.sampled_from(("squared", "logistic", "hinge")), label="loss")
    if loss == "squared":
        return {
            "loss": loss,
            "y": draw(bounded_floats(2.0)),
            "lam": draw(bounded_floats(2.0)),
        }
    label = draw(st.sampled_from((-1.0, 1.0)), label="y")
    u = draw(st.floats(0.02, 0.98), label="u")
    return {"loss": loss, "y": label, "lam": -label * u}


_LOSSES = {
    "squared": (conj.squared_loss, conj.conjugate_squared),
    "logistic": (conj.logistic_loss, conj.conjugate_logistic),
    "hinge": (conj.hinge_loss, conj.conjugate_hinge),
}


@functools.lru_cache(maxsize=16)
def _loss_fns(loss: str, modules: str) -> tuple[Any, Any, Any]:
    """Lambdified ``l(z, y)``, ``l*(lambda, y)`` and ``d/dz (lambda z - l(z, y))``."""
    ell, star = _LOSSES[loss]
    z = theory.symbols.z
    slope = sp.diff(lam * z - ell(), z)
    return (
        sp.lambdify([z, conj.y], ell(), modules),
        sp.lambdify([lam, conj.y], star(), modules),
        sp.lambdify([z, lam, conj.y], slope, modules),
    )


@register
class LossConjugates(TheoryClaim):
    """Conjugates of the squared, logistic and hinge losses."""

    id = "loss.conjugates"
    title = "Convex conjugates of the squared, logistic and hinge losses"
    title_latex = (
        r"Convex conjugates $\ell^*$ of the squared, logistic and hinge losses"
    )
    paper_ref = "docs/theory.md#loss-conjugates (R1 squared-loss dual, R5)"
    statement = (
        r"\ell^*_{sq}(\lambda) = \tfrac12\lambda^2+\lambda y;\ "
        r"\ell^*_{log}(\lambda) = u\log u+(1-u)\log(1-u),\ u=-y\lambda\in[0,1];\ "
        r"\ell^*_{hinge}(\lambda) = y\lambda,\ y\lambda\in[-1,0]"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-9}
    tolerance_notes = {
        "mp": MP_NOTE + "; errors relative to max(1, |l*|)",
        "float64": (
            "scipy Brent maximiser of lambda z - l(z): the value's error is"
            " quadratic in "
            "the maximiser's (~1e-8), so 1e-9 relative to max(1, |l*|) with margin"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Squared, logistic (y = +-1, u = P/(P+Q)) and hinge derivations."""
        return (
            theory.squared_derivation()
            + theory.logistic_derivation().suffixed("_logistic")
            + theory.hinge_derivation().suffixed("_hinge")
        )

    def instances(self) -> Any:
        """Return the strategy of losses, labels and interior dual points."""
        return _conjugate_instances()

    quick_instances = instances

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Compute the supremum by a bracketed root of the slope, or at the kink."""
        ell, star, slope = _loss_fns(inst["loss"], "mpmath")
        lm, y = _mpf(inst["lam"]), _mpf(inst["y"])
        objective = lambda z: lm * z - ell(z, y)  # noqa: E731
        if inst["loss"] == "hinge":
            z_star = 1 / y
            excess = max(objective(z_star + s) - objective(z_star) for s in (-1, 1))
        else:
            z_star = _bracketed_root(lambda z: slope(z, lm, y), -40, 40)
            excess = mpmath.mpf(0)
        sup = objective(z_star)
        want = star(lm, y)
        return mp_evidence(
            {"conjugate": (sup, want), "is_max": (max(excess, 0), 0)},
            {"conjugate": sup},
            dps,
            scales={"is_max": 1, "conjugate": max(1, abs(want))},
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """scipy.optimize.minimize_scalar against the lambdified closed form."""
        from scipy.optimize import minimize_scalar

        ell, star, _ = _loss_fns(inst["loss"], "numpy")
        lm, y = inst["lam"], inst["y"]
        if inst["loss"] == "hinge":
            sup = lm / y - ell(1 / y, y)
        else:
            res = minimize_scalar(
                lambda z: -(lm * z - ell(z, y)),
                bracket=(-1.0, 1.0),
                options={"xtol": 1e-12},
            )
            sup = -res.fun
        want = float(star(lm, y))
        return float_evidence(
            {"conjugate": (sup, want)}, scales={"conjugate": max(1.0, abs(want))}
        )


@functools.lru_cache(maxsize=4)
def _huber_fns(modules: str) -> tuple[Any, Any]:
    P, M, t = sp.symbols("P M t", nonnegative=True)
    return (
        sp.lambdify([P, M, beta_sym], theory.highdim_optimum(P, M), modules),
        sp.lambdify([t, beta_sym], theory.huber_h(t), modules),
    )


def _mp_r2_neuron(
    X: Any, wh: tuple[Any, list[Any], Any], t: list[Any], b: Any
) -> tuple[list[Any], Any] | None:
    """Return ``(BN(Xw))_+ kappa`` and the penalty of the R2 neuron for ``t >= 0``."""
    U, S, Vt = wh
    n = U.rows
    tn = mpmath.sqrt(sum(x * x for x in t))
    if tn <= b:
        return None
    tm = mpmath.matrix(t)
    w = Vt.T * mpmath.diag([1 / s for s in S]) * (U.T * tm)
    kappa = mpmath.sqrt(tn - b)
    mean = sum(t) / n
    g = kappa * mpmath.sqrt(sum((x - mean) ** 2 for x in t)) / tn
    a = kappa * (sum(t) / mpmath.sqrt(n)) / tn
    h = X * w
    out = bn_function(n, "mpmath")(*[h[i, 0] for i in range(n)], g, a)
    return [_relu(o) * kappa for o in out], b / 2 * (g * g + a * a + kappa * kappa)


@register
class HighdimClosedForm(TheoryClaim):
    """R2: optimal value, prediction, weights and KKT in the high-dimensional regime."""

    id = "closed_form.highdim"
    title = (
        "High-dimensional closed form: value h(||y+||) + h(||y-||), prediction, "
        "weights, KKT"
    )
    title_latex = (
        r"High-dimensional closed form: value $h_\beta(\|y_+\|) + "
        r"h_\beta(\|y_-\|)$, prediction, weights, KKT"
    )
    paper_ref = "docs/theory.md#closed_form-highdim (R2; paper: abstract, closed forms)"
    statement = (
        r"p^* = h_\beta(\|y_+\|)+h_\beta(\|y_-\|),\ \hat y = (1-\beta/\|y_+\|)_+y_+ - "
        r"(1-\beta/\|y_-\|)_+y_-\ \ (\operatorname{rank} CX = n-1)"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-9}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": (
            "numerics.closed_form network objective vs formula; w = V Sigma^-1 U^T t "
            "amplifies rounding by sigma_1/sigma_r of the perturbed generic data"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """KKT in four cases (per coordinate) and the weights, every n."""
        return theory.highdim_kkt() + theory.highdim_weights_general()

    def instances(self) -> Any:
        """Return data with rank(CX) = n - 1 (verify.strategies.highdim_instances)."""
        return highdim_instances()

    def quick_instances(self) -> Any:
        """Smaller high-dimensional instances."""
        return highdim_instances(n_range=(3, 5))

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Evaluate the R2 network in mpmath against the lambdified h-formula."""
        X, b = mp_matrix(inst["X"]), _mpf(inst["beta"])
        y = [_mpf(t) for t in inst["y"]]
        wh = mp_whiten(inst["X"])
        pred, pen = [mpmath.mpf(0)] * len(y), mpmath.mpf(0)
        for sign in (1, -1):
            t = [max(sign * x, 0) for x in y]
            neuron = _mp_r2_neuron(X, wh, t, b)
            if neuron is not None:
                pred = [p + sign * o for p, o in zip(pred, neuron[0], strict=True)]
                pen += neuron[1]
        obj = sum((p - t) ** 2 for p, t in zip(pred, y, strict=True)) / 2 + pen
        norms = [mpmath.sqrt(sum(max(s * x, 0) ** 2 for x in y)) for s in (1, -1)]
        want = _huber_fns("mpmath")[0](*norms, b)
        shrink = [(1 - b / nm if nm > b else 0) for nm in norms]
        pred_want = [shrink[0] * max(x, 0) - shrink[1] * max(-x, 0) for x in y]
        return mp_evidence(
            {"objective": (obj, want), "prediction": (pred, pred_want)},
            {"objective": obj},
            dps,
            rank=len(wh[1]),
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.closed_form.highdim_network / highdim_optimum vs the formula."""
        from bnconvex.numerics.core import closed_form as cf
        from bnconvex.numerics.core.network import forward, objective

        X, y, b = inst["X"], inst["y"], inst["beta"]
        net = cf.highdim_network(X, y, b)
        want = _huber_fns("numpy")[0](
            np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0)), b
        )
        return float_evidence(
            {
                "network_objective": (objective(net, X, y, b), want),
                "optimum": (cf.highdim_optimum(y, b), want),
                "prediction": (forward(net, X), cf.highdim_prediction(y, b)),
            },
            neurons=int(net.m),
        )


@st.composite
def _onehot_instances(draw: st.DrawFn) -> dict[str, Any]:
    """High-dimensional data with one-hot labels, every class non-empty."""
    base = draw(highdim_instances(n_range=(3, 6)))
    n = base["X"].shape[0]
    K = draw(st.integers(2, min(3, n)), label="K")
    rest = draw(
        st.lists(st.integers(0, K - 1), min_size=n - K, max_size=n - K), label="labels"
    )
    labels = np.array(list(range(K)) + rest)
    return {"X": base["X"], "Y": np.eye(K)[labels], "beta": draw(st.floats(0.05, 1.5))}


@register
class OnehotClosedForm(TheoryClaim):
    """R3: one-hot vector output, p* = sum_k h_beta(sqrt(n_k))."""

    id = "vector.onehot"
    title = "One-hot vector output: p* = sum_k h_beta(sqrt(n_k)), one neuron per class"
    title_latex = (
        r"One-hot vector output: $p^* = \sum_k h_\beta(\sqrt{n_k})$, one neuron "
        r"per class"
    )
    paper_ref = "docs/theory.md#vector-onehot (R3; paper: extension named by summaries)"
    statement = (
        r"p^* = \sum_{k=1}^K h_\beta(\sqrt{n_k})\quad"
        r"(\operatorname{rank} CX = n-1,\ Y\ \text{one-hot})"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-9}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": "as closed_form.highdim (Sigma^-1 conditioning)",
    }

    def derivation(self) -> theory.Derivation:
        """Return the one-hot derivation for every n and number of classes K."""
        return theory.onehot_closed_form_general()

    def instances(self) -> Any:
        """High-dimensional data with one-hot labels."""
        return _onehot_instances()

    quick_instances = instances

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """One R2 neuron per class in mpmath against sum_k h(sqrt(n_k))."""
        X, b, Y = mp_matrix(inst["X"]), _mpf(inst["beta"]), inst["Y"]
        wh = mp_whiten(inst["X"])
        h = _huber_fns("mpmath")[1]
        obj, want = mpmath.mpf(0), mpmath.mpf(0)
        for k in range(Y.shape[1]):
            t = [_mpf(x) for x in Y[:, k]]
            neuron = _mp_r2_neuron(X, wh, t, b)
            out, pen = neuron if neuron is not None else ([0] * len(t), 0)
            obj += sum((o - x) ** 2 for o, x in zip(out, t, strict=True)) / 2 + pen
            want += h(mpmath.sqrt(sum(t)), b)
        return mp_evidence({"objective": (obj, want)}, {"objective": obj}, dps)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.closed_form.onehot_network / onehot_optimum vs the formula."""
        from bnconvex.numerics.core import closed_form as cf
        from bnconvex.numerics.core.network import objective

        X, Y, b = inst["X"], inst["Y"], inst["beta"]
        h = _huber_fns("numpy")[1]
        want = float(sum(h(np.sqrt(Y[:, k].sum()), b) for k in range(Y.shape[1])))
        net = cf.onehot_network(X, Y, b)
        return float_evidence(
            {
                "network_objective": (objective(net, X, Y, b), want),
                "optimum": (cf.onehot_optimum(Y, b), want),
            }
        )
