import math

import numpy as np
import pytest
from bnconvex.numerics.core.bn import batch_norm, convention_scale, convert_beta
from bnconvex.numerics.errors import InputError
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tests.common.assertions import assert_rel_close, xp_assert_close

RTOL = 1e-13  # a few ulps of O(1) values: every comparison is an exact identity


def _data(xp, n=6, m=3, seed=0):
    rng = np.random.default_rng(seed)
    H, gamma, alpha = (
        rng.standard_normal((n, m)),
        rng.standard_normal(m),
        rng.standard_normal(m),
    )
    return xp.asarray(H), xp.asarray(gamma), xp.asarray(alpha)


def test_hand_computed_value(xp):
    # h = [1, 3]: C h = [-1, 1], ||C h|| = sqrt(2), gamma = 2 -> 2 * [-1, 1] / sqrt(2)
    out = batch_norm(xp.asarray([[1.0], [3.0]]), xp.asarray([2.0]), xp.asarray([0.0]))
    xp_assert_close(out, xp.asarray([[-math.sqrt(2)], [math.sqrt(2)]]), rtol=RTOL)


def test_std_is_sqrt_n_times_a(xp):
    H, gamma, alpha = _data(xp)
    a = batch_norm(H, gamma, alpha, convention="a")
    std = batch_norm(H, gamma, alpha, convention="std")
    xp_assert_close(std, a * math.sqrt(6), rtol=RTOL, atol=1e-15)


def test_std_matches_textbook_formula():
    H, gamma, alpha = _data(np)
    expected = (
        gamma * (H - H.mean(axis=0)) / H.std(axis=0) + alpha
    )  # np.std is biased (ddof=0)
    xp_assert_close(
        batch_norm(H, gamma, alpha, convention="std"), expected, rtol=RTOL, atol=1e-14
    )


def test_eps_matches_pytorch_formula():
    H, gamma, alpha = _data(np)
    eps = 1e-3
    expected = gamma * (H - H.mean(axis=0)) / np.sqrt(H.var(axis=0) + eps) + alpha
    out = batch_norm(H, gamma, alpha, convention="std", eps=eps)
    xp_assert_close(out, expected, rtol=RTOL, atol=1e-14)


def test_one_dimensional_input_is_one_neuron(xp):
    H, _, _ = _data(xp, m=1)
    out = batch_norm(H[:, 0], 0.7, -0.2)
    xp_assert_close(out, batch_norm(H, 0.7, -0.2)[:, 0], rtol=RTOL)


@given(
    h=arrays(np.float64, 5, elements=st.floats(-10, 10, allow_subnormal=False)),
    c=st.floats(0.1, 10),
    shift=st.floats(-10, 10),
)
def test_scale_sign_and_shift_invariance(h, c, shift):
    # claims 1, 2: BN(c h) = BN(h); BN_{-gamma}(-h) = BN_gamma(h); BN(h + b) = BN(h)
    h = h + 25.0 * np.arange(
        5.0
    )  # strictly increasing (|h_i| <= 10), so never constant
    ref = batch_norm(h, 1.3, 0.4)
    xp_assert_close(batch_norm(c * h, 1.3, 0.4), ref, rtol=1e-9, atol=1e-12)
    xp_assert_close(batch_norm(-h, -1.3, 0.4), ref, rtol=1e-9, atol=1e-12)
    xp_assert_close(batch_norm(h + shift, 1.3, 0.4), ref, rtol=1e-12, atol=1e-13)


def test_zero_centred_norm_names_column(xp):
    H = xp.asarray([[1.0, 2.0, 5.0], [2.0, 2.0, 5.0], [3.0, 2.0, 5.0]])
    with pytest.raises(InputError, match=r"`H` column 1 has zero centred norm"):
        batch_norm(H, 1.0, 0.0)


def test_constant_column_allowed_with_eps():
    out = batch_norm(np.array([[2.0], [2.0]]), 1.0, 3.0, convention="std", eps=1e-5)
    xp_assert_close(out, np.array([[3.0], [3.0]]), rtol=RTOL)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"convention": "b"}, r"`convention` must be 'a' or 'std'; got 'b'"),
    ],
)
def test_bad_convention(kwargs, message):
    with pytest.raises(InputError, match=message):
        batch_norm(np.eye(3), 1.0, 0.0, **kwargs)


def test_bad_shapes():
    with pytest.raises(InputError, match=r"`H` must have at least 2 rows"):
        batch_norm(np.ones((1, 2)), 1.0, 0.0)
    with pytest.raises(InputError, match=r"`H` must be 1-D or 2-D.*ndim=3"):
        batch_norm(np.ones((2, 2, 2)), 1.0, 0.0)


def test_convert_beta():
    # beta_std = sqrt(n) * beta_a (paper.md §1.1): n = 16 -> factor 4
    assert_rel_close(
        convert_beta(0.5, 16, source="a", target="std"), 2.0, 1e-15, "beta_std"
    )
    assert_rel_close(
        convert_beta(2.0, 16, source="std", target="a"), 0.5, 1e-15, "beta_a"
    )
    assert_rel_close(convert_beta(0.3, 7, source="a", target="a"), 0.3, 0.0, "identity")
    assert_rel_close(convention_scale(9, "std"), 3.0, 0.0, "kappa")
    with pytest.raises(InputError, match=r"`target` must be 'a' or 'std'"):
        convert_beta(1.0, 4, source="a", target="torch")
    with pytest.raises(InputError, match=r"`n` must be a positive integer; got 0"):
        convert_beta(1.0, 0, source="a", target="std")


@pytest.mark.parametrize("beta", [0.0, -0.5, float("nan"), True])
def test_convert_beta_rejects_a_non_positive_or_coerced_beta(beta):
    with pytest.raises(InputError, match=r"`beta` must be a positive"):
        convert_beta(beta, 4, source="std", target="a")


@pytest.mark.parametrize("n", [0, -4, 2.5, True])
def test_convention_scale_rejects_a_bad_batch_size(n):
    with pytest.raises(InputError, match=r"`n` must be a positive integer"):
        convention_scale(n, "std")
