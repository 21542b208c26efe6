"""Random sweep: ``working-set`` against ``ipm`` on small sampled-pattern programs.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/sweep_solvers.py SEED COUNT

Each instance: ``n`` in [20, 300), ``d`` in [1, 15), ``P`` in [5, 120) Gaussian
patterns, ``beta = frac * beta_max`` with ``frac`` in {0.01, 0.05, 0.2, 0.5,
0.9}, Gaussian or rounded (tied) data, Gaussian or ``sin`` labels.  Both
solvers run at ``tol = 1e-8``; a line is flagged ``BAD`` when ``working-set``
is not certified optimal or the objectives differ by more than 1e-7
(relative).  Run on 2026-11-25 with seeds 1 (25 instances) and 2 (40):
``working-set`` certified on all 65; ``ipm`` ended ``inaccurate`` on two, both
at ``frac = 0.01`` (relative differences 2.7e-4 and 8.0e-5).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(seed: int, count: int) -> int:
    from bnconvex.numerics.core.certificate import dual_constraint_bound
    from bnconvex.numerics.core.whitening import whiten
    from bnconvex.numerics.exact import exact_program
    from bnconvex.numerics.fullscale import sample_patterns
    from bnconvex.numerics.solvers import solve_convex

    rng = np.random.default_rng(seed)
    bad = 0
    for trial in range(count):
        n = int(rng.integers(20, 300))
        d = int(rng.integers(1, min(15, n - 2)))
        P = int(rng.integers(5, 120))
        frac = float(rng.choice([0.01, 0.05, 0.2, 0.5, 0.9]))
        X = rng.standard_normal((n, d))
        if rng.random() < 0.3:
            X = np.round(X)  # ties: degenerate patterns
        if rng.random() < 0.5:
            y = rng.standard_normal(n)
        else:
            y = np.sin(X @ rng.standard_normal(d))
        wh = whiten(X)
        U = np.asarray(wh.U_prime)
        D, _ = sample_patterns(U, P, seed=trial)
        beta = frac * dual_constraint_bound(U, D, y)
        prob = exact_program(X, y, beta, patterns=D, whitening=wh).problem
        times, sols = [], []
        for solver in ("working-set", "ipm"):
            t = time.perf_counter()
            sols.append(solve_convex(prob, solver=solver, tol=1e-8, time_limit=120))
            times.append(time.perf_counter() - t)
        a, b = sols
        rel = abs(a.objective - b.objective) / abs(b.objective)
        flag = str(a.status) != "optimal" or rel > 1e-7
        bad += flag
        print(
            f"{trial:2d} n={n} d={d} P={D.shape[1]} frac={frac} "
            f"working-set={a.status} gap={a.relative_gap:.1e} ipm={b.status} "
            f"rel={rel:.1e} t={times[0]:.2f}/{times[1]:.2f} {'BAD' if flag else ''}",
            flush=True,
        )
    print("bad", bad)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
