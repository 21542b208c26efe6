"""ConvexBNRegressor / ConvexBNClassifier: fits, certificates, inference, bad input."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from bnconvex.estimators import ConvexBNClassifier, ConvexBNRegressor
from bnconvex.numerics import (
    InputError,
    convert_beta,
    forward,
    make_classification,
    make_regression,
    objective,
)
from bnconvex.numerics.exact import fit_exact

from tests.common.extras import import_test_extra

import_test_extra("sklearn", "scikit-learn")  # the test extra: missing fails

#: the exact solvers stop at a certified relative gap of 1e-8 (their default
#: ``tol``); a polished solution is measured at ~1e-14
EXACT_RTOL = 1e-8
#: rounding of predictions computed two ways on O(1) data (a few dot products of
#: length d and m <= 20 on values of norm < 10): measured 2e-16, bound 1e-12
PREDICT_ATOL = 1e-12


@pytest.fixture(scope="module")
def data():
    return make_regression(14, 2, seed=3, noise=0.1)


@pytest.mark.parametrize("bn", ["a", "std"])
def test_exact_regressor_is_certified_and_its_network_attains_the_objective(data, bn):
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, bn=bn, arrangements="exact").fit(X, y)
    ref = fit_exact(X, y, 0.2, bn=bn, arrangements="exact")
    assert (reg.bound_kind_, reg.status_, reg.method_) == ("global", "optimal", "exact")
    assert reg.objective_ == pytest.approx(ref.objective, rel=EXACT_RTOL)
    assert 0 <= reg.relative_gap_ <= EXACT_RTOL
    assert reg.lower_bound_ <= reg.objective_
    assert reg.network_.convention == bn
    assert reg.v_.shape == (reg.W_.shape[1],)
    net_objective = objective(reg.network_, X, y, 0.2)
    assert net_objective == pytest.approx(reg.objective_, rel=EXACT_RTOL)
    np.testing.assert_allclose(
        reg.predict(X), forward(reg.network_, X), atol=PREDICT_ATOL
    )


def test_predict_on_new_rows_uses_the_training_batch_statistics(data):
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, arrangements="exact").fit(X, y)
    X_new = np.random.default_rng(0).standard_normal((5, 2))
    H = X_new @ reg.W_
    mean, var = (X @ reg.W_).mean(axis=0), (X @ reg.W_).var(axis=0)
    Z = (reg.gamma_ * (H - mean) / np.sqrt(var) + reg.alpha_) / math.sqrt(X.shape[0])
    expected = np.maximum(Z, 0) @ reg.v_  # convention a: BN_a = BN_std / sqrt(n)
    np.testing.assert_allclose(reg.predict(X_new), expected, atol=PREDICT_ATOL)
    one_by_one = [reg.predict(X_new[i : i + 1])[0] for i in range(5)]
    np.testing.assert_allclose(one_by_one, expected, atol=PREDICT_ATOL)


def test_sampled_patterns_report_the_universal_bound(data):
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, arrangements=8, random_state=0).fit(X, y)
    assert reg.bound_kind_ == "universal"
    assert reg.n_patterns_ <= 8
    assert (
        reg.lower_bound_
        <= reg.pattern_lower_bound_
        <= reg.objective_ * (1 + EXACT_RTOL)
    )


def test_random_state_fixes_the_sampled_patterns(data):
    X, y = data
    fits = [
        ConvexBNRegressor(beta=0.2, arrangements=6, random_state=s).fit(X, y)
        for s in (1, 1, 2)
    ]
    assert fits[0].objective_ == fits[1].objective_
    np.testing.assert_array_equal(fits[0].W_, fits[1].W_)


def test_time_limit_is_reported_not_hidden(data):
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, arrangements="exact", time_limit=0).fit(X, y)
    assert reg.status_ == "time_limit"
    # the objective is the returned network's, which the bound does bound
    assert objective(reg.network_, X, y, 0.2) == reg.objective_
    assert reg.lower_bound_ <= reg.objective_


def test_classifier_is_one_program_per_class():
    X, Y = make_classification(15, 2, 3, seed=0)
    labels = np.array(["c", "a", "b"])[np.argmax(Y, axis=1)]
    clf = ConvexBNClassifier(beta=0.3, arrangements="exact").fit(X, labels)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    onehot = (labels[:, None] == clf.classes_).astype(float)
    fits = [fit_exact(X, onehot[:, k], 0.3, arrangements="exact") for k in range(3)]
    assert clf.objective_ == pytest.approx(sum(f.objective for f in fits), rel=1e-12)
    assert clf.lower_bound_ == pytest.approx(
        sum(f.lower_bound for f in fits), rel=1e-12
    )
    assert clf.bound_kind_ == "global"
    assert np.all(np.count_nonzero(clf.v_, axis=1) == 1)  # one class per neuron
    assert objective(clf.network_, X, onehot, 0.3) == pytest.approx(
        clf.objective_, rel=EXACT_RTOL
    )
    scores = clf.decision_function(X)
    assert scores.shape == (15, 3)
    assert clf.predict(X).tolist() == clf.classes_[np.argmax(scores, axis=1)].tolist()


def test_binary_decision_function_is_the_score_difference():
    X, Y = make_classification(12, 2, 2, seed=1)
    y = np.argmax(Y, axis=1)
    clf = ConvexBNClassifier(beta=0.3, arrangements="exact").fit(X, y)
    scores = clf._raw_predict(X)
    np.testing.assert_allclose(clf.decision_function(X), scores[:, 1] - scores[:, 0])
    assert (
        clf.predict(X).tolist() == (clf.decision_function(X) > 0).astype(int).tolist()
    )
    assert not hasattr(clf, "predict_proba")


def _violation_bound(reg, X, Y, beta):
    """Largest |network objective - program objective| the cone violation allows.

    Each of the ``m`` blocks may violate its cone by ``viol_tol = 1e-6`` (absolute,
    the full-scale default) per entry, so the network output differs from the
    program's by ``delta <= sqrt(n) m 1e-6`` in norm, and the loss by at most
    ``||R|| delta + delta^2 / 2`` with ``R`` the residual.
    """
    delta = math.sqrt(X.shape[0]) * reg.W_.shape[1] * 1e-6
    residual = np.linalg.norm(forward(reg.network_, X) - Y)
    return residual * delta + delta**2 / 2 + 1e-12 * max(1.0, reg.objective_)


@pytest.mark.parametrize("bn", ["a", "std"])
def test_fullscale_network_attains_the_program_objective(data, bn):
    X, y = data
    reg = ConvexBNRegressor(beta=0.2, bn=bn, method="fullscale", arrangements=32)
    reg.fit(X, y)
    assert (reg.method_, reg.bound_kind_) == ("fullscale", "universal")
    assert 1 <= reg.n_patterns_ <= 32  # sampled, then deduplicated
    gap = abs(objective(reg.network_, X, y, 0.2) - reg.objective_)
    assert gap <= _violation_bound(reg, X, y, 0.2)
    np.testing.assert_allclose(
        reg.predict(X), forward(reg.network_, X), atol=PREDICT_ATOL
    )
    assert reg.lower_bound_ <= reg.objective_


def test_fullscale_classifier_and_regularizer():
    X, Y = make_classification(40, 3, 3, seed=2, separation=4.0)
    y = np.argmax(Y, axis=1)
    clf = ConvexBNClassifier(beta=0.1, method="fullscale", arrangements=32).fit(X, y)
    gap = abs(objective(clf.network_, X, Y, 0.1) - clf.objective_)
    assert gap <= _violation_bound(clf, X, Y, 0.1)
    assert clf.score(X, y) >= 0.9  # measured 0.975; chance is 1/3
    expected = np.argmax(forward(clf.network_, X), axis=1)  # training batch
    assert clf.predict(X).tolist() == expected.tolist()
    reg = ConvexBNClassifier(beta=0.1, arrangements=32, regularizer={"k": 1})
    reg.fit(X, y)
    assert (reg.method_, reg.bound_kind_) == ("fullscale", "patterns")
    assert reg.lower_bound_ == reg.pattern_lower_bound_ <= reg.objective_
    # k = 1 keeps one whitened direction: every w is in the top right singular space
    top = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2][0]
    cosines = np.abs(top @ reg.W_) / np.linalg.norm(reg.W_, axis=0)
    np.testing.assert_allclose(cosines, 1.0, atol=1e-12)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"bn": "c"}, r"`bn` must be 'a' or 'std'"),
        ({"method": "cg"}, r"`method` must be 'auto', 'exact' or 'fullscale'"),
        ({"dtype": "float16"}, r"`dtype` must be 'float64' or 'float32'"),
        ({"arrangements": 0}, r"`arrangements` must be"),
        ({"arrangements": True}, r"`arrangements` must be"),
        ({"arrangements": "all"}, r"`arrangements` must be"),
        ({"arrangements": np.arange(3)}, r"`arrangements` must be"),
        ({"method": "fullscale", "arrangements": 2.5}, r"`arrangements` must be"),
        ({"beta": -1.0}, r"`beta` must be a positive"),
        ({"method": "fullscale", "arrangements": "exact"}, r"`arrangements` 'exact'"),
        ({"method": "fullscale", "solver": "ipm"}, r"`solver` of the full-scale"),
        ({"method": "exact", "regularizer": {"k": 1}}, r"`regularizer` needs"),
        ({"regularizer": {"p": 1}}, r"`regularizer` must be None or a mapping"),
        ({"solver": "nope"}, r"`solver` must be one of"),
    ],
)
def test_bad_parameters_raise_input_error_naming_them(data, params, match):
    X, y = data
    with pytest.raises(InputError, match=match):
        ConvexBNRegressor(**params).fit(X, y)


def test_classifier_needs_two_classes(data):
    X, _ = data
    with pytest.raises(InputError, match=r"`y` must hold at least 2 classes"):
        ConvexBNClassifier().fit(X, np.zeros(X.shape[0], dtype=int))


def test_std_beta_is_the_converted_a_beta(data):
    X, y = data
    n = X.shape[0]
    a = ConvexBNRegressor(beta=0.2, arrangements="exact").fit(X, y)
    beta_std = convert_beta(0.2, n, source="a", target="std")
    s = ConvexBNRegressor(beta=beta_std, bn="std", arrangements="exact").fit(X, y)
    assert s.objective_ == pytest.approx(a.objective_, rel=EXACT_RTOL)
    np.testing.assert_allclose(s.predict(X), a.predict(X), atol=1e-9)


_NO_SKLEARN = textwrap.dedent(
    """
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "sklearn" or name.startswith("sklearn."):
                raise ImportError(f"blocked {name}")

    sys.meta_path.insert(0, Block())
    import bnconvex.estimators as est
    from bnconvex.numerics import InputError
    try:
        est.ConvexBNRegressor
    except InputError as exc:
        print("InputError:", exc)
    print(sorted(m for m in sys.modules if m.startswith("sklearn")))
    """
)


def _run_python(code: str, **env: str) -> str:
    """Run ``code`` in a fresh interpreter (extra environment ``env``); its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_import_without_scikit_learn_fails_only_on_use():
    first, modules = _run_python(_NO_SKLEARN).strip().splitlines()
    assert first.startswith("InputError: `ConvexBNRegressor` needs scikit-learn")
    assert "pip install 'bnconvex[sklearn]'" in first
    assert modules == "[]"


_ARRAY_API_CHECK = textwrap.dedent(
    """
    from sklearn.utils.estimator_checks import check_array_api_input
    from bnconvex.estimators import ConvexBNClassifier, ConvexBNRegressor

    for est in (ConvexBNRegressor(arrangements=16, random_state=0),
                ConvexBNClassifier(arrangements=16, random_state=0)):
        check_array_api_input(type(est).__name__, est, array_namespace="numpy")
    print("ran")
    """
)


def test_array_api_input_check_with_scipy_array_api():
    """The one estimator check pytest skips unless SCIPY_ARRAY_API=1 at import."""
    assert _run_python(_ARRAY_API_CHECK, SCIPY_ARRAY_API="1").strip() == "ran"
