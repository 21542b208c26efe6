import math

import numpy as np
import pytest
from bnconvex.numerics.core.convex_program import (
    ConvexProblem,
    ConvexSolution,
    cone_violation,
    convex_objective,
    predict,
)
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.status import SolverStatus

from tests.common.assertions import assert_rel_close, xp_assert_close

# A 3-sample toy problem computed by hand: U' has rows (1,0), (0,1), (-1,1) and the
# single pattern D = (1,0,1); s = (1,2) gives U's = (1,2,1) and D U's = (1,0,1).
U_TOY = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
D_TOY = np.array([[1], [0], [1]], dtype=bool)


def _toy(y=(0.0, 0.0, 0.0), beta=0.5):
    return ConvexProblem(U_TOY, np.array(y), beta, D_TOY)


def test_problem_sizes_and_pattern_conversion():
    prob = ConvexProblem(U_TOY, [1, 2, 3], 1, D_TOY.astype(int))
    assert (prob.n, prob.m, prob.P) == (3, 2, 1)
    assert prob.D.dtype == bool, f"0/1 patterns must become bool; got {prob.D.dtype}"
    assert prob.y.dtype == np.float64
    assert prob.beta == 1.0


def test_predict_objective_violation_by_hand():
    prob = _toy(y=(0.0, 1.0, 0.0))
    S_plus, S_minus = np.array([[1.0, 2.0]]), np.zeros((1, 2))
    # D U' s = (1, 0, 1); residual (1, -1, 1) -> loss 1.5; penalty 0.5*sqrt(5)
    xp_assert_close(predict(prob, S_plus, S_minus), np.array([1.0, 0.0, 1.0]), rtol=0)
    assert_rel_close(
        convex_objective(prob, S_plus, S_minus), 1.5 + 0.5 * math.sqrt(5), 1e-15
    )
    # (2D - I) U' s = (1, -2, 1): sample 2 violates its "off" constraint by 2
    assert cone_violation(prob, S_plus, S_minus) == 2.0
    # s' = (1, 2) enters with a minus sign and the same violation
    xp_assert_close(predict(prob, S_minus, S_plus), np.array([-1.0, 0.0, -1.0]), rtol=0)


def test_violation_of_points_outside_the_cone():
    prob = _toy()
    # s = (1, -1): U's = (1, -1, -2); sample 3 is "on" (D=1) but negative by 2
    assert cone_violation(prob, [[1.0, -1.0]], [[0.0, 0.0]]) == 2.0
    # s = (1, 0): U's = (1, 0, -1); sample 3 negative by 1
    assert cone_violation(prob, [[1.0, 0.0]], [[0.0, 0.0]]) == 1.0
    # the cone {s1 >= 0, s2 <= 0, s2 - s1 >= 0} is {0}: zero is feasible
    assert cone_violation(prob, np.zeros((1, 2)), np.zeros((1, 2))) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"D": np.ones((4, 2), bool)}, r"`D` must have n=3 rows \(samples\); got 4"),
        ({"D": np.ones(3, bool)}, r"`D` must be a 2-D \(n, P\) array; got ndim=1"),
        ({"D": np.full((3, 1), 2)}, r"`D` must hold 0/1 or bool values"),
        (
            {"D": np.ones((3, 0), bool)},
            r"`D` must have at least one column \(pattern\)",
        ),
        (
            {"D": np.array([[1], [0], [1]]) * np.array([[1, 0]])},
            r"`D` column 1 is all zero",
        ),
        ({"beta": 0.0}, r"`beta` must be a positive finite number; got 0.0"),
        ({"beta": -1}, r"`beta` must be a positive finite number; got -1"),
        ({"y": [0.0, float("nan"), 1.0]}, r"`y` contains NaN"),
        (
            {"y": [0.0, 1.0]},
            r"`y` must have one entry per sample \(n=3\); got length 2",
        ),
        ({"y": np.ones((3, 2))}, r"`y` must be 1-D \(scalar output\)"),
        ({"U_prime": np.ones((2, 3))}, r"`U_prime` must have at most n=2 columns"),
        ({"U_prime": [[np.inf, 0.0]] * 3}, r"`U_prime` contains 3 NaN or infinite"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    args = {"U_prime": U_TOY, "y": np.zeros(3), "beta": 0.5, "D": D_TOY} | kwargs
    with pytest.raises(InputError, match=message):
        ConvexProblem(**args)


def test_block_shape_is_checked():
    with pytest.raises(
        InputError, match=r"`S_minus` must have shape \(P, m\) = \(1, 2\)"
    ):
        predict(_toy(), np.zeros((1, 2)), np.zeros((2, 2)))
    with pytest.raises(InputError, match="`S_plus` contains NaN or infinite values"):
        cone_violation(_toy(), np.full((1, 2), np.nan), np.zeros((1, 2)))


def test_solution_relative_gap():
    sol = ConvexSolution(
        S_plus=np.zeros((1, 2)),
        S_minus=np.zeros((1, 2)),
        objective=-4.0,
        lower_bound=-4.5,
        gap=0.5,
        status=SolverStatus.INACCURATE,
        iterations=3,
        seconds=0.1,
        max_violation=0.0,
        solver="test",
    )
    assert sol.relative_gap == 0.125, "gap / |objective| = 0.5 / 4"
    assert sol.dropped_patterns.shape == (0,)
    assert sol.history == []
