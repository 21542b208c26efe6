"""report.md is rendered from the JSONL records alone."""

from __future__ import annotations

from bnconvex.verify import records as rec
from bnconvex.verify import runner
from bnconvex.verify.registry import get_claim
from bnconvex.verify.render_md import render_markdown


def _report(claim_ids):
    claims = [get_claim(c) for c in claim_ids]
    options = runner.RunOptions()
    records = runner.run_units(runner.plan_units(claims, (), options), options)
    header = rec.header_record(
        mode="default", dps=50, dps_levels=(30, 50, 60), backend="numpy", claims=claims
    )
    return header, records


def test_summary_table_statement_and_derivation(toy_claims):
    md = render_markdown(*_report(["toy.passing", "toy.mp"]))
    assert (
        "| [`toy.passing`](#claim-toy-passing) | toy ref (1) | float64: passed "
        "| passed |" in md
    )
    assert "$$\nx^2 \\ge 0\n$$" in md
    assert "1. expand: $$(a+b)^2 = a^2 + 2ab + b^2$$" in md
    assert "## Failures" not in md
    # 4 float64 examples of toy.passing + 3 precision levels of toy.mp
    assert "Overall: passed — 2 claims, 7 records." in md


def test_failures_come_before_the_claim_sections(toy_claims):
    md = render_markdown(*_report(["toy.passing", "toy.failing"]))
    assert md.index("## Failures") < md.index("## Claims")
    assert "`toy.failing` tier float64, example" in md
    assert "(shrunk counterexample)" in md
    assert "instance: `5`" in md
    assert "Overall: **FAILED**" in md


def test_rendering_is_a_function_of_the_records(toy_claims, tmp_path):
    header, records = _report(["toy.passing"])
    rec.write_jsonl(tmp_path / "r.jsonl", header, records)
    assert render_markdown(*rec.read_jsonl(tmp_path / "r.jsonl")) == render_markdown(
        header, records
    )
