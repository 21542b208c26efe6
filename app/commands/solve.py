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
from bnconvex.app._progress import progress_enabled
from bnconvex.app.commands import _common as common
from bnconvex.numerics.dataio.atomic import atomic_save, atomic_savez
from bnconvex.numerics.errors import InputError

#: ``numerics.solvers.DEFAULT_SOLVER`` (not imported here: SciPy loads lazily;
#: a test checks that the two agree).
DEFAULT_SOLVER = "working-set"
#: Each of the project's exact solvers and the one to suggest when it stops short.
EXACT_SOLVERS = {"working-set": "ipm", "ipm": "working-set"}

__all__ = ["add_parser", "beta_max", "run"]


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
    common.add_tol_argument(p)
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


def _solve(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> Any:
    from bnconvex.numerics._validation import check_file
    from bnconvex.numerics.exact import fit_exact

    if args.patterns is not None:
        check_file(args.patterns, "--patterns")
    return fit_exact(
        X,
        y,
        args.beta,
        bn=args.bn,
        arrangements=args.arrangements,
        patterns=args.patterns,
        seed=args.seed,
        solver=args.solver,
        verbose=progress_enabled(args.quiet or args.json),
        **({} if args.tol is None else {"tol": args.tol}),
    )


def _summary(fit: Any, seconds: float) -> dict[str, Any]:
    sol = fit.solution
    out: dict[str, Any] = {
        "objective": fit.objective,
        "lower_bound": fit.lower_bound,
        "gap": fit.gap,
        "relative_gap": fit.relative_gap,
        "bound_kind": fit.bound_kind,
        "pattern_lower_bound": fit.pattern_lower_bound,
        "pattern_relative_gap": fit.pattern_gap,
        "neurons": int(fit.network.m),
        "arrangements": int(fit.D.shape[1]),
        "arrangements_complete": bool(fit.complete),
        "status": str(sol.status),
        "solver": sol.solver,
        "seconds": seconds,
        "bn_convention": fit.bn,
        "beta": fit.beta,
    }
    if fit.bn == "std":
        out["beta_a"] = fit.beta_a
    return out


def _mp_certificate(
    args: argparse.Namespace, X: np.ndarray, y: np.ndarray, fit: Any
) -> dict[str, Any]:
    from bnconvex.numerics.highprec.mp_refine import certify_mp, refine_solution

    dps = args.mp_certify
    U = np.asarray(fit.whitening.U_prime, dtype=np.float64)
    mp_sol = refine_solution(X, y, fit.beta_a, fit.D, fit.solution, dps=dps, U_prime=U)
    cert = certify_mp(X, y, fit.beta_a, fit.D, mp_sol, dps=dps, complete=fit.complete)
    return {
        "dps": dps,
        "digits": float(cert.digits),
        "primal": mpmath.nstr(cert.primal, dps),
        "dual_bound": mpmath.nstr(cert.dual_bound, dps),
        "gap": mpmath.nstr(cert.gap, 10),
        "bound_kind": cert.bound_kind,
        "kkt_residuals": {k: mpmath.nstr(v, 10) for k, v in cert.kkt_residuals.items()},
    }


def _write_outputs(args: argparse.Namespace, fit: Any, summary: dict[str, Any]) -> None:
    if args.save_patterns:
        path = common.check_out_file(args.save_patterns, "--save-patterns", ".npy")
        atomic_save(path, fit.D)
    if args.out:
        net, sol = fit.network, fit.solution
        arrays = {k: np.asarray(getattr(net, k)) for k in ("W", "gamma", "alpha", "v")}
        arrays.update(
            convention=np.asarray(net.convention),
            eps=np.asarray(0.0),
            S_plus=sol.S_plus,
            S_minus=sol.S_minus,
            D=fit.D,
            beta=np.asarray(args.beta),
            beta_a=np.asarray(fit.beta_a),
            objective=np.asarray(summary["objective"]),
            lower_bound=np.asarray(summary["lower_bound"]),
        )
        path = common.check_out_file(args.out, "--out", ".npz")
        atomic_savez(path, **arrays)


def beta_max(fit: Any, y: np.ndarray) -> float:
    r"""Smallest ``beta`` (in ``fit.bn``) at which the zero network is optimal.

    :math:`\beta_{\max} = \max_i \max_{s\in K_i,\|s\|\le 1}|y^TD_iU's|`,
    the certificate's constraint bound at :math:`v = y`
    (:func:`bnconvex.numerics.core.certificate.dual_constraint_bound`,
    rigorous: inflated by :math:`4(n+m)u`), in convention A, times
    :math:`\sqrt n` for ``std``.  Over the patterns used: with the complete
    arrangement it is the threshold of the BN network itself.
    """
    from bnconvex.numerics.core.certificate import dual_constraint_bound

    U = np.asarray(fit.whitening.U_prime, dtype=np.float64)
    value = dual_constraint_bound(U, fit.D, np.asarray(y, dtype=np.float64))
    return value * (np.sqrt(U.shape[0]) if fit.bn == "std" else 1.0)


def run(args: argparse.Namespace) -> int:
    """Solve, certify, print; exit 0 when optimal, 1 otherwise."""
    from bnconvex.numerics.status import SolverStatus

    start = time.perf_counter()
    _validate(args)
    X, y = common.load_data(args.data)
    fit = _solve(args, X, y)
    sol = fit.solution
    summary = _summary(fit, 0.0)
    summary["beta_max"] = beta_max(fit, y)
    summary["network_objective"] = fit.network_objective
    if args.mp_certify is not None:
        summary["mp_certificate"] = _mp_certificate(args, X, y, fit)
    summary["seconds"] = time.perf_counter() - start
    _write_outputs(args, fit, summary)
    common.print_summary(summary, args.json)
    if sol.status == SolverStatus.OPTIMAL:
        return 0
    other = EXACT_SOLVERS.get(args.solver)
    hint = f"; --solver {other} is the other exact solver" if other else ""
    print(
        f"bnconvex solve: the solve stopped short (exit status 1): {args.solver} "
        f"ended {sol.status}, certified relative gap {sol.relative_gap:.1e}{hint}",
        file=sys.stderr,
    )
    return 1
