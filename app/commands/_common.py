"""Helpers shared by ``bnconvex solve`` and ``bnconvex certify`` (not API).

Input problems become :class:`~bnconvex.numerics.errors.InputError` with one
line naming the argument (exit status 2); nothing is written before every
input has been read and checked.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from bnconvex.numerics._validation import (
    check_beta,
    check_data,
    check_output_path,
)
from bnconvex.numerics.errors import InputError

__all__ = [
    "add_problem_arguments",
    "add_tol_argument",
    "arrangements_arg",
    "beta_arg",
    "check_out_file",
    "load_data",
    "print_json",
    "print_text",
    "tol_arg",
]


def beta_arg(text: str) -> float:
    """Argparse type of ``--beta``: a positive finite number."""
    try:
        return check_beta(float(text))
    except (ValueError, InputError):
        raise argparse.ArgumentTypeError(
            f"must be a positive finite number; got {text!r}"
        ) from None


def add_tol_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--tol``: the target certified relative gap of an exact solve."""
    p.add_argument(
        "--tol",
        type=tol_arg,
        default=None,
        metavar="RTOL",
        help="target certified relative gap of the exact solve over the patterns "
        "(default: the solver's own, 1e-9 for working-set)",
    )


def tol_arg(text: str) -> float:
    """Argparse type of ``--tol``: a number in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a relative gap in (0, 1), e.g. 1e-8; got {text!r}"
        )
    return value


def arrangements_arg(text: str) -> str | int:
    """Argparse type of ``--arrangements``: ``exact`` or a positive sample count."""
    if text == "exact":
        return "exact"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be 'exact' or a positive number of sampled patterns; got {text!r}"
        )
    return value


def add_problem_arguments(
    p: argparse.ArgumentParser, *, bn_default: str | None, bn_help: str
) -> None:
    """Add ``DATA``, ``--beta``, ``--bn``, ``--arrangements`` and ``--seed`` to ``p``.

    The arguments every command on one convex program shares (``solve``,
    ``certify``); ``bn_default`` and ``bn_help`` are the command's own.
    """
    p.add_argument("data", metavar="DATA", help=".npz (X, y) or .csv data file")
    p.add_argument(
        "--beta",
        type=beta_arg,
        required=True,
        help="weight-decay coefficient (> 0) in the --bn convention",
    )
    p.add_argument("--bn", choices=("a", "std"), default=bn_default, help=bn_help)
    p.add_argument(
        "--arrangements",
        type=arrangements_arg,
        default="exact",
        metavar="exact|N",
        help="enumerate all activation patterns (default) or sample N",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of pattern sampling")



def load_data(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate ``DATA`` (``.npz`` with X and y/Y, or ``.csv``).

    Returns float64 ``X`` (n x d, n >= 2, finite) and scalar labels ``y`` (n,).
    """
    from bnconvex.numerics.dataio.data import load_dataset

    X, y = load_dataset(path)  # a missing file is an InputError naming `DATA`
    X, y = check_data(X, y, name_X="DATA X", name_y="DATA y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(
            f"`DATA` labels must be one column (scalar output); got shape {y.shape}"
        )
    return X, y


def check_out_file(path: str | None, name: str, suffix: str) -> Path | None:
    """Check an output file name before any work is done."""
    if path is None:
        return None
    return Path(check_output_path(path, name, suffix=suffix))


def _finite_or_str(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def print_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on stdout (non-finite floats as strings)."""
    print(json.dumps({k: _finite_or_str(v) for k, v in obj.items()}))


def print_text(obj: dict[str, Any], prefix: str = "") -> None:
    """Print ``key  value`` lines for a human reader (nested keys dotted)."""
    width = max(len(prefix + k) for k in obj)
    for key, value in obj.items():
        if isinstance(value, dict):
            print_text(value, prefix=f"{prefix}{key}.")
            continue
        shown = f"{value:.12g}" if isinstance(value, float) else value
        print(f"{(prefix + key).ljust(width)}  {shown}")


def bound_statements(out: dict[str, Any]) -> dict[str, str]:
    """Return the two statements of a summary, for the text output.

    How well the program over the patterns used is solved (kind
    ``patterns``), and how far the objective is from the bound valid for every
    network (kind ``out["bound_kind"]``): with sampled patterns these differ,
    e.g. ``1e-14`` over the patterns and ``0.18`` from the universal bound.
    """
    P = out["arrangements"]
    return {
        "over_the_patterns": (
            f"relative gap {out['pattern_relative_gap']:.1e} over these {P} patterns"
        ),
        "for_every_network": (
            f"relative gap {out['relative_gap']:.2g} from the {out['bound_kind']} bound"
        ),
    }


def print_summary(out: dict[str, Any], as_json: bool) -> None:
    """Print a solve/certify summary: JSON, or text with :func:`bound_statements`."""
    if as_json:
        print_json(out)
    else:
        print_text({**out, **bound_statements(out)})
