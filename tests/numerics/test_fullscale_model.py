"""FullScaleModel.predict_features: scoring from precomputed features."""

import numpy as np
import pytest
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale import fit

from tests.common.assertions import xp_assert_close


@pytest.mark.parametrize("gated", [False, True])
def test_predict_features_equals_predict(gated):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((30, 3))
    Y = np.eye(3)[rng.integers(0, 3, 30)]
    model = fit(X, Y, 0.1, patterns=8, seed=1, gated=gated, max_iter=30, polish=False)
    Xn = rng.standard_normal((11, 3))
    phi = model.features.transform(Xn, dtype=model.solution.S_plus.dtype)
    # the same products in the same order: equal to rounding
    xp_assert_close(model.predict_features(phi), model.predict(Xn), rtol=1e-12)


def test_predict_features_rejects_wrong_width():
    rng = np.random.default_rng(13)
    X, y = rng.standard_normal((12, 2)), rng.standard_normal(12)
    model = fit(X, y, 0.1, patterns=4, seed=0, max_iter=3, polish=False)
    with pytest.raises(
        InputError, match=r"`phi` must have shape \(N, 3\); got \(5, 4\)"
    ):
        model.predict_features(np.ones((5, 4)))


@pytest.mark.parametrize("power", [0.0, 0.5])
def test_fit_and_predict_run_in_any_namespace(xp, power):
    """fit (whitening, regulariser, patterns, solve) and predict agree with NumPy."""
    rng = np.random.default_rng(14)
    X = rng.standard_normal((30, 4))
    Y = np.eye(3)[rng.integers(0, 3, 30)]
    Xn = rng.standard_normal((7, 4))
    kw = dict(patterns=6, seed=2, k=3, power=power, max_iter=20, polish=False)
    ref = fit(X, Y, 0.1, **kw)
    model = fit(xp.asarray(X), xp.asarray(Y), 0.1, **kw)
    scores = model.predict(xp.asarray(Xn))
    xp_assert_close(scores, xp.asarray(ref.predict(Xn)), rtol=1e-8, atol=1e-10)
