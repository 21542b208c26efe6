r"""The COMPUTE step of the paper figures: run the numerics, cache the results.

Every figure in :mod:`bnconvex.paper_figures` plots only from a JSON file
``DIR/<name>.data.json`` written here, so a figure can be re-styled without
re-solving.  Small figures are computed from seeded synthetic data by the
numerics package; the full-scale figures read the committed benchmark results
in ``benchmarks/results/`` and, when those are missing, raise
:class:`ResultsMissing` naming the benchmark to run — nothing is invented.

Each data file holds ``{"name", "settings", "caption", ...arrays as lists}``;
``settings`` says what was run (data, n, d, P, beta, seeds, BN convention,
machine) and ``caption`` has the figure title, what it shows and the
departures from the paper's setting.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.numerics.dataio.atomic import atomic_write_json
from bnconvex.numerics.errors import BnConvexError, InputError
from bnconvex.numerics.provenance import cpu_model

__all__ = [
    "COMPUTE",
    "DATA_SUFFIX",
    "SMALL_FIGURES",
    "ResultsMissing",
    "data_path",
    "default_results_dir",
    "ensure_data",
    "machine_summary",
    "write_data",
]

DATA_SUFFIX = ".data.json"

#: Figures computed from built-in synthetic data (seconds each).
SMALL_FIGURES = (
    "fig1_training_objective",
    "fig2_closed_form_beta",
    "fig3_implicit_bias",
)


class ResultsMissing(BnConvexError):
    """The benchmark results a full-scale figure needs are not there.

    The message names the benchmark command to run; the figure is then
    reported as *not produced* (no placeholder data is ever plotted).
    """


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


def data_path(out_dir: str | Path, name: str) -> Path:
    """Return the cache file of figure ``name`` in ``out_dir``."""
    return Path(out_dir) / f"{name}{DATA_SUFFIX}"


def write_data(out_dir: str | Path, name: str, data: Mapping[str, Any]) -> Path:
    """Write ``data`` (arrays become lists) to the cache file, atomically."""
    payload = {"name": name, **_plain_json(dict(data))}
    return atomic_write_json(
        data_path(out_dir, name), payload, indent=1, allow_nan=False
    )


def _plain_json(obj: Any) -> Any:
    """Convert arrays and NumPy scalars to lists/floats, keeping every entry."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {str(k): _plain_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain_json(v) for v in obj]
    return obj


def machine_summary() -> str:
    """Return a one-line description of this machine for captions."""
    cpu = cpu_model() or platform.machine()
    return f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} CPUs"


def default_results_dir() -> Path:
    """Return ``benchmarks/results`` of the source tree (or of the working dir)."""
    repo = Path(__file__).resolve().parent.parent / "benchmarks"
    return (repo if repo.is_dir() else Path.cwd() / "benchmarks") / "results"


def _regression_data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded Gaussian inputs and a noisy non-linear target (planted 2-neuron ReLU)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal((d, 2))
    y = np.maximum(X @ w[:, 0] + 0.3, 0) - np.maximum(X @ w[:, 1] - 0.2, 0)
    return X, y + 0.3 * rng.standard_normal(n)


def _solve_exact(X: np.ndarray, y: np.ndarray, beta: float, *, tol: float = 1e-9):
    """Return whitening, problem, solution, certificate and solve seconds.

    One :func:`~bnconvex.numerics.exact.fit_exact` over every pattern
    (convention A), certified with the global bound.
    """
    from bnconvex.numerics.exact import fit_exact

    fit = fit_exact(X, y, beta, arrangements="exact", tol=tol)
    sol = fit.solution
    return fit.whitening, fit.problem, sol, fit.certificate, float(sol.seconds)


def _block_norms(sol: Any) -> np.ndarray:
    """Return the norms of all blocks ``s_i`` and ``s'_i``, sorted decreasing."""
    norms = np.concatenate(
        [np.linalg.norm(sol.S_plus, axis=1), np.linalg.norm(sol.S_minus, axis=1)]
    )
    return np.sort(norms)[::-1]


def _sign_outputs(problem: Any, sol: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Return :math:`z_\pm = \sum_i D_i U' s^{(\pm)}_i`, the outputs of each sign.

    Within the cones :math:`D_i U' s_i = (U' s_i)_+ \ge 0`, so the prediction is
    :math:`z_+ - z_-` with :math:`z_\pm \ge 0`; one neuron of each sign with
    :math:`s = U'^T z_\pm` realises it when :math:`U'` is square (R2).
    """
    U_prime, D = np.asarray(problem.U_prime), np.asarray(problem.D)
    z_plus = (D * (U_prime @ np.asarray(sol.S_plus).T)).sum(axis=1)
    z_minus = (D * (U_prime @ np.asarray(sol.S_minus).T)).sum(axis=1)
    return z_plus, z_minus


# --------------------------------------------------------------------------
# Figure 1: non-convex training against the convex optimum and the dual bound
# --------------------------------------------------------------------------


def training_objective_data(
    *,
    n: int = 16,
    d: int = 2,
    beta: float = 0.1,
    m: int = 12,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    max_iter: int = 6000,
    lr: float = 0.05,
    data_seed: int = 0,
) -> dict[str, Any]:
    r"""GD on the non-convex BN network from several inits, with p* and a dual bound.

    Parameters
    ----------
    n, d : int
        Size of the synthetic regression data (:func:`_regression_data`).
    beta : float
        Weight decay (convention A).
    m : int
        Width of the trained networks.
    seeds : sequence of int
        Initialisation seeds, one GD run each.
    max_iter : int
        GD steps per run.
    lr : float
        GD step size.
    data_seed : int
        Seed of the data.

    Returns
    -------
    dict
        ``settings``, ``convex_optimum``, ``dual_lower_bound``, ``curves``
        (objective at the start and after each step, one list per seed),
        ``seeds`` and ``caption``.

    Notes
    -----
    The convex program (paper.md R1) over *every* hyperplane pattern of
    :math:`U'` gives the global optimum :math:`p^*` of the non-convex problem;
    the dual certificate :math:`d(v) \le p^*` is a lower bound that no training
    run can beat.  GD curves record the full non-convex objective (convention
    A) per iteration.
    """
    from bnconvex.numerics.baselines.nonconvex import train_nonconvex

    X, y = _regression_data(n, d, data_seed)
    white, problem, sol, cert, seconds = _solve_exact(X, y, beta)
    curves = []
    for seed in seeds:
        _, history = train_nonconvex(
            X, y, beta, m, seed=seed, method="gd", max_iter=max_iter, lr=lr
        )
        curves.append(np.asarray(_history_objective(history), dtype=float))
    settings = {
        "data": "synthetic regression (Gaussian X, planted 2-neuron ReLU target "
        f"+ noise), seed {data_seed}",
        "n": n,
        "d": d,
        "rank(CX)": white.rank,
        "P (exact arrangement)": problem.P,
        "beta": beta,
        "BN convention": "A (l2-normalised, shift alpha/sqrt(n))",
        "width m": m,
        "optimizer": "full-batch GD (train_nonconvex, method='gd'), "
        f"{max_iter} steps of size {lr:g}",
        "seeds": list(seeds),
        "convex solver": f"{sol.solver}, status {sol.status}, {seconds:.2f} s",
        "machine": machine_summary(),
    }
    return {
        "settings": settings,
        "convex_optimum": float(sol.objective),
        "dual_lower_bound": float(cert.lower_bound),
        "curves": [c.tolist() for c in curves],
        "seeds": list(seeds),
        "caption": {
            "title": "Training the non-convex BN net never beats the convex optimum",
            "departures": [
                "The paper's synthetic experiments (sizes, beta, step sizes) could "
                "not be read; "
                "this is a small seeded instance chosen so that every pattern can be "
                "enumerated.",
                "Full-batch GD (the paper's GD analysis); minibatch SGD appears in "
                "the CIFAR-10 figure.",
            ],
        },
    }


def _history_objective(history: Any) -> Sequence[float]:
    """Return the per-iteration objective from a ``train_nonconvex`` history."""
    if isinstance(history, Mapping):
        for key in ("objective", "objectives", "loss"):
            if key in history:
                return history[key]
        raise InputError(f"`history` has no objective curve; keys: {sorted(history)}")
    return history


# --------------------------------------------------------------------------
# Figure 2: closed form (R2) against the solver across beta
# --------------------------------------------------------------------------


def closed_form_beta_data(
    *,
    n: int = 7,
    d: int = 10,
    num_beta: int = 9,
    data_seed: int = 1,
    tol: float = 1e-9,
) -> dict[str, Any]:
    r"""Closed-form optimum and the two neurons vs the exact solver, over a beta grid.

    Parameters
    ----------
    n, d : int
        Gaussian data with ``n <= d``, so that generically
        :math:`\operatorname{rank}(CX) = n - 1`.
    num_beta : int
        Grid size; the grid spans :math:`0.08\min\|y_\pm\|` to
        :math:`1.3\max\|y_\pm\|` geometrically.
    data_seed : int
        Seed of ``X`` and ``y``.
    tol : float
        Solver tolerance.

    Returns
    -------
    dict
        ``rows`` (per beta: closed form, solver optimum, certified lower bound,
        output norm of each sign, prediction error, non-zero blocks),
        ``norm_pos``, ``norm_neg``, ``solver_tol``, ``settings``, ``caption``.

    Notes
    -----
    With :math:`\operatorname{rank}(CX) = n-1`, paper.md R2 gives
    :math:`p^* = h_\beta(\|y_+\|) + h_\beta(\|y_-\|)` with at most two active
    neurons (one per sign of :math:`y`, present iff its norm exceeds
    :math:`\beta`).  The grid spans both thresholds :math:`\|y_\pm\|`.
    """
    from bnconvex.numerics.core.closed_form import highdim_optimum, highdim_prediction

    rng = np.random.default_rng(data_seed)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    ypos, yneg = np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0))
    betas = np.geomspace(0.08 * min(ypos, yneg), 1.3 * max(ypos, yneg), num_beta)
    rows = []
    for beta in betas:
        white, problem, sol, cert, seconds = _solve_exact(X, y, float(beta), tol=tol)
        norms = _block_norms(sol)
        z_plus, z_minus = _sign_outputs(problem, sol)
        closed_pred = highdim_prediction(y, float(beta))
        rows.append(
            {
                "beta": float(beta),
                "closed_form": float(highdim_optimum(y, float(beta))),
                "solver": float(sol.objective),
                "lower_bound": float(cert.lower_bound),
                "neuron_pos": float(np.linalg.norm(z_plus)),
                "neuron_neg": float(np.linalg.norm(z_minus)),
                "prediction_error": float(
                    np.max(np.abs(z_plus - z_minus - closed_pred))
                ),
                "active_blocks": int(np.sum(norms > 1e-6 * max(norms[0], 1e-300))),
                "expected_neurons": int(ypos > beta) + int(yneg > beta),
                "block_norms": norms[:12].tolist(),
                "seconds": seconds,
                "status": str(sol.status),
            }
        )
    return {
        "settings": {
            "data": f"Gaussian X (n x d) and Gaussian y, seed {data_seed}",
            "n": n,
            "d": d,
            "rank(CX)": int(white.rank),
            "P (exact arrangement)": int(problem.P),
            "beta grid": [r["beta"] for r in rows],
            "||y_+||": float(ypos),
            "||y_-||": float(yneg),
            "BN convention": "A",
            "solver": f"{sol.solver}, tol {tol:g}",
            "machine": machine_summary(),
        },
        "rows": rows,
        "solver_tol": tol,
        "norm_pos": float(ypos),
        "norm_neg": float(yneg),
        "caption": {
            "title": "High-dimensional closed form (R2) vs the exact convex solver",
            "departures": [
                "Closed form derived in paper.md R2 (the paper's exact statement was "
                "not available); "
                "rank(CX) = n - 1 is the condition used here.",
            ],
        },
    }


# --------------------------------------------------------------------------
# Figure 3: Sigma^2 preconditioning / implicit bias (claims 19-20)
# --------------------------------------------------------------------------


def implicit_bias_data(
    *, seeds: Sequence[int] = tuple(range(10)), k: int = 2
) -> dict[str, Any]:
    r"""Energy of the fitted change along the singular directions, BN vs whitened net.

    Parameters
    ----------
    seeds : sequence of int
        Seeds of
        :func:`bnconvex.numerics.extensions.implicit_bias.spread_spectrum_instance`
        (paper.md item 20: n=40, spectrum (5, 3, 1, .5, .2, .1), m=20,
        eta=2e-3, T=300).
    k : int
        The "top-k" of panel (a).

    Returns
    -------
    dict
        ``topk_bn``, ``topk_whitened`` (seeds x T top-k fractions from
        iteration 1), ``per_direction_bn``, ``per_direction_whitened``
        (seeds x d fractions at iteration T), ``iterations``, ``spectrum``,
        ``k``, ``settings``, ``caption``.

    Notes
    -----
    GD on a BN neuron moves :math:`q = \Sigma V^T w` by
    :math:`-\eta\Sigma^2\nabla_q L` (claim 19), so directions with large
    :math:`\sigma_j` are fitted first.  Both networks start from the same
    function.
    :func:`~bnconvex.numerics.extensions.implicit_bias.implicit_bias_experiment`
    records :math:`E_k(t) = \|U_k^T(f_t - f_0)\|^2/\|f_t - f_0\|^2`; the GD
    trajectory does not depend on :math:`k`, so the energy along the single
    direction :math:`u_j` is :math:`E_j - E_{j-1}` (with :math:`E_0 = 0`).
    """
    from bnconvex.numerics.extensions.implicit_bias import (
        PAPER_SETTING,
        implicit_bias_experiment,
        preconditioning_error,
        spread_spectrum_instance,
    )

    spectrum = tuple(PAPER_SETTING["spectrum"])
    cumulative = [
        implicit_bias_experiment(seeds, k=j) for j in range(1, len(spectrum) + 1)
    ]
    top = cumulative[k - 1]
    final = {
        key: np.stack([c[key][:, -1] for c in cumulative], axis=1)
        for key in ("energy_bn", "energy_whitened")
    }
    per_dir = {key: np.diff(v, axis=1, prepend=0.0) for key, v in final.items()}
    claim19 = max(
        preconditioning_error(*spread_spectrum_instance(s), eta=PAPER_SETTING["eta"])
        for s in seeds
    )
    return {
        "settings": {
            "data": "X = G diag(spectrum), G Gaussian, y Gaussian "
            "(numerics.implicit_bias.spread_spectrum_instance)",
            **{
                key: PAPER_SETTING[key]
                for key in ("n", "spectrum", "m", "eta", "T", "beta")
            },
            "seeds": list(seeds),
            "top-k": k,
            "claim 19 (one GD step moves q by -eta Sigma^2 grad_q L), worst "
            "relative error over the seeds": f"{claim19:.1e}",
            "BN convention": "A",
            "start": "gamma = 1, alpha = 0; whitened net starts from the same function",
            "machine": machine_summary(),
        },
        "sigma_note": "labels are the singular values of the spectrum used to make X",
        "spectrum": list(spectrum),
        "k": k,
        "iterations": top["iterations"][1:],  # E is undefined (0/0) at t = 0
        "topk_bn": top["energy_bn"][:, 1:],
        "topk_whitened": top["energy_whitened"][:, 1:],
        "per_direction_bn": per_dir["energy_bn"],
        "per_direction_whitened": per_dir["energy_whitened"],
        "caption": {
            "title": "GD on the BN network fits large-singular-value directions first",
            "departures": [
                "The paper's GD analysis and its experiment could not be read; this "
                "is the "
                "mechanism of paper.md section 4 (claims 19-20) on the instance "
                "suggested there.",
                "Singular values of the generated X differ from the nominal spectrum "
                "by the "
                "random factor G; labels show the nominal values.",
            ],
        },
    }


# --------------------------------------------------------------------------
# Figures 4-5: committed full-scale benchmark results
# --------------------------------------------------------------------------


def _missing(constant: str) -> None:
    """``parse_constant`` of :func:`_read_results`: ``NaN``/``Infinity`` -> None."""
    return None


def _read_results(
    results_dir: Path, pattern: str, command: str
) -> list[dict[str, Any]]:
    files = sorted(results_dir.glob(pattern)) if results_dir.is_dir() else []
    if not files:
        raise ResultsMissing(
            f"no benchmark results matching {pattern!r} in {results_dir}; run "
            f"`{command}` "
            "(it writes them there), then `bnconvex figures` again"
        )
    out = []
    for f in files:
        try:
            # NaN / Infinity (Python's json writes them) are missing values
            obj = json.loads(f.read_text(encoding="utf-8"), parse_constant=_missing)
        except json.JSONDecodeError as exc:
            raise InputError(f"`{f}` is not valid JSON: {exc.msg}") from None
        if isinstance(obj, dict):
            out.append({"file": f.name, **obj})
    return out


def _benchmark_data(
    results_dir: Path | None, pattern: str, script: str, caption: dict[str, Any]
) -> dict[str, Any]:
    """Read committed results and say in ``settings`` what was run, per file."""
    results_dir = (
        Path(results_dir) if results_dir is not None else default_results_dir()
    )
    results = _read_results(results_dir, pattern, f"python {script}")
    settings: dict[str, Any] = {"results": str(results_dir), "written by": script}
    for res in results:
        settings[res["file"]] = {
            **res.get("settings", {}),
            "machine": res.get("machine", "?"),
        }
    return {"results": results, "settings": settings, "caption": caption}


#: The committed four-seed CIFAR-10 comparison (benchmarks/README.md, "CIFAR-10
#: over seeds"): one protocol, one file per seed.
CIFAR10_SEEDS = "cifar10_dual_step_seed*.json"


def cifar10_data(results_dir: Path | None = None) -> dict[str, Any]:
    """Collect the accuracy-vs-time curves of the seed files :data:`CIFAR10_SEEDS`.

    Raises
    ------
    ResultsMissing
        If no such file exists (names ``benchmarks/bench_cifar10.py``).
    """
    return _benchmark_data(
        results_dir,
        CIFAR10_SEEDS,
        "benchmarks/bench_cifar10.py --seed S ... (see benchmarks/README.md)",
        {
            "title": "CIFAR-10: the regularised convex BN model vs the SGD-trained "
            "BN network, over seeds",
            "departures": [
                "The paper's CIFAR-10 protocol (n, P, beta, epochs, architecture) "
                "could not be read; the benchmark's own settings are listed above.",
                "The convex model is the time-limited iterate of its program "
                "(relative gap about 0.99, cone violation about 0.02), scored as the "
                "ReLU network its blocks define; it is not a certified optimum.",
                "The SGD baseline normalises with minibatch statistics "
                "(PyTorch-style), not the full-batch BN of the theory.",
            ],
        },
    )


def _median(values: Sequence[Any]) -> float | None:
    nums = [float(v) for v in values if isinstance(v, (int, float))]
    return float(np.median(nums)) if nums else None


def _peer_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one timing row per (instance, solver) of one peers result file.

    Reads both layouts: ``runs: [{solver, n, d, P, seconds, ...}]`` and the
    ``instances: [{n, d, P, solvers: {name: {runs, median_solve_seconds,
    median_process_seconds, all_success}}}]`` of ``benchmarks/bench_peers.py``.
    """
    rows = [
        {
            "solver": str(r["solver"]),
            "n": r.get("n"),
            "d": r.get("d"),
            "P": r.get("P"),
            "seconds": r.get("seconds"),
            "process_seconds": r.get("process_seconds"),
            "success": str(r.get("status", "optimal")).lower().startswith("optimal"),
            "time_limited": str(r.get("status", "")).lower() == "time_limit",
            "run_seconds": [r.get("seconds")],
        }
        for r in result.get("runs", [])
    ]
    for inst in result.get("instances", []):
        for solver, s in inst.get("solvers", {}).items():
            runs = s.get("runs", [])
            solve = [r.get("solve_seconds") for r in runs]
            rows.append(
                {
                    "solver": solver,
                    "n": inst.get("n"),
                    "d": inst.get("d"),
                    "P": inst.get("P"),
                    "seconds": s.get("median_solve_seconds", _median(solve)),
                    "process_seconds": s.get("median_process_seconds"),
                    "success": bool(
                        s.get("all_success", all(r.get("success") for r in runs))
                    ),
                    "time_limited": any(
                        str(r.get("status", "")).lower() == "time_limit" for r in runs
                    ),
                    "run_seconds": solve,
                }
            )
    return rows


def solver_scaling_data(results_dir: Path | None = None) -> dict[str, Any]:
    """Collect solver timings from the newest result of ``bench_peers.py``.

    Only one file is drawn, the newest (:func:`_result_order`) with at least
    :data:`MIN_LADDER` instance sizes: mixing files would put timings from
    different sessions or machines in one panel.

    Returns
    -------
    dict
        ``timings`` (one row per instance and solver: ``solver, n, d, P,
        seconds`` (median in-process solve time), ``process_seconds``,
        ``success``, ``run_seconds``), ``results`` (the files as read),
        ``settings``, ``caption``.

    Raises
    ------
    ResultsMissing
        If no such file exists (names ``benchmarks/bench_peers.py``).
    """
    data = _benchmark_data(
        results_dir,
        "peers*.json",
        "benchmarks/bench_peers.py",
        {
            "title": (
                "Solver scaling: this package's solvers vs CVXPY + Clarabel, "
                "adelie, pyscnn"
            ),
            "departures": [
                "Not a paper figure: a performance check of this toolkit on the "
                "paper's convex program (the paper reports no solver timings that "
                "could be read).",
            ],
        },
    )
    ladders = [r for r in data["results"] if len(_peer_sizes(r)) >= MIN_LADDER]
    newest = max(ladders or data["results"], key=_result_order)
    data["timings"] = _peer_rows(newest)
    data["settings"] = {
        "results": data["settings"]["results"],
        "written by": data["settings"]["written by"],
        "file drawn": newest["file"],
        newest["file"]: {
            **data["settings"][newest["file"]],
            "success_tol": newest.get("success_tol", "?"),
        },
        "files left out (other runs)": [
            r["file"] for r in data["results"] if r is not newest
        ],
    }
    return data


#: A scaling figure needs a ladder: figure 5 draws the newest run with at
#: least this many instance sizes (a one-size run, such as a single CVXPY
#: comparison, is left out unless nothing else exists).
MIN_LADDER = 3


def _peer_sizes(result: Mapping[str, Any]) -> set[tuple[Any, Any, Any]]:
    return {(r.get("n"), r.get("d"), r.get("P")) for r in _peer_rows(result)}


def _result_order(result: Mapping[str, Any]) -> tuple[str, str]:
    """Sort key of benchmark files: the run's UTC date, then the file name.

    Figure 5 draws one file, so that every solver in it was measured in the
    same run on the same machine; this picks the newest.
    """
    machine = result.get("machine")
    date = machine.get("date_utc", "") if isinstance(machine, Mapping) else ""
    return str(result.get("date") or date or ""), str(result["file"])


def fullscale_gap_data(results_dir: Path | None = None) -> dict[str, Any]:
    """Collect gap and accuracy against time of ``bench_fullscale_gap.py`` runs.

    Raises
    ------
    ResultsMissing
        If no ``fullscale_gap*.json`` exists (names the benchmark script).
    """
    return _benchmark_data(
        results_dir,
        "fullscale_gap*.json",
        "benchmarks/bench_fullscale_gap.py (see benchmarks/README.md)",
        {
            "title": "Full scale: certified gap and test accuracy against time",
            "departures": [
                "Not a paper figure: a check of how far the full-scale solver gets "
                "towards a certificate of its own program within a time budget.",
                "Runs on two cores, some shared with other work (load average "
                "1-6, recorded in each file).",
            ],
        },
    )


def cifar10_cnn_data(results_dir: Path | None = None) -> dict[str, Any]:
    """Collect the curves of ``bench_cifar10_cnn.py`` (``cifar10_cnn*.json``).

    Raises
    ------
    ResultsMissing
        If no such file exists (names the benchmark script).
    """
    return _benchmark_data(
        results_dir,
        "cifar10_cnn*.json",
        "benchmarks/bench_cifar10_cnn.py (see benchmarks/README.md)",
        {
            "title": "CIFAR-10: convex BN-CNN with and without truncated whitening "
            "vs the SGD-trained BN CNN",
            "departures": [
                "The paper's CNN protocol could not be read; the geometry (3x3x3 "
                "patches, stride 3, padding 2, average pooling, truncation k = 20) "
                "follows ardasahiner/layerCNN_convex (branch batch_norm), which "
                "does not name the paper.",
                "The convex model is the gated program over sampled patterns (cone "
                "constraints dropped, as in that repository), time-limited: not a "
                "certified optimum of the BN-CNN program.",
                "The regularisation strength was set a priori (lam = 1e-3 lam_max), "
                "not tuned; SGD's learning rate came from 25-30 s probes on 5,000 "
                "training images scored on the test set (not blind); one seed; "
                "runs shared two cores with other work.",
            ],
        },
    )


#: figure name -> compute function (keyword ``results_dir`` for full-scale ones)
COMPUTE: dict[str, Callable[..., dict[str, Any]]] = {
    "fig1_training_objective": training_objective_data,
    "fig2_closed_form_beta": closed_form_beta_data,
    "fig3_implicit_bias": implicit_bias_data,
    "fig4_cifar10_accuracy": cifar10_data,
    "fig5_solver_scaling": solver_scaling_data,
    "fig6_fullscale_gap": fullscale_gap_data,
    "fig7_cifar10_cnn": cifar10_cnn_data,
}


def ensure_data(
    name: str,
    out_dir: str | Path,
    *,
    recompute: bool = False,
    results_dir: Path | None = None,
) -> Path:
    """Compute and cache the data of figure ``name`` unless a cache exists.

    Parameters
    ----------
    name : str
        A key of :data:`COMPUTE`.
    out_dir : str or Path
        Folder of the figure and its data file.
    recompute : bool
        Recompute even when the cache exists.  Benchmark-based figures are
        always re-read (reading is cheap and results may have been updated).
    results_dir : Path, optional
        Where the benchmark results are (default :func:`default_results_dir`).

    Returns
    -------
    Path
        The data file.

    Raises
    ------
    InputError
        For an unknown ``name``.
    ResultsMissing
        For a full-scale figure whose benchmark has not been run.
    """
    if name not in COMPUTE:
        raise InputError(f"`name` must be one of {', '.join(COMPUTE)}; got {name!r}")
    path = data_path(out_dir, name)
    if name in SMALL_FIGURES:
        if path.is_file() and not recompute:
            return path
        start = time.perf_counter()
        data = COMPUTE[name]()
        data["settings"]["compute seconds"] = round(time.perf_counter() - start, 2)
    else:
        data = COMPUTE[name](results_dir=results_dir)
    data = _plain_json(data)
    if name in SMALL_FIGURES and not all(math.isfinite(v) for v in _floats(data)):
        raise InputError(f"figure {name!r}: the computed data contain NaN or inf")
    return write_data(out_dir, name, data)


def _floats(obj: Any):
    """Yield every float in a nested structure (to refuse non-finite data)."""
    if isinstance(obj, float):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _floats(v)
