"""The same convex BN program solved by bnconvex's full-scale solver and by peers.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_peers.py \\
        --sizes 200x10x64 500x10x128 1000x10x256 --runs 3 \\
        --out benchmarks/results/peers.json

Solvers: ``fullscale`` (:func:`bnconvex.numerics.fullscale.solve_fullscale`),
``ipm`` and ``working-set`` (``solve_convex(..., solver=...)``),
``cvxpy-clarabel``, and the peers ``adelie`` and ``pyscnn``, which run in
their own venvs (``make_envs.sh``).  ``--merge`` adds runs to the instances already in
``--out`` and keeps the other solvers' runs (the reference is recomputed from
all of them).

Each size ``NxDxP`` makes one instance (seeded): ``X`` Gaussian ``n x d``,
``y = sin(X w) + 0.1 noise``, features ``U' = [U, 1/sqrt(n)]`` from the centred
SVD, ``P`` sampled patterns saved in the instance file (the *same pattern file*
for every solver), and ``beta = 0.1 * beta_max`` where ``beta_max`` is the
smallest beta for which zero is optimal (exact per-pattern cone norms of
``U'^T D_i y``), the usual way to place a group-lasso benchmark on its path.

Every run is a fresh ``python`` process (``--worker``), so the whole-process
time includes interpreter start, imports and (for CVXPY) canonicalisation; the
worker also reports its in-process solve time.  Success = relative objective
error <= 1e-6 against the reference AND cone violation <= 1e-6.  Reference =
Clarabel's objective at a point with cone violation <= 1e-8 (checked against
bnconvex's certified lower bound in the results), else bnconvex's certified
value.  Medians over ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TMP = HERE / "results" / "tmp"
SUCCESS_TOL = 1e-6


# ----------------------------------------------------------------- instances
def make_instance(
    n: int, d: int, P: int, seed: int = 0, program: str = "peers"
) -> Path:
    """Write the instance (features, labels, patterns, beta); return its path."""
    if program == "scale":
        return make_scale_instance(n, d, P, seed)
    from bnconvex.numerics.core.certificate import dual_constraint_bound
    from bnconvex.numerics.core.whitening import whiten
    from bnconvex.numerics.fullscale import sample_patterns

    path = TMP / f"peers_n{n}_d{d}_P{P}_s{seed}.npz"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d) / np.sqrt(d) * 2) + 0.1 * rng.standard_normal(
        n
    )
    F = np.asarray(whiten(X).U_prime)
    D, _ = sample_patterns(F, P, seed=seed)
    beta = 0.1 * dual_constraint_bound(F, D, y)
    TMP.mkdir(parents=True, exist_ok=True)
    np.savez(path, F=F, y=y, D=D, beta=beta)
    return path


def make_scale_instance(n: int, d: int, P: int, seed: int = 0) -> Path:
    """The program of the scale issue (issue 12): ``beta = 1`` (convention A).

    ``X`` Gaussian ``n x d`` with column scales ``linspace(3, 0.3, d)`` plus
    0.5, ``y = sin(x_1) + 0.3`` noise, ``U'`` from the centred SVD, ``P``
    Gaussian-sampled patterns of ``U'``.
    """
    from bnconvex.numerics.core.whitening import whiten
    from bnconvex.numerics.fullscale import sample_patterns

    path = TMP / f"scale_n{n}_d{d}_P{P}_s{seed}.npz"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.linspace(3.0, 0.3, d) + 0.5
    y = np.sin(X[:, 0]) + 0.3 * rng.standard_normal(n)
    F = np.asarray(whiten(X).U_prime)
    D, _ = sample_patterns(F, P, seed=seed)
    TMP.mkdir(parents=True, exist_ok=True)
    np.savez(path, F=F, y=y, D=D, beta=1.0, program="scale")
    return path


# ------------------------------------------------------------------- workers
def _cone_violation(F, D, Sp, Sm) -> float:
    E = np.where(D, 1.0, -1.0)
    return float(max(0.0, np.max(-E * (F @ Sp)), np.max(-E * (F @ Sm))))


def _objective(F, y, D, beta, Sp, Sm) -> float:
    pred = np.sum(D * (F @ (Sp - Sm)), axis=1)
    norms = np.linalg.norm(Sp, axis=0).sum() + np.linalg.norm(Sm, axis=0).sum()
    return float(0.5 * np.sum((pred - y) ** 2) + beta * norms)


def _our_result(sol, seconds: float, **extra):
    """Worker output of one of bnconvex's solutions (blocks as columns)."""
    facts = {
        "status": str(sol.status),
        "certified_rel_gap": sol.relative_gap,
        "lower_bound": sol.lower_bound,
        "iterations": sol.iterations,
    }
    return sol.S_plus.T, sol.S_minus.T, seconds, {**facts, **extra}


def worker_fullscale(F, y, D, beta, time_limit):
    from bnconvex.numerics.fullscale import solve_fullscale

    t = time.perf_counter()
    sol = solve_fullscale(
        F,
        y,
        beta,
        D,
        tol=SUCCESS_TOL,
        viol_tol=SUCCESS_TOL,
        time_limit=time_limit,
        max_iter=10**7,
    )
    return _our_result(sol, time.perf_counter() - t, method=sol.method)


def worker_clarabel(F, y, D, beta, time_limit):
    import cvxpy as cp

    t = time.perf_counter()
    m, P = F.shape[1], D.shape[1]
    Sp, Sm = cp.Variable((m, P)), cp.Variable((m, P))
    Df = D.astype(float)
    E = 2 * Df - 1
    pred = cp.sum(cp.multiply(Df, F @ (Sp - Sm)), axis=1)
    norms = cp.sum(cp.norm(Sp, 2, axis=0)) + cp.sum(cp.norm(Sm, 2, axis=0))
    prob = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(pred - y) + beta * norms),
        [cp.multiply(E, F @ Sp) >= 0, cp.multiply(E, F @ Sm) >= 0],
    )
    prob.solve(solver="CLARABEL", time_limit=time_limit)
    sec = time.perf_counter() - t
    return (
        Sp.value,
        Sm.value,
        sec,
        {"status": prob.status, "solver_seconds": prob.solver_stats.solve_time},
    )


def _worker_plugin(solver, F, y, D, beta, time_limit, tol=SUCCESS_TOL):
    """One of bnconvex's ``solve_convex`` plug-ins at certified tolerance ``tol``."""
    from bnconvex.numerics.core.convex_program import ConvexProblem
    from bnconvex.numerics.solvers import solve_convex

    t = time.perf_counter()
    sol = solve_convex(
        ConvexProblem(F, y, beta, D),
        solver=solver,
        tol=tol,
        max_iter=10**5,  # total iterations: the time limit decides
        time_limit=time_limit,
    )
    return _our_result(
        sol,
        time.perf_counter() - t,
        dropped_patterns=len(sol.dropped_patterns),
        history=sol.history[-1:] if solver.startswith("working-set") else [],
    )


def worker_ipm(F, y, D, beta, time_limit):
    """``solve_convex(..., solver="ipm")``: barrier method with polish."""
    return _worker_plugin("ipm", F, y, D, beta, time_limit)


def worker_working_set(F, y, D, beta, time_limit):
    """``solve_convex(..., solver="working-set")``: working sets around a PD IPM."""
    return _worker_plugin("working-set", F, y, D, beta, time_limit)


#: Certified relative gap asked of ``working-set`` on the scale program (issue 12).
SCALE_TOL = 1e-8


def worker_working_set_scale(F, y, D, beta, time_limit):
    """``working-set`` at certified relative gap ``SCALE_TOL`` (issue 12, target a)."""
    return _worker_plugin("working-set", F, y, D, beta, time_limit, tol=SCALE_TOL)


def worker_adelie_default(F, y, D, beta, time_limit):
    """adelie as in issue 12: default tolerances, a 4-point path ending at beta/n.

    The path is geometric from adelie's ``lmda_max`` (the smallest lambda at
    which every group is zero without constraints, ``max_g ||X_g^T y|| / n``)
    to ``beta / n``; the timed solve is the whole path.
    """
    import adelie as ad

    t = time.perf_counter()
    n, m = F.shape
    P = D.shape[1]
    X, cons = _adelie_program(F, D, {})
    lmda_max = float(np.linalg.norm((X.T @ y).reshape(2 * P, m), axis=1).max()) / n
    state = ad.grpnet(
        X,
        ad.glm.gaussian(y),
        constraints=cons,
        groups=np.arange(0, 2 * P * m, m),
        penalty=np.ones(2 * P),
        lmda_path=np.geomspace(max(lmda_max, beta / n), beta / n, 4),
        progress_bar=False,
    )
    sec = time.perf_counter() - t
    b = np.asarray(state.betas[-1].toarray()).ravel().reshape(2 * P, m)
    return b[:P].T, b[P:].T, sec, {"adelie": ad.__version__, "path": 4}


#: adelie's per-group constraint solver tolerances, tightest first.  The first
#: is tightened from the defaults (1e-9 / 1e-7 / 1e-7); tighter values
#: (1e-12 / 1e-11) make adelie raise in ``constraint->solve_zero()`` at
#: n = 200, and the first raises at n = 2,000, P = 256 (measured 2026-11-25),
#: so the worker falls back to the next setting and records which one ran.
ADELIE_CONFIG_LADDER = [
    {"max_iters": 1000, "tol": 1e-12, "nnls_tol": 1e-10, "pinball_tol": 1e-10},
    {"max_iters": 1000, "tol": 1e-11, "nnls_tol": 1e-9, "pinball_tol": 1e-9},
    {"max_iters": 1000, "tol": 1e-9, "nnls_tol": 1e-7, "pinball_tol": 1e-7},
]


def _adelie_program(F, D, options: dict):
    """adelie's design ``[D_i U']_i [-D_i U']_i`` and one linear cone per group.

    ``options`` go to ``ad.constraint.linear`` (e.g. ``configs``).
    """
    import adelie as ad

    n, P = F.shape[0], D.shape[1]
    Df = D.astype(float)
    blocks = [Df[:, i : i + 1] * F for i in range(P)]
    X = np.asfortranarray(np.hstack(blocks + [-b for b in blocks]))
    cons = [
        ad.constraint.linear(
            np.ascontiguousarray((2 * Df[:, i : i + 1] - 1) * F),
            np.zeros(n),
            np.full(n, np.inf),
            **options,
        )
        for i in list(range(P)) * 2
    ]
    return X, cons


def _adelie_once(F, y, D, beta, configs):
    """adelie's group lasso with one linear cone constraint per group.

    adelie minimises ``1/(2n) ||y - X b||^2 + lmda sum_g ||b_g||`` (unit
    observation weights summing to one, ``penalty = 1``), so the program maps
    to ``X = [D_i U']_i  [-D_i U']_i`` with ``lmda = beta / n``; group ``i``
    carries the constraint ``(2 D_i - 1) U' s >= 0``.
    """
    import adelie as ad

    t = time.perf_counter()
    n, m = F.shape
    P = D.shape[1]
    X, cons = _adelie_program(F, D, {"configs": configs})
    state = ad.grpnet(
        X,
        ad.glm.gaussian(y),
        constraints=cons,
        groups=np.arange(0, 2 * P * m, m),
        penalty=np.ones(2 * P),
        lmda_path=np.array([beta / n]),
        intercept=False,
        early_exit=False,
        tol=1e-14,
        progress_bar=False,
    )
    sec = time.perf_counter() - t
    b = np.asarray(state.betas[-1].toarray()).ravel().reshape(2 * P, m)
    return (
        b[:P].T,
        b[P:].T,
        sec,
        {"adelie": ad.__version__, "numpy": np.__version__, "configs": configs},
    )


def worker_adelie(F, y, D, beta, time_limit):
    """adelie at the tightest constraint tolerances it accepts (see the ladder).

    The timed solve is the one that returned; failed attempts are reported in
    ``failed_configs`` with their seconds (not counted in ``solve_seconds``, but
    included in the whole-process time).
    """
    failed = []
    for configs in ADELIE_CONFIG_LADDER:
        t = time.perf_counter()
        try:
            Sp, Sm, sec, extra = _adelie_once(F, y, D, beta, configs)
        except RuntimeError as exc:
            failed.append(
                {
                    "configs": configs,
                    "seconds": time.perf_counter() - t,
                    "error": str(exc)[:120],
                }
            )
            continue
        return Sp, Sm, sec, {**extra, "failed_configs": failed}
    raise RuntimeError(f"adelie failed at every setting: {failed}")


def worker_pyscnn(F, y, D, beta, time_limit):
    """pyscnn's ``ConvexReLU`` + ``NeuronGL1`` solved by its ``AL`` solver.

    pyscnn makes the patterns from gates, ``D = 1(X G >= 0)``: the gates are
    the generators :func:`sample_patterns` drew for the instance file (checked
    to reproduce ``D`` exactly).  Data are passed as ``U'`` (no unitising, no
    bias), ``lam = beta / n`` (pyscnn's loss is the mean squared error / 2).
    """
    from bnconvex.numerics.fullscale import sample_patterns
    from scnn.metrics import Metrics
    from scnn.models import ConvexReLU
    from scnn.optimize import optimize_model
    from scnn.regularizers import NeuronGL1
    from scnn.solvers import AL

    Dg, G = sample_patterns(F, D.shape[1], seed=0)
    if not np.array_equal(np.asarray(Dg), D):
        raise RuntimeError("gates do not reproduce the instance's patterns")
    t = time.perf_counter()
    model = ConvexReLU(np.asarray(G, dtype=float))
    model, _ = optimize_model(
        model,
        AL(model, tol=1e-10, constraint_tol=1e-10),
        Metrics(),
        F,
        y[:, None],
        regularizer=NeuronGL1(beta / F.shape[0]),
        return_convex=True,
        unitize_data=False,
        dtype="float64",
        seed=0,
    )
    sec = time.perf_counter() - t
    # pyscnn sorts the (unique) patterns: put its blocks back in D's order.
    order = _column_order(F @ model.G >= 0, D)
    V, W = (np.asarray(p)[0][order] for p in model.parameters)
    return V.T, W.T, sec, {"pyscnn": "0.0.10"}


def _column_order(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``order`` with ``A[:, order] == B`` for two bool matrices (same columns)."""
    index = {col.tobytes(): j for j, col in enumerate(A.T)}
    return np.array([index[col.tobytes()] for col in B.T])


WORKERS = {
    "fullscale": worker_fullscale,
    "cvxpy-clarabel": worker_clarabel,
    "ipm": worker_ipm,
    "working-set": worker_working_set,
    "adelie": worker_adelie,
    "pyscnn": worker_pyscnn,
    "working-set-1e-8": worker_working_set_scale,
    "adelie-default": worker_adelie_default,
}
#: Peers that run in their own venv (``make_envs.sh``), by interpreter path.
ENV_PYTHON = {
    name: HERE / "envs" / name.split("-")[0] / "bin" / "python"
    for name in ("adelie", "pyscnn", "adelie-default")
}


def run_worker(solver: str, path: str, time_limit: float) -> None:
    """Solve one instance and print one JSON line (objective recomputed here)."""
    with np.load(path) as data:
        F, y, D, beta = data["F"], data["y"], data["D"], float(data["beta"])
    Sp, Sm, sec, extra = WORKERS[solver](F, y, D, beta, time_limit)
    out = {"solve_seconds": sec, **extra}
    if Sp is not None:
        out["objective"] = _objective(F, y, D, beta, Sp, Sm)
        out["violation"] = _cone_violation(F, D, Sp, Sm)
    print(json.dumps(out))


# -------------------------------------------------------------------- driver
#: Seconds a worker may run beyond ``--time-limit`` before it is killed
#: (adelie has no time limit of its own; CVXPY's is Clarabel's).
KILL_GRACE = 60.0


def _one_run(solver: str, path: Path, time_limit: float) -> dict:
    t = time.perf_counter()
    try:
        proc = _spawn(solver, path, time_limit)
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - t
        return {
            "error": [f"killed: no result after {wall:.0f} s"],
            "process_seconds": wall,
        }
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:], "process_seconds": wall}
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "process_seconds": wall}


def _spawn(solver: str, path: Path, time_limit: float):
    return subprocess.run(
        [
            str(ENV_PYTHON.get(solver, sys.executable)),
            __file__,
            "--worker",
            solver,
            str(path),
            "--time-limit",
            str(time_limit),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=time_limit + KILL_GRACE,
    )


def _reference(runs: dict) -> tuple[float, str]:
    """Clarabel's objective at violation <= 1e-8, else our certified value."""
    theirs = [
        r
        for r in runs.get("cvxpy-clarabel", [])
        if r.get("violation", 1.0) <= 1e-8 and "objective" in r
    ]
    if theirs:
        return min(r["objective"] for r in theirs), "cvxpy-clarabel (violation <= 1e-8)"
    for name in ("working-set-1e-8", "working-set", "ipm", "fullscale"):
        ours = [r for r in runs.get(name, []) if r.get("status") == "optimal"]
        if ours:
            best = min(ours, key=lambda r: r["objective"])
            gap = best.get("certified_rel_gap", SUCCESS_TOL)
            return best["objective"], f"{name} (certified relative gap {gap:.1e})"
    return float("nan"), "none"


def _summary(runs: list[dict], ref: float) -> dict:
    ok = [r for r in runs if "objective" in r]
    for r in ok:
        r["rel_err"] = abs(r["objective"] - ref) / abs(ref)
        r["success"] = r["rel_err"] <= SUCCESS_TOL and r["violation"] <= SUCCESS_TOL

    def med(key: str) -> float | None:
        return statistics.median(r[key] for r in ok) if ok else None

    return {
        "runs": runs,
        "median_process_seconds": med("process_seconds"),
        "median_solve_seconds": med("solve_seconds"),
        "median_rel_err": med("rel_err"),
        "median_violation": med("violation"),
        "all_success": bool(ok) and all(r["success"] for r in ok),
    }


def markdown_table(record: dict) -> str:
    """The README table of a results file."""
    lines = [
        "| n | d | P | solver | runs | process s (median) | solve s (median) "
        "| rel. error (median) | violation (median) | every run met 1e-6 | "
        "Clarabel/this (process) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for inst in record["instances"]:
        sol = inst["solvers"]
        theirs = sol.get("cvxpy-clarabel", {}).get("median_process_seconds")
        for name, s in sol.items():
            ours = s["median_process_seconds"]
            shown = ""
            if name != "cvxpy-clarabel" and ours and theirs:
                shown = f"{theirs / ours:.2f}x"
            size = f"| {inst['n']} | {inst['d']} | {inst['P']} "
            head = size + f"| {name} | {len(s['runs'])} "
            if ours is None:  # no run returned a point
                why = "; ".join(str(r.get("error", ["?"])[0]) for r in s["runs"])
                lines.append(head + f"| - | - | - | - | no ({why}) | |")
                continue
            lines.append(
                head + f"| {ours:.1f} | {s['median_solve_seconds']:.1f} "
                f"| {s['median_rel_err']:.1e} | {s['median_violation']:.1e} "
                f"| {'yes' if s['all_success'] else 'no'} | {shown} |"
            )
    return "\n".join(lines)


def _find_instance(
    record: dict, n: int, d: int, P: int, program: str = "peers"
) -> dict | None:
    """The instance of ``record`` drawn with ``(n, d, P)`` and ``program``, if any."""
    for inst in record["instances"]:
        same = (inst["n"], inst["d"], inst["P_drawn"]) == (n, d, P)
        if same and inst.get("program", "peers") == program:
            return inst
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", nargs="+", default=["200x10x64", "500x10x128", "1000x10x256"]
    )
    ap.add_argument("--solvers", nargs="+", default=list(WORKERS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument(
        "--program",
        choices=["peers", "scale"],
        default="peers",
        help="instance recipe: peers (beta = 0.1 beta_max) or scale (issue 12)",
    )
    ap.add_argument("--out", default=str(HERE / "results" / "peers.json"))
    ap.add_argument("--worker", nargs=2, metavar=("SOLVER", "INSTANCE"))
    ap.add_argument("--table", metavar="RESULTS", help="print the README table")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="add the runs to the instances already in --out (other solvers kept)",
    )
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.table).read_text())))
        return 0
    if args.worker:
        run_worker(args.worker[0], args.worker[1], args.time_limit)
        return 0
    sys.path.insert(0, str(HERE))
    from _machine import machine_facts
    from bnconvex.numerics.dataio.atomic import atomic_write_json

    record = {
        "benchmark": "bench_peers",
        "machine": machine_facts(),
        "success_tol": SUCCESS_TOL,
        "instances": [],
    }
    if args.merge and Path(args.out).exists():
        record = json.loads(Path(args.out).read_text())
        record.setdefault("merged", []).append(
            {"solvers": args.solvers, "machine": machine_facts()}
        )
    for size in args.sizes:
        n, d, P = (int(v) for v in size.split("x"))
        path = make_instance(n, d, P, program=args.program)
        with np.load(path) as data:
            beta, P_eff = float(data["beta"]), int(data["D"].shape[1])
        old = _find_instance(record, n, d, P, args.program)
        runs = {s: v["runs"] for s, v in old["solvers"].items()} if old else {}
        fresh: dict[str, list] = {s: [] for s in args.solvers}
        for _ in range(args.runs):  # interleaved, so a change of load hits all alike
            for s in args.solvers:
                fresh[s].append(_one_run(s, path, args.time_limit))
        runs.update(fresh)
        ref, ref_src = _reference(runs)
        inst = {
            "program": args.program,
            "n": n,
            "d": d,
            "P_drawn": P,
            "P": P_eff,
            "beta": beta,
            "reference": ref,
            "reference_source": ref_src,
            "solvers": {s: _summary(r, ref) for s, r in runs.items()},
        }
        if old:
            record["instances"][record["instances"].index(old)] = inst
        else:
            record["instances"].append(inst)
        print(
            json.dumps({k: inst[k] for k in ("n", "d", "P", "reference")}),
            {
                s: (v["median_process_seconds"], v["median_rel_err"], v["all_success"])
                for s, v in inst["solvers"].items()
            },
            flush=True,
        )
        atomic_write_json(args.out, record, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
