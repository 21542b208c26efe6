"""Input validation shared by every public entry point (``_<func>_iv`` style).

Each helper raises :class:`~bnconvex.numerics.errors.InputError` with one line
that names the argument, what was wrong and what was received.  Nothing is
coerced silently: integer and boolean arrays are accepted and converted to
floating point (that is lossless for the sizes used here), anything else that
is not a real floating array is rejected.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
import zlib
from typing import Any

import numpy as np
from bnconvex.numerics.errors import InputError

__all__ = [
    "available_memory",
    "check_beta",
    "check_data",
    "check_file",
    "check_finite",
    "check_labels",
    "check_matrix",
    "check_output_dir",
    "check_output_path",
    "check_patterns",
    "check_positive_int",
    "check_positive_real",
    "check_real_array",
    "check_resources",
    "load_npz_arrays",
    "load_numpy_file",
    "one_line_message",
]


def _real_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a NumPy array of a real (float, int or bool) dtype."""
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or arr.dtype == bool
    ):
        raise InputError(
            f"`{name}` must be a real numeric array; got dtype={arr.dtype}"
        )
    return arr


def _finite_float64(arr: np.ndarray, name: str) -> np.ndarray:
    """Return ``arr`` as float64, or raise naming how many entries are not finite."""
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr)
    if not np.all(finite):
        bad = int(arr.size - np.count_nonzero(finite))
        raise InputError(f"`{name}` contains {bad} NaN or infinite value(s)")
    return arr


def check_real_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a finite float64 array of any shape, or raise."""
    return _finite_float64(_real_array(value, name), name)


def check_matrix(
    X: Any, name: str = "X", *, min_rows: int = 1, columns: int | None = None
) -> np.ndarray:
    """Return ``X`` as a 2-D float64 NumPy array or raise :class:`InputError`.

    ``columns``, when given, is the required number of columns (the input
    width of a network).
    """
    arr = _real_array(X, name)
    if arr.ndim != 2:
        raise InputError(
            f"`{name}` must be a 2-D array (n samples x d features); "
            f"got ndim={arr.ndim}"
        )
    if arr.shape[0] < min_rows:
        raise InputError(
            f"`{name}` must have at least {min_rows} rows (samples); got {arr.shape[0]}"
        )
    if arr.shape[1] < 1:
        raise InputError(
            f"`{name}` must have at least one column; got shape {arr.shape}"
        )
    if columns is not None and arr.shape[1] != columns:
        raise InputError(f"`{name}` must have shape (n, {columns}); got {arr.shape}")
    return _finite_float64(arr, name)


def check_labels(y: Any, n: int, name: str = "y") -> np.ndarray:
    """Return labels as float64, shape ``(n,)`` or ``(n, K)``."""
    arr = _real_array(y, name)
    if arr.ndim not in (1, 2):
        raise InputError(
            f"`{name}` must be 1-D (n,) or 2-D (n, K); got ndim={arr.ndim}"
        )
    if arr.shape[0] != n:
        raise InputError(
            f"`{name}` must have one entry per sample (n={n}); "
            f"got length {arr.shape[0]}"
        )
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"`{name}` contains NaN or infinite values")
    return arr


def check_data(
    X: Any, y: Any, *, name_X: str = "X", name_y: str = "y"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a data set: at least two samples, finite values, matching labels."""
    X = check_matrix(X, name_X, min_rows=2)
    y = check_labels(y, X.shape[0], name_y)
    _check_scale(X, name_X)
    _check_scale(y, name_y)
    return X, y


#: Largest absolute value accepted in data: squares and sums of up to 1e7 of
#: them stay finite (1e300 * 1e7 < 1.8e308, the float64 maximum).
MAX_DATA_MAGNITUDE = 1e150


def _check_scale(arr: np.ndarray, name: str) -> None:
    r"""Refuse data whose squares overflow or underflow float64 as a whole.

    Norms, Gram matrices and the objective square the data: with
    :math:`\max|a| > 10^{150}` they overflow, and with a non-zero
    :math:`\max|a| < 10^{-150}` every square is below the smallest normal
    number (``2.2e-308``) and norms come out as 0.
    """
    top = float(np.max(np.abs(arr))) if arr.size else 0.0
    if top > MAX_DATA_MAGNITUDE or 0 < top < 1 / MAX_DATA_MAGNITUDE:
        raise InputError(
            f"`{name}` has largest magnitude {top:.3g}; its squares leave the "
            "float64 range: rescale it to magnitudes between 1e-150 and 1e150"
        )


def check_positive_real(value: Any, name: str) -> float:
    """Return ``value`` as a positive finite float (a step size, a coefficient).

    Strings and booleans are refused rather than converted (no silent coercion).
    """
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise InputError(f"`{name}` must be a positive real number; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"`{name}` must be a positive real number; got {value!r}"
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"`{name}` must be a positive finite number; got {value!r}")
    return number


def check_beta(beta: Any, name: str = "beta") -> float:
    """Return the regularisation coefficient as a positive finite float."""
    return check_positive_real(beta, name)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an ``int`` >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"`{name}` must be a positive integer; got {value!r}")
    return int(value)


def check_finite(x: Any, name: str) -> None:
    """Raise :class:`InputError` if an array (any array-API library) has NaN or inf.

    For arrays that stay on their device (``X`` of :func:`network.forward`);
    NumPy inputs converted anyway should use :func:`check_matrix`.
    """
    from bnconvex.numerics._array_api import array_namespace

    xp = array_namespace(x)
    if not bool(xp.all(xp.isfinite(x))):
        raise InputError(f"`{name}` contains NaN or infinite values")


def check_file(path: str | os.PathLike[str], name: str) -> str:
    """Return ``os.fspath(path)`` if it names an existing, readable file, else raise.

    The message says which of the three it is not: found, a file (a
    directory, a device), readable.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"`{name}` {path!r} is a directory; expected a file")
    if not os.path.exists(path):
        raise InputError(f"`{name}` file not found: {path!r}")
    if not os.path.isfile(path):
        raise InputError(f"`{name}` {path!r} is not a regular file; expected a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"`{name}` {path!r} cannot be read (permissions)")
    return path


def check_output_path(
    path: str | os.PathLike[str], name: str, *, suffix: str | None = None
) -> str:
    """Check, before any work, that an output file can be written at ``path``.

    Parameters
    ----------
    path : path-like
        The file to write (replaced if it exists).
    name : str
        Argument name used in messages (``--out``).
    suffix : str, optional
        Required extension, e.g. ``".npz"`` (case-insensitive).

    Returns
    -------
    str
        ``os.fspath(path)``.
    """
    path = os.fspath(path)
    if suffix is not None and not path.lower().endswith(suffix):
        raise InputError(f"`{name}` must end in {suffix}; got {path!r}")
    if os.path.isdir(path):
        raise InputError(f"`{name}` {path!r} is a directory; expected a file name")
    _check_writable_folder(os.path.dirname(path) or ".", name, path)
    return path


def check_output_dir(
    path: str | os.PathLike[str], name: str, *, create: bool = True
) -> str:
    """Check that files can be written in the folder ``path``.

    With ``create``, a folder that does not exist yet is accepted when its
    nearest existing ancestor is a writable folder (it will be created);
    without, it must exist.  Nothing is created here.
    """
    path = os.fspath(path)
    probe = path
    while create and probe and not os.path.lexists(probe):
        parent = os.path.dirname(os.path.normpath(probe))
        probe = parent if parent != probe else ""
    _check_writable_folder(probe or ".", name, path)
    return path


def _check_writable_folder(folder: str, name: str, shown: str) -> None:
    """Raise unless ``folder`` is an existing writable folder (message: ``shown``)."""
    if not os.path.exists(folder):
        raise InputError(f"`{name}` {shown!r}: folder {folder!r} does not exist")
    if not os.path.isdir(folder):
        raise InputError(
            f"`{name}` {shown!r}: {folder!r} is not a folder; expected a path "
            "inside a writable folder"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(
            f"`{name}` {shown!r}: folder {folder!r} is not writable; choose a "
            "writable folder"
        )


#: What reading a damaged NumPy file raises (truncated zip, bad CRC, object
#: arrays without pickles, a header that claims more memory than there is).
READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    MemoryError,
    zipfile.BadZipFile,
    zlib.error,
)


def load_numpy_file(path: str | os.PathLike[str], name: str) -> Any:
    """Read an existing ``.npy`` (an array) or ``.npz`` (a dict) eagerly, no pickles.

    A missing file or one NumPy cannot read raises :class:`InputError` naming
    ``name``, the path and the reason.  Everything is read inside the error
    handling (NumPy reads ``.npz`` members lazily, and a damaged member fails
    only when read) and the file is closed whatever happens.
    """
    path = check_file(path, name)
    kind = os.path.splitext(path)[1].lower() or "NumPy"
    try:
        with open(path, "rb") as handle:
            data = np.load(handle, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                with data:
                    return {k: np.asarray(data[k]) for k in data.files}
            return data
    except READ_ERRORS as exc:
        raise InputError(
            f"`{name}` {path!r} is not a readable {kind} file: "
            f"{one_line_message(exc)}; expected numeric arrays saved with "
            "np.save/np.savez (no pickles)"
        ) from None


def load_npz_arrays(
    path: str | os.PathLike[str],
    name: str,
    required: tuple[str | tuple[str, ...], ...],
    optional: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Read named arrays of an ``.npz`` file; any damage is an :class:`InputError`.

    Parameters
    ----------
    path : path-like
    name : str
        Argument name used in messages (``DATA``, ``NETWORK``).
    required : tuple
        Array names; a tuple of names means "the first of these present"
        (``("y", "Y")``).
    optional : tuple of str
        Arrays returned when present.

    Returns
    -------
    dict
        Found name -> array (object arrays are refused: no pickles).
    """
    data = load_numpy_file(path, name)
    if not isinstance(data, dict):
        raise InputError(
            f"`{name}` {os.fspath(path)!r} is a single .npy array; expected an "
            ".npz archive (np.savez)"
        )
    options = [(k,) if isinstance(k, str) else k for k in required]
    keys = [next((o for o in opts if o in data), None) for opts in options]
    pairs = zip(options, keys, strict=True)
    missing = [" or ".join(o) for o, k in pairs if k is None]
    if missing:
        raise InputError(
            f"`{name}` {os.fspath(path)!r} lacks array(s) {', '.join(missing)}; "
            f"it has {', '.join(data) or 'none'}"
        )
    keys += [k for k in optional if k in data]
    return {k: data[k] for k in keys}


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def one_line_message(exc: BaseException) -> str:
    """Return the first line of ``str(exc)`` without ANSI colour codes.

    For wrapping a library's message (PyTorch's are multi-line and coloured)
    into the one-line error of the command line; the exception's type name
    when the message is empty.
    """
    text = _ANSI.sub("", str(exc)).strip()
    first = text.splitlines()[0].strip() if text else ""
    return first or type(exc).__name__


def check_resources(nbytes: float, name: str, what: str, advice: str) -> None:
    """Refuse, before allocating, work whose memory estimate exceeds what is free.

    Parameters
    ----------
    nbytes : float
        Estimated peak memory of the planned work.
    name : str
        The argument that decides the size (``beta``, ``arrangements``).
    what : str
        What the memory is for, for the message.
    advice : str
        What would be right instead.
    """
    free = available_memory()
    if nbytes > free:
        raise InputError(
            f"`{name}`: {what} needs about {nbytes / 2**30:.1f} GiB, more than "
            f"the {free / 2**30:.1f} GiB available; {advice}"
        )


def available_memory() -> float:
    """Bytes of memory available now (``MemAvailable``, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic OS
        return math.inf


def check_patterns(
    D: Any, n: int, name: str = "D", *, source: str = "", allow_empty: bool = False
) -> np.ndarray:
    r"""Return an activation-pattern set as a bool ``(n, P)`` array, or raise.

    Parameters
    ----------
    D : array_like, shape (n, P)
        Bool or 0/1 values; column :math:`i` is the diagonal of :math:`D_i`.
    n : int
        Number of samples.
    name : str
        Argument name used in messages.
    source : str
        Optional origin shown after the name (e.g. a file path).
    allow_empty : bool
        Accept ``P = 0`` (an empty set, e.g. to save).

    Notes
    -----
    The all-zero pattern :math:`D_i = 0` contributes nothing to the convex
    program (:math:`D_i U' s = 0`) and is never part of a pattern set, so an
    all-zero column is an error rather than dropped silently.
    """
    label = f"`{name}` {source}" if source else f"`{name}`"
    arr = np.asarray(D)
    if arr.ndim != 2:
        raise InputError(f"{label} must be a 2-D (n, P) array; got ndim={arr.ndim}")
    if arr.shape[0] != n:
        raise InputError(f"{label} must have n={n} rows (samples); got {arr.shape[0]}")
    if arr.dtype != bool:
        if arr.dtype.kind not in "iuf" or not np.all((arr == 0) | (arr == 1)):
            raise InputError(f"{label} must hold 0/1 or bool values")
        arr = arr.astype(bool)
    if arr.shape[1] == 0 and not allow_empty:
        raise InputError(f"{label} must have at least one column (pattern)")
    empty = np.flatnonzero(~arr.any(axis=0))
    if empty.size:
        raise InputError(
            f"{label} column {int(empty[0])} is all zero (the empty pattern is "
            "never part of the set)"
        )
    return arr
