"""Full-scale convex BN models: array-API solver, large whitening, regularisers.

Public API
----------
fit, FullScaleModel
    whitening + regulariser + sampled patterns + solve, and ``predict`` on new data.
solve_fullscale, solve_path, FullScaleSolution
    the convex program on given features ``F`` (= U') and patterns ``D``.
whiten_large, whiten_randomized, left_factor, SpectralFactors
    centred SVD of large matrices (chunked float64 Gram; randomized rank-k SVD).
truncated_whitening, spectral_features, FeatureMap
    explicit regularisers (paper.md §4).
sample_patterns, network_patterns
    seeded Gaussian patterns, or those of a briefly trained BN network, with
    their generators.
"""

from bnconvex.numerics.fullscale.model import FullScaleModel, fit
from bnconvex.numerics.fullscale.patterns import network_patterns, sample_patterns
from bnconvex.numerics.fullscale.regularizers import (
    FeatureMap,
    spectral_features,
    truncated_whitening,
)
from bnconvex.numerics.fullscale.solver import (
    ADMM_MAX_N,
    CLASSWISE_MAX_M,
    WORKING_SET_MIN_RATIO,
    WORKING_SET_RATE,
    FullScaleProgress,
    FullScaleSolution,
    solve_fullscale,
    solve_path,
    working_set_seconds,
)
from bnconvex.numerics.fullscale.whitening import (
    SpectralFactors,
    left_factor,
    whiten_large,
    whiten_randomized,
)

__all__ = [
    "ADMM_MAX_N",
    "CLASSWISE_MAX_M",
    "WORKING_SET_MIN_RATIO",
    "WORKING_SET_RATE",
    "FeatureMap",
    "FullScaleModel",
    "FullScaleProgress",
    "FullScaleSolution",
    "SpectralFactors",
    "fit",
    "left_factor",
    "network_patterns",
    "sample_patterns",
    "solve_fullscale",
    "solve_path",
    "spectral_features",
    "truncated_whitening",
    "whiten_large",
    "whiten_randomized",
    "working_set_seconds",
]
