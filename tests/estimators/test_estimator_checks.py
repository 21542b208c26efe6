"""scikit-learn's own estimator checks on both estimators."""

from __future__ import annotations

from bnconvex.estimators import ConvexBNClassifier, ConvexBNRegressor

from tests.common.extras import import_test_extra

# the test extra: a missing scikit-learn fails (tests/common/extras.py)
parametrize_with_checks = import_test_extra(
    "sklearn.utils.estimator_checks", "scikit-learn"
).parametrize_with_checks

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
