"""The chunked float32 convex CNN against the exact program of extensions.cnn."""

import math

import numpy as np
import pytest
from bnconvex.numerics.core.reconstruct import convex_to_network
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.cnn import (
    CNNProblem,
    ConvGeometry,
    cnn_convex_objective,
    cnn_forward,
    solve_cnn,
)
from bnconvex.numerics.extensions.cnn_fullscale import (
    fit_gated_cnn,
    image_patches,
    patch_whitening,
    pooled_features,
    relu_reading,
    sample_gates,
)
from bnconvex.numerics.status import SolverStatus

from tests.common.assertions import assert_rel_close

GEOMETRY = ConvGeometry(2, stride=1, pooling="average")
#: float32 features: a few units of roundoff (6e-8) times the whitening's
#: condition number sigma_1 / sigma_r (below 10 on this instance, asserted)
#: and the patch size; measured errors are ~1e-7
F32_RTOL = 1e-5


@pytest.fixture(scope="module")
def tiny():
    """Four 3x3 one-channel images, kernel 2 (K = 4 positions, h = 4, nK = 16)."""
    rng = np.random.default_rng(3)
    images = rng.standard_normal((4, 1, 3, 3))
    y = rng.standard_normal(4)
    wh = patch_whitening(images, GEOMETRY)
    gates = sample_gates(4, 5, seed=1)
    patches = image_patches(images, GEOMETRY)  # (n, K, h)
    n, K = patches.shape[:2]
    D = (patches.astype(np.float32) @ gates >= 0).transpose(1, 0, 2).reshape(n * K, -1)
    problem = CNNProblem(images, y, 0.05, GEOMETRY, D=D)
    F = wh.features(patches).transpose(1, 0, 2).reshape(n * K, -1)
    # F = sqrt(nK) U' Q with Q orthogonal (the two SVDs differ by signs)
    Q = problem.U_prime.T @ F.astype(np.float64) / math.sqrt(n * K)
    return images, y, wh, gates, problem, Q


def _to_convex(Q, u, nK):
    """Blocks u of F (P, r) -> blocks s = sqrt(nK) Q u of U' (P, r)."""
    return math.sqrt(nK) * u @ Q.T


def test_whitening_is_the_projects_up_to_an_orthogonal_map(tiny):
    _, _, wh, _, problem, Q = tiny
    assert wh.sigma[0] / wh.sigma[-1] < 10  # used by F32_RTOL
    assert wh.rank == wh.k == problem.U_prime.shape[1] - 1
    np.testing.assert_allclose(Q.T @ Q, np.eye(Q.shape[0]), atol=F32_RTOL)
    np.testing.assert_allclose(wh.sigma, problem.whitening.sigma, rtol=1e-12)


def test_pooled_features_and_objective_match_the_exact_program(tiny):
    images, y, wh, gates, problem, Q = tiny
    nK = problem.n * problem.K
    Phi = pooled_features(images, GEOMETRY, wh, gates)
    ref = math.sqrt(nK) * problem.pooled_blocks() @ Q
    np.testing.assert_allclose(Phi, ref, rtol=F32_RTOL, atol=F32_RTOL)
    u = np.random.default_rng(0).standard_normal(Phi.shape[1:]).astype(np.float32)
    lam = problem.beta * math.sqrt(nK)
    yhat = np.einsum("jpr,pr->j", Phi.astype(np.float64), u)
    ours = 0.5 * np.sum((yhat - y) ** 2) + lam * np.linalg.norm(u, axis=1).sum()
    s = _to_convex(Q, u.astype(np.float64), nK)
    exact = cnn_convex_objective(problem, s, np.zeros_like(s))
    assert_rel_close(ours, exact, F32_RTOL, "gated objective vs cnn_convex_objective")


def test_fista_solves_the_relaxation_of_solve_cnn(tiny):
    images, y, wh, gates, problem, Q = tiny
    nK = problem.n * problem.K
    Phi = pooled_features(images, GEOMETRY, wh, gates)
    # float32 iterates: the residual certificate is first order in the
    # prediction's rounding; measured gap floor 1.1e-6, so tol = 1e-5
    lam = problem.beta * math.sqrt(nK)
    fit = fit_gated_cnn(Phi, y, lam, tol=1e-5, record_every=0.0)
    assert fit.status == SolverStatus.OPTIMAL
    assert fit.lower_bound <= fit.objective
    exact = solve_cnn(problem)
    assert exact.relative_gap <= 1e-8
    # the gated program drops the cones: its optimum (>= its dual bound) is at
    # most the cone-constrained optimum (certified by solve_cnn to 1e-8)
    assert fit.lower_bound <= exact.objective * (1 + 1e-8)
    assert fit.relative_gap <= 1e-5
    # a cone-feasible point of the exact program is a gated point with the
    # same prediction, so its objective bounds the gated optimum from above
    u = (exact.S_plus - exact.S_minus) @ Q / math.sqrt(nK)
    Phi64 = Phi.astype(np.float64)
    val = 0.5 * np.sum((np.einsum("jpr,pr->j", Phi64, u) - y) ** 2)
    val += problem.beta * math.sqrt(nK) * np.linalg.norm(u, axis=1).sum()
    assert fit.lower_bound <= val * (1 + F32_RTOL)


def test_relu_reading_is_cnn_forward_of_the_reconstructed_network(tiny):
    images, _, wh, gates, problem, Q = tiny
    nK = problem.n * problem.K
    rng = np.random.default_rng(5)
    u = rng.standard_normal((gates.shape[1], wh.k + 1, 1)).astype(np.float32)
    u[1] = 0.0  # a zero block is no neuron
    reading = relu_reading(images, GEOMETRY, wh, gates, u)
    sgn = reading.signs[:, 0]
    assert sgn[1] == 0
    assert np.all(np.abs(np.delete(sgn, 1)) == 1)
    s = _to_convex(Q, u[..., 0].astype(np.float64), nK)
    Sp = np.where((sgn > 0)[:, None], s, 0.0)
    Sm = np.where((sgn < 0)[:, None], -s, 0.0)
    net = convex_to_network(problem.whitening, Sp, Sm, tol=0.0)
    ref = cnn_forward(net, images, GEOMETRY)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(reading.prediction[:, 0], ref, atol=F32_RTOL * scale)


def test_relu_reading_of_a_cone_feasible_point_is_the_convex_prediction(tiny):
    images, _, wh, gates, problem, Q = tiny
    nK = problem.n * problem.K
    exact = solve_cnn(problem)
    assert exact.max_violation <= 1e-8
    u = (exact.S_plus @ Q / math.sqrt(nK))[..., None]  # blocks in their cones
    u[np.linalg.norm(exact.S_plus, axis=1) < 1e-6 * np.abs(exact.S_plus).max()] = 0
    reading = relu_reading(images, GEOMETRY, wh, gates, u.astype(np.float32))
    # blocks on their cones' faces: Fu = 0 up to rounding there, so the sign
    # disagreement is not 0, but the violation is float32 rounding
    assert reading.violation <= F32_RTOL
    np.testing.assert_allclose(
        reading.prediction, reading.gated_prediction, rtol=F32_RTOL, atol=1e-6
    )


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda im, wh, g: patch_whitening(im, GEOMETRY, k=99), "`k`"),
        (
            lambda im, wh, g: patch_whitening(im, ConvGeometry(2, pooling="sum")),
            "`geometry`",
        ),
        (lambda im, wh, g: pooled_features(im, GEOMETRY, wh, g[:2]), "`gates`"),
        (
            lambda im, wh, g: fit_gated_cnn(np.zeros((4, 5, 5)), np.zeros(4), 1.0),
            "`Phi`",
        ),
        (
            lambda im, wh, g: fit_gated_cnn(
                np.zeros((4, 5, 5), np.float32), np.zeros(3), 1.0
            ),
            "`Y`",
        ),
        (
            lambda im, wh, g: fit_gated_cnn(
                np.zeros((4, 5, 5), np.float32), np.zeros(4), -1.0
            ),
            "`lam`",
        ),
        (
            lambda im, wh, g: relu_reading(
                im, GEOMETRY, wh, g, np.zeros((5, 2, 1), np.float32)
            ),
            "`blocks`",
        ),
        (lambda im, wh, g: sample_gates(0, 3, seed=0), "`h`"),
    ],
)
def test_bad_input_names_the_argument(tiny, call, name):
    images, _, wh, gates, _, _ = tiny
    with pytest.raises(InputError, match=name):
        call(images, wh, gates)
