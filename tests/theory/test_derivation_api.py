"""The Derivation/Step containers."""

from __future__ import annotations

import pytest
import sympy as sp
from bnconvex.theory import Derivation, Step, overall

x = sp.Symbol("x", real=True)


def _steps():
    return (
        Step(
            "square", "(x+1)^2 = x^2+2x+1", expr=x**2 + 2 * x + 1, source=(x + 1) ** 2
        ),
        Step("definition", "f = x", expr=x),
        Step(
            "positive", "x^2 + 1 >= 0", expr=sp.S.Zero, source=x**2 + 1, relation=">="
        ),
    )


def test_prove_each_step_and_records():
    der = Derivation("demo", _steps())
    assert der.prove() == {"square": "zero", "definition": "zero", "positive": "zero"}
    assert der.as_records()[0] == {
        "name": "square",
        "latex": "(x+1)^2 = x^2+2x+1",
        "title": "square",
        "scope": "instance (unlabelled)",
    }
    scoped = der.scoped("general").titled({"square": "expand the square"})
    assert scoped.as_records()[0]["title"] == "expand the square"
    assert scoped.scope_counts() == {"general": 3, "instance": 0}
    assert der.scope_counts() == {"general": 0, "instance": 3}
    assert len(der) == 3, f"{len(der)} steps"
    assert [s.name for s in der] == [
        "square",
        "definition",
        "positive",
    ]


def test_duplicate_step_names_are_rejected():
    step = _steps()[0]
    with pytest.raises(ValueError, match=r"repeat names \['square'\]"):
        Derivation("dup", (step, step))


def test_suffixed_and_concatenated():
    der = Derivation("demo", _steps())
    both = der + der.suffixed("_2")
    assert [s.name for s in both][-1] == "positive_2"
    with pytest.raises(KeyError, match="no step 'missing'"):
        both.step("missing")


def test_false_step_is_nonzero_and_overall():
    bad = Step("bad", "x = x + 1", expr=x + 1, source=x)
    assert bad.prove() == "nonzero"
    assert overall({"a": "zero", "b": "inconclusive"}) == "inconclusive"
    assert overall({"a": "nonzero", "b": "inconclusive"}) == "nonzero"
    assert overall({"a": "zero"}) == "zero"


@pytest.mark.parametrize(
    ("factory", "args", "message"),
    [
        (
            "scale_invariance",
            (1, 2),
            r"`size` must be an integer in range\(2, 9\); got 1",
        ),
        (
            "shift_invariance",
            (3, 0),
            r"`dim` must be an integer in range\(1, 6\); got 0",
        ),
        ("convention_conversion", (2.5,), r"`size` must be an integer .*; got 2.5"),
        ("am_gm", (True,), r"`size` must be an integer .*; got True"),
        (
            "sigma2_preconditioning",
            (4,),
            r"`dim` must be an integer in \(2, 3\); got 4",
        ),
        ("gradient_orthogonality", (0,), r"`rank` must be an integer .*; got 0"),
    ],
)
def test_bad_sizes_are_rejected_with_the_argument_named(factory, args, message):
    from bnconvex import theory

    with pytest.raises(ValueError, match=message):
        getattr(theory, factory)(*args)
