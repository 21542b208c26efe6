"""Cross-check of the ``ipm`` solver against CVXPY + Clarabel on the same program.

The CVXPY model (``_convex_cases.cvxpy_blocks``) is written independently of
the ``cvxpy-clarabel`` plug-in (one block pair per pattern, explicit loops), so
a shared modelling bug would have to be made twice.
"""

import warnings

import pytest
from bnconvex.numerics.core.certificate import certify_predictions
from bnconvex.numerics.core.convex_program import predict
from bnconvex.numerics.solvers import solve_convex

from tests.common.assertions import assert_rel_close
from tests.common.extras import import_test_extra
from tests.numerics._convex_cases import cvxpy_blocks, exact_case, ipm_solution

# the test extra: a missing CVXPY or Clarabel fails this module (tests/common/extras)
cp = import_test_extra("cvxpy")
import_test_extra("clarabel")


def _cvxpy_optimum(prob) -> float:
    """Optimal value of the program by CVXPY + Clarabel (tight tolerances)."""
    pred, penalty, cons = cvxpy_blocks(cp, prob)
    model = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(pred - prob.y) + prob.beta * penalty), cons
    )
    # Clarabel may stop "optimal_inaccurate" near 1e-9 on the larger instances (it
    # warns); the agreement asserted by the caller is the real check
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model.solve(
            solver=cp.CLARABEL,
            tol_gap_abs=1e-9,
            tol_gap_rel=1e-9,
            tol_feas=1e-9,
            max_iter=500,
        )
    assert model.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE), model.status
    return float(model.value)


CASES = [
    (6, 1, 0, 0.2),
    (7, 2, 1, 0.1),
    (8, 2, 2, 0.05),
    (9, 3, 3, 0.3),
    (10, 2, 4, 0.1),
]
SLOW_CASES = [(12, 3, 5, 0.1), (12, 3, 6, 0.02)]


def _crosscheck(case):
    prob = exact_case(*case)[1]
    ours = ipm_solution(*case)
    ref = _cvxpy_optimum(prob)
    # both are certified/optimal to ~1e-9; Clarabel's own accuracy limits the agreement
    assert_rel_close(ours.objective, ref, 1e-7, "ipm vs CVXPY+Clarabel optimum")
    # weak duality: our certified lower bound may not exceed an independent optimum
    assert ours.lower_bound <= ref * (1 + 1e-9), f"{ours.lower_bound} > CVXPY {ref}"


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: "n{}-d{}-seed{}-beta{}".format(*c)
)
def test_ipm_matches_cvxpy(case):
    _crosscheck(case)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", SLOW_CASES, ids=lambda c: "n{}-d{}-seed{}-beta{}".format(*c)
)
def test_ipm_matches_cvxpy_larger(case):
    _crosscheck(case)


def test_plugin_point_is_certified_by_our_certificate():
    prob = exact_case(8, 2, 2, 0.05)[1]
    ref = solve_convex(prob, solver="cvxpy-clarabel", tol=1e-10)
    cert = certify_predictions(
        prob, predict(prob, ref.S_plus, ref.S_minus), ref.objective
    )
    ours = ipm_solution(8, 2, 2, 0.05)
    assert cert.lower_bound <= ours.objective * (1 + 1e-12), "bound above our optimum"
    assert_rel_close(ref.objective, ours.objective, 1e-7, "plug-in vs ipm optimum")
    assert ref.max_violation <= 1e-7, f"Clarabel violation {ref.max_violation:.2e}"
