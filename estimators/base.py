"""Shared base of the scikit-learn estimators (needs scikit-learn).

Parameters, fitting, the learned attributes and frozen-statistics inference;
:mod:`bnconvex.estimators.regression` and
:mod:`bnconvex.estimators.classification` add the target handling.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from bnconvex.numerics.result import relative_gap
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .core import FitOptions, batch_statistics, fit_columns, frozen_forward

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - scikit-learn 1.5

    def validate_data(estimator: Any, X: Any, y: Any = "no_validation", **kw: Any):
        """scikit-learn 1.5's ``BaseEstimator._validate_data``."""
        return estimator._validate_data(X, y, **kw)


__all__ = ["ConvexBNBase", "validate_data"]

#: The learned attributes a fit sets (for the docstrings and the tests).
FITTED_ATTRIBUTES = (
    "network_",
    "W_",
    "gamma_",
    "alpha_",
    "v_",
    "running_mean_",
    "running_var_",
    "objective_",
    "lower_bound_",
    "pattern_lower_bound_",
    "gap_",
    "relative_gap_",
    "bound_kind_",
    "status_",
    "method_",
    "n_patterns_",
    "n_iter_",
    "n_samples_fit_",
    "n_features_in_",
)


class ConvexBNBase(BaseEstimator):
    """Parameters and fitted state common to the regressor and the classifier.

    See :class:`bnconvex.estimators.ConvexBNRegressor` for the parameters.
    """

    def __init__(
        self,
        beta: float = 1.0,
        *,
        bn: str = "a",
        arrangements: str | int = "auto",
        method: str = "auto",
        solver: str | None = None,
        tol: float | None = None,
        max_iter: int | None = None,
        time_limit: float | None = None,
        regularizer: dict[str, Any] | None = None,
        dtype: str = "float64",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.beta = beta
        self.bn = bn
        self.arrangements = arrangements
        self.method = method
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.time_limit = time_limit
        self.regularizer = regularizer
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _options(self) -> FitOptions:
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        return FitOptions(
            beta=self.beta,
            bn=self.bn,
            arrangements=self.arrangements,
            method=self.method,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            time_limit=self.time_limit,
            regularizer=self.regularizer,
            dtype=self.dtype,
            seed=seed,
            verbose=self.verbose,
        )

    def _fit_targets(self, X: np.ndarray, Y: np.ndarray, *, vector: bool) -> None:
        """Fit the columns of ``Y`` and set the learned attributes.

        ``vector=False`` (one column) stores ``v_`` 1-D: a scalar network.
        """
        summary = fit_columns(X, Y, self._options())
        net = summary.network
        net = net if vector else net.replace(v=net.v[:, 0])
        self.network_ = net
        self.W_, self.gamma_, self.alpha_ = net.W, net.gamma, net.alpha
        self.v_ = net.v
        self.running_mean_, self.running_var_ = batch_statistics(net, X)
        self.objective_ = summary.objective
        self.lower_bound_ = summary.lower_bound
        self.pattern_lower_bound_ = summary.pattern_lower_bound
        self.gap_ = summary.objective - summary.lower_bound
        self.relative_gap_ = relative_gap(self.gap_, self.objective_)
        self.bound_kind_ = summary.bound_kind
        self.status_ = summary.status
        self.method_ = summary.method
        self.n_patterns_ = summary.n_patterns
        self.n_iter_ = summary.n_iter
        self.n_samples_fit_ = int(X.shape[0])

    def _raw_predict(self, X: Any) -> np.ndarray:
        """``(N, K)`` outputs on new samples, BN statistics of the training batch."""
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return frozen_forward(
            self.network_, X, self.running_mean_, self.running_var_, self.n_samples_fit_
        )

    def save_network(self, path: str | os.PathLike[str]) -> None:
        """Write the fitted network to ``path`` (``.npz``, ``.pt`` or ``.pth``).

        Parameters
        ----------
        path : path-like
            ``.npz``: :func:`bnconvex.numerics.save_network`'s format
            in convention ``bn``.  ``.pt``/``.pth``: the state dict of
            ``nn.Sequential(Linear(d, m), BatchNorm1d(m), ReLU(), Linear(m, K))``
            in convention ``std`` (PyTorch's), whatever ``bn`` is, with the BN
            running statistics set to those of the training batch, so that
            the model in ``eval()`` mode with ``eps=0`` computes
            :meth:`predict`'s outputs (the default ``eps=1e-5`` changes them by
            a relative ``~eps/var``); needs PyTorch.

        Notes
        -----
        Both files are read back by :func:`~bnconvex.numerics.load_network`
        and ``bnconvex certify`` (a state dict with ``--bn-eps 0``), which
        certify the network's training objective on the training data.
        """
        from bnconvex.numerics import save_network
        from bnconvex.numerics.exact import network_in_convention

        check_is_fitted(self, "network_")
        suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
        if suffix in ("pt", "pth"):
            net = self.network_
            if net.convention == "a":
                net = network_in_convention(net, self.n_samples_fit_, "std")
            stats = (self.running_mean_, self.running_var_)
            save_network(net, path, running_stats=stats)
        else:
            save_network(self.network_, path)
