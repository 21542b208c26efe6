"""The ``bnconvex`` command line, run in a subprocess (mpmath ``tests/test_cli.py``)."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pytest
from bnconvex.app.cli import main
from bnconvex.verify.records import read_jsonl, validate_records


def bnconvex(*args, cwd=None):
    """Run ``python -m bnconvex.app ARGS``; return (returncode, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bnconvex.app", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


#: ``bnconvex verify`` restricted to one fast claim and tier (report tests).
_ONE_SYMBOLIC_CLAIM = (
    "verify",
    "--quick",
    "--quiet",
    "--claim",
    "rescaling.am_gm",
    "--tier",
    "symbolic",
)


def assert_usage_error(rc, err, *fragments):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines}"
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_every_command_is_built():
    from bnconvex.app.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS)


def test_list_shows_ids_refs_and_tiers():
    rc, out, _ = bnconvex("list")
    assert rc == 0
    row = next(
        line for line in out.splitlines() if line.startswith("reconstruct.model_class")
    )
    assert "docs/theory.md#reconstruct-model_class" in row
    assert "mp,float64" in row


def test_verify_writes_valid_reports_and_report_rerenders(tmp_path):
    out = tmp_path / "rep"
    rc, stdout, err = bnconvex(
        "verify",
        "--quick",
        "--quiet",
        "--claim",
        "arrangements.count_bound",
        "reconstruct.model_class",
        "--out",
        out,
    )
    assert rc == 0, err
    assert "2 claims: 2 passed" in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "report.html",
        "report.jsonl",
        "report.md",
        "theory.md",
    ]
    # every theory link of the report resolves to a section of its theory.md
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', (out / "theory.md").read_text()))
    links = re.findall(r"\(theory\.md#([^)]+)\)", (out / "report.md").read_text())
    assert links, "report.md links no theory section"
    assert set(links) <= anchors, set(links) - anchors
    header, records = read_jsonl(out / "report.jsonl")
    validate_records(header, records)
    assert header["mode"] == "quick"
    assert {r["id"] for r in records} == {
        "arrangements.count_bound",
        "reconstruct.model_class",
    }
    assert {r["dps"] for r in records if r["tier"] == "mp"} == {30, 50, 60}
    md = (out / "report.md").read_text()
    rc, _, err = bnconvex("report", out / "report.jsonl", "--out", tmp_path / "again")
    assert rc == 0, err
    assert (tmp_path / "again" / "report.md").read_text() == md


def test_verify_with_a_process_pool(tmp_path):
    rc, _, err = bnconvex(
        "verify",
        "--quick",
        "--jobs",
        "2",
        "--claim",
        "arrangements.count_bound",
        "arrangements.affine_equivalence",
        "--out",
        tmp_path,
    )
    assert rc == 0, err
    _, records = read_jsonl(tmp_path / "report.jsonl")
    # records come in unit order (claims sorted by id), not completion order
    assert records[0]["id"] == "arrangements.affine_equivalence"
    assert {r["status"] for r in records} == {"passed"}


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--claim", "no.such"], ["`--claim` 'no.such' is not a registered claim id"]),
        (["--dps", "0"], ["argument --dps", "positive integer"]),
        (["--dps", "20"], ["argument --dps", "at least 30"]),
        (["--tier", "quantum"], ["argument --tier", "invalid choice"]),
        (["--quick", "--thorough"], ["not allowed with argument"]),
    ],
)
def test_verify_usage_errors_write_nothing(tmp_path, args, fragments):
    rc, _, err = bnconvex("verify", *args, "--out", tmp_path / "rep")
    assert_usage_error(rc, err, *fragments)
    assert not (tmp_path / "rep").exists()


def test_report_of_a_missing_file():
    rc, _, err = bnconvex("report", "/nonexistent/report.jsonl")
    assert_usage_error(rc, err, "`JSONL` file not found")


def test_verify_exits_1_when_a_claim_fails(toy_claims, tmp_path, capsys):
    rc = main(
        [
            "verify",
            "--claim",
            "toy.failing",
            "toy.passing",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1
    assert "failed  toy.failing" in capsys.readouterr().out
    assert "## Failures" in (tmp_path / "report.md").read_text()


# ------------------------------------------------------------------ solve
@pytest.fixture(scope="module")
def data14(tmp_path_factory):
    """n = 14, d = 3 regression data: numpy default_rng(0) standard normals."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "data.npz"
    np.savez(path, X=rng.standard_normal((14, 3)), y=rng.standard_normal(14))
    return path


def test_solve_outputs_get_the_mode_of_a_plain_open(data14, tmp_path, capsys):
    """``--out`` and ``--save-patterns`` files are ``0o666 & ~umask`` (were 0o600)."""
    umask = os.umask(0o027)  # 0o640: neither mkstemp's 0o600 nor the usual 0o644
    try:
        argv = ["solve", str(data14), "--beta", "0.1", "--json"]
        argv += ["--out", str(tmp_path / "sol.npz")]
        rc = main([*argv, "--save-patterns", str(tmp_path / "D.npy")])
    finally:
        os.umask(umask)
    assert rc == 0, capsys.readouterr().err
    for name in ("sol.npz", "D.npy"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.npy", "sol.npz"]


def test_solve_exact_reaches_relative_gap_1e_8_and_certify_agrees(data14, tmp_path):
    sol = tmp_path / "sol.npz"
    rc, out, err = bnconvex(
        "solve",
        data14,
        "--beta",
        "0.1",
        "--arrangements",
        "exact",
        "--json",
        "--out",
        sol,
        "--save-patterns",
        tmp_path / "D.npy",
    )
    assert rc == 0, err
    res = json.loads(out)
    for key in (
        "objective",
        "lower_bound",
        "gap",
        "neurons",
        "arrangements",
        "status",
        "seconds",
        "bn_convention",
        "beta",
        "relative_gap",
        "bound_kind",
    ):
        assert key in res, key
    assert res["relative_gap"] <= 1e-8, res
    # the rebuilt weights attain the convex optimum (paper.md R1 reconstruction)
    assert math.isclose(res["network_objective"], res["objective"], rel_tol=1e-10)
    assert res["bound_kind"] == "global"
    assert res["status"] == "optimal"
    assert 1 <= res["neurons"] <= 15  # at most n + 1 non-zero blocks
    assert np.load(tmp_path / "D.npy").shape == (14, res["arrangements"])
    rc, out, err = bnconvex("certify", sol, data14, "--beta", "0.1", "--json")
    assert rc == 0, err
    cert = json.loads(out)
    assert math.isclose(cert["objective"], res["objective"], rel_tol=1e-9), (cert, res)
    assert cert["relative_gap"] <= 1e-7, cert
    assert cert["bound_kind"] == "global"
    assert cert["status"] == "optimal"


def test_solve_with_the_ipm_solver_matches_the_default(data14):
    args = ("solve", data14, "--beta", "0.1", "--json")
    rc, out, err = bnconvex(*args)
    assert rc == 0, err
    default = json.loads(out)
    rc, out, err = bnconvex(*args, "--solver", "ipm")
    assert rc == 0, err
    ref = json.loads(out)
    assert default["solver"] == "working-set"
    assert ref["solver"] == "ipm"
    assert default["status"] == "optimal", default
    assert default["relative_gap"] <= 1e-9, default
    # both certified to 1e-9 relative on the same exact pattern set
    assert math.isclose(default["objective"], ref["objective"], rel_tol=2e-9), (
        default,
        ref,
    )
    assert math.isclose(
        default["network_objective"], default["objective"], rel_tol=1e-10
    )


def test_cli_default_solver_is_the_library_default():
    from bnconvex.app.commands import solve
    from bnconvex.numerics.solvers import DEFAULT_SOLVER, SOLVERS

    assert solve.DEFAULT_SOLVER == DEFAULT_SOLVER
    assert set(solve.EXACT_SOLVERS) <= set(SOLVERS)


def test_solve_std_convention_is_convention_a_with_beta_over_sqrt_n(data14, tmp_path):
    rc, out, err = bnconvex("solve", data14, "--beta", "0.5", "--bn", "std", "--json")
    assert rc == 0, err
    std = json.loads(out)
    assert math.isclose(std["beta_a"], 0.5 / math.sqrt(14), rel_tol=1e-15)
    # std network (gamma, alpha, v scaled by n^(-1/4)) with beta_std: same objective
    assert math.isclose(std["network_objective"], std["objective"], rel_tol=1e-10)
    rc, out, err = bnconvex(
        "solve", data14, "--beta", repr(0.5 / math.sqrt(14)), "--json"
    )
    assert rc == 0, err
    assert math.isclose(std["objective"], json.loads(out)["objective"], rel_tol=1e-8)


def _bad_data(tmp_path, kind):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    if kind == "nan":
        X[2, 1] = np.nan
    elif kind == "inf_y":
        y[0] = np.inf
    elif kind == "one_sample":
        X, y = X[:1], y[:1]
    elif kind == "label_length":
        y = y[:5]
    elif kind == "constant":
        X = np.ones((6, 2))
    path = tmp_path / f"{kind}.npz"
    np.savez(path, X=X, y=y)
    return path


@pytest.mark.parametrize(
    ("kind", "fragment"),
    [
        ("nan", "NaN"),
        ("inf_y", "NaN or infinite"),
        ("one_sample", "at least 2 rows"),
        ("label_length", "one entry per sample"),
        ("constant", "constant"),
    ],
)
def test_solve_bad_data_exits_2_and_writes_nothing(tmp_path, kind, fragment):
    out = tmp_path / "sol.npz"
    rc, stdout, err = bnconvex(
        "solve",
        _bad_data(tmp_path, kind),
        "--beta",
        "0.1",
        "--out",
        out,
        "--save-patterns",
        tmp_path / "D.npy",
    )
    assert_usage_error(rc, err, fragment)
    assert stdout == ""
    assert not out.exists()
    assert not (tmp_path / "D.npy").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--beta", "0"], "argument --beta"),
        (["--beta", "-1"], "argument --beta"),
        (["--beta", "nan"], "argument --beta"),
        (["--beta", "0.1", "--arrangements", "many"], "argument --arrangements"),
        (["--beta", "0.1", "--patterns", "missing.npy"], "`--patterns` file not found"),
        (["--beta", "0.1", "--out", "sol.txt"], "`--out` must end in .npz"),
        (["--beta", "0.1", "--tol", "0"], "argument --tol"),
        (["--beta", "0.1", "--tol", "1.5"], "argument --tol"),
    ],
)
def test_solve_bad_arguments(data14, tmp_path, args, fragment):
    rc, _, err = bnconvex("solve", data14, *args, cwd=tmp_path)
    assert_usage_error(rc, err, fragment)
    assert list(tmp_path.iterdir()) == []


def test_solve_tol_reaches_the_solver(data14, monkeypatch, capsys):
    # --tol is the target certified relative gap handed to the exact solver
    import bnconvex.numerics.exact as exact

    seen = {}
    real = exact.fit_exact

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(exact, "fit_exact", spy)
    assert main(["solve", str(data14), "--beta", "0.1", "--tol", "1e-4", "--json"]) == 0
    assert seen["tol"] == 1e-4
    out = json.loads(capsys.readouterr().out)
    assert out["pattern_relative_gap"] <= 1e-4


def test_solve_rejects_a_patterns_file_of_the_wrong_size(data14, tmp_path):
    D = tmp_path / "D.npy"
    np.save(D, np.ones((13, 4), dtype=bool))  # n = 14 rows expected
    rc, _, err = bnconvex("solve", data14, "--beta", "0.1", "--patterns", D)
    assert_usage_error(rc, err, "14")


def test_solve_missing_data_file(tmp_path):
    rc, _, err = bnconvex("solve", tmp_path / "nope.npz", "--beta", "0.1")
    assert_usage_error(rc, err, "`DATA` file not found")


def test_solve_mp_certificate_reaches_the_requested_digits(tmp_path):
    rng = np.random.default_rng(2)  # n = 6, d = 2 standard normals
    data = tmp_path / "d.npz"
    np.savez(data, X=rng.standard_normal((6, 2)), y=rng.standard_normal(6))
    rc, out, err = bnconvex(
        "solve", data, "--beta", "0.2", "--json", "--mp-certify", "40"
    )
    assert rc == 0, err
    mp = json.loads(out)["mp_certificate"]
    assert mp["dps"] == 40
    assert mp["digits"] >= 30, mp
    assert mp["bound_kind"] == "global"
    assert math.isclose(float(mp["primal"]), json.loads(out)["objective"], rel_tol=1e-9)


def test_certify_rejects_a_network_of_the_wrong_input_dimension(data14, tmp_path):
    net = tmp_path / "net.npz"
    np.savez(net, W=np.ones((2, 3)), gamma=np.ones(3), alpha=np.zeros(3), v=np.ones(3))
    rc, out, err = bnconvex("certify", net, data14, "--beta", "0.1", "--json")
    assert_usage_error(rc, err, "`NETWORK` has input dimension d=2", "d=3")
    assert out == ""


def test_certify_missing_network_file(data14, tmp_path):
    rc, _, err = bnconvex("certify", tmp_path / "none.npz", data14, "--beta", "0.1")
    assert_usage_error(rc, err, "`NETWORK` file not found")


def test_verify_tier_and_tag_filters(tmp_path, capsys):
    # of these three only dual.certificate has an mp tier *and* the "solver" tag
    ids = ["dual.certificate", "convex.strong_duality", "reconstruct.model_class"]
    rc = main(
        [
            "verify",
            "--claim",
            *ids,
            "--tier",
            "mp",
            "--tag",
            "solver",
            "--quick",
            "--quiet",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0, capsys.readouterr().out
    _, records = read_jsonl(tmp_path / "report.jsonl")
    assert {r["tier"] for r in records} == {"mp"}
    assert {r["id"] for r in records} == {"dual.certificate"}


def test_certify_random_network_with_sampled_patterns_uses_the_universal_bound(
    data14, tmp_path
):
    rng = np.random.default_rng(3)  # a random, clearly suboptimal network
    net = tmp_path / "net.npz"
    np.savez(
        net,
        W=rng.standard_normal((3, 2)),
        gamma=rng.standard_normal(2),
        alpha=rng.standard_normal(2),
        v=rng.standard_normal(2),
    )
    rc, out, err = bnconvex(
        "certify", net, data14, "--beta", "0.1", "--json", "--arrangements", "200"
    )
    assert rc == 0, err
    cert = json.loads(out)
    y = np.load(data14)["y"]

    def h(t, beta=0.1):  # paper.md R2: t^2/2 if t <= beta else beta t - beta^2/2
        return t * t / 2 if t <= beta else beta * t - beta**2 / 2

    universal = h(np.linalg.norm(np.maximum(y, 0))) + h(
        np.linalg.norm(np.maximum(-y, 0))
    )
    assert cert["bound_kind"] == "universal"
    assert math.isclose(cert["lower_bound"], universal, rel_tol=1e-12)
    assert cert["status"] == "gap"
    assert cert["gap"] > 0


def test_certify_reports_bn_eps_and_why_the_eps_zero_bound_holds(data14, tmp_path):
    rng = np.random.default_rng(5)  # a random network with PyTorch's default eps
    net = tmp_path / "net.npz"
    np.savez(
        net,
        W=rng.standard_normal((3, 2)),
        gamma=rng.standard_normal(2),
        alpha=rng.standard_normal(2),
        v=rng.standard_normal(2),
        eps=np.asarray(1e-5),
    )
    args = ("certify", net, data14, "--beta", "0.1", "--arrangements", "200")
    rc, out, err = bnconvex(*args, "--json")
    assert rc == 0, err
    cert = json.loads(out)
    assert cert["bn_eps"] == 1e-5
    assert "assumes BN eps = 0" in cert["bn_eps_note"]
    assert "bounded below by the eps = 0 optimum" in cert["bn_eps_note"]
    assert cert["lower_bound"] <= cert["objective"], cert
    rc, text, err = bnconvex(*args)
    assert rc == 0, err
    assert any(
        line.startswith("bn_eps_note") and "assumes BN eps = 0" in line
        for line in text.splitlines()
    ), text


def test_certify_bn_eps_note_for_an_eps_zero_network():
    from bnconvex.app.commands.certify import bn_eps_note

    assert bn_eps_note(0.0) == "exact program assumes BN eps = 0, as this network has"
    assert "eps = 0.001," in bn_eps_note(1e-3)


@pytest.mark.parametrize("eps", ["-1e-5", "nan", "x"])
def test_certify_rejects_a_bad_bn_eps(data14, tmp_path, eps):
    net = tmp_path / "net.npz"
    np.savez(net, W=np.ones((3, 2)), gamma=np.ones(2), alpha=np.zeros(2), v=np.ones(2))
    rc, out, err = bnconvex("certify", net, data14, "--beta", "0.1", f"--bn-eps={eps}")
    assert rc == 2, err
    assert "--bn-eps: must be a finite number >= 0" in err, err
    assert out == ""


def test_a_reader_closing_stdout_early_gives_no_traceback():
    # `bnconvex list | head -0`: the reader is gone before list prints; the old
    # CLI died with a BrokenPipeError traceback on stderr (checked by hand)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bnconvex.app", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    rc = proc.wait(timeout=60)
    assert "Traceback" not in err, err
    assert rc == 1, (rc, err)


def test_verify_embeds_figures_found_beside_the_report(tmp_path):
    import base64

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir = tmp_path / "figures"
    fig_dir.mkdir()
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    fig.savefig(fig_dir / "demo.png")
    plt.close(fig)
    png = base64.b64encode((fig_dir / "demo.png").read_bytes()).decode()[:64]
    rc, _, err = bnconvex(*_ONE_SYMBOLIC_CLAIM, "--out", tmp_path)
    assert rc == 0, err
    html = (tmp_path / "report.html").read_text()
    assert png in html, "the figure in DIR/figures was not embedded in report.html"


def test_verify_figures_option_draws_and_embeds_the_figures(tmp_path):
    rc, _, err = bnconvex(*_ONE_SYMBOLIC_CLAIM, "--figures", "--out", tmp_path)
    assert rc == 0, err
    pngs = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert "fig1_training_objective.png" in pngs, pngs
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png") == len(pngs), "every drawn figure is embedded"


@pytest.mark.parametrize(
    ("short", "other"), [("ipm", "working-set"), ("working-set", "ipm")]
)
def test_solve_names_the_other_solver_when_one_stops_short(
    short, other, data14, monkeypatch, capsys
):
    from bnconvex.app.cli import main
    from bnconvex.numerics import solvers

    plugin = solvers.SOLVERS[short]
    real = plugin.solve
    # three (interior-point) iterations cannot reach the 1e-9 gap: max_iterations
    monkeypatch.setattr(
        plugin, "solve", lambda prob, **kw: real(prob, **{**kw, "max_iter": 3})
    )
    argv = ["solve", str(data14), "--beta", "0.1", "--json", "--quiet"]
    rc = main([*argv, "--solver", short])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert err.count("\n") == 1, err  # one line says what happened
    assert "stopped short (exit status 1)" in err, err
    assert f"{short} ended max_iterations" in err, err
    assert f"--solver {other}" in err, err


def test_a_bug_is_one_line_not_a_traceback(monkeypatch, capsys):
    from bnconvex.app.commands import list_claims

    def broken(args):
        raise ValueError("Out of range float values are not JSON compliant: nan")

    monkeypatch.delenv("BNCONVEX_TRACEBACK", raising=False)
    monkeypatch.setattr(list_claims, "run", broken)
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("bnconvex list: internal error: ValueError: Out of range")
    assert "Traceback" not in err
    monkeypatch.setenv("BNCONVEX_TRACEBACK", "1")
    with pytest.raises(ValueError, match="Out of range"):
        main(["list"])
