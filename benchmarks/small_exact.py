"""Benchmark: our ``ipm`` solver against CVXPY + Clarabel on small exact programs.

For n in {8, 10, 12, 14}, d = 3, Gaussian data (seed = n), beta = 0.1 and the
exact pattern set, each solver runs ``--repeats`` times; the table reports the
median wall time, the ratio, the certified relative gap of each returned point
(our dual certificate, the same for both) and the relative difference of the
two objectives.  Clarabel runs with ``tol`` = 1e-8 (its default accuracy), ours
with 1e-9.

Usage::

    python benchmarks/small_exact.py [--repeats 3] [--sizes 8 10 12 14]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from bnconvex.numerics.core.convex_program import ConvexProblem
from bnconvex.numerics.exact import exact_program
from bnconvex.numerics.solvers import SOLVERS, solve_convex

BETA, D_FEATURES = 0.1, 3
TOLS = {"ipm": 1e-9, "cvxpy-clarabel": 1e-8}


def make_problem(n: int) -> ConvexProblem:
    """Seeded Gaussian instance with every pattern of its whitened data."""
    rng = np.random.default_rng(n)
    X, y = rng.standard_normal((n, D_FEATURES)), rng.standard_normal(n)
    return exact_program(X, y, BETA, arrangements="exact").problem


def timed(problem: ConvexProblem, solver: str, repeats: int):
    """Median wall time over ``repeats`` solves and the last solution.

    Only the solve is timed (the program is built once by ``exact_program``).
    """
    times, sol = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        sol = solve_convex(problem, solver=solver, tol=TOLS[solver])
        times.append(time.perf_counter() - start)
    return statistics.median(times), sol


def row(n: int, repeats: int) -> str:
    """One markdown table row for size ``n``."""
    prob = make_problem(n)
    t_ours, ours = timed(prob, "ipm", repeats)
    if not SOLVERS["cvxpy-clarabel"].is_installed():
        na = " n/a |" * 2
        return f"| {n} | {prob.P} | {t_ours:.3f} |{na} {ours.relative_gap:.1e} |{na}"
    t_ref, ref = timed(prob, "cvxpy-clarabel", repeats)
    diff = abs(ours.objective - ref.objective) / abs(ref.objective)
    return (
        f"| {n} | {prob.P} | {t_ours:.3f} | {t_ref:.3f} | {t_ours / t_ref:.2f} "
        f"| {ours.relative_gap:.1e} | {ref.relative_gap:.1e} | {diff:.1e} |"
    )


def main(argv: list[str] | None = None) -> None:
    """Print the markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 10, 12, 14])
    args = parser.parse_args(argv)
    print(
        f"d={D_FEATURES}, beta={BETA} (convention A), exact patterns, "
        f"median of {args.repeats} runs; gaps certified by numerics.certificate\n"
    )
    print(
        "| n | P | ipm s | clarabel s | ratio | ipm rel. gap "
        "| clarabel rel. gap | rel. obj. diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        print(row(n, args.repeats), flush=True)


if __name__ == "__main__":
    main()
