"""Where a result came from: software versions, git revision and machine.

One collector for every record the project writes: the header of the
verification reports (``verify/records.py``), the ``bnconvex train`` summary
and the benchmark results (``benchmarks/_machine.py``).  Only the standard
library is imported at module level; NumPy is imported by :func:`blas_info`,
CuPy by :func:`gpu_name` (each only when called).

The GPU extra installs CuPy as the distribution ``cupy-cuda12x`` (not
``cupy``), so :func:`cupy_version` asks for each CuPy wheel name in turn and
then for ``cupy.__version__`` of an already imported module.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CUPY_DISTRIBUTIONS",
    "blas_info",
    "cpu_model",
    "cupy_version",
    "git_revision",
    "gpu_name",
    "machine_info",
    "provenance_record",
    "software_versions",
]

#: Distribution names under which CuPy is installed, most likely first.
CUPY_DISTRIBUTIONS: tuple[str, ...] = (
    "cupy-cuda12x",
    "cupy-cuda11x",
    "cupy-cuda13x",
    "cupy",
)

#: Record key -> distribution name of the libraries whose version is recorded.
_DISTRIBUTIONS: tuple[tuple[str, str], ...] = (
    ("bnconvex", "bnconvex"),
    ("numpy", "numpy"),
    ("scipy", "scipy"),
    ("sympy", "sympy"),
    ("mpmath", "mpmath"),
    ("hypothesis", "hypothesis"),
    ("array_api_strict", "array-api-strict"),
)

#: Source tree root (``git rev-parse`` runs there).
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _distribution_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cupy_version() -> str | None:
    """Return the installed CuPy version, or ``None`` when CuPy is absent.

    Returns
    -------
    str or None
        The version of the first of :data:`CUPY_DISTRIBUTIONS` that is
        installed, else ``cupy.__version__`` when CuPy was imported from a
        source tree (no distribution metadata), else ``None``.  CuPy itself is
        not imported.
    """
    for name in CUPY_DISTRIBUTIONS:
        version = _distribution_version(name)
        if version is not None:
            return version
    return getattr(sys.modules.get("cupy"), "__version__", None)


def software_versions() -> dict[str, str | None]:
    """Return the versions of Python, bnconvex and the libraries it uses.

    Returns
    -------
    dict
        Keys ``python``, ``bnconvex``, ``numpy``, ``scipy``, ``sympy``,
        ``mpmath``, ``hypothesis``, ``cupy`` and ``array_api_strict``; a
        library that is not installed has the value ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.provenance import software_versions
    >>> software_versions()["numpy"] == np.__version__
    True
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    out.update((key, _distribution_version(dist)) for key, dist in _DISTRIBUTIONS)
    out["cupy"] = cupy_version()
    return out


def git_revision() -> str | None:
    """Return the git commit of the source tree, or ``None`` outside a checkout.

    The environment variable ``BNCONVEX_GIT_REVISION`` takes precedence (a run
    from a ``git archive`` snapshot has no ``.git`` folder but knows its
    commit).
    """
    if os.environ.get("BNCONVEX_GIT_REVISION"):
        return os.environ["BNCONVEX_GIT_REVISION"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=_SOURCE_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    return rev if out.returncode == 0 and rev else None


def _proc_field(path: str, key: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str | None:
    """Return the CPU model name (``/proc/cpuinfo``; else ``platform.processor()``)."""
    return _proc_field("/proc/cpuinfo", "model name") or platform.processor() or None


def _memory_gb() -> float | None:
    total = _proc_field("/proc/meminfo", "MemTotal:")  # "16318280 kB"
    return int(total.split()[0]) / 2**20 if total else None


def gpu_name() -> str | None:
    """Return the name of CUDA device 0 as CuPy sees it, or ``None``."""
    try:
        import cupy

        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    except Exception:  # no CuPy, no driver, no device: all mean "no GPU"
        return None
    return name.decode() if isinstance(name, bytes) else str(name)


def blas_info() -> list[dict[str, Any]] | None:
    """Return the BLAS/OpenMP libraries NumPy loaded, via ``threadpoolctl``.

    Returns
    -------
    list of dict or None
        One entry per library (``user_api``, ``internal_api``, ``version``,
        ``num_threads``, ``architecture``), or ``None`` when ``threadpoolctl``
        is not installed.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    import numpy  # noqa: F401  (load NumPy's BLAS so that it is listed)

    keys = ("user_api", "internal_api", "version", "num_threads", "architecture")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


def machine_info() -> dict[str, Any]:
    """Return a description of this machine.

    Returns
    -------
    dict
        ``platform``, ``machine``, ``processor``, ``cpu_model``, ``cpu_count``,
        ``memory_gb`` (total RAM, ``None`` off Linux), ``gpu`` (see
        :func:`gpu_name`) and ``blas`` (see :func:`blas_info`).
    """
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "gpu": gpu_name(),
        "blas": blas_info(),
    }


def provenance_record() -> dict[str, Any]:
    """Return ``{"versions": ..., "machine": ..., "git_revision": ...}``.

    The three facts every record carries (:func:`software_versions`,
    :func:`machine_info`, :func:`git_revision`).
    """
    return {
        "versions": software_versions(),
        "machine": machine_info(),
        "git_revision": git_revision(),
    }
