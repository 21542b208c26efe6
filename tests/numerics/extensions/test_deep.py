"""Deep BN-ReLU networks (paper.md R4, claim 16)."""

import numpy as np
import pytest
from bnconvex.numerics.core.closed_form import universal_lower_bound
from bnconvex.numerics.core.network import BNNetwork, forward
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.deep import (
    DeepBNNetwork,
    _pack,
    _unpack,
    centered_rank,
    deep_forward,
    deep_hidden,
    deep_objective,
    deep_objective_and_gradient,
    deep_penalty,
    overparameterized_network,
    random_hidden_layers,
    train_deep,
)
from bnconvex.verify import strategies as S
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.common.assertions import assert_rel_close, xp_assert_close


def _small_net(seed=3, widths=(4, 3)):
    rng = np.random.default_rng(seed)
    Ws, gammas, alphas = random_hidden_layers(2, widths, seed=seed)
    return DeepBNNetwork(Ws, gammas, alphas, rng.standard_normal(widths[-1]))


def test_two_layer_case_matches_core_network():
    # L = 2 is the two-layer BN network of numerics/network.py
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3))
    W, g, a, v = (rng.standard_normal(s) for s in ((3, 4), 4, 4, 4))
    deep = DeepBNNetwork((W,), (g,), (a,), v)
    xp_assert_close(
        deep_forward(deep, X), forward(BNNetwork(W, g, a, v), X), rtol=1e-14
    )


def test_gradient_by_finite_differences():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    net = _small_net()
    _, grad = deep_objective_and_gradient(net, X, y, 0.2)
    x, h = _pack(net), 1e-6
    num = np.array(
        [
            (
                deep_objective(_unpack(x + h * e, net), X, y, 0.2)
                - deep_objective(_unpack(x - h * e, net), X, y, 0.2)
            )
            / (2 * h)
            for e in np.eye(x.size)
        ]
    )
    # central differences: truncation ~h^2, rounding ~1e-10 / h
    xp_assert_close(_pack(grad), num, rtol=1e-6, atol=1e-8)


@given(
    c=st.floats(1e-8, 1e3),
    E=S.perturbed_matrix(6, 2),
)
@settings(max_examples=20, deadline=None)
def test_hidden_scaling_keeps_function_and_scales_penalty(c, E):
    net = _small_net()
    scaled = net.scaled(c)
    # the next BN removes the scale of H_l: same output (rounding only)
    xp_assert_close(
        deep_forward(scaled, E), deep_forward(net, E), rtol=1e-9, atol=1e-12
    )
    first = float(net.gammas[0] @ net.gammas[0] + net.alphas[0] @ net.alphas[0])
    expected = deep_penalty(net, 0.3) + 0.5 * 0.3 * (c * c - 1.0) * first
    assert_rel_close(deep_penalty(scaled, 0.3), expected, 1e-12, "scaled penalty")


def test_rank_fact_of_paper():
    # paper.md R4: n = 30, d = 2, 60 random BN-ReLU features give rank(CH) = 29
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    hidden = DeepBNNetwork(*random_hidden_layers(2, (60,), seed=0), np.zeros(60))
    assert centered_rank(X) == 2
    assert centered_rank(deep_hidden(hidden, X)[-1]) == 29


def test_infimum_sequence_converges_to_universal_bound():
    rng = np.random.default_rng(4)
    X, y, beta = rng.standard_normal((9, 2)), rng.standard_normal(9), 0.3
    net = overparameterized_network(X, y, beta, (11, 11), seed=2)
    bound = universal_lower_bound(y, beta)
    hidden = sum(
        float(g @ g + a @ a)
        for g, a in zip(net.gammas[:-1], net.alphas[:-1], strict=True)
    )
    gaps = []
    for c in (1.0, 1e-2, 1e-4, 1e-6):
        value = deep_objective(net.scaled(c), X, y, beta)
        # exact formula: R2 optimum plus the shrunken hidden-layer penalty
        assert_rel_close(value, bound + 0.5 * beta * c * c * hidden, 1e-12, f"c={c}")
        gaps.append(value - bound)
    assert gaps[-1] <= 1e-10 * bound < gaps[0], gaps


def test_narrow_features_cannot_use_the_closed_form():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((9, 2)), rng.standard_normal(9)
    with pytest.raises(InputError, match=r"rank\(CX\) = n - 1 = 8"):
        overparameterized_network(X, y, 0.3, (4,), seed=0)


def test_local_search_never_below_universal_bound():
    rng = np.random.default_rng(6)
    X, y, beta = rng.standard_normal((6, 2)), rng.standard_normal(6), 0.2
    value = train_deep(X, y, beta, (4, 3), seed=0, max_iter=300)[1]
    assert value >= universal_lower_bound(y, beta), value


def test_validation_messages():
    net = _small_net()
    with pytest.raises(InputError, match="layer 2: `Ws` must chain"):
        DeepBNNetwork((*net.Ws[:1], np.ones((5, 3))), net.gammas, net.alphas, net.v)
    with pytest.raises(InputError, match=r"layer 1: .* match its 4 columns"):
        DeepBNNetwork(
            net.Ws, (np.ones(3), net.gammas[1]), (np.ones(3), net.alphas[1]), net.v
        )
    with pytest.raises(InputError, match=r"`v` must have shape \(3,\)"):
        DeepBNNetwork(net.Ws, net.gammas, net.alphas, np.ones(2))
    with pytest.raises(InputError, match="`c` must be a positive finite number"):
        net.scaled(0.0)
    with pytest.raises(InputError, match="`c` must be a positive real number; got 'a'"):
        net.scaled("a")
    with pytest.raises(InputError, match=r"`X` must have shape \(n, 2\)"):
        deep_forward(net, np.ones((4, 3)))
    with pytest.raises(InputError, match="`X` contains 1 NaN or infinite"):
        deep_forward(net, np.array([[np.nan, 0.0], [1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(InputError, match="`rtol` must be a positive finite number"):
        centered_rank(np.eye(3), rtol=-1.0)
    with pytest.raises(InputError, match="`H` contains 1 NaN or infinite value"):
        centered_rank(np.array([[np.inf, 0.0], [1.0, 2.0]]))
    with pytest.raises(InputError, match="layer 1: "):
        deep_hidden(net, np.ones((4, 2)))  # constant data: BN undefined
