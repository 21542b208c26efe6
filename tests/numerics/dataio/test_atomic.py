"""Atomic writes: whole file or none, parent folders made, mode from the umask."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
from bnconvex.numerics.dataio import atomic


def test_text_round_trip_makes_parents_and_leaves_no_temporary(tmp_path):
    target = atomic.atomic_write_text(tmp_path / "d" / "s.json", "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["s.json"]


def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    with pytest.raises(TypeError, match="`text` must be a str"):
        atomic.atomic_write_text(tmp_path / "x.md", 12345)
    assert list(tmp_path.iterdir()) == []
    old = atomic.atomic_write_text(tmp_path / "x.md", "old")

    def fail(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write(old, fail)
    assert old.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.md"]


def test_json_that_cannot_be_serialised_touches_nothing(tmp_path):
    path = atomic.atomic_write_json(tmp_path / "r.json", {"a": 1.5}, indent=1)
    assert json.loads(path.read_text()) == {"a": 1.5}
    assert path.read_text().endswith("}\n")
    with pytest.raises(ValueError, match="Out of range float"):
        atomic.atomic_write_json(path, {"a": float("nan")}, allow_nan=False)
    assert json.loads(path.read_text()) == {"a": 1.5}


def test_numpy_files_round_trip_without_a_second_suffix(tmp_path):
    D = np.arange(6).reshape(2, 3) > 2
    atomic.atomic_save(tmp_path / "D.npy", D)
    atomic.atomic_savez(tmp_path / "m.npz", D=D, beta=np.asarray(0.5))
    assert np.array_equal(np.load(tmp_path / "D.npy"), D)
    with np.load(tmp_path / "m.npz") as data:
        assert np.array_equal(data["D"], D)
        assert float(data["beta"]) == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.npy", "m.npz"]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
@pytest.mark.parametrize(
    "write",
    [
        lambda p: atomic.atomic_write_text(p, "x"),
        lambda p: atomic.atomic_write_json(p, [1]),
        lambda p: atomic.atomic_save(p, np.zeros(2)),
        lambda p: atomic.atomic_savez(p, a=np.zeros(2)),
    ],
    ids=["text", "json", "npy", "npz"],
)
def test_mode_is_that_of_a_plain_open(tmp_path, mask, write):
    umask = os.umask(mask)
    try:
        write(tmp_path / "f")
        with open(tmp_path / "plain", "w"):
            pass
    finally:
        os.umask(umask)
    expected = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert expected == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == expected
