"""Render a verification record (``report.jsonl``) as one self-contained HTML file.

The page is written for a reviewer who opens it offline: no script, no style
sheet, font or image is fetched from anywhere.  Figures are embedded as
``data:`` URIs, and every LaTeX formula is typeset to inline SVG by
matplotlib's mathtext (glyphs as paths), with the raw LaTeX kept as the SVG's
``<title>`` and shown verbatim whenever mathtext cannot parse it.

Sections, in order: environment header, summary table (one row per claim),
failures (or a line saying there were none), figures, and one section per
claim with its statement, derivation steps and evidence.

The page is rendered *from the records only* (style.md 31): claim titles,
statements and paper references are read from the records; the claim
registry is consulted only to fill fields a record lacks.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import io
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bnconvex.numerics.dataio.atomic import atomic_write_text
from bnconvex.numerics.errors import InputError
from bnconvex.verify.records import (
    ClaimSummary,
    read_jsonl,
    report_theory_link,
    status_label,
    summarize,
    symbolic_scope,
)

__all__ = [
    "ClaimView",
    "claim_views",
    "latex_to_svg",
    "render_html",
    "render_html_string",
    "render_jsonl",
    "split_header",
    "to_mathtext",
]

Record = Mapping[str, Any]
_STATUS_ORDER = ("failed", "inconclusive", "passed", "skipped")

# --------------------------------------------------------------------------
# LaTeX -> inline SVG (matplotlib mathtext)
# --------------------------------------------------------------------------

#: LaTeX -> mathtext rewrites, applied in order (regex, replacement).
_REWRITES: tuple[tuple[str, Any], ...] = (
    (r"\\operatorname\*?\{([^{}]*)\}", r"\\mathrm{\1}"),
    (
        r"\\(?:text|textrm|textnormal)\{([^{}]*)\}",
        lambda m: "\\mathrm{" + m.group(1).replace(" ", "\\ ") + "}",
    ),
    (r"\\(?:textbf|bm)\{([^{}]*)\}", r"\\mathbf{\1}"),
    (r"\\(?:underbrace|overbrace|mathop)\{([^{}]*)\}", r"{\1}"),
    (r"\\xrightarrow\{[^{}]*\}", r"\\rightarrow"),
    (r"\\tfrac", r"\\frac"),
    (
        r"\\([dt]?frac)\s*(\\[A-Za-z]+|[0-9A-Za-z])\s*(\\[A-Za-z]+|[0-9A-Za-z])",
        r"\\\1{\2}{\3}",
    ),
    (
        r"\\(mathbf|mathbb|mathrm|mathcal|mathit|sqrt|hat|tilde|bar|vec)\s+([0-9A-Za-z])",
        r"\\\1{\2}",
    ),
    (r"\\(?:lVert|rVert)", r"\\Vert "),
    (r"\\(?:lvert|rvert)", "|"),
    (r"\\[Bb]ig{1,2}[lr]?(?![a-zA-Z])", ""),
    (r"\\le(?![a-zA-Z])", r"\\leq"),
    (r"\\ge(?![a-zA-Z])", r"\\geq"),
    (r"\\(?:top|intercal)(?![a-zA-Z])", "T"),
    (r"\\(?:displaystyle|textstyle|limits|nolimits)(?![a-zA-Z])", ""),
    (r"\\!", ""),
    (r"\\coloneqq(?![a-zA-Z])", ":="),
    (r"\\iff(?![a-zA-Z])", r"\\Leftrightarrow"),
    (r"\\implies(?![a-zA-Z])", r"\\Rightarrow"),
)

#: Multi-line environments whose lines are typeset one by one (``&`` dropped).
_LINE_ENVS = (
    r"\\(?:begin|end)\{(?:aligned|align\*?|gathered|gather\*?|split|multline\*?)\}"
)


def to_mathtext(latex: str) -> str:
    r"""Rewrite LaTeX maths into the dialect that matplotlib's mathtext parses.

    Parameters
    ----------
    latex : str
        Maths-mode LaTeX without surrounding ``$``.

    Returns
    -------
    str
        The rewritten source (still without ``$``), on one line.

    Examples
    --------
    >>> to_mathtext(r"\operatorname{BN}(h) \le \lVert h \rVert + \tfrac12")
    '\\mathrm{BN}(h) \\leq \\Vert  h \\Vert  + \\frac{1}{2}'
    """
    out = latex.strip()
    for pattern, repl in _REWRITES:
        out = re.sub(pattern, repl, out)
    return re.sub(r"\s*\n\s*", " ", out)


_ID_RE = re.compile(r'id="([^"]+)"')


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make every ``id`` in ``svg`` unique to one formula (inline SVGs share a page)."""
    for ident in set(_ID_RE.findall(svg)):
        new = f"{prefix}-{ident}"
        svg = svg.replace(f'id="{ident}"', f'id="{new}"')
        svg = svg.replace(f'href="#{ident}"', f'href="#{new}"')
    return svg


@functools.lru_cache(maxsize=4096)
def _raw_svg(latex: str, size: float) -> str | None:
    """Typeset once (cached); ``None`` when mathtext cannot parse ``latex``."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    source = f"${to_mathtext(latex)}$"
    prop = FontProperties(size=size)
    try:
        width, height, depth, _, _ = MathTextParser("path").parse(
            source, dpi=72, prop=prop
        )
        fig = Figure(figsize=(max(width, 1.0) / 72, max(height, 1.0) / 72))
        fig.text(0, depth / max(height, 1.0), source, fontproperties=prop)
        buf = io.StringIO()
        fig.savefig(
            buf, dpi=72, format="svg", transparent=True, metadata={"Date": None}
        )
    except (ValueError, RuntimeError, KeyError):
        return None
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return re.sub(r"<!--.*?-->", "", svg, flags=re.S)


def latex_to_svg(latex: str, *, size: float = 12.0, key: str = "m") -> str | None:
    r"""Typeset maths-mode ``latex`` to an inline ``<svg>`` element.

    Parameters
    ----------
    latex : str
        Maths-mode LaTeX without surrounding ``$``.
    size : float
        Font size in points; the SVG is sized in points too.
    key : str
        Prefix that makes the SVG's element ids unique within one page.

    Returns
    -------
    str or None
        ``<svg ...>...</svg>`` with the glyphs as paths on a transparent
        background, or ``None`` when mathtext cannot parse the source.

    Notes
    -----
    The layout follows :func:`matplotlib.mathtext.math_to_image`: the parser
    returns the box width :math:`w`, height :math:`h` and depth :math:`d`
    below the baseline; a :math:`w \times h` figure holds the text at height
    :math:`d/h`, so the box fits exactly.
    """
    svg = _raw_svg(latex, float(size))
    return None if svg is None else _prefix_ids(svg, key)


def _display_lines(latex: str) -> list[str]:
    r"""Split a multi-line display formula (``\\``, aligned-type environments)."""
    body = re.sub(_LINE_ENVS, "", latex)
    lines = [
        ln.replace("&", " ").strip() for ln in re.split(r"\\\\(?:\[[^]]*\])?", body)
    ]
    lines = [ln for ln in lines if ln]
    return [re.sub(r"\\frac(?![a-zA-Z])", r"\\dfrac", ln) for ln in lines]


#: Two-dimensional environments laid out in HTML (not nested).
_GRID_RE = re.compile(r"\\begin\{(cases|[pbvBV]?matrix)\}(.*?)\\end\{\1\}", re.S)
#: Delimiters of each environment (left, right).
_DELIMS = {
    "cases": ("{", ""),
    "matrix": ("", ""),
    "pmatrix": ("(", ")"),
    "bmatrix": ("[", "]"),
    "Bmatrix": ("{", "}"),
    "vmatrix": ("|", "|"),
    "Vmatrix": ("‖", "‖"),
}


class _MathRenderer:
    r"""Turns LaTeX into page markup, numbering formulas for unique SVG ids.

    One-line formulas become one SVG; ``\\``-separated lines (aligned-type
    environments) one SVG per line.  ``cases`` and ``matrix``-type
    environments, which mathtext cannot typeset, are laid out by HTML (a
    delimiter and a grid of cells, each cell typeset); the LaTeX between them
    is typeset piece by piece.  Anything else mathtext cannot parse is shown
    as raw LaTeX.
    """

    def __init__(self) -> None:
        self._count = itertools.count()
        self.failed: list[str] = []

    def _svg(self, latex: str, size: float) -> str:
        """Typeset one line; raise ``ValueError`` when mathtext cannot."""
        svg = latex_to_svg(latex, size=size, key=f"f{next(self._count)}")
        if svg is None:
            raise ValueError(latex)
        return svg

    def _grid(self, env: str, body: str, size: float) -> str:
        """Lay out one cases/matrix environment: delimiters around a cell grid."""
        rows = [
            [c.strip() for c in line.split("&")] for line in re.split(r"\\\\", body)
        ]
        rows = [r for r in rows if any(r)]
        ncols = max(len(r) for r in rows)
        cells = "".join(
            f'<span class="cell">{self._svg(c, size) if c else ""}</span>'
            for r in rows
            for c in r + [""] * (ncols - len(r))
        )
        left, right = _DELIMS[env]
        align = "start" if env == "cases" else "center"
        grid = (
            f'<span class="grid" style="grid-template-columns:repeat({ncols},auto);'
            f'justify-items:{align}">{cells}</span>'
        )
        return (
            f'<span class="env"><span class="delim">{left}</span>{grid}'
            f'<span class="delim">{right}</span></span>'
        )

    def _inline(self, latex: str, size: float) -> str:
        """Typeset LaTeX that contains grid environments, piece by piece."""
        parts, pos = [], 0
        for match in _GRID_RE.finditer(latex):
            if latex[pos : match.start()].strip():
                parts.append(self._svg(latex[pos : match.start()], size))
            parts.append(self._grid(match.group(1), match.group(2), size))
            pos = match.end()
        if latex[pos:].strip():
            parts.append(self._svg(latex[pos:], size))
        return f'<span class="envline">{"".join(parts)}</span>'

    def _markup(self, latex: str, display: bool) -> str:
        size = 13.0 if display else 11.0
        if _GRID_RE.search(latex):
            return self._inline(latex, size)
        if re.search(r"\\begin\{array\}", latex):
            raise ValueError(latex)  # arrays: show the source
        lines = _display_lines(latex) if display else [latex]
        return "<br>".join(self._svg(ln, size) for ln in lines)

    def __call__(self, latex: str | None, *, display: bool = False) -> str:
        if not latex:
            return ""
        cls = "math display" if display else "math"
        raw = html.escape(latex)
        try:
            markup = self._markup(latex, display)
        except ValueError:
            self.failed.append(latex)
            return f'<code class="{cls} latex" title="LaTeX (not typeset)">{raw}</code>'
        markup = re.sub(
            r"<svg ([^>]*)>",
            lambda m: (
                f'<svg role="img" aria-label="{raw}" {m.group(1)}><title>{raw}</title>'
            ),
            markup,
        )
        return f'<span class="{cls}" title="{raw}" data-latex="{raw}">{markup}</span>'


# --------------------------------------------------------------------------
# Records -> one view per claim
# --------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """Return a record number as float (``"nan"``/``"inf"`` strings included)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _error_of(rec: Record) -> float | None:
    """Return the error that the record's tolerance bounds (``tolerance_kind``)."""
    key = "max_rel_err" if rec.get("tolerance_kind") == "rel" else "max_abs_err"
    return _num(rec.get(key))


@dataclasses.dataclass
class ClaimView:
    """What the page shows about one claim.

    Attributes
    ----------
    claim_id : str
        The claim's dotted id.
    meta : dict
        The claim's description from the header (``title``, ``paper_ref``,
        ``paper_tag``, ``statement``, ``tolerances``, ...).
    summary : bnconvex.verify.records.ClaimSummary
        Status, per-tier status, worst error/tolerance, digits and time,
        aggregated by :func:`bnconvex.verify.records.summarize`.
    records : list of dict
        The claim's check records, in file order.
    derivation : list of dict
        ``[{name, latex}]`` from the first record whose ``details`` has one.
    """

    claim_id: str
    meta: Mapping[str, Any]
    summary: ClaimSummary
    records: list[Record]
    derivation: list[Mapping[str, Any]]

    @property
    def status(self) -> str:
        """Aggregated status of the claim."""
        return self.summary.status


def split_header(records: Iterable[Record]) -> tuple[dict[str, Any], list[Record]]:
    """Separate the header record (``"type": "header"``) from the check records.

    Raises
    ------
    InputError
        If an element is not a JSON object or a check record has no ``id``.
    """
    header: dict[str, Any] = {}
    checks: list[Record] = []
    for rec in records:
        if not isinstance(rec, Mapping):
            raise InputError(
                f"`records` must hold JSON objects; got {type(rec).__name__}"
            )
        if rec.get("type") == "header":
            header.update(rec)
        elif not isinstance(rec.get("id"), str) or "status" not in rec:
            raise InputError(
                f"`records` holds a check record without id/status: {rec!r:.120}"
            )
        else:
            checks.append(rec)
    return header, checks


def claim_views(
    header: Mapping[str, Any], records: Sequence[Record]
) -> list[ClaimView]:
    """One :class:`ClaimView` per claim id, in order of first appearance."""
    metas = header.get("claims") if isinstance(header.get("claims"), Mapping) else {}
    views = []
    for cid, summary in summarize(records).items():
        recs = [r for r in records if r["id"] == cid]
        deriv = next(
            (d for d in (_details(r).get("derivation") for r in recs) if d), []
        )
        meta = metas.get(cid) if isinstance(metas.get(cid), Mapping) else {}
        views.append(
            ClaimView(
                cid, meta, summary, recs, [d for d in deriv if isinstance(d, Mapping)]
            )
        )
    return views


def _details(rec: Record) -> Mapping[str, Any]:
    details = rec.get("details")
    return details if isinstance(details, Mapping) else {}


# --------------------------------------------------------------------------
# Page sections
# --------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto}
body{max-width:1180px;padding:1.2em 1.6em;color:#1b1b1b;background:#fff}
h1{font-size:1.6em;margin:.2em 0 .4em}
h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:1.8em}
h3{font-size:1.05em;margin:1.4em 0 .3em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #d4d4d4;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.st{display:inline-block;padding:0 .45em;border-radius:3px;margin:1px}
.st{font-weight:600;font-size:.85em}
.st-passed{background:#d8f0dc;color:#125c21}
.st-failed{background:#f8d4d4;color:#8a1010}
.st-inconclusive{background:#fbeccb;color:#7a5200}
.st-skipped{background:#e6e6e6;color:#444}
.failures{border:2px solid #b42318;background:#fff5f5;padding:.4em 1em;margin:1em 0}
.allgood{border:1px solid #2e7d32;background:#f3fbf4;padding:.4em 1em;margin:1em 0}
.claim{border-left:4px solid #ccc;padding-left:1em;margin:1.2em 0}
.claim.failed{border-color:#b42318}
.claim.passed{border-color:#2e7d32}
.claim.inconclusive{border-color:#c98a00}
.math svg{vertical-align:middle;max-width:100%;height:auto}
.envline,.env{display:inline-flex;align-items:center;vertical-align:middle}
.grid{display:inline-grid;column-gap:1em;row-gap:.1em;align-items:center}
.delim{font-size:2.4em;font-weight:200;line-height:1;margin:0 .08em}
.math.display{display:block;margin:.4em 0}
code.latex{background:#f6f6f6;padding:0 .3em}
ol.deriv li{margin:.35em 0}
figure{margin:1em 0}
figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.9em;color:#333;white-space:pre-wrap}
.small{font-size:.85em;color:#555}
details summary{cursor:pointer}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None, spec: str = ".2e") -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return "0"
    return format(value, spec)


def _badge(status: str) -> str:
    return f'<span class="st st-{_esc(status)}">{_esc(status)}</span>'


def _anchor(claim_id: str) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]", "-", claim_id)


def _short(value: Any, limit: int = 240) -> str:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, default=str, sort_keys=True)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(
    content: str, *, num: bool = False, head: bool = False, title: str = ""
) -> str:
    tag = "th" if head else "td"
    attrs = (' class="num"' if num else "") + (
        f' title="{_esc(title)}"' if title else ""
    )
    return f"<{tag}{attrs}>{content}</{tag}>"


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], attrs: str = ""
) -> str:
    """Build a table; ``rows`` hold finished ``<td>`` cells, ``headers`` plain text."""
    head = "".join(_cell(_esc(h), head=True) for h in headers)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _env_text(value: Any) -> Any:
    """Show a header mapping as ``key: value; ...`` (absent values left out)."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {v}" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return " ".join(map(str, value))
    return value


def _header_section(header: Mapping[str, Any]) -> str:
    if not header:
        return '<p class="small">No header record (environment unknown).</p>'
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(_short(_env_text(v), 600))}</td></tr>"
        for k, v in header.items()
        if k not in ("type", "claims")
    )
    return f'<h2 id="environment">Environment</h2><table class="env">{rows}</table>'


def _mixed(text: str, math_html: _MathRenderer) -> str:
    """Escape ``text`` and typeset each ``$...$`` piece of it inline."""
    pieces = text.split("$")
    if len(pieces) % 2 == 0:  # unbalanced dollars: show the text as it is
        return _esc(text)
    return "".join(
        math_html(piece) if k % 2 else _esc(piece) for k, piece in enumerate(pieces)
    )


def _title_html(v: ClaimView, math_html: _MathRenderer) -> str:
    """Return the claim's title, its mathematics typeset (``title_latex``)."""
    latex = v.meta.get("title_latex")
    if isinstance(latex, str) and latex:
        return _mixed(latex, math_html)
    return _esc(v.meta.get("title", ""))


def _theory_link(v: ClaimView) -> str:
    ref = v.meta.get("theory_ref")
    if not isinstance(ref, str) or not ref:
        return ""
    return f' <a class="small" href="{_esc(report_theory_link(ref))}">theory</a>'


def _status_badge(v: ClaimView, status: str | None = None) -> str:
    """Badge of ``status`` (the claim's by default), "(instances)" when due."""
    status = v.status if status is None else status
    label = status_label(status, symbolic_scope(v.records))
    return f'<span class="st st-{_esc(status)}">{_esc(label)}</span>'


def _claim_link(claim_id: str) -> str:
    return f'<a href="#{_anchor(claim_id)}"><code>{_esc(claim_id)}</code></a>'


_SUMMARY_HEADERS = (
    "Claim",
    "Paper reference",
    "Tiers",
    "Status",
    "Symbolic steps",
    "Worst error / tolerance",
    "Digits agreed",
    "Time (s)",
)


def _worst_cell(v: ClaimView) -> str:
    worst, ratio = v.summary.worst, v.summary.worst_ratio
    if worst is None or ratio is None:
        exact = v.summary.tiers.keys() == {"symbolic"}
        return _cell("exact" if exact else "–", num=True)
    text = f"{_fmt(_error_of(worst))} / {_fmt(_num(worst.get('tolerance')))}"
    note = f"{worst.get('tolerance_kind')} error / tolerance = {_fmt(ratio, '.3g')}"
    return _cell(text, num=True, title=note)


def _summary_row(v: ClaimView, math_html: _MathRenderer) -> list[str]:
    tiers = " ".join(
        f"{_esc(t)}&nbsp;"
        f"{_status_badge(v, st) if t == 'symbolic' else _badge(st)}"
        for t, st in v.summary.tiers.items()
    )
    title = _title_html(v, math_html)
    name = (
        f"{_claim_link(v.claim_id)}{_theory_link(v)}<br>"
        f'<span class="small">{title}</span>'
    )
    return [
        _cell(name),
        _cell(_esc(v.meta.get("paper_ref", "–"))),
        _cell(tiers),
        _cell(_status_badge(v)),
        _cell(_esc(symbolic_scope(v.records).text() or "–")),
        _worst_cell(v),
        _cell(_fmt(_num(v.summary.digits), ".1f"), num=True),
        _cell(_fmt(v.summary.seconds, ".2f"), num=True),
    ]


def _summary_table(views: Sequence[ClaimView], math_html: _MathRenderer) -> str:
    counts = {st: sum(v.status == st for v in views) for st in _STATUS_ORDER}
    totals = ", ".join(f"{n} {st}" for st, n in counts.items() if n) or "none"
    rows = (_summary_row(v, math_html) for v in views)
    table = _table(_SUMMARY_HEADERS, rows, ' id="summary"')
    intro = f"<p>{len(views)} claims: {totals}.</p>"
    return f'<h2 id="summary-heading">Summary</h2>{intro}{table}'


def _message(rec: Record) -> str:
    """Why a record failed: the checker's exception summary or its stated reason."""
    return str(rec.get("error") or _details(rec).get("reason") or "")


def _record_cells(rec: Record) -> list[str]:
    """Tier, status, error, tolerance and instance cells of one record."""
    exact = rec.get("tolerance_kind") == "exact"
    return [
        _cell(_esc(rec.get("tier", "?"))),
        _cell(_badge(str(rec.get("status")))),
        _cell("exact" if exact else _fmt(_error_of(rec)), num=True),
        _cell("exact" if exact else _fmt(_num(rec.get("tolerance"))), num=True),
        _cell(_esc(_short(rec.get("instance"), 200))),
    ]


def _failure_section(views: Sequence[ClaimView]) -> str:
    bad = [
        (v, r)
        for v in views
        for r in v.records
        if r.get("status") in ("failed", "inconclusive")
    ]
    if not bad:
        return (
            '<div class="allgood" id="failures"><strong>No failures.</strong> '
            "No record is failed or inconclusive.</div>"
        )
    rows = [
        [
            _cell(_claim_link(v.claim_id)),
            *_record_cells(r),
            _cell(_esc(_short(_message(r), 400))),
        ]
        for v, r in bad
    ]
    n_failed = sum(r.get("status") == "failed" for _, r in bad)
    table = _table(
        ("Claim", "Tier", "Status", "Error", "Tolerance", "Instance", "Reason"), rows
    )
    return (
        f'<div class="failures" id="failures"><h2>Failures</h2><p><strong>{n_failed} '
        f"failed and {len(bad) - n_failed} inconclusive record(s).</strong> "
        f"An inconclusive record is not a pass.</p>{table}</div>"
    )


def _hypothesis_cell(recs: Sequence[Record]) -> str:
    """Examples run, the configured maximum and whether a failure was shrunk."""
    hyp = [r.get("hypothesis") or {} for r in recs]
    maxima = sorted(
        {h["max_examples"] for h in hyp if isinstance(h.get("max_examples"), int)}
    )
    examples = len({r.get("example") for r in recs})
    text = f"{examples} example{'s' if examples != 1 else ''}"
    if maxima:
        text += f" (max_examples {', '.join(map(str, maxima))})"
    if len(recs) > examples:
        text += f", {len(recs)} records"
    if any(h.get("shrunk") for h in hyp):
        text += ", shrunk counterexample"
    return _cell(_esc(text))


def _tier_row(tier: str, status: str, recs: Sequence[Record]) -> list[str]:
    errs = [e for e in map(_error_of, recs) if e is not None]
    tols = [t for t in (_num(r.get("tolerance")) for r in recs) if t is not None]
    dps = sorted({int(r["dps"]) for r in recs if isinstance(r.get("dps"), int)})
    dtypes = sorted({str(r["dtype"]) for r in recs if r.get("dtype")})
    prec = [f"{p} dps" for p in dps] + dtypes
    seconds = sum(_num(r.get("seconds")) or 0.0 for r in recs)
    exact = all(r.get("tolerance_kind") == "exact" for r in recs)
    label = status_label(status, symbolic_scope(recs))
    return [
        _cell(_esc(tier)),
        _cell(f'<span class="st st-{_esc(status)}">{_esc(label)}</span>'),
        _cell(str(len({r.get("example") for r in recs})), num=True),
        _hypothesis_cell(recs),
        _cell("exact" if exact else _fmt(max(errs) if errs else None), num=True),
        _cell("exact" if exact else _fmt(min(tols) if tols else None), num=True),
        _cell(_esc(", ".join(prec))),
        _cell(_fmt(seconds, ".2f"), num=True),
    ]


_TIER_HEADERS = (
    "Tier",
    "Status",
    "Instances tried",
    "Hypothesis examples",
    "Worst error",
    "Tolerance",
    "Precision",
    "Time (s)",
)


def _evidence(v: ClaimView) -> str:
    tiers = _table(
        _TIER_HEADERS,
        (
            _tier_row(t, st, [r for r in v.records if r.get("tier") == t])
            for t, st in v.summary.tiers.items()
        ),
    )
    rows = [
        [
            *_record_cells(r),
            _cell(
                _esc(
                    _short({k: x for k, x in _details(r).items() if k != "derivation"})
                )
            ),
        ]
        for r in v.records
    ]
    every = _table(
        ("Tier", "Status", "Error", "Tolerance", "Instance", "Details"), rows
    )
    notes = v.meta.get("tolerance_notes") or {}
    note_html = "".join(f"<li>{_esc(t)}: {_esc(n)}</li>" for t, n in notes.items() if n)
    note_html = f'<ul class="small">{note_html}</ul>' if note_html else ""
    return (
        f"{tiers}{note_html}<details><summary>Every instance ({len(v.records)})"
        f"</summary>{every}</details>"
    )


def _step_html(step: Mapping[str, Any], math_html: _MathRenderer) -> str:
    """One derivation step: words, scope, formula, and the hypotheses it used."""
    words = _esc(step.get("title") or step.get("name", ""))
    scope = step.get("scope")
    scope = f' <span class="small">({_esc(scope)})</span>' if scope else ""
    hyps = [h for h in step.get("hypotheses") or [] if isinstance(h, Mapping)]
    using = "; ".join(
        f"{_esc(h.get('name', ''))} {math_html(str(h.get('latex', '')))}" for h in hyps
    )
    using = f'<br><span class="small">using {using}</span>' if using else ""
    return (
        f"<li><strong>{words}</strong>{scope}: "
        f"{math_html(str(step.get('latex', '')), display=True)}{using}</li>"
    )


def _claim_section(v: ClaimView, math_html: _MathRenderer) -> str:
    steps = "".join(_step_html(step, math_html) for step in v.derivation)
    counted = symbolic_scope(v.records).text()
    counted = f" ({_esc(counted)} steps)" if counted else ""
    deriv = (
        f'<h4>Derivation{counted}</h4><ol class="deriv">{steps}</ol>' if steps else ""
    )
    tag = v.meta.get("paper_tag")
    tag = f' <span class="small">[{_esc(tag)}]</span>' if tag else ""
    statement = math_html(str(v.meta.get("statement", "")), display=True) or "<p>–</p>"
    return (
        f'<section class="claim {_esc(v.status)}" id="{_anchor(v.claim_id)}">'
        f"<h3><code>{_esc(v.claim_id)}</code> — {_title_html(v, math_html)} "
        f'{_status_badge(v)}</h3><p class="small">Paper reference: '
        f"{_esc(v.meta.get('paper_ref', '–'))}{tag}{_theory_link(v)}</p>"
        f"<h4>Statement</h4>{statement}"
        f"{deriv}<h4>Evidence</h4>{_evidence(v)}</section>"
    )


_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}


def _figure_html(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise InputError(
            f"`figures` must be .png, .svg or .jpg files; got {str(path)!r}"
        )
    if not path.is_file():
        raise InputError(f"`figures` names a missing file: {str(path)!r}")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap_file = path.with_name(path.stem + ".caption.txt")
    caption = cap_file.read_text(encoding="utf-8").strip() if cap_file.is_file() else ""
    alt = caption.splitlines()[0] if caption else path.stem
    return (
        f'<figure id="fig-{_esc(path.stem)}"><img alt="{_esc(alt)}" '
        f'src="data:{mime};base64,{data}"><figcaption>{_esc(caption or path.stem)}'
        "</figcaption></figure>"
    )


def _figures_section(figures: Sequence[Path]) -> str:
    if not figures:
        return ""
    return '<h2 id="figures">Figures</h2>' + "".join(_figure_html(f) for f in figures)


def render_html_string(
    records: Iterable[Record],
    *,
    header: Mapping[str, Any] | None = None,
    figures: Sequence[str | Path] = (),
    title: str = "bnconvex verification report",
) -> str:
    """Return the report page as a string; see :func:`render_html`."""
    found, checks = split_header(records)
    header = {**found, **(header or {})}
    views = claim_views(header, checks)
    math_html = _MathRenderer()
    body = [
        f"<h1>{_esc(title)}</h1>",
        _summary_table(views, math_html),
        _failure_section(views),
        _header_section(header),
        _figures_section([Path(f) for f in figures]),
        '<h2 id="claims">Claims</h2>',
        *(_claim_section(v, math_html) for v in views),
    ]
    if math_html.failed:
        body.append(
            f'<p class="small">{len(math_html.failed)} formula(s) could not be typeset '
            "and are shown as raw LaTeX.</p>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )


def render_html(
    records: Iterable[Record],
    out_path: str | Path,
    *,
    header: Mapping[str, Any] | None = None,
    figures: Sequence[str | Path] | None = None,
    title: str = "bnconvex verification report",
) -> Path:
    """Write the self-contained HTML report of a verification run.

    Parameters
    ----------
    records : iterable of mapping
        The lines of ``report.jsonl`` as parsed JSON objects: check records,
        optionally preceded by the header record (``"type": "header"``).
    out_path : str or Path
        Where to write, usually ``DIR/report.html`` (written atomically).
    header : mapping, optional
        The header record, when ``records`` does not contain it.
    figures : sequence of path, optional
        PNG/SVG files to embed as ``data:`` URIs, each with the caption from
        ``<stem>.caption.txt`` beside it.  ``None`` embeds every ``*.png`` in
        the ``figures/`` folder beside ``out_path`` if there is one; ``()``
        embeds none.
    title : str
        Page title.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        If a record is not a JSON object or a figure is missing or not an image.

    Notes
    -----
    The page needs no network: formulas are inline SVG made by matplotlib's
    mathtext, figures are ``data:`` URIs, and there is no script.  A
    Content-Security-Policy of ``default-src 'none'`` (images from ``data:``
    only, inline style) makes the browser refuse any request that a later
    edit might add by mistake.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rec = {"type": "record", "id": "demo.one", "tier": "float64",
    ...        "status": "passed", "max_abs_err": 0.0, "tolerance": 1e-12,
    ...        "tolerance_kind": "abs", "seconds": 0.1}
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> page = render_html([rec], out, figures=()).read_text()
    >>> page.count('<tr><td><a href="#claim-demo-one">')
    1
    """
    out_path = Path(out_path)
    if figures is None:
        fig_dir = out_path.parent / "figures"
        figures = sorted(fig_dir.glob("*.png")) if fig_dir.is_dir() else []
    text = render_html_string(records, header=header, figures=figures, title=title)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path, text)
    return out_path


def render_jsonl(
    jsonl: str | Path, out_path: str | Path | None = None, **kw: Any
) -> Path:
    """Render an existing ``report.jsonl`` to HTML (default: ``report.html`` beside it).

    Parameters
    ----------
    jsonl : str or Path
        A report written by ``bnconvex verify``.
    out_path : str or Path, optional
        Target file; default ``report.html`` in the folder of ``jsonl``.
    **kw
        Passed to :func:`render_html` (``figures``, ``title``).
    """
    header, checks = read_jsonl(jsonl)
    target = (
        Path(out_path) if out_path is not None else Path(jsonl).with_name("report.html")
    )
    return render_html(checks, target, header=header, **kw)
