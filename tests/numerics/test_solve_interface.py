"""One solve interface: registry, option vocabulary, result base class."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from bnconvex.numerics.core.convex_program import ConvexSolution
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.bn_after_relu import AfterReLUSolution
from bnconvex.numerics.extensions.losses import get_loss
from bnconvex.numerics.fullscale import FullScaleSolution
from bnconvex.numerics.result import COMMON_OPTIONS, SolveResult
from bnconvex.numerics.solvers import METHODS, SOLVERS, solve, solve_convex
from bnconvex.numerics.solvers.loss_barrier import BarrierResult, BlockProgram

from tests.numerics._convex_cases import exact_case

BASE_FIELDS = {f.name for f in dataclasses.fields(SolveResult)}


def _block_program() -> BlockProgram:
    """min 1/2 ||x 1 - y||^2 + beta |x| s.t. x >= 0 (one block of size one)."""
    return BlockProgram(
        A=np.ones((3, 1, 1)),
        B=np.ones((1, 1, 1)),
        G=np.ones((1, 1, 1)),
        y=np.array([1.0, 2.0, 3.0]),
        beta=0.1,
        loss=get_loss("squared"),
        radius=np.array([np.inf]),
        start=np.array([[1.0]]),
    )


def _problem_for(method: str):
    if METHODS[method].problem is BlockProgram:
        return _block_program()
    return exact_case(6, 2, 0, 0.1)[1]


def test_registry_holds_every_method():
    assert set(SOLVERS) <= set(METHODS)
    assert set(METHODS) == {
        "working-set",
        "ipm",
        "cvxpy-clarabel",
        "fullscale-admm",
        "fullscale-al",
        "loss-barrier",
    }
    for entry in METHODS.values():
        assert entry.options()[:4] == COMMON_OPTIONS


@pytest.mark.parametrize("method", sorted(METHODS))
def test_unknown_option_is_input_error_naming_it(method):
    problem = _problem_for(method)
    with pytest.raises(InputError, match=r"`max_iters` is not an option of solver"):
        solve(problem, method=method, max_iters=5)  # a typo of max_iter


def test_unknown_option_through_solve_convex():
    _, prob = exact_case(6, 2, 0, 0.1)
    with pytest.raises(InputError, match=r"`margin_tol` is not an option .*'working"):
        solve_convex(prob, solver="working-set", margin_tol=1e-9)  # an ipm option


@pytest.mark.parametrize("method", sorted(METHODS))
def test_wrong_problem_type_is_input_error(method):
    other = exact_case(6, 2, 0, 0.1)[1]
    if METHODS[method].problem is not BlockProgram:
        other = _block_program()
    with pytest.raises(InputError, match=r"`problem` must be a"):
        solve(other, method=method)


def test_unknown_method_is_input_error():
    with pytest.raises(InputError, match=r"`method` must be one of .*; got 'nope'"):
        solve(_block_program(), method="nope")


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")  # CVXPY, 3 steps
@pytest.mark.parametrize("method", sorted(METHODS))
def test_max_iter_bounds_reported_iterations(method):
    """``max_iter`` has one meaning: a budget on ``result.iterations``."""
    if not METHODS[method].is_installed():
        pytest.skip(f"{method} not installed (optional)")
    budget = 3
    res = solve(_problem_for(method), method=method, max_iter=budget, tol=1e-12)
    assert isinstance(res, SolveResult)
    assert 0 < res.iterations <= budget, (method, res.iterations)
    assert res.solver.startswith(method)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_reports_the_base_attributes(method):
    if not METHODS[method].is_installed():
        pytest.skip(f"{method} not installed (optional)")
    res = solve(_problem_for(method), method=method, tol=1e-6)
    assert isinstance(res, SolveResult)
    for name in BASE_FIELDS | {"relative_gap", "bound_kind"}:
        assert hasattr(res, name), name
    assert res.gap == pytest.approx(res.objective - res.lower_bound, abs=1e-12)
    assert res.bound_kind == "patterns"


@pytest.mark.parametrize(
    "cls", [ConvexSolution, FullScaleSolution, BarrierResult, AfterReLUSolution]
)
def test_result_classes_extend_the_base(cls):
    assert issubclass(cls, SolveResult)
    names = {f.name for f in dataclasses.fields(cls)}
    assert names >= BASE_FIELDS


@pytest.mark.parametrize("method", ["admm", "al"])
def test_fullscale_methods_implement_the_protocol(method, monkeypatch):
    """The object solve_fullscale drives is a FullScaleMethod, same signatures."""
    import inspect

    from bnconvex.numerics.fullscale import solver as fs
    from bnconvex.numerics.fullscale.method import FullScaleMethod

    seen = []
    run = fs._run

    def spy(solver, *args, **kwargs):
        seen.append(solver)
        return run(solver, *args, **kwargs)

    monkeypatch.setattr(fs, "_run", spy)
    _, prob = exact_case(6, 2, 0, 0.1)
    res = solve(prob, method=f"fullscale-{method}", max_iter=50)
    assert isinstance(res, FullScaleSolution)
    (obj,) = seen
    assert isinstance(obj, FullScaleMethod)
    assert obj.name == method == res.method
    for name in ("advance", "current", "adapt", "state", "restore"):
        want = list(inspect.signature(getattr(FullScaleMethod, name)).parameters)
        got = list(inspect.signature(getattr(type(obj), name)).parameters)
        assert got == want, (name, got, want)
