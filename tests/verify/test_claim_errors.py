import numpy as np
import pytest
from bnconvex.verify.claims._errors import TINY, below, rel_err, vec_rel_err


def test_rel_err_values():
    assert rel_err(1.5, 1.0) == 0.5
    assert rel_err(-1.0, -2.0) == 0.5
    # a zero reference is floored at the smallest normal float, not a ZeroDivisionError
    assert rel_err(TINY, 0.0) == 1.0


def test_vec_rel_err_value():
    # ||(3, 8) - (3, 4)|| / ||(3, 4)|| = 4 / 5
    got = vec_rel_err(np.array([3.0, 8.0]), np.array([3.0, 4.0]))
    assert got == pytest.approx(0.8, rel=1e-15)


def test_below_is_zero_above_and_relative_below():
    assert below(2.0, 1.0) == 0.5
    assert below(1.0, 2.0) == 0.0
