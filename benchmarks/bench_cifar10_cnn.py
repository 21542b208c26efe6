"""CIFAR-10 convex BN-CNN against the SGD-trained BN CNN of the same width (issue 13).

The kind of model of ``ardasahiner/layerCNN_convex`` (branch ``batch_norm``),
written anew with :mod:`bnconvex.numerics.extensions.cnn_fullscale`: all
50,000 training images (pixels / 255, per-channel standardised), patches
3x3x3 with kernel 3, stride 3, padding 2 (12 x 12 = 144 positions), average
pooling, one-hot squared loss, group-norm penalty per (pattern, class) block,
``P`` Gaussian gates on the raw patches.  Models, run one after the other in
this process, each with the same wall-time budget (feature construction
included for the convex ones; test-set scoring excluded for all):

* ``convex-trunc``: patch features whitened and truncated to the top ``k``
  directions (``--k``, default 20) plus the ones column;
* ``convex-full``: every direction (k = 27): the exact BN program's features,
  i.e. the same model without truncated whitening;
* ``sgd``: PyTorch CPU, conv 3x3 stride 3 pad 2 (no bias) -> BatchNorm2d ->
  ReLU -> average pool -> linear (no bias), width = the largest neuron count
  of the convex models run before it (``--sgd-width`` otherwise), squared
  loss plus ``lam/2 (gamma^2 + alpha^2 + |V|^2)`` (the std-BN form of the same
  penalty), minibatch SGD with momentum 0.9; BN statistics for the test
  evaluations re-estimated on 5,000 random training images (not timed).

The convex models solve the *gated relaxation* (cones dropped, see
:mod:`~bnconvex.numerics.extensions.cnn_fullscale`): their curves are the
gated network's test accuracy; at the end the BN-ReLU CNN read off the blocks
is scored too, with its cone violation (signs chosen on 1,000 training
images).

Usage::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_cifar10_cnn.py \
        --budget 480 --patterns 256 --lam-ratio 1e-3
    python benchmarks/bench_cifar10_cnn.py --subset 5000 --budget 60 --out /tmp/c.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "cifar10_cnn.json"
DEFAULT_DATA = "/work/shared/data/cifar10-jpeg.tar.gz"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "bnconvex-cifar10-raw.npz"
MODELS = ("convex-trunc", "convex-full", "sgd")
READING_IMAGES = 1000


def _images(X: np.ndarray, shape: list[int]) -> np.ndarray:
    """Flattened (H, W, C) rows -> contiguous (n, C, H, W) float32 images."""
    H, W, C = shape
    return np.ascontiguousarray(X.reshape(-1, H, W, C).transpose(0, 3, 1, 2))


def _accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def _geometry():
    from bnconvex.numerics.extensions.cnn import ConvGeometry

    return ConvGeometry(3, stride=3, padding=2, pooling="average")


def _lambda(Phi: np.ndarray, Y: np.ndarray, ratio: float) -> tuple[float, float]:
    """``(lam, lam_max)``, ``lam_max = max ||Phi_i^T y_c||`` (all blocks zero above)."""
    corr = Phi.reshape(Phi.shape[0], -1).T @ Y.astype(np.float32)
    norms = np.sqrt((corr.astype(np.float64).reshape(*Phi.shape[1:], -1) ** 2).sum(1))
    lam_max = float(norms.max())
    return ratio * lam_max, lam_max


def run_convex(data: Any, spec: dict[str, Any], k: int | None) -> dict[str, Any]:
    """Fit one convex model (``k`` directions, None = all) and score it."""
    from bnconvex.numerics.extensions import cnn_fullscale as cf

    geometry, t0 = _geometry(), time.perf_counter()
    train = _images(data.X_train, spec["image_shape"])
    wh = cf.patch_whitening(train, geometry, k=k)
    gates = cf.sample_gates(train.shape[1] * 9, spec["patterns"], seed=spec["seed"])
    Phi = cf.pooled_features(train, geometry, wh, gates)
    Y = data.one_hot().astype(np.float64)
    lam, lam_max = _lambda(Phi, Y, spec["lam_ratio"])
    feature_seconds = time.perf_counter() - t0
    log(f"  features {Phi.shape} in {feature_seconds:.1f} s, lam {lam:.4g}")
    t1 = time.perf_counter()
    test = _images(data.X_test, spec["image_shape"])
    Phi_te = cf.pooled_features(test, geometry, wh, gates).reshape(test.shape[0], -1)
    test_feature_seconds = time.perf_counter() - t1

    def score(U: np.ndarray) -> dict[str, float]:
        acc = _accuracy(Phi_te @ U.reshape(-1, U.shape[-1]), data.y_test)
        log(f"  test accuracy {acc:.4f}")
        return {"test_accuracy": acc}

    fit = cf.fit_gated_cnn(
        Phi,
        Y,
        lam,
        time_limit=spec["budget"] - feature_seconds,
        tol=spec["tol"],
        record_every=spec["record_every"],
        callback=score,
    )
    seconds = feature_seconds + fit.seconds
    curve = [{**h, "seconds": h["seconds"] + feature_seconds} for h in fit.history]
    train_scores = Phi.reshape(Phi.shape[0], -1) @ fit.blocks.reshape(-1, 10)
    del Phi
    t2 = time.perf_counter()
    sample = np.random.default_rng(spec["seed"]).choice(
        train.shape[0], min(READING_IMAGES, train.shape[0]), replace=False
    )
    on_train = cf.relu_reading(train[np.sort(sample)], geometry, wh, gates, fit.blocks)
    on_test = cf.relu_reading(
        test, geometry, wh, gates, fit.blocks, signs=on_train.signs
    )
    return {
        "model": "convex-trunc" if k is not None else "convex-full",
        "k": wh.k,
        "patch_rank": wh.rank,
        "P": spec["patterns"],
        "lam": lam,
        "lam_max": lam_max,
        "beta_a": lam / math.sqrt(wh.count),
        "neurons": fit.active_blocks,
        "status": fit.status.value,
        "iterations": fit.iterations,
        "seconds": seconds,
        "feature_seconds": feature_seconds,
        "test_feature_seconds": test_feature_seconds,
        "objective": fit.objective,
        "lower_bound": fit.lower_bound,
        "relative_gap": fit.relative_gap,
        "gap_note": "gated relaxation over the sampled patterns; not global",
        "test_accuracy": _accuracy(Phi_te @ fit.blocks.reshape(-1, 10), data.y_test),
        "train_accuracy": _accuracy(train_scores, data.y_train),
        "relu_network": {
            "test_accuracy": _accuracy(on_test.prediction, data.y_test),
            "gated_test_accuracy_check": _accuracy(
                on_test.gated_prediction, data.y_test
            ),
            "cone_violation_train_sample": on_train.violation,
            "pattern_disagreement_train_sample": on_train.disagreement,
            "cone_violation_test": on_test.violation,
            "pattern_disagreement_test": on_test.disagreement,
            "train_sample_images": int(sample.size),
            "seconds": time.perf_counter() - t2,
        },
        "curve": curve,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _torch_model(m: int):
    import torch
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, m, 3, stride=3, padding=2, bias=False),
        nn.BatchNorm2d(m),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(m, 10, bias=False),
    ).to(torch.float32)


def _refresh_bn(model: Any, images: Any, batch: int = 250) -> None:
    """Set BN's test statistics to those of ``images`` (mean of batch statistics).

    Batches of 250 images hold 36,000 positions each, so the mean of their
    variances is the pooled variance up to the spread of the batch means.
    Training uses minibatch statistics only, so this does not change it.
    """
    import torch

    bn = model[1]
    bn.reset_running_stats()
    bn.momentum = None  # cumulative average over the batches below
    with torch.no_grad():
        for a in range(0, len(images), batch):
            model(images[a : a + batch])
    bn.momentum = 0.1


def _torch_scores(model: Any, images: Any, batch: int = 250) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        out = [model(images[a : a + batch]) for a in range(0, len(images), batch)]
    model.train()
    return torch.cat(out).numpy()


def run_sgd(data: Any, spec: dict[str, Any], width: int, lam: float) -> dict[str, Any]:
    """Train the non-convex BN CNN by minibatch SGD for ``spec["budget"]`` seconds."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(spec["seed"])
    train = torch.from_numpy(_images(data.X_train, spec["image_shape"]))
    test = torch.from_numpy(_images(data.X_test, spec["image_shape"]))
    Y = torch.from_numpy(data.one_hot().astype(np.float32))
    n, model = train.shape[0], _torch_model(width)
    bn, lin = model[1], model[5]
    opt = torch.optim.SGD(model.parameters(), lr=spec["sgd_lr"], momentum=0.9)
    gen = torch.Generator().manual_seed(spec["seed"])
    stats_images = torch.randperm(n, generator=gen)[:5000].sort().values
    curve, excluded, epochs, steps = [], 0.0, 0, 0
    t0 = last = time.perf_counter()
    done = False
    while not done:
        for idx in torch.randperm(n, generator=gen).split(spec["batch_size"]):
            f = model(train[idx])
            decay = bn.weight.square().sum() + bn.bias.square().sum()
            decay = decay + lin.weight.square().sum()
            loss = 0.5 * (f - Y[idx]).square().sum(1).mean() + lam / (2 * n) * decay
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            now = time.perf_counter()
            diverged = not math.isfinite(loss.item())
            if now - t0 - excluded >= spec["budget"] or diverged:
                done = True
            if now - last >= spec["record_every"] or done:
                _refresh_bn(model, train[stats_images])
                acc = _accuracy(_torch_scores(model, test), data.y_test)
                curve.append(
                    {
                        "seconds": now - t0 - excluded,
                        "steps": steps,
                        "minibatch_loss": None if diverged else loss.item(),
                        "test_accuracy": acc,
                    }
                )
                log(f"  sgd {now - t0 - excluded:.0f} s, step {steps}: test {acc:.4f}")
                excluded += time.perf_counter() - now
                last = time.perf_counter()
            if done:
                break
        else:
            epochs += 1
    epochs_done = epochs + (steps * spec["batch_size"] % n) / n
    return {
        "model": "sgd",
        "width": width,
        "lam": lam,
        "lr": spec["sgd_lr"],
        "momentum": 0.9,
        "batch_size": spec["batch_size"],
        "epochs": round(epochs_done, 3),
        "steps": steps,
        "seconds": curve[-1]["seconds"],
        "status": "diverged" if diverged else "time_limit",
        "test_accuracy": curve[-1]["test_accuracy"],
        # 5,000 random training images (the files are sorted by class):
        # scoring all 50,000 at width ~2,500 takes minutes
        "train_accuracy": _accuracy(
            _torch_scores(model, train[stats_images]), data.y_train[stats_images]
        ),
        "train_accuracy_images": int(stats_images.numel()),
        "bn_statistics_at_test": "re-estimated on 5,000 random training images "
        "before each test evaluation (mean of 250-image batch statistics)",
        "curve": curve,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the runs of ``new``'s models replaced; both commands kept."""
    models = {r["model"] for r in new["runs"]}
    kept = [r for r in old["runs"] if r["model"] not in models]
    for r in new["runs"]:
        r["command"], r["machine"] = new["command"], new["machine"]
    return {
        **old,
        "commands": [old.get("command"), new["command"]],
        "runs": kept + new["runs"],
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--cache", default=str(DEFAULT_CACHE))
    p.add_argument("--subset", type=int, default=None, help="training images")
    p.add_argument("--budget", type=float, default=480.0, help="seconds per model")
    p.add_argument("--patterns", type=int, default=256, help="P gates")
    p.add_argument("--k", type=int, default=20, help="truncation of convex-trunc")
    p.add_argument("--lam-ratio", type=float, default=1e-3, help="lam / lam_max")
    p.add_argument("--tol", type=float, default=1e-4, help="relative gap to stop")
    p.add_argument("--record-every", type=float, default=20.0)
    p.add_argument("--sgd-lr", type=float, default=0.05)
    p.add_argument("--sgd-width", type=int, default=None)
    p.add_argument("--sgd-lam", type=float, default=None, help="lam for SGD alone")
    p.add_argument(
        "--merge",
        action="store_true",
        help="replace these models' runs in an existing --out file, keep the rest",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--out", default=str(RESULTS))
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sys.path.insert(0, str(HERE))
    from _machine import machine_facts
    from bnconvex.numerics.dataio.atomic import atomic_write_json
    from bnconvex.numerics.dataio.datasets import load_classification
    from bnconvex.numerics.errors import InputError

    facts = machine_facts()
    try:
        data = load_classification(
            args.data,
            subset=args.subset,
            seed=args.seed,
            dtype="float32",
            cache=args.cache,
        )
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    spec = {
        "image_shape": data.preprocessing["image_shape"],
        **{
            key: getattr(args, key)
            for key in (
                "budget",
                "patterns",
                "lam_ratio",
                "tol",
                "record_every",
                "sgd_lr",
                "batch_size",
                "seed",
                "subset",
            )
        },
    }
    runs: list[dict[str, Any]] = []
    for model in args.models:
        log(f"{model}: start")
        if model == "sgd":
            convex = [r for r in runs if r["model"].startswith("convex")]
            width = args.sgd_width or max((r["neurons"] for r in convex), default=0)
            lam = convex[0]["lam"] if convex else args.sgd_lam
            if not width or lam is None:
                print(
                    "error: `--models sgd` needs a convex model first (width, "
                    "lam) or --sgd-width",
                    file=sys.stderr,
                )
                return 2
            runs.append(run_sgd(data, spec, width, lam))
        else:
            runs.append(
                run_convex(data, spec, args.k if model == "convex-trunc" else None)
            )
        log(f"{model}: test accuracy {runs[-1]['test_accuracy']:.4f}")
    record = {
        "benchmark": "bench_cifar10_cnn.py (issue 13)",
        "command": "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python "
        + shlex.join(["benchmarks/bench_cifar10_cnn.py", *sys.argv[1:]]),
        "machine": facts,
        "git_revision": facts["git_revision"],
        "cpu_threads": {
            k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        },
        "settings": {
            **spec,
            "data": args.data,
            "n_train": int(data.X_train.shape[0]),
            "n_test": int(data.X_test.shape[0]),
            "preprocessing": "pixel/255, per-channel standardised (training stats)",
            "geometry": "kernel 3, stride 3, padding 2, average pooling, K = 144",
            "loss": "squared, one-hot, sum over images",
            "gates": "Gaussian N(0, I_27) on raw patches, no bias",
            "k_trunc": args.k,
        },
        "runs": runs,
    }
    if args.merge and Path(args.out).is_file():
        record = _merged(json.loads(Path(args.out).read_text()), record)
    atomic_write_json(args.out, record, indent=1)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
