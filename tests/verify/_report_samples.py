"""A small, schema-valid verification record used by the report tests.

Three claims: one passing in two tiers with a derivation (including a
two-dimensional ``cases`` formula that mathtext cannot typeset), one failed,
one inconclusive.  Numbers are made up for the renderer; they are not results.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

from bnconvex.verify.records import header_record, make_record

DERIVATION = [
    {
        "name": "centre",
        "latex": r"C X (c w) = c\, C X w",
        "title": "centre the data",
        "scope": "general",
        "hypotheses": [{"name": "centred SVD", "latex": r"CX = U\Sigma V^T"}],
    },
    {
        "name": "normalise",
        "latex": r"\frac{c\,CXw}{\lVert c\,CXw \rVert_2}"
        r" = \frac{CXw}{\lVert CXw\rVert_2}",
    },
    {
        "name": "piecewise",
        "latex": r"h(t) = \begin{cases} t^2/2 & t \le \beta \\"
        r" \beta t - \beta^2/2 & t > \beta \end{cases}",
    },
    {"name": "matrix", "latex": r"M = \begin{pmatrix} a & b \\ c & d \end{pmatrix}"},
    {"name": "array", "latex": r"\begin{array}{cc} a & b \end{array}"},
]

CLAIMS = [
    SimpleNamespace(
        id="bn.scale_invariance",
        title="BN is invariant to positive scaling of w",
        title_latex=r"BN is invariant to positive scaling of $w$",
        paper_ref="paper.md §6 item 1",
        paper_tag="DERIVED+NUM",
        statement=r"\operatorname{BN}_{\gamma,\alpha}(X(cw))"
        r" = \operatorname{BN}_{\gamma,\alpha}(Xw),\ c>0",
        tiers=("symbolic", "mp"),
        tolerances={"mp": 1e-45},
        tolerance_notes={"mp": "50 dps minus guard digits"},
        tags=(),
    ),
    SimpleNamespace(
        id="convex.strong_duality",
        title="Convex optimum equals the non-convex optimum",
        paper_ref="R1",
        paper_tag="DERIVED+NUM",
        statement=r"p^* = d^* = \max_{v} -\tfrac12\|v-y\|_2^2+\tfrac12\|y\|_2^2",
        tiers=("float64",),
        tolerances={"float64": 1e-6},
        tolerance_notes={},
        tags=("solver",),
    ),
    SimpleNamespace(
        id="gd.implicit_bias",
        title="<GD> favours top singular directions & more",
        paper_ref="§4",
        paper_tag="DERIVED+NUM",
        statement=r"E_k(f^{BN}_T - f_0) > E_k(f^{wh}_T - f_0)",
        tiers=("float64",),
        tolerances={"float64": 0.01},
        tolerance_notes={},
        tags=(),
    ),
]


def sample_records() -> tuple[dict, list[dict]]:
    """Return ``(header, records)`` of a small run with 3 claims, 6 records."""
    header = header_record(
        mode="quick",
        dps=50,
        dps_levels=(30, 50),
        backend="numpy",
        claims=CLAIMS,
        argv=["verify", "--quick"],
    )
    recs = [
        make_record(
            "bn.scale_invariance",
            "symbolic",
            "passed",
            tolerance=None,
            tolerance_kind="exact",
            seconds=0.3,
            details={
                "derivation": DERIVATION,
                "symbolic_scope": "instances",
                "steps_general": 1,
                "steps_instance": 4,
            },
        )
    ]
    recs += [
        make_record(
            "bn.scale_invariance",
            "mp",
            "passed",
            tolerance=1e-45,
            tolerance_kind="rel",
            example=i,
            max_abs_err=1e-48,
            max_rel_err=2e-49 * (i + 1),
            dps=50,
            instance={"n": 5, "d": 2, "c": 0.5 + i},
            digits=47.5 - i,
            hypothesis={"max_examples": 3, "derandomize": True},
            seconds=0.05,
        )
        for i in range(3)
    ]
    recs.append(
        make_record(
            "convex.strong_duality",
            "float64",
            "failed",
            tolerance=1e-6,
            tolerance_kind="abs",
            max_abs_err=3e-4,
            dtype="float64",
            instance={"n": 12, "d": 2, "beta": 0.2},
            hypothesis={"max_examples": 3, "derandomize": True, "shrunk": True},
            seconds=1.2,
            details={"reason": "duality gap 3e-4 above tolerance"},
        )
    )
    recs.append(
        make_record(
            "gd.implicit_bias",
            "float64",
            "inconclusive",
            tolerance=0.01,
            tolerance_kind="abs",
            dtype="float64",
            instance=None,
            seconds=4.0,
            details={"reason": "energy fractions differ by less than the noise level"},
        )
    )
    return header, recs


def tiny_png(path: Path, width: int = 4, height: int = 3) -> Path:
    """Write a small valid grey PNG (stdlib only) and return its path."""
    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
    )
    path.write_bytes(png + chunk(b"IEND", b""))
    return path
