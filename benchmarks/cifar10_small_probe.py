"""Quick probe: rank CIFAR-10 model variants on a small validation split.

Fits on ``--subset`` training images minus ``--val`` held out (the seeded split
of ``bench_cifar10.validation_split``) and scores the held-out images only (the
test set is never loaded for scoring).  Used to decide which variants deserve a
full 20-minute run (number of patterns P, truncation k, beta, the gated
relaxation) and for the SGD width comparison; one JSON line per run is
appended to ``--log``.  ``best`` is the peak of the validation curve, ``final``
its last point.  Run with ``OPENBLAS_NUM_THREADS=1``, e.g.::

    python benchmarks/cifar10_small_probe.py --beta 0.03 --P 128 --budget 90
    python benchmarks/cifar10_small_probe.py --sgd 640 --budget 90
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from bench_cifar10 import (
    _accuracy,
    _load,
    _run_sgd,
    _snapshot_solution,
    _Snapshots,
)
from bnconvex.numerics.fullscale.model import FullScaleModel
from bnconvex.numerics.fullscale.patterns import sample_patterns
from bnconvex.numerics.fullscale.regularizers import spectral_features
from bnconvex.numerics.fullscale.solver import solve_fullscale
from bnconvex.numerics.fullscale.whitening import whiten_large

ap = argparse.ArgumentParser()
ap.add_argument("--subset", type=int, default=15000)
ap.add_argument("--val", type=int, default=5000)
ap.add_argument("--k", type=int, default=256)
ap.add_argument("--p", type=float, default=0.5)
ap.add_argument("--beta", type=float, default=0.003)
ap.add_argument("--P", type=int, default=32)
ap.add_argument("--budget", type=float, default=90)
ap.add_argument("--gated", action="store_true")
ap.add_argument("--warm", type=float, default=0, help="seconds of gated solve first")
ap.add_argument("--sgd", type=int, default=0, help="SGD width (runs SGD instead)")
ap.add_argument("--lr", type=float, default=0.005)
ap.add_argument("--tag", default="")
ap.add_argument(
    "--data",
    default=str(
        Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg.tar.gz"
    ),
)
ap.add_argument("--cache", default="/tmp/bnconvex-cifar10-raw.npz")
ap.add_argument(
    "--log",
    default=str(Path(__file__).resolve().parent / "results/cifar10_small_probe.jsonl"),
)
a = ap.parse_args()

# bench_cifar10's loader: the held-out split stands in for the test set
data = _load(
    {
        "dataset": a.data,
        "subset": a.subset,
        "seed": 0,
        "dtype": "float32",
        "cache": a.cache,
        "validation": a.val,
    }
)
Xtr, ytr, Xv, yv = data.X_train, data.y_train, data.X_test, data.y_test
Y = data.one_hot()
out = {"args": vars(a)}
if a.sgd:
    run = _run_sgd(
        data,
        {
            "beta_a": 1e-3,
            "width": a.sgd,
            "seed": 0,
            "sgd_lr": a.lr,
            "batch_size": 128,
            "budget": a.budget,
            "record_every": 0.5,
        },
    )
    acc = np.asarray(run["curve"]["test_accuracy"])
    t = np.asarray(run["curve"]["seconds"])
    out.update(
        best=float(acc.max()), t_best=float(t[acc.argmax()]), final=float(acc[-1])
    )
else:
    t0 = time.perf_counter()
    fac = whiten_large(Xtr)
    fmap = spectral_features(fac, a.p, k=a.k)
    F = fmap.transform(Xtr, dtype=np.float32)
    D, gates = sample_patterns(F, a.P, seed=0)
    snaps = _Snapshots()
    left = a.budget - (time.perf_counter() - t0)
    init = None
    if a.warm:
        init = solve_fullscale(
            F, Y, a.beta, D, gated=True, time_limit=a.warm, verbose=False
        )
        left -= init.seconds
    sol = solve_fullscale(
        F,
        Y,
        a.beta,
        D,
        gated=a.gated,
        time_limit=left,
        verbose=False,
        init=init,
        callback=snaps,
        callback_every=10,
    )
    phi = fmap.transform(Xv, dtype=F.dtype)
    accs = []
    for t, _, Sp, Sm in [*snaps.points, (sol.seconds, 0, sol.S_plus, sol.S_minus)]:
        m = FullScaleModel(fmap, gates, _snapshot_solution(Sp, Sm, a.gated), a.beta)
        accs.append((round(t), _accuracy(m.predict_features(phi), yv)))
    mfin = FullScaleModel(fmap, gates, sol, a.beta)
    out.update(
        curve=accs,
        final=accs[-1][1],
        best=max(x[1] for x in accs),
        train=_accuracy(mfin.predict_features(F), ytr),
        status=str(sol.status),
        viol=float(sol.max_violation),
        gap=float(sol.relative_gap),
        iters=sol.iterations,
    )
print(json.dumps(out))
with open(a.log, "a") as f:
    f.write(json.dumps(out) + "\n")
