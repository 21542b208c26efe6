from typing import ClassVar

import pytest
from bnconvex.numerics.errors import ClaimError
from bnconvex.verify.registry import Claim, Evidence, register, unregister


def test_claim_without_tolerance_is_rejected():
    class NoTol(Claim):
        id = "test.no_tol"
        title = "t"
        paper_ref = "none"
        statement = "x"

        def check_float64(self, inst):
            return Evidence(max_abs_err=0.0)

    with pytest.raises(ClaimError, match="needs a tolerance"):
        register(NoTol)


def test_duplicate_id_is_rejected():
    class Ok(Claim):
        id = "test.dup"
        title = "t"
        paper_ref = "none"
        statement = "x"
        tolerances: ClassVar[dict[str, float]] = {"float64": 0.0}

        def check_float64(self, inst):
            return Evidence(max_abs_err=0.0)

    register(Ok)
    try:
        with pytest.raises(ClaimError, match="registered twice"):
            register(Ok)
    finally:
        unregister("test.dup")
