"""Shared machinery of the theory claims: lambdify caches, mp linear algebra, errors.

The symbolic expressions come from :mod:`bnconvex.theory`; this module turns
them into mpmath or NumPy callables (``sympy.lambdify``), runs the small
amount of high-precision linear algebra the claims need (a centred SVD with
``mpmath.svd_r``), and measures errors in one place so that every claim
reports them alike.  Tolerances are *not* here: each claim states its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from bnconvex.numerics.highprec.mp_refine import whiten_mp
from bnconvex.theory import Derivation, overall
from bnconvex.theory.symbols import alpha, bn_a, bn_std, gamma, vector
from bnconvex.verify.registry import Evidence

__all__ = [
    "MP_GUARD_DIGITS",
    "bn_function",
    "float_evidence",
    "mp_evidence",
    "mp_grad",
    "mp_list",
    "mp_matrix",
    "mp_whiten",
    "skipped",
    "symbolic_evidence",
]

#: the mp tier must agree to at least ``dps - MP_GUARD_DIGITS`` significant digits.
MP_GUARD_DIGITS = 10


def symbolic_evidence(derivation: Derivation) -> Evidence:
    """Prove every step of ``derivation``; ``passed`` only if every step is ``zero``.

    ``details`` also counts the steps proved for every size (``steps_general``)
    and those checked at explicit sizes only (``steps_instance``), and says
    ``symbolic_scope``: ``"general"`` when every step is general (the tier
    is then a proof of the claim), ``"instances"`` otherwise (the status is
    unchanged, so old readers still see ``passed``; reports show
    "passed (instances)").
    """
    verdicts = derivation.prove()
    verdict = overall(verdicts)
    status = {"zero": "passed", "inconclusive": "inconclusive", "nonzero": "failed"}[
        verdict
    ]
    counts = derivation.scope_counts()
    details: dict[str, Any] = {
        "steps": verdicts,
        "derivation": derivation.name,
        "steps_general": counts["general"],
        "steps_instance": counts["instance"],
        "symbolic_scope": "instances" if counts["instance"] else "general",
    }
    if status != "passed":
        bad = [k for k, v in verdicts.items() if v != "zero"]
        details["reason"] = f"steps not proved: {bad}"
    return Evidence(status=status, details=details)


@functools.lru_cache(maxsize=64)
def bn_function(size: int, modules: str, convention: str = "a") -> Callable[..., Any]:
    """``f(h_1..h_n, gamma, alpha) -> BN(h)`` lambdified from :mod:`bnconvex.theory`."""
    h = vector("h", size)
    expr = bn_a(h) if convention == "a" else bn_std(h)
    return sp.lambdify([*h, gamma, alpha], list(expr), modules=modules)


def mp_matrix(array: Any) -> mpmath.matrix:
    """Exact conversion of a float64 array (1-D -> column) to an mpmath matrix."""
    arr = np.asarray(array, dtype=np.float64)
    return mpmath.matrix(arr.reshape(arr.shape[0], -1).tolist())


def mp_whiten(X: np.ndarray) -> tuple[mpmath.matrix, list[Any], mpmath.matrix]:
    r"""Centred compact SVD at the working precision: ``U (n x r), sigma, Vt (r x d)``.

    A view of :func:`bnconvex.numerics.highprec.mp_refine.whiten_mp` at ``mp.dps`` (with
    its guard digits) with a fixed sign for each singular pair.

    Notes
    -----
    The rank counts :math:`\sigma_k > 10^{-\lfloor dps/2\rfloor}
    \max(\sigma_1, \|X\|_F)`.  Each pair :math:`(u_k, v_k)` is flipped so that
    the largest-:math:`|U_{ik}|` entry is positive (sklearn's ``svd_flip``):
    values compared across precisions then do not change sign with the SVD
    routine's arbitrary choice.
    """
    dps = mpmath.mp.dps
    wh = whiten_mp(X, dps=dps, rtol=10.0 ** -(dps // 2))
    n, r, d = wh.U.rows, wh.rank, wh.Vt.cols
    signs = []
    for k in range(r):
        i_max = max(range(n), key=lambda i: abs(wh.U[i, k]))
        signs.append(1 if wh.U[i_max, k] >= 0 else -1)
    U = mpmath.matrix([[signs[k] * wh.U[i, k] for k in range(r)] for i in range(n)])
    Vt = mpmath.matrix([[signs[k] * wh.Vt[k, j] for j in range(d)] for k in range(r)])
    return U, list(wh.sigma), Vt


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, mpmath.matrix):
        return [values[i, j] for i in range(values.rows) for j in range(values.cols)]
    if isinstance(values, (list, tuple)):
        return [x for v in values for x in _flatten(v)]
    return [values]


def mp_evidence(
    pairs: Mapping[str, tuple[Any, Any]],
    values: Mapping[str, Any],
    dps: int,
    *,
    scales: Mapping[str, Any] | None = None,
    **details: Any,
) -> Evidence:
    r"""Compare ``actual`` with ``desired`` for every named pair at working precision.

    ``max_rel_err`` is normwise, :math:`\max|a-b| / \max(\max|b|, 10^{-dps})`;
    ``digits`` is
    :math:`-\log_{10}` of it (capped at ``dps``).  ``scales`` overrides the
    scale of a pair whose desired value is zero (e.g. a cosine, scale 1).  The
    evidence *fails* when fewer than ``dps - MP_GUARD_DIGITS`` digits agree.
    """
    scales = scales or {}
    worst_abs, worst_rel = mpmath.mpf(0), mpmath.mpf(0)
    per_pair = {}
    for name, (actual, desired) in pairs.items():
        a, b = _flatten(actual), _flatten(desired)
        diff = max(
            (abs(x - y) for x, y in zip(a, b, strict=True)), default=mpmath.mpf(0)
        )
        scale = scales.get(name) or max(
            max((abs(y) for y in b), default=mpmath.mpf(0)), mpmath.mpf(10) ** (-dps)
        )
        worst_abs, worst_rel = max(worst_abs, diff), max(worst_rel, diff / scale)
        per_pair[name] = mpmath.nstr(diff / scale, 5)
    digits = float(min(dps, -mpmath.log10(worst_rel))) if worst_rel else float(dps)
    ev = Evidence(
        max_abs_err=float(worst_abs),
        max_rel_err=float(worst_rel),
        digits=digits,
        values={
            k: mpmath.nstr(v, dps, strip_zeros=False) for k, v in _named(values).items()
        },
        details={
            "relative_error_per_check": per_pair,
            "digits_vs_reference": digits,
            "required_digits": dps - MP_GUARD_DIGITS,
            **details,
        },
    )
    if digits < dps - MP_GUARD_DIGITS:
        ev.status = "failed"
        ev.details["reason"] = (
            f"{digits:.1f} digits agree at dps {dps}; need {dps - MP_GUARD_DIGITS}"
        )
    return ev


def _named(values: Mapping[str, Any]) -> dict[str, Any]:
    """Expand vector values into ``name[i]`` scalars."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        flat = _flatten(value)
        if len(flat) == 1:
            out[name] = flat[0]
        else:
            out.update({f"{name}[{i}]": x for i, x in enumerate(flat)})
    return out


def float_evidence(
    pairs: Mapping[str, tuple[Any, Any]],
    *,
    scales: Mapping[str, float] | None = None,
    **details: Any,
) -> Evidence:
    """Float64 analogue of :func:`mp_evidence` (normwise relative error, no digits)."""
    worst_abs, worst_rel, per_pair = 0.0, 0.0, {}
    scales = scales or {}
    for name, (actual, desired) in pairs.items():
        a = np.asarray(actual, dtype=np.float64).ravel()
        b = np.asarray(desired, dtype=np.float64).ravel()
        diff = float(np.max(np.abs(a - b))) if a.size else 0.0
        scale = scales.get(name) or (float(np.max(np.abs(b))) if b.size else 0.0)
        rel = diff / max(scale, np.finfo(float).tiny)
        worst_abs, worst_rel = max(worst_abs, diff), max(worst_rel, rel)
        per_pair[name] = rel
    return Evidence(
        max_abs_err=worst_abs,
        max_rel_err=worst_rel,
        details={"relative_error_per_check": per_pair, **details},
    )


def skipped(reason: str) -> Evidence:
    """Return evidence for a tier that cannot run (e.g. a missing numerics module)."""
    return Evidence(status="skipped", details={"reason": reason})


def mp_list(values: Sequence[float]) -> list[Any]:
    """Exact conversion of floats to ``mpf``."""
    return [mpmath.mpf(float(x)) for x in values]


def mp_grad(f: Callable[[list[Any]], Any], point: Sequence[Any]) -> list[Any]:
    """Gradient of ``f(list)`` at ``point`` by :func:`mpmath.diff` (high-precision)."""
    size = len(point)

    def partial(k: int) -> Any:
        orders = tuple(int(i == k) for i in range(size))
        return mpmath.diff(lambda *xs: f(list(xs)), tuple(point), orders)

    return [partial(k) for k in range(size)]
