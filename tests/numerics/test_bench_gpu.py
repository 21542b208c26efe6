"""``benchmarks/bench_gpu.py``: refusal without CUDA, a CPU run's record."""

import importlib.util
import json
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"
_spec = importlib.util.spec_from_file_location("bench_gpu", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_cupy_without_a_cuda_device_exits_2_and_writes_nothing(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(bench, "_cuda_available", lambda: False)
    out = tmp_path / "gpu.json"
    assert bench.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "needs CuPy and a CUDA device" in err
    assert not out.exists()


@pytest.mark.slow
def test_numpy_run_records_the_train_summary(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    argv = ["--dataset", "synthetic", "--subset", "300", "--beta", "0.1"]
    argv += ["--backends", "numpy", "--time-limit", "60", "--out", str(out)]
    assert bench.main(argv) == 0
    capsys.readouterr()
    run = json.loads(out.read_text())["runs"][0]
    assert run["exit_code"] == 0, run["stderr_tail"]
    assert run["backend"] == "numpy"
    assert 0.0 <= run["test_accuracy"] <= 1.0
    assert run["status"] in ("optimal", "time_limit", "max_iterations")
    assert run["wall_seconds"] < 66.0
