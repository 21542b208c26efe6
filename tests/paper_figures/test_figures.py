"""``bnconvex figures``: cached data, PNG + PDF + caption per figure, no fake data.

Most tests replace the COMPUTE step by small stand-ins (the plotting code is
what is under test, and it must never solve); the real data step is checked
on reduced sizes (an import error in the project's own modules fails them).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from bnconvex.app.cli import main as cli_main
from bnconvex.numerics.errors import InputError
from bnconvex.paper_figures import _common
from bnconvex.paper_figures import data as figure_data
from bnconvex.paper_figures.make_all import FIGURES
from PIL import Image

SMALL = figure_data.SMALL_FIGURES
CAPTION = {"title": "stand-in", "departures": ["stand-in data for a test"]}


def _fig1():
    it = np.arange(1, 301)
    curves = [1.0 + 0.01 * s + 2.0 * np.exp(-it / 40.0) for s in range(3)]
    return {
        "settings": {"n": 6},
        "convex_optimum": 1.0,
        "dual_lower_bound": 1.0 - 1e-9,
        "curves": curves,
        "seeds": [0, 1, 2],
        "caption": CAPTION,
    }


def _fig2():
    rows = [
        {
            "beta": b,
            "closed_form": b,
            "solver": b * (1 + 1e-9),
            "lower_bound": b,
            "neuron_pos": max(2.0 - b, 0.0),
            "neuron_neg": max(1.0 - b, 0.0),
            "active_blocks": int(b < 1) + int(b < 2),
            "block_norms": [1.0],
            "seconds": 0.1,
            "status": "optimal",
        }
        for b in np.geomspace(0.1, 3, 6)
    ]
    return {
        "settings": {"n": 5},
        "rows": rows,
        "norm_pos": 2.0,
        "norm_neg": 1.0,
        "caption": CAPTION,
    }


def _fig3():
    rng = np.random.default_rng(0)
    per = rng.dirichlet(np.ones(7), size=(4, 2))[..., :6]
    return {
        "settings": {"n": 8},
        "spectrum": [5, 3, 1, 0.5, 0.2, 0.1],
        "k": 2,
        "iterations": np.arange(1, 51),
        "topk_bn": rng.uniform(0.4, 0.6, (4, 50)),
        "topk_whitened": rng.uniform(0.3, 0.5, (4, 50)),
        "per_direction_bn": per[:, 0],
        "per_direction_whitened": per[:, 1],
        "caption": CAPTION,
    }


STAND_INS = {
    "fig1_training_objective": _fig1,
    "fig2_closed_form_beta": _fig2,
    "fig3_implicit_bias": _fig3,
}


def _results_dir(tmp_path):
    """A stand-in benchmark results folder (layouts of the benchmark scripts)."""
    res = tmp_path / "results"
    res.mkdir()
    # the layout benchmarks/bench_cifar10.py writes: runs in results[0], curves nested
    curve = {"seconds": [0, 1.5, 3], "iterations": [1, 10, 100]}
    runs = [
        {
            "model": "nonconvex-sgd",
            "k": None,
            "label": "non-convex BN net, SGD",
            "curve": {
                "seconds": [0, 1, 2],
                "epochs": [1, 2, 3],
                "test_accuracy": [0.3, 0.4, 0.45],
            },
            "steps": 30,
            "epochs_done": 3,
        },
        {
            "model": "convex",
            "k": None,
            "label": "convex (U')",
            "curve": {**curve, "test_accuracy": [0.35, 0.47, 0.5]},
        },
        {
            "model": "convex-truncated",
            "k": 10,
            "label": "convex, truncated k=10",
            "curve": {**curve, "test_accuracy": [0.36, 0.48, 0.52]},
        },
    ]
    for seed in (0, 1):  # the four-seed comparison: one file per seed
        (res / f"cifar10_dual_step_seed{seed}.json").write_text(
            json.dumps(
                {
                    "benchmark": "cifar10",
                    "settings": {"n_train": 100, "beta_a": 1e-3, "seed": seed},
                    "machine": {"cpu_count": 2},
                    "results": [{"runs": runs}],
                }
            )
        )
    # another protocol's file: not part of the seed comparison, never drawn
    (res / "cifar10.json").write_text(json.dumps({"results": [{"runs": runs[:1]}]}))
    peers = [
        {
            "solver": s,
            "n": n,
            "d": 2,
            "P": 4 * n,
            "seconds": t * n / 10,
            "objective": 1.0,
            "status": "optimal",
        }
        for s, t in (("ipm", 0.1), ("cvxpy-clarabel", 0.3))
        for n in (10, 20, 40)
    ]
    (res / "peers_flat.json").write_text(
        json.dumps({"settings": {}, "machine": "test", "runs": peers})
    )
    # the layout benchmarks/bench_peers.py writes: per instance, per solver, runs
    runs = [{"solve_seconds": t, "success": True} for t in (1.0, 2.0, 3.0)]
    inst = {
        "n": 50,
        "d": 2,
        "P": 64,
        "solvers": {
            "fullscale": {
                "runs": runs,
                "median_solve_seconds": 2.0,
                "median_process_seconds": 3.0,
                "all_success": True,
            },
            "cvxpy-clarabel": {
                "runs": runs[:1],
                "median_solve_seconds": 1.0,
                "median_process_seconds": 2.0,
                "all_success": False,
            },
        },
    }
    # the layout benchmarks/bench_fullscale_gap.py writes
    records = [
        {"seconds": s, "relative_gap": g, "gap_certified": False, "test_accuracy": a}
        for s, g, a in ((10.0, 0.99, 0.3), (20.0, 0.9, 0.4), (30.0, 0.8, 0.45))
    ]
    (res / "fullscale_gap_demo.json").write_text(
        json.dumps({"dataset": "demo", "n": 100, "records": records})
    )
    # the layout benchmarks/bench_cifar10_cnn.py writes
    cnn_curve = [
        {
            "seconds": s,
            "objective": 10.0 - s / 10,
            "lower_bound": 8.0,
            "test_accuracy": a,
        }
        for s, a in ((10.0, 0.3), (20.0, 0.4), (30.0, 0.45))
    ]
    cnn_runs = [
        {
            "model": "convex-trunc",
            "k": 2,
            "neurons": 8,
            "status": "time_limit",
            "relu_network": {"test_accuracy": 0.1},
            "curve": cnn_curve,
        },
        {
            "model": "sgd",
            "width": 8,
            "status": "time_limit",
            "curve": [
                {"seconds": 5.0, "test_accuracy": 0.2},
                {"seconds": 30.0, "test_accuracy": 0.35},
            ],
        },
    ]
    (res / "cifar10_cnn_demo.json").write_text(
        json.dumps({"settings": {"n_train": 100}, "machine": {}, "runs": cnn_runs})
    )
    (res / "peers.json").write_text(
        json.dumps(
            {
                "benchmark": "bench_peers",
                "machine": {"cpu_count": 2},
                "success_tol": 1e-6,
                "instances": [inst],
            }
        )
    )
    return res


@pytest.fixture
def stand_ins(monkeypatch):
    calls = {name: 0 for name in STAND_INS}

    def counted(name):
        def compute():
            calls[name] += 1
            return STAND_INS[name]()

        return compute

    for name in STAND_INS:
        monkeypatch.setitem(figure_data.COMPUTE, name, counted(name))
    return calls


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Run ``bnconvex figures`` once on stand-in data and results."""
    tmp = tmp_path_factory.mktemp("figs")
    with pytest.MonkeyPatch.context() as mp:
        for name, fn in STAND_INS.items():
            mp.setitem(figure_data.COMPUTE, name, fn)
        code = cli_main(
            [
                "figures",
                "--out",
                str(tmp / "out"),
                "--results",
                str(_results_dir(tmp)),
                "--quiet",
            ]
        )
    return code, tmp / "out"


def test_every_figure_is_made_as_png_pdf_and_caption(made):
    code, out = made
    assert code == 0, f"exit status {code}"
    for name in FIGURES:
        png, pdf = out / f"{name}.png", out / f"{name}.pdf"
        assert png.is_file(), f"{name}: missing PNG"
        assert pdf.is_file(), f"{name}: missing PDF"
        with Image.open(png) as im:
            assert im.size[0] >= 900, f"{name}: PNG only {im.size} pixels"
        assert pdf.read_bytes()[:5] == b"%PDF-", f"{name}: not a PDF"
        caption = (out / f"{name}.caption.txt").read_text()
        words = len(caption.split())
        assert words <= 150, f"{name}: caption of {words} words"
        assert f"{name}.settings.txt" in caption, caption
        side = (out / f"{name}.settings.txt").read_text()
        for part in ("What was run:", "Departures from the paper's setting:"):
            assert part in side, f"{name}: settings file lacks {part!r}"


def test_data_is_cached_next_to_the_figure(made):
    _, out = made
    for name in FIGURES:
        data = json.loads((out / f"{name}.data.json").read_text())
        assert data["name"] == name, data.get("name")
        assert {"settings", "caption"} <= set(data), sorted(data)


def test_peer_timings_from_both_layouts(tmp_path):
    res = _results_dir(tmp_path)
    flat = json.loads((res / "peers_flat.json").read_text())
    assert len(figure_data._peer_rows({"file": "f", **flat})) == 6
    nested = json.loads((res / "peers.json").read_text())
    rows = figure_data._peer_rows({"file": "g", **nested})
    full = next(r for r in rows if r["solver"] == "fullscale")
    assert (full["n"], full["P"], full["seconds"], full["run_seconds"]) == (
        50,
        64,
        2.0,
        [1.0, 2.0, 3.0],
    ), full
    clar = next(r for r in rows if r["solver"] == "cvxpy-clarabel" and r["n"] == 50)
    assert clar["success"] is False, clar


def test_solver_scaling_draws_one_run_and_marks_time_limits(tmp_path):
    # Figure 5 draws one results file (one run, one machine): the newest by
    # date then name among the runs with a ladder of >= 3 sizes; every other
    # file is listed as left out.
    res = _results_dir(tmp_path)
    late = json.loads((res / "peers.json").read_text())
    late["machine"]["date_utc"] = "2030-01-01T00:00:00+00:00"
    (res / "peers_zz_one_size.json").write_text(json.dumps(late))  # newer, no ladder
    late["machine"]["date_utc"] = "2029-01-01T00:00:00+00:00"
    late["instances"] = [{**late["instances"][0], "n": n} for n in (50, 100, 200)]
    runs = late["instances"][0]["solvers"]["fullscale"]["runs"]
    runs[0]["status"] = "time_limit"
    (res / "peers_z.json").write_text(json.dumps(late))
    data = figure_data.solver_scaling_data(res)
    assert data["settings"]["file drawn"] == "peers_z.json", data["settings"]
    assert set(data["settings"]["files left out (other runs)"]) == {
        "peers.json",
        "peers_flat.json",
        "peers_zz_one_size.json",
    }
    full = next(r for r in data["timings"] if r["solver"] == "fullscale")
    assert full["time_limited"] is True, full
    clar = next(r for r in data["timings"] if r["solver"] == "cvxpy-clarabel")
    assert clar["time_limited"] is False, clar


def test_benchmark_settings_reach_the_settings_file(made):
    _, out = made
    side = (out / "fig4_cifar10_accuracy.settings.txt").read_text()
    expected = "cifar10_dual_step_seed1.json: n_train=100, beta_a=0.001, seed=1"
    assert expected in side, side
    assert "cifar10.json" not in side, "a file of another protocol was drawn"


def test_missing_results_are_reported_and_nothing_is_plotted(
    tmp_path, stand_ins, capsys
):
    out = tmp_path / "out"
    (out).mkdir()
    (out / "fig4_cifar10_accuracy.png").write_bytes(b"stale")
    empty = tmp_path / "no-results"
    code = cli_main(["figures", "--out", str(out), "--results", str(empty), "--quiet"])
    assert code == 0, "missing benchmark results alone must not fail the run"
    captured = capsys.readouterr()
    err = captured.out + captured.err
    assert captured.out.startswith("3 of 7 figures produced in "), captured.out
    assert "fig4_cifar10_accuracy NOT PRODUCED" in err, err
    assert "python benchmarks/bench_cifar10.py" in err, err
    assert "python benchmarks/bench_peers.py" in err, err
    assert "python benchmarks/bench_fullscale_gap.py" in err, err
    assert "python benchmarks/bench_cifar10_cnn.py" in err, err
    assert not (out / "fig4_cifar10_accuracy.png").exists(), "stale figure left behind"
    note = (out / "fig5_solver_scaling.NOT_PRODUCED.txt").read_text()
    assert note.startswith(
        "fig5_solver_scaling was not produced: no benchmark results"
    ), note
    code = cli_main(
        [
            "figures",
            "--out",
            str(out),
            "--results",
            str(empty),
            "--quiet",
            "--only",
            "fig4_cifar10_accuracy",
        ]
    )
    assert code == 1, "a figure asked for by --only must be produced"


def test_small_figure_data_is_reused_unless_recomputed(tmp_path, stand_ins):
    args = [
        "figures",
        "--out",
        str(tmp_path),
        "--only",
        "fig1_training_objective",
        "--quiet",
    ]
    assert cli_main(args) == 0
    assert cli_main(args) == 0
    assert stand_ins["fig1_training_objective"] == 1, "cached data was recomputed"
    assert cli_main([*args, "--recompute"]) == 0
    assert stand_ins["fig1_training_objective"] == 2, "--recompute did not recompute"


def test_plotting_without_data_names_the_command(tmp_path):
    with pytest.raises(
        InputError, match=r"bnconvex figures --out .* --only fig2_closed_form_beta"
    ):
        _common.load_data(tmp_path, "fig2_closed_form_beta")


def test_unknown_figure_is_rejected(tmp_path):
    with pytest.raises(
        InputError, match="`name` must be one of fig1_training_objective"
    ):
        figure_data.ensure_data("fig9", tmp_path)


def test_non_finite_data_is_refused(tmp_path, monkeypatch):
    bad = _fig1()
    bad["convex_optimum"] = float("nan")
    monkeypatch.setitem(figure_data.COMPUTE, "fig1_training_objective", lambda: bad)
    with pytest.raises(InputError, match="contain NaN or inf"):
        figure_data.ensure_data("fig1_training_objective", tmp_path)


def test_implicit_bias_data_per_direction_energies_add_up():
    # Real COMPUTE step on two seeds: the per-direction fractions are increments
    # of the top-j fractions, so their sum is the top-6 fraction and lies in [0, 1].
    data = figure_data.implicit_bias_data(seeds=(0, 1))
    for key in ("per_direction_bn", "per_direction_whitened"):
        per = np.asarray(data[key])
        assert per.shape == (2, 6), per.shape
        assert per.min() >= -1e-12, f"{key}: negative energy {per.min():.3e}"
        assert per.sum(axis=1).max() <= 1 + 1e-12, f"{key}: total above 1"
    assert np.asarray(data["topk_bn"]).shape == (2, 300)


def test_closed_form_data_matches_the_solver():
    # Real COMPUTE step on a 5-point instance (rank(CX) = n - 1 = 4, 31 patterns):
    # the exact solver must agree with R2 to the solver tolerance 1e-9 (relative),
    # and the outputs of each sign must have the closed-form norms (||y+-|| - beta)_+.
    data = figure_data.closed_form_beta_data(n=5, d=6, num_beta=3)
    for row in data["rows"]:
        rel = abs(row["solver"] - row["closed_form"]) / row["closed_form"]
        assert rel <= 1e-8, f"beta={row['beta']:.3g}: relative difference {rel:.2e}"
        assert row["lower_bound"] <= row["solver"] + 1e-12, (
            "dual bound above the primal"
        )
        want = max(data["norm_pos"] - row["beta"], 0.0)
        assert abs(row["neuron_pos"] - want) <= 1e-6, (row["neuron_pos"], want)
        assert row["prediction_error"] <= 1e-6, row["prediction_error"]


def test_training_data_never_beats_the_certified_bound():
    # Real COMPUTE step, reduced: GD objectives stay above the dual lower bound
    # (weak duality), which is within 1e-8 of the convex optimum (strong duality).
    data = figure_data.training_objective_data(n=8, seeds=(0, 1), max_iter=50)
    gap = data["convex_optimum"] - data["dual_lower_bound"]
    assert 0 <= gap <= 1e-8 * max(1.0, data["convex_optimum"]), (
        f"certified gap {gap:.2e}"
    )
    for curve in data["curves"]:
        assert min(curve) >= data["dual_lower_bound"] - 1e-12, "GD went below the bound"
        assert len(curve) == 51, len(curve)


def test_make_all_entry_point_replots_from_cached_data_only(tmp_path, stand_ins):
    # `python -m bnconvex.paper_figures.make_all` uses the cache: restyling a
    # figure must not call the COMPUTE step again.
    from bnconvex.paper_figures import make_all

    name = "fig3_implicit_bias"
    assert make_all.main(["--out", str(tmp_path), "--only", name]) == 0
    (tmp_path / f"{name}.png").unlink()
    assert make_all.main(["--out", str(tmp_path), "--only", name]) == 0
    assert (tmp_path / f"{name}.png").is_file(), "figure not re-made"
    assert stand_ins[name] == 1, f"COMPUTE ran {stand_ins[name]} times"


def test_an_import_error_is_a_bug_not_a_missing_figure(tmp_path):
    # every module is built: a failing import of the project propagates (it
    # used to become a "failed" figure with a NOT_PRODUCED note)
    from bnconvex.paper_figures import make_all

    def broken(name, out_dir):
        raise ImportError("cannot import name 'x' from 'bnconvex.numerics'")

    with pytest.raises(ImportError, match="cannot import name"):
        make_all.run(tmp_path, only=["fig1_training_objective"], prepare=broken)
    assert not list(tmp_path.glob("*.NOT_PRODUCED.txt"))


def test_nan_in_a_results_file_is_a_missing_value(tmp_path):
    # Python's json writes NaN for a record without an objective (a solver
    # step of bench_fullscale_gap.py); the figure data must stay strict JSON
    res = _results_dir(tmp_path)
    record = {"seconds": 1.0, "relative_gap": float("nan"), "test_accuracy": 0.5}
    (res / "fullscale_gap_nan.json").write_text(json.dumps({"records": [record]}))
    data = figure_data.fullscale_gap_data(res)
    drawn = next(r for r in data["results"] if r["file"] == "fullscale_gap_nan.json")
    assert drawn["records"][0]["relative_gap"] is None
    json.dumps(data, allow_nan=False)  # what write_data does


def test_fig6_labels_name_workers_and_network_patterns():
    from bnconvex.paper_figures.fig6_fullscale_gap import _label

    res = {"dataset": "cifar10", "n": 50000, "method": "working-set", "k": 20}
    res.update({"beta_a": 0.03, "workers": 2, "sampling": "network", "file": "x"})
    assert _label(res) == "CIFAR-10 50k, WS k=20, \u03b2=0.03, 2 workers, net patterns"
    res.update({"sampling": "gaussian", "workers": 1})
    assert _label(res) == "CIFAR-10 50k, WS k=20, \u03b2=0.03"
