"""Throughput of the solver's inner products against plain BLAS GEMMs (same shapes).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_inner_products.py \\
        --out benchmarks/results/inner_products.json

One solver gradient evaluation (``ChunkedOperator.gradient`` with cone
multipliers, as in every augmented-Lagrangian FISTA step) performs three
GEMM-sized products -- ``F @ S`` (n x m times m x 2KP), ``F^T (E o mu)``
(m x n times n x 2KP) and ``F^T (D o R)`` (m x n times n x KP) -- plus the
elementwise pattern/multiplier work, chunked over rows and patterns.  The
operator is built exactly as ``solve_fullscale`` builds it: the namespace of
``array_namespace(F)`` (array-api-compat's NumPy wrapper) and the default
``chunk_sizes``.  The baseline is the same three GEMMs on whole matrices in the
same process, written into preallocated outputs (``matmul(..., out=)``), so it
times BLAS alone; ``blas_alloc_seconds`` also records the plain ``F @ S``
form, which additionally pays for allocating and page-faulting its n x 2KP
result.  Solver and baseline are timed alternately, ``--repeats`` times each
after a warm-up (each timing repeats the call for >= 0.05 s), so load
changes on a shared machine hit both.  Reported:
GFLOP/s of both (GEMM flops only; the solver computes the same products, some
as ``W^T F`` or ``D^T (F o r)``, with the same flop count) and the ratio
``median(t_blas) / median(t_solver)`` (target >= 0.5).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
#: n x m x P x K: the peer-benchmark range (n 200-2,000, d 10-50, P 64-512),
#: two larger ones, and a CIFAR-10-like one (m = k + 1 = 257 > P = 32, K = 10)
SHAPES = (
    "500x11x64x1",
    "1000x11x256x1",
    "2000x21x256x1",
    "2000x51x512x1",
    "10000x51x256x1",
    "20000x101x64x10",
    "50000x257x32x10",
)


def _paired_times(fns, repeats: int, min_seconds: float = 0.05) -> list[list[float]]:
    """Seconds per call of each function, timed alternately ``repeats`` times.

    After one warm-up call each, every timing runs a function ``number`` times
    in a row (the same ``number`` for all, chosen so that the first function
    takes at least ``min_seconds``), so sub-millisecond shapes are not timed
    one call at a time.
    """
    for fn in fns:
        fn()
    t = time.perf_counter()
    fns[0]()
    number = max(1, math.ceil(min_seconds / max(time.perf_counter() - t, 1e-9)))
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times, strict=True):
            t = time.perf_counter()
            for _ in range(number):
                fn()
            ts.append((time.perf_counter() - t) / number)
    return times


def bench_shape(n: int, m: int, P: int, K: int, repeats: int) -> dict:
    """Time one gradient of the solver and the bare GEMMs for one shape."""
    from bnconvex.numerics._array_api import array_namespace
    from bnconvex.numerics.fullscale._ops import ChunkedOperator, chunk_sizes

    rng = np.random.default_rng(0)
    F = rng.standard_normal((n, m))
    Dm = (rng.random((n, P)) < 0.5).astype(np.float64)
    S = rng.standard_normal((m, 2, K, P))
    Y = rng.standard_normal((n, K))
    lam = np.abs(rng.standard_normal((n, 2, K, P)))
    xp = array_namespace(F, Y, Dm)  # as solve_fullscale does
    rc, pc = chunk_sizes(n, P, K, None, None)
    op = ChunkedOperator(F, Dm, xp, row_chunk=rc, pattern_chunk=pc)
    S2 = S.reshape(m, 2 * K * P)
    W = rng.standard_normal((n, 2 * K * P))
    W2 = rng.standard_normal((n, K * P))
    out = (np.empty((n, 2 * K * P)), np.empty((m, 2 * K * P)), np.empty((m, K * P)))

    def blas() -> None:
        np.matmul(F, S2, out=out[0])
        np.matmul(F.T, W, out=out[1])
        np.matmul(F.T, W2, out=out[2])

    def blas_alloc() -> None:
        F @ S2
        F.T @ W
        F.T @ W2

    load0 = os.getloadavg()[0]
    t_blas, t_ours, t_alloc = (
        statistics.median(ts)
        for ts in _paired_times(
            [blas, lambda: op.gradient(S, Y, lam, 1.0), blas_alloc], repeats
        )
    )
    flops = 2.0 * n * m * (2 * K * P) * 2 + 2.0 * n * m * K * P
    return {
        "n": n,
        "m": m,
        "P": P,
        "K": K,
        "row_chunk": rc,
        "pattern_chunk": pc,
        "repeats": repeats,
        "solver_seconds": t_ours,
        "blas_seconds": t_blas,
        "blas_alloc_seconds": t_alloc,
        "solver_gflops": flops / t_ours / 1e9,
        "blas_gflops": flops / t_blas / 1e9,
        "ratio_blas_over_solver": t_blas / t_ours,
        "loadavg_1min": [load0, os.getloadavg()[0]],
    }


def markdown_table(record: dict) -> str:
    """The README table of a results file."""
    lines = [
        "| n | m | P | K | chunk (rows x patterns) | solver ms | BLAS ms "
        "| solver GFLOP/s | BLAS GFLOP/s | BLAS time / solver time "
        "| same, BLAS allocating its outputs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in record["results"]:
        alloc = r.get("blas_alloc_seconds")
        alloc_ratio = "-" if alloc is None else f"{alloc / r['solver_seconds']:.2f}"
        lines.append(
            f"| {r['n']} | {r['m']} | {r['P']} | {r['K']} "
            f"| {r['row_chunk']} x {r['pattern_chunk']} "
            f"| {1e3 * r['solver_seconds']:.2f} | {1e3 * r['blas_seconds']:.2f} "
            f"| {r['solver_gflops']:.1f} | {r['blas_gflops']:.1f} "
            f"| {r['ratio_blas_over_solver']:.2f} "
            f"| {alloc_ratio} |"
        )
    return "\n".join(lines)


def _use_ops_file(path: str) -> None:
    """Make ``bnconvex.numerics.fullscale._ops`` the module in ``path``."""
    import importlib.util

    import bnconvex.numerics.fullscale  # noqa: F401  (parent package first)

    name = "bnconvex.numerics.fullscale._ops"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES), help="n x m x P x K")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=str(HERE / "results" / "inner_products.json"))
    ap.add_argument("--table", metavar="RESULTS", help="print the README table")
    ap.add_argument(
        "--ops-file",
        metavar="PY",
        help="time the operator of this file instead of the installed one, e.g. an "
        "earlier revision: git show REV:numerics/fullscale/_ops.py > old_ops.py",
    )
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.table).read_text())))
        return 0
    if args.ops_file:
        _use_ops_file(args.ops_file)
    sys.path.insert(0, str(HERE))
    from _machine import machine_facts
    from bnconvex.numerics.dataio.atomic import atomic_write_json

    record = {
        "benchmark": "bench_inner_products",
        "machine": machine_facts(),
        "ops_file": args.ops_file,
        "results": [],
    }
    for shape in args.shapes:
        n, m, P, K = (int(v) for v in shape.split("x"))
        res = bench_shape(n, m, P, K, args.repeats)
        record["results"].append(res)
        print(json.dumps(res), flush=True)
        atomic_write_json(args.out, record, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
