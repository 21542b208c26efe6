"""The runner: Hypothesis drive, shrinking, status decisions, mp cross-precision."""

from __future__ import annotations

import math

import pytest
from bnconvex.numerics.errors import InputError
from bnconvex.verify import runner
from bnconvex.verify.registry import Evidence, get_claim


def _run(claim_id, tier, mode="default", dps=50):
    options = runner.RunOptions(mode=mode, dps=dps)
    return runner.run_unit(runner.Unit(claim_id, tier, options, attach_derivation=True))


def test_passing_claim_records_one_passed_record_per_example(toy_claims):
    recs = _run("toy.passing", "float64")
    assert [r["status"] for r in recs] == ["passed"] * 4, recs
    assert [r["example"] for r in recs] == [0, 1, 2, 3]
    assert all(
        r["hypothesis"] == {"max_examples": 4, "derandomize": True, "shrunk": False}
        for r in recs
    )


def test_runs_are_deterministic(toy_claims):
    first = [r["instance"] for r in _run("toy.passing", "float64")]
    second = [r["instance"] for r in _run("toy.passing", "float64")]
    assert first == second


def test_failure_is_shrunk_to_the_minimal_counterexample(toy_claims):
    recs = _run("toy.failing", "float64")
    failed = [r for r in recs if r["status"] == "failed"]
    assert len(failed) == 1, recs
    assert failed[0]["instance"] == 5  # smallest x with x >= 5
    assert failed[0]["hypothesis"]["shrunk"] is True
    assert failed[0]["max_abs_err"] == 1.0
    assert "exceeds tolerance" in failed[0]["details"]["reason"]
    assert recs[-1] is failed[0]


def test_checker_exception_is_a_failed_record_with_traceback(toy_claims):
    recs = _run("toy.raising", "float64")
    failed = [r for r in recs if r["status"] == "failed"]
    assert len(failed) == 1
    assert failed[0]["instance"] == 3
    assert failed[0]["error"].startswith("ZeroDivisionError: boom at 3")
    assert "check_float64" in failed[0]["error"]


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("inconclusive", "inconclusive"),
        ("passed", "passed"),
        ("nothing", "inconclusive"),
        ("raise", "failed"),
        ("skipped", "skipped"),
    ],
)
def test_symbolic_outcomes(toy_claims, monkeypatch, outcome, expected):
    monkeypatch.setattr(get_claim("toy.symbolic"), "outcome", outcome)
    (rec,) = _run("toy.symbolic", "symbolic")
    assert rec["status"] == expected
    assert rec["instance"] is None
    assert rec["tolerance_kind"] == "exact"
    if outcome == "raise":
        assert "RuntimeError: simplify exploded" in rec["error"]


def test_checker_cannot_pass_an_error_above_tolerance(toy_claims):
    (rec,) = _run("toy.overconfident", "float64")
    assert rec["status"] == "failed"
    assert rec["max_rel_err"] == 1e-3


def test_mp_tier_runs_three_precisions_and_records_agreement(toy_claims):
    recs = _run("toy.mp", "mp", dps=50)
    assert [r["dps"] for r in recs] == [30, 50, 60]
    assert [r["status"] for r in recs] == ["passed"] * 3
    assert recs[0]["digits"] is None
    # pi printed to 30 and 50 digits agrees to about 30 digits (the coarser level)
    assert 29.0 <= recs[1]["digits"] <= 31.5, recs[1]["digits"]
    assert recs[1]["details"]["dps_agreement"]["required"] == 25


def test_mp_tier_fails_when_precisions_disagree(toy_claims, monkeypatch):
    monkeypatch.setattr(get_claim("toy.mp"), "broken", True)
    recs = _run("toy.mp", "mp", dps=50)
    assert recs[0]["status"] == "passed"
    assert recs[1]["status"] == "failed"
    # the perturbation 1e-20*dps differs between levels in the 19th digit
    assert recs[1]["digits"] < 21, recs[1]["digits"]
    assert "agrees with dps 30" in recs[1]["details"]["reason"]


def test_dps_levels_include_the_requested_precision():
    assert runner.dps_levels(50) == (30, 50, 60)
    assert runner.dps_levels(30) == (30, 60)
    assert runner.dps_levels(100) == (30, 60, 100)


def test_derivation_steps_go_into_the_first_record(toy_claims):
    recs = _run("toy.passing", "float64")
    steps = recs[0]["details"]["derivation"]
    assert [s["name"] for s in steps] == ["expand", "bound"]
    assert "derivation" not in recs[1]["details"]


def test_decide_status_nothing_measured_is_inconclusive(toy_claims):
    claim = get_claim("toy.passing")
    assert runner.decide_status(claim, "float64", Evidence())[0] == "inconclusive"
    assert (
        runner.decide_status(claim, "float64", Evidence(max_abs_err=float("nan")))[0]
        == "failed"
    )


def test_select_claims_filters_and_rejects_unknown_ids(toy_claims):
    ids = [c.id for c in runner.select_claims(tiers=["mp"])]
    assert "toy.mp" in ids
    assert "toy.passing" not in ids
    assert [c.id for c in runner.select_claims(ids=["toy.failing"])] == ["toy.failing"]
    with pytest.raises(InputError, match=r"`--claim` 'toy\.nope' is not a registered"):
        runner.select_claims(ids=["toy.nope"])
    with pytest.raises(InputError, match="`--tier` must be one of"):
        runner.select_claims(tiers=["quantum"])


def test_plan_units_marks_only_the_first_tier_for_derivations(toy_claims):
    units = runner.plan_units(
        [get_claim("toy.symbolic"), get_claim("toy.mp")], (), runner.RunOptions()
    )
    assert [(u.claim_id, u.tier, u.attach_derivation) for u in units] == [
        ("toy.symbolic", "symbolic", True),
        ("toy.mp", "mp", True),
    ]


def test_dask_scheduler_without_dask_gives_an_install_hint(toy_claims, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("dask"):
            raise ImportError("no dask")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    units = runner.plan_units([get_claim("toy.passing")], (), runner.RunOptions())
    with pytest.raises(InputError, match=r"`--scheduler` needs Dask.*bnconvex\[dask\]"):
        runner.run_units(units, runner.RunOptions(scheduler="tcp://127.0.0.1:1"))


def test_progress_writes_only_when_enabled():
    import io

    from bnconvex.app._progress import Progress, progress_enabled

    stream = io.StringIO()
    bar = Progress(2, enabled=True, stream=stream)
    bar.update("claim.a [float64] passed")
    bar.close()
    assert "[1/2]" in stream.getvalue()
    assert stream.getvalue().endswith("claim.a [float64] passed\n")
    quiet = io.StringIO()
    Progress(2, enabled=False, stream=quiet).update("x")
    assert quiet.getvalue() == ""
    assert progress_enabled(False, io.StringIO()) is False  # not a terminal
    assert progress_enabled(True) is False


def test_pinned_examples_run_first_and_are_not_shrunk(toy_claims):
    recs = _run("toy.pinned", "float64", mode="quick")
    assert len(recs) == 1, recs  # an explicit failure stops the run at once
    assert recs[0]["instance"] == 7
    assert recs[0]["status"] == "failed"
    assert recs[0]["hypothesis"]["explicit"] is True
    assert recs[0]["hypothesis"]["shrunk"] is False


def test_agreed_digits_mixes_relative_and_absolute_error():
    # large values: relative; 1234.5 vs 1234.6 differ by 1e-1 relative to 1234.6
    big = runner._agreed_digits({"v": "1234.5"}, {"v": "1234.6"}, 30)
    assert big == pytest.approx(4.0915, abs=1e-3)  # -log10(0.1 / 1234.6)
    # residuals that are zero at working precision agree (absolute error 1e-61)
    tiny = runner._agreed_digits({"r": "0.0"}, {"r": "1e-61"}, 60)
    assert tiny == pytest.approx(60.0)  # capped at dps (61 digits measured)
    # a sign flip is total disagreement: |x - y| / |x| = 2
    flip = runner._agreed_digits({"q": "2.5"}, {"q": "-2.5"}, 50)
    assert flip == pytest.approx(-math.log10(2.0), rel=1e-12)
    assert runner._agreed_digits({"a": "1"}, {"b": "1"}, 50) is None


def test_dask_scheduler_path_with_a_stand_in_client(toy_claims, monkeypatch):
    import sys
    import types

    calls = {}

    class Client:  # the subset of dask.distributed.Client the runner uses
        def __init__(self, address):
            calls["address"] = address

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def map(self, fn, items, pure=True):
            calls["pure"] = pure
            return [fn(item) for item in items]

        def gather(self, futures):
            return futures

    distributed = types.ModuleType("dask.distributed")
    distributed.Client = Client
    monkeypatch.setitem(sys.modules, "dask", types.ModuleType("dask"))
    monkeypatch.setitem(sys.modules, "dask.distributed", distributed)
    options = runner.RunOptions(scheduler="tcp://scheduler:8786")
    units = runner.plan_units([get_claim("toy.passing")], (), options)
    seen = []
    recs = runner.run_units(units, options, progress=lambda u, r: seen.append(u.tier))
    assert calls == {"address": "tcp://scheduler:8786", "pure": False}
    assert [r["status"] for r in recs] == ["passed"] * 4
    assert seen == ["float64"]
