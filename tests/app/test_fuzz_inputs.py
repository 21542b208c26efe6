"""Fuzz every reader of the command line with malformed files (issue 16).

Each example writes one input file of a supported kind, damaged in one way,
into a fresh folder and runs the CLI in-process (``bnconvex.app.cli.main``),
capturing stdout and stderr.  Whatever the input, the run must end in one of

* exit 0 with a valid result: one JSON object on stdout with a finite
  objective, and the requested output file written and readable;
* exit 1 only from ``solve`` on readable data whose solve stopped short, with
  the result on stdout and one stderr line saying so;
* exit 2 with exactly one line on stderr naming the argument, and nothing
  written (no output file, no temporary file left in the folder).

Never a traceback, and no warning (the suite turns warnings into errors; on
the command line a warning would be a second stderr line).  Input classes
(``event`` names, shown by ``--hypothesis-show-statistics``): ``data.npz:<damage>``,
``data.csv:<damage>``, ``data:<path kind>``, ``network.npz:<damage>``,
``network.pt:<damage>``, ``patterns.npy:<damage>``, ``out:<path kind>``,
``figures-out:<path kind>``, ``train-dataset:<damage>``.

The default profile runs ``CASES`` examples (a few hundred, well under a
minute); ``HYPOTHESIS_PROFILE=thorough`` runs twice its 2,000.  A few cases
also run as real subprocesses (``python -m bnconvex.app``) for the exit path.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from bnconvex.app.cli import main
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

#: examples of the fuzz test: a few hundred by default, 2 x the profile's
#: max_examples under ``thorough`` (4,000)
CASES = max(300, 2 * settings().max_examples)

FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -1e300, 0.0])


# --------------------------------------------------------------------------
# running the command line
# --------------------------------------------------------------------------
def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse usage errors
            rc = int(exc.code or 0)
    return rc, out.getvalue(), err.getvalue()


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _check_outcome(
    rc: int, out: str, err: str, *, folder: Path, before: set[str], outputs: list[Path]
) -> None:
    assert "Traceback" not in err + out, err
    if rc == 2:
        assert err.count("\n") == 1, f"not one line on stderr: {err!r}"
        assert err.endswith("\n")
        assert "error" in err, err
        assert _listing(folder) == before, "exit 2 but something was written"
        return
    assert rc in (0, 1), f"exit {rc}: {err!r}"
    result = json.loads(out)
    assert math.isfinite(float(result["objective"])), result
    if rc == 1:
        assert "stopped short" in err, err
        assert err.count("\n") == 1, err
    for path in outputs:
        assert path.is_file(), f"{path} not written"
        loaded = np.load(path, allow_pickle=False)
        if hasattr(loaded, "close"):
            loaded.close()
    leftovers = [p for p in _listing(folder) - before if Path(p).name.startswith(".")]
    assert not leftovers, leftovers


# --------------------------------------------------------------------------
# damaged files
# --------------------------------------------------------------------------
@st.composite
def _matrix(draw, n=None, d=None):
    n = draw(st.integers(0, 9)) if n is None else n
    d = draw(st.integers(0, 4)) if d is None else d
    values = draw(st.lists(FINITE, min_size=n * d, max_size=n * d))
    arr = np.array(values, dtype=np.float64).reshape(n, d)
    if arr.size and draw(st.booleans()):
        arr.flat[draw(st.integers(0, arr.size - 1))] = draw(SPECIAL)
    return arr


def _truncate(path: Path, draw) -> None:
    """Keep a drawn fraction (0 to 99.9 %) of the file's bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * draw(st.integers(0, 999)) // 1000])


def _write_npz(path: Path, draw, arrays: dict[str, object], kind: str) -> None:
    """Write ``arrays`` (valid) to ``path``, then damage the file one way."""
    damage = draw(
        st.sampled_from(
            [
                "none", "truncated", "object", "strings", "complex",
                "missing", "shape", "empty-file", "random-bytes", "not-zip-npy",
            ]
        )
    )
    event(f"{kind}:{damage}")
    arrays = dict(arrays)
    first = next(iter(arrays))
    if damage == "object":
        arrays[first] = np.array([[1.0, "a"]], dtype=object)
    elif damage == "strings":
        arrays[first] = np.array([["1", "x"]])
    elif damage == "complex":
        arrays[first] = np.asarray(arrays[first], dtype=complex) + 1j
    elif damage == "missing":
        arrays.pop(first)
    elif damage == "shape":
        arrays[first] = np.ones(draw(st.sampled_from([(), (3,), (2, 2, 2), (0, 0)])))
    if damage == "object":
        _savez_pickled(path, arrays)
    else:
        np.savez(path, **arrays)
    if damage == "truncated":
        _truncate(path, draw)
    elif damage == "empty-file":
        path.write_bytes(b"")
    elif damage == "random-bytes":
        path.write_bytes(draw(st.binary(max_size=64)))
    elif damage == "not-zip-npy":
        with open(path, "wb") as handle:
            np.save(handle, np.ones(3))


def _savez_pickled(path: Path, arrays: dict[str, object]) -> None:
    """``np.savez`` with object arrays (pickled inside the zip)."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as handle:
                np.lib.format.write_array(handle, np.asarray(value), allow_pickle=True)


@st.composite
def _data_file(draw, folder: Path) -> Path:
    """A DATA file of any supported kind, valid or damaged."""
    kind = draw(st.sampled_from(["npz", "csv", "path"]))
    n, d = draw(st.integers(2, 8)), draw(st.integers(1, 3))
    X = draw(_matrix(n=n, d=d))
    y = draw(_matrix(n=n, d=1))[:, 0]
    if kind == "npz":
        path = folder / "data.npz"
        label = draw(st.sampled_from(["y", "Y"]))
        if draw(st.integers(0, 4)) == 0:
            y = draw(_matrix(n=draw(st.integers(0, 9)), d=1))[:, 0]  # length mismatch
        _write_npz(path, draw, {"X": X, label: y}, "data.npz")
        return path
    if kind == "csv":
        return _csv_file(draw, folder, X, y)
    path_kind = draw(st.sampled_from(["directory", "missing", "extension"]))
    event(f"data:{path_kind}")
    if path_kind == "directory":
        (folder / "data.npz").mkdir()
    elif path_kind == "extension":
        np.savez(folder / "data.npz", X=X, y=y)
        return (folder / "data.npz").rename(folder / "data.txt")
    return folder / "data.npz"


def _csv_file(draw, folder: Path, X: np.ndarray, y: np.ndarray) -> Path:
    path = folder / "data.csv"
    damage = draw(
        st.sampled_from(
            [
                "none", "header", "header-too-long", "header-too-short", "ragged",
                "text", "empty", "one-column", "latin-1", "truncated",
            ]
        )
    )
    event(f"data.csv:{damage}")
    table = np.column_stack([X, y])
    rows = [",".join(repr(float(v)) for v in row) for row in table]
    names = [f"x{j}" for j in range(X.shape[1])] + ["label"]
    if damage.startswith("header"):
        extra = {"header": 0, "header-too-long": 1, "header-too-short": -1}[damage]
        names = names[: len(names) + extra] if extra < 0 else names + ["z"] * extra
        rows.insert(0, ",".join(names))
    elif damage == "ragged":
        rows[draw(st.integers(0, len(rows) - 1))] += ",1.0"
    elif damage == "text":
        rows[draw(st.integers(0, len(rows) - 1))] = "1.0,abc"
    elif damage == "empty":
        rows = []
    elif damage == "one-column":
        rows = [r.split(",")[0] for r in rows]
    text = "\n".join(rows) + "\n"
    if damage == "latin-1":
        path.write_bytes(("x\xe9," + text).encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    if damage == "truncated":
        _truncate(path, draw)
    return path


def _valid_data(folder: Path, n: int = 6, d: int = 2) -> Path:
    rng = np.random.default_rng(n * 10 + d)
    path = folder / "good.npz"
    np.savez(path, X=rng.standard_normal((n, d)), y=rng.standard_normal(n))
    return path


@st.composite
def _network_file(draw, folder: Path, d: int) -> Path:
    kind = draw(st.sampled_from(["npz", "pt"]))
    m = draw(st.integers(1, 4))
    arrays = {
        "W": draw(_matrix(n=d, d=m)),
        "gamma": draw(_matrix(n=m, d=1))[:, 0],
        "alpha": draw(_matrix(n=m, d=1))[:, 0],
        "v": draw(_matrix(n=m, d=1))[:, 0],
    }
    if kind == "npz":
        extra = draw(st.sampled_from(["", "convention", "eps"]))
        if extra == "convention":
            arrays["convention"] = np.asarray(draw(st.sampled_from(["a", "std", "x"])))
        elif extra == "eps":
            arrays["eps"] = np.asarray(draw(st.sampled_from([0.0, -1.0, math.nan])))
        path = folder / "net.npz"
        _write_npz(path, draw, arrays, "network.npz")
        return path
    path = folder / "net.pt"
    damage = draw(st.sampled_from(["random-bytes", "npz-bytes", "empty-file"]))
    event(f"network.pt:{damage}")
    if damage == "npz-bytes":
        np.savez(folder / "tmp.npz", **arrays)
        (folder / "tmp.npz").rename(path)
    else:
        empty = damage == "empty-file"
        path.write_bytes(b"" if empty else draw(st.binary(max_size=64)))
    return path


@st.composite
def _patterns_file(draw, folder: Path, n: int) -> Path:
    path = folder / "patterns.npy"
    damage = draw(
        st.sampled_from(
            ["none", "wrong-n", "non-binary", "zero-column", "1-d", "nan",
             "object", "truncated", "empty", "directory"]
        )
    )
    event(f"patterns.npy:{damage}")
    P = draw(st.integers(1, 5))
    D = np.ones((n, P), dtype=bool)
    if damage == "directory":
        path.mkdir()
        return path
    if damage == "wrong-n":
        D = np.ones((n + 1, P))
    elif damage == "non-binary":
        D = np.full((n, P), 2.0)
    elif damage == "zero-column":
        D[:, 0] = False
    elif damage == "1-d":
        D = np.ones(n)
    elif damage == "nan":
        D = np.full((n, P), math.nan)
    elif damage == "empty":
        D = np.ones((n, 0))
    if damage == "object":
        np.save(path, np.array([[1, "a"]], dtype=object), allow_pickle=True)
    else:
        np.save(path, D)
    if damage == "truncated":
        _truncate(path, draw)
    return path


OUT_KINDS = ("fine", "under-a-file", "a-folder", "suffix", "no-folder")


@st.composite
def _out_path(
    draw, folder: Path, suffix: str, kind: str, kinds: tuple[str, ...] = OUT_KINDS
) -> Path:
    """An output path: fine, under a file, a folder, a wrong suffix, missing folder.

    Running as root, a folder without write permission is still writable, so
    "under a file" stands for every folder that cannot be written.
    """
    path_kind = draw(st.sampled_from(kinds))
    event(f"{kind}:{path_kind}")
    if path_kind == "under-a-file":
        (folder / "plain").write_text("x")
        return folder / "plain" / f"out{suffix}"
    if path_kind == "a-folder":
        (folder / f"dir{suffix}").mkdir()
        return folder / f"dir{suffix}"
    if path_kind == "suffix":
        return folder / "out.wrong"
    if path_kind == "no-folder":
        return folder / "missing" / f"out{suffix}"
    return folder / f"out{suffix}"


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------
@st.composite
def _case(draw, folder: Path) -> tuple[list[str], list[Path]]:
    """``(argv, outputs expected on success)`` for one damaged input."""
    target = draw(
        st.sampled_from(["data", "network", "patterns", "out", "figures", "train"])
    )
    beta = ["--beta", "0.1", "--json", "--quiet"]
    if target == "data":
        data = draw(_data_file(folder))
        return ["solve", str(data), *beta], []
    if target == "network":
        net = draw(_network_file(folder, d=2))
        return ["certify", str(net), str(_valid_data(folder)), "--beta", "0.1",
                "--json"], []
    if target == "patterns":
        pats = draw(_patterns_file(folder, n=6))
        return ["solve", str(_valid_data(folder)), *beta, "--patterns", str(pats)], []
    if target == "out":
        option = draw(st.sampled_from(["--out", "--save-patterns"]))
        suffix = ".npz" if option == "--out" else ".npy"
        out = draw(_out_path(folder, suffix, "out"))
        argv = ["solve", str(_valid_data(folder)), *beta, option, str(out)]
        return argv, [out]
    if target == "train":
        dataset = draw(_dataset(folder))
        out = folder / "model"
        return ["train", "--dataset", str(dataset), "--out", str(out), "--quiet"], []
    # a valid --out would draw the figure (seconds): only folders that cannot be
    # written; a figure drawn into a valid folder is tests/app/test_cli.py's
    out = draw(_out_path(folder, "", "figures-out", ("under-a-file",)))
    argv = ["figures", "--out", str(out), "--only", "fig2_closed_form_beta", "--quiet"]
    return argv, []


@st.composite
def _dataset(draw, folder: Path) -> Path:
    """A damaged ``train --dataset``: folders, archives and caches."""
    damage = draw(
        st.sampled_from(
            ["empty-folder", "junk-folder", "tar-random", "tar-truncated",
             "npz-cache", "missing", "unknown-suffix"]
        )
    )
    event(f"train-dataset:{damage}")
    if damage == "empty-folder":
        (folder / "ds").mkdir()
        return folder / "ds"
    if damage == "junk-folder":
        (folder / "ds" / "train" / "cat").mkdir(parents=True)
        (folder / "ds" / "train" / "cat" / "a.png").write_bytes(
            draw(st.binary(max_size=32))
        )
        return folder / "ds"
    if damage.startswith("tar"):
        path = folder / "ds.tar.gz"
        if damage == "tar-random":
            path.write_bytes(draw(st.binary(max_size=64)))
        else:
            import tarfile

            (folder / "a.txt").write_text("x" * 100)
            with tarfile.open(path, "w:gz") as archive:
                archive.add(folder / "a.txt", arcname="train/cat/a.txt")
            (folder / "a.txt").unlink()
            _truncate(path, draw)
        return path
    if damage == "npz-cache":
        path = folder / "cache.npz"
        arrays = {
            "train_images": np.zeros((2, 2, 2), dtype=np.uint8),
            "train_labels": np.zeros(2, dtype=np.int64),
            "test_images": np.zeros((2, 2, 2), dtype=np.uint8),
            "test_labels": np.zeros(2, dtype=np.int64),
            "classes": np.array(["a"]),
            "source": np.array("x"),
        }
        _write_npz(path, draw, arrays, "train-dataset.npz")
        return path
    if damage == "unknown-suffix":
        (folder / "ds.bin").write_bytes(b"x")
        return folder / "ds.bin"
    return folder / "nothing-here"


@settings(
    max_examples=CASES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_every_malformed_input_is_one_line_and_exit_2(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    argv, outputs = data.draw(_case(folder))
    before = _listing(folder)
    rc, out, err = _run(argv)
    event(f"exit {rc}")
    if argv[0] in ("figures", "train"):  # only damaged inputs are drawn for these
        assert rc == 2, f"exit {rc}: {err!r}"
    _check_outcome(rc, out, err, folder=folder, before=before, outputs=outputs)


def _pinned_tiny_label(folder: Path) -> list[str]:
    np.savez(folder / "d.npz", X=np.array([[0.0], [1.0]]), y=np.array([0.0, 4e-306]))
    return ["solve", str(folder / "d.npz"), "--beta", "0.1", "--json"]


def _pinned_overflowing_network(folder: Path) -> list[str]:
    np.savez(
        folder / "net.npz",
        W=np.full((2, 1), 1e300),
        gamma=np.ones(1),
        alpha=np.ones(1),
        v=np.full(1, 1e300),
    )
    data = _valid_data(folder)
    return ["certify", str(folder / "net.npz"), str(data), "--beta", "0.1", "--json"]


def _pinned_repeated_samples(folder: Path) -> list[str]:
    rows = ["0.0,0.0,0.0", "0.0,0.0,0.0", "1.0,4.0,2.0", "0.0,1.0,1.0"]
    (folder / "d.csv").write_text("\n".join(rows) + "\n")
    return ["solve", str(folder / "d.csv"), "--beta", "0.1", "--json"]


#: what the fuzz test found, pinned, with the exit status now expected:
#: ZeroDivisionError in the working-set solver on a label vector of norm
#: 4e-306; an infinite objective printed as a certificate for a network whose
#: output overflows; LinAlgError in the cone-norm kernel's QR fallback on
#: repeated samples (a dependent block's diagonal -1 + 1 = 0)
PINNED = {
    "tiny-label": (_pinned_tiny_label, 2),
    "overflow": (_pinned_overflowing_network, 2),
    "repeated-samples": (_pinned_repeated_samples, 0),
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_pinned_fuzz_findings(case, tmp_path):
    make, expected = PINNED[case]
    argv = make(tmp_path)
    before = _listing(tmp_path)
    rc, out, err = _run(argv)
    assert rc == expected, (rc, out, err)
    _check_outcome(rc, out, err, folder=tmp_path, before=before, outputs=[])


# the reports, through the real exit path of the console script
SUBPROCESS_CASES = {
    "object-array": lambda f: _savez_pickled(
        f / "d.npz", {"X": np.array([[1.0, "a"]], dtype=object), "y": np.ones(1)}
    ),
    "truncated": lambda f: (f / "d.npz").write_bytes(b"PK\x03\x04trunc"),
    "directory": lambda f: (f / "d.npz").mkdir(),
    "tiny-beta": None,
}


@pytest.mark.parametrize("case", sorted(SUBPROCESS_CASES))
def test_console_script_exits_2_with_one_line(case, tmp_path):
    make = SUBPROCESS_CASES[case]
    if make is None:  # beta far below the resolution of n = 30, d = 3 data
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "d.npz", X=rng.standard_normal((30, 3)), y=np.ones(30))
        beta = "1e-300"
    else:
        make(tmp_path)
        beta = "0.1"
    before = _listing(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "bnconvex.app", "solve", "d.npz", "--beta", beta,
         "--out", "sol.npz"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert _listing(tmp_path) == before
