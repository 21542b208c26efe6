r"""Core claims: arrangements, convex program, duality, closed forms (paper.md §6).

Claims 5b, 8, 9, 10, 11, 12, 13, 14 and 22 of paper.md §6, checked in float64
(and in mpmath where a high-precision value exists) on small Hypothesis
instances built valid by construction (``verify/strategies.py``).  Each
checker *measures* relative errors; the runner compares them with the
tolerance stated here.  Every convex optimum comes with its certified
duality gap, which is part of the measured error: an equality with an
optimum is only as good as the certificate that pins the optimum down.

Solver-based tiers share one float64 exact fit per instance
(:func:`_exact_solution`, memoised :func:`~bnconvex.numerics.exact.fit_exact`
with the exact arrangement and ``tol = 1e-10``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import mpmath
import numpy as np
from bnconvex.verify import strategies as S
from bnconvex.verify.claims._errors import TINY
from bnconvex.verify.claims._errors import rel_err as _rel
from bnconvex.verify.claims._errors import vec_rel_err as _vec_rel
from bnconvex.verify.registry import Claim, Evidence, register

__all__ = [
    "AffineEquivalence",
    "ConventionEquivalence",
    "CountBound",
    "DualCertificate",
    "HighdimSolver",
    "InputTransformInvariance",
    "ModelClass",
    "PolynomialSize",
    "StrongDuality",
    "UniversalLowerBound",
]

#: Relative stopping tolerance of the float64 convex solves used by the claims.
SOLVER_TOL = 1e-10
#: beta range of the solver-based claims: large beta makes the optimum the
#: trivial zero network for most labels, which checks little
_SOLVER_BETAS = (0.02, 0.5)


# ------------------------------------------------------------------ helpers
def _network(params: dict[str, np.ndarray], convention: str = "a") -> Any:
    from bnconvex.numerics.core.network import BNNetwork

    return BNNetwork(
        params["W"],
        params["gamma"],
        params["alpha"],
        params["v"],
        convention=convention,
    )


def _column_set(D: np.ndarray) -> set[bytes]:
    return {
        np.packbits(D[:, i]).tobytes() + bytes([D.shape[0]]) for i in range(D.shape[1])
    }


@functools.lru_cache(maxsize=8)
def _cached_solution(X_bytes: bytes, y_bytes: bytes, shape: tuple, beta: float) -> Any:
    """Fit the exact-arrangement program once per (X, y, beta); see below."""
    from bnconvex.numerics.exact import fit_exact

    X = np.frombuffer(X_bytes).reshape(shape)
    y = np.frombuffer(y_bytes).copy()
    return fit_exact(X, y, beta, arrangements="exact", tol=SOLVER_TOL)


def _exact_solution(X: np.ndarray, y: np.ndarray, beta: float) -> Any:
    """Return the :class:`~bnconvex.numerics.exact.ExactFit` of (X, y, beta), memoised.

    Exact arrangement, convention A, ``tol = SOLVER_TOL``.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _cached_solution(X.tobytes(), y.tobytes(), X.shape, float(beta))


def _solution_details(res: Any) -> dict[str, Any]:
    sol = res.solution
    return {
        "n": res.problem.n,
        "r": res.problem.m - 1,
        "P": res.problem.P,
        "solver": sol.solver,
        "solver_status": str(sol.status),
        "objective": float(sol.objective),
        "lower_bound": float(sol.lower_bound),
        "relative_gap": float(sol.relative_gap),
        "seconds": float(sol.seconds),
    }


def _unsolved(*results: Any) -> Evidence | None:
    """Inconclusive evidence when a float64 solve stopped short of OPTIMAL.

    A solver that ran out of time or iterations decides nothing about the
    claim: the record is ``inconclusive`` (never ``passed``) with the status
    and the certified gap it reached.
    """
    from bnconvex.numerics.status import SolverStatus

    for res in results:
        sol = res.solution
        if sol.status != SolverStatus.OPTIMAL:
            reason = (
                f"the float64 solve stopped with status {sol.status} (certified "
                f"relative gap {sol.relative_gap:.1e}): undecided on this instance"
            )
            details = {**_solution_details(res), "reason": reason}
            return Evidence(status="inconclusive", details=details)
    return None


def _std_from_a(net: Any, n: int) -> Any:
    from bnconvex.numerics.exact import network_in_convention

    return network_in_convention(net, n, "std")


# --------------------------------------------------------------- claim 5b
@register
class ConventionEquivalence(Claim):
    """Claim 5b: std-BN with ``beta`` is convention A with ``beta / sqrt(n)``."""

    id = "convex.convention_equivalence"
    title = "Std-BN optimum with beta equals the convention-A optimum with beta/sqrt(n)"
    paper_ref = "docs/theory.md#convex-convention_equivalence (R1, BN conventions)"
    paper_tag = "DERIVED+NUM"
    statement = (
        r"p^*_{\mathrm{std}}(X, y, \beta) = p^*_{A}(X, y, \beta/\sqrt n),"
        r"\quad BN^{\mathrm{std}}_{\gamma,\alpha} = \sqrt n\, BN_{\gamma,\alpha}"
    )
    tolerances = {"float64": 1e-8}
    tolerance_kind = {"float64": "rel"}
    tolerance_notes = {
        "float64": "max of: the parameter bijection "
        "(gamma, alpha, v) -> n^(1/4)(gamma, alpha, v) on a random "
        "network (rounding, ~1e-15); the std objective of the "
        "rescaled convex optimum vs the convex optimum; the "
        "certified relative gap of the solve (solver tol 1e-10)"
    }
    tags = ("solver",)
    examples = {"quick": 2, "default": 6, "thorough": 60}

    def instances(self) -> Any:
        """Draw data with a random network of width 1-3."""
        return S.with_network(
            S.regression_instances((4, 7), (1, 2), _SOLVER_BETAS), (1, 3)
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Bijection on a random network, then the rescaled convex optimum."""
        from bnconvex.numerics.core.network import objective

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        n = X.shape[0]
        q = n**0.25
        net_s = _network(inst["net"], "std")
        net_a = net_s.replace(
            gamma=net_s.gamma * q, alpha=net_s.alpha * q, v=net_s.v * q, convention="a"
        )
        e_map = _rel(
            objective(net_s, X, y, beta), objective(net_a, X, y, beta / n**0.5)
        )
        res = _exact_solution(X, y, beta / math.sqrt(n))
        if (undecided := _unsolved(res)) is not None:
            return undecided
        sol = res.solution
        net_opt = _std_from_a(res.network, n)
        e_opt = _rel(objective(net_opt, X, y, beta), sol.objective)
        return Evidence(
            max_rel_err=max(e_map, e_opt, sol.relative_gap),
            details={
                "bijection_rel_err": e_map,
                "std_vs_convex_rel_err": e_opt,
                **_solution_details(res),
            },
        )


# ---------------------------------------------------------------- claim 8
@register
class AffineEquivalence(Claim):
    """Claim 8 (first half): patterns of ``U'`` are the affine patterns of ``X``."""

    id = "arrangements.affine_equivalence"
    title = "Activation patterns of U' are exactly the affine dichotomies of X"
    paper_ref = (
        "docs/theory.md#arrangements-affine_equivalence (R1, activation patterns)"
    )
    paper_tag = "DERIVED+NUM"
    statement = (
        r"\{\mathbf 1[U'u \ge 0] : u \in \mathbb R^{r+1}\} = "
        r"\{\mathbf 1[Xw + b\mathbf 1 \ge 0] : w \in \mathbb R^d, b \in \mathbb R\}"
    )
    tolerances = {"float64": 0.0}
    tolerance_kind = {"float64": "abs"}
    tolerance_notes = {"float64": "counts of mismatching patterns: exact"}
    tags = ("arrangements",)
    examples = {"quick": 3, "default": 10, "thorough": 200}
    #: affine directions (w, b) probed per instance, from a fixed seed
    n_probes = 400

    def instances(self) -> Any:
        """Draw generic data, n in 4..8, d in 1..3."""
        return S.regression_instances((4, 8), (1, 3))

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """LP-realise every U' pattern affinely; map random affine cuts into the set."""
        from bnconvex.numerics.core.arrangements import (
            enumerate_patterns,
            is_realizable,
        )
        from bnconvex.numerics.core.whitening import whiten

        X = inst["X"]
        n = X.shape[0]
        D = np.asarray(enumerate_patterns(np.asarray(whiten(X).U_prime)), dtype=bool)
        A = np.column_stack([X, np.ones(n)])
        not_affine = sum(not is_realizable(A, D[:, i]) for i in range(D.shape[1]))
        rng = np.random.default_rng(20220301)  # fixed probe directions
        H = A @ rng.standard_normal((A.shape[1], self.n_probes)) >= 0
        H = H[:, H.any(axis=0)]  # the all-false pattern is never listed
        known = _column_set(D)
        not_listed = sum(
            np.packbits(H[:, j]).tobytes() + bytes([n]) not in known
            for j in range(H.shape[1])
        )
        return Evidence(
            max_abs_err=float(not_affine + not_listed),
            details={
                "P": int(D.shape[1]),
                "U_patterns_not_affine": not_affine,
                "affine_patterns_not_in_U_set": not_listed,
                "probes": int(H.shape[1]),
            },
        )


@register
class CountBound(Claim):
    """Claim 8 (second half): the number of patterns is at most ``2 sum C(n-1, k)``."""

    id = "arrangements.count_bound"
    title = "Number of activation patterns is at most 2 sum_{k<=r} C(n-1, k)"
    paper_ref = "docs/theory.md#arrangements-count_bound (R1, count bound)"
    paper_tag = "DERIVED"
    statement = r"P + 1 \le 2\sum_{k=0}^{r}\binom{n-1}{k}"
    tolerances = {"float64": 0.0}
    tolerance_kind = {"float64": "abs"}
    tolerance_notes = {
        "float64": "integer excess of the count over the bound: exact "
        "(+1: the all-false pattern is a region but never listed)"
    }
    tags = ("arrangements",)
    examples = {"quick": 4, "default": 15, "thorough": 300}

    def instances(self) -> Any:
        """Draw generic data, n in 3..9, d in 1..3."""
        return S.regression_instances((3, 9), (1, 3))

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Count distinct, non-empty patterns and compare with the bound."""
        from bnconvex.numerics.core.arrangements import (
            enumerate_patterns,
            max_pattern_count,
        )
        from bnconvex.numerics.core.whitening import whiten

        wh = whiten(inst["X"])
        D = np.asarray(enumerate_patterns(np.asarray(wh.U_prime)), dtype=bool)
        n, r, P = wh.n, wh.rank, D.shape[1]
        bound = 2 * sum(math.comb(n - 1, k) for k in range(r + 1))
        distinct = len(_column_set(D))
        excess = max(0, P + 1 - bound) + (P - distinct) + int((~D.any(axis=0)).sum())
        excess += abs(bound - max_pattern_count(n, r))  # library formula agrees
        return Evidence(
            max_abs_err=float(excess),
            details={"n": n, "r": r, "P": P, "bound": bound, "tight": P + 1 == bound},
        )


@register
class PolynomialSize(Claim):
    """Claim 22: the SOCP has ``2P(r+1)`` variables with ``P = O(n^{r+1})``."""

    id = "arrangements.polynomial_size"
    title = "For fixed r the convex program has 2P(r+1) variables, P = O(n^(r+1))"
    paper_ref = (
        "docs/theory.md#arrangements-polynomial_size "
        "(R1; paper: abstract, polynomial time)"
    )
    paper_tag = "DERIVED"
    statement = (
        r"\#\mathrm{vars} = 2P(r+1),\quad P + 1 \le 2\sum_{k=0}^{r}\binom{n-1}{k}"
        r"\le 2(r+1)\Big(\frac{e(n-1)}{r+1}\Big)^{r+1}"
    )
    tolerances = {"float64": 0.0}
    tolerance_kind = {"float64": "abs"}
    tolerance_notes = {
        "float64": "integer counts (variables, bound violations, sampled "
        "patterns outside the exact set, non-tight counts): exact"
    }
    tags = ("arrangements",)
    examples = {"quick": 3, "default": 10, "thorough": 200}
    n_samples = 100_000

    def instances(self) -> Any:
        """Draw generic data, n in 4..8, d in 1..2."""
        return S.regression_instances((4, 8), (1, 2))

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Sizes, the polynomial bound, tightness in general position, sampling."""
        from bnconvex.numerics.core.arrangements import sample_patterns
        from bnconvex.numerics.exact import exact_program

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        prog = exact_program(X, y, beta, arrangements="exact")
        wh, U, D, prob = prog.whitening, prog.problem.U_prime, prog.D, prog.problem
        n, r, P = wh.n, wh.rank, D.shape[1]
        exact = 2 * sum(math.comb(n - 1, k) for k in range(r + 1))
        poly = 2 * (r + 1) * (math.e * (n - 1) / (r + 1)) ** (r + 1)
        sampled = np.asarray(sample_patterns(U, self.n_samples, seed=0), dtype=bool)
        outside = len(_column_set(sampled) - _column_set(D))
        bad = (
            abs(2 * prob.P * prob.m - 2 * P * (r + 1))
            + int(P + 1 != exact)
            + int(exact > poly)
            + outside
        )
        return Evidence(
            max_abs_err=float(bad),
            details={
                "n": n,
                "r": r,
                "P": P,
                "variables": 2 * P * (r + 1),
                "exact_count": exact,
                "poly_bound": poly,
                "sampled_distinct": int(sampled.shape[1]),
                "sampled_outside_exact": outside,
                "recovered_fraction": sampled.shape[1] / max(P, 1),
            },
        )


# ---------------------------------------------------------------- claim 9
def _model_class_network(wh: Any, s: Any, xp: Any = np) -> tuple[Any, float]:
    """Rebuild one neuron from the block ``s`` by the R1 formulas, in namespace ``xp``.

    ``w = V Sigma^{-1} s[:r]``, ``gamma = ||s[:r]|| / sqrt(||s||)``,
    ``alpha = s[r] / sqrt(||s||)``, ``v = sqrt(||s||)``.
    """
    from bnconvex.numerics.core.network import BNNetwork

    r = wh.rank
    ns = float(xp.linalg.vector_norm(s))
    w = xp.permute_dims(wh.Vt, (1, 0)) @ (s[:r] / wh.sigma)
    head = float(xp.linalg.vector_norm(s[:r]))
    params = [head / math.sqrt(ns), float(s[r]) / math.sqrt(ns), math.sqrt(ns)]
    gamma, alpha, v = (xp.asarray([p], dtype=xp.float64) for p in params)
    return BNNetwork(xp.reshape(w, (-1, 1)), gamma, alpha, v), ns


def _relu_output_errors(
    wh: Any, X: Any, s: Any, beta: float, xp: Any
) -> dict[str, float]:
    """Errors of ``(BN(Xw))_+ v = (U's)_+`` and of the penalty, any namespace."""
    from bnconvex.numerics._array_api import to_numpy
    from bnconvex.numerics.core.network import forward, penalty

    net, ns = _model_class_network(wh, s, xp)
    target = np.maximum(to_numpy(wh.U_prime @ s), 0)
    return {
        "relu_output": _vec_rel(to_numpy(forward(net, X)), target),
        "penalty": _rel(penalty(net, beta), beta * ns),
    }


@register
class ModelClass(Claim):
    """Claim 9: every ``s`` is one BN neuron with penalty ``beta ||s||``."""

    id = "reconstruct.model_class"
    title = "A BN-ReLU neuron is a ReLU neuron on U' with penalty beta*||s||"
    paper_ref = "docs/theory.md#reconstruct-model_class (R0.2, R1 reconstruction)"
    paper_tag = "DERIVED+NUM"
    statement = (
        r"w = V\Sigma^{-1}s_{1:r},\ \gamma = \frac{\|s_{1:r}\|}{\sqrt{\|s\|}},\ "
        r"\alpha = \frac{s_{r+1}}{\sqrt{\|s\|}},\ v = \sqrt{\|s\|}\ \Rightarrow\ "
        r"BN_{\gamma,\alpha}(Xw) = \frac{U's}{\sqrt{\|s\|}},\ "
        r"(BN_{\gamma,\alpha}(Xw))_+ v = (U's)_+,\ "
        r"\tfrac\beta2(\gamma^2+\alpha^2+v^2) = \beta\|s\|"
    )
    tolerances = {"float64": 1e-9, "mp": 1e-25, "xp": 1e-9}
    tolerance_kind = {"float64": "rel", "mp": "rel", "xp": "rel"}
    tolerance_notes = {
        "float64": "relative; w = V Sigma^-1 s loses about cond(CX) * eps, and the "
        "instances have cond(CX) < 1e3",
        "mp": "relative, at every dps >= 30 (guard digits of whiten_mp)",
        "xp": "as float64: the same float64 algorithm under another array namespace",
    }
    tags = ("reconstruct",)
    examples = {"quick": 3, "default": 10, "thorough": 200}
    tier_examples = {"mp": {"quick": 1, "default": 3, "thorough": 20}}

    def instances(self) -> Any:
        """Draw generic data with a block ``s`` of dimension ``r + 1``."""
        return S.with_whitened_vector(S.regression_instances((3, 8), (1, 3)))

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Check the paper's formulas and ``convex_to_network`` on one block."""
        from bnconvex.numerics.core.bn import batch_norm
        from bnconvex.numerics.core.network import forward, penalty
        from bnconvex.numerics.core.reconstruct import convex_to_network
        from bnconvex.numerics.core.whitening import whiten

        X, s, beta = inst["X"], np.asarray(inst["s"]), inst["beta"]
        wh = whiten(X)
        if s.shape[0] != wh.rank + 1:
            return Evidence(status="skipped", details={"reason": "rank rule differs"})
        net, ns = _model_class_network(wh, s)
        Us = np.asarray(wh.U_prime) @ s
        bn = batch_norm(X @ np.asarray(net.W), net.gamma, net.alpha)[:, 0]
        net2 = convex_to_network(wh, s[None, :], np.zeros((1, s.size)))
        errs = {
            "bn_vs_Us": _vec_rel(bn, Us / math.sqrt(ns)),
            **_relu_output_errors(wh, X, s, beta, np),
            "convex_to_network_output": _vec_rel(forward(net2, X), np.maximum(Us, 0)),
            "convex_to_network_penalty": _rel(penalty(net2, beta), beta * ns),
        }
        return Evidence(max_rel_err=max(errs.values()), details=errs)

    def check_xp(self, inst: dict[str, Any], xp: Any) -> Evidence:
        """Whitening, reconstruction and forward pass in the namespace ``xp``."""
        from bnconvex.numerics.core.whitening import whiten

        X = xp.asarray(inst["X"])
        wh = whiten(X)
        if len(inst["s"]) != wh.rank + 1:
            return Evidence(status="skipped", details={"reason": "rank rule differs"})
        errs = _relu_output_errors(wh, X, xp.asarray(inst["s"]), inst["beta"], xp)
        return Evidence(
            max_rel_err=max(errs.values()), details={**errs, "namespace": xp.__name__}
        )

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        r"""``BN(Xw) = U's/\sqrt{\|s\|}`` in mpmath with ``whiten_mp``."""
        from bnconvex.numerics.highprec.mp_refine import whiten_mp

        X, s = inst["X"], [mpmath.mpf(float(t)) for t in inst["s"]]
        wh = whiten_mp(X, dps=dps)
        n, r = wh.n, wh.rank
        if len(s) != r + 1:
            return Evidence(status="skipped", details={"reason": "rank rule differs"})
        ns = mpmath.sqrt(mpmath.fsum(t * t for t in s))
        w = [
            mpmath.fsum(wh.Vt[k, j] * s[k] / wh.sigma[k] for k in range(r))
            for j in range(X.shape[1])
        ]
        h = [
            mpmath.fsum(mpmath.mpf(float(X[i, j])) * w[j] for j in range(len(w)))
            for i in range(n)
        ]
        mean = mpmath.fsum(h) / n
        c = [t - mean for t in h]
        nc = mpmath.sqrt(mpmath.fsum(t * t for t in c))
        gamma = mpmath.sqrt(mpmath.fsum(t * t for t in s[:r])) / mpmath.sqrt(ns)
        alpha = s[r] / mpmath.sqrt(ns)
        bn = [gamma * t / nc + alpha / mpmath.sqrt(n) for t in c]
        target = [
            mpmath.fsum(wh.U_prime[i, k] * s[k] for k in range(r + 1)) / mpmath.sqrt(ns)
            for i in range(n)
        ]
        err = max(abs(a - b) for a, b in zip(bn, target, strict=True))
        scale = max(abs(b) for b in target)
        return Evidence(
            max_rel_err=float(err / scale),
            values={"sum_sq_bn": mpmath.nstr(mpmath.fsum(t * t for t in bn), dps)},
            details={"n": n, "r": r},
        )


# --------------------------------------------------------------- claim 10
@register
class StrongDuality(Claim):
    """Claim 10: convex optimum = non-convex optimum; local search never below."""

    id = "convex.strong_duality"
    title = (
        "Reconstructed network attains the convex optimum; local search never beats it"
    )
    paper_ref = (
        "docs/theory.md#convex-strong_duality "
        "(R1; paper: Theorem 2.2, numbering per a summary)"
    )
    paper_tag = "DERIVED+NUM"
    statement = (
        r"p^* = \min_{s_i, s'_i}\ \tfrac12\Big\|\sum_i D_iU'(s_i - s'_i) - y\Big\|^2"
        r" + \beta\sum_i(\|s_i\| + \|s'_i\|)\ \text{ s.t. }"
        r"(2D_i - I)U's_i \ge 0,\ (2D_i - I)U's'_i \ge 0"
    )
    tolerances = {"float64": 1e-8}
    tolerance_kind = {"float64": "rel"}
    tolerance_notes = {
        "float64": "max of the certified relative gap (solver tol 1e-10), "
        "|network - convex| / convex (also required <= 1e-10 on its "
        "own), and how far local search falls below the certified "
        "lower bound"
    }
    tags = ("solver",)
    examples = {"quick": 2, "default": 5, "thorough": 50}
    #: L-BFGS runs per instance (seeds 0, 1, ...) of the non-convex problem
    local_search_seeds = 2
    reconstruct_rtol = 1e-10

    def instances(self) -> Any:
        """Draw generic data, n in 4..7, d in 1..2."""
        return S.regression_instances((4, 7), (1, 2), _SOLVER_BETAS)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Solve, reconstruct, count neurons, run local search."""
        from bnconvex.numerics.baselines.nonconvex import train_nonconvex
        from bnconvex.numerics.core.network import objective

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        n = X.shape[0]
        res = _exact_solution(X, y, beta)
        if (undecided := _unsolved(res)) is not None:
            return undecided
        sol = res.solution
        net = res.network
        e_rec = _rel(objective(net, X, y, beta), sol.objective)
        local = [
            objective(train_nonconvex(X, y, beta, n + 1, seed=k)[0], X, y, beta)
            for k in range(self.local_search_seeds)
        ]
        below = max(0.0, (sol.lower_bound - min(local)) / abs(sol.lower_bound))
        details = {
            "reconstruct_rel_err": e_rec,
            "neurons": int(net.m),
            "local_search": local,
            "local_below_bound_rel": below,
            **_solution_details(res),
        }
        if net.m > n + 1:
            details["reason"] = f"{net.m} neurons > n + 1 = {n + 1}"
            return Evidence(max_rel_err=e_rec, status="failed", details=details)
        if e_rec > self.reconstruct_rtol:
            details["reason"] = f"reconstruction error {e_rec:.2e} > 1e-10"
            return Evidence(max_rel_err=e_rec, status="failed", details=details)
        return Evidence(
            max_rel_err=max(e_rec, below, sol.relative_gap), details=details
        )


# --------------------------------------------------------------- claim 11
def _active_tightness(res: Any, v: np.ndarray, beta: float) -> float:
    """Largest ``|v^T D_i U' s/||s|| -/+ beta| / beta`` over active blocks."""
    sol, U, D = res.solution, res.problem.U_prime, res.D
    norms = np.concatenate(
        [np.linalg.norm(sol.S_plus, axis=1), np.linalg.norm(sol.S_minus, axis=1)]
    )
    cut = 1e-6 * max(float(norms.max()), TINY)
    worst = 0.0
    for sign, S_ in ((1.0, sol.S_plus), (-1.0, sol.S_minus)):
        for i in np.flatnonzero(np.linalg.norm(S_, axis=1) > cut):
            t = sign * float(v @ (D[:, i] * (U @ S_[i]))) / np.linalg.norm(S_[i])
            worst = max(worst, abs(t - beta) / beta)
    return worst


@register
class DualCertificate(Claim):
    """Claim 11: ``v = y - yhat`` is dual feasible and closes the gap."""

    id = "dual.certificate"
    title = "The residual is an optimal dual certificate (feasible, tight, zero gap)"
    paper_ref = "docs/theory.md#dual-certificate (R1, dual problem)"
    paper_tag = "DERIVED+NUM"
    statement = (
        r"v = y - \hat y:\ \max_{\|s\|\le 1}|v^T(U's)_+| \le \beta,\quad "
        r"-\tfrac12\|v - y\|^2 + \tfrac12\|y\|^2 = p^*"
    )
    tolerances = {"float64": 1e-5, "mp": 1e-20}
    tolerance_kind = {"float64": "rel", "mp": "rel"}
    tolerance_notes = {
        "float64": "relative; dual infeasibility (b(v) - beta)/beta and the "
        "tightness of active blocks are first order in the primal error, about "
        "sqrt(solver tol 1e-10) = 1e-5; the dual value itself agrees to ~1e-10",
        "mp": "relative duality gap of certify_mp after mp refinement; at dps >= 40 "
        "the certificate must also reach 30 digits",
    }
    tags = ("solver", "mp")
    examples = {"quick": 2, "default": 5, "thorough": 50}
    tier_examples = {"mp": {"quick": 1, "default": 2, "thorough": 10}}
    min_digits = 30

    def instances(self) -> Any:
        """Draw generic data, n in 4..7, d in 1..2."""
        return S.regression_instances((4, 7), (1, 2), _SOLVER_BETAS)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Rigorous dual-constraint bound, dual value, active-block tightness."""
        from bnconvex.numerics.core.certificate import (
            dual_constraint_bound,
            dual_objective,
        )
        from bnconvex.numerics.core.convex_program import predict

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        res = _exact_solution(X, y, beta)
        if (undecided := _unsolved(res)) is not None:
            return undecided
        sol = res.solution
        v = y - predict(res.problem, sol.S_plus, sol.S_minus)
        b = float(dual_constraint_bound(res.problem.U_prime, res.D, v))
        errs = {
            "dual_infeasibility": max(0.0, b - beta) / beta,
            "dual_value_vs_primal": _rel(dual_objective(y, v), sol.objective),
            "active_tightness": _active_tightness(res, v, beta),
        }
        return Evidence(
            max_rel_err=max(errs.values()),
            details={**errs, "constraint_bound": b, **_solution_details(res)},
        )

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Refine in mpmath and certify the gap with ``certify_mp``."""
        from bnconvex.numerics.highprec.mp_refine import certify_mp, refine_solution

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        res = _exact_solution(X, y, beta)
        mp_sol = refine_solution(
            X, y, beta, res.D, res.solution, dps=dps, U_prime=res.problem.U_prime
        )
        cert = certify_mp(X, y, beta, res.D, mp_sol, dps=dps, complete=True)
        rel_gap = abs(cert.gap) / max(abs(cert.primal), mpmath.mpf(10) ** -dps)
        details = {
            "digits_certified": float(cert.digits),
            "bound_kind": cert.bound_kind,
            "kkt": {k: mpmath.nstr(v, 5) for k, v in cert.kkt_residuals.items()},
        }
        ev = Evidence(
            max_rel_err=float(rel_gap),
            digits=float(cert.digits),
            values={"primal": mpmath.nstr(cert.primal, dps)},
            details=details,
        )
        if dps >= 40 and cert.digits < self.min_digits:
            ev.status = "failed"
            details["reason"] = (
                f"{cert.digits:.1f} certified digits < {self.min_digits}"
            )
        return ev


# --------------------------------------------------------------- claim 12
@register
class UniversalLowerBound(Claim):
    """Claim 12: ``p* >= h(||y+||) + h(||y-||)`` for any data."""

    id = "closed_form.universal_lower_bound"
    title = "Every BN network's objective is at least h(||y+||) + h(||y-||)"
    paper_ref = (
        "docs/theory.md#closed_form-universal_lower_bound (R2, universal lower bound)"
    )
    paper_tag = "DERIVED+NUM"
    statement = (
        r"p^* \ge h_\beta(\|y_+\|) + h_\beta(\|y_-\|),\quad h_\beta(t) = "
        r"\begin{cases} t^2/2 & t \le \beta \\ \beta t - \beta^2/2 & t > \beta"
        r"\end{cases}"
    )
    tolerances = {"float64": 1e-12}
    tolerance_kind = {"float64": "rel"}
    tolerance_notes = {
        "float64": "relative amount by which an objective falls below "
        "the bound: only rounding of two objectives (~1e-15)"
    }
    tags = ("solver",)
    examples = {"quick": 3, "default": 10, "thorough": 100}

    def instances(self) -> Any:
        """Draw generic data with a random network of width 1-4."""
        return S.with_network(
            S.regression_instances((4, 7), (1, 2), _SOLVER_BETAS), (1, 4)
        )

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Random network and reconstructed optimum are both above the bound."""
        from bnconvex.numerics.core.closed_form import universal_lower_bound
        from bnconvex.numerics.core.network import objective

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        bound = float(universal_lower_bound(y, beta))
        res = _exact_solution(X, y, beta)  # any feasible point is a valid network
        sol = res.solution
        best = objective(res.network, X, y, beta)
        rand = objective(_network(inst["net"]), X, y, beta)
        below = max(0.0, bound - min(best, rand)) / max(bound, TINY)
        return Evidence(
            max_rel_err=below,
            details={
                "bound": bound,
                "optimum_objective": best,
                "random_network_objective": rand,
                "certified_lower_bound": float(sol.lower_bound),
            },
        )


# --------------------------------------------------------------- claim 13
#: Found by ``bnconvex verify --thorough`` (2026-11-25, mp_refine at 30a0db0):
#: the float64 solve was exact to 7e-15, but ``refine_solution`` at dps 30
#: stalled (gradient norm 2.8e-3 after 131 Newton steps, 2.3 certified digits)
#: while dps 40 and 50 converged in 2 steps.  Later mp linear-algebra changes
#: refine it in 2 steps at every dps; kept as a regression example.
_HIGHDIM_REFINE_STALL = {
    "X": np.array(
        [
            [-0.9088046017697267, 0.8644417294742947, -0.9110147871963843],
            [-0.18770857199420835, 2.9875377451093894, 0.08334237426653975],
            [-2.698646053296321, -0.45585967901910407, -1.3387428075302585],
            [1.0580126870881361, 1.1231140720051516, -1.2952882569375395],
        ]
    ),
    "y": np.array(
        [
            0.03352964292959204,
            -0.4684364168120421,
            1.4295053762668875,
            0.26962481258994075,
        ]
    ),
    "beta": 0.02,
}


@register
class HighdimSolver(Claim):
    """Claim 13: with ``rank(CX) = n - 1`` the solver optimum is the closed form."""

    id = "closed_form.highdim_solver"
    title = "High-dimensional regime: solver optimum, weights and predictions match R2"
    paper_ref = (
        "docs/theory.md#closed_form-highdim_solver (R2; paper: abstract, closed forms)"
    )
    paper_tag = "DERIVED+NUM"
    statement = (
        r"\operatorname{rank}(CX) = n - 1 \Rightarrow p^* = h_\beta(\|y_+\|) + "
        r"h_\beta(\|y_-\|),\ f^* = (1 - \beta/\|y_+\|)_+ y_+ - "
        r"(1 - \beta/\|y_-\|)_+ y_-,\ m^* \le 2"
    )
    tolerances = {"float64": 1e-8, "mp": 1e-20}
    tolerance_kind = {"float64": "rel", "mp": "rel"}
    tolerance_notes = {
        "float64": "solver optimum vs closed form and the certified gap: solver "
        "tol 1e-10 with margin; closed-form network objective and predictions are "
        "rounding-level (~1e-13)",
        "mp": "mp-refined convex optimum vs highdim_optimum_mp at the same dps",
    }
    tags = ("solver", "mp")
    examples = {"quick": 2, "default": 6, "thorough": 60}
    tier_examples = {"mp": {"quick": 1, "default": 2, "thorough": 10}}

    def instances(self) -> Any:
        """Draw data with ``d >= n - 1`` (full centred row rank), n in 3..6."""
        return S.highdim_instances((3, 6), _SOLVER_BETAS)

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Solver vs closed form; closed-form network objective, predictions, width."""
        from bnconvex.numerics.core import closed_form as cf
        from bnconvex.numerics.core.network import forward, objective

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        p_cf = float(cf.highdim_optimum(y, beta))
        res = _exact_solution(X, y, beta)
        if (undecided := _unsolved(res)) is not None:
            return undecided
        sol = res.solution
        net = cf.highdim_network(X, y, beta)
        pred = np.asarray(cf.highdim_prediction(y, beta), dtype=float)
        errs = {
            "solver_vs_closed_form": _rel(sol.objective, p_cf),
            "solver_gap": float(sol.relative_gap),
            "network_objective": _rel(objective(net, X, y, beta), p_cf),
            "prediction": float(
                np.linalg.norm(np.asarray(forward(net, X)) - pred)
                / max(np.linalg.norm(y), TINY)
            ),
        }
        details = {
            **errs,
            "neurons": int(net.m),
            "closed_form": p_cf,
            **_solution_details(res),
        }
        if net.m > 2:
            details["reason"] = f"closed-form network has {net.m} > 2 neurons"
            return Evidence(
                max_rel_err=max(errs.values()), status="failed", details=details
            )
        return Evidence(max_rel_err=max(errs.values()), details=details)

    def check_mp(self, inst: dict[str, Any], dps: int) -> Evidence:
        """Refine the convex optimum in mpmath; compare with the mp closed form.

        The refined point is also certified (``certify_mp``), so that a
        refinement that did not converge is reported as such.
        """
        from bnconvex.numerics.highprec.mp_refine import (
            certify_mp,
            highdim_optimum_mp,
            refine_solution,
        )

        X, y, beta = inst["X"], inst["y"], inst["beta"]
        res = _exact_solution(X, y, beta)
        mp_sol = refine_solution(
            X, y, beta, res.D, res.solution, dps=dps, U_prime=res.problem.U_prime
        )
        cert = certify_mp(X, y, beta, res.D, mp_sol, dps=dps, complete=True)
        p_cf = highdim_optimum_mp(y, beta, dps=dps)
        err = abs(mp_sol.objective - p_cf) / max(abs(p_cf), mpmath.mpf(10) ** -dps)
        details: dict[str, Any] = {
            "closed_form": mpmath.nstr(p_cf, 20),
            "digits_certified": float(cert.digits),
            "newton_iterations": mp_sol.iterations,
        }
        if cert.digits < dps - 10:
            details["reason"] = (
                f"mp refinement did not converge at dps {dps}: "
                f"{cert.digits:.1f} certified digits after {mp_sol.iterations} "
                f"Newton steps (refine_solution)"
            )
        return Evidence(
            max_rel_err=float(err),
            status="failed" if "reason" in details else None,
            values={"optimum": mpmath.nstr(mp_sol.objective, dps)},
            details=details,
        )

    def explicit_examples(self) -> list[Any]:
        """Pinned counterexamples (style.md item 22)."""
        return [_HIGHDIM_REFINE_STALL]


# --------------------------------------------------------------- claim 14
@register
class InputTransformInvariance(Claim):
    """Claim 14: ``p*(X) = p*(XA + 1c^T)`` for invertible ``A``."""

    id = "convex.input_transform_invariance"
    title = "The optimum is invariant to invertible affine maps of the inputs"
    paper_ref = "docs/theory.md#convex-input_transform_invariance (R0.4)"
    paper_tag = "DERIVED+NUM"
    statement = (
        r"p^*(XA + \mathbf 1c^T) = p^*(X)\ \ (A \text{ invertible}),\quad "
        r"U'U'^T \text{ unchanged}"
    )
    tolerances = {"float64": 1e-8}
    tolerance_kind = {"float64": "rel"}
    tolerance_notes = {
        "float64": "max of the projector difference (~cond(A) eps, "
        "cond(A) <= 4), pattern-set mismatches (exact), and the "
        "relative difference of two optima each solved to tol 1e-10"
    }
    tags = ("solver",)
    examples = {"quick": 2, "default": 6, "thorough": 60}

    def instances(self) -> Any:
        """Draw generic data, a diagonally dominant ``A`` and a shift ``c``."""
        return S.with_affine_map(S.regression_instances((4, 7), (1, 3), _SOLVER_BETAS))

    def check_float64(self, inst: dict[str, Any]) -> Evidence:
        """Projectors, pattern sets and optima of ``X`` and ``XA + 1c^T``."""
        X, y, beta = inst["X"], inst["y"], inst["beta"]
        X2 = X @ inst["A"] + inst["c"]
        r1, r2 = _exact_solution(X, y, beta), _exact_solution(X2, y, beta)
        if (undecided := _unsolved(r1, r2)) is not None:
            return undecided
        U1, U2 = r1.problem.U_prime, r2.problem.U_prime
        P1, P2 = U1 @ U1.T, U2 @ U2.T
        mismatch = len(_column_set(r1.D) ^ _column_set(r2.D))
        s1, s2 = r1.solution, r2.solution
        errs = {
            "projector": float(np.abs(P1 - P2).max()),
            "pattern_mismatch": math.inf if mismatch else 0.0,
            "optimum": _rel(s2.objective, s1.objective),
            "gaps": max(s1.relative_gap, s2.relative_gap),
        }
        return Evidence(
            max_rel_err=max(errs.values()),
            details={
                **errs,
                "pattern_mismatch_count": mismatch,
                "optimum_X": float(s1.objective),
                "optimum_XA": float(s2.objective),
            },
        )
