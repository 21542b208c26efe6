import math

import numpy as np
import pytest
from bnconvex.numerics.baselines.nonconvex import train_best_of, train_nonconvex
from bnconvex.numerics.core.bn import convert_beta
from bnconvex.numerics.core.closed_form import highdim_optimum, onehot_optimum
from bnconvex.numerics.core.network import BNNetwork, objective
from bnconvex.numerics.errors import InputError

from tests.common.assertions import assert_rel_close

SEEDS = range(6)
NEVER_BELOW_RTOL = 1e-9  # float64 evaluation of a global lower bound
REACH_RTOL = (
    1e-4  # best local-search run vs closed form (paper.md R2: 1e-5 with 30 runs)
)


def _highdim(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)  # rank(CX) = n - 1 a.s.


@pytest.mark.parametrize(("n", "d"), [(6, 8), (8, 12)])
def test_local_search_never_below_and_reaches_highdim_optimum(n, d):
    # claim 10b / R2: rank(CX) = n - 1, m = 4 >= 2 neurons
    X, y = _highdim(n, d, seed=n)
    beta = 0.3
    optimum = highdim_optimum(y, beta)
    best, histories = train_best_of(X, y, beta, 4, seeds=SEEDS)
    finals = [h["objective"][-1] for h in histories]
    assert min(finals) >= optimum * (1 - NEVER_BELOW_RTOL), (
        f"{min(finals)!r} < {optimum!r}"
    )
    assert_rel_close(objective(best, X, y, beta), optimum, REACH_RTOL, "best run")
    assert_rel_close(objective(best, X, y, beta), min(finals), 1e-14, "history end")


def test_lbfgs_history_decreases():
    X, y = _highdim(6, 8, seed=1)
    _, history = train_nonconvex(X, y, 0.3, 3, seed=0, max_iter=30)
    values = np.array(history["objective"])
    assert history["iterations"] <= 30
    assert np.all(np.diff(values) <= 1e-12 * values[:-1]), f"not decreasing: {values}"


def test_gd_steps_and_init():
    X, y = _highdim(5, 3, seed=2)
    rng = np.random.default_rng(0)
    init = BNNetwork(rng.standard_normal((3, 2)), np.ones(2), np.zeros(2), np.ones(2))
    net, history = train_nonconvex(
        X, y, 0.1, 2, seed=0, method="gd", init=init, max_iter=50, lr=1e-2
    )
    assert len(history["objective"]) == 51
    assert_rel_close(
        history["objective"][0], objective(init, X, y, 0.1), 1e-14, "start"
    )
    assert_rel_close(history["objective"][-1], objective(net, X, y, 0.1), 1e-14, "end")
    assert history["objective"][-1] < history["objective"][0], (
        "GD with a small step must descend"
    )


def test_std_convention_respects_converted_bound():
    # claim 5: a std-BN network with beta_std is bounded by the convention-A optimum
    # with beta_a = beta_std / sqrt(n)
    X, y = _highdim(6, 8, seed=3)
    beta_std = 0.6
    beta_a = convert_beta(beta_std, 6, source="std", target="a")
    assert_rel_close(beta_a, 0.6 / math.sqrt(6), 1e-15, "beta_a")
    _, histories = train_best_of(X, y, beta_std, 4, seeds=SEEDS, convention="std")
    best = min(h["objective"][-1] for h in histories)
    optimum = highdim_optimum(y, beta_a)
    assert best >= optimum * (1 - NEVER_BELOW_RTOL), f"{best!r} < {optimum!r}"
    assert_rel_close(best, optimum, 1e-3, "best std run")


def test_vector_output_one_hot():
    # claim 15: one-hot labels, rank(CX) = n - 1: never below sum_k h(sqrt(n_k))
    rng = np.random.default_rng(4)
    X = rng.standard_normal((7, 9))
    Y = np.eye(3)[[0, 0, 1, 1, 1, 2, 2]]
    optimum = onehot_optimum(Y, 0.4)
    _, histories = train_best_of(X, Y, 0.4, 4, seeds=range(3))
    finals = [h["objective"][-1] for h in histories]
    assert min(finals) >= optimum * (1 - NEVER_BELOW_RTOL), (
        f"{min(finals)!r} < {optimum!r}"
    )
    assert_rel_close(min(finals), optimum, 1e-3, "best one-hot run")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "adam"}, r"`method` must be 'lbfgs' or 'gd'; got 'adam'"),
        ({"convention": "b"}, r"`convention` must be 'a' or 'std'"),
        ({"max_iter": 0}, r"`max_iter` must be a positive integer"),
        (
            {"init": BNNetwork(np.ones((2, 2)), np.ones(2), np.ones(2), np.ones(2))},
            r"`init` must have d=3, m=2",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    X, y = _highdim(4, 3, seed=5)
    with pytest.raises(InputError, match=message):
        train_nonconvex(X, y, 0.1, 2, seed=0, **kwargs)


def test_no_seeds():
    X, y = _highdim(4, 3, seed=5)
    with pytest.raises(InputError, match=r"`seeds` must contain at least one seed"):
        train_best_of(X, y, 0.1, 2, seeds=[])
