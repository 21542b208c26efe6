"""Report records: JSON safety, schema, provenance, per-claim summaries."""

from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest
from bnconvex.numerics.errors import InputError
from bnconvex.verify import records as rec
from bnconvex.verify import runner
from bnconvex.verify.registry import get_claim


def _header(claims=()):
    return rec.header_record(
        mode="quick",
        dps=50,
        dps_levels=(30, 50, 60),
        backend="numpy",
        claims=claims,
        argv=["bnconvex", "verify"],
    )


def _record(status="passed", **kw):
    base = {"tolerance": 1e-8, "tolerance_kind": "rel", "max_rel_err": 1e-10}
    base.update(kw)
    return rec.make_record("toy.claim", "float64", status, **base)


def test_jsonable_converts_arrays_non_finite_and_large_arrays():
    out = rec.jsonable(
        {
            "a": np.arange(3.0),
            "x": np.float64("nan"),
            "i": np.int64(2),
            "big": np.ones((30, 30)),
            "t": (1, float("-inf")),
        }
    )
    assert out["a"] == [0.0, 1.0, 2.0]
    assert out["x"] == "nan"
    assert out["i"] == 2
    assert out["t"] == [1, "-inf"]
    assert out["big"]["shape"] == [30, 30]
    assert math.isclose(
        out["big"]["fro_norm"], 30.0, rel_tol=1e-15
    )  # ||ones(30,30)||_F = 30
    json.dumps(out, allow_nan=False)


def test_header_and_records_validate_against_the_schema(toy_claims):
    header = _header([get_claim("toy.passing")])
    recs = runner.run_unit(runner.Unit("toy.failing", "float64", runner.RunOptions()))
    rec.validate_records(header, recs)
    assert header["claims"]["toy.passing"]["paper_ref"] == "toy ref (1)"
    assert header["versions"]["numpy"] == np.__version__


def test_header_provenance_is_the_shared_one():
    from bnconvex.numerics.provenance import git_revision, software_versions

    header = _header()
    assert header["versions"] == software_versions()
    assert header["git_revision"] == git_revision()
    assert {"cpu_model", "cpu_count", "gpu", "blas"} <= set(header["machine"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "ok"), ("tier", "gpu"), ("seconds", -1.0), ("max_abs_err", "huge")],
)
def test_schema_rejects_bad_records(field, value):
    bad = _record()
    bad[field] = value
    with pytest.raises(jsonschema.ValidationError):
        rec.validate_records(_header(), [bad])


def test_schema_rejects_unknown_record_fields():
    bad = {**_record(), "surprise": 1}
    with pytest.raises(jsonschema.ValidationError, match="surprise"):
        rec.validate_records(_header(), [bad])


def test_write_and_read_round_trip(tmp_path):
    header, recs = _header(), [_record(), _record("failed", max_rel_err=float("inf"))]
    path = tmp_path / "report.jsonl"
    rec.write_jsonl(path, header, recs)
    got_header, got = rec.read_jsonl(path)
    assert got_header == header
    assert got[1]["max_rel_err"] == "inf"
    assert [p.name for p in tmp_path.iterdir()] == ["report.jsonl"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "must start with a header"),
        ("{not json\n", "line 1 is not JSON"),
        ('{"type": "header"}\n{"type": "other"}\n', "line 2 is not a check record"),
    ],
)
def test_read_jsonl_rejects_malformed_files(tmp_path, content, message):
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        rec.read_jsonl(path)


def test_read_jsonl_missing_file(tmp_path):
    with pytest.raises(InputError, match="`JSONL` cannot be read"):
        rec.read_jsonl(tmp_path / "missing.jsonl")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["passed", "skipped"], "passed"),
        (["passed", "inconclusive"], "inconclusive"),
        (["inconclusive", "failed", "passed"], "failed"),
        (["skipped"], "skipped"),
    ],
)
def test_aggregate_status(statuses, expected):
    assert rec.aggregate_status(statuses) == expected


def test_summarize_reports_worst_error_ratio_and_digits():
    recs = [
        _record(max_rel_err=1e-10),
        _record(max_rel_err=4e-9, digits=31.5),
        _record("inconclusive", max_rel_err=None, digits=28.0),
    ]
    (summary,) = rec.summarize(recs).values()
    assert summary.status == "inconclusive"
    assert summary.counts == {"passed": 2, "inconclusive": 1}
    assert math.isclose(summary.worst_ratio, 0.4, rel_tol=1e-12)  # 4e-9 / 1e-8
    assert summary.digits == 28.0
