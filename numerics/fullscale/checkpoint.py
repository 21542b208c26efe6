r"""Checkpoints of the full-scale solver: ``.npz`` files, never pickled.

A checkpoint holds the solver's state (:meth:`FullScaleMethod.state`), a JSON
record of the problem it is for and the problem's patterns:

* ``_meta``: the state's scalars and the problem (method, ``dual_step``,
  ``gated``, ``group``, ``beta``, ``n``, working dtype, the blocks' shape and
  fingerprints of ``F``, ``Y`` and ``D``, :func:`_fingerprint`), plus, when
  the caller passes a :class:`PatternRecord`, how ``D`` was made
  (``"patterns"``: count, the sampling asked and used, seed);
* ``_D``: the pattern mask, bit-packed along the samples (``n P / 8``
  bytes); ``_gates``: the ``(m, P)`` generators of ``D`` when recorded;
* the state's arrays under their own names.

A resume is refused (:class:`~bnconvex.numerics.errors.InputError`, naming the
first field that differs) unless every field of the problem matches.
:func:`saved_patterns` gives :func:`~bnconvex.numerics.fullscale.fit` the
patterns of a checkpoint, so that a resumed fit solves the program it
started on: sampled patterns need not come out the same twice (a network's
patterns depend on when its time-limited training stopped).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from bnconvex.numerics._array_api import Array, to_numpy
from bnconvex.numerics._validation import READ_ERRORS, one_line_message
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale._problem import Problem
from bnconvex.numerics.fullscale.method import FullScaleMethod

__all__ = ["Checkpoint", "PatternRecord", "load_checkpoint", "saved_patterns"]

#: entries per axis of the strided sample hashed by :func:`_fingerprint`
_SAMPLE_AXIS = 64
#: relative tolerance (of the absolute sum) for the data sums of a resume
_FINGERPRINT_RTOL = 1e-4
_TINY = float(np.finfo(np.float64).tiny)
#: values of fields that older checkpoints do not record
_META_DEFAULTS = {"dual_step": 1.0}
#: fields compared by fingerprint rather than equality
_DATA_FIELDS = ("F", "Y", "D")


@dataclasses.dataclass(frozen=True)
class PatternRecord:
    r"""How the patterns of a fit were made, kept in its checkpoints.

    Attributes
    ----------
    count : int
        Number of patterns ``P`` asked for.
    asked, sampling : str
        The sampling asked for (``"gaussian"`` or ``"network"``) and the one
        used (``fit`` falls back to Gaussian patterns when the time limit
        cannot pay for the network).
    seed : int or numpy.random.Generator
        Seed of the sampling (recorded when an integer).
    gates : Array or None
        ``(m, P)`` generators, :math:`D_i = 1[F g_i \ge 0]`.
    """

    count: int
    asked: str
    sampling: str
    seed: Any
    gates: Array | None = None

    def meta(self) -> dict[str, Any]:
        """Return the JSON part (everything but ``gates``)."""
        return {
            "count": int(self.count),
            "asked": self.asked,
            "sampling": self.sampling,
            "seed": _integer(self.seed),
        }

    def matches(self, saved: dict) -> bool:
        """Whether a checkpoint's ``"patterns"`` record is for the same request."""
        mine = self.meta()
        return all(saved.get(key) == mine[key] for key in ("count", "asked", "seed"))


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where and how often :func:`solve_fullscale` writes its state.

    Attributes
    ----------
    path : Path
    every : float
        Seconds between writes (at the end of an outer round; and at exit).
    record : PatternRecord or None
        How the patterns were made, written with every state.
    """

    path: Path
    every: float
    record: PatternRecord | None = None

    def save(self, solver: FullScaleMethod, pb: Problem) -> None:
        """Write the state atomically (temporary file, then rename)."""
        arrays, meta = solver.state()
        meta = {**meta, **_problem_meta(solver, pb)}
        data = {k: to_numpy(v) for k, v in arrays.items() if v is not None}
        data["_D"] = np.packbits(to_numpy(pb.op.Dmask) > 0.5, axis=0)
        if self.record is not None:
            meta["patterns"] = self.record.meta()
            if self.record.gates is not None:
                data["_gates"] = np.asarray(to_numpy(self.record.gates))
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, _meta=np.asarray(json.dumps(meta)), **data)
        tmp.replace(self.path)


def load_checkpoint(path: str | Path, solver: FullScaleMethod, pb: Problem) -> None:
    """Restore ``solver`` from ``path`` after checking it is for this problem.

    Compared: method, the AL's initial ``dual_step``, gated, group, ``beta``,
    ``n``, working dtype, the shape of the blocks and the fingerprints
    (:func:`_fingerprint`) of ``F``, ``Y`` and ``D``.
    """
    meta, data = _read(path)
    _check_resume(path, meta, _problem_meta(solver, pb))
    arrays = {
        k: pb.xp.asarray(v, dtype=pb.Y.dtype)
        for k, v in data.items()
        if not k.startswith("_")
    }
    solver.restore(arrays, meta)


def saved_patterns(
    path: str | Path, record: PatternRecord, shape: tuple[int, int], xp: ModuleType
) -> tuple[Array, Array | None, str] | None:
    """Return the patterns a checkpoint was written for, if it says how they were made.

    Parameters
    ----------
    path : path
        A checkpoint (``resume``).
    record : PatternRecord
        What this call asks for (``gates`` unused); the checkpoint's record
        must agree on count, asked sampling and seed.
    shape : (int, int)
        ``(n, m)`` of this call's features.
    xp : namespace
        Of the returned arrays.

    Returns
    -------
    (D, gates, sampling) or None
        The ``(n, P)`` bool mask (``P <= record.count``: sampling drops
        repeated patterns), the generators (None when not recorded) and
        the sampling used; None when the checkpoint records no patterns
        (written by a direct :func:`solve_fullscale` call, or before patterns
        were kept): then the caller samples them and the resume compares
        ``D``'s fingerprint as before.

    Raises
    ------
    InputError
        Unreadable checkpoint, or one for another ``n`` or other patterns.
    """
    n, m = shape
    meta, data = _read(path, ("_D", "_gates"))  # not the solver's state
    saved = meta.get("patterns")
    if not isinstance(saved, dict) or "_D" not in data:
        return None
    if meta.get("n") != n:
        _refuse(path, f"n differs (checkpoint {meta.get('n')!r}, this call {n!r})")
    if not record.matches(saved):
        mine = _describe(record.meta())
        _refuse(
            path,
            f"the patterns differ (checkpoint {_describe(saved)}, this call {mine})",
        )
    packed, gates = data["_D"], data.get("_gates")
    # at most the count asked (sampling drops repeated patterns)
    P = packed.shape[-1] if packed.ndim == 2 else 0
    if (
        packed.dtype != np.uint8
        or packed.shape != (-(-n // 8), P)
        or not 0 < P <= record.count
    ):
        _refuse(
            path,
            f"its pattern mask is not that of n = {n} samples and at "
            f"most {record.count} patterns",
        )
    if gates is not None and (
        gates.dtype.kind != "f" or gates.shape != (m, P) or not np.isfinite(gates).all()
    ):
        _refuse(path, f"its pattern generators are not ({m}, {P}) finite numbers")
    used = saved.get("sampling")
    if used not in ("gaussian", "network"):
        _refuse(path, f"its pattern sampling {used!r} is not 'gaussian' or 'network'")
    D = np.unpackbits(packed, axis=0, count=n).astype(bool)
    return xp.asarray(D), None if gates is None else xp.asarray(gates), used


def _integer(seed: Any) -> int | None:
    """Return an integer seed as a JSON number; None for a generator."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    return None


def _describe(patterns: dict) -> str:
    """``128 'network' patterns, seed 0``."""
    return (
        f"{patterns.get('count')!r} {patterns.get('asked')!r} patterns, "
        f"seed {patterns.get('seed')!r}"
    )


def _refuse(path: str | Path, what: str) -> None:
    """Raise the :class:`InputError` of a checkpoint for another problem."""
    raise InputError(
        f"`resume` checkpoint {str(path)!r} is for another problem: {what}"
    )


def _read(
    path: str | Path, names: tuple[str, ...] | None = None
) -> tuple[dict, dict[str, np.ndarray]]:
    """Return the JSON record and the arrays of a checkpoint (no pickles).

    Only the arrays ``names`` (those present) are read when given: an
    ``.npz`` is read entry by entry, and the solver's state (the AL's
    multipliers: hundreds of MB on CIFAR-10) is not needed for the patterns.
    """
    try:
        # our own handle: closed even when NumPy fails on a damaged archive
        with open(path, "rb") as handle:
            data = np.load(handle, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an archive")
            with data:
                meta = json.loads(str(data["_meta"]))
                wanted = [k for k in data.files if k != "_meta"]
                if names is not None:
                    wanted = [k for k in wanted if k in names]
                arrays = {k: data[k] for k in wanted}
        if not isinstance(meta, dict):
            raise ValueError("its `_meta` is not a JSON object")
    except READ_ERRORS as exc:  # truncated or damaged archives too
        raise InputError(
            f"`resume` must be a checkpoint .npz written by solve_fullscale; "
            f"got {str(path)!r} ({one_line_message(exc)})"
        ) from None
    return meta, arrays


def _dtype_name(xp: ModuleType, dtype) -> str:
    """Namespace-independent name of a working dtype (``"float32"``, ...)."""
    for name in ("float32", "float64"):
        if dtype == getattr(xp, name, None):
            return name
    return str(dtype)


def _fingerprint(A: Array, xp: ModuleType) -> list:
    r"""Cheap fingerprint of a 2-D array: three sums and a sample hash.

    With row weights :math:`w_j = (j+1)/n`, the values
    :math:`\sum_{jl} A_{jl}`, :math:`\sum_{jl} |A_{jl}|` and
    :math:`\sum_{jl} w_j A_{jl}` (order-sensitive, one GEMV) are computed in
    the array namespace; the strided sample ``A[::a, ::b]`` of at most
    ``64 x 64`` entries is hashed exactly (SHA-256 of its float64 values).
    """
    n, c = A.shape
    w = xp.reshape(xp.arange(1, n + 1, dtype=A.dtype) / n, (1, n))
    a, b = -(-n // _SAMPLE_AXIS), -(-c // _SAMPLE_AXIS)  # ceil: <= 64 per axis
    sample = to_numpy(A[::a, ::b])
    digest = hashlib.sha256(np.ascontiguousarray(sample, np.float64).tobytes())
    return [
        float(xp.sum(A)),
        float(xp.sum(xp.abs(A))),
        float(xp.sum(xp.matmul(w, A))),
        digest.hexdigest()[:32],
    ]


def _problem_meta(solver: FullScaleMethod, pb: Problem) -> dict:
    """Everything a checkpoint must agree on with the call that resumes it."""
    xp, op = pb.xp, pb.op
    return {
        "method": solver.name,
        "dual_step": solver.dual_step,
        "gated": pb.gated,
        "group": pb.group,
        "beta": pb.beta,
        "n": op.n,
        "dtype": _dtype_name(xp, pb.Y.dtype),
        "shape": list(solver.current()[0].shape),
        "F": _fingerprint(op.F, xp),
        "Y": _fingerprint(pb.Y, xp),
        "D": _fingerprint(op.Dmask, xp),
    }


def _same(field: str, saved, expected) -> bool:
    """Equal metadata; data sums agree to a rounding-level tolerance."""
    if field not in _DATA_FIELDS:
        return saved == expected
    if not isinstance(saved, list) or len(saved) != len(expected):
        return False
    try:
        tol = _FINGERPRINT_RTOL * max(abs(saved[1]), abs(expected[1]), _TINY)
        sums = all(
            abs(a - b) <= tol for a, b in zip(saved[:3], expected[:3], strict=True)
        )
    except TypeError:  # a hand-edited record: not numbers
        return False
    return sums and saved[3] == expected[3]


def _check_resume(path: str | Path, meta: dict, expected: dict) -> None:
    """Raise :class:`InputError` naming the first field that differs."""
    for field, value in expected.items():
        saved = meta.get(field, _META_DEFAULTS.get(field))
        if _same(field, saved, value):
            continue
        what = (
            f"the data `{field}` differs (fingerprint {saved} != {value})"
            if field in _DATA_FIELDS
            else f"{field} differs (checkpoint {saved!r}, this call {value!r})"
        )
        _refuse(path, what)
