"""Machine and version facts recorded with every benchmark result.

The provenance of the verification reports and of ``bnconvex train``
(:mod:`bnconvex.numerics.provenance`: versions, machine, git revision) plus
what matters for timings: load at start, the BLAS thread setting and the peer
solvers' versions.
"""

from __future__ import annotations

import datetime
import os
import sys
from importlib import metadata

from bnconvex.numerics.provenance import provenance_record

PEERS = ("cvxpy", "clarabel", "array-api-compat", "pyscnn", "adelie", "torch")


def machine_facts() -> dict:
    """Provenance of the toolkit plus load, BLAS threads and peer versions."""
    facts = provenance_record()
    installed = {
        (d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()
    }
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "versions": {**facts["versions"], **{p: installed.get(p) for p in PEERS}},
        "machine": {
            **facts["machine"],
            "loadavg_at_start": os.getloadavg(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        },
        "git_revision": facts["git_revision"],
        "argv": list(sys.argv),
    }
