"""scikit-learn's own estimator checks on both estimators."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from bnconvex.estimators import ConvexBNClassifier, ConvexBNRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

#: the estimators as checked: few sampled patterns keep each fit fast
ESTIMATORS = [
    ConvexBNRegressor(arrangements=16, random_state=0),
    ConvexBNClassifier(arrangements=16, random_state=0),
]


def expected_failed_checks(estimator) -> dict[str, str]:
    """Checks that cannot apply, with the reason (none so far)."""
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
