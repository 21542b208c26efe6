"""``bnconvex train`` on tiny data sets written in tmp_path."""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from bnconvex.app.cli import main

from tests.numerics.dataio.test_datasets import (
    _tree_images,
    _write_idx_folder,
    _write_tree,
)

SUMMARY_KEYS = {
    "train_accuracy",
    "test_accuracy",
    "objective",
    "lower_bound",
    "gap",
    "bound_kind",
    "pattern_relative_gap",
    "gap_certified",
    "max_violation",
    "status",
    "iterations",
    "beta_max",
    "seconds",
    "out",
}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    _write_tree(root, _tree_images())
    return root


def test_subprocess_json_outputs_and_quiet_stderr(tree, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bnconvex.app",
            "train",
            "--dataset",
            str(tree),
            "--beta",
            "0.1",
            "--out",
            str(out),
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no progress with --quiet"
    printed = json.loads(proc.stdout)
    assert set(printed) == SUMMARY_KEYS
    assert 0.0 <= printed["test_accuracy"] <= 1.0
    summary = json.loads((out / "summary.json").read_text())
    assert printed["bound_kind"] == summary["bound_kind"] == "patterns"  # sampled
    assert summary["pattern_relative_gap"] == summary["relative_gap"]
    assert summary["n_train"] == 5  # 3 dog + 2 cat training PNGs
    assert summary["n_test"] == 3
    assert summary["d"] == 4 * 5 * 3
    assert summary["classes"] == ["cat", "dog"]
    assert summary["bn_convention"] == "a"
    assert summary["beta_a"] == 0.1
    with np.load(out / "model.npz") as model:
        assert json.loads(str(model["summary_json"]))["n_train"] == 5
    assert sorted(p.name for p in out.iterdir()) == ["model.npz", "summary.json"]


def test_std_convention_converts_beta(tree, tmp_path, capsys):
    rc = main(
        [
            "train",
            "--dataset",
            str(tree),
            "--beta",
            "0.5",
            "--bn",
            "std",
            "--out",
            str(tmp_path / "o"),
            "--json",
            "--quiet",
        ]
    )
    assert rc == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    # beta_a = beta_std / sqrt(n) with n = 5 training images
    assert summary["beta_a"] == pytest.approx(0.5 / math.sqrt(5), rel=1e-15)


def test_idx_folder_with_classes_and_subset(tmp_path, capsys):
    _write_idx_folder(tmp_path / "f", compress=True)
    # training labels [0, 9, 3, 3, 1, 0], test [9, 1]: classes 0 and 9 give 3
    # training images (keep 2) and 1 test image
    rc = main(
        [
            "train",
            "--dataset",
            str(tmp_path / "f"),
            "--beta",
            "1e-2",
            "--classes",
            "0",
            "Ankle boot",
            "--subset",
            "2",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--quiet",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "test_accuracy" in text
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_train"] == 2
    assert summary["n_test"] == 1
    assert summary["classes"] == ["T-shirt/top", "Ankle boot"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "{tmp}/missing"], r"`--dataset` does not exist"),
        (
            ["--dataset", "{tree}", "--classes", "cow", "dog"],
            r"`--classes` entry 'cow'",
        ),
        (["--dataset", "{tree}", "--subset", "50"], r"`--subset` must be <= the 5"),
        (
            ["--dataset", "{tree}", "--patterns", "{tmp}/p.npy"],
            r"`--patterns` file not found",
        ),
        (
            ["--dataset", "{tree}", "--cache", "{tmp}/c.bin"],
            r"`--cache` must end in .npz",
        ),
        (["--dataset", "{tree}", "--split-dir", "fit,holdout"], r"split 'fit'"),
        (["--dataset", "{tmp}/xy.npz"], r"`--dataset` '.*xy.npz' lacks array\(s\)"),
        (  # few samples: --method auto takes ADMM, no AL step
            ["--dataset", "{tree}", "--dual-step", "0.5"],
            r"`--dual-step` applies to the augmented Lagrangian only \(",
        ),
        (  # the exact per-class solve has no multiplier step
            ["--dataset", "{tree}", "--dual-step", "0.5", "--method", "working-set"],
            r"`--dual-step` applies to the augmented Lagrangian only; method=",
        ),
        (
            ["--dataset", "{tree}", "--dual-step", "1.5"],
            r"`--dual-step` must be in \(0, 1\]; got 1\.5",
        ),
    ],
)
def test_bad_input_exit_2_one_line(tree, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, tree=tree) for a in argv]
    np.savez(tmp_path / "xy.npz", X=np.zeros((3, 2)), y=np.zeros(3))  # not a cache
    rc = main(["train", *argv, "--beta", "1", "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1, err
    assert err.startswith("bnconvex train: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists(), "nothing written for bad input"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--regularizer", "trunc:3"],
            r"argument --regularizer: must be none, or truncated:k",
        ),
        (
            ["--regularizer", "truncated:3+truncated:4"],
            r"argument --regularizer: must be none, .*'truncated:3\+truncated:4'",
        ),
        (
            ["--regularizer", "spectral:nan+truncated:2"],
            r"argument --regularizer: must be none, or truncated:k",
        ),
        (
            ["--regularizer", "shift:0"],
            r"argument --regularizer: .*shift:c \(c > 0\).*'shift:0'",
        ),
        (["--patterns", "0"], r"argument --patterns: must be a positive number"),
        (["--pattern-sampling", "uniform"], r"argument --pattern-sampling: invalid"),
        (["--beta", "-1"], r"argument --beta: must be a positive finite number"),
        (["--time-limit", "nan"], r"argument --time-limit: must be a positive number"),
        (["--dual-step", "0"], r"argument --dual-step: must be a positive number"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, argv, message):
    base = {"--dataset": "x", "--beta": "1", "--out": str(tmp_path)}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        base[flag] = value
    with pytest.raises(SystemExit) as info:
        main(["train", *[t for kv in base.items() for t in kv]])
    assert info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def _train_argv(tree, out, *extra):
    return ["train", "--dataset", str(tree), "--beta", "1", "--out", str(out), *extra]


def test_out_is_a_file(tree, tmp_path, capsys):
    (tmp_path / "f.txt").write_text("x")
    assert main(_train_argv(tree, tmp_path / "f.txt")) == 2
    assert "`--out` must be a folder" in capsys.readouterr().err


def test_cupy_backend_without_cupy(tree, tmp_path, capsys):
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:  # pragma: no cover - machines with CuPy
        pytest.skip("CuPy is installed")
    assert main(_train_argv(tree, tmp_path / "o", "--backend", "cupy")) == 2
    assert "`--backend cupy` needs CuPy" in capsys.readouterr().err


def test_synthetic_dataset(tmp_path, capsys):
    rc = main(
        [
            "train",
            "--dataset",
            "synthetic",
            "--subset",
            "40",
            "--beta",
            "0.1",
            "--patterns",
            "8",
            "--max-iter",
            "60",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "o"),
            "--json",
            "--quiet",
        ]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["n_train"] == 40
    assert summary["n_test"] == 10  # n // 4
    assert summary["d"] == 20
    assert printed["test_accuracy"] == summary["test_accuracy"]
    # three Gaussian classes, mean spread 2 in d = 20: well separated (measured
    # 1.0 with seed 2); the certified bound never exceeds the objective
    assert summary["test_accuracy"] >= 0.9
    assert summary["lower_bound"] <= summary["objective"]
    assert summary["status"] in ("optimal", "max_iterations")
    assert summary["iterations"] <= 60


def test_network_sampled_patterns(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["train", "--dataset", "synthetic", "--subset", "40", "--beta", "0.1"]
    argv += ["--patterns", "8", "--pattern-sampling", "network", "--seed", "2"]
    rc = main([*argv, "--max-iter", "60", "--out", str(out), "--json", "--quiet"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pattern_sampling"] == "network"
    assert 1 <= summary["patterns_used"] <= 8
    assert summary["lower_bound"] <= summary["objective"]


@pytest.mark.parametrize("regularizer", ["truncated:2", "truncated:2+spectral:0.5"])
def test_pattern_file_and_truncated_regularizer(tree, tmp_path, capsys, regularizer):
    # n = 5 training images; three patterns given as an (n, P) 0/1 array
    D = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 1], [1, 1, 1]], dtype=np.int8)
    np.save(tmp_path / "p.npy", D)
    argv = _train_argv(
        tree,
        tmp_path / "o",
        "--patterns",
        str(tmp_path / "p.npy"),
        "--regularizer",
        regularizer,
        "--max-iter",
        "100",
        "--quiet",
    )
    assert main(argv) == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["patterns_used"] == 3
    assert summary["regularizer"] == regularizer
    assert summary["pattern_sampling"] is None  # given, not sampled
    with np.load(tmp_path / "o" / "model.npz") as model:
        assert model["feature_A"].shape == (60, 2)  # d = 4*5*3, k = 2
        assert "gates" not in model.files  # given patterns have no generators


def test_pattern_file_wrong_rows(tree, tmp_path, capsys):
    np.save(tmp_path / "p.npy", np.ones((4, 2), dtype=bool))
    assert (
        main(
            _train_argv(
                tree, tmp_path / "o", "--patterns", str(tmp_path / "p.npy"), "--quiet"
            )
        )
        == 2
    )
    assert "`--patterns`" in capsys.readouterr().err


def test_outputs_get_the_mode_of_a_plain_open(tree, tmp_path, capsys):
    """``model.npz`` and ``summary.json`` are ``0o666 & ~umask``, like ``open()``."""
    umask = os.umask(0o027)  # 0o640: neither mkstemp's 0o600 nor the usual 0o644
    try:
        assert main(_train_argv(tree, tmp_path / "o", "--quiet")) == 0
    finally:
        os.umask(umask)
    for name in ("model.npz", "summary.json"):
        assert stat.S_IMODE((tmp_path / "o" / name).stat().st_mode) == 0o640, name


def test_summary_records_provenance(tree, tmp_path, capsys):
    from bnconvex.numerics.provenance import software_versions

    assert main(_train_argv(tree, tmp_path / "o", "--quiet")) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["versions"] == software_versions()
    assert summary["machine"]["cpu_count"] == os.cpu_count()
    assert "git_revision" in summary


@pytest.mark.parametrize(
    ("text", "k", "power", "shift"),
    [
        ("none", None, 0.0, 1.0),
        ("truncated:256", 256, 0.0, 1.0),
        ("spectral:0.5", None, 0.5, 1.0),
        ("truncated:256+spectral:0.5", 256, 0.5, 1.0),
        ("spectral:1+truncated:64", 64, 1.0, 1.0),
        ("shift:0.25", None, 0.0, 0.25),
        ("truncated:8+shift:2+spectral:0.5", 8, 0.5, 2.0),
    ],
)
def test_parse_regularizer_combines_truncation_and_spectral_weighting(
    text, k, power, shift
):
    from bnconvex.app.commands.train import parse_regularizer

    reg = parse_regularizer(text)
    assert (reg.k, reg.power, reg.shift) == (k, power, shift), reg
    # the summary's spelling parses back to the same regulariser
    assert parse_regularizer(str(reg)) == reg, str(reg)


def test_new_cache_is_written_only_after_the_model(tree, tmp_path, capsys):
    cache = tmp_path / "c.npz"
    # k = 50 > rank 4 of the five training images: bad input found after loading
    bad = _train_argv(tree, tmp_path / "o", "--regularizer", "truncated:50")
    assert main([*bad, "--cache", str(cache), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "`--regularizer truncated:k` must be at most the rank" in err, err
    assert not cache.exists(), "a failed run wrote the cache"
    assert not (tmp_path / "o").exists()
    good = _train_argv(tree, tmp_path / "o", "--max-iter", "20", "--quiet")
    assert main([*good, "--cache", str(cache)]) == 0
    assert cache.is_file(), "a successful run writes the new cache"
    capsys.readouterr()
    assert main([*good, "--cache", str(cache)]) == 0, "and reads it back"


def test_checkpoint_and_resume(tree, tmp_path, capsys):
    ckpt = tmp_path / "run.npz"
    first = _train_argv(
        tree, tmp_path / "a", "--max-iter", "10", "--quiet", "--method", "al"
    )
    assert main([*first, "--checkpoint", str(ckpt)]) == 0
    assert ckpt.is_file()
    capsys.readouterr()
    more = _train_argv(
        tree, tmp_path / "b", "--max-iter", "30", "--quiet", "--json", "--method", "al"
    )
    assert main([*more, "--resume", str(ckpt)]) == 0
    capsys.readouterr()
    before = json.loads((tmp_path / "a" / "summary.json").read_text())
    after = json.loads((tmp_path / "b" / "summary.json").read_text())
    # the resumed run counts the checkpoint's 10 iterations in its budget of 30
    assert before["iterations"] == 10, before["iterations"]
    assert after["iterations"] == 30, after["iterations"]
    other = _train_argv(tree, tmp_path / "d", "--beta", "2", "--quiet")
    assert main([*other, "--resume", str(ckpt)]) == 2
    assert "`--resume`" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_resume_continues_on_the_checkpoints_network_patterns(
    tmp_path, capsys, monkeypatch
):
    """Network patterns need not come out the same twice (training stopped
    by the time limit): the resume solves over the checkpoint's patterns
    instead of refusing them as "another problem"."""
    from bnconvex.numerics.fullscale import model, sample_patterns

    calls = []

    def unrepeatable(F, y, num, *, seed, with_signs, **timing):
        calls.append(num)
        D, G = sample_patterns(F, num, seed=seed + len(calls))  # new every call
        return D, G, np.ones((G.shape[1], y.shape[1]))

    monkeypatch.setattr(model, "network_patterns", unrepeatable)
    monkeypatch.setattr(model, "_network_fits", lambda pass_seconds, share: True)
    ckpt = tmp_path / "run.npz"
    argv = _synthetic_argv(tmp_path / "a", "--subset", "600", "--max-iter", "10")
    argv += ["--pattern-sampling", "network", "--patterns", "16", "--method", "al"]
    assert main([*argv, "--checkpoint", str(ckpt)]) == 0
    more = [*argv[:6], str(tmp_path / "b"), *argv[7:]]
    more[more.index("--max-iter") + 1] = "30"
    assert main([*more, "--resume", str(ckpt)]) == 0
    capsys.readouterr()
    assert calls == [16], "the resume trains no network"
    after = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert after["iterations"] == 30
    assert after["pattern_sampling"] == "network"
    with (
        np.load(tmp_path / "a" / "model.npz") as a,
        np.load(tmp_path / "b" / "model.npz") as b,
    ):
        np.testing.assert_array_equal(a["gates"], b["gates"])
    other = [*more[:6], str(tmp_path / "c"), *more[7:]]
    other[other.index("--patterns") + 1] = "8"
    assert main([*other, "--resume", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "`--resume` checkpoint" in err
    assert "the patterns differ (checkpoint 16 'network' patterns" in err
    assert not (tmp_path / "c").exists()


def test_shift_weight_reaches_the_model(tree, tmp_path, capsys):
    argv = _train_argv(tree, tmp_path / "o", "--regularizer", "shift:0.25", "--quiet")
    assert main([*argv, "--max-iter", "5"]) == 0
    capsys.readouterr()
    with np.load(tmp_path / "o" / "model.npz") as model:
        # shift column c / sqrt(n), n = 5 training images
        assert abs(float(model["feature_shift"]) - 0.25 / np.sqrt(5)) < 1e-15
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["regularizer"] == "shift:0.25"


def _synthetic_argv(out, *extra):
    return [
        "train",
        "--dataset",
        "synthetic",
        "--beta",
        "0.01",
        "--out",
        str(out),
        "--json",
        "--quiet",
        *extra,
    ]


def _time_limited_run(argv, capsys, limit):
    """Run ``argv``; it must stop on ``--time-limit`` within 10%, exit 0.

    Returns the printed JSON and stderr.
    """
    start = time.perf_counter()
    rc = main(argv)
    wall = time.perf_counter() - start
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert rc == 0
    assert printed["status"] == "time_limit"
    assert wall <= 1.1 * limit, (
        f"--time-limit {limit:g} met within 10%: took {wall:.2f} s"
    )
    return printed, captured.err


def test_time_limit_bounds_the_whole_command(tmp_path, capsys):
    # n = 5000 > 4096 takes the augmented Lagrangian (preset dual step);
    # --max-iter far above what 4 s allow (a step takes ~10-40 ms here), so
    # only the budget stops it
    argv = _synthetic_argv(
        tmp_path / "o", "--subset", "5000", "--max-iter", "100000", "--time-limit", "4"
    )
    argv += ["--method", "al"]
    printed, err = _time_limited_run(argv, capsys, 4.0)
    assert printed["iterations"] >= 1
    assert printed["seconds"] <= 4.4
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["dual_step"] == 0.03, "the preset's step above 4096 samples"
    assert summary["regularizer"] == "truncated:32+spectral:0.5"
    assert summary["dtype"] == "float32"
    assert summary["patterns"] == 128
    # the preset's network patterns, unless the half of the budget left for
    # them cannot pay for the network (a loaded machine): then Gaussian ones,
    # and a note says so
    assert summary["pattern_sampling"] in ("network", "gaussian")
    fell_back = summary["pattern_sampling"] == "gaussian"
    assert ("note: too little of --time-limit 4 s" in err) == fell_back, err


def test_network_sampling_within_the_time_limit(tmp_path, capsys, monkeypatch):
    """The network's training is charged to --time-limit (stopped by it)."""
    from bnconvex.numerics.fullscale import model

    # the network is trained however slow the machine (no Gaussian fallback)
    monkeypatch.setattr(model, "_network_fits", lambda pass_seconds, share: True)
    argv = _synthetic_argv(
        tmp_path / "o", "--subset", "5000", "--max-iter", "100000", "--time-limit", "4"
    )
    argv += ["--method", "al", "--pattern-sampling", "network"]
    printed, _ = _time_limited_run(argv, capsys, 4.0)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["pattern_sampling"] == "network"
    assert printed["iterations"] >= 1


def test_too_little_time_for_the_network_samples_gaussian_patterns(
    tmp_path, capsys, monkeypatch
):
    """A budget that cannot pay for the network's passes: Gaussian patterns,
    said in the summary and in one line on stderr."""
    from bnconvex.numerics.fullscale import model

    # a slow CPU
    monkeypatch.setattr(model, "network_pass_seconds", lambda F, width: 1e3)
    argv = _synthetic_argv(tmp_path / "o", "--subset", "600", "--time-limit", "60")
    assert main([*argv, "--pattern-sampling", "network"]) == 0
    captured = capsys.readouterr()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["pattern_sampling"] == "gaussian"
    assert captured.err.count("\n") == 1, captured.err
    assert "was left for --pattern-sampling network; gaussian patterns" in captured.err


def test_model_without_a_step_is_reported_and_exits_1(tmp_path, capsys):
    argv = _synthetic_argv(tmp_path / "o", "--subset", "5000", "--time-limit", "1e-6")
    rc = main(argv)
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert rc == 1
    assert printed["status"] == "no_step"
    assert printed["iterations"] == 0
    assert printed["gap_certified"] is False
    assert captured.err.count("\n") == 1
    assert "took no step" in captured.err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["status"] == "no_step"
    assert summary["gap_certified"] is False


def test_beta_max_printed_in_the_bn_convention(tmp_path, capsys):
    base = _synthetic_argv(tmp_path / "a", "--subset", "300", "--max-iter", "5")
    assert main(base) == 0
    a = json.loads(capsys.readouterr().out)
    std = _synthetic_argv(tmp_path / "s", "--subset", "300", "--max-iter", "5")
    assert main([*std, "--bn", "std"]) == 0
    s = json.loads(capsys.readouterr().out)
    # same program (beta only enters the solve), so beta_max_std = sqrt(n) beta_max_a
    assert_close = math.isclose(
        s["beta_max"], math.sqrt(300) * a["beta_max"], rel_tol=1e-9
    )
    assert assert_close, (a["beta_max"], s["beta_max"])


def test_beta_above_beta_max_gives_the_zero_network(tmp_path, capsys):
    base = _synthetic_argv(tmp_path / "a", "--subset", "300", "--max-iter", "5")
    assert main(base) == 0
    beta_max = json.loads(capsys.readouterr().out)["beta_max"]
    argv = _synthetic_argv(tmp_path / "b", "--subset", "300", "--max-iter", "50")
    argv[argv.index("--beta") + 1] = repr(1.01 * beta_max)
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["neurons"] == 0
    assert printed["status"] == "optimal"


def test_progress_from_the_start_with_time_left(tmp_path, capsys, monkeypatch):
    from bnconvex.app.commands import train as train_cmd

    monkeypatch.setattr(train_cmd, "progress_enabled", lambda quiet: not quiet)
    argv = _synthetic_argv(
        tmp_path / "o", "--subset", "5000", "--max-iter", "100000", "--time-limit", "6"
    )
    argv.remove("--quiet")
    assert main(argv) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("train: loading synthetic (t=")
    assert all(re.search(r"\(t=[0-9.]+s left=-?[0-9.]+s\)$", ln) for ln in lines)
    phases = [ln.split()[1] for ln in lines]
    for phase in ("loaded", "whitening", "features", "patterns", "solve:", "scoring"):
        assert phase in phases, (phase, lines)
    solve = [ln for ln in lines if ln.startswith("train: solve: ")]
    # every 2 s of steps and at each check: iterations, objective, bound, gap,
    # violation
    assert any(
        re.search(r"iter \d+ obj \S+ lb \S+ rel\.gap \S+ viol \S+", ln) for ln in solve
    ), solve


def test_few_feature_columns_solve_exactly_per_class(tmp_path, capsys):
    # above 4096 samples, truncated:10 -> 11 feature columns and beta far
    # above 1e-3 beta_max: --method auto solves each class's exact program by
    # the working-set method, certified with zero violation
    argv = _synthetic_argv(
        tmp_path / "o", "--subset", "5000", "--regularizer", "truncated:10"
    )
    argv[argv.index("--beta") + 1] = "0.5"
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["solver"] == "fullscale-working-set"
    assert printed["status"] == "optimal"
    assert printed["gap_certified"] is True
    assert printed["max_violation"] == 0.0
    # the solver's target is 1e-6 (solve_fullscale's default tol)
    assert 0.0 <= printed["pattern_relative_gap"] <= 1e-6
    assert summary["dual_step"] == 1.0


def test_working_set_time_limit_bounds_the_whole_command(tmp_path, capsys):
    argv = _synthetic_argv(
        tmp_path / "o",
        "--subset",
        "5000",
        "--regularizer",
        "truncated:20",  # the synthetic data have rank 20
        "--time-limit",
        "4",
        "--method",
        "working-set",
    )
    argv[argv.index("--beta") + 1] = "1e-4"  # many active blocks: not done in 4 s
    _time_limited_run(argv, capsys, 4.0)


def test_workers_with_the_working_set_method(tmp_path, capsys):
    argv = _synthetic_argv(
        tmp_path / "o", "--subset", "600", "--regularizer", "truncated:10"
    )
    argv[argv.index("--beta") + 1] = "0.5"
    assert main([*argv, "--method", "working-set", "--workers", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["status"] == "optimal"
    assert printed["gap_certified"] is True
    bad = _synthetic_argv(tmp_path / "b", "--subset", "600", "--method", "al")
    assert main([*bad, "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "`--workers` applies to method='working-set' only" in err, err
    assert not (tmp_path / "b").exists()


def test_help_states_the_library_auto_rule():
    """The help text's copy of ``--method auto``'s rule is the library's."""
    from bnconvex.app.commands import train
    from bnconvex.numerics import fullscale

    assert train.CLASSWISE_MAX_M == fullscale.CLASSWISE_MAX_M
    assert train.WORKING_SET_MIN_RATIO == fullscale.WORKING_SET_MIN_RATIO
    solver = fullscale.solver
    assert train.FIRST_ORDER_MAX_ITER == solver.FIRST_ORDER_MAX_ITER
    assert train.WORKING_SET_ITERS_PER_CLASS == solver.WORKING_SET_ITERS_PER_CLASS
