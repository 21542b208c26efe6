"""Selection helpers of ``benchmarks/bench_cifar10.py`` (validation split, choice)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cifar10.py"
_spec = importlib.util.spec_from_file_location("bench_cifar10", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_validation_split_is_a_seeded_partition():
    fit, held = bench.validation_split(50, 7, seed=3)
    assert held.size == 7
    assert fit.size == 43
    # disjoint and covering: together they are 0..49 exactly once
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, held])), np.arange(50))
    _fit2, held2 = bench.validation_split(50, 7, seed=3)
    np.testing.assert_array_equal(held, held2)
    _, held3 = bench.validation_split(50, 7, seed=4)
    assert not np.array_equal(held, held3), "another seed gave the same split"


@pytest.mark.parametrize("n_val", [0, 50, -1])
def test_validation_split_rejects_sizes_outside_range(n_val):
    with pytest.raises(SystemExit, match=r"--validation must be in \(0, 50\)"):
        bench.validation_split(50, n_val, seed=0)


def _run(label, acc, model="convex-regularised", **extra):
    return {"model": model, "label": label, "test_accuracy_final": acc, **extra}


def test_choose_takes_the_best_regularised_run_only():
    result = {
        "runs": [
            _run("a", 0.41, k=256, power=0.5, beta_a=0.01),
            _run("b", 0.44, k=256, power=1.0, beta_a=0.1),
            _run("sgd", 0.60, model="nonconvex-sgd"),  # never a candidate
            {"model": "convex-regularised", "label": "failed", "status": "x"},
        ]
    }
    assert bench.choose(result) == {
        "label": "b",
        "k": 256,
        "power": 1.0,
        "beta_a": 0.1,
    }
    assert bench.choose({"runs": [_run("sgd", 0.6, model="nonconvex-sgd")]}) is None


def test_selection_summary_and_readme_lines(tmp_path):
    sel = {
        "date": "2026-01-01T00:00:00+00:00",
        "argv": ["python", "benchmarks/bench_cifar10.py", "--validation", "5"],
        "settings": {
            "evaluated_on": "validation: 5 held-out training images",
            "n_train": 45,
            "budget_seconds": 30.0,
        },
        "runs": [_run("a", 0.25, train_accuracy=0.5, status="time_limit")],
        "chosen": {"label": "a"},
    }
    sel["settings"]["patterns"] = 64
    path = tmp_path / "sel.json"
    path.write_text(json.dumps(sel))
    summary = bench._selection_summary([path])
    assert summary["candidates"] == [
        {
            "label": "a, P=64",
            "validation_accuracy": 0.25,
            "train_accuracy": 0.5,
            "status": "time_limit",
            "budget_seconds": 30.0,
            "match": ["convex-regularised", "a", 64],
        }
    ]
    line = bench._selection_lines(summary)[0]
    assert "never on the test set" in line, line
    assert "a, P=64 (30 s): 0.2500" in line, line
    assert "Chosen: **a**" in line, line
    sel["settings"]["evaluated_on"] = "test set"
    path.write_text(json.dumps(sel))
    with pytest.raises(SystemExit, match=r"is not a --validation run"):
        bench._selection_summary([path])


def _selection_file(path, runs, n_fit=45):
    sel = {
        "date": "2026-01-01T00:00:00+00:00",
        "argv": ["python", "benchmarks/bench_cifar10.py", "--validation", "5"],
        "settings": {
            "evaluated_on": "validation: 5 held-out training images",
            "n_train": n_fit,
            "budget_seconds": 30.0,
        },
        "runs": runs,
    }
    path.write_text(json.dumps(sel))
    return path


def test_selection_over_several_files_chooses_over_all(tmp_path):
    one = _selection_file(tmp_path / "1.json", [_run("a", 0.30), _run("b", 0.20)])
    two = _selection_file(tmp_path / "2.json", [_run("c", 0.35)])
    summary = bench._selection_summary([one, two])
    assert [c["label"] for c in summary["candidates"]] == ["a", "b", "c"]
    assert summary["chosen"]["label"] == "c"
    other = _selection_file(tmp_path / "3.json", [_run("d", 0.9)], n_fit=40)
    with pytest.raises(SystemExit, match=r"must use the same validation split"):
        bench._selection_summary([one, other])


def _sgd_run(epochs, acc, width=640, lr=0.005):
    return _run(
        "sgd",
        acc[-1],
        model="nonconvex-sgd",
        width=width,
        sgd={"lr": lr, "batch_size": 128},
        epochs=epochs,
        seconds=[10.0 * e for e in epochs],
        test_accuracy=acc,
    )


def test_stopped_rows_read_final_runs_where_validation_peaked(tmp_path):
    # selection: SGD peaks at epoch 2 (0.50), the convex run at iteration 20 (0.45)
    convex_sel = _run(
        "c", 0.40, iterations=[10, 20, 30], test_accuracy=[0.3, 0.45, 0.4]
    )
    sel = _selection_file(
        tmp_path / "s.json",
        [convex_sel, _sgd_run([1, 2, 3], [0.4, 0.5, 0.3])],
    )
    sel_json = json.loads(sel.read_text())
    sel_json["settings"]["patterns"] = 32
    sel.write_text(json.dumps(sel_json))
    final_convex = _run(
        "c",
        0.41,
        iterations=[12, 25, 40],
        seconds=[1.0, 2.0, 3.0],
        test_accuracy=[0.31, 0.44, 0.41],
        neurons=640,
    )
    result = {
        "settings": {"patterns": 32, "selection": bench._selection_summary([sel])},
        "runs": [
            final_convex,
            _sgd_run([1.0, 1.5, 2.0, 3.0], [0.41, 0.47, 0.49, 0.35]),
            _sgd_run([1.0, 2.0], [0.4, 0.6], width=1280),  # no matching selection run
        ],
    }
    rows = bench.stopped_rows(result)
    assert [r["model"] for r in rows] == ["convex-regularised", "nonconvex-sgd"]
    # first record at or after the selection peak: iteration 25 >= 20, epoch 2.0 >= 2
    assert rows[0]["test_accuracy_final"] == 0.44, rows[0]
    assert rows[0]["train_seconds"] == 2.0, rows[0]
    assert "stopped at iteration 25 (validation peak 0.4500 at 20)" in rows[0]["label"]
    assert rows[1]["test_accuracy_final"] == 0.49, rows[1]
    assert rows[1]["status"] == "stopped (validation)"
    # another P in the final run: the convex selection run does not stand for it
    result["settings"]["patterns"] = 128
    assert [r["model"] for r in bench.stopped_rows(result)] == ["nonconvex-sgd"]


def test_render_recomputes_the_selection_and_rewrites_the_readme_section(tmp_path):
    sel = _selection_file(tmp_path / "s.json", [_run("c", 0.5)])
    result = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": {"cpu_count": 2},
        "argv": ["python", "benchmarks/bench_cifar10.py"],
        "settings": {
            "n_train": 50,
            "n_test": 10,
            "beta_a": 1e-3,
            "patterns": 4,
            "dtype": "float32",
            "budget_seconds": 30.0,
            "seed": 0,
            "selection": None,
        },
        "runs": [_run("c", 0.42, neurons=80, train_accuracy=0.5, status="time_limit")],
    }
    out = tmp_path / "r.json"
    out.write_text(json.dumps(result))
    readme = tmp_path / "README.md"
    readme.write_text("# B\n\nkept text\n")
    argv = ["--render", str(out), "--selection", str(sel), "--update-readme"]
    assert bench.main([*argv, "--readme", str(readme)]) == 0
    rendered = json.loads(out.read_text())
    assert rendered["settings"]["selection"]["chosen"]["label"] == "c"
    assert rendered["runs"] == result["runs"], "the measured runs are not touched"
    text = readme.read_text()
    assert "kept text" in text, text
    assert "| c | 80 | 0.4200 | 0.5000 |" in text, text
    assert "Chosen: **c**" in text, text


def _seed_result(seed, convex_acc, sgd_acc, budget=30.0):
    return {
        "settings": {
            "seed": seed,
            "budget_seconds": budget,
            "patterns": 4,
            "n_train": 50,
        },
        "runs": [
            _run("sgd", sgd_acc, model="nonconvex-sgd", epochs_done=2.5),
            _run("cvx", convex_acc, solver_iterations=40),
        ],
    }


def test_seeds_summary_counts_where_each_model_leads():
    results = [_seed_result(0, 0.50, 0.47), _seed_result(1, 0.46, 0.48)]
    results.append(_seed_result(2, 0.49, 0.49))  # a tie leads for neither
    summary = bench.seeds_summary(results)
    assert summary["seeds"] == [0, 1, 2]
    by = {m["label"]: m for m in summary["models"]}
    assert by["cvx"]["best_at"] == 1
    assert by["sgd"]["best_at"] == 1
    assert by["cvx"]["accuracy"] == [0.50, 0.46, 0.49]
    assert abs(by["cvx"]["mean"] - (0.50 + 0.46 + 0.49) / 3) < 1e-12
    assert abs(by["sgd"]["std"] - np.std([0.47, 0.48, 0.49], ddof=1)) < 1e-12
    assert by["cvx"]["progress"] == ["40 it"] * 3
    assert by["sgd"]["progress"] == ["2.5 ep"] * 3


def test_seeds_summary_refuses_mixed_runs():
    with pytest.raises(SystemExit, match="share a seed"):
        bench.seeds_summary([_seed_result(0, 0.5, 0.4), _seed_result(0, 0.5, 0.4)])
    with pytest.raises(SystemExit, match="differ in budget_seconds"):
        bench.seeds_summary([_seed_result(0, 0.5, 0.4), _seed_result(1, 0.5, 0.4, 60)])


def test_seeds_table_is_its_own_readme_section(tmp_path):
    paths = []
    for seed, (a, b) in enumerate([(0.5, 0.4), (0.45, 0.47)]):
        paths.append(tmp_path / f"s{seed}.json")
        paths[-1].write_text(json.dumps(_seed_result(seed, a, b)))
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# B\n\n{bench.SECTION_START}\nmain table\n{bench.SECTION_END}\n"
    )
    argv = ["--seeds", *map(str, paths), "--update-readme", "--readme", str(readme)]
    assert bench.main(argv) == 0
    text = readme.read_text()
    assert "main table" in text, "the main section is kept"
    assert "| cvx | 0.5000 (40 it) | 0.4500 (40 it) | 0.4750 |" in text, text
    assert text.count(bench.SEEDS_START) == 1
    assert bench.main(argv) == 0  # a second write replaces the section
    assert readme.read_text().count(bench.SEEDS_START) == 1
