r"""Convolutional BN networks (paper.md R8, ``UNCONFIRMED`` form; docs/theory.md).

Four claims on tiny 1-D "images" (one channel, height 1, width 3..4, kernel
1x2, stride 1..2, zero padding 0..1, sum or average pooling), each with its
own instances: the BN-over-patches identity (symbolic and float64), the
exactness of the convex program (reconstruction), local search never below
the certified bound, and the validity of the certificate over the complete
arrangement of the patch matrix.  Solves use CVXPY + Clarabel when installed
(the test extra), else the project's exchange + sliding solver (which
``cnn.strong_duality`` also runs as a second, independent solver); every point is
certified by :func:`bnconvex.numerics.extensions.cnn.certify_cnn`, and a
certified gap above the tolerance makes the instance inconclusive, never
passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bnconvex.verify import strategies as S
from bnconvex.verify.claims._errors import below as _below
from bnconvex.verify.claims._errors import judge as _judge
from bnconvex.verify.claims._errors import rel_err as _rel
from bnconvex.verify.claims._errors import vec_rel_err
from bnconvex.verify.claims._theory_support import symbolic_evidence
from bnconvex.verify.registry import Claim, Evidence, register
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["CNNBNOverPatches", "CNNCertificate", "CNNLocalSearch", "CNNStrongDuality"]

#: Certified relative gap needed before an instance can pass (Clarabel reaches
#: ~1e-12 on these instances, measured 2026-12-07; the barrier ~1e-5).
GAP_LIMIT = 1e-8


@st.composite
def cnn_instances(
    draw: st.DrawFn, n_range: tuple[int, int] = (2, 3), width_range=(3, 4)
) -> dict[str, Any]:
    """Draw 1-D images ``(n, 1, 1, W)``, labels, ``beta`` and a geometry."""
    from bnconvex.numerics.extensions.cnn import POOLINGS, ConvGeometry

    n = draw(st.integers(*n_range), label="images")
    width = draw(st.integers(*width_range), label="width")
    E = draw(hnp.arrays(np.float64, (n, width), elements=S.bounded_floats()))
    geometry = ConvGeometry(
        (1, 2),
        stride=(1, draw(st.integers(1, 2), label="stride")),
        padding=(0, draw(st.integers(0, 1), label="padding")),
        pooling=draw(st.sampled_from(POOLINGS), label="pooling"),
    )
    return {
        "images": (S.base_matrix(n, width) + 0.5 * E).reshape(n, 1, 1, width),
        "y": draw(S.perturbed_labels(n)),
        "beta": draw(S.betas(0.05, 0.5)),
        "geometry": geometry,
    }


def _solved(inst: dict[str, Any]):
    from bnconvex.numerics.extensions.cnn import CNNProblem, solve_cnn

    problem = CNNProblem(inst["images"], inst["y"], inst["beta"], inst["geometry"])
    return problem, solve_cnn(problem)


def _facts(problem, sol) -> dict[str, Any]:
    g = problem.geometry
    return {
        "n": problem.n,
        "K": problem.K,
        "nK": problem.n * problem.K,
        "rank": problem.whitening.rank,
        "P": problem.P,
        "stride": list(g.stride),
        "padding": list(g.padding),
        "pooling": g.pooling,
        "solver_status": str(sol.status),
        "objective": sol.objective,
        "lower_bound": sol.lower_bound,
        "certified_relative_gap": sol.relative_gap,
        "seconds": sol.seconds,
    }


class _CNNClaim(Claim):
    paper_tag = "UNCONFIRMED"
    tolerance_kind = {"float64": "rel"}
    examples = {"quick": 1, "default": 4, "thorough": 40}

    def instances(self) -> Any:
        """Draw 2..3 images of width 3..4."""
        return cnn_instances()

    def quick_instances(self) -> Any:
        """Two images of width 3 in quick mode (n K <= 8)."""
        return cnn_instances((2, 2), (3, 3))


@register
class CNNBNOverPatches(_CNNClaim):
    """Convolution = patch product; BatchNorm2d = BN over n K entries = U's."""

    id = "cnn.bn_over_patches"
    title = (
        "CNN: convolution is the patch-matrix product, BN over batch and positions "
        "is BN of the stacked feature map, and it equals U's on the whitened patches"
    )
    paper_ref = (
        "docs/theory.md#cnn-bn_over_patches (R8; paper: CNN extension named by "
        "summaries, form unconfirmed)"
    )
    statement = (
        r"H_{jk} = (\mathcal Xw)_{kn+j},\ \mathrm{BN2d}_{\gamma,\alpha}(H) = "
        r"\sqrt{nK}\,BN_{\gamma,\alpha}(\mathcal Xw),\ BN_{\gamma,\alpha}(\mathcal Xw)"
        r" = \mathcal U'[\gamma q/\|q\|;\alpha],\ q = \Sigma V^Tw"
    )
    tolerances = {"float64": 1e-12}
    tolerance_notes = {
        "float64": "relative 2-norm errors of three identities on at most 8 x 2 "
        "patch matrices (rounding only, measured <= 1e-15; 1e-12 leaves room for "
        "the conditioning of the centred SVD, sigma_1/sigma_r <= ~10 here)"
    }
    examples = {"quick": 2, "default": 6, "thorough": 60}

    def derivation(self) -> Any:
        """Return the symbolic derivation (2 images, length 2, kernel 2, padding 1)."""
        from bnconvex.theory.cnn import bn_over_patches

        return bn_over_patches()

    def check_symbolic(self) -> Evidence:
        """Prove every step of :func:`bnconvex.theory.cnn.bn_over_patches`."""
        return symbolic_evidence(self.derivation())

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Direct correlation, BatchNorm2d formula and U's against the patch code."""
        from bnconvex.numerics.core.bn import batch_norm
        from bnconvex.numerics.core.whitening import whiten
        from bnconvex.numerics.extensions.cnn import patch_matrix
        from scipy.signal import correlate

        images, g = inst["images"], inst["geometry"]
        X = patch_matrix(images, g)
        n, nK = images.shape[0], X.shape[0]
        w = np.array([0.7, -1.3])
        p = g.padding[1]
        pad = np.pad(images[:, 0, 0, :], ((0, 0), (p, p)))
        direct = correlate(pad, w[None, :], mode="valid")[:, :: g.stride[1]]
        e_conv = vec_rel_err(X @ w, direct.T.ravel())
        gam, alp = 1.7, -0.4
        H = direct
        bn2d = gam * (H - H.mean()) / H.std() + alp
        e_bn = vec_rel_err(
            np.sqrt(nK)
            * batch_norm((X @ w)[:, None], np.array([gam]), np.array([alp]))[:, 0],
            bn2d.T.ravel(),
        )
        wh = whiten(X)
        q = wh.sigma * (wh.Vt @ w)
        s = np.r_[gam * q / np.linalg.norm(q), alp]
        e_white = vec_rel_err(
            wh.U_prime @ s,
            batch_norm((X @ w)[:, None], np.array([gam]), np.array([alp]))[:, 0],
        )
        details = {"n": n, "nK": nK, "conv": e_conv, "bn2d": e_bn, "white": e_white}
        return Evidence(max_rel_err=max(e_conv, e_bn, e_white), details=details)


@register
class CNNStrongDuality(_CNNClaim):
    """The reconstructed CNN attains the certified convex optimum."""

    id = "cnn.strong_duality"
    title = "CNN: the reconstructed convolutional BN network attains the convex optimum"
    paper_ref = (
        "docs/theory.md#cnn-strong_duality (R8; paper: CNN extension named by "
        "summaries, form unconfirmed)"
    )
    statement = (
        r"\min_{s_i,s'_i}\tfrac12\Big\|\sum_i SD_i\mathcal U'(s_i - s'_i) - y\Big\|^2"
        r" + \beta\sum_i\|s_i\| + \|s'_i\|\ \text{s.t.}\ "
        r"(2D_i - I)\mathcal U's_i^{(\prime)}"
        r"\ge 0\ =\ \tfrac12\|f_{rec} - y\|^2"
        r" + \tfrac\beta2\sum_j\gamma_j^2+\alpha_j^2+v_j^2"
    )
    tolerances = {"float64": 1e-8}
    tolerance_notes = {
        "float64": "|CNN objective - certified lower bound| / lower bound, the "
        "reconstructed network keeping blocks above 1e-9 of the largest, and how "
        "far either solver's (default and exchange) certified bound lies above "
        "the other's objective; both certified relative gaps must be <= 1e-8 "
        "(GAP_LIMIT) else inconclusive"
    }
    tags = ("solver",)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Solve with the complete arrangement, reconstruct, compare."""
        from bnconvex.numerics.extensions.cnn import (
            cnn_objective,
            reconstruct_cnn,
            solve_cnn,
        )

        problem, sol = _solved(inst)
        other = solve_cnn(problem, solver="exchange")
        net = reconstruct_cnn(problem, sol)
        value = cnn_objective(
            net, inst["images"], inst["y"], inst["beta"], inst["geometry"]
        )
        details = _facts(problem, sol)
        details.update(filters=int(net.m), cnn_objective=value)
        details.update(
            exchange_objective=other.objective,
            exchange_relative_gap=other.relative_gap,
        )
        # each solver's rigorous lower bound must not exceed the other's objective
        cross = max(
            _below(sol.lower_bound, other.objective),
            _below(other.lower_bound, sol.objective),
        )
        measured = max(
            _rel(value, sol.lower_bound), _below(sol.lower_bound, value), cross
        )
        gap = max(sol.relative_gap, other.relative_gap)
        return _judge(measured, gap, GAP_LIMIT, details)


@register
class CNNLocalSearch(_CNNClaim):
    """No local search on the non-convex CNN goes below the certified bound."""

    id = "cnn.local_search"
    title = "CNN: L-BFGS on the non-convex CNN (several starts) never beats the bound"
    paper_ref = (
        "docs/theory.md#cnn-local_search (R8; paper: CNN extension named by "
        "summaries, form unconfirmed)"
    )
    statement = (
        r"\tfrac12\|f_\theta - y\|^2 + \tfrac\beta2\sum_j\gamma_j^2+\alpha_j^2+v_j^2"
        r"\ \ge\ d\bigl(c\,(y - \hat y)\bigr)"
        r"\quad\text{for every local-search result }\theta"
    )
    tolerances = {"float64": 1e-9}
    tolerance_notes = {
        "float64": "how far the best of 3 L-BFGS runs (m = n K + 1 filters, 400 "
        "iterations) falls below the certified lower bound, relative; the bound "
        "is rigorous (inflated by 4 (nK + r + 1) eps), so any positive value "
        "beyond rounding disproves the claim; the gap to the local result is "
        "recorded"
    }
    tags = ("solver", "local-search")

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Certified bound, then three seeded L-BFGS runs."""
        from bnconvex.numerics.extensions.cnn import train_cnn

        problem, sol = _solved(inst)
        m = problem.n * problem.K + 1
        runs = [
            train_cnn(
                inst["images"],
                inst["y"],
                inst["beta"],
                m,
                inst["geometry"],
                seed=seed,
                max_iter=400,
            )[1]
            for seed in range(3)
        ]
        details = _facts(problem, sol)
        details.update(local_search=runs, best_minus_bound=min(runs) - sol.lower_bound)
        return Evidence(
            max_rel_err=max(_below(sol.lower_bound, r) for r in runs), details=details
        )


@register
class CNNCertificate(_CNNClaim):
    """The dual certificate is valid over the complete arrangement of the patches."""

    id = "cnn.dual_certificate"
    title = (
        "CNN: the scaled residual is dual feasible over every filter (complete "
        "arrangement of the patch matrix), tight at the optimum"
    )
    paper_ref = (
        "docs/theory.md#cnn-dual_certificate (R8; paper: CNN extension named by "
        "summaries, form unconfirmed)"
    )
    statement = (
        r"\max_{\|s\|\le1}\bigl|(S^Tv)^T(\mathcal U's)_+\bigr| \le b(v)"
        r"\ \forall s,\quad"
        r" b(y - \hat y^\star) = \beta,\quad d\bigl(y-\hat y^\star\bigr) = p^\star"
    )
    tolerances = {"float64": 1e-8}
    tolerance_notes = {
        "float64": "max of: how far |(S^T v)^T (U's)_+| over 20000 random unit s "
        "and the solution's normalised blocks exceeds b(v) (relative); the share "
        "of sampled sign patterns of U'u missing from the enumerated arrangement "
        "(must be 0); |b(v) - beta| / beta at the optimum; certified relative gap"
    }
    tags = ("solver",)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Completeness by sampling, validity by sampling, tightness at the optimum."""
        problem, sol = _solved(inst)
        U, D = problem.U_prime, problem.D
        rng = np.random.default_rng(0)
        s = rng.standard_normal((20_000, U.shape[1]))
        s /= np.linalg.norm(s, axis=1, keepdims=True)
        Z = U @ s.T
        known = {col.tobytes() for col in D.T}
        sampled = {col.tobytes() for col in (Z >= 0).T if col.any()}
        missing = len(sampled - known) / max(len(sampled), 1)
        v = problem.y - _prediction(problem, sol)
        u = problem.S.T @ v
        blocks = np.vstack([sol.S_plus, sol.S_minus])
        big = np.linalg.norm(blocks, axis=1)
        active = blocks[big > 1e-6 * big.max()] if big.max() > 0 else blocks[:0]
        cand = np.vstack([s, active / np.linalg.norm(active, axis=1, keepdims=True)])
        reach = float(np.abs(np.maximum(U @ cand.T, 0.0).T @ u).max())
        b = sol.certificate.constraint_bound
        details = _facts(problem, sol)
        details.update(
            sampled_patterns=len(sampled),
            missing_share=missing,
            sampled_max=reach,
            constraint_bound=b,
            beta=problem.beta,
            active_blocks=len(active),
        )
        valid = max(0.0, (reach - b) / b)
        # tight (= beta) when some block is active; else only b <= beta is due
        tight = (b - problem.beta) / problem.beta
        tight = abs(tight) if len(active) else max(0.0, tight)
        return _judge(max(valid, missing, tight), sol.relative_gap, GAP_LIMIT, details)


def _prediction(problem, sol) -> np.ndarray:
    from bnconvex.numerics.extensions.cnn import cnn_predict

    return cnn_predict(problem, sol.S_plus, sol.S_minus)
