"""Machine and version facts recorded with every benchmark result.

Reuses the header of the verification reports (versions, platform, git
revision) and adds what matters for timings: CPU model, load at start, BLAS
thread setting and the peer solvers' versions.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

from bnconvex.verify.records import header_record

PEERS = ("cvxpy", "clarabel", "array-api-compat", "pyscnn", "adelie", "torch")


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_facts() -> dict:
    """Header record of the toolkit plus CPU, load, BLAS threads and peer versions."""
    head = header_record(
        mode="benchmark",
        dps=0,
        dps_levels=(),
        backend="numpy",
        claims=(),
        argv=sys.argv,
    )
    installed = {
        (d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()
    }
    return {
        "date_utc": head["created"],
        "versions": {**head["versions"], **{p: installed.get(p) for p in PEERS}},
        "machine": {
            **head["machine"],
            "cpu_model": _cpu_model(),
            "loadavg_at_start": os.getloadavg(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        },
        "git_revision": head["git_revision"],
        "argv": head["argv"],
    }
