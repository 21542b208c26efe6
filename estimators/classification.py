"""``ConvexBNClassifier``: one-hot squared-loss BN-ReLU classifier (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from bnconvex.numerics import InputError
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets

from .base import ConvexBNBase, validate_data

__all__ = ["ConvexBNClassifier"]


class ConvexBNClassifier(ClassifierMixin, ConvexBNBase):
    r"""BN-ReLU classifier: squared loss on one-hot labels, fitted by convex programs.

    As ``bnconvex train``: the labels become the one-hot matrix
    :math:`Y \in \{0, 1\}^{n \times K}` (``K = len(classes_)``, two columns
    for two classes) and the network :math:`f(X) \in \mathbb R^{n\times K}`
    minimises :math:`\tfrac12\|f(X) - Y\|_F^2 + \tfrac\beta2\sum_j(\gamma_j^2 +
    \alpha_j^2 + \|v_j\|^2)` over networks whose neurons each feed one class
    (``group="class"``): ``K`` independent scalar programs, one per class
    (one-vs-rest, the exact program being scalar).  The predicted class is
    the largest output.

    Parameters
    ----------
    beta, bn, arrangements, method, solver, tol, max_iter, time_limit, \
regularizer, dtype, random_state, verbose
        As :class:`~bnconvex.estimators.ConvexBNRegressor`.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        The class labels, sorted.
    network_, W_, gamma_, alpha_, running_mean_, running_var_
        As the regressor's; ``v_`` has shape ``(m, K)`` with one non-zero
        entry per row.
    objective_, lower_bound_, pattern_lower_bound_, gap_, relative_gap_, \
bound_kind_, status_, method_, n_patterns_, n_iter_
        Summed over the ``K`` programs (a bound kind is the weakest of them):
        the lower bound is certified for networks whose neurons each feed one
        class, the architecture the fit searches (a network with shared
        neurons may go lower).
    n_samples_fit_, n_features_in_ : int

    Notes
    -----
    No ``predict_proba``: squared-loss scores are not probabilities (they are
    not confined to [0, 1] nor summing to one), and calibrating them would be
    a different model; use :meth:`decision_function`, or
    ``sklearn.calibration.CalibratedClassifierCV`` around this estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.estimators import ConvexBNClassifier
    >>> X = np.array([[0.0, 0.1], [0.2, 0.0], [1.0, 1.1], [1.2, 0.9], [0.1, 1.0]])
    >>> clf = ConvexBNClassifier(beta=0.01, arrangements="exact")
    >>> clf.fit(X, ["a", "a", "b", "b", "a"]).predict(X).tolist()
    ['a', 'a', 'b', 'b', 'a']
    >>> clf.bound_kind_, clf.status_
    ('global', 'optimal')
    """

    def fit(self, X: Any, y: Any) -> ConvexBNClassifier:
        """Fit one convex program per class on the one-hot labels.

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : array-like of shape (n,)
            Class labels (at least two classes).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise InputError(
                f"`y` must hold at least 2 classes; got 1 class ({self.classes_[0]!r})"
            )
        Y = (labels[:, None] == np.arange(self.classes_.size)).astype(np.float64)
        self._fit_targets(X, Y, vector=True)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """One-hot regression scores; for two classes, class 1's minus class 0's.

        Parameters
        ----------
        X : array-like of shape (N, d)

        Returns
        -------
        ndarray of shape (N, K), or (N,) for two classes (positive: ``classes_[1]``)
        """
        scores = self._raw_predict(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict(self, X: Any) -> np.ndarray:
        """Predict the class with the largest score.

        Parameters
        ----------
        X : array-like of shape (N, d)

        Returns
        -------
        ndarray of shape (N,)
        """
        scores = self._raw_predict(X)
        return self.classes_[np.argmax(scores, axis=1)]
