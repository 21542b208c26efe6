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
        "| [`toy.passing`](#claim-toy-passing) x squared is non-negative "
        "([theory](theory.md#toy-passing)) | toy ref (1) | float64: passed "
        "| passed | — |" in md
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


def test_instances_steps_in_words_and_exact_checks():
    from ._report_samples import sample_records

    header, records = sample_records()
    md = render_markdown(header, records)
    row = next(ln for ln in md.splitlines() if ln.startswith("| [`bn.scale"))
    # title with its maths in $...$, scope counts, "passed (instances)"
    assert "BN is invariant to positive scaling of $w$" in row, row
    assert "symbolic: passed (instances)" in row, row
    assert "| passed (instances) | 1 general, 4 instance |" in row, row
    assert "Derivation (1 general, 4 instance steps):" in md
    assert (
        "1. centre the data (general): $$C X (c w) = c\\, C X w$$ — using "
        "centred SVD ($CX = U\\Sigma V^T$)" in md
    )
    assert "| symbolic | passed (instances) | 1 | 0 | 0 | 0 | exact | exact |" in md
    assert "0 / 0" not in md
