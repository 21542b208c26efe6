"""Theory claims about the BN map and whitening (paper.md §6 items 1-5).

Tiers: ``symbolic`` proves every step of the claim's derivation (SymPy,
:mod:`bnconvex.theory`); ``mp`` evaluates the lambdified identities with
mpmath at the runner's precision; ``float64`` compares
:func:`bnconvex.numerics.core.bn.batch_norm` /
:func:`bnconvex.numerics.core.whitening.whiten`
with the lambdified SymPy formulas.  Numerics are imported inside the checks.
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
from bnconvex import theory
from bnconvex.theory import Derivation
from bnconvex.verify.claims._theory_support import (
    bn_function,
    float_evidence,
    mp_evidence,
    mp_matrix,
    mp_whiten,
    symbolic_evidence,
)
from bnconvex.verify.registry import Claim, Evidence, register
from bnconvex.verify.strategies import bounded_floats, perturbed_matrix
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["MP_NOTE", "MP_TOL", "bn_instances"]

#: mp-tier tolerance of the theory claims (normwise relative error), see MP_NOTE.
MP_TOL = 1e-25
#: how MP_TOL is applied, shown with every theory claim's mp tolerance.
MP_NOTE = (
    "normwise relative error; at dps D the checker also requires D - 10 agreed "
    "digits (>= 40 at dps 50), and 1e-25 bounds the lowest level (dps 30)"
)


@st.composite
def bn_instances(
    draw: st.DrawFn,
    n_range: tuple[int, int] = (3, 7),
    d_range: tuple[int, int] = (1, 4),
) -> dict[str, Any]:
    r"""Draw one neuron on a batch: ``X, w, gamma, alpha, c > 0, b, v, y, eta, beta``.

    ``X`` and ``w`` are perturbed generic bases (verify.strategies), so
    :math:`CXw \\ne 0` except on a null set, which ``assume`` discards.
    """
    n, d = (
        draw(st.integers(*n_range), label="n"),
        draw(st.integers(*d_range), label="d"),
    )
    X = draw(perturbed_matrix(n, d), label="X")
    w = draw(perturbed_matrix(d, 1), label="w")[:, 0]
    h = X @ w
    assume(
        np.linalg.norm(h - h.mean())
        > 1e-3 * (1 + np.linalg.norm(X) * np.linalg.norm(w))
    )

    def vec(size: int, bound: float) -> np.ndarray:
        return draw(hnp.arrays(np.float64, (size,), elements=bounded_floats(bound)))

    return {
        "X": X,
        "w": w,
        "gamma": 0.5 + abs(draw(bounded_floats(2.0))),
        "alpha": draw(bounded_floats(2.0)),
        "c": draw(st.floats(0.1, 10.0)),
        "b": vec(d, 3.0),
        "v": 0.3 + abs(draw(bounded_floats(2.0))),
        "y": vec(n, 2.0),
        "eta": draw(st.floats(1e-3, 0.5)),
        "beta": draw(st.floats(0.05, 1.0)),
    }


class TheoryClaim(Claim):
    """Common parts of the theory claims: symbolic tier = prove the derivation."""

    paper_tag = "DERIVED+NUM"
    tolerance_kind = {"mp": "rel", "float64": "rel"}
    tier_examples = {"mp": {"quick": 2, "default": 5, "thorough": 50}}

    def derivation(self) -> theory.Derivation:  # pragma: no cover - overridden
        """Return the claim's derivation (overridden by every claim)."""
        raise NotImplementedError

    def check_symbolic(self) -> Evidence:
        """Prove every derivation step; passed only if all are proved zero."""
        return symbolic_evidence(self.derivation())

    def instances(self) -> Any:
        """BN single-neuron instances (n in 3..7, d in 1..4)."""
        return bn_instances()

    def quick_instances(self) -> Any:
        """Smaller instances for ``--quick``."""
        return bn_instances(n_range=(3, 5), d_range=(1, 3))


def _mp_col(m: mpmath.matrix) -> list[Any]:
    return [m[i, 0] for i in range(m.rows)]


def _bn_mp(h: list[Any], g: Any, a: Any, convention: str = "a") -> list[Any]:
    return bn_function(len(h), "mpmath", convention)(*h, g, a)


def _bn_np(h: np.ndarray, g: float, a: float, convention: str = "a") -> np.ndarray:
    return np.asarray(bn_function(len(h), "numpy", convention)(*h, g, a), dtype=float)


def _scalars(inst: dict[str, Any], *names: str) -> list[Any]:
    return [mpmath.mpf(float(inst[k])) for k in names]


@register
class ScaleInvariance(TheoryClaim):
    """BN(X(cw)) = BN(Xw) for c > 0 and BN(X(-w)) = BN_{-gamma}(Xw)."""

    id = "bn.scale_invariance"
    title = "BN is invariant to positive rescaling of w and odd in (w, gamma)"
    title_latex = (
        r"BN is invariant to positive rescaling of $w$ and odd in $(w, \gamma)$"
    )
    paper_ref = "docs/theory.md#bn-scale_invariance (BN conventions, invariances)"
    statement = (
        r"BN_{\gamma,\alpha}(X(cw)) = BN_{\gamma,\alpha}(Xw)\ (c>0),\quad "
        r"BN_{\gamma,\alpha}(X(-w)) = BN_{-\gamma,\alpha}(Xw)"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-11}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": (
            "normwise relative; BN entries are O(|gamma|+|alpha|) and the centred norm "
            "is bounded away from 0 by construction, so a few hundred ulps suffice"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Return the proof for every n and d (sums over 1..n and 1..d)."""
        return theory.scale_invariance_generic()

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Lambdified BN (mpmath) at X(cw), Xw, X(-w)."""
        X, w = mp_matrix(inst["X"]), mp_matrix(inst["w"])
        g, a, c = _scalars(inst, "gamma", "alpha", "c")
        h = _mp_col(X * w)
        ref = _bn_mp(h, g, a)
        return mp_evidence(
            {
                "scale": (_bn_mp(_mp_col(X * (c * w)), g, a), ref),
                "sign": (_bn_mp(_mp_col(X * (-w)), g, a), _bn_mp(h, -g, a)),
            },
            {"bn": ref},
            dps,
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.bn.batch_norm against itself and the lambdified formula."""
        from bnconvex.numerics.core.bn import batch_norm

        X, w, g, a, c = (inst[k] for k in ("X", "w", "gamma", "alpha", "c"))
        ref = batch_norm(X @ w, g, a)
        return float_evidence(
            {
                "scale": (batch_norm(X @ (c * w), g, a), ref),
                "sign": (batch_norm(X @ (-w), g, a), batch_norm(X @ w, -g, a)),
                "formula": (ref, _bn_np(X @ w, g, a)),
            }
        )


@register
class ShiftInvariance(TheoryClaim):
    """BN((X + 1 b^T) w) = BN(Xw)."""

    id = "bn.shift_invariance"
    title = "BN is invariant to shifting the data mean"
    title_latex = (
        r"BN is invariant to shifting the data mean, $X \to X + \mathbf{1} b^T$"
    )
    paper_ref = "docs/theory.md#bn-shift_invariance (BN conventions, invariances)"
    statement = r"BN_{\gamma,\alpha}((X + \mathbf 1 b^T)w) = BN_{\gamma,\alpha}(Xw)"
    tolerances = {"mp": MP_TOL, "float64": 1e-10}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": (
            "normwise relative; the shift |b^T w| <= 3 ||w||_1 adds cancellation in "
            "the centring, bounded by (1 + |b^T w|/||Ch||) ulps"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Return the proof for every n and d, with C1 = 0 for every n."""
        return Derivation(
            "BN data-shift invariance, generic n and d",
            (
                theory.centering_lemmas().step("C1_zero_generic"),
                *theory.shift_invariance_generic(),
            ),
        )

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Lambdified BN (mpmath) at (X + 1 b^T) w and X w."""
        X, w, b = mp_matrix(inst["X"]), mp_matrix(inst["w"]), mp_matrix(inst["b"])
        g, a = _scalars(inst, "gamma", "alpha")
        shifted = X + mpmath.ones(X.rows, 1) * b.T
        ref = _bn_mp(_mp_col(X * w), g, a)
        return mp_evidence(
            {"shift": (_bn_mp(_mp_col(shifted * w), g, a), ref)}, {"bn": ref}, dps
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.bn.batch_norm on shifted data and the lambdified formula."""
        from bnconvex.numerics.core.bn import batch_norm

        X, w, b, g, a = (inst[k] for k in ("X", "w", "b", "gamma", "alpha"))
        ref = batch_norm(X @ w, g, a)
        return float_evidence(
            {
                "shift": (batch_norm((X + b[None, :]) @ w, g, a), ref),
                "formula": (
                    batch_norm((X + b[None, :]) @ w, g, a),
                    _bn_np(X @ w, g, a),
                ),
            }
        )


@register
class WhiteningOrthogonality(TheoryClaim):
    """U^T 1 = 0 and U'^T U' = I for U' = [U, 1/sqrt(n)]."""

    id = "whitening.orthogonality"
    title = "The whitened matrix U' = [U, 1/sqrt(n)] has orthonormal columns"
    title_latex = (
        r"The whitened matrix $U' = [U,\ \mathbf{1}/\sqrt{n}]$ has orthonormal "
        r"columns"
    )
    paper_ref = (
        "docs/theory.md#whitening-orthogonality "
        "(R0, centred SVD; paper: U'^T U' = I, quoted by a summary)"
    )
    statement = (
        r"U^T\mathbf 1 = 0,\qquad U'^TU' = I_{r+1},\ U' = [U,\ \mathbf 1/\sqrt n]"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-12}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": (
            "max |U'^T U' - I| and relative error of sigma against mpmath at dps 30; "
            "LAPACK SVD is backward stable, so O(n eps) plus conditioning of sigma"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Matrix expressions of symbolic n, d, r with named SVD hypotheses."""
        return theory.whitening_orthogonality_general()

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Mpmath centred SVD: U'^T U' against I."""
        U, S, _ = mp_whiten(inst["X"])
        n = U.rows
        Up = mpmath.matrix(n, len(S) + 1)
        for i in range(n):
            for k in range(len(S)):
                Up[i, k] = U[i, k]
            Up[i, len(S)] = 1 / mpmath.sqrt(n)
        return mp_evidence(
            {"gram": (Up.T * Up, mpmath.eye(len(S) + 1))},
            {"sigma": S},
            dps,
            rank=len(S),
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """numerics.whitening.whiten: orthonormality and sigma against mpmath."""
        from bnconvex.numerics.core.whitening import whiten

        wh = whiten(inst["X"])
        Up = np.asarray(wh.U_prime)
        with mpmath.workdps(30):
            _, S, _ = mp_whiten(inst["X"])
            sigma_mp = np.array([float(s) for s in S])
        return float_evidence(
            {
                "gram": (Up.T @ Up, np.eye(Up.shape[1])),
                "sigma_vs_mp": (np.asarray(wh.sigma), sigma_mp),
            },
            rank=int(wh.rank),
        )


def _mp_whitened_s(inst: dict[str, Any]) -> tuple[mpmath.matrix, list[Any]]:
    """``U'`` and ``s = [gamma q/||q||; alpha]`` at the working precision."""
    U, S, Vt = mp_whiten(inst["X"])
    g, a = _scalars(inst, "gamma", "alpha")
    q = mpmath.diag(S) * Vt * mp_matrix(inst["w"])
    qn = mpmath.norm(q)
    n, r = U.rows, len(S)
    Up = mpmath.matrix(n, r + 1)
    for i in range(n):
        for k in range(r):
            Up[i, k] = U[i, k]
        Up[i, r] = 1 / mpmath.sqrt(n)
    s = [g * q[k] / qn for k in range(r)] + [a]
    return Up, s


@register
class WhitenedRepresentation(TheoryClaim):
    """BN(Xw) = U' s with s = [gamma q/||q||; alpha], ||s||^2 = gamma^2 + alpha^2."""

    id = "bn.whitened_representation"
    title = "BN(Xw) = U's with ||s||^2 = gamma^2 + alpha^2 (BN sees only U')"
    title_latex = (
        r"$BN_{\gamma,\alpha}(Xw) = U's$ with $\|s\|^2 = \gamma^2+\alpha^2$ (BN "
        r"sees only $U'$)"
    )
    paper_ref = "docs/theory.md#bn-whitened_representation (R0, key identity)"
    statement = (
        r"BN_{\gamma,\alpha}(Xw) = U'\begin{bmatrix}\gamma q/\|q\|\\"
        r" \alpha\end{bmatrix},"
        r"\ q = \Sigma V^Tw,\quad \|s\|^2 = \gamma^2+\alpha^2"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-10}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": (
            "normwise relative; q = Sigma V^T w loses digits in proportion to "
            "||w|| sigma_1/||q||, bounded for the perturbed generic instances"
        ),
    }

    def derivation(self) -> theory.Derivation:
        """Matrix expressions of symbolic n, d, r with named SVD hypotheses."""
        return theory.whitened_representation_general()

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Mpmath SVD and lambdified BN: BN(Xw) vs U's, ||s||^2 vs gamma^2 + alpha^2."""
        Up, s = _mp_whitened_s(inst)
        g, a = _scalars(inst, "gamma", "alpha")
        bn = _bn_mp(_mp_col(mp_matrix(inst["X"]) * mp_matrix(inst["w"])), g, a)
        return mp_evidence(
            {
                "representation": (bn, _mp_col(Up * mpmath.matrix(s))),
                "norm_s": (sum(x * x for x in s), g * g + a * a),
            },
            {"s": s},
            dps,
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Numerics whiten + batch_norm against U's."""
        from bnconvex.numerics.core.bn import batch_norm
        from bnconvex.numerics.core.whitening import whiten

        X, w, g, a = (inst[k] for k in ("X", "w", "gamma", "alpha"))
        wh = whiten(X)
        q = np.asarray(wh.sigma) * (np.asarray(wh.Vt) @ w)
        s = np.append(g * q / np.linalg.norm(q), a)
        return float_evidence(
            {
                "representation": (batch_norm(X @ w, g, a), np.asarray(wh.U_prime) @ s),
                "norm_s": (s @ s, g * g + a * a),
            }
        )


@register
class ConventionConversion(TheoryClaim):
    """BN^std = sqrt(n) BN^A; beta_A = beta_std / sqrt(n)."""

    id = "bn.convention_conversion"
    title = "Standard BN is sqrt(n) times convention-A BN; beta converts by sqrt(n)"
    title_latex = (
        r"Standard BN is $\sqrt{n}$ times convention-A BN; $\beta$ converts by "
        r"$\sqrt{n}$"
    )
    paper_ref = "docs/theory.md#bn-convention_conversion (BN conventions)"
    statement = (
        r"BN^{std}_{\gamma,\alpha}(h) = \sqrt n\,BN_{\gamma,\alpha}(h),\quad "
        r"\beta_A = \beta_{std}/\sqrt n"
    )
    tolerances = {"mp": MP_TOL, "float64": 1e-12}
    tolerance_notes = {
        "mp": MP_NOTE,
        "float64": "normwise relative, a few ulps of sqrt(n)",
    }

    def derivation(self) -> theory.Derivation:
        """Return the proof for every n (sums over 1..n, symbolic sqrt(n))."""
        return theory.convention_conversion_generic()

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Lambdified BN^std and BN^A (mpmath)."""
        h = _mp_col(mp_matrix(inst["X"]) * mp_matrix(inst["w"]))
        g, a = _scalars(inst, "gamma", "alpha")
        std = _bn_mp(h, g, a, "std")
        scaled = [mpmath.sqrt(len(h)) * x for x in _bn_mp(h, g, a)]
        return mp_evidence({"conversion": (std, scaled)}, {"bn_std": std}, dps)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Numerics batch_norm in both conventions and convert_beta."""
        from bnconvex.numerics.core.bn import batch_norm, convert_beta

        h, g, a, beta = (
            inst["X"] @ inst["w"],
            inst["gamma"],
            inst["alpha"],
            inst["beta"],
        )
        n = h.shape[0]
        return float_evidence(
            {
                "conversion": (
                    batch_norm(h, g, a, convention="std"),
                    math.sqrt(n) * batch_norm(h, g, a),
                ),
                "formula": (
                    batch_norm(h, g, a, convention="std"),
                    _bn_np(h, g, a, "std"),
                ),
                "beta": (
                    convert_beta(beta, n, source="std", target="a"),
                    beta / math.sqrt(n),
                ),
            }
        )
