"""Property tests of composed statements at random sizes up to n = 50, exactly.

The symbolic tier proves each step for every size; a few claims are stated
as the *composition* of steps (docs/proofs.md lists them).  These tests check
the composed identities directly on random rational data with exact
arithmetic (``fractions.Fraction``), at sizes the explicit-entry derivations
never reach.  BN compares unit vectors, so "BN(h) = BN(g)" is checked as
"Cg is a positive multiple of Ch", which needs no square root.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)
rationals = st.fractions(min_value=-5, max_value=5, max_denominator=9)


@st.composite
def data(draw: st.DrawFn, max_n: int = 50) -> tuple[list[list[Fraction]], ...]:
    n, d = draw(st.integers(2, max_n)), draw(st.integers(1, 6))
    X = [[draw(rationals) for _ in range(d)] for _ in range(n)]
    w = [draw(rationals) for _ in range(d)]
    return X, w


def _matvec(X: list[list[Fraction]], w: list[Fraction]) -> list[Fraction]:
    return [sum((a * b for a, b in zip(row, w, strict=True)), Fraction(0)) for row in X]


def _centre(h: list[Fraction]) -> list[Fraction]:
    mean = sum(h, Fraction(0)) / len(h)
    return [x - mean for x in h]


@_SETTINGS
@given(data(), st.lists(rationals, min_size=6, max_size=6))
def test_shift_statement_at_random_sizes(xw, shift):
    # C((X + 1 b^T) w) = C(Xw) exactly, so BN((X + 1 b^T) w) = BN(Xw)
    X, w = xw
    b = shift[: len(w)]
    shifted = [[x + s for x, s in zip(row, b, strict=True)] for row in X]
    assert _centre(_matvec(shifted, w)) == _centre(_matvec(X, w))


@_SETTINGS
@given(data(), st.fractions(min_value=Fraction(1, 9), max_value=9))
def test_scale_statement_at_random_sizes(xw, c):
    # C X(cw) = c C Xw with c > 0: the same unit vector, the same BN
    X, w = xw
    scaled = _centre(_matvec(X, [c * x for x in w]))
    assert scaled == [c * x for x in _centre(_matvec(X, w))]


@_SETTINGS
@given(st.integers(2, 50), st.integers(2, 5), st.data())
def test_onehot_gram_at_random_sizes(n, K, draw):
    labels = [draw.draw(st.integers(0, K - 1)) for _ in range(n)]
    Y = [[int(c == k) for k in range(K)] for c in labels]
    gram = [
        [sum(Y[i][k] * Y[i][l] for i in range(n)) for l in range(K)] for k in range(K)
    ]
    sizes = [labels.count(k) for k in range(K)]
    assert gram == [[sizes[k] * (k == l) for l in range(K)] for k in range(K)]


@_SETTINGS
@given(st.integers(2, 50), st.integers(1, 5), st.data())
def test_weak_duality_gap_at_random_sizes(n, m, draw):
    # P - D = 1/2||z + v - y||^2 + sum_j (beta|v_j| - (v^T a_j) v_j), z = A v_out
    def vec(size):
        return [draw.draw(rationals) for _ in range(size)]

    y, dual, out = vec(n), vec(n), vec(m)
    A = [[abs(draw.draw(rationals)) for _ in range(m)] for _ in range(n)]
    beta = draw.draw(st.fractions(min_value=Fraction(1, 9), max_value=3))
    z = _matvec(A, out)
    sq = lambda u: sum((x * x for x in u), Fraction(0))  # noqa: E731
    primal = sq([a - b for a, b in zip(z, y, strict=True)]) / 2 + beta * sum(
        (abs(x) for x in out), Fraction(0)
    )
    dual_value = -sq([a - b for a, b in zip(dual, y, strict=True)]) / 2 + sq(y) / 2
    gap = sq([a + b - c for a, b, c in zip(z, dual, y, strict=True)]) / 2 + sum(
        (
            beta * abs(out[j])
            - sum((dual[i] * A[i][j] for i in range(n)), Fraction(0)) * out[j]
            for j in range(m)
        ),
        Fraction(0),
    )
    assert primal - dual_value == gap
