"""One vocabulary of bounds in every JSON output (`solve`, `certify`; `train` in
test_train_cli.py) and the two statements of the text output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bnconvex.app.cli import main
from bnconvex.numerics.exact import BOUND_KINDS


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """n = 12, d = 2: 134 patterns at most, so `exact` and samples both run."""
    from bnconvex.numerics.dataio.data import make_regression

    X, y = make_regression(12, 2, seed=1, noise=0.1)
    path = tmp_path_factory.mktemp("kinds") / "data.npz"
    np.savez(path, X=X, y=y)
    return path


def _kinds(obj) -> list[str]:
    """Every ``bound_kind`` value in a nested JSON object."""
    found = [obj["bound_kind"]] if "bound_kind" in obj else []
    for value in obj.values():
        if isinstance(value, dict):
            found += _kinds(value)
    return found


@pytest.mark.parametrize(
    ("arrangements", "top", "patterns"),
    [("exact", "global", "global"), ("8", "universal", "patterns")],
)
def test_solve_and_certify_json_use_the_vocabulary(
    arrangements, top, patterns, data, tmp_path, capsys
):
    sol = tmp_path / "sol.npz"
    common = ["--beta", "0.1", "--arrangements", arrangements, "--json"]
    rc = main(["solve", str(data), *common, "--quiet", "--out", str(sol)])
    rc_mp = main(["solve", str(data), *common, "--quiet", "--mp-certify", "20"])
    assert main(["certify", str(sol), str(data), *common]) == 0
    assert (rc, rc_mp) == (0, 0)
    solved, with_mp, certified = map(json.loads, capsys.readouterr().out.splitlines())
    for out in (solved, with_mp, certified):
        assert set(_kinds(out)) <= set(BOUND_KINDS), _kinds(out)
        assert out["bound_kind"] == top
        assert out["pattern_relative_gap"] <= out["relative_gap"] + 1e-15
    # the mp certificate's dual bound is over the patterns used: global or patterns
    assert with_mp["mp_certificate"]["bound_kind"] == patterns


def test_text_output_makes_two_statements(data, capsys):
    argv = ["solve", str(data), "--beta", "0.1", "--arrangements", "8", "--quiet"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    over, every = lines[-2].split(), lines[-1].split()
    assert over[:3] == ["over_the_patterns", "relative", "gap"]
    assert every[0] == "for_every_network"
    assert every[-2:] == ["universal", "bound"]
    # solved tightly over the sampled patterns, far from the universal bound
    assert float(over[3]) < 1e-6 < float(every[3])
