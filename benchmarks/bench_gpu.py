"""CIFAR-10 fit on a CUDA device (CuPy) against the same fit on the CPU.

Runs the user's command ``bnconvex train --dataset cifar10 --beta B
--time-limit T`` (the default preset otherwise) once per backend, each in a
fresh process, and records what it reports (status, iterations, objective,
bound, relative gap, ``gap_certified``, cone violation, train/test accuracy,
solver seconds) with the process's wall time and the device (``nvidia-smi``'s
name, memory and driver, when present).  Both backends run in the same call
on the same machine, so their ratio compares like with like.

Example (on a machine with a GPU and ``pip install -e '.[gpu]'``)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_gpu.py --time-limit 300 \\
        --out benchmarks/results/gpu_cifar10.json

Exit 2 with one line when ``cupy`` is asked for and CuPy or a CUDA device is
missing (nothing written).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_facts

#: what each run keeps from ``summary.json``
FIELDS = (
    "status",
    "iterations",
    "objective",
    "lower_bound",
    "relative_gap",
    "gap_certified",
    "max_violation",
    "train_accuracy",
    "test_accuracy",
    "solve_seconds",
    "seconds",
    "solver",
    "backend",
    "dtype",
    "regularizer",
    "patterns",
)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if "cupy" in args.backends and not _cuda_available():
        print(
            "bench_gpu: --backends cupy needs CuPy and a CUDA device; none found",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)
    if not out.parent.is_dir():
        print(f"bench_gpu: --out folder {out.parent} does not exist", file=sys.stderr)
        return 2
    runs = [_run(backend, args) for backend in args.backends]
    record = {
        "benchmark": "bench_gpu",
        **machine_facts(),
        "device": _device(),
        "dataset": args.dataset,
        "beta": args.beta,
        "time_limit": args.time_limit,
        "runs": runs,
    }
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str) + "\n")
    tmp.replace(out)
    for run in runs:
        print(
            json.dumps(
                {k: run.get(k) for k in ("backend", "wall_seconds", *FIELDS[:8])}
            )
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--beta", default="1e-3")
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--backends", nargs="+", default=["cupy", "numpy"])
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--out", required=True)
    return ap


def _cuda_available() -> bool:
    try:
        import cupy
    except ImportError:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CUDA runtime errors: no usable device
        return False


def _device() -> dict | None:
    """``nvidia-smi``'s name, memory and driver of GPU 0 (None without one)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    query = "--query-gpu=name,memory.total,driver_version"
    res = subprocess.run(
        [smi, query, "--format=csv,noheader"], capture_output=True, text=True
    )
    if res.returncode != 0 or not res.stdout.strip():
        return None
    name, memory, driver = (
        part.strip() for part in res.stdout.splitlines()[0].split(",")
    )
    return {"name": name, "memory": memory, "driver": driver}


def _run(backend: str, args: argparse.Namespace) -> dict:
    """One ``bnconvex train`` process; its summary plus wall time and exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "run"
        cmd = [
            sys.executable,
            "-m",
            "bnconvex.app",
            "train",
            "--dataset",
            args.dataset,
            "--beta",
            args.beta,
            "--time-limit",
            repr(args.time_limit),
            "--backend",
            backend,
            "--quiet",
            "--out",
            str(folder),
        ]
        if args.subset:
            cmd += ["--subset", str(args.subset)]
        start = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        wall = time.perf_counter() - start
        summary_path = folder / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return {
        "backend": backend,
        "command": cmd[2:],
        "exit_code": res.returncode,
        "stderr_tail": res.stderr[-2000:],
        "wall_seconds": wall,
        **{k: summary.get(k) for k in FIELDS},
    }


if __name__ == "__main__":
    sys.exit(main())
