"""``bnconvex solve``: beta_max, and the up-front refusal of a beta beyond memory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bnconvex.app.cli import main
from bnconvex.app.commands import solve as solve_cmd


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((14, 2))
    y = np.sin(X @ np.array([1.0, -0.5])) + 0.1 * rng.standard_normal(14)
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y)
    return path, y


def _solve(path, beta, *extra):
    argv = ["solve", str(path), "--beta", repr(beta), "--arrangements", "exact"]
    return main([*argv, "--json", "--quiet", *extra])


@pytest.mark.parametrize("bn", ["a", "std"])
def test_zero_network_optimal_from_beta_max_on_and_not_below(data, capsys, bn):
    path, y = data
    assert _solve(path, 1.0, "--bn", bn) == 0
    beta_max = json.loads(capsys.readouterr().out)["beta_max"]
    zero = 0.5 * float(np.sum(y**2))  # objective of the zero network
    assert _solve(path, 1.0001 * beta_max, "--bn", bn) == 0
    above = json.loads(capsys.readouterr().out)
    assert above["neurons"] == 0
    # certified optimum (gap within the solver's tolerance) equals the zero value
    assert above["objective"] == pytest.approx(zero, rel=1e-8)
    assert _solve(path, 0.99 * beta_max, "--bn", bn) == 0
    below = json.loads(capsys.readouterr().out)
    assert below["neurons"] >= 1
    # the certified lower bound is below the zero value: zero is not optimal
    assert below["objective"] < zero * (1 - 1e-6)
    assert below["lower_bound"] <= below["objective"]


def test_beta_beyond_memory_is_refused_up_front(data, tmp_path, capsys, monkeypatch):
    path, _ = data
    n, d = 14, 2
    # memory between the solve without active blocks and with every block
    # that can be active at a tiny beta (2P of the exact arrangement's P)
    have = solve_cmd.memory_estimate(n, d, 200_000, 0) + 1
    monkeypatch.setattr(solve_cmd, "machine_memory", lambda: have)
    out = tmp_path / "sol.npz"
    assert _solve(path, 1e-9, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--beta" in err
    assert "GiB" in err
    assert "active blocks" in err
    assert not out.exists(), "nothing written"
    # above beta_max no block can be active: the same memory suffices
    assert _solve(path, 100.0, "--out", str(out)) == 0
    capsys.readouterr()
    assert out.exists()


def test_memory_model_accepts_a_solve_measured_to_fit():
    # benchmarks/README.md (session 5): n = 100,000, d = 20, P = 256 solved in a
    # peak of 1.08 GB; even with all 2P blocks in the working set the model
    # must stay within a 24 GiB machine, or `solve` would refuse a feasible run
    need = solve_cmd.memory_estimate(100_000, 20, 256, 512)
    assert 1.08e9 < need < 24 * 2**30
