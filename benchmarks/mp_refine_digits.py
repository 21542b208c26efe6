"""Benchmark: digits and run time of ``refine_solution`` + ``certify_mp``.

For each n in ``--sizes`` (d = 3, Gaussian data, seeds 0..``--seeds``-1,
beta = 0.2, exact pattern set, ``fit_exact``), a float solution
from each installed solver (``ipm``, ``cvxpy-clarabel``) is refined at
``--dps`` digits and certified; the table reports the number of kept blocks,
Newton iterations, certified digits ``-log10(gap/|p|)`` (capped at dps), the
relative gap itself and the wall times of refinement and certification.

Usage::

    python benchmarks/mp_refine_digits.py [--sizes 8 12] [--seeds 3] [--dps 50]
"""

from __future__ import annotations

import argparse
import time

import mpmath
import numpy as np
from bnconvex.numerics.exact import fit_exact
from bnconvex.numerics.highprec.mp_refine import certify_mp, refine_solution
from bnconvex.numerics.solvers import SOLVERS

BETA, D_FEATURES = 0.2, 3


def run(n: int, seed: int, solver: str, dps: int) -> str:
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, D_FEATURES)), rng.standard_normal(n)
    fit = fit_exact(X, y, BETA, arrangements="exact", solver=solver)
    D, U_prime = fit.D, fit.problem.U_prime
    t0 = time.perf_counter()
    refined = refine_solution(X, y, BETA, D, fit.solution, dps=dps, U_prime=U_prime)
    t1 = time.perf_counter()
    cert = certify_mp(X, y, BETA, D, refined, dps=dps, complete=True)
    t2 = time.perf_counter()
    rel = mpmath.nstr(cert.gap / abs(cert.primal), 3)
    return (
        f"| {n:3d} | {seed} | {D.shape[1]:4d} | {solver:14s} "
        f"| {len(refined.active):3d} | {refined.iterations:3d} "
        f"| {cert.digits:5.1f} | {rel:>9s} "
        f"| {t1 - t0:6.2f} | {t2 - t1:6.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 12])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dps", type=int, default=50)
    args = parser.parse_args()
    solvers = [name for name, mod in SOLVERS.items() if mod.is_installed()]
    print(
        "|   n | seed |    P | solver | blocks | Newton | digits | gap/|p| "
        "| refine s | certify s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for seed in range(args.seeds):
            for solver in solvers:
                print(run(n, seed, solver, args.dps), flush=True)


if __name__ == "__main__":
    main()
