"""``bnconvex train --dataset NAME|PATH``: full-scale convex BN classifier.

Steps: load and preprocess the data set (:mod:`bnconvex.numerics.dataio.datasets`:
pixels / 255, per-channel standardisation with training statistics, flatten),
move it to the chosen backend and dtype once, fit the convex BN model on
one-hot labels (squared loss, convention A with ``beta_a``; ``beta / sqrt(n)``
for ``--bn std``), report train/test accuracy, objective, certified lower
bound, gap, ``beta_max`` and solver status, and write ``DIR/model.npz`` and
``DIR/summary.json`` (both atomically).

The defaults are the preset validated on CIFAR-10 (:data:`PRESET`).
``--time-limit`` bounds the whole command, counted from the start of the
process: loading, whitening, patterns and the solver's set-up are charged to
it, and the solver stops early enough to leave time for scoring and writing.
Progress goes to stderr from the start (only on a terminal, never with
``--quiet``): phase, iterations, objective, bound, gap, violation and the
time left.  Exit status 0 when the model was written after at least one
solver step (a time or iteration limit is reported in ``status``, not as an
error); 1 when the solver took no step (``status`` ``no_step``: the budget
went to loading and set-up; the zero model is still written, and
``gap_certified`` is false); 2 for bad input (one line naming the argument).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from bnconvex.app._progress import progress_enabled
from bnconvex.app.commands import _common as common
from bnconvex.numerics.dataio.atomic import atomic_savez, atomic_write_json
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.provenance import provenance_record

__all__ = [
    "PRESET",
    "Regularizer",
    "add_parser",
    "parse_patterns",
    "parse_regularizer",
    "run",
]

SYNTHETIC = "synthetic"


@dataclasses.dataclass(frozen=True)
class Regularizer:
    r"""Explicit regulariser of the convex model (paper.md §4, claim 21).

    Features :math:`[U_k(\Sigma_k/\sigma_1)^p, c/\sqrt n]`: ``k`` keeps the top
    ``k`` whitened directions (``None``: all of them), ``power`` weights them
    by :math:`(\sigma_j/\sigma_1)^p` and ``shift`` is the weight ``c`` of the
    shift direction; the defaults give :math:`U'` (no regulariser).
    """

    k: int | None = None
    power: float = 0.0
    shift: float = 1.0

    def __str__(self) -> str:
        parts = [f"truncated:{self.k}"] if self.k is not None else []
        parts += [f"spectral:{self.power:g}"] if self.power != 0.0 else []
        parts += [f"shift:{self.shift:g}"] if self.shift != 1.0 else []
        return "+".join(parts) or "none"


#: The default preset, validated on CIFAR-10 (benchmarks/README.md, "Default
#: preset": chosen on a validation split, never on the test set): the
#: regulariser truncated:32+spectral:0.5 (k = 32, p = 0.5; all directions when
#: the data have at most 32), the 128 patterns of a 128-neuron BN network
#: trained on the features (``--pattern-sampling network``), float32, and the
#: first multiplier step 0.03 of the augmented Lagrangian (when it runs: n > 4,096
#: and ``--method auto`` does not pick the working set; the ADMM used below
#: takes the textbook step).  With 33 feature columns ``--method auto`` solves
#: each class's program exactly, with a certified gap, unless beta is below
#: 1e-3 beta_max and the time limit is too short for that
#: (:data:`bnconvex.numerics.fullscale.WORKING_SET_MIN_RATIO`).
PRESET: dict[str, Any] = {
    "regularizer": Regularizer(32, 0.5, 1.0),
    "patterns": 128,
    "sampling": "network",
    "dtype": "float32",
    "dual_step": 0.03,
}

#: ``--method auto``'s rule, for the help text: the values of
#: :data:`bnconvex.numerics.fullscale.CLASSWISE_MAX_M` and
#: :data:`~bnconvex.numerics.fullscale.WORKING_SET_MIN_RATIO`, which decide
#: (copied so that ``--help`` does not import the solver; a test checks that
#: they agree)
CLASSWISE_MAX_M, WORKING_SET_MIN_RATIO = 64, 1e-3
#: ``--max-iter``'s defaults, for the help text (copied likewise):
#: :data:`bnconvex.numerics.fullscale.solver.FIRST_ORDER_MAX_ITER` and
#: :data:`~bnconvex.numerics.fullscale.solver.WORKING_SET_ITERS_PER_CLASS`
FIRST_ORDER_MAX_ITER, WORKING_SET_ITERS_PER_CLASS = 20_000, 1_000

#: time kept for scoring and writing: this many seconds plus a fraction of
#: the budget.  Scoring 10,000 CIFAR-10 test images takes about 1 s on a
#: core; the rest absorbs the variance of the last solver step on a shared
#: machine (with 3%, six runs of --time-limit 120 took 115-126 s wall)
_RESERVE_SECONDS, _RESERVE_FRACTION = 1.0, 0.05


def parse_regularizer(text: str) -> Regularizer:
    """Argparse type of ``--regularizer``.

    ``none``, or ``truncated:k``, ``spectral:p`` and ``shift:c`` joined by
    ``+`` (``truncated:256+spectral:0.5``), each at most once.
    """
    if text == "none":
        return Regularizer()
    found: dict[str, int | float] = {}
    for part in text.split("+"):
        kind, _, value = part.partition(":")
        try:
            if kind == "truncated" and kind not in found and int(value) >= 1:
                found[kind] = int(value)
                continue
            if kind == "spectral" and kind not in found:
                p = float(value)
                if math.isfinite(p):
                    found[kind] = p
                    continue
            if kind == "shift" and kind not in found:
                c = float(value)
                if math.isfinite(c) and c > 0:
                    found[kind] = c
                    continue
        except ValueError:
            pass
        raise argparse.ArgumentTypeError(
            "must be none, or truncated:k (k >= 1), spectral:p (finite p) and "
            f"shift:c (c > 0) joined by +, each once; got {text!r}"
        )
    k = found.get("truncated")
    return Regularizer(
        None if k is None else int(k),
        float(found.get("spectral", 0.0)),
        float(found.get("shift", 1.0)),
    )


def parse_patterns(text: str) -> int | str:
    """Argparse type of ``--patterns``: a positive sample count or a ``.npy`` file."""
    if text.isdigit() and int(text) >= 1:
        return int(text)
    if text.lower().endswith(".npy"):
        return text
    raise argparse.ArgumentTypeError(
        f"must be a positive number of sampled patterns or a .npy file; got {text!r}"
    )


def _split_dirs(text: str) -> tuple[str, str]:
    parts = tuple(p.strip() for p in text.split(","))
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise argparse.ArgumentTypeError(
            f"must be two different folder names TRAIN,TEST; got {text!r}"
        )
    return parts  # type: ignore[return-value]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``train`` subcommand."""
    p = subparsers.add_parser(
        "train",
        help="train the full-scale convex BN classifier on an image data set",
        description="Fit the convex model of a two-layer BN-ReLU network (squared "
        "loss on one-hot labels) on CIFAR-10, Fashion-MNIST, synthetic data or a "
        "data set at PATH, and report train/test accuracy, objective, gap and "
        "beta_max (the smallest beta at which the zero network is optimal).",
        epilog="Defaults: the preset validated on CIFAR-10 (benchmarks/README.md, "
        "'Default preset'): --regularizer truncated:32+spectral:0.5 "
        "--patterns 128 --pattern-sampling network --dtype float32 --method "
        "auto --dual-step 0.03 (the augmented Lagrangian above 4096 samples). "
        "Examples: bnconvex train --dataset cifar10 --beta 0.03 --workers 2 "
        "--out run1 (exact per-class solves, certified gap, about 8 minutes on "
        "2 cores); bnconvex train --dataset cifar10 --beta 1e-3 --time-limit "
        "120 --out run2 (augmented Lagrangian for two minutes, uncertified)",
    )
    p.add_argument(
        "--dataset",
        required=True,
        metavar="NAME|PATH",
        help="cifar10, fashion-mnist, synthetic, or a path: cifar-10-batches-py "
        "folder, image-folder tree, .tar.gz of one, IDX folder, or a .npz cache",
    )
    p.add_argument(
        "--split-dir",
        type=_split_dirs,
        default=("train", "test"),
        metavar="TRAIN,TEST",
        help="split folder names of an image-folder tree (default train,test)",
    )
    p.add_argument(
        "--beta",
        type=common.beta_arg,
        required=True,
        help="weight-decay coefficient (> 0) in the --bn convention",
    )
    p.add_argument(
        "--bn",
        choices=("a", "std"),
        default="a",
        help="BN convention: a (canonical) or std (PyTorch)",
    )
    p.add_argument(
        "--patterns",
        type=parse_patterns,
        default=PRESET["patterns"],
        metavar="P|FILE",
        help="number of sampled activation patterns or .npy (default "
        f"{PRESET['patterns']}, the preset)",
    )
    p.add_argument(
        "--pattern-sampling",
        choices=("gaussian", "network"),
        default=PRESET["sampling"],
        help="how P patterns are sampled: Gaussian generators, or the "
        "half-spaces of a BN network of P neurons trained on the features for "
        "100 epochs of Adam (about 7 s on CIFAR-10; better patterns at equal "
        "P; Gaussian when half of the --time-limit left cannot pay for it) "
        "(default "
        f"{PRESET['sampling']}, the preset)",
    )
    p.add_argument(
        "--regularizer",
        type=parse_regularizer,
        default=PRESET["regularizer"],
        metavar="none|truncated:k|spectral:p|shift:c[+...]",
        help="explicit regulariser of the convex model: features "
        "[U_k (Sigma_k/sigma_1)^p, c/sqrt(n)] (default "
        f"{PRESET['regularizer']}, the preset; all directions when the data "
        f"have at most {PRESET['regularizer'].k})",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=PRESET["dtype"],
        help=f"working precision (default {PRESET['dtype']}, the preset)",
    )
    p.add_argument("--backend", choices=("numpy", "cupy"), default="numpy")
    p.add_argument(
        "--max-iter",
        type=_positive(int),
        default=None,
        metavar="N",
        help="solver iteration budget (default: "
        f"{FIRST_ORDER_MAX_ITER} steps of the augmented Lagrangian; "
        f"{WORKING_SET_ITERS_PER_CLASS} interior-point iterations per class "
        "with working-set)",
    )
    p.add_argument(
        "--time-limit",
        type=_positive(float),
        default=None,
        metavar="S",
        help="wall-time budget in seconds of the whole command (load, "
        "whitening, solve, scoring, writing), met within 10%%",
    )
    p.add_argument(
        "--dual-step",
        type=_positive(float),
        default=None,
        metavar="THETA",
        help="first multiplier step of the augmented Lagrangian (when it runs: "
        "above 4096 samples, unless --method auto picks working-set) as a "
        "fraction of rho, in (0, 1], doubled every round "
        f"(default {PRESET['dual_step']}, the preset; 1 is the textbook update)",
    )
    p.add_argument(
        "--method",
        choices=("auto", "al", "working-set"),
        default="auto",
        help="solver: working-set (exact per-class solves, certified gaps; for "
        f"features of at most {CLASSWISE_MAX_M} columns, e.g. truncated:32), al "
        "(first-order augmented Lagrangian; ADMM below 4097 samples); auto "
        "(default) picks working-set above 4096 samples when the features have "
        f"at most {CLASSWISE_MAX_M} columns, unless beta < "
        f"{WORKING_SET_MIN_RATIO:g} beta_max and --time-limit is too short for "
        "the exact solve of that many nonzero blocks; else al",
    )
    p.add_argument(
        "--workers",
        type=_positive(int),
        default=1,
        metavar="N",
        help="with the working-set method: classes solved at once in N worker "
        "processes (default 1; set OPENBLAS_NUM_THREADS=1 with N > 1; ignored "
        "when --method auto picks al)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="FILE.npz",
        help="save the solver state every 60 s and at exit (for --resume)",
    )
    p.add_argument(
        "--resume",
        default=None,
        metavar="FILE.npz",
        help="continue from a --checkpoint of the same data, --patterns, "
        "--pattern-sampling, --seed and options, on the checkpoint's patterns",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of pattern sampling and of --subset"
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder for model.npz and summary.json",
    )
    p.add_argument(
        "--subset",
        type=_positive(int),
        default=None,
        metavar="N",
        help="train on N training images drawn with --seed",
    )
    p.add_argument(
        "--classes",
        nargs="+",
        default=None,
        metavar="C",
        help="keep these classes (names or indices), relabelled 0..K-1",
    )
    p.add_argument(
        "--cache",
        default=None,
        metavar="FILE.npz",
        help="cache of the decoded images (read if present, else written)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run)


#: ``fit`` argument names in its error messages -> the options that set them
_CLI_NAMES = {
    "`k`": "`--regularizer truncated:k`",
    "`dual_step`": "`--dual-step`",
    "`method`": "`--method`",
    "`workers`": "`--workers`",
    "`resume`": "`--resume`",
}


def _positive(cast: Callable[[str], float]) -> Callable[[str], Any]:
    """Argparse type: a positive finite ``int`` or ``float`` (``cast``)."""

    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            kind = "integer" if cast is int else "number"
            raise argparse.ArgumentTypeError(f"must be a positive {kind}; got {text!r}")
        return value

    return parse


# --------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------
def _check_out_dir(path: str) -> Path:
    from bnconvex.numerics._validation import check_output_dir

    if os.path.exists(path) and not os.path.isdir(path):
        raise InputError(f"`--out` must be a folder; got the file {path!r}")
    return Path(check_output_dir(path, "--out"))


def _namespace(backend: str) -> ModuleType:
    if backend == "numpy":
        import array_api_compat.numpy as xp

        return xp
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise InputError("`--backend cupy` needs a CUDA device; none was found")
    except ImportError:
        raise InputError(
            "`--backend cupy` needs CuPy (pip install 'bnconvex[gpu]')"
        ) from None
    import array_api_compat.cupy as xp

    return xp


def _synthetic(args: argparse.Namespace) -> Any:
    """Gaussian classes (``numerics.data.make_classification``), 80/20 split.

    ``--subset`` sets the number of training samples (default 400); d = 20,
    K = 3 (or ``len(--classes)``), class-mean spread 2; drawn with ``--seed``.
    """
    from bnconvex.numerics.dataio.data import make_classification
    from bnconvex.numerics.dataio.datasets import Dataset

    n = args.subset or 400
    classes = tuple(args.classes) if args.classes else ("0", "1", "2")
    X, Y = make_classification(n + n // 4, 20, len(classes), seed=args.seed)
    X, labels = np.asarray(X, dtype=args.dtype), np.argmax(Y, axis=1)
    info = {
        "generator": f"make_classification(n, 20, {len(classes)}, separation=2)",
        "seed": args.seed,
        "split": "first n train, last n/4 test",
    }
    return Dataset(
        X[:n],
        labels[:n],
        X[n:],
        labels[n:],
        classes,
        SYNTHETIC,
        "bnconvex.numerics.dataio.data.make_classification",
        info,
    )


_OPTION_NAMES = {
    "`source`": "`--dataset`",
    "`dataset`": "`--dataset`",
    "`classes`": "`--classes`",
    "`subset`": "`--subset`",
    "`cache`": "`--cache`",
    "`splits`": "`--split-dir`",
}


def _load(args: argparse.Namespace) -> tuple[Any, Callable[[], None]]:
    """Load the data set; loader errors name the command-line option.

    Returns the data and a function that writes a new ``--cache``.  The
    caller writes it only after the model is written, so that bad input found
    later (``k`` above the rank, a mismatching pattern file) leaves nothing
    behind.  Same steps as
    :func:`bnconvex.numerics.dataio.datasets.load_classification`.
    """
    from bnconvex.numerics.dataio import datasets as ds

    if args.dataset == SYNTHETIC:
        return _synthetic(args), lambda: None
    fresh = args.cache is not None and not Path(args.cache).exists()
    try:
        raw = ds.load_raw(
            ds.resolve_source(args.dataset),
            splits=args.split_dir,
            cache=None if fresh else args.cache,
        )
        data = ds.classification_from_raw(
            raw,
            str(args.dataset),
            classes=args.classes,
            subset=args.subset,
            seed=args.seed,
            dtype=args.dtype,
        )
    except InputError as exc:
        message = str(exc)
        for old, new in _OPTION_NAMES.items():
            message = message.replace(old, new)
        raise InputError(message) from None

    def write_cache() -> None:
        if fresh:
            ds.save_raw_cache(raw, args.cache)

    return data, write_cache


def _validate(args: argparse.Namespace) -> Path:
    from bnconvex.numerics._validation import check_file, check_output_path

    out = _check_out_dir(args.out)
    if isinstance(args.patterns, str):
        check_file(args.patterns, "--patterns")
    for name in ("cache", "checkpoint", "resume"):
        value = getattr(args, name)
        if value is not None and not value.lower().endswith(".npz"):
            raise InputError(f"`--{name}` must end in .npz; got {value!r}")
    if args.resume is not None:
        check_file(args.resume, "--resume")
    if args.checkpoint is not None:
        check_output_path(args.checkpoint, "--checkpoint", suffix=".npz")
    if args.cache is not None and not os.path.exists(args.cache):
        check_output_path(args.cache, "--cache", suffix=".npz")
    _namespace(args.backend)
    return out


# --------------------------------------------------------------------------
# the convex model
# --------------------------------------------------------------------------
@dataclasses.dataclass
class _Fitted:
    """What the command needs from a fitted convex model."""

    predict: Callable[[Any], Any]
    summary: dict[str, Any]
    arrays: dict[str, np.ndarray]
    #: the model's outputs on the training samples (from the solver)
    train_scores: Any


def _patterns(args: argparse.Namespace, n: int, xp: ModuleType) -> Any:
    """``--patterns``: a sample size, or the ``(n, P)`` array of a ``.npy`` file."""
    if isinstance(args.patterns, int):
        return args.patterns
    from bnconvex.numerics.core.arrangements import load_patterns

    try:
        D = load_patterns(args.patterns, n)
    except InputError as exc:
        raise InputError(str(exc).replace("`patterns`", "`--patterns`")) from None
    return xp.asarray(np.asarray(D, dtype=bool))


class _Budget:
    """The ``--time-limit`` of the whole command.

    Counted from ``started`` (:func:`bnconvex.app.cli.main` sets it to the
    process start for the console script, to its own start when called with
    ``argv``), else from now.
    """

    def __init__(self, limit: float | None, started: float | None = None) -> None:
        self.limit = limit
        self.start = time.perf_counter() if started is None else started

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.start

    def left(self) -> float:
        """Seconds left of the budget (``inf`` without a limit)."""
        return math.inf if self.limit is None else self.limit - self.elapsed()

    def for_fit(self, extra_reserve: float) -> float | None:
        """Seconds for :func:`~bnconvex.numerics.fullscale.fit` (never negative).

        What is left minus the reserve for scoring and writing.
        """
        if self.limit is None:
            return None
        reserve = _RESERVE_SECONDS + _RESERVE_FRACTION * self.limit + extra_reserve
        return max(0.0, self.left() - reserve)

    def stamp(self) -> str:
        """``t=12.3s`` and, with a limit, ``left=107.7s``."""
        text = f"t={self.elapsed():.1f}s"
        return text if self.limit is None else f"{text} left={self.left():.1f}s"


def _solver_progress(emit: Callable[[str], None], budget: _Budget) -> Callable:
    """Solver callback printing iterations, objective, bound, gap, violation."""

    def show(p: Any) -> None:
        obj, lb, viol = p.objective, p.lower_bound, p.violation
        parts = [f"solve: {p.kind} iter {p.iterations}"]
        if obj is not None and math.isfinite(obj):
            parts.append(f"obj {obj:.6g}")
        if lb is not None and math.isfinite(lb):
            parts.append(f"lb {lb:.6g}")
            if obj is not None and math.isfinite(obj):
                parts.append(f"rel.gap {(obj - lb) / max(abs(obj), 1e-300):.3g}")
        if viol is not None and math.isfinite(viol):
            parts.append(f"viol {viol:.2e}")
        emit(" ".join(parts) + f" ({budget.stamp()})")

    return show


def _regularizer_k(reg: Regularizer, n: int, d: int) -> int | None:
    """``k`` of the regulariser; the preset keeps all directions of small data."""
    if reg is PRESET["regularizer"] and reg.k is not None and reg.k >= min(n - 1, d):
        return None
    return reg.k


def _fit_convex(
    X: Any,
    Y: Any,
    beta_a: float,
    args: argparse.Namespace,
    budget: _Budget,
    emit: Callable[[str], None] | None,
) -> _Fitted:
    r"""Fit :func:`bnconvex.numerics.fullscale.fit` and collect what is reported.

    ``--regularizer truncated:k`` keeps the top ``k`` whitened directions,
    ``spectral:p`` weights them by :math:`(\sigma_j/\sigma_1)^p`, ``shift:c``
    sets the weight of the shift column :math:`c/\sqrt n`; parts joined by
    ``+`` combine.  The fit gets what is left of ``--time-limit`` minus the
    reserve for scoring and writing.
    """
    from bnconvex.numerics._array_api import array_namespace, to_numpy
    from bnconvex.numerics.fullscale import ADMM_MAX_N, fit

    reg = args.regularizer
    n = X.shape[0]
    patterns = _patterns(args, n, array_namespace(X))
    k = _regularizer_k(reg, n, X.shape[1])
    method = args.method
    dual_step = args.dual_step
    if dual_step is None:
        first_order = n > ADMM_MAX_N and method != "working-set"
        dual_step = PRESET["dual_step"] if first_order else 1.0
    extra = 2.0 if args.cache is not None and not Path(args.cache).exists() else 0.0
    progress: dict[str, Any] = {}
    if emit is not None:
        progress = {
            "phase": lambda name: emit(f"{name} ({budget.stamp()})"),
            "callback": _solver_progress(emit, budget),
            "callback_every": 2.0,
        }
    try:
        model = fit(
            X,
            Y,
            beta_a,
            patterns=patterns,
            sampling=args.pattern_sampling,
            seed=args.seed,
            k=k,
            method=method,
            **({"workers": args.workers} if args.workers != 1 else {}),
            power=reg.power,
            scale=reg.shift,
            bn="a",
            dtype=args.dtype,
            max_iter=args.max_iter,
            time_limit=budget.for_fit(extra),
            checkpoint=args.checkpoint,
            resume=args.resume,
            dual_step=dual_step,
            verbose=False,  # progress comes from the callback
            **progress,
        )
    except InputError as exc:
        message = str(exc)
        for api_name, cli_name in _CLI_NAMES.items():
            message = message.replace(api_name, cli_name)
        raise InputError(message) from None
    sol = model.solution
    # a class solved at once (zero blocks certified optimal) is a step too
    stepped = sol.iterations > 0 or sol.outer_iterations > 0
    scale = 1.0 if args.bn == "a" else math.sqrt(n)
    summary = {
        "objective": sol.objective,
        "lower_bound": sol.lower_bound,
        "gap": sol.gap,
        "relative_gap": sol.relative_gap,
        "bound_kind": sol.bound_kind,
        "pattern_lower_bound": sol.lower_bound,
        "pattern_relative_gap": sol.relative_gap,
        "max_violation": sol.max_violation,
        "gap_certified": bool(sol.gap_certified) and stepped,
        "status": str(sol.status) if stepped else "no_step",
        "iterations": sol.iterations,
        "solve_seconds": sol.seconds,
        "solver": sol.solver,
        "dual_step": dual_step if sol.method == "al" else 1.0,  # the step taken
        "neurons": sol.neurons,
        "patterns_used": int(sol.S_plus.shape[0]),
        # None for a pattern file (used as given); "gaussian" also when the
        # time left could not pay for --pattern-sampling network
        "pattern_sampling": model.sampling,
        "beta_max": sol.beta_max * scale,
        "beta_max_exact": bool(sol.beta_max_exact),
        "gap_note": "certified for the program over the patterns used, "
        "not for the BN network over all patterns",
    }
    fm = model.features
    arrays = {
        "S_plus": to_numpy(sol.S_plus),
        "S_minus": to_numpy(sol.S_minus),
        "feature_mean": to_numpy(fm.mean),
        "feature_A": to_numpy(fm.A),
        "feature_shift": np.asarray(fm.shift),
        "feature_k": np.asarray(fm.k),
        "feature_power": np.asarray(fm.power),
        "beta_a": np.asarray(model.beta_a),
    }
    if model.gates is not None:
        arrays["gates"] = to_numpy(model.gates)
    return _Fitted(model.predict, summary, arrays, sol.predictions)


# --------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------
def _summary(
    args: argparse.Namespace,
    data: Any,
    fitted: _Fitted,
    acc: dict[str, float],
    beta_a: float,
    seconds: float,
) -> dict[str, Any]:
    return {
        "dataset": data.name,
        "source": data.source,
        "n_train": int(data.X_train.shape[0]),
        "n_test": int(data.X_test.shape[0]),
        "d": int(data.X_train.shape[1]),
        "classes": list(data.classes),
        "train_accuracy": acc["train"],
        "test_accuracy": acc["test"],
        **fitted.summary,
        "bn_convention": args.bn,
        "beta": args.beta,
        "beta_a": beta_a,
        "patterns": args.patterns,
        "regularizer": str(args.regularizer),
        "dtype": args.dtype,
        "backend": args.backend,
        "seed": args.seed,
        "max_iter": args.max_iter,
        "time_limit": args.time_limit,
        "seconds": seconds,
        "preprocessing": data.preprocessing,
        **provenance_record(),
        "argv": sys.argv[1:],
    }


def _write(out: Path, fitted: _Fitted, summary: dict[str, Any]) -> None:
    meta = {"summary_json": np.asarray(json.dumps(summary, default=str))}
    atomic_savez(out / "model.npz", **fitted.arrays, **meta)
    atomic_write_json(out / "summary.json", summary, indent=2, default=str)


def _accuracy(scores: Any, labels: np.ndarray) -> float:
    from bnconvex.numerics._array_api import to_numpy

    return float(np.mean(np.argmax(to_numpy(scores), axis=1) == labels))


def run(args: argparse.Namespace) -> int:
    """Load, fit, evaluate, write; exit 0 when the model was written after a step.

    Exit 1 (model still written, ``status`` ``no_step``) when the solver took
    no step within ``--time-limit``.
    """
    budget = _Budget(args.time_limit, getattr(args, "started", None))
    out = _validate(args)
    emit = (
        (lambda msg: print(f"train: {msg}", file=sys.stderr, flush=True))
        if progress_enabled(args.quiet)
        else None
    )
    if emit is not None:
        emit(f"loading {args.dataset} ({budget.stamp()})")
    data, write_cache = _load(args)
    if emit is not None:
        emit(
            f"loaded {data.name}: n={data.X_train.shape[0]}, "
            f"d={data.X_train.shape[1]}, K={data.K}, test={data.X_test.shape[0]} "
            f"({budget.stamp()})"
        )
    xp = _namespace(args.backend)
    X, X_test = xp.asarray(data.X_train), xp.asarray(data.X_test)
    Y = xp.asarray(data.one_hot())
    n = X.shape[0]
    beta_a = args.beta if args.bn == "a" else args.beta / math.sqrt(n)
    fitted = _fit_convex(X, Y, beta_a, args, budget, emit)
    if emit is not None:
        emit(f"scoring ({budget.stamp()})")
    acc = {
        "train": _accuracy(fitted.train_scores, data.y_train),
        "test": _accuracy(fitted.predict(X_test), data.y_test),
    }
    summary = _summary(args, data, fitted, acc, beta_a, budget.elapsed())
    _write(out, fitted, summary)
    write_cache()
    shown = {
        k: summary[k]
        for k in (
            "train_accuracy",
            "test_accuracy",
            "objective",
            "lower_bound",
            "gap",
            "bound_kind",
            "pattern_relative_gap",
            "gap_certified",
            "max_violation",
            "status",
            "iterations",
            "beta_max",
            "seconds",
        )
    }
    (common.print_json if args.json else common.print_text)({**shown, "out": str(out)})
    fell_back = summary["pattern_sampling"] != args.pattern_sampling
    if fell_back and isinstance(args.patterns, int) and summary["status"] != "no_step":
        used, asked = summary["pattern_sampling"], args.pattern_sampling
        why = (
            f"--resume continues on the checkpoint's {used} patterns (sampled when "
            f"too little of --time-limit was left for --pattern-sampling {asked})"
            if args.resume is not None
            else f"too little of --time-limit {args.time_limit:g} s was left for "
            f"--pattern-sampling {asked}; {used} patterns were sampled"
        )
        print(f"bnconvex train: note: {why}", file=sys.stderr)
    if summary["status"] != "no_step":
        return 0
    print(
        "bnconvex train: the solver took no step within --time-limit "
        f"{args.time_limit:g} s (loading and set-up took the budget); "
        "the model written is the zero network",
        file=sys.stderr,
    )
    return 1
