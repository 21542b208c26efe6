"""``bnconvex solve``: beta_max, and the up-front refusal of a beta beyond memory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bnconvex.app.cli import main


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
