"""Certified gap and test accuracy against time of the full-scale solver.

Fits the convex BN model with the ``bnconvex train`` preset (truncated:256 +
spectral:0.5 features, 128 sampled patterns, float32, dual step 0.03 above
4,096 samples) and records, every ``--every`` seconds of solver steps and at
every certificate check: wall time since the start of the fit (whitening
included), iterations, objective and cone violation at the iterate, the best
certified lower bound so far (the dual bound of every FISTA step from the
augmented-Lagrangian multipliers with the optimally scaled residual,
``numerics/fullscale/_problem.py``), the relative gap and the test accuracy of
the iterate.  The objective of an iterate with a cone violation above the
solver's tolerance is not a certified upper bound: ``gap_certified`` says
which records are certificates.  Scoring the test set counts towards the
budget.

Example::

    python benchmarks/bench_fullscale_gap.py --dataset fashion-mnist \\
        --beta 0.01 --budget 600 --out benchmarks/results/fullscale_gap_fmnist.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from bnconvex.numerics.dataio.datasets import load_classification
from bnconvex.numerics.fullscale import (
    fit,
    spectral_features,
    whiten_large,
    whiten_randomized,
)
from bnconvex.numerics.fullscale.model import FullScaleModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--subset", type=int, default=None)
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--budget", type=float, default=300.0)
    ap.add_argument("--every", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--k", type=int, default=256, help="truncated:k (default 256)")
    ap.add_argument("--power", type=float, default=0.5, help="spectral:p")
    ap.add_argument("--patterns", type=int, default=128)
    ap.add_argument(
        "--sampling",
        default="gaussian",
        choices=("gaussian", "network"),
        help="pattern sampling (fit's sampling)",
    )
    ap.add_argument("--method", default="auto", choices=("auto", "al", "working-set"))
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument(
        "--workers", type=int, default=1, help="working-set: classes at once"
    )
    ap.add_argument(
        "--validation",
        type=int,
        default=0,
        help="hold out this many training images (seeded) and score them "
        "instead of the test set (for choosing settings)",
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    load_avg_start = os.getloadavg()
    facts = machine_facts()  # at the start: the git revision of the code that runs
    t_load = time.perf_counter()
    data = load_classification(
        args.dataset, subset=args.subset, seed=args.seed, dtype="float32"
    )
    load_seconds = time.perf_counter() - t_load
    X_train, y_train, X_eval, y_eval = _split(data, args.validation, args.seed)
    n, d = X_train.shape
    k = args.k if args.k < min(n - 1, d) else None
    records: list[dict] = []
    state: dict = {}
    t0 = math.nan

    def record(p) -> None:
        sol = state["sol_like"]
        sol.S_plus, sol.S_minus = p.S_plus, p.S_minus
        scores = state["model"].predict_features(state["phi_test"])
        acc = float(np.mean(np.argmax(scores, axis=1) == y_eval))
        obj, lb, viol = p.objective, p.lower_bound, p.violation
        rel = (obj - lb) / abs(obj) if obj and lb is not None else None
        certified = viol is not None and viol <= 1e-6
        records.append(
            {
                "seconds": time.perf_counter() - t0,
                "kind": p.kind,
                "iterations": p.iterations,
                "objective": obj,
                "lower_bound": lb,
                "relative_gap": rel,
                "violation": viol,
                "gap_certified": certified,
                "test_accuracy": acc,
            }
        )
        print(json.dumps(records[-1]), file=sys.stderr, flush=True)

    Y = np.eye(int(data.y_train.max()) + 1, dtype=np.float32)[y_train]
    # same features as fit's (deterministic: same seed and method), computed
    # once here so that the callback can score the test set
    fac = (
        whiten_randomized(X_train, k, seed=args.seed)
        if k is not None and 8 * (k + 32) < d
        else whiten_large(X_train)
    )
    fmap = spectral_features(fac, args.power, k=k)
    state["phi_test"] = fmap.transform(X_eval, dtype=np.float32)

    class _Sol:
        gated = False

    state["sol_like"] = _Sol()
    state["model"] = FullScaleModel(fmap, None, state["sol_like"], args.beta)
    t0 = time.perf_counter()
    classwise = args.method == "working-set"
    model = fit(
        X_train,
        Y,
        args.beta,
        patterns=args.patterns,
        sampling=args.sampling,
        seed=args.seed,
        k=k,
        power=args.power,
        dtype="float32",
        method=args.method,
        tol=args.tol,
        **({"workers": args.workers} if args.workers != 1 else {}),
        dual_step=0.03 if n > 4096 and not classwise else 1.0,
        time_limit=args.budget,
        max_iter=10**7,
        callback=record,
        callback_every=args.every,
    )
    sol = model.solution
    final_acc = float(np.mean(np.argmax(model.predict(X_eval), axis=1) == y_eval))
    out = {
        "benchmark": "bench_fullscale_gap",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": facts,
        "load_average_at_start": load_avg_start,
        "load_average_at_end": os.getloadavg(),
        "argv": sys.argv,
        "dataset": args.dataset,
        "n": n,
        "d": d,
        "k": k,
        "power": args.power,
        "patterns": args.patterns,
        "sampling": args.sampling,
        # fit starts the working-set classes from the pattern network's
        # signed neurons (where beta leaves many blocks active; session 11)
        "working_set_start": (
            "network" if args.sampling == "network" and classwise else None
        ),
        "method": args.method,
        "tol": args.tol,
        "workers": args.workers,
        "scored_on": "validation" if args.validation else "test",
        "beta_a": args.beta,
        "load_seconds": load_seconds,
        "records": records,
        "final": {
            "seconds": time.perf_counter() - t0,
            "status": str(sol.status),
            "iterations": sol.iterations,
            "objective": sol.objective,
            "lower_bound": sol.lower_bound,
            "relative_gap": sol.relative_gap,
            "max_violation": sol.max_violation,
            "gap_certified": bool(sol.gap_certified),
            "beta_max": sol.beta_max,
            "test_accuracy": final_acc,
            "neurons": sol.neurons,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        },
    }
    Path(args.out).write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(json.dumps(out["final"]))


def _split(data, validation: int, seed: int):
    """Training data and the scored set: the test set, or a seeded hold-out."""
    if not validation:
        return data.X_train, data.y_train, data.X_test, data.y_test
    perm = np.random.default_rng(seed).permutation(data.X_train.shape[0])
    held, kept = perm[:validation], perm[validation:]
    return (
        data.X_train[kept],
        data.y_train[kept],
        data.X_train[held],
        data.y_train[held],
    )


if __name__ == "__main__":
    main()
