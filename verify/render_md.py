"""Render ``report.md`` from the records of ``report.jsonl`` only (style.md 31).

Layout: a title and run header; the summary table (claim with its title,
whose mathematics is in ``$...$``, and a link to its section of
``docs/theory.md``; paper reference; tiers; status; how many symbolic steps
hold for every size and how many only at explicit sizes; worst error against
tolerance, mp digits, time); a failures section when any record failed; then
one section per claim with its LaTeX statement in ``$$ ... $$``, its
derivation steps in words with their scope and the named hypotheses each
used (from a record's ``details.derivation``), tolerances with notes, and
evidence counts per tier.  A passed claim whose symbolic steps are not all
general shows "passed (instances)".
Nothing here imports the claim registry: what is not in the file is not shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bnconvex.verify.records import (
    ClaimSummary,
    SymbolicScope,
    aggregate_status,
    report_theory_link,
    status_label,
    summarize,
    symbolic_scope,
)

__all__ = ["render_markdown"]

_STATUS_MARK = {
    "passed": "passed",
    "failed": "**FAILED**",
    "inconclusive": "*inconclusive*",
    "skipped": "skipped",
}
_INSTANCE_CHARS = 600


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(x: Any, spec: str = ".2e") -> str:
    if isinstance(x, (int, float)):
        return format(x, spec)
    return "—" if x is None else str(x)


def _err_text(rec: Mapping[str, Any]) -> str:
    key = "max_rel_err" if rec.get("tolerance_kind") == "rel" else "max_abs_err"
    return f"{_fmt(rec.get(key))} ({rec.get('tolerance_kind')}"


def _worst_error(s: ClaimSummary) -> str:
    if s.worst is None:
        return "exact" if s.tiers.keys() == {"symbolic"} else "—"
    return _err_text(s.worst) + ")"


def _worst_cell(s: ClaimSummary) -> str:
    if s.worst is None:
        return "exact" if s.tiers.keys() == {"symbolic"} else "—"
    return f"{_err_text(s.worst)}, tolerance {_fmt(s.worst.get('tolerance'), '.0e')})"


def _status_text(status: str, scope: SymbolicScope | None) -> str:
    """Status mark, with "(instances)" when the symbolic steps are not all general."""
    label = status_label(status, scope)
    return _STATUS_MARK[status] + label[len(status) :]


def _title(m: Mapping[str, Any]) -> str:
    """Return the claim's title, with its mathematics in ``$...$`` when known."""
    return str(m.get("title_latex") or m.get("title", ""))


def _claim_cell(cid: str, m: Mapping[str, Any]) -> str:
    # a table cell escapes "|": write the norm bars of the title as \Vert
    title = _title(m).replace("\\|", "\\Vert ")
    text = f"[`{cid}`](#{_anchor(cid)}) {title}"
    if m.get("theory_ref"):
        text += f" ([theory]({report_theory_link(m['theory_ref'])}))"
    return _cell(text)


def _summary_table(
    meta: Mapping[str, Any],
    sums: Mapping[str, ClaimSummary],
    scopes: Mapping[str, SymbolicScope],
) -> list[str]:
    lines = [
        "| claim | paper ref | tiers | status | symbolic steps "
        "| worst error / tolerance | digits | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cid, s in sums.items():
        m, scope = meta.get(cid, {}), scopes.get(cid)
        tiers = ", ".join(
            f"{t}: {status_label(st, scope) if t == 'symbolic' else st}"
            for t, st in s.tiers.items()
        )
        digits = "—" if s.digits is None else f"{s.digits:.1f}"
        steps = (scope.text() if scope else "") or "—"
        lines.append(
            f"| {_claim_cell(cid, m)} | {_cell(m.get('paper_ref', '—'))} | "
            f"{_cell(tiers)} | {_status_text(s.status, scope)} | {steps} | "
            f"{_cell(_worst_cell(s))} | {digits} | {s.seconds:.2f} |"
        )
    return lines


def _anchor(cid: str) -> str:
    return "claim-" + cid.replace(".", "-").replace("_", "-")


def _short_json(obj: Any) -> str:
    text = json.dumps(obj, separators=(",", ":"))
    if len(text) > _INSTANCE_CHARS:
        text = text[:_INSTANCE_CHARS] + f"... ({len(text)} chars)"
    return text


def _failure_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    failed = [r for r in records if r["status"] == "failed"]
    if not failed:
        return []
    lines = ["## Failures", ""]
    for r in failed:
        where = f"`{r['id']}` tier {r['tier']}, example {r['example']}"
        if r.get("dps") is not None:
            where += f", dps {r['dps']}"
        if (r.get("hypothesis") or {}).get("shrunk"):
            where += " (shrunk counterexample)"
        lines.append(f"- {where}: {r['details'].get('reason', 'failed')}")
        err = (
            r.get("max_rel_err")
            if r.get("tolerance_kind") == "rel"
            else r.get("max_abs_err")
        )
        lines.append(
            f"  - error {_fmt(err)} vs tolerance {_fmt(r.get('tolerance'), '.0e')}"
        )
        if r.get("error"):
            lines.append(f"  - exception: `{_cell(r['error'])}`")
        if r.get("instance") is not None:
            lines.append(f"  - instance: `{_short_json(r['instance'])}`")
    return [*lines, ""]


def _derivation(recs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    for r in recs:
        steps = r.get("details", {}).get("derivation")
        if steps:
            return list(steps)
    return []


def _step_line(k: int, st: Mapping[str, Any]) -> str:
    """``k. **words** (scope): $$latex$$``, then the hypotheses the step used."""
    words = st.get("title") or st["name"]
    scope = f" ({st['scope']})" if st.get("scope") else ""
    line = f"{k}. {words}{scope}: $${st['latex']}$$"
    hyps = st.get("hypotheses") or []
    if hyps:
        line += " — using " + "; ".join(
            f"{h['name']} (${h['latex']}$)" for h in hyps
        )
    return line


def _claim_section(
    cid: str, m: Mapping[str, Any], s: ClaimSummary, recs: Sequence[Mapping[str, Any]]
) -> list[str]:
    scope = symbolic_scope(recs)
    ref = m.get("theory_ref")
    theory = f" Theory: [{ref}]({report_theory_link(ref)})." if ref else ""
    lines = [
        f'<a id="{_anchor(cid)}"></a>',
        f"### `{cid}` — {_title(m)}",
        "",
        f"Paper reference: {m.get('paper_ref', '—')} "
        f"(evidence tag {m.get('paper_tag') or '—'}). "
        f"Status: {_status_text(s.status, scope)}.{theory}",
        "",
    ]
    if m.get("statement"):
        lines += ["$$", m["statement"], "$$", ""]
    steps = _derivation(recs)
    if steps:
        counted = f" ({scope.text()} steps)" if scope.scope else ""
        lines += [f"Derivation{counted}:", ""]
        lines += [_step_line(k, st) for k, st in enumerate(steps, 1)]
        lines.append("")
    lines += _tier_table(m, recs)
    return lines


def _tier_table(m: Mapping[str, Any], recs: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| tier | status | passed | failed | inconclusive | skipped | worst error "
        "| tolerance | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    tiers: dict[str, list[str]] = {}
    for r in recs:
        tiers.setdefault(r["tier"], []).append(r["status"])
    sums = {
        t: summarize(r for r in recs if r["tier"] == t)[recs[0]["id"]] for t in tiers
    }
    tols, notes = m.get("tolerances", {}), m.get("tolerance_notes", {})
    for tier, sts in tiers.items():
        counts = [
            str(sts.count(k)) for k in ("passed", "failed", "inconclusive", "skipped")
        ]
        exact = tier == "symbolic"
        tol = "exact" if exact else _fmt(tols.get(tier), ".0e")
        worst = "exact" if exact else _worst_error(sums[tier])
        scope = symbolic_scope(recs) if exact else None
        note = notes.get(tier, "") or (
            f"{scope.text()} steps" if scope and scope.scope else ""
        )
        lines.append(
            f"| {tier} | {_status_text(aggregate_status(sts), scope)} | "
            f"{' | '.join(counts)} | {worst} | {tol} | {_cell(note)} |"
        )
    return [*lines, ""]


def _header_lines(header: Mapping[str, Any]) -> list[str]:
    v = header.get("versions", {})
    soft = ", ".join(f"{k} {val}" for k, val in v.items() if val)
    mach = header.get("machine", {})
    return [
        f"Run {header.get('created', '?')}, mode **{header.get('mode', '?')}**, "
        f"mp precision {header.get('dps', '?')} "
        f"(levels {header.get('dps_levels', [])}), "
        f"backend {header.get('backend', '?')}, "
        f"git {header.get('git_revision') or 'unknown'}.",
        "",
        f"Software: {soft}. Machine: {mach.get('platform', '?')}, "
        f"{mach.get('cpu_count', '?')} CPUs, GPU {mach.get('gpu') or 'none'}.",
        "",
        f"BN convention: {header.get('bn_convention', '—')}",
        "",
    ]


def render_markdown(
    header: Mapping[str, Any], records: Sequence[Mapping[str, Any]]
) -> str:
    """Render the Markdown report.

    Parameters
    ----------
    header
        The header record (line 1 of ``report.jsonl``).
    records
        The check records, in file order.

    Returns
    -------
    str
        The full Markdown text.
    """
    sums = summarize(records)
    meta = header.get("claims", {})
    overall = aggregate_status(s.status for s in sums.values()) if sums else "skipped"
    lines = ["# bnconvex verification report", "", *_header_lines(header)]
    n_rec = len(records)
    lines += [
        f"Overall: {_STATUS_MARK[overall]} — {len(sums)} claims, {n_rec} records.",
        "",
    ]
    scopes = {
        cid: symbolic_scope(r for r in records if r["id"] == cid) for cid in sums
    }
    lines += ["## Summary", "", *_summary_table(meta, sums, scopes), ""]
    lines += _failure_lines(records)
    lines += ["## Claims", ""]
    for cid, s in sums.items():
        recs = [r for r in records if r["id"] == cid]
        lines += _claim_section(cid, meta.get(cid, {}), s, recs)
    return "\n".join(lines) + "\n"
