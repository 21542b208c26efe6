r"""Two-layer convolutional BN networks: the exact convex program (paper.md R8).

The architecture (R8 is ``UNCONFIRMED`` as the paper's form; this module
implements the natural reading, stated here).  Images
:math:`x_1, \dots, x_n \in \mathbb R^{c\times H\times W}`; one filter bank
:math:`w_1, \dots, w_m \in \mathbb R^{h}`, :math:`h = c\,k_h k_w`; the patch of
image :math:`j` at position :math:`k` (kernel, stride, zero padding) is
:math:`x_{jk}\in\mathbb R^h`, :math:`k = 1, \dots, K`.  Stack the patches,
position-major, into the **patch matrix**

.. math::
    \mathcal X = [X_1; \dots; X_K] \in \mathbb R^{nK\times h},\qquad
    (X_k)_{j,:} = x_{jk}^T ,

so that :math:`\mathcal Xw` is the feature map of filter :math:`w` over the
batch and all positions.  BN uses the statistics of the batch *and* the
positions (as ``BatchNorm2d``), i.e. convention A on :math:`nK` entries,
:math:`BN_{\gamma,\alpha}(\mathcal Xw) = \gamma\,C\mathcal Xw/\|C\mathcal Xw\|
+ \alpha\mathbf 1/\sqrt{nK}` with :math:`C = I_{nK} - \mathbf 1\mathbf 1^T/(nK)`.
After the ReLU a pooling matrix :math:`S\in\mathbb R^{n\times nK}` sums
(``"sum"``, :math:`S = [I_n, \dots, I_n]`) or averages (``"average"``,
:math:`S = [I_n, \dots, I_n]/K`) each image's positions, and a linear output
follows:

.. math::
    f = \sum_{j=1}^m S\bigl(BN_{\gamma_j,\alpha_j}(\mathcal Xw_j)\bigr)_+ v_j,\qquad
    \tfrac12\|f - y\|^2 + \tfrac\beta2\sum_j(\gamma_j^2 + \alpha_j^2 + v_j^2).

Whitening the patch matrix, :math:`C\mathcal X = \mathcal U\Sigma V^T`,
:math:`\mathcal U' = [\mathcal U, \mathbf 1/\sqrt{nK}]`, the key identity of R0
holds verbatim with :math:`n` replaced by :math:`nK`:
:math:`BN_{\gamma,\alpha}(\mathcal Xw) = \mathcal U's`,
:math:`\|s\|^2 = \gamma^2 + \alpha^2`.  The rescaling lemma and the duality
argument of R1 then give, with the patterns :math:`D_i` of
:math:`\mathcal U'` (patterns over *patches*),

.. math::
    \min_{s_i, s'_i}\ \tfrac12\Bigl\|\sum_i SD_i\mathcal U'(s_i - s'_i) - y\Bigr\|^2
    + \beta\sum_i(\|s_i\| + \|s'_i\|)\quad\text{s.t.}\quad
    (2D_i - I)\mathcal U's_i \ge 0,\ (2D_i - I)\mathcal U's'_i\ge 0,

and the dual
:math:`\max_v -\tfrac12\|v - y\|^2 + \tfrac12\|y\|^2` s.t.
:math:`\max_{\|s\|\le1}|(S^Tv)^T(\mathcal U's)_+| \le \beta`: the R1 dual
constraint evaluated at :math:`S^Tv` on :math:`\mathcal U'`, so the project's
:func:`~bnconvex.numerics.core.certificate.dual_constraint_bound` certifies
it.  A block :math:`s = [q; s_{r+1}]` maps back to a filter
:math:`w = V\Sigma^{-1}q`, :math:`\gamma = \|q\|/\sqrt{\|s\|}`,
:math:`\alpha = s_{r+1}/\sqrt{\|s\|}`, :math:`v = \pm\sqrt{\|s\|}`
(:func:`~bnconvex.numerics.core.reconstruct.convex_to_network` on the patch
matrix).  For standard (std) BN over :math:`nK` entries use
:math:`\beta_a = \beta_{std}/\sqrt{nK}`.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any

import numpy as np
from bnconvex.numerics._lbfgs import lbfgs_network
from bnconvex.numerics._validation import check_beta, check_labels, check_positive_int
from bnconvex.numerics.baselines.nonconvex import (
    initial_network,
    pack_network,
    unpack_network,
)
from bnconvex.numerics.core.arrangements import enumerate_patterns
from bnconvex.numerics.core.certificate import (
    Certificate,
    certify_residual,
    dual_constraint_bound,
)
from bnconvex.numerics.core.network import (
    BNNetwork,
    forward,
    objective_and_gradient,
    penalty,
)
from bnconvex.numerics.core.reconstruct import convex_to_network
from bnconvex.numerics.core.whitening import Whitening, whiten
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.extensions.losses import get_loss
from bnconvex.numerics.solvers.loss_barrier import BlockProgram, solve_block_program
from bnconvex.numerics.status import SolverStatus
from scipy.optimize import linprog

__all__ = [
    "CNN_SOLVERS",
    "POOLINGS",
    "CNNProblem",
    "CNNSolution",
    "ConvGeometry",
    "certify_cnn",
    "cnn_convex_objective",
    "cnn_forward",
    "cnn_objective",
    "cnn_objective_and_gradient",
    "cnn_predict",
    "default_cnn_solver",
    "patch_matrix",
    "pooling_matrix",
    "reconstruct_cnn",
    "solve_cnn",
    "train_cnn",
]

#: Pooling after the ReLU: sum or average over each image's positions.
POOLINGS = ("sum", "average")


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    """Return ``value`` (int or pair of ints) as a pair ``>= minimum``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    ok = len(pair) == 2 and all(
        isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= minimum
        for p in pair
    )
    if not ok:
        raise InputError(
            f"`{name}` must be an int or a pair of ints >= {minimum}; got {value!r}"
        )
    return int(pair[0]), int(pair[1])


@dataclasses.dataclass(frozen=True)
class ConvGeometry:
    """Kernel, stride, zero padding and pooling of the convolutional layer.

    Parameters
    ----------
    kernel : int or (int, int)
        Kernel height and width, ``>= 1``.
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0
        Zeros added on each side.
    pooling : {"sum", "average"}, default "sum"

    Examples
    --------
    >>> ConvGeometry((1, 2), stride=(1, 2)).positions(1, 5)
    (1, 2)
    """

    kernel: Any
    stride: Any = 1
    padding: Any = 0
    pooling: str = "sum"

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel", 1))
        object.__setattr__(self, "stride", _pair(self.stride, "stride", 1))
        object.__setattr__(self, "padding", _pair(self.padding, "padding", 0))
        if self.pooling not in POOLINGS:
            raise InputError(
                f"`pooling` must be one of {POOLINGS}; got {self.pooling!r}"
            )

    def positions(self, H: int, W: int) -> tuple[int, int]:
        """Output height and width ``(H + 2p - k) // s + 1`` for an ``H x W`` image."""
        out = []
        for size, k, s, p in zip(
            (H, W), self.kernel, self.stride, self.padding, strict=True
        ):
            if size + 2 * p < k:
                raise InputError(
                    f"`kernel` {self.kernel} is larger than the padded image "
                    f"({H + 2 * self.padding[0]}, {W + 2 * self.padding[1]})"
                )
            out.append((size + 2 * p - k) // s + 1)
        return out[0], out[1]


def _check_images(images: Any) -> np.ndarray:
    arr = np.asarray(images, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[0] < 1 or 0 in arr.shape:
        raise InputError(
            f"`images` must have shape (n, channels, H, W); got {np.shape(images)}"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError("`images` contains NaN or infinite values")
    return arr


def patch_matrix(images: Any, geometry: ConvGeometry) -> np.ndarray:
    r"""Return the stacked patch matrix :math:`\mathcal X = [X_1; \dots; X_K]`.

    Parameters
    ----------
    images : array_like, shape (n, c, H, W)
    geometry : ConvGeometry

    Returns
    -------
    ndarray, shape (n K, c k_h k_w)
        Row ``k n + j`` is the patch of image ``j`` at position ``k``
        (positions in row-major order), flattened in ``(c, k_h, k_w)`` order,
        so that ``patch_matrix(x) @ w`` is the cross-correlation of every image
        with the filter ``w.reshape(c, k_h, k_w)``.

    Examples
    --------
    >>> x = np.arange(4.0).reshape(1, 1, 1, 4)
    >>> patch_matrix(x, ConvGeometry((1, 2), stride=(1, 2)))
    array([[0., 1.],
           [2., 3.]])
    """
    x = _check_images(images)
    (kh, kw), (sh, sw), (ph, pw) = geometry.kernel, geometry.stride, geometry.padding
    Ho, Wo = geometry.positions(x.shape[2], x.shape[3])
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw), axis=(2, 3))
    win = win[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]
    # (n, c, Ho, Wo, kh, kw) -> (Ho, Wo, n, c, kh, kw) -> (K n, c kh kw)
    return np.ascontiguousarray(win.transpose(2, 3, 0, 1, 4, 5)).reshape(
        Ho * Wo * x.shape[0], -1
    )


def pooling_matrix(n: int, K: int, pooling: str) -> np.ndarray:
    r"""Pooling map :math:`S = [I_n, \dots, I_n]` (sum) or that over ``K`` (average).

    Parameters
    ----------
    n, K : int
        Images and positions.
    pooling : {"sum", "average"}

    Returns
    -------
    ndarray, shape (n, n K)

    Examples
    --------
    >>> pooling_matrix(2, 2, "average")
    array([[0.5, 0. , 0.5, 0. ],
           [0. , 0.5, 0. , 0.5]])
    """
    if pooling not in POOLINGS:
        raise InputError(f"`pooling` must be one of {POOLINGS}; got {pooling!r}")
    S = np.tile(np.eye(check_positive_int(n, "n")), check_positive_int(K, "K"))
    return S / K if pooling == "average" else S


@dataclasses.dataclass(frozen=True)
class CNNProblem:
    r"""Data of the convex CNN program (convention A over :math:`nK` entries).

    Parameters
    ----------
    images : array_like, shape (n, c, H, W)
    y : array_like, shape (n,)
    beta : float
    geometry : ConvGeometry
    D : bool array, shape (n K, P), optional
        Patterns of the whitened patch matrix; default: the complete
        arrangement (:func:`~bnconvex.numerics.core.arrangements.enumerate_patterns`).

    Attributes
    ----------
    patches : ndarray, shape (n K, h)
        :func:`patch_matrix`.
    whitening : Whitening
        Centred SVD of ``patches``.
    S : ndarray, shape (n, n K)
        :func:`pooling_matrix`.
    complete : bool
        Whether ``D`` is the complete arrangement (the bound is then global).
    """

    images: Any
    y: Any
    beta: float
    geometry: ConvGeometry
    D: Any = None
    patches: np.ndarray = dataclasses.field(init=False)
    whitening: Whitening = dataclasses.field(init=False)
    S: np.ndarray = dataclasses.field(init=False)
    complete: bool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.geometry, ConvGeometry):
            raise InputError(
                f"`geometry` must be a ConvGeometry; got {type(self.geometry).__name__}"
            )
        X = patch_matrix(self.images, self.geometry)
        n = int(np.shape(self.images)[0])
        wh = whiten(X)
        U = np.asarray(wh.U_prime)
        D = enumerate_patterns(U) if self.D is None else np.asarray(self.D, dtype=bool)
        if D.ndim != 2 or D.shape[0] != X.shape[0] or not D.any(axis=0).all():
            raise InputError(
                f"`D` must be an ({X.shape[0]}, P) pattern set without empty columns; "
                f"got shape {D.shape}"
            )
        setattr_ = object.__setattr__
        setattr_(self, "y", check_labels(self.y, n, "y"))
        if self.y.ndim != 1:
            raise InputError(f"`y` must be 1-D; got shape {self.y.shape}")
        setattr_(self, "beta", check_beta(self.beta))
        setattr_(self, "complete", self.D is None)
        setattr_(self, "D", D)
        setattr_(self, "patches", X)
        setattr_(self, "whitening", wh)
        setattr_(self, "S", pooling_matrix(n, X.shape[0] // n, self.geometry.pooling))

    @property
    def n(self) -> int:
        """Images."""
        return int(self.S.shape[0])

    @property
    def K(self) -> int:
        """Positions per image."""
        return int(self.S.shape[1] // self.S.shape[0])

    @property
    def P(self) -> int:
        """Patterns."""
        return int(self.D.shape[1])

    @property
    def U_prime(self) -> np.ndarray:
        r""":math:`\mathcal U' = [\mathcal U, \mathbf 1/\sqrt{nK}]`, (n K, r+1)."""
        return np.asarray(self.whitening.U_prime)

    def pooled_blocks(self) -> np.ndarray:
        r""":math:`A_i = SD_i\mathcal U'`, stacked as shape (n, P, r+1)."""
        U = self.U_prime
        DU = self.D.T[:, :, None] * U[None]  # (P, nK, m)
        return np.einsum("an,pnm->apm", self.S, DU)


def cnn_predict(problem: CNNProblem, S_plus: Any, S_minus: Any) -> np.ndarray:
    r"""Prediction :math:`\sum_i SD_i\mathcal U'(s_i - s'_i)`, shape (n,)."""
    Z = np.asarray(S_plus, float) - np.asarray(S_minus, float)
    return np.einsum("apm,pm->a", problem.pooled_blocks(), Z)


def cnn_convex_objective(problem: CNNProblem, S_plus: Any, S_minus: Any) -> float:
    r"""Return :math:`\tfrac12\|\hat y - y\|^2 + \beta\sum_i\|s_i\|+\|s'_i\|`."""
    r = cnn_predict(problem, S_plus, S_minus) - problem.y
    norms = np.linalg.norm(S_plus, axis=1).sum() + np.linalg.norm(S_minus, axis=1).sum()
    return float(0.5 * r @ r + problem.beta * norms)


def certify_cnn(problem: CNNProblem, yhat: Any, objective: float) -> Certificate:
    r"""Dual certificate of a candidate with predictions ``yhat``.

    Parameters
    ----------
    problem : CNNProblem
    yhat : array_like, shape (n,)
        Predictions of the candidate (network or convex point).
    objective : float
        Its objective.

    Returns
    -------
    Certificate
        ``lower_bound`` :math:`= d(cv)`, :math:`v = y - \hat y`,
        :math:`c = \min(1, \beta/b)`, :math:`b` the rigorous bound of
        :math:`\max_i\max_{s\in K_i,\|s\|\le1}|(S^Tv)^TD_i\mathcal U's|`;
        ``bound_kind`` is ``"global"`` (valid for every CNN of this geometry)
        when ``D`` is the complete arrangement.

    Notes
    -----
    The project's certificate kernel
    (:func:`~bnconvex.numerics.core.certificate.certify_residual`) with the
    constraint bound of :math:`S^Tv` on :math:`\mathcal U'`.  Weak duality:
    for any network with prediction
    :math:`z = \sum_j S(\mathcal U's_j)_+v_j`,
    :math:`\tfrac12\|z - y\|^2 \ge v^Ty - \tfrac12\|v\|^2 - v^Tz` and
    :math:`|v^TS(\mathcal U's_j)_+| \le b\|s_j\|`, so the objective is at least
    :math:`d(cv)` once :math:`cb\le\beta` (rescaled penalty of R0).
    """
    yhat = check_labels(yhat, problem.n, "yhat")
    U, D = problem.U_prime, problem.D
    bound = dual_constraint_bound(U, D, problem.S.T @ (problem.y - yhat))
    kind = "global" if problem.complete else "patterns"
    return certify_residual(
        U,
        D,
        problem.y,
        problem.beta,
        yhat,
        float(objective),
        kind,
        with_universal=False,
        bound=bound,
    )


@dataclasses.dataclass
class CNNSolution:
    """Solution of :func:`solve_cnn` with its dual certificate.

    Attributes
    ----------
    S_plus, S_minus : ndarray, shape (P, r+1)
    objective : float
    certificate : Certificate
    status : SolverStatus
        ``OPTIMAL`` when the certified relative gap is ``<= cert_tol``.
    iterations : int
    seconds : float
    max_violation : float
        Largest cone violation (the barrier's points are strictly feasible).
    """

    S_plus: np.ndarray
    S_minus: np.ndarray
    objective: float
    certificate: Certificate
    status: SolverStatus
    iterations: int
    seconds: float
    max_violation: float

    @property
    def lower_bound(self) -> float:
        """Certified lower bound."""
        return self.certificate.lower_bound

    @property
    def relative_gap(self) -> float:
        """Certified relative gap."""
        return self.certificate.relative_gap


def _interior_point(G: np.ndarray) -> np.ndarray:
    r"""Return a point with :math:`Gs > 0` (max-margin LP, box :math:`|s|\le 1`)."""
    m = G.shape[1]
    res = linprog(
        np.r_[np.zeros(m), -1.0],
        A_ub=np.c_[-G, np.ones(len(G))],
        b_ub=np.zeros(len(G)),
        bounds=[(-1, 1)] * m + [(None, 1)],
        method="highs",
    )
    if res.x is None or res.x[-1] <= 0:
        raise InputError("`D` contains a pattern whose cone has empty interior")
    return res.x[:m]


def _block_program(problem: CNNProblem) -> BlockProgram:
    U, P = problem.U_prime, problem.P
    sign = np.where(problem.D, 1.0, -1.0)
    G = sign.T[:, :, None] * U[None]  # (P, nK, m)
    A = problem.pooled_blocks()
    start = np.stack([_interior_point(G[i]) for i in range(P)])
    return BlockProgram(
        A=np.concatenate([A, -A], axis=1),
        B=np.broadcast_to(np.eye(U.shape[1]), (2 * P, U.shape[1], U.shape[1])),
        G=np.concatenate([G, G]),
        y=problem.y,
        beta=problem.beta,
        loss=get_loss("squared"),
        radius=np.full(2 * P, np.inf),
        start=0.1 * np.concatenate([start, start]),
    )


#: Solvers of :func:`solve_cnn`.
CNN_SOLVERS = ("clarabel", "exchange", "barrier")


def _solve_clarabel(problem: CNNProblem, tol: float) -> tuple[np.ndarray, int]:
    """Blocks ``(2, P, m)`` from CVXPY + Clarabel, and its iteration count."""
    import cvxpy as cp

    U, D = problem.U_prime, problem.D.astype(float)
    Sp = cp.Variable((problem.P, U.shape[1]))
    Sm = cp.Variable((problem.P, U.shape[1]))
    yhat = problem.S @ cp.sum(cp.multiply(D, U @ (Sp - Sm).T), axis=1)
    norms = cp.sum(cp.norm(Sp, 2, axis=1)) + cp.sum(cp.norm(Sm, 2, axis=1))
    sign = 2.0 * D - 1.0
    prob = cp.Problem(
        cp.Minimize(0.5 * cp.sum_squares(yhat - problem.y) + problem.beta * norms),
        [cp.multiply(sign, U @ Sp.T) >= 0, cp.multiply(sign, U @ Sm.T) >= 0],
    )
    with warnings.catch_warnings():  # "may be inaccurate": the dual certifies
        warnings.simplefilter("ignore", UserWarning)
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
    if Sp.value is None:
        raise InputError(f"`solver` 'clarabel' returned no point ({prob.status})")
    return np.stack([Sp.value, Sm.value]), int(prob.solver_stats.num_iters or 0)


def _solve_barrier(problem: CNNProblem, tol: float) -> tuple[np.ndarray, int]:
    """Blocks ``(2, P, m)`` from the project's barrier method."""
    res = solve_block_program(_block_program(problem), tol=tol)
    return res.x.reshape(2, problem.P, -1), res.iterations


def _pattern_of(problem: CNNProblem, z: np.ndarray) -> int:
    """Index of a pattern of ``D`` consistent with ``z = U's`` (zeros match any)."""
    clear = np.abs(z) > 1e-9 * max(float(np.abs(z).max()), np.finfo(float).tiny)
    ok = np.all(problem.D[clear] == (z[clear] > 0)[:, None], axis=0)
    if not ok.any():
        raise InputError("`problem.D` has no pattern for an atom (not complete?)")
    return int(np.argmax(ok))


def _solve_exchange(problem: CNNProblem, tol: float) -> tuple[np.ndarray, int]:
    r"""Blocks ``(2, P, m)`` from the exchange + sliding solver of the vector module.

    The CNN program is the atomic program of
    :func:`~bnconvex.numerics.extensions.vector.solve_atoms` with ``K = 1``
    and the pooling as output map.  Atom :math:`(\tilde s, g)` becomes the
    block :math:`|g|\tilde s` of its pattern (``S_plus`` when ``g > 0``);
    atoms of one pattern and sign are added (same cone, norm subadditive).
    """
    from bnconvex.numerics.extensions.vector import solve_atoms

    del tol  # the vector solver certifies to its own cert_tol
    sol = solve_atoms(problem.U_prime, problem.y[:, None], problem.beta, pool=problem.S)
    x = np.zeros((2, problem.P, problem.U_prime.shape[1]))
    for s, g in zip(sol.atoms, sol.G[:, 0], strict=True):
        i = _pattern_of(problem, problem.U_prime @ s)
        x[0 if g > 0 else 1, i] += abs(g) * s
    return x, sol.iterations


def default_cnn_solver() -> str:
    """``"clarabel"`` when CVXPY and Clarabel import, else ``"exchange"``."""
    import importlib.util

    have = all(importlib.util.find_spec(m) for m in ("cvxpy", "clarabel"))
    return "clarabel" if have else "exchange"


def solve_cnn(
    problem: CNNProblem,
    *,
    solver: str | None = None,
    tol: float = 1e-11,
    cert_tol: float = 1e-8,
) -> CNNSolution:
    r"""Solve the convex CNN program and certify the point by the dual.

    Parameters
    ----------
    problem : CNNProblem
    solver : {"clarabel", "exchange", "barrier"}, optional
        ``"clarabel"`` (CVXPY + Clarabel, the test extra; the default when
        installed), ``"exchange"`` (the project's exchange + sliding solver,
        :func:`~bnconvex.numerics.extensions.vector.solve_atoms` with the
        pooling as output map; the default otherwise) or ``"barrier"``
        (:func:`~bnconvex.numerics.solvers.loss_barrier.solve_block_program`).
    tol : float, default 1e-11
        The solver's own tolerance.
    cert_tol : float, default 1e-8
        Certified relative gap needed for ``OPTIMAL``.

    Returns
    -------
    CNNSolution

    Notes
    -----
    The program is a group lasso with cone constraints whose prediction is
    the linear map :math:`\sum_i A_i(s_i - s'_i)`, :math:`A_i = SD_i\mathcal U'`;
    :class:`~bnconvex.numerics.core.convex_program.ConvexProblem` cannot
    express the pooling.  The status comes from :func:`certify_cnn`, never
    from the solver.  The residual certificate is first-order sensitive to
    the prediction error, which is the square root of the objective error:
    the barrier (whose last centrings lose accuracy to rounding) typically
    certifies only ~1e-5 relative on these programs (measured 2026-12-07,
    n K = 15), Clarabel ~1e-12, the exchange solver ~1e-10.
    """
    solver = default_cnn_solver() if solver is None else solver
    if solver not in CNN_SOLVERS:
        raise InputError(f"`solver` must be one of {CNN_SOLVERS}; got {solver!r}")
    t0 = time.perf_counter()
    run = {
        "clarabel": _solve_clarabel,
        "exchange": _solve_exchange,
        "barrier": _solve_barrier,
    }[solver]
    x, iterations = run(problem, tol)
    obj = cnn_convex_objective(problem, x[0], x[1])
    cert = certify_cnn(problem, cnn_predict(problem, x[0], x[1]), obj)
    sign = np.where(problem.D, 1.0, -1.0)
    viol = max(
        float(np.max(-sign * (problem.U_prime @ x[k].T), initial=0.0)) for k in (0, 1)
    )
    ok = cert.relative_gap <= cert_tol and viol <= cert_tol
    return CNNSolution(
        S_plus=x[0],
        S_minus=x[1],
        objective=obj,
        certificate=cert,
        status=SolverStatus.OPTIMAL if ok else SolverStatus.INACCURATE,
        iterations=iterations,
        seconds=time.perf_counter() - t0,
        max_violation=viol,
    )


def reconstruct_cnn(
    problem: CNNProblem, solution: CNNSolution, *, rtol: float = 1e-9
) -> BNNetwork:
    r"""Read filters, :math:`\gamma`, :math:`\alpha` and output weights off the blocks.

    Parameters
    ----------
    problem : CNNProblem
    solution : CNNSolution
    rtol : float, default 1e-9
        Blocks with :math:`\|s\|\le` ``rtol`` times the largest are dropped
        (the barrier keeps every block strictly inside its cone, so unused
        ones are tiny, not zero).

    Returns
    -------
    BNNetwork
        Convention A on the patch matrix; column ``j`` of ``W`` is filter
        ``j`` flattened in ``(c, k_h, k_w)`` order; use :func:`cnn_forward`.

    Notes
    -----
    :func:`~bnconvex.numerics.core.reconstruct.convex_to_network` applied to
    the whitening of :math:`\mathcal X`: on a block's cone
    :math:`(BN(\mathcal Xw))_+v = \pm D_i\mathcal U's`, and pooling is linear,
    so the CNN's output is the convex prediction and its penalty
    :math:`\beta\sum\|s\|`.
    """
    big = max(
        float(np.linalg.norm(solution.S_plus, axis=1).max(initial=0.0)),
        float(np.linalg.norm(solution.S_minus, axis=1).max(initial=0.0)),
    )
    return convex_to_network(
        problem.whitening, solution.S_plus, solution.S_minus, tol=rtol * big
    )


def cnn_forward(net: BNNetwork, images: Any, geometry: ConvGeometry) -> np.ndarray:
    r"""CNN output :math:`S(BN(\mathcal XW))_+v`, BN over batch and positions.

    Parameters
    ----------
    net : BNNetwork
        Filters as columns of ``W`` (length :math:`c k_h k_w`).
    images : array_like, shape (n, c, H, W)
    geometry : ConvGeometry

    Returns
    -------
    ndarray, shape (n,)
    """
    X = patch_matrix(images, geometry)
    n = int(np.shape(images)[0])
    S = pooling_matrix(n, X.shape[0] // n, geometry.pooling)
    return S @ np.asarray(forward(net, X))


def cnn_objective(
    net: BNNetwork, images: Any, y: Any, beta: float, geometry: ConvGeometry
) -> float:
    r"""Return the CNN objective (squared loss plus weight decay, convention A).

    The training objective of the CNN (convention A, BN over ``n K`` entries).
    """
    f = cnn_forward(net, images, geometry)
    r = f - check_labels(y, f.shape[0], "y")
    return float(0.5 * r @ r) + penalty(net, beta)


def cnn_objective_and_gradient(
    net: BNNetwork, patches: np.ndarray, S: np.ndarray, y: np.ndarray, beta: float
) -> tuple[float, BNNetwork]:
    r"""CNN objective on a patch matrix and its gradient (packed as a BNNetwork).

    Parameters
    ----------
    net : BNNetwork
    patches : ndarray, shape (n K, h)
    S : ndarray, shape (n, n K)
        Pooling matrix.
    y : ndarray, shape (n,)
    beta : float

    Returns
    -------
    value : float
    grad : BNNetwork

    Notes
    -----
    With :math:`a = (BN(\mathcal XW))_+v` the loss is
    :math:`\tfrac12\|Sa - y\|^2`, whose derivative in :math:`a` is
    :math:`S^T(Sa - y)`.  That is the derivative of the unpooled loss
    :math:`\tfrac12\|a - \tilde y\|^2` at the target
    :math:`\tilde y = a - S^T(Sa - y)`, so the gradient of
    :func:`~bnconvex.numerics.core.network.objective_and_gradient` at
    :math:`\tilde y` is the CNN's gradient (chain rule; only its value differs).
    """
    a = np.asarray(forward(net, patches))
    r = S @ a - y
    _, grad = objective_and_gradient(net, patches, a - S.T @ r, beta)
    return float(0.5 * r @ r) + penalty(net, beta), grad


def train_cnn(
    images: Any,
    y: Any,
    beta: float,
    m: int,
    geometry: ConvGeometry,
    *,
    seed: int,
    max_iter: int = 500,
) -> tuple[BNNetwork, float]:
    """Local search (L-BFGS) on the non-convex CNN with ``m`` filters.

    Parameters
    ----------
    images : array_like, shape (n, c, H, W)
    y : array_like, shape (n,)
    beta : float
    m : int
        Filters.
    geometry : ConvGeometry
    seed : int
        Seed of the Gaussian start (``W ~ N(0, 1/h)``, ``gamma, alpha ~ N(0, 1)``,
        ``v ~ N(0, 1/m)``).
    max_iter : int, default 500

    Returns
    -------
    net : BNNetwork
    value : float
        Its objective (convention A, BN over ``n K`` entries).
    """
    X = patch_matrix(images, geometry)
    n = int(np.shape(images)[0])
    y = check_labels(y, n, "y")
    beta = check_beta(beta)
    S = pooling_matrix(n, X.shape[0] // n, geometry.pooling)
    start = initial_network(
        X.shape[1], check_positive_int(m, "m"), None, np.random.default_rng(seed), "a"
    )
    net = lbfgs_network(
        lambda nt: cnn_objective_and_gradient(nt, X, S, y, beta),
        start,
        pack_network,
        unpack_network,
        max_iter=max_iter,
    )
    return net, cnn_objective(net, images, y, beta, geometry)
