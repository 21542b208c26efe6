"""Throughput of the solver's inner products against plain BLAS GEMMs (same shapes).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_inner_products.py \\
        --out benchmarks/results/inner_products.json

One solver gradient evaluation (``ChunkedOperator.gradient`` with cone
multipliers, as in every augmented-Lagrangian FISTA step) performs three GEMMs
-- ``F @ S`` (n x m times m x 2KP), ``F^T (E o mu)`` (m x n times n x 2KP) and
``F^T (D o R)`` (m x n times n x KP) -- plus the elementwise pattern/multiplier
work, chunked over rows and patterns.  The baseline is the same three GEMMs on
whole, preallocated matrices in the same process (no elementwise work, no
chunking).  Reported: GFLOP/s of both (GEMM flops only) and the ratio
``t_blas / t_solver`` (target >= 0.5).  Medians of ``--repeats`` timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHAPES = ("2000x21x256x1", "10000x51x256x1", "20000x101x64x10")


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_shape(n: int, m: int, P: int, K: int, repeats: int) -> dict:
    """Time one gradient of the solver and the bare GEMMs for one shape."""
    from bnconvex.numerics.fullscale._ops import ChunkedOperator, chunk_sizes

    rng = np.random.default_rng(0)
    F = rng.standard_normal((n, m))
    Dm = (rng.random((n, P)) < 0.5).astype(np.float64)
    S = rng.standard_normal((m, 2, K, P))
    Y = rng.standard_normal((n, K))
    lam = np.abs(rng.standard_normal((n, 2, K, P)))
    rc, pc = chunk_sizes(n, P, K, None, None)
    op = ChunkedOperator(F, Dm, np, row_chunk=rc, pattern_chunk=pc)
    t_ours = _median_time(lambda: op.gradient(S, Y, lam, 1.0), repeats)
    S2 = S.reshape(m, 2 * K * P)
    W = rng.standard_normal((n, 2 * K * P))
    W2 = rng.standard_normal((n, K * P))

    def blas() -> None:
        F @ S2
        F.T @ W
        F.T @ W2

    t_blas = _median_time(blas, repeats)
    flops = 2.0 * n * m * (2 * K * P) * 2 + 2.0 * n * m * K * P
    return {
        "n": n,
        "m": m,
        "P": P,
        "K": K,
        "row_chunk": rc,
        "pattern_chunk": pc,
        "solver_seconds": t_ours,
        "blas_seconds": t_blas,
        "solver_gflops": flops / t_ours / 1e9,
        "blas_gflops": flops / t_blas / 1e9,
        "ratio_blas_over_solver": t_blas / t_ours,
    }


def markdown_table(record: dict) -> str:
    """The README table of a results file."""
    lines = [
        "| n | m | P | K | solver GFLOP/s | BLAS GFLOP/s | BLAS time / solver time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in record["results"]:
        lines.append(
            f"| {r['n']} | {r['m']} | {r['P']} | {r['K']} | {r['solver_gflops']:.2f} "
            f"| {r['blas_gflops']:.2f} | {r['ratio_blas_over_solver']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES), help="n x m x P x K")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(HERE / "results" / "inner_products.json"))
    ap.add_argument("--table", metavar="RESULTS", help="print the README table")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.table).read_text())))
        return 0
    sys.path.insert(0, str(HERE))
    from _machine import machine_facts

    record = {
        "benchmark": "bench_inner_products",
        "machine": machine_facts(),
        "results": [],
    }
    for shape in args.shapes:
        n, m, P, K = (int(v) for v in shape.split("x"))
        res = bench_shape(n, m, P, K, args.repeats)
        record["results"].append(res)
        print(json.dumps(res), flush=True)
        Path(args.out).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
