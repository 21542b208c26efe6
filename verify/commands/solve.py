"""``bnconvex solve DATA --beta B``: globally optimal BN network via the convex program.

Steps: read DATA, whiten it (``U' = [U, 1/sqrt(n)]``), build the pattern set
(exact arrangement, sampled, or ``--patterns FILE``), solve the convex
program (paper.md R1) in convention A with ``beta_a`` (``beta / sqrt(n)`` for
``--bn std``), certify the result by the dual, rebuild the network's weights
and optionally refine and certify in mpmath.  Exit status 0 when the solver
reports ``optimal``, 1 otherwise, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import mpmath
import numpy as np
from bnconvex.numerics.errors import InputError
from bnconvex.verify._progress import progress_enabled
from bnconvex.verify.commands import _common as common

#: ``numerics.solvers.DEFAULT_SOLVER`` (not imported here: SciPy loads lazily;
#: a test checks that the two agree).
DEFAULT_SOLVER = "working-set"
#: Each of the project's exact solvers and the one to suggest when it stops short.
EXACT_SOLVERS = {"working-set": "ipm", "ipm": "working-set"}

__all__ = ["add_parser", "network_in_convention", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``solve`` subcommand."""
    p = subparsers.add_parser(
        "solve",
        help="train a BN-ReLU network to global optimality via its convex program",
        description="Solve the exact convex program of a two-layer BN-ReLU network "
        "on DATA (.npz with X and y, or .csv with the label in the last column), "
        "certify the optimum by duality and reconstruct the weights.",
    )
    common.add_problem_arguments(
        p,
        bn_default="a",
        bn_help="BN convention: a (l2-normalised, canonical) or std (PyTorch)",
    )
    p.add_argument(
        "--patterns",
        metavar="FILE",
        default=None,
        help="reuse a pattern set: .npy of shape (n, P), 0/1 or bool",
    )
    p.add_argument(
        "--save-patterns",
        metavar="FILE",
        default=None,
        help="write the pattern set used (.npy)",
    )
    p.add_argument(
        "--out",
        metavar="SOL.npz",
        default=None,
        help="write the network (W, gamma, alpha, v) and the convex blocks",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--solver",
        metavar="NAME",
        default=DEFAULT_SOLVER,
        help=f"convex solver plug-in (default {DEFAULT_SOLVER})",
    )
    p.add_argument(
        "--mp-certify",
        type=int,
        metavar="DPS",
        default=None,
        help="refine and certify the optimum in mpmath at DPS digits",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(run=run)


def network_in_convention(net: Any, n: int, convention: str) -> Any:
    r"""Express a convention-A network in ``convention`` with the same objective.

    Notes
    -----
    :math:`BN^{std} = \sqrt n\, BN^{a}`, so scaling :math:`\gamma, \alpha, v`
    by :math:`n^{-1/4}` keeps :math:`f(X)` and turns the penalty
    :math:`\tfrac{\beta_a}{2}(\gamma^2+\alpha^2+v^2)` into
    :math:`\tfrac{\beta_{std}}{2}n^{-1/2}(\gamma^2+\alpha^2+v^2)` with
    :math:`\beta_{std} = \sqrt n\,\beta_a`: the same number.
    """
    if convention == "a":
        return net
    c = float(n) ** -0.25
    return net.replace(
        gamma=net.gamma * c, alpha=net.alpha * c, v=net.v * c, convention="std"
    )


def _validate(args: argparse.Namespace) -> None:
    if args.mp_certify is not None and args.mp_certify < 15:
        raise InputError(
            f"`--mp-certify` must be at least 15 digits; got {args.mp_certify}"
        )
    common.check_out_file(args.out, "--out", ".npz")
    common.check_out_file(args.save_patterns, "--save-patterns", ".npy")
    from bnconvex.numerics import solvers

    if args.solver not in solvers.SOLVERS:
        known = ", ".join(sorted(solvers.SOLVERS))
        raise InputError(f"`--solver` {args.solver!r} is unknown; known: {known}")


def _solve(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from bnconvex.numerics.bn import convert_beta
    from bnconvex.numerics.certificate import certify_predictions
    from bnconvex.numerics.convex_program import ConvexProblem, predict
    from bnconvex.numerics.solvers import solve_convex
    from bnconvex.numerics.whitening import whiten

    n = X.shape[0]
    beta_a = convert_beta(args.beta, n, source=args.bn, target="a")
    wh = whiten(X)
    U = np.asarray(wh.U_prime, dtype=np.float64)
    D, complete = common.patterns_for(
        U, args.arrangements, seed=args.seed, patterns_file=args.patterns
    )
    problem = ConvexProblem(U, y, beta_a, D)
    sol = solve_convex(
        problem, solver=args.solver, verbose=progress_enabled(args.quiet or args.json)
    )
    cert = certify_predictions(
        problem,
        predict(problem, sol.S_plus, sol.S_minus),
        sol.objective,
        complete=complete,
        with_universal=True,
    )
    return {
        "whitening": wh,
        "D": D,
        "complete": complete,
        "problem": problem,
        "solution": sol,
        "certificate": cert,
        "beta_a": beta_a,
    }


def _summary(
    args: argparse.Namespace, res: dict[str, Any], net: Any, seconds: float
) -> dict[str, Any]:
    sol, cert = res["solution"], res["certificate"]
    lower = (
        max(float(sol.lower_bound), float(cert.global_lower_bound))
        if res["complete"]
        else float(cert.global_lower_bound)
    )
    obj = float(sol.objective)
    gap = obj - lower
    out: dict[str, Any] = {
        "objective": obj,
        "lower_bound": lower,
        "gap": gap,
        "relative_gap": gap / max(abs(obj), np.finfo(float).tiny),
        "bound_kind": "global" if res["complete"] else "universal",
        "pattern_lower_bound": float(sol.lower_bound),
        "neurons": int(net.m),
        "arrangements": int(res["D"].shape[1]),
        "arrangements_complete": bool(res["complete"]),
        "status": str(sol.status),
        "solver": sol.solver,
        "seconds": seconds,
        "bn_convention": args.bn,
        "beta": float(args.beta),
    }
    if args.bn == "std":
        out["beta_a"] = float(res["beta_a"])
    return out


def _mp_certificate(
    args: argparse.Namespace, X: np.ndarray, y: np.ndarray, res: dict[str, Any]
) -> dict[str, Any]:
    from bnconvex.numerics.mp_refine import certify_mp, refine_solution

    dps = args.mp_certify
    U = np.asarray(res["whitening"].U_prime, dtype=np.float64)
    mp_sol = refine_solution(
        X, y, res["beta_a"], res["D"], res["solution"], dps=dps, U_prime=U
    )
    cert = certify_mp(
        X, y, res["beta_a"], res["D"], mp_sol, dps=dps, complete=res["complete"]
    )
    return {
        "dps": dps,
        "digits": float(cert.digits),
        "primal": mpmath.nstr(cert.primal, dps),
        "dual_bound": mpmath.nstr(cert.dual_bound, dps),
        "gap": mpmath.nstr(cert.gap, 10),
        "bound_kind": cert.bound_kind,
        "kkt_residuals": {k: mpmath.nstr(v, 10) for k, v in cert.kkt_residuals.items()},
    }


def _write_outputs(
    args: argparse.Namespace, res: dict[str, Any], net: Any, summary: dict[str, Any]
) -> None:
    if args.save_patterns:
        path = common.check_out_file(args.save_patterns, "--save-patterns", ".npy")
        common.atomic_numpy_write(path, lambda tmp: np.save(tmp, res["D"]))
    if args.out:
        sol = res["solution"]
        arrays = {k: np.asarray(getattr(net, k)) for k in ("W", "gamma", "alpha", "v")}
        arrays.update(
            convention=np.asarray(net.convention),
            eps=np.asarray(0.0),
            S_plus=sol.S_plus,
            S_minus=sol.S_minus,
            D=res["D"],
            beta=np.asarray(args.beta),
            beta_a=np.asarray(res["beta_a"]),
            objective=np.asarray(summary["objective"]),
            lower_bound=np.asarray(summary["lower_bound"]),
        )
        path = common.check_out_file(args.out, "--out", ".npz")
        common.atomic_numpy_write(path, lambda tmp: np.savez(tmp, **arrays))


def run(args: argparse.Namespace) -> int:
    """Solve, certify, print; exit 0 when optimal, 1 otherwise."""
    from bnconvex.numerics.network import objective
    from bnconvex.numerics.reconstruct import convex_to_network
    from bnconvex.numerics.status import SolverStatus

    start = time.perf_counter()
    _validate(args)
    X, y = common.load_data(args.data)
    res = _solve(args, X, y)
    sol = res["solution"]
    net_a = convex_to_network(res["whitening"], sol.S_plus, sol.S_minus)
    net = network_in_convention(net_a, X.shape[0], args.bn)
    summary = _summary(args, res, net, 0.0)
    summary["network_objective"] = float(objective(net, X, y, args.beta))
    if args.mp_certify is not None:
        summary["mp_certificate"] = _mp_certificate(args, X, y, res)
    summary["seconds"] = time.perf_counter() - start
    _write_outputs(args, res, net, summary)
    (common.print_json if args.json else common.print_text)(summary)
    other = EXACT_SOLVERS.get(args.solver)
    if sol.status != SolverStatus.OPTIMAL and other is not None:
        print(
            f"bnconvex solve: {args.solver} stopped {sol.status} (certified "
            f"relative gap {sol.relative_gap:.1e}); --solver {other} is the other "
            "exact solver",
            file=sys.stderr,
        )
    return 0 if sol.status == SolverStatus.OPTIMAL else 1
