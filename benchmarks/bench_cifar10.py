"""CIFAR-10 benchmark: convex BN models against the SGD-trained BN network.

Issue 4, item 6c.  All 50,000 training images, 10 classes, test on the 10,000
test images; features = pixels / 255, per-channel standardised with training
statistics, flattened (d = 3072); squared loss on one-hot labels, BN convention
A with ``beta_a`` (the SGD network uses the *same objective* written in the std
convention, ``beta_std = sqrt(n) * beta_a``, which is better conditioned for
SGD).  Models, each in its own process (so that peak memory is per model) and
each with the same wall-time budget:

* ``convex``: the exact convex program (paper.md R1) over ``P`` sampled
  patterns, features ``U' = [U, 1/sqrt(n)]``;
* ``convex-regularised`` (every k in ``--ks``, p in ``--powers``, beta in
  ``--betas``): the explicit regulariser ``[U_k (Sigma_k/sigma_1)^p, 1/sqrt(n)]``
  (paper.md §4; :mod:`bnconvex.numerics.fullscale.regularizers`);
* ``nonconvex-sgd``: the two-layer BN network of the same width trained by
  minibatch SGD with momentum (minibatch BN statistics in training, full-batch
  training statistics at test; :mod:`bnconvex.numerics.baselines.sgd`).

Each run records test accuracy against wall time (convex: copies of the
iterate taken by the solver's progress callback every ``--curve-every``
seconds and at each certificate check, scored after the timed solve, plus the
final point; SGD: every ``--record-every`` epochs, with
running-average statistics), final train/test accuracy, objective and
certified gap (convex), peak resident memory (``ru_maxrss``) and the peak of
traced allocations during training (``tracemalloc``).  Results go to
``benchmarks/results/cifar10.json`` (machine facts, versions, date, seeds,
settings) and the rows of the CIFAR-10 section of ``benchmarks/README.md``.

Hyper-parameters are chosen by ``--validation N`` runs: ``N`` seeded held-out
training images replace the test set (which is not scored) and the best
regularised candidate is recorded as ``chosen``; ``--selection`` embeds such
runs in the final results and README.

Usage::

    python benchmarks/bench_cifar10.py --validation 5000 --budget 300 --ks 256 \
        --powers 0.5,1 --betas 0.01,0.1 --only convex-regularised \
        --out benchmarks/results/selection_cifar10.json
    python benchmarks/bench_cifar10.py --budget 1200 --ks 256 --powers 0.5 \
        --betas 0.003 --selection benchmarks/results/selection_cifar10.json \
        --only convex-regularised nonconvex-sgd convex --update-readme
    python benchmarks/bench_cifar10.py --subset 2000 --budget 20 --out /tmp/c.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
RESULTS = HERE / "results" / "cifar10.json"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "bnconvex-cifar10-raw.npz"
SECTION_START = "<!-- bench_cifar10: start (written by bench_cifar10.py) -->"
SECTION_END = "<!-- bench_cifar10: end -->"
SEEDS_START = (
    "<!-- bench_cifar10 seeds: start (written by bench_cifar10.py --seeds) -->"
)
SEEDS_END = "<!-- bench_cifar10 seeds: end -->"


# --------------------------------------------------------------------------
# worker side: one model in one process
# --------------------------------------------------------------------------
def _load(spec: dict[str, Any]) -> Any:
    """The data; with ``spec["validation"]`` a held-out split is the test set."""
    import dataclasses

    from bnconvex.numerics.dataio.datasets import load_classification

    data = load_classification(
        spec["dataset"],
        subset=spec["subset"],
        seed=spec["seed"],
        dtype=spec["dtype"],
        cache=spec["cache"],
    )
    if not spec.get("validation"):
        return data
    fit, held = validation_split(data.y_train.size, spec["validation"], spec["seed"])
    return dataclasses.replace(
        data,
        X_train=data.X_train[fit],
        y_train=data.y_train[fit],
        X_test=data.X_train[held],
        y_test=data.y_train[held],
    )


def validation_split(n: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, held_out)`` of a seeded split of ``n`` training images.

    The held-out ``n_val`` images replace the test set in a selection run, so
    hyper-parameters are chosen without looking at the test images.
    """
    if not 0 < n_val < n:
        raise SystemExit(f"--validation must be in (0, {n}); got {n_val}")
    perm = np.random.default_rng(seed + 7919).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _accuracy(scores: Any, labels: np.ndarray) -> float:
    from bnconvex.numerics._array_api import to_numpy

    return float(np.mean(np.argmax(to_numpy(scores), axis=1) == labels))


def _run_sgd(data: Any, spec: dict[str, Any]) -> dict[str, Any]:
    from bnconvex.numerics.baselines import sgd

    n = data.X_train.shape[0]
    Y = data.one_hot()
    res = sgd.train_sgd(
        data.X_train,
        Y,
        spec["beta_a"] * math.sqrt(n),
        spec["width"],
        seed=spec["seed"],
        convention="std",
        optimizer="sgd",
        lr=spec["sgd_lr"],
        momentum=0.9,
        batch_size=spec["batch_size"],
        epochs=10_000,
        time_limit=spec["budget"],
        loss="squared",
        eps=1e-5,
        X_test=data.X_test,
        y_test=data.y_test,
        record_every=spec["record_every"],
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    predict = lambda X: sgd.predict(res.net, res.statistics, X)  # noqa: E731
    h = res.history
    return {
        "train_accuracy": _accuracy(predict(data.X_train), data.y_train),
        "test_accuracy_final": _accuracy(predict(data.X_test), data.y_test),
        "objective_std": res.objective,
        "status": str(res.status),
        "epochs_done": res.epochs,
        "steps": res.steps,
        "train_seconds": res.seconds,
        "width": spec["width"],
        "curve": {
            "seconds": h["seconds"].tolist(),
            "epochs": h["epoch"].tolist(),
            "test_accuracy": h["test_accuracy"].tolist(),
            "curve_statistics": "running averages (momentum 0.1)",
        },
        "sgd": res.settings,
    }


def _convex_setup(data: Any, spec: dict[str, Any]) -> tuple[Any, ...]:
    """Feature map from the shared whitening, features, sampled patterns.

    The returned setup time charges the shared whitening's measured time
    (``spec["whitening_seconds"]``) to this model as if it had whitened itself.
    """
    from bnconvex.numerics.fullscale.patterns import sample_patterns
    from bnconvex.numerics.fullscale.regularizers import spectral_features

    t0 = time.perf_counter()
    fmap = spectral_features(_load_factors(spec["factors"]), spec["power"], k=spec["k"])
    F = fmap.transform(data.X_train, dtype=np.dtype(spec["dtype"]))
    D, gates = sample_patterns(F, spec["patterns"], seed=spec["seed"])
    own = time.perf_counter() - t0
    return fmap, F, D, gates, spec["whitening_seconds"] + own


def _save_factors(data: Any, path: Path) -> float:
    """Whiten the training set once (for every convex model); return seconds."""
    from bnconvex.numerics.fullscale.whitening import whiten_large

    t0 = time.perf_counter()
    fac = whiten_large(data.X_train)
    seconds = time.perf_counter() - t0
    np.savez(
        path,
        mean=fac.mean,
        sigma=fac.sigma,
        Vt=fac.Vt,
        meta=np.asarray([fac.n, fac.rank, fac.rtol], dtype=np.float64),
    )
    return seconds


def _load_factors(path: str) -> Any:
    from bnconvex.numerics.fullscale.whitening import SpectralFactors

    with np.load(path) as f:
        n, rank, rtol = f["meta"]
        return SpectralFactors(
            f["mean"], f["sigma"], f["Vt"], int(n), int(rank), float(rtol)
        )


class _Snapshots:
    """Progress callback: keep ``(seconds, iterations, S_plus, S_minus)`` copies.

    Called by the solver after every certificate check and every
    ``callback_every`` seconds of inner steps; test accuracies are computed
    from the copies *after* the timed solve, so the curve costs the solve only
    the copies.
    """

    def __init__(self) -> None:
        self.points: list[tuple[float, int, np.ndarray, np.ndarray]] = []

    def __call__(self, progress: Any) -> None:
        self.points.append(
            (
                progress.seconds,
                progress.iterations,
                np.array(progress.S_plus),
                np.array(progress.S_minus),
            )
        )


def _snapshot_solution(Sp: np.ndarray, Sm: np.ndarray, gated: bool = False) -> Any:
    """A stand-in solution with blocks ``(P, m, K)`` for ``FullScaleModel``."""
    return types.SimpleNamespace(S_plus=Sp, S_minus=Sm, gated=gated)


def _run_convex(data: Any, spec: dict[str, Any]) -> dict[str, Any]:
    from bnconvex.numerics.fullscale.model import FullScaleModel
    from bnconvex.numerics.fullscale.solver import solve_fullscale

    Y = data.one_hot()
    fmap, F, D, gates, setup = _convex_setup(data, spec)
    left = max(1.0, spec["budget"] - setup)  # whitening and sampling count
    snaps = _Snapshots()
    sol = solve_fullscale(
        F,
        Y,
        spec["beta_a"],
        D,
        time_limit=left,
        max_iter=spec["max_iter"],
        verbose=True,
        callback=snaps,
        callback_every=spec["curve_every"],
        dual_step=spec["dual_step"],
    )
    curve: dict[str, list[float]] = {
        "seconds": [],
        "iterations": [],
        "test_accuracy": [],
    }
    points = [
        (t, it, _snapshot_solution(Sp, Sm))
        for t, it, Sp, Sm in snaps.points
        if t < sol.seconds
    ]
    points.append((sol.seconds, sol.iterations, sol))  # the final point
    phi_eval = fmap.transform(data.X_test, dtype=F.dtype)  # once, after the solve
    for t, it, snap in points:
        model = FullScaleModel(fmap, gates, snap, spec["beta_a"])
        curve["seconds"].append(setup + t)
        curve["iterations"].append(it)
        curve["test_accuracy"].append(
            _accuracy(model.predict_features(phi_eval), data.y_test)
        )
    print(
        f"convex k={spec['k']} p={spec['power']}: status {sol.status}, "
        f"rel gap {sol.relative_gap:.3g}, "
        f"accuracy on the evaluation set {curve['test_accuracy']}",
        file=sys.stderr,
        flush=True,
    )
    train_acc = _accuracy(model.predict_features(F), data.y_train)
    return {
        **_convex_summary(
            train_acc, sol, curve, setup, setup + sol.seconds, sol.iterations
        ),
        "dual_step": spec["dual_step"],
    }


def _convex_summary(
    train_accuracy: float,
    sol: Any,
    curve: dict[str, list[float]],
    setup: float,
    spent: float,
    iters: int,
) -> dict[str, Any]:
    return {
        "train_accuracy": train_accuracy,
        "test_accuracy_final": curve["test_accuracy"][-1],
        "objective": sol.objective,
        "lower_bound": sol.lower_bound,
        "gap": sol.gap,
        "relative_gap": sol.relative_gap,
        "max_violation": sol.max_violation,
        "status": str(sol.status),
        "solver_iterations": iters,
        "setup_seconds": setup,
        "train_seconds": spent,
        "neurons": sol.neurons,
        "patterns_sampled_kept": int(sol.S_plus.shape[0]),
        "method": sol.method,
        "curve": curve,
    }


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Load the data, train one model, measure memory; return its record."""
    t0 = time.perf_counter()
    data = _load(spec)
    load_seconds = time.perf_counter() - t0
    tracemalloc.start()
    run = (
        _run_sgd(data, spec)
        if spec["model"] == "nonconvex-sgd"
        else _run_convex(data, spec)
    )
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    curve = run.pop("curve")
    return {
        "model": spec["model"],
        "k": spec["k"],
        "power": spec["power"],
        "beta_a": spec["beta_a"],
        "label": spec["label"],
        **curve,
        **run,
        "load_seconds": load_seconds,
        "peak_rss_gb": rss_kb / 2**20,
        "traced_peak_gb": traced_peak / 2**30,
        "wall_seconds": time.perf_counter() - t0,
        "budget_seconds": spec["budget"],
    }


# --------------------------------------------------------------------------
# driver side
# --------------------------------------------------------------------------
def _machine() -> dict[str, Any]:
    from bnconvex.numerics.provenance import machine_info

    return {**machine_info(), "load_average_at_start": list(os.getloadavg())}


def _versions() -> dict[str, Any]:
    from bnconvex.numerics.provenance import git_revision, software_versions

    return {**software_versions(), "git_revision": git_revision()}


def _specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = {
        "dataset": args.data,
        "cache": str(args.cache),
        "subset": args.subset,
        "seed": args.seed,
        "dtype": args.dtype,
        "beta_a": args.beta,
        "patterns": args.patterns,
        "budget": args.budget,
        "validation": args.validation,
        "power": 0.0,
        "curve_every": args.curve_every,
        "max_iter": args.max_iter,
        "sgd_lr": args.sgd_lr,
        "batch_size": args.batch_size,
        "record_every": args.record_every,
        "dual_step": args.dual_steps[0],
    }
    specs = [
        {
            **base,
            "model": "convex",
            "k": None,
            "label": f"convex (U'), beta={args.beta:g}",
        }
    ]
    specs += [
        {
            **base,
            "model": "convex-regularised",
            "k": k,
            "power": p,
            "beta_a": b,
            "dual_step": t,
            "label": f"convex, k={k}, p={p:g}, beta={b:g}"
            + ("" if t == 1.0 else f", dual step {t:g}"),
        }
        for k in args.ks
        for p in args.powers
        for b in args.betas or [args.beta]
        for t in args.dual_steps
    ]
    specs.append(
        {
            **base,
            "model": "nonconvex-sgd",
            "k": None,
            "beta_a": args.sgd_beta if args.sgd_beta is not None else args.beta,
            "label": "non-convex BN net, SGD",
        }
    )
    if not args.only:
        return specs
    return [s for model in args.only for s in specs if s["model"] == model]


def _run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            json.dumps(spec),
            "--result",
            str(out),
        ]
        proc = subprocess.run(cmd, timeout=spec["budget"] * 3 + 900, check=False)
        if proc.returncode != 0 or not out.is_file():
            return {
                "model": spec["model"],
                "k": spec["k"],
                "label": spec["label"],
                "status": f"worker failed (exit {proc.returncode})",
            }
        return json.loads(out.read_text())


def _announce_and_run(spec: dict[str, Any]) -> dict[str, Any]:
    sys.stderr.write(f"== {spec['label']} (budget {spec['budget']} s)\n")
    sys.stderr.flush()
    return _run_worker(spec)


def _run_parallel(
    specs: list[dict[str, Any]], args: argparse.Namespace, facts: dict[str, Any]
) -> list[dict[str, Any]]:
    """Run the workers ``args.jobs`` at a time; results in the order of ``specs``.

    The SGD width cannot wait for the convex runs here, so it is ``--sgd-width``
    or ``2 P K`` (the neuron count of a convex model whose ``P`` sampled
    patterns are all distinct, which every run so far has had).
    """
    from concurrent.futures import ThreadPoolExecutor

    for spec in specs:
        if spec["model"] == "nonconvex-sgd":
            spec["width"] = _width_from([], args, facts["K"])
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = list(pool.map(_announce_and_run, specs))
    _write_partial(args, facts, runs)
    return runs


def _width_from(
    runs: list[dict[str, Any]], args: argparse.Namespace, classes: int
) -> int:
    """SGD width: ``--sgd-width``, else the largest neuron count among the convex
    models run so far, else ``2 P K`` (``K = classes``)."""
    counts = [r.get("neurons") or 0 for r in runs if r["model"].startswith("convex")]
    return args.sgd_width or max(counts, default=0) or 2 * args.patterns * classes


def _row(r: dict[str, Any]) -> str:
    def f(key: str, fmt: str) -> str:
        v = r.get(key)
        return format(v, fmt) if isinstance(v, (int, float)) else "-"

    width = r.get("neurons") if r["model"].startswith("convex") else r.get("width")
    return (
        f"| {r['label']} | {width if width is not None else '-'} | "
        f"{f('test_accuracy_final', '.4f')} | {f('train_accuracy', '.4f')} | "
        f"{f('train_seconds', '.0f')} | {f('peak_rss_gb', '.2f')} | "
        f"{f('relative_gap', '.2e')} | {r.get('status', '-')} |"
    )


def readme_section(result: dict[str, Any]) -> str:
    """Markdown section with the table rows of one benchmark result."""
    s = result["settings"]
    head = (
        f"Run {result['date']} on {result['machine']['cpu_count']} shared cores; "
        f"n = {s['n_train']}, test = {s['n_test']}, "
        f"beta_a = {s['beta_a']} (U' model; others as labelled), "
        f"P = {s['patterns']} sampled patterns, {s['dtype']}, budget "
        f"{s['budget_seconds']:.0f} s per model, seed {s['seed']}."
    )
    rows = "\n".join(_row(r) for r in [*result["runs"], *stopped_rows(result)])
    return "\n".join(
        [
            SECTION_START,
            "## CIFAR-10 (bench_cifar10.py)",
            "",
            head,
            "",
            *_selection_lines(s.get("selection")),
            "| model | width (neurons) | test acc | train acc | train time (s) | "
            "peak RSS (GB) | rel. gap | status |",
            "|---|---|---|---|---|---|---|---|",
            rows,
            "",
            "Command: `" + " ".join(result["argv"]) + "`",
            SECTION_END,
        ]
    )


def _selection_lines(sel: dict[str, Any] | None) -> list[str]:
    """README lines: how the regularised model's hyper-parameters were chosen."""
    if not sel:
        return []
    cands = "; ".join(
        f"{c['label']} ({c.get('budget_seconds') or 0:.0f} s): "
        f"{c['validation_accuracy']:.4f}"
        + (
            f" (peak {c['validation_peak']:.4f} at {c['stop_axis'][:-1]} "
            f"{c['stop']:.4g})"
            if "stop" in c
            else ""
        )
        for c in sel["candidates"]
        if isinstance(c.get("validation_accuracy"), float)
    )
    chosen = (sel.get("chosen") or {}).get("label", "-")
    return [
        f"Hyper-parameters of the regularised convex model chosen on a validation "
        f"split, never on the test set ({sel['evaluated_on']}; fit on "
        f"{sel['n_fit']} images; each candidate's budget in brackets): "
        f"{cands}. Chosen: **{chosen}**. Commands: "
        + "; ".join(f"`{a}`" for a in sel["argv"])
        + ".",
        "",
    ]


def update_readme(
    section: str,
    path: Path = README,
    markers: tuple[str, str] = (SECTION_START, SECTION_END),
) -> None:
    """Replace (or append) only the section between ``markers`` of the README."""
    from bnconvex.numerics.dataio.atomic import atomic_write_text

    start, end = markers
    text = path.read_text() if path.is_file() else "# Benchmarks\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    atomic_write_text(path, text)


def _progress(run: dict[str, Any]) -> str:
    """Work a run did in its budget: solver iterations or SGD epochs."""
    if run["model"].startswith("convex"):
        return f"{run.get('solver_iterations', '-')} it"
    epochs = run.get("epochs_done")
    return f"{epochs:.1f} ep" if isinstance(epochs, (int, float)) else "-"


def seeds_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Final test accuracy per model label and seed, for labels in every result.

    Returns ``{"seeds": [...], "models": [{"label", "accuracy": [...],
    "progress": [...], "mean", "std", "min", "best_at"}]}`` where ``best_at``
    counts the seeds at which the model is strictly ahead of every other
    model.  Raises SystemExit when two results share a seed or were run with
    different budgets, pattern counts or training sizes.
    """
    seeds = [r["settings"]["seed"] for r in results]
    if len(set(seeds)) != len(seeds):
        raise SystemExit(f"--seeds: two results share a seed: {seeds}")
    for key in ("budget_seconds", "patterns", "n_train"):
        values = {r["settings"][key] for r in results}
        if len(values) > 1:
            raise SystemExit(f"--seeds: results differ in {key}: {sorted(values)}")
    by_seed = [{run["label"]: run for run in r["runs"]} for r in results]
    labels = [lab for lab in by_seed[0] if all(lab in b for b in by_seed)]
    models = []
    for lab in labels:
        acc = np.array([b[lab]["test_accuracy_final"] for b in by_seed], dtype=float)
        models.append(
            {
                "label": lab,
                "accuracy": acc.tolist(),
                "progress": [_progress(b[lab]) for b in by_seed],
                "mean": float(acc.mean()),
                "std": float(acc.std(ddof=1)) if acc.size > 1 else 0.0,
                "min": float(acc.min()),
            }
        )
    table = np.array([m["accuracy"] for m in models]).reshape(len(models), -1)
    for k, m in enumerate(models):
        others = np.delete(table, k, axis=0)
        ahead = table[k] > others.max(axis=0) if others.size else table[k] == table[k]
        m["best_at"] = int(np.sum(ahead))
    return {"seeds": seeds, "models": models}


def seeds_section(summary: dict[str, Any], paths: list[Path]) -> str:
    """Markdown section: one row per model, one column per seed."""
    seeds = summary["seeds"]
    head = (
        "| model | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | mean | std | best at |"
    )
    rule = "|---|" + "---|" * (len(seeds) + 3)
    rows = [
        f"| {m['label']} | "
        + " | ".join(
            f"{a:.4f} ({p})" for a, p in zip(m["accuracy"], m["progress"], strict=True)
        )
        + f" | {m['mean']:.4f} | {m['std']:.4f} | {m['best_at']} of {len(seeds)} |"
        for m in summary["models"]
    ]
    return "\n".join(
        [
            SEEDS_START,
            "### CIFAR-10 over seeds (final test accuracy; work done in the budget)",
            "",
            head,
            rule,
            *rows,
            "",
            "Files: " + ", ".join(f"`{p.name}`" for p in paths) + ".",
            SEEDS_END,
        ]
    )


def seeds(args: argparse.Namespace) -> int:
    """Print (and with ``--update-readme`` write) the table over ``--seeds`` files."""
    results = [json.loads(Path(p).read_text()) for p in args.seeds]
    section = seeds_section(seeds_summary(results), list(args.seeds))
    if args.update_readme:
        update_readme(section, args.readme, (SEEDS_START, SEEDS_END))
    print(section)
    return 0


def _prepare_cache(args: argparse.Namespace) -> dict[str, Any]:
    from bnconvex.numerics.dataio.datasets import load_raw, resolve_source, select

    raw = select(
        load_raw(resolve_source(args.data), cache=args.cache),
        subset=args.subset,
        seed=args.seed,
    )
    return {
        "n_train": int(raw.train_labels.size),
        "n_test": int(raw.test_labels.size),
        "d": int(np.prod(raw.image_shape)),
        "K": len(raw.classes),
        "classes": list(raw.classes),
        "source": raw.source,
    }


def main(argv: list[str] | None = None) -> int:
    """Run every model in turn (one process each) and write the results."""
    args = _parser().parse_args(argv)
    if args.seeds is not None:
        return seeds(args)
    if args.render is not None:
        return render(args)
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be >= 1; got {args.jobs}")
    if args.validation and args.update_readme:
        raise SystemExit("--validation runs are for selection: no --update-readme")
    if args.worker is not None:
        from bnconvex.numerics.dataio.atomic import atomic_write_json

        atomic_write_json(args.result, worker(json.loads(args.worker)))
        return 0
    facts = {**_prepare_cache(args), "machine": _machine()}
    if args.validation:  # the models are fitted on the rest, scored on these
        facts["n_train"] -= args.validation
        facts["n_test"] = args.validation
    specs = _specs(args)
    with tempfile.TemporaryDirectory() as tmp:
        factors = Path(tmp) / "factors.npz"
        if any(s["model"].startswith("convex") for s in specs):
            print("== whitening (shared by the convex models)", file=sys.stderr)
            facts["whitening_seconds"] = _save_factors(_load(specs[0]), factors)
        for spec in specs:
            spec.update(
                factors=str(factors),
                whitening_seconds=facts.get("whitening_seconds", 0.0),
            )
        if args.jobs == 1:
            runs: list[dict[str, Any]] = []
            for spec in specs:
                if spec["model"] == "nonconvex-sgd":
                    spec["width"] = _width_from(runs, args, facts["K"])
                runs.append(_announce_and_run(spec))
                _write_partial(args, facts, runs)
        else:
            runs = _run_parallel(specs, args, facts)
    facts["driver_peak_rss_gb"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    result = _result(args, facts, runs)
    if args.validation:
        result["chosen"] = choose(result)
    return _publish(result, args.out, args)


def _publish(result: dict[str, Any], path: Path, args: argparse.Namespace) -> int:
    """Write ``result`` to ``path``, its README section if asked, and print it."""
    from bnconvex.numerics.dataio.atomic import atomic_write_json

    atomic_write_json(path, result, indent=1)
    section = readme_section(result)
    if args.update_readme:
        update_readme(section, args.readme)
    print(section)
    return 0


def render(args: argparse.Namespace) -> int:
    """Re-render a finished result: selection summary from ``--selection``, README.

    For selection runs made after the final runs (their choice is recomputed
    from the validation files alone); the measured runs are not touched.
    """
    result = json.loads(Path(args.render).read_text())
    if args.selection:
        result["settings"]["selection"] = _selection_summary(args.selection)
    return _publish(result, args.render, args)


def _write_partial(
    args: argparse.Namespace, facts: dict[str, Any], runs: list[dict[str, Any]]
) -> None:
    """Results so far, next to ``--out`` (a long run keeps what it measured)."""
    from bnconvex.numerics.dataio.atomic import atomic_write_json

    partial = _result(args, {**facts, "machine": dict(facts["machine"])}, runs)
    atomic_write_json(Path(str(args.out) + ".partial"), partial, indent=1)


def _result(
    args: argparse.Namespace, facts: dict[str, Any], runs: list[dict[str, Any]]
) -> dict[str, Any]:
    machine = facts.pop("machine")
    machine["load_average_at_end"] = list(os.getloadavg())
    return {
        "benchmark": "cifar10",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "machine": machine,
        "versions": _versions(),
        "argv": ["python", "benchmarks/bench_cifar10.py", *sys.argv[1:]],
        "settings": {
            **facts,
            "beta_a": args.beta,
            "beta_std_sgd": (args.sgd_beta if args.sgd_beta is not None else args.beta)
            * math.sqrt(facts["n_train"]),
            "bn_convention": "a (convex); SGD: same objective in std convention",
            "loss": "squared, one-hot labels",
            "patterns": args.patterns,
            "pattern_sampling": "Gaussian generators u_i on the feature matrix",
            "ks": args.ks,
            "powers": args.powers,
            "betas": args.betas or [args.beta],
            "sgd_beta_a": args.sgd_beta if args.sgd_beta is not None else args.beta,
            "evaluated_on": (
                f"validation: {args.validation} held-out training images (seeded "
                "split); the test set is not scored"
                if args.validation
                else "test set"
            ),
            "selection": _selection_summary(args.selection),
            "dtype": args.dtype,
            "budget_seconds": args.budget,
            "curve_every": args.curve_every,
            "seed": args.seed,
            "subset": args.subset,
            "sgd": {
                "lr": args.sgd_lr,
                "momentum": 0.9,
                "batch_size": args.batch_size,
                "eps": 1e-5,
                "init": "W~N(0,1/d), gamma=1, alpha=0, v~U(+-1/sqrt(m))",
            },
            "preprocessing": "pixel/255, per-channel standardisation (train stats), "
            "flatten (H, W, C)",
            "memory": "peak_rss_gb = ru_maxrss of the model's own process (data "
            "included); traced_peak_gb = tracemalloc peak during training; the "
            "shared whitening ran in the driver (driver_peak_rss_gb)",
            "whitening": "computed once by the driver (whiten_large, float64 Gram); "
            "its measured time is charged to every convex model's budget and "
            "train_seconds as if each had whitened itself",
        },
        "runs": runs,
    }


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def choose(result: dict[str, Any]) -> dict[str, Any] | None:
    """The regularised convex run with the best final (validation) accuracy."""
    cands = [
        r
        for r in result["runs"]
        if r["model"] == "convex-regularised" and "test_accuracy_final" in r
    ]
    if not cands:
        return None
    best = max(cands, key=lambda r: r["test_accuracy_final"])
    return {key: best.get(key) for key in ("label", "k", "power", "beta_a")}


def _selection_summary(paths: list[Path] | None) -> dict[str, Any] | None:
    """Record of ``--validation`` runs: candidates, their accuracy, the choice.

    Several files (e.g. a first grid and a refinement) must share the split
    (same ``evaluated_on`` and fit size); the choice is over all candidates.
    """
    if not paths:
        return None
    sels = [json.loads(Path(p).read_text()) for p in paths]
    for path, sel in zip(paths, sels, strict=True):
        if not sel["settings"].get("evaluated_on", "").startswith("validation"):
            raise SystemExit(f"--selection {path} is not a --validation run")
    first = sels[0]["settings"]
    split = (first["evaluated_on"], first["n_train"])
    if any(
        (x["settings"]["evaluated_on"], x["settings"]["n_train"]) != split for x in sels
    ):
        raise SystemExit("--selection files must use the same validation split")
    runs = [
        {
            **r,
            "patterns": sel["settings"].get("patterns"),
            "selection_budget": sel["settings"]["budget_seconds"],
        }
        for sel in sels
        for r in sel["runs"]
    ]
    return {
        "files": [str(p) for p in paths],
        "dates": [sel["date"] for sel in sels],
        "evaluated_on": first["evaluated_on"],
        "n_fit": first["n_train"],
        "budget_seconds": sorted({sel["settings"]["budget_seconds"] for sel in sels}),
        "argv": [" ".join(sel["argv"]) for sel in sels],
        "candidates": [_candidate(r) for r in runs],
        "chosen": choose({"runs": runs}),
    }


def _candidate(run: dict[str, Any]) -> dict[str, Any]:
    """One selection run: its accuracy and where its validation curve peaked."""
    cand = {
        "label": _selection_label(run),
        "validation_accuracy": run.get("test_accuracy_final"),
        "train_accuracy": run.get("train_accuracy"),
        "status": run.get("status"),
        "budget_seconds": run.get("selection_budget"),
        "match": _match_key(run, run.get("patterns")),
    }
    acc = run.get("test_accuracy")
    axis = "epochs" if run["model"] == "nonconvex-sgd" else "iterations"
    if acc and run.get(axis):
        best = int(np.argmax(acc))
        cand.update(
            stop_axis=axis, stop=run[axis][best], validation_peak=float(acc[best])
        )
    return cand


def _selection_label(run: dict[str, Any]) -> str:
    if run["model"] == "nonconvex-sgd":
        lr = (run.get("sgd") or {}).get("lr")
        return f"{run['label']}, width {run.get('width')}, lr {lr:g}"
    P = run.get("patterns")
    return run["label"] if P is None else f"{run['label']}, P={P}"


def _match_key(run: dict[str, Any], patterns: int | None) -> list[Any]:
    """What must agree for a selection run to stand for a final run."""
    if run["model"] == "nonconvex-sgd":
        sgd = run.get("sgd") or {}
        return [run["model"], run.get("width"), sgd.get("lr"), sgd.get("batch_size")]
    return [run["model"], run["label"], patterns]


def stopped_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Final runs read off at the point where their selection run peaked.

    Early stopping chosen on validation, for every model alike: the selection
    run (fit on the rest of the training set) gives the epoch (SGD) or solver
    iteration (convex) at which validation accuracy peaked; the final run's
    curve is read at its first record at or after that point.  The record is
    the model a run stopped there would return (SGD: running-average BN
    statistics, as in the curve).
    """
    sel = result["settings"].get("selection") or {}
    cands = [c for c in sel.get("candidates", []) if "stop" in c]
    rows = []
    for run in result["runs"]:
        key = _match_key(run, result["settings"]["patterns"])
        cand = next((c for c in cands if c["match"] == key), None)
        if cand is None or not run.get(cand["stop_axis"]):
            continue
        axis = cand["stop_axis"]
        at = next(
            (i for i, v in enumerate(run[axis]) if v >= cand["stop"]),
            len(run[axis]) - 1,
        )
        rows.append(
            {
                **{k: run.get(k) for k in ("model", "k", "width", "neurons")},
                "label": f"{run['label']}, stopped at {axis[:-1]} "
                f"{run[axis][at]:.4g} (validation peak {cand['validation_peak']:.4f} "
                f"at {cand['stop']:.4g})",
                "test_accuracy_final": run["test_accuracy"][at],
                "train_seconds": run["seconds"][at],
                "peak_rss_gb": run.get("peak_rss_gb"),
                "status": "stopped (validation)",
            }
        )
    return rows


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="cifar10", help="cifar10 or a path (any format)")
    p.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="decoded-image cache (.npz, written once)",
    )
    p.add_argument("--subset", type=int, default=None, help="training images (all)")
    p.add_argument("--beta", type=float, default=1e-3, help="beta in convention A")
    p.add_argument("--patterns", type=int, default=32, help="sampled patterns P")
    p.add_argument(
        "--ks",
        type=lambda t: [int(v) for v in t.split(",") if v],
        default=[64, 256],
        help="truncation levels k, comma separated",
    )
    p.add_argument("--budget", type=float, default=360.0, help="seconds per model")
    p.add_argument(
        "--curve-every",
        type=float,
        default=1.0,
        help="convex curve: checkpoint at outer rounds at most this often (s)",
    )
    p.add_argument("--max-iter", type=int, default=1_000_000)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sgd-lr", type=float, default=0.005)
    p.add_argument(
        "--sgd-width",
        type=int,
        default=None,
        help="SGD width (default: neurons of the largest convex model)",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--record-every", type=float, default=0.25, help="SGD curve, epochs")
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        choices=("convex", "convex-regularised", "nonconvex-sgd"),
        help="models to run, in this order (default: all)",
    )
    p.add_argument(
        "--powers",
        type=_floats,
        default=[0.0],
        help="powers p of [U_k (Sigma_k/sigma_1)^p, 1/sqrt(n)], comma separated",
    )
    p.add_argument(
        "--betas",
        type=_floats,
        default=None,
        help="beta_a values of the regularised convex models (default: --beta)",
    )
    p.add_argument(
        "--dual-steps",
        type=_floats,
        default=[1.0],
        help="AL multiplier steps theta in (0, 1] of the regularised convex "
        "models, comma separated (default: 1, the textbook update)",
    )
    p.add_argument(
        "--sgd-beta",
        type=float,
        default=None,
        help="beta_a of the SGD network's weight decay (default: --beta)",
    )
    p.add_argument(
        "--validation",
        type=int,
        default=None,
        help="selection run: hold out this many training images (seeded) and "
        "report accuracy on them instead of the test set (never loaded for scoring)",
    )
    p.add_argument(
        "--selection",
        type=Path,
        nargs="+",
        default=None,
        help="JSON files of --validation runs (same split); embedded in the "
        "results and the README with the candidate chosen over all of them",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="models run at once, one process each (default 1; with more, the "
        "SGD width is --sgd-width or 2PK)",
    )
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--update-readme",
        action="store_true",
        help="rewrite this benchmark's section of benchmarks/README.md",
    )
    p.add_argument("--readme", type=Path, default=README, help="README to update")
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        help="re-render this finished result file (selection summary from "
        "--selection; README with --update-readme); runs nothing",
    )
    p.add_argument(
        "--seeds",
        type=Path,
        nargs="+",
        default=None,
        help="finished result files of runs that differ only in --seed: print "
        "the final test accuracy per model and seed (README section with "
        "--update-readme); runs nothing",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    return p


if __name__ == "__main__":
    sys.exit(main())
