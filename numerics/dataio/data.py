"""Small data sets: seeded synthetic generators and a loader for user files.

Generators return float64 NumPy arrays; all randomness comes from the
``seed`` argument.  :func:`load_dataset` reads the ``DATA`` argument of
``bnconvex solve`` / ``certify`` (``.npz`` or ``.csv``).  The CIFAR-10 and
Fashion-MNIST loaders live in :mod:`bnconvex.numerics.dataio.datasets`.
"""

from __future__ import annotations

import os

import numpy as np
from bnconvex.numerics._validation import (
    check_data,
    check_file,
    check_positive_int,
    load_npz_arrays,
)
from bnconvex.numerics.errors import InputError

__all__ = [
    "load_dataset",
    "make_classification",
    "make_regression",
    "make_spread_spectrum",
]

Seed = int | np.random.Generator


def _relu_teacher(G: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Target ``(G a)_+ - (G b + 1/2)_+`` with ``a, b ~ N(0, I/d)``."""
    d = G.shape[1]
    a, b = rng.standard_normal((2, d)) / np.sqrt(d)
    return np.maximum(G @ a, 0.0) - np.maximum(G @ b + 0.5, 0.0)


def _check_noise(noise: float) -> float:
    noise = float(noise)
    if not (np.isfinite(noise) and noise >= 0):
        raise InputError(f"`noise` must be a finite number >= 0; got {noise!r}")
    return noise


def _check_n(n: int) -> int:
    """Return the sample count ``n`` as an int >= 2 (BN needs a batch)."""
    n = check_positive_int(n, "n")
    if n < 2:
        raise InputError(f"`n` must be at least 2 (BN needs a batch); got {n}")
    return n


def make_regression(
    n: int, d: int, *, seed: Seed, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    r"""Gaussian inputs and a two-neuron ReLU teacher plus noise.

    Parameters
    ----------
    n, d : int
        Number of samples and features (``n >= 2``).
    seed : int or numpy.random.Generator
    noise : float, default 0.1
        Standard deviation of the additive Gaussian label noise.

    Returns
    -------
    X : array, shape (n, d)
        Entries i.i.d. :math:`N(0, 1)` (general position with probability 1).
    y : array, shape (n,)
        :math:`(Xa)_+ - (Xb + \tfrac12)_+ + \text{noise}\cdot\varepsilon` with
        :math:`a, b \sim N(0, I/d)`, :math:`\varepsilon \sim N(0, I)`.

    Examples
    --------
    >>> X, y = make_regression(5, 2, seed=0)
    >>> X.shape, y.shape
    ((5, 2), (5,))
    """
    n, d = _check_n(n), check_positive_int(d, "d")
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = _relu_teacher(X, rng) + noise * rng.standard_normal(n)
    return X, y


def make_spread_spectrum(
    n: int, spectrum: np.ndarray, *, seed: Seed, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw :math:`X = G\operatorname{diag}(\text{spectrum})`, a spread spectrum.

    Parameters
    ----------
    n : int
        Number of samples.
    spectrum : array, shape (d,)
        Positive column scales, e.g. ``(5, 3, 1, .5, .2, .1)`` (paper.md
        claim 20).
    seed : int or numpy.random.Generator
    noise : float, default 0.1

    Returns
    -------
    X : array, shape (n, d)
        :math:`G\operatorname{diag}(\text{spectrum})`, :math:`G_{ij} \sim N(0,1)`;
        the singular values of :math:`CX` follow ``spectrum`` up to sampling
        noise.
    y : array, shape (n,)
        The ReLU teacher of :func:`make_regression` applied to :math:`G` (so
        every whitened direction carries signal), plus noise.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = make_spread_spectrum(40, np.array([5.0, 1.0, 0.2]), seed=0)
    >>> X.shape, y.shape
    ((40, 3), (40,))
    """
    n = _check_n(n)
    s = np.asarray(spectrum, dtype=np.float64)
    if s.ndim != 1 or s.size < 1 or not np.all(np.isfinite(s) & (s > 0)):
        raise InputError(
            f"`spectrum` must be a 1-D array of positive numbers; got {spectrum!r}"
        )
    noise = _check_noise(noise)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, s.size))
    y = _relu_teacher(G, rng) + noise * rng.standard_normal(n)
    return G * s, y


def make_classification(
    n: int, d: int, K: int, *, seed: Seed, separation: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian classes with one-hot labels.

    Parameters
    ----------
    n, d, K : int
        Samples, features, classes (``n >= K``: every class is non-empty).
    seed : int or numpy.random.Generator
    separation : float, default 2.0
        Standard deviation of the class means (the within-class one is 1).

    Returns
    -------
    X : array, shape (n, d)
    Y : array, shape (n, K)
        One-hot float labels; class sizes differ by at most one.

    Examples
    --------
    >>> X, Y = make_classification(9, 12, 3, seed=0)
    >>> X.shape, Y.sum(axis=0).tolist()
    ((9, 12), [3.0, 3.0, 3.0])
    """
    n, d, K = _check_n(n), check_positive_int(d, "d"), check_positive_int(K, "K")
    if n < K:
        raise InputError(
            f"`n` must be at least K={K} so that no class is empty; got {n}"
        )
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % K)
    means = separation * rng.standard_normal((K, d))
    X = means[labels] + rng.standard_normal((n, d))
    return X, np.eye(K)[labels]


def load_dataset(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read the ``DATA`` file of the command line.

    Parameters
    ----------
    path : path-like
        ``.npz`` with arrays ``X`` (n x d) and ``y`` (n,) or ``Y`` (n x K); or
        ``.csv``: comma-separated numbers, one sample per line, the last column
        the label; a first line that is not numeric is a header and skipped.

    Returns
    -------
    X : array, shape (n, d)
    y : array, shape (n,) or (n, K)

    Raises
    ------
    InputError
        Missing file, unknown extension, missing arrays, unparsable or
        non-finite values; the message names ``DATA``.
    """
    path = check_file(path, "DATA")
    suffix = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
    if suffix == "npz":
        X, y = _load_npz(path)
    elif suffix == "csv":
        X, y = _load_csv(path)
    else:
        raise InputError(f"`DATA` must be a .npz or .csv file; got {path!r}")
    try:
        return check_data(X, y)
    except InputError as exc:
        raise InputError(f"`DATA` {path!r}: {exc}") from None


def _load_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    arrays = load_npz_arrays(path, "DATA", ("X", ("y", "Y")))
    X, y = arrays.values()
    return X, y


def _load_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [
                (i + 1, line.strip()) for i, line in enumerate(handle) if line.strip()
            ]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"`DATA` {path!r} is not a readable UTF-8 text file: {exc}"
        ) from None
    header = None
    if lines and not _is_numeric_row(lines[0][1]):
        header, lines = lines[0][1], lines[1:]
    rows = []
    for number, line in lines:
        try:
            rows.append([float(field) for field in line.split(",")])
        except ValueError:
            raise InputError(
                f"`DATA` {path!r} line {number} is not numeric: {line[:60]!r}"
            ) from None
    widths = {len(row) for row in rows}
    if not rows or len(widths) != 1 or min(widths) < 2:
        raise InputError(
            f"`DATA` {path!r} must have rows of equal length >= 2 "
            "(features, then the label)"
        )
    width = widths.pop()
    if header is not None and len(header.split(",")) != width:
        raise InputError(
            f"`DATA` {path!r} header has {len(header.split(','))} names but the rows "
            f"have {width} values; expected one name per column"
        )
    table = np.array(rows)
    return table[:, :-1], table[:, -1]


def _is_numeric_row(line: str) -> bool:
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return False
    return True
