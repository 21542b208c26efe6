"""``ConvexBNRegressor``: BN-ReLU regression trained to global optimality (sklearn)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from .base import ConvexBNBase, validate_data

__all__ = ["ConvexBNRegressor"]


class ConvexBNRegressor(RegressorMixin, ConvexBNBase):
    r"""Two-layer BN-ReLU regression network fitted through its convex program.

    Fits :math:`f(X) = \sum_j (BN_{\gamma_j,\alpha_j}(Xw_j))_+ v_j` to
    :math:`\min \tfrac12\|f(X) - y\|^2 + \tfrac\beta2\sum_j(\gamma_j^2 +
    \alpha_j^2 + v_j^2)` by solving the equivalent convex program (paper.md
    R1) and reading the network off its solution, with a certified lower
    bound on the optimum.  A target matrix ``(n, K)`` is fitted as ``K``
    programs, one per column (each neuron feeds one output).

    Parameters
    ----------
    beta : float, default 1.0
        Weight decay :math:`\beta > 0`, in the convention ``bn``.
    bn : {"a", "std"}, default "a"
        BN convention of ``beta`` and of the fitted network: ``"a"`` (ℓ2
        normaliser, shift :math:`\alpha/\sqrt n`) or ``"std"`` (PyTorch's
        ``BatchNorm1d``; :math:`\beta_a = \beta/\sqrt n`).
    arrangements : "auto", "exact" or int, default "auto"
        Activation patterns of the program.  ``"exact"``: the complete
        arrangement (bound kind ``global``; exponential in the rank of the
        centred data, refused above 200,000 patterns); an integer: that many
        sampled patterns; ``"auto"``: exact when the arrangement has at most
        20,000 patterns, else 5,000 samples (exact path), 512 samples
        (full-scale path).
    method : {"auto", "exact", "fullscale"}, default "auto"
        ``"exact"``: :func:`bnconvex.numerics.exact.fit_exact` (interior-point
        solvers, float64); ``"fullscale"``:
        :func:`bnconvex.numerics.fullscale.fit` (first-order, chunked, float32
        or float64); ``"auto"``: exact up to 1,000 samples without a
        ``regularizer``, full scale above.
    solver : str, optional
        Exact path: a plug-in of :data:`bnconvex.numerics.SOLVERS`
        (default ``"working-set"``); full-scale path: ``"auto"``, ``"admm"`` or
        ``"al"``.
    tol, max_iter, time_limit : optional
        Relative gap tolerance, iteration budget and wall-time budget (s) of
        the solver (its defaults when None); on the exact path they apply to
        each output's program (one per class for the classifier).  A solve
        stopped by a budget is not an error: ``status_`` says so and ``gap_``
        is still certified.
    regularizer : dict, optional
        Full-scale path only: the explicit regulariser
        :math:`[U_k(\Sigma_k/\sigma_1)^p, c/\sqrt n]` as
        ``{"k": k, "power": p, "shift": c}`` (any subset; ``bnconvex train
        --regularizer``).  The fitted program is then not the network's
        training problem, and ``lower_bound_`` is of kind ``patterns``.
    dtype : {"float64", "float32"}, default "float64"
        Working precision of the full-scale solver (the exact solvers always
        use float64).
    random_state : int, RandomState or None
        Seed of the pattern sampling.
    verbose : bool, default False
        Solver progress on stderr.

    Attributes
    ----------
    network_ : BNNetwork
        The fitted network, convention ``bn``, ``eps = 0``.
    W_, gamma_, alpha_, v_ : ndarray
        Its weights: ``(d, m)``, ``(m,)``, ``(m,)``, ``(m,)`` (``(m, K)`` for a
        2-D target).
    running_mean_, running_var_ : ndarray of shape (m,)
        Mean and biased variance of ``X @ W_`` over the training batch: the BN
        statistics :meth:`predict` uses on new samples.
    objective_ : float
        Training objective of ``network_`` on the training data (convention
        ``bn``; the same number as in A): the program's objective at a
        feasible point, and what the certificate bounds even when a budget
        stopped the solver at an infeasible one.  With a ``regularizer``: the
        regularised program's objective.
    lower_bound_ : float
        Certified lower bound on the global optimum, of kind ``bound_kind_``.
    bound_kind_ : {"global", "patterns", "universal"}
        ``global``: valid for every network (complete arrangement);
        ``universal``: :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`, valid for
        every network, usually loose (sampled patterns); ``patterns``: valid
        for the program over the patterns used (with a regulariser).
    gap_, relative_gap_ : float
        ``objective_ - lower_bound_`` and its ratio to ``|objective_|``.
    pattern_lower_bound_ : float
        Lower bound on the program over the patterns used (the solver's gap).
    status_ : str
        Solver status (``"optimal"``, ``"time_limit"``, ...).
    method_ : {"exact", "fullscale"}
    n_patterns_ : int
        Number of activation patterns of the program (per output).
    n_iter_ : int
        Solver iterations (the largest over the outputs).
    n_samples_fit_, n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.

    Notes
    -----
    :meth:`predict` on new samples uses the BN statistics of the training
    batch (``running_mean_``, ``running_var_``; PyTorch's ``eval()`` mode), so
    each prediction depends on its own row only; on the training batch it
    equals the training-mode output :func:`bnconvex.numerics.forward`.

    Examples
    --------
    >>> from bnconvex.numerics import make_regression
    >>> from bnconvex.estimators import ConvexBNRegressor
    >>> X, y = make_regression(12, 2, seed=0, noise=0.1)
    >>> reg = ConvexBNRegressor(beta=0.1, arrangements="exact").fit(X, y)
    >>> reg.bound_kind_, reg.status_, round(reg.objective_, 8), reg.gap_ < 1e-10
    ('global', 'optimal', 0.52212986, True)
    """

    def fit(self, X: Any, y: Any) -> ConvexBNRegressor:
        """Fit the network to global optimality (or to the solver's budget).

        Parameters
        ----------
        X : array-like of shape (n, d)
        y : array-like of shape (n,) or (n, K)

        Returns
        -------
        self
        """
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float64,
            y_numeric=True,
            multi_output=True,
            ensure_min_samples=2,
        )
        y = np.asarray(y, dtype=np.float64)
        Y = y[:, None] if y.ndim == 1 else y
        self._fit_targets(X, Y, vector=y.ndim == 2)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Network output on ``X`` with the training batch's BN statistics.

        Parameters
        ----------
        X : array-like of shape (N, d)

        Returns
        -------
        ndarray of shape (N,) or (N, K)
        """
        return self._raw_predict(X)

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, bool]:  # scikit-learn 1.5
        return {"multioutput": True}
