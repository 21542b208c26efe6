"""Run the tiers of selected claims and produce report records.

A *unit* of work is one (claim, tier).  Each non-symbolic tier is driven by
Hypothesis: ``given(strategy)`` under ``settings(max_examples=N,
database=None, derandomize=True, deadline=None)``; every generated example
gives one record (three for the ``mp`` tier, one per precision level).  When a
check fails, Hypothesis shrinks the instance and the *shrunk* counterexample
is recorded as the failed record (``hypothesis.shrunk = true``).  A claim's
``explicit_examples()`` (pinned counterexamples) run first, in every mode, and
their records carry ``hypothesis.explicit = true``.

Status decision (the checker measures, the runner decides):

* the checker's own ``Evidence.status`` (``failed``, ``inconclusive``,
  ``skipped``) is final;
* otherwise the error named by the tier's ``tolerance_kind`` is compared with
  the claim's tolerance; nothing measured is ``inconclusive``, never ``passed``;
* an exception in a checker is a ``failed`` record carrying the traceback
  summary;
* a symbolic check passes only when the checker says ``passed``.

Units run in this process, in a local process pool (``jobs > 1``) or on a
Dask distributed cluster (``scheduler``), all through :func:`run_unit`.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib
import math
import multiprocessing
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import mpmath
from bnconvex.numerics.errors import InputError
from bnconvex.verify import records as rec
from bnconvex.verify.registry import TIERS, Claim, Evidence, all_claims, get_claim

__all__ = [
    "BACKENDS",
    "DEFAULT_DPS",
    "MODES",
    "MP_NEIGHBOUR_DPS",
    "RunOptions",
    "Unit",
    "decide_status",
    "dps_levels",
    "plan_units",
    "run_unit",
    "run_units",
    "select_claims",
]

MODES: tuple[str, ...] = ("quick", "default", "thorough")
BACKENDS: tuple[str, ...] = ("numpy", "cupy", "array-api-strict")
DEFAULT_DPS = 50
#: The mp tier also runs at these precisions, on the same instance.
MP_NEIGHBOUR_DPS: tuple[int, ...] = (30, 60)
DASK_HINT = "install Dask distributed with: python -m pip install 'bnconvex[dask]'"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run: mode, mp precision, array backend, parallelism."""

    mode: str = "default"
    dps: int = DEFAULT_DPS
    backend: str = "numpy"
    jobs: int = 1
    scheduler: str | None = None


@dataclasses.dataclass(frozen=True)
class Unit:
    """One (claim, tier) job; picklable, so it can run in another process."""

    claim_id: str
    tier: str
    options: RunOptions
    attach_derivation: bool = False


def dps_levels(dps: int) -> tuple[int, ...]:
    """Return the precisions of the mp tier: ``dps`` and its neighbours, ascending.

    Examples
    --------
    >>> dps_levels(50), dps_levels(30), dps_levels(80)
    ((30, 50, 60), (30, 60), (30, 60, 80))
    """
    return tuple(sorted({int(dps), *MP_NEIGHBOUR_DPS}))


# ------------------------------------------------------------- selection
def select_claims(
    ids: Sequence[str] = (), tags: Sequence[str] = (), tiers: Sequence[str] = ()
) -> list[Claim]:
    """Return the claims matching every filter, sorted by id.

    Parameters
    ----------
    ids
        Claim ids; unknown ids raise :class:`InputError` naming ``--claim``.
    tags
        Keep claims carrying at least one of these tags.
    tiers
        Keep claims implementing at least one of these tiers.
    """
    for tier in tiers:
        if tier not in TIERS:
            raise InputError(
                f"`--tier` must be one of {', '.join(TIERS)}; got {tier!r}"
            )
    claims = list(all_claims())
    known = {c.id for c in claims}
    for cid in ids:
        if cid not in known:
            raise InputError(f"`--claim` {cid!r} is not a registered claim id")
    return [
        c
        for c in claims
        if (not ids or c.id in ids)
        and (not tags or set(tags) & set(c.tags))
        and (not tiers or set(tiers) & set(c.tiers))
    ]


def plan_units(
    claims: Iterable[Claim], tiers: Sequence[str], options: RunOptions
) -> list[Unit]:
    """Return one unit per (claim, selected tier).

    The first unit of each claim carries the claim's derivation steps into
    its first record.
    """
    units = []
    for claim in claims:
        chosen = [t for t in claim.tiers if not tiers or t in tiers]
        units += [
            Unit(claim.id, t, options, attach_derivation=(k == 0))
            for k, t in enumerate(chosen)
        ]
    return units


# ------------------------------------------------------------- decisions
def _tolerance(claim: Claim, tier: str) -> tuple[float | None, str]:
    if tier == "symbolic":
        return 0.0, "exact"
    return float(claim.tolerances[tier]), claim.tolerance_kind.get(tier, "")


def decide_status(claim: Claim, tier: str, ev: Evidence) -> tuple[str, str, str | None]:
    """Return ``(status, tolerance_kind, reason)`` for one piece of evidence.

    Notes
    -----
    A checker may only *lower* the outcome: its ``status`` of ``failed``,
    ``inconclusive`` or ``skipped`` is final, ``passed`` still requires the
    measured error (if any) to be within the tolerance.  When nothing was
    measured and the checker did not say ``passed``, the result is
    ``inconclusive``.
    """
    tol, kind = _tolerance(claim, tier)
    if not kind:
        kind = "rel" if ev.max_rel_err is not None else "abs"
    if ev.status in ("failed", "inconclusive", "skipped"):
        reason = ev.details.get("reason", f"the checker reported {ev.status}")
        return ev.status, kind, reason
    err = ev.max_rel_err if kind == "rel" else ev.max_abs_err
    if err is None:
        if ev.status == "passed":
            return "passed", kind, None
        return "inconclusive", kind, "nothing was measured"
    if not math.isfinite(err) or err > (tol or 0.0):
        return "failed", kind, f"{kind} error {err:.3e} exceeds tolerance {tol:.1e}"
    return "passed", kind, None


# ------------------------------------------------------------ one check
def _traceback_summary(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = " <- ".join(
        f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})"
        for f in reversed(frames)
    )
    return f"{type(exc).__name__}: {exc} [at {where}]"


def _call(fn: Callable[[], Evidence]) -> tuple[Evidence | None, str | None, float]:
    start = time.perf_counter()
    try:
        ev = fn()
        if not isinstance(ev, Evidence):
            raise TypeError(f"checker returned {type(ev).__name__}, not Evidence")
    except Exception as exc:  # a checker exception is a failed record, never a crash
        return None, _traceback_summary(exc), time.perf_counter() - start
    return ev, None, time.perf_counter() - start


def _record(
    claim: Claim,
    tier: str,
    ev: Evidence | None,
    error: str | None,
    seconds: float,
    **fields: Any,
) -> dict[str, Any]:
    tol, kind = _tolerance(claim, tier)
    if ev is None:
        status, reason = "failed", "the checker raised an exception"
        ev = Evidence()
        kind = kind or "abs"
    else:
        status, kind, reason = decide_status(claim, tier, ev)
    details = dict(ev.details)
    if reason and "reason" not in details:
        details["reason"] = reason
    if ev.values:
        details.setdefault("values", dict(ev.values))
    return rec.make_record(
        claim.id,
        tier,
        status,
        tolerance=tol,
        tolerance_kind=kind,
        max_abs_err=ev.max_abs_err,
        max_rel_err=ev.max_rel_err,
        digits=ev.digits,
        seconds=seconds,
        details=details,
        error=error,
        **fields,
    )


def _namespace(backend: str) -> tuple[Any, str]:
    """Return the array module of ``--backend`` and its default device name."""
    module = {"numpy": "numpy", "array-api-strict": "array_api_strict"}.get(
        backend, backend
    )
    xp = importlib.import_module(module)
    return xp, str(getattr(xp.asarray(0.0), "device", "cpu"))


def _check_instance(
    claim: Claim, tier: str, instance: Any, options: RunOptions
) -> list[dict[str, Any]]:
    """Run one tier on one instance; the mp tier gives one record per level."""
    if tier == "mp":
        return _check_mp(claim, instance, options)
    fn = claim.checker(tier)
    if tier == "xp":
        xp, device = _namespace(options.backend)
        ev, err, sec = _call(lambda: fn(instance, xp))
        backend = options.backend
    else:
        ev, err, sec = _call(lambda: fn(instance))
        device, backend = "cpu", "numpy"
    return [
        _record(
            claim,
            tier,
            ev,
            err,
            sec,
            dtype="float64",
            device=device,
            backend=backend,
            instance=instance,
        )
    ]


def _agreed_digits(a: dict[str, str], b: dict[str, str], dps: int) -> float | None:
    r"""Decimal digits on which two levels' ``Evidence.values`` agree.

    Notes
    -----
    Per key, :math:`-\log_{10}(|x - y| / \max(1, |x|, |y|))`: relative for
    values above 1 and absolute below (mpmath ``almosteq`` with
    ``rel_eps = abs_eps``), so a quantity that is zero at both precisions
    (a residual of order :math:`10^{-p}`) agrees instead of failing.  The
    minimum over the common keys is returned, capped at ``dps``.
    """
    keys = sorted(set(a) & set(b))
    if not keys:
        return None
    with mpmath.workdps(dps + 10):
        worst = float(dps)
        for key in keys:
            x, y = mpmath.mpmathify(a[key]), mpmath.mpmathify(b[key])
            diff = abs(x - y)
            if diff:
                scale = max(abs(x), abs(y), mpmath.mpf(1))
                worst = min(worst, float(-mpmath.log10(diff / scale)))
    return worst


def _check_mp(claim: Claim, instance: Any, options: RunOptions) -> list[dict[str, Any]]:
    fn = claim.checker("mp")
    out: list[dict[str, Any]] = []
    prev: tuple[int, dict[str, str]] | None = None
    for dps in dps_levels(options.dps):

        def call(dps: int = dps) -> Evidence:
            with mpmath.workdps(dps):
                return fn(instance, dps)

        ev, err, sec = _call(call)
        r = _record(
            claim,
            "mp",
            ev,
            err,
            sec,
            dps=dps,
            dtype=f"mpf[{dps}]",
            device="cpu",
            backend="mpmath",
            instance=instance,
        )
        if ev is not None and prev is not None:
            _grade_agreement(claim, r, prev, dps, ev.values)
        out.append(r)
        prev = (dps, ev.values) if ev is not None else None
    return out


def _grade_agreement(
    claim: Claim,
    r: dict[str, Any],
    prev: tuple[int, dict[str, str]],
    dps: int,
    values: dict[str, str],
) -> None:
    low, low_values = prev
    digits = _agreed_digits(low_values, values, dps)
    if digits is None:
        return
    r["digits"] = digits
    need = low - claim.mp_digit_slack
    r["details"]["dps_agreement"] = {
        "lower_dps": low,
        "digits": digits,
        "required": need,
    }
    if digits < need and r["status"] in ("passed", "inconclusive"):
        r["status"] = "failed"
        r["details"]["reason"] = (
            f"dps {dps} agrees with dps {low} to {digits:.1f} digits; need {need}"
        )


# ------------------------------------------------------- Hypothesis drive
class _CheckFailed(AssertionError):
    """Raised inside the Hypothesis test so that the failing instance is shrunk."""


def _drive(
    claim: Claim, tier: str, strategy: Any, n_examples: int, options: RunOptions
) -> list[dict[str, Any]]:
    from hypothesis import HealthCheck, Phase, Verbosity, example, given, settings

    kept: list[dict[str, Any]] = []
    last_failed: list[list[dict[str, Any]]] = []
    hyp = {"max_examples": n_examples, "derandomize": True, "shrunk": False}

    @settings(
        max_examples=n_examples,
        database=None,
        derandomize=True,
        deadline=None,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(strategy)
    def check(instance: Any) -> None:
        recs = _check_instance(claim, tier, instance, options)
        if any(instance is ex for ex in pinned):
            for r in recs:
                r["hypothesis"] = {**hyp, "explicit": True}
        if any(r["status"] == "failed" for r in recs):
            last_failed[:] = [recs]
            raise _CheckFailed(claim.id)
        if not last_failed:
            kept.extend(recs)

    pinned = claim.explicit_examples()
    for ex in pinned:
        check = example(ex)(check)
    try:
        check()
    except _CheckFailed:
        for r in last_failed[0]:
            explicit = bool(r["hypothesis"].get("explicit"))
            r["hypothesis"] = {**hyp, **r["hypothesis"], "shrunk": not explicit}
        kept.extend(last_failed[0])
    except Exception as exc:  # health check, unsatisfiable strategy, flaky failure
        kept.extend(last_failed[0] if last_failed else [])
        kept.append(
            _record(claim, tier, None, _traceback_summary(exc), 0.0, hypothesis=hyp)
        )
    for r in kept:
        r["hypothesis"] = r["hypothesis"] or dict(hyp)
    return kept


# -------------------------------------------------------------- one unit
def _derivation_steps(claim: Claim) -> list[dict[str, Any]] | None:
    der = claim.derivation()
    if der is None:
        return None
    return [
        s.as_record() if hasattr(s, "as_record") else {"name": s.name, "latex": s.latex}
        for s in der.steps
    ]


def run_unit(unit: Unit) -> list[dict[str, Any]]:
    """Run one (claim, tier) and return its records (never raises for a checker)."""
    claim = get_claim(unit.claim_id)
    if unit.tier == "symbolic":
        ev, err, sec = _call(claim.checker("symbolic"))
        records = [_record(claim, "symbolic", ev, err, sec)]
    else:
        mode = unit.options.mode
        strategy = claim.quick_instances() if mode == "quick" else claim.instances()
        if strategy is None:
            records = _check_instance(claim, unit.tier, None, unit.options)
        else:
            n = claim.n_examples(unit.tier, mode)
            records = _drive(claim, unit.tier, strategy, n, unit.options)
    for k, r in enumerate(records):
        r["example"] = k
    if unit.attach_derivation and records:
        steps, err, _ = _derivation_or_error(claim)
        if steps:
            records[0]["details"]["derivation"] = steps
        if err:
            records[0]["details"]["derivation_error"] = err
    return records


def _derivation_or_error(claim: Claim) -> tuple[Any, str | None, float]:
    try:
        return _derivation_steps(claim), None, 0.0
    except Exception as exc:  # a broken derivation must not hide the checks
        return None, _traceback_summary(exc), 0.0


# ----------------------------------------------------------- many units
def run_units(
    units: Sequence[Unit],
    options: RunOptions,
    progress: Callable[[Unit, list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every unit (locally, in a process pool or on Dask); records in unit order."""
    if options.scheduler:
        results = _run_dask(units, options.scheduler)
    elif options.jobs > 1 and len(units) > 1:
        results = _run_pool(units, options.jobs, progress)
    else:
        results = []
        for unit in units:
            results.append(run_unit(unit))
            if progress:
                progress(unit, results[-1])
        return [r for res in results for r in res]
    if progress and options.scheduler:
        for unit, res in zip(units, results, strict=True):
            progress(unit, res)
    return [r for res in results for r in res]


def _run_pool(
    units: Sequence[Unit], jobs: int, progress: Callable[..., None] | None
) -> list[list[dict[str, Any]]]:
    ctx = multiprocessing.get_context("spawn")
    results: list[list[dict[str, Any]] | None] = [None] * len(units)
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        futures = {pool.submit(run_unit, u): k for k, u in enumerate(units)}
        for fut in concurrent.futures.as_completed(futures):
            k = futures[fut]
            results[k] = fut.result()
            if progress:
                progress(units[k], results[k])
    return [r or [] for r in results]


def _run_dask(units: Sequence[Unit], address: str) -> list[list[dict[str, Any]]]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError(f"`--scheduler` needs Dask distributed; {DASK_HINT}") from None
    with Client(address) as client:
        futures = client.map(run_unit, list(units), pure=False)
        return client.gather(futures)
