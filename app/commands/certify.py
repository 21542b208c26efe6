r"""``bnconvex certify NETWORK DATA --beta B``: a trained network's optimality gap.

Reads a network (``.npz`` with ``W, gamma, alpha, v``, or a PyTorch state dict
of Linear-BatchNorm1d-ReLU-Linear) and the data, computes the network's
training objective, and a certified lower bound on the global optimum from
the dual of the convex program (paper.md R1): with the complete arrangement
the bound is global, and the exact program is solved too, so that the output
gives the global optimum :math:`p^*` itself (``optimum``) and the network's
distance to it; with sampled patterns only the universal bound
:math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)` is valid for the network
(``bound_covers`` says what the pattern bound covers).  No bound printed is
below the universal bound (:func:`bnconvex.numerics.exact.certify_network_exact`).

The exact convex program assumes a BN variance offset :math:`\epsilon = 0`.
A PyTorch state dict does not store ``eps`` and loads with PyTorch's default
``1e-5`` (``--bn-eps`` overrides it).  The output reports ``bn_eps`` and why the
bound still holds (:func:`bnconvex.numerics.core.network.load_network`, Notes):
:math:`\gamma(h-\bar h)/\sqrt{\mathrm{var}+\epsilon} =
\gamma'(h-\bar h)/\operatorname{std}(h)` with :math:`|\gamma'| < |\gamma|`, so
the network equals an :math:`\epsilon = 0` network with a smaller penalty and
its objective (computed with :math:`\epsilon`) is bounded below by the
:math:`\epsilon = 0` global optimum.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import numpy as np
from bnconvex.app.commands import _common as common
from bnconvex.numerics.errors import InputError

__all__ = ["OPTIMAL_RTOL", "add_parser", "bn_eps_note", "run"]

#: ``status`` is ``"optimal"`` when the certified relative gap is at most this;
#: otherwise ``"gap"``: the network is suboptimal by at most ``gap``.
OPTIMAL_RTOL = 1e-6


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``certify`` subcommand."""
    p = subparsers.add_parser(
        "certify",
        help="objective of a trained network, certified lower bound and gap",
        description="Print a trained BN network's objective, a certified lower "
        "bound on the global optimum and the gap.",
    )
    p.add_argument("network", metavar="NETWORK", help=".npz or PyTorch state dict")
    common.add_problem_arguments(
        p,
        bn_default=None,
        bn_help="BN convention of NETWORK and --beta (default: the one "
        "stored in NETWORK; std for a PyTorch state dict)",
    )
    p.add_argument(
        "--bn-eps",
        type=_bn_eps_arg,
        default=None,
        metavar="EPS",
        help="BN eps of a PyTorch NETWORK (a state dict does not store it; "
        "default 1e-5, PyTorch's); ignored for .npz",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def _bn_eps_arg(text: str) -> float:
    """Argparse type of ``--bn-eps``: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0; got {text!r}")
    return value


def bn_eps_note(eps: float) -> str:
    """One line saying how the ``eps = 0`` program bounds a network with ``eps``."""
    if eps == 0:
        return "exact program assumes BN eps = 0, as this network has"
    return (
        f"exact program assumes BN eps = 0; this network has eps = {eps:g}, which "
        "equals an eps = 0 network with a smaller |gamma| (smaller penalty), so "
        "its objective is still bounded below by the eps = 0 optimum"
    )


def _load(args: argparse.Namespace) -> tuple[Any, np.ndarray, np.ndarray]:
    from bnconvex.numerics.core.network import load_network

    net = load_network(args.network, bn_eps=args.bn_eps)
    X, y = common.load_data(args.data)
    if args.bn is not None and args.bn != net.convention:
        net = net.replace(convention=args.bn)
    if net.d != X.shape[1]:
        raise InputError(
            f"`NETWORK` has input dimension d={net.d} but `DATA` has d={X.shape[1]}"
        )
    if net.K != 1:
        raise InputError(f"`NETWORK` must have a scalar output; got K={net.K}")
    return net, X, y


def run(args: argparse.Namespace) -> int:
    """Print objective, best lower bound, optimum and gap; exit status 0."""
    from bnconvex.numerics.core.bn import convert_beta
    from bnconvex.numerics.exact import certify_network_exact

    start = time.perf_counter()
    net, X, y = _load(args)
    try:
        res = certify_network_exact(
            net, X, y, args.beta, arrangements=args.arrangements, seed=args.seed
        )
    except InputError as exc:
        raise InputError(str(exc).replace("`net`", "`NETWORK`")) from None
    obj, lower = res.objective, res.lower_bound
    out: dict[str, Any] = {
        "objective": obj,
        "lower_bound": lower,
        "bound_kind": res.bound_kind,
        "gap": res.gap,
        "relative_gap": res.relative_gap,
        "optimum": res.optimum,
        "optimum_status": res.optimum_status,
        "distance_to_optimum": None if res.optimum is None else obj - res.optimum,
        "pattern_lower_bound": res.pattern_lower_bound,
        "pattern_relative_gap": res.pattern_relative_gap,
        "universal_bound": res.universal_bound,
        "bound_covers": res.covers,
        "neurons": int(net.m),
        "arrangements": int(res.D.shape[1]),
        "arrangements_complete": bool(res.complete),
        "status": "optimal" if res.gap <= OPTIMAL_RTOL * abs(obj) else "gap",
        "status_refers_to": f"relative_gap, against the {res.bound_kind} bound",
        "seconds": time.perf_counter() - start,
        "bn_convention": net.convention,
        "beta": float(args.beta),
        "bn_eps": float(net.eps),
        "bn_eps_note": bn_eps_note(float(net.eps)),
    }
    if net.convention == "std":
        out["beta_a"] = convert_beta(args.beta, X.shape[0], source="std", target="a")
    common.print_summary(out, args.json)
    return 0
