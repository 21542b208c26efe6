"""The HTML report: structure, self-containment, maths, escaping, bad input."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from bnconvex.numerics.errors import InputError
from bnconvex.verify.records import validate_records, write_jsonl
from bnconvex.verify.render_html import (
    latex_to_svg,
    render_html,
    render_html_string,
    render_jsonl,
    to_mathtext,
)

from tests.common.extras import import_test_extra
from tests.verify._report_samples import CLAIMS, sample_records, tiny_png


class _SummaryRows(HTMLParser):
    """Collect the cells of each row of ``table#summary``'s body."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_summary = self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "summary":
            self._in_summary = True
        elif self._in_summary and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._in_summary:
            self._in_summary = self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def page():
    header, records = sample_records()
    return render_html_string(records, header=header)


def summary_rows(text: str) -> list[list[str]]:
    parser = _SummaryRows()
    parser.feed(text)
    return parser.rows


def test_sample_records_follow_the_report_schema():
    import_test_extra("jsonschema")
    header, records = sample_records()
    validate_records(header, records)  # raises on the first invalid line


def test_summary_has_one_row_per_claim_with_status_and_worst_error(page):
    rows = summary_rows(page)
    assert [r[0].split()[0] for r in rows] == [c.id for c in CLAIMS], rows
    status = {r[0].split()[0]: r[3] for r in rows}
    assert status == {
        "bn.scale_invariance": "passed (instances)",
        "convex.strong_duality": "failed",
        "gd.implicit_bias": "inconclusive",
    }, status
    # worst rel error of the mp records is 2e-49 * 3 = 6e-49 against rtol 1e-45
    assert rows[0][4] == "1 general, 4 instance", rows[0]
    assert rows[0][5] == "6.00e-49 / 1.00e-45", rows[0]
    assert rows[0][6] == "45.5", (
        f"digits agreed should be the minimum 47.5 - 2: {rows[0]}"
    )
    assert rows[1][5] == "3.00e-04 / 1.00e-06", rows[1]


def test_steps_read_as_words_with_scope_hypotheses_and_theory_links(page):
    assert "<strong>centre the data</strong>" in page
    assert '<span class="small">(general)</span>' in page
    assert "using centred SVD" in page
    # steps without a title fall back to their name
    assert "<strong>normalise</strong>" in page
    assert 'href="theory.md#bn-scale_invariance"' in page
    # the title's $w$ is typeset, not shown with dollars
    assert "$w$" not in page.split('id="summary"')[1].split("</table>")[0]


def test_exact_checks_read_exact():
    header, records = sample_records()
    sym = [r for r in records if r["tier"] == "symbolic"]
    text = render_html_string(sym, header=header)
    row = summary_rows(text)[0]
    assert row[5] == "exact", row
    assert "0 / 0" not in text


def test_failure_section_lists_failed_and_inconclusive_records(page):
    section = page[page.index('id="failures"') : page.index('id="environment"')]
    assert "1 failed and 1 inconclusive record(s)" in section, section[:300]
    assert "duality gap 3e-4 above tolerance" in section
    assert "energy fractions differ by less than the noise level" in section


def test_all_passing_run_says_no_failures():
    header, records = sample_records()
    ok = [r for r in records if r["status"] == "passed"]
    text = render_html_string(ok, header=header)
    assert '<div class="allgood" id="failures"><strong>No failures.</strong>' in text
    assert len(summary_rows(text)) == 1


def test_page_is_self_contained(tmp_path):
    header, records = sample_records()
    fig = tiny_png(tmp_path / "fig_demo.png")
    (tmp_path / "fig_demo.caption.txt").write_text(
        "Demo figure.\nn=4, seed 0", encoding="utf-8"
    )
    text = render_html_string(records, header=header, figures=[fig])
    for banned in ("<script", "<link", "@import", "url(", "<iframe", "<object"):
        assert banned not in text, f"{banned!r} found in the report"
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    # the only non-embedded targets allowed are hyperlinks (never loaded) to the
    # claims' sections of the theory.md copied beside the report
    external = [
        s
        for s in sources
        if not (
            s.startswith(("data:", "#")) or re.fullmatch(r"theory\.md#[\w-]+", s)
        )
    ]
    assert external == [], f"non-embedded references: {external[:5]}"
    assert "default-src 'none'" in text, "Content-Security-Policy missing"
    assert 'src="data:image/png;base64,iVBORw0KGgo' in text, "figure not embedded"
    assert "n=4, seed 0" in text, "caption not shown"


def test_svg_ids_are_unique_on_the_page(page):
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    dupes = [k for k, n in ids.items() if n > 1]
    assert dupes == [], f"duplicate element ids: {dupes[:5]}"


def test_maths_is_inline_svg_with_latex_title_and_raw_fallback(page):
    statement = CLAIMS[0].statement
    escaped = statement.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert f"<title>{escaped}</title>" in page, (
        "statement not typeset with its LaTeX title"
    )
    # cases and matrices are laid out in HTML: delimiter + a grid of typeset cells
    assert page.count('<span class="cell">') == 8, "cases/matrix cells not laid out"
    assert '<span class="delim">(</span>' in page, "pmatrix delimiter missing"
    # an array cannot be typeset by mathtext: the raw LaTeX is shown instead
    assert re.search(r'<code class="math display latex"[^>]*>\\begin\{array\}', page)
    n_svg = page.count("<svg ")
    # 3 statements, 2 one-line steps, cases (prefix + 4 cells), matrix (prefix + 4),
    # the title's $w$ (summary and section heading) and one step's hypothesis
    assert n_svg == 18, f"expected 18 typeset formulas, got {n_svg}"


def test_titles_are_html_escaped(page):
    assert "&lt;GD&gt; favours top singular directions &amp; more" in page
    assert "<GD>" not in page


def test_render_jsonl_round_trip(tmp_path):
    header, records = sample_records()
    jsonl = tmp_path / "report.jsonl"
    write_jsonl(jsonl, header, records)
    out = render_jsonl(jsonl, figures=())
    assert out == tmp_path / "report.html"
    text = out.read_text(encoding="utf-8")
    assert len(summary_rows(text)) == 3
    assert header["git_revision"] is None or header["git_revision"] in text


def test_figures_default_to_the_figures_folder(tmp_path):
    header, records = sample_records()
    (tmp_path / "figures").mkdir()
    tiny_png(tmp_path / "figures" / "fig_a.png")
    text = render_html(records, tmp_path / "report.html", header=header).read_text()
    assert text.count('<figure id="fig-fig_a">') == 1


@pytest.mark.parametrize(
    ("records", "match"),
    [
        ([1], "`records` must hold JSON objects; got int"),
        ([{"type": "record", "tier": "mp"}], "check record without id/status"),
    ],
)
def test_bad_records_raise(records, match):
    with pytest.raises(InputError, match=match):
        render_html_string(records)


def test_bad_figures_raise(tmp_path):
    header, records = sample_records()
    with pytest.raises(InputError, match="`figures` names a missing file"):
        render_html_string(records, header=header, figures=[tmp_path / "nope.png"])
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match=r"`figures` must be \.png, \.svg or \.jpg"):
        render_html_string(records, header=header, figures=[tmp_path / "x.txt"])


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        (r"\operatorname{BN}(h)", r"\mathrm{BN}(h)"),
        (r"a \le b \ge c", r"a \leq b \geq c"),
        (r"\tfrac12 x", r"\frac{1}{2} x"),
        (r"v^\top w", "v^T w"),
        (r"\bigl( x \bigr)", "( x )"),
    ],
)
def test_to_mathtext_rewrites(latex, expected):
    assert to_mathtext(latex) == expected


def test_latex_to_svg_returns_none_on_unparsable_input():
    assert latex_to_svg(r"\frac{1}{") is None
    svg = latex_to_svg(r"x^2", key="k")
    assert svg is not None, "x^2 should typeset"
    assert svg.startswith("<svg"), svg[:200]
    assert 'id="k-' in svg, f"ids not prefixed: {svg[:300]}"


def test_evidence_counts_examples_and_precisions(page):
    section = page[page.index('id="claim-bn-scale_invariance"') :]
    section = section[: section.index("</section>")]
    assert "3 examples (max_examples 3)" in section, "Hypothesis count missing"
    assert "50 dps" in section, "mp precision missing"
    assert "mp: 50 dps minus guard digits" in section, "tolerance note missing"


def test_written_report_is_readable_by_others(tmp_path):
    header, records = sample_records()
    out = render_html(records, tmp_path / "report.html", header=header, figures=())
    assert out.stat().st_mode & 0o777 == 0o644, oct(out.stat().st_mode)
