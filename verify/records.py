"""JSON-lines report records: one header, then one record per (claim, tier, instance).

The layout is fixed by ``verify/schema/report.schema.json`` (style.md item 29,
Hypothesis ``docs/reference/schema_observations.json``).  Every renderer
(``render_md``, ``render_html``) reads *only* what is written here.

Line 1 is the header record (``"type": "header"``): software versions, machine
and git revision (:mod:`bnconvex.numerics.provenance`), seeds, run mode, the
BN-convention note, and the metadata of every claim that was run (title, paper
reference, LaTeX statement, tolerances), so a report can be rendered from the
file alone.  Every following line is a check
record (``"type": "record"``).

Files are written atomically (:mod:`bnconvex.numerics.dataio.atomic`): to a
temporary file in the target directory, then :func:`os.replace`, so a failed
run never leaves a partial report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import math
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.numerics.dataio.atomic import atomic_write_text
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.provenance import provenance_record

__all__ = [
    "BN_CONVENTION_NOTE",
    "SCHEMA_VERSION",
    "ClaimSummary",
    "SymbolicScope",
    "aggregate_status",
    "claim_metadata",
    "header_record",
    "jsonable",
    "load_schema",
    "make_record",
    "read_jsonl",
    "report_theory_link",
    "status_label",
    "summarize",
    "symbolic_scope",
    "theory_ref",
    "theory_source",
    "validate_records",
    "write_jsonl",
]

SCHEMA_VERSION = 1

BN_CONVENTION_NOTE = (
    "Convention A (canonical): BN(h) = gamma*C h/||C h||_2 + alpha/sqrt(n); "
    "weight decay (beta/2)(gamma^2+alpha^2+v^2). Standard (std) BN equals "
    "sqrt(n) times convention A, so a std-BN problem with beta is the "
    "convention-A problem with beta/sqrt(n)."
)

#: Arrays with more entries than this are summarised (shape, norms) in ``instance``.
MAX_INSTANCE_ENTRIES = 400


# ---------------------------------------------------------------- JSON safety
def jsonable(obj: Any) -> Any:
    """Convert ``obj`` to plain JSON types (lists, floats, str), recursively.

    NumPy arrays become nested lists (or a summary when large), non-finite
    floats become the strings ``"nan"``, ``"inf"``, ``"-inf"``, mpmath numbers
    and anything else unknown become their ``str``.
    """
    if obj is None or isinstance(obj, (bool, str, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return _array_json(obj)
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if hasattr(obj, "__array__") or hasattr(obj, "__dlpack__"):
        with contextlib.suppress(Exception):
            return _array_json(np.asarray(obj))
    return str(obj)


def _array_json(arr: np.ndarray) -> Any:
    if arr.size <= MAX_INSTANCE_ENTRIES:
        return jsonable(arr.tolist())
    finite = np.isfinite(arr) if np.issubdtype(arr.dtype, np.number) else None
    summary: dict[str, Any] = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
    if finite is not None and finite.all():
        summary["fro_norm"] = float(np.linalg.norm(arr.astype(float).ravel()))
    return summary


# ------------------------------------------------------------------- header
def _base_seed() -> int:
    from bnconvex.verify.strategies import BASE_SEED

    return BASE_SEED


def theory_ref(claim_id: str) -> str:
    """Link to the claim's section of ``docs/theory.md`` (dots become dashes).

    Examples
    --------
    >>> theory_ref("bn.scale_invariance")
    'docs/theory.md#bn-scale_invariance'
    """
    return "docs/theory.md#" + claim_id.replace(".", "-")


def report_theory_link(theory_ref: str) -> str:
    """Return the link a report written into its own folder uses for ``theory_ref``.

    The report folder carries its own copy of ``theory.md`` (see
    :func:`theory_source`), so the link is relative to the report.

    Examples
    --------
    >>> report_theory_link("docs/theory.md#bn-scale_invariance")
    'theory.md#bn-scale_invariance'
    """
    return theory_ref.rsplit("/", 1)[-1]


def theory_source() -> Path | None:
    """Return ``docs/theory.md`` of the source tree this package runs from, if any.

    Reports copy it beside ``report.md`` so that their theory links resolve
    wherever the folder is moved; ``None`` for an installation without the
    source tree (the links then name a file the folder lacks).
    """
    path = Path(__file__).resolve().parents[1] / "docs" / "theory.md"
    return path if path.is_file() else None


def claim_metadata(claim: Any) -> dict[str, Any]:
    """Return the static description of a claim, as stored in the header.

    ``title_latex`` (optional) is the title with its mathematics in ``$...$``,
    which both reports typeset; ``theory_ref`` links the claim's section of
    ``docs/theory.md``.
    """
    return {
        "title": claim.title,
        **(
            {"title_latex": claim.title_latex}
            if getattr(claim, "title_latex", "")
            else {}
        ),
        "theory_ref": theory_ref(claim.id),
        "paper_ref": claim.paper_ref,
        "paper_tag": getattr(claim, "paper_tag", ""),
        "statement": claim.statement,
        "tiers": list(claim.tiers),
        "tolerances": jsonable(dict(claim.tolerances)),
        "tolerance_notes": dict(getattr(claim, "tolerance_notes", {})),
        "tags": list(claim.tags),
    }


def header_record(
    *,
    mode: str,
    dps: int,
    dps_levels: Iterable[int],
    backend: str,
    claims: Iterable[Any],
    argv: Iterable[str] = (),
) -> dict[str, Any]:
    """Build the header record of a run.

    Parameters
    ----------
    mode
        ``"quick"``, ``"default"`` or ``"thorough"``.
    dps, dps_levels
        The requested mp precision and every precision the mp tier ran at.
    backend
        Array backend of the ``xp`` tier: ``numpy``, ``cupy`` or
        ``array-api-strict``.
    claims
        The selected :class:`~bnconvex.verify.registry.Claim` objects.
    argv
        The command line, for the record.
    """
    return {
        "type": "header",
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        **provenance_record(),
        "mode": mode,
        "dps": int(dps),
        "dps_levels": [int(p) for p in dps_levels],
        "backend": backend,
        "seeds": {
            "hypothesis": "derandomize=True: examples are fixed by the claim",
            "numpy": "explicit per instance (see each record's instance)",
            "strategies_base_seed": _base_seed(),
        },
        "argv": list(argv),
        "bn_convention": BN_CONVENTION_NOTE,
        "claims": {c.id: claim_metadata(c) for c in claims},
    }


# ------------------------------------------------------------------ records
def make_record(
    claim_id: str,
    tier: str,
    status: str,
    *,
    tolerance: float | None,
    tolerance_kind: str,
    example: int = 0,
    max_abs_err: float | None = None,
    max_rel_err: float | None = None,
    dps: int | None = None,
    dtype: str | None = None,
    device: str | None = None,
    backend: str | None = None,
    instance: Any = None,
    hypothesis: Mapping[str, Any] | None = None,
    seconds: float = 0.0,
    digits: float | None = None,
    details: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One check record; see the schema for the meaning of each field."""
    return {
        "type": "record",
        "id": claim_id,
        "tier": tier,
        "status": status,
        "example": int(example),
        "max_abs_err": _num(max_abs_err),
        "max_rel_err": _num(max_rel_err),
        "tolerance": _num(tolerance),
        "tolerance_kind": tolerance_kind,
        "dps": None if dps is None else int(dps),
        "dtype": dtype,
        "device": device,
        "backend": backend,
        "instance": jsonable(instance),
        "hypothesis": jsonable(dict(hypothesis or {})),
        "seconds": float(seconds),
        "digits": _num(digits),
        "details": jsonable(dict(details or {})),
        "error": error,
    }


def _num(x: float | None) -> float | str | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else str(x)


# --------------------------------------------------------------- file I/O
def write_jsonl(
    path: str | os.PathLike[str],
    header: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
) -> None:
    """Write the header and the records as JSON lines, atomically."""
    lines = [json.dumps(header, sort_keys=False, allow_nan=False)]
    lines += [json.dumps(rec, sort_keys=False, allow_nan=False) for rec in records]
    atomic_write_text(path, "\n".join(lines) + "\n")


def read_jsonl(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read a report; :class:`InputError` names the file and the bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"`JSONL` cannot be read: {path} ({exc.strerror})") from None
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            msg = f"`JSONL` {path} line {lineno} is not JSON: {exc.msg}"
            raise InputError(msg) from None
    if not rows or not isinstance(rows[0], dict) or rows[0].get("type") != "header":
        raise InputError(f"`JSONL` {path} must start with a header record")
    bad = [
        i
        for i, r in enumerate(rows[1:], 2)
        if not isinstance(r, dict) or r.get("type") != "record"
    ]
    if bad:
        raise InputError(f"`JSONL` {path} line {bad[0]} is not a check record")
    return rows[0], rows[1:]


# ----------------------------------------------------------------- schema
def load_schema() -> dict[str, Any]:
    """Return the JSON schema of a report line (header or record)."""
    schema = resources.files("bnconvex.verify").joinpath("schema/report.schema.json")
    text = schema.read_text(encoding="utf-8")
    return json.loads(text)


def validate_records(
    header: Mapping[str, Any], records: Iterable[Mapping[str, Any]]
) -> None:
    """Validate every line against the schema (needs ``jsonschema``).

    Raises
    ------
    jsonschema.ValidationError
        On the first invalid line.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    validator.validate(header)
    for rec in records:
        validator.validate(rec)


# ---------------------------------------------------------------- summary
@dataclasses.dataclass
class ClaimSummary:
    """Aggregate of the records of one claim.

    Attributes
    ----------
    status
        ``failed`` if any record failed; else ``inconclusive`` if any was
        inconclusive; else ``passed`` if at least one passed; else ``skipped``.
    counts
        Status -> number of records.
    tiers
        Tier -> status, aggregated by the same rule.
    worst_ratio
        Largest error/tolerance over the records (``None`` when none measured).
    worst
        The record attaining ``worst_ratio``.
    digits
        Smallest number of digits agreed across mp precision levels.
    seconds
        Total wall time of the claim's records.
    """

    status: str
    counts: dict[str, int]
    tiers: dict[str, str]
    worst_ratio: float | None
    worst: dict[str, Any] | None
    digits: float | None
    seconds: float


def aggregate_status(statuses: Iterable[str]) -> str:
    """Combine statuses: failed > inconclusive > passed > skipped.

    Examples
    --------
    >>> aggregate_status(["passed", "inconclusive", "skipped"])
    'inconclusive'
    >>> aggregate_status(["skipped", "passed"])
    'passed'
    """
    seen = set(statuses)
    for status in ("failed", "inconclusive", "passed"):
        if status in seen:
            return status
    return "skipped"


def _error_ratio(rec: Mapping[str, Any]) -> float | None:
    tol = rec.get("tolerance")
    key = "max_rel_err" if rec.get("tolerance_kind") == "rel" else "max_abs_err"
    err = rec.get(key)
    if not isinstance(err, (int, float)):
        # the strings "nan"/"inf" count as infinitely bad
        return None if err is None else math.inf
    if not isinstance(tol, (int, float)) or tol <= 0:
        return 0.0 if err == 0 else math.inf
    return float(err) / float(tol)


@dataclasses.dataclass(frozen=True)
class SymbolicScope:
    """How much of a claim's symbolic tier holds for every size.

    Attributes
    ----------
    scope
        ``"general"`` (every derivation step proved for symbolic sizes: the
        tier is a proof), ``"instances"`` (some step only at explicit sizes),
        or ``None`` (no symbolic record, or a file written before the field).
    general, instance
        Number of general steps and of instance steps.
    """

    scope: str | None
    general: int
    instance: int

    def text(self) -> str:
        """Return ``"5 general"`` or ``"3 general, 3 instance"`` (``""``: unknown)."""
        if self.scope is None:
            return ""
        if not self.instance:
            return f"{self.general} general"
        return f"{self.general} general, {self.instance} instance"


def symbolic_scope(records: Iterable[Mapping[str, Any]]) -> SymbolicScope:
    """Read ``details.symbolic_scope`` and the step counts of the symbolic records.

    Examples
    --------
    >>> rec = {"tier": "symbolic", "details": {"symbolic_scope": "instances",
    ...        "steps_general": 3, "steps_instance": 2}}
    >>> symbolic_scope([rec])
    SymbolicScope(scope='instances', general=3, instance=2)
    """
    for rec in records:
        details = rec.get("details") or {}
        if rec.get("tier") == "symbolic" and details.get("symbolic_scope"):
            return SymbolicScope(
                str(details["symbolic_scope"]),
                int(details.get("steps_general", 0)),
                int(details.get("steps_instance", 0)),
            )
    return SymbolicScope(None, 0, 0)


def status_label(status: str, scope: SymbolicScope | None) -> str:
    """Return ``"passed (instances)"`` for a pass with instance-only symbolic steps.

    Examples
    --------
    >>> status_label("passed", SymbolicScope("instances", 3, 2))
    'passed (instances)'
    >>> status_label("passed", SymbolicScope("general", 5, 0))
    'passed'
    """
    if status == "passed" and scope is not None and scope.scope == "instances":
        return "passed (instances)"
    return status


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, ClaimSummary]:
    """Per-claim summary of check records, in first-appearance order."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for rec in records:
        grouped.setdefault(rec["id"], []).append(rec)
    return {cid: _summarize_one(recs) for cid, recs in grouped.items()}


def _summarize_one(recs: list[Mapping[str, Any]]) -> ClaimSummary:
    counts: dict[str, int] = {}
    by_tier: dict[str, list[str]] = {}
    for rec in recs:
        counts[rec["status"]] = counts.get(rec["status"], 0) + 1
        by_tier.setdefault(rec["tier"], []).append(rec["status"])
    ratios = [(r, _error_ratio(r)) for r in recs]
    measured = [(r, q) for r, q in ratios if q is not None]
    worst_rec, worst = max(measured, key=lambda rq: rq[1]) if measured else (None, None)
    digits = [r["digits"] for r in recs if isinstance(r.get("digits"), (int, float))]
    return ClaimSummary(
        status=aggregate_status(counts),
        counts=counts,
        tiers={t: aggregate_status(s) for t, s in by_tier.items()},
        worst_ratio=worst,
        worst=dict(worst_rec) if worst_rec is not None else None,
        digits=min(digits) if digits else None,
        seconds=sum(float(r.get("seconds", 0.0)) for r in recs),
    )
