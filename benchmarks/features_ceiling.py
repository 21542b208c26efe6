"""A BN network trained on the preset's features: the convex fit's reference.

The certified convex optimum on the features ``[U_k (Sigma_k/sigma_1)^p,
1/sqrt(n)]`` is a two-layer BN-ReLU network *on those features*; this script
trains that network's non-convex form directly (width 2,560, the SGD
baseline's, :func:`bnconvex.numerics.baselines.sgd.train_sgd` with Adam,
squared loss, ``beta_std`` 1e-4, batch 256) and records its validation
accuracy after each ``--record-every`` epochs.  The best of those numbers is
an optimistic reference (early stopping chosen on the scored split itself)
for what any model on ``k`` directions can be expected to reach.

Validation split as in ``bench_fullscale_gap.py --validation 5000`` (seed 0:
45,000 images fitted, 5,000 held-out training images scored; the test set is
not used).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/features_ceiling.py --ks 20 32 64 \\
        --epochs 40 --out benchmarks/results/features_ceiling_cifar10.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from bnconvex.numerics.baselines.sgd import accuracy, predict, train_sgd
from bnconvex.numerics.dataio.datasets import load_classification
from bnconvex.numerics.fullscale import spectral_features, whiten_randomized

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_facts
from bench_fullscale_gap import _split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--ks", type=int, nargs="+", default=[20, 32, 64])
    ap.add_argument("--power", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--record-every", type=float, default=5.0)
    ap.add_argument("--width", type=int, default=2560)
    ap.add_argument("--validation", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    facts = machine_facts()
    data = load_classification(args.dataset, seed=args.seed, dtype="float32")
    X, y, X_eval, y_eval = _split(data, args.validation, args.seed)
    Y = np.eye(int(y.max()) + 1, dtype=np.float32)[y]
    runs = []
    for k in args.ks:
        fac = whiten_randomized(X, k, seed=args.seed)
        fmap = spectral_features(fac, args.power, k=k)
        F = np.asarray(fmap.transform(X, dtype=np.float32))
        F_eval = np.asarray(fmap.transform(X_eval, dtype=np.float32))
        t0 = time.perf_counter()
        res = train_sgd(
            F,
            Y,
            1e-4,
            args.width,
            seed=args.seed,
            convention="std",
            optimizer="adam",
            lr=1e-3,
            epochs=args.epochs,
            batch_size=256,
            X_test=F_eval,
            y_test=y_eval,
            record_every=args.record_every,
        )
        curve = [float(a) for a in res.history["test_accuracy"]]
        final = accuracy(predict(res.net, res.statistics, F_eval), y_eval)
        train = accuracy(predict(res.net, res.statistics, F[:10000]), y[:10000])
        runs.append(
            {
                "k": k,
                "epochs": [float(e) for e in res.history["epoch"]],
                "validation_accuracy": curve,
                "best_validation_accuracy": max(curve),
                "final_validation_accuracy_full_batch_stats": final,
                "train_accuracy_first_10000": train,
                "seconds": time.perf_counter() - t0,
            }
        )
        print(json.dumps(runs[-1]), flush=True)
    out = {
        "benchmark": "features_ceiling",
        "machine": facts,
        "dataset": args.dataset,
        "power": args.power,
        "width": args.width,
        "validation": args.validation,
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(out, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
