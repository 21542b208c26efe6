r"""Full-scale solver of the convex BN program (paper.md R1, R3), array-API.

One code path for NumPy, CuPy and ``array-api-strict``: matrix-free, chunked
over samples and patterns, float32 or float64, warm starts, a path over
``beta``, exact ReLU cone constraints (augmented Lagrangian) or the gated
relaxation, an honest :class:`~bnconvex.numerics.status.SolverStatus` with a
certified duality gap, progress on stderr and ``.npz`` checkpoints.

Entry points: :func:`solve_fullscale` (given features ``F = U'`` and patterns
``D``) and :func:`solve_path`; :func:`bnconvex.numerics.fullscale.fit` wraps
whitening, regularisers and pattern sampling around them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Literal

import numpy as np
from bnconvex.numerics._array_api import (
    Array,
    array_namespace,
    to_numpy,
    xp_capabilities,
)
from bnconvex.numerics._validation import check_beta, check_positive_int
from bnconvex.numerics.core.blocks import from_fullscale, to_fullscale
from bnconvex.numerics.core.certificate import (
    dual_constraint_bound,
    residual_lower_bound,
)
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale._ops import ChunkedOperator, chunk_sizes
from bnconvex.numerics.fullscale._problem import (
    Problem,
    certificate,
    loss_lipschitz,
    objective,
    spectral_norm_sq,
    zero_optimal_beta,
)
from bnconvex.numerics.fullscale.admm import ADMMMethod
from bnconvex.numerics.fullscale.al import ALMethod
from bnconvex.numerics.fullscale.checkpoint import (
    Checkpoint,
    PatternRecord,
    load_checkpoint,
)
from bnconvex.numerics.fullscale.classwise import ClasswiseMethod
from bnconvex.numerics.fullscale.method import FullScaleMethod
from bnconvex.numerics.fullscale.polish import polish_blocks, project_blocks
from bnconvex.numerics.result import SolveResult
from bnconvex.numerics.status import SolverStatus

__all__ = [
    "ADMM_MAX_N",
    "CLASSWISE_MAX_M",
    "WORKING_SET_MIN_RATIO",
    "WORKING_SET_RATE",
    "FullScaleProgress",
    "FullScaleSolution",
    "Group",
    "solve_fullscale",
    "solve_path",
    "working_set_seconds",
]

Group = Literal["class", "pattern"]
Method = Literal["auto", "admm", "al", "working-set"]
_ADMM_MAX_N = 4096
#: largest ``n m P K`` for which ``beta_max`` uses the exact cone norms (NNLS
#: per block; at 2,000 x 257 x 128 x 10 they took minutes)
_EXACT_BETA_MAX_WORK = 10**6
#: largest ``n`` for which ``method="auto"`` picks ADMM (above: the AL)
ADMM_MAX_N = _ADMM_MAX_N
#: above ``ADMM_MAX_N``, ``method="auto"`` solves each class exactly
#: (working-set) when the features have at most ``CLASSWISE_MAX_M`` columns,
#: unless ``beta < WORKING_SET_MIN_RATIO * B`` (``B >= beta_max``, the bound
#: of :func:`~bnconvex.numerics.fullscale._problem.zero_optimal_beta`) *and*
#: the time limit is shorter than :func:`working_set_seconds`.  The working
#: set's cost grows with the nonzero blocks, which grow as ``beta`` falls;
#: with all ``2P`` blocks nonzero a class costs about ``n (2Pm)^2`` flops for
#: ``J^T J`` plus the interior-point factorisations.  CIFAR-10 (50,000
#: images, m = 21, 128 patterns, two workers; benchmarks/README.md, "Full
#: scale, certified"): certified to 4e-9 in 273 s at beta = 1.06e-3 B, to
#: 8e-8 in 549 s at 3.5e-5 B (1,733 neurons); a 120 s budget at 3.5e-5 B left
#: the classes unfinished (test accuracy 0.17), where 320 AL steps scored 0.44.
CLASSWISE_MAX_M = 64
WORKING_SET_MIN_RATIO = 1e-3
#: default ``max_iter`` of the first-order methods (FISTA or ADMM steps)
FIRST_ORDER_MAX_ITER = 20_000
#: default ``max_iter`` of ``"working-set"``, per class: interior-point
#: iterations, each a dense factorisation (a CIFAR-10 class at 21-33 columns
#: and 128 network patterns takes 300-400, with the runs after a stall; a
#: budget of 5,000 for all ten classes stopped a 25-column run unfinished)
WORKING_SET_ITERS_PER_CLASS = 1_000
#: ``n (2Pm)^2`` per second and worker that :func:`working_set_seconds`
#: assumes: CIFAR-10 at beta = 3.5e-5 B, where most blocks are nonzero, took
#: 549-641 s for ten classes on two workers (the first class about 160 s),
#: i.e. 1.45e12 per 110-160 s = 9-13e9 per core of the 2-core AMD EPYC
#: benchmark machine; rounded down
WORKING_SET_RATE = 8e9
_TINY = float(np.finfo(np.float64).tiny)


@dataclasses.dataclass
class FullScaleSolution(SolveResult):
    r"""Result of :func:`solve_fullscale`.

    A :class:`~bnconvex.numerics.result.SolveResult` (``relative_gap`` and
    ``bound_kind`` are its properties; ``history`` is empty).

    Attributes
    ----------
    S_plus, S_minus : Array
        ``(P, m)`` for a 1-D ``y``, ``(P, m, K)`` for ``Y`` of shape ``(n, K)``.
    objective : float
        Primal objective at the returned point: the best point seen whose cone
        violation met ``viol_tol`` (iterate or polished candidate), else the
        last iterate.
    lower_bound : float
        Best certified lower bound seen on the optimum of the program over the
        given patterns (dual values of scaled residuals, see Notes of
        :func:`solve_fullscale`).
    gap, relative_gap : float
        ``objective - lower_bound`` and ``gap / max(|objective|, tiny)``.  A
        certificate only when ``gap_certified``: if no point met ``viol_tol``
        within the budget, the returned iterate is infeasible and its
        objective may even lie below the bound (a negative gap).
    max_violation : float
        Largest violation of the cone constraints ``(2D_i - I) F s >= 0`` at
        the returned point (0 for the gated relaxation, which has none).
    gap_certified : bool
        ``max_violation <= viol_tol``: the returned point meets the violation
        tolerance, so with :math:`p^\star` the optimum over the given patterns,
        :math:`\text{lower\_bound} \le p^\star` and the point's objective
        exceeds the bound by ``gap``: a certificate of its suboptimality.
        ``False``: no point met ``viol_tol``; ``gap`` and ``relative_gap`` are
        then only the distance of an infeasible iterate to the bound and
        certify nothing (the status is never ``OPTIMAL`` then).
    status : SolverStatus
    iterations, outer_iterations : int
        Proximal-gradient steps in total and augmented-Lagrangian rounds.
    seconds : float
        Wall time of this call.
    multipliers : Array or None
        Cone multipliers :math:`\lambda\ge 0`, ``(n, 2, K, P)`` (warm starts).
    rho : float
        Final penalty parameter.
    predictions : Array
        ``(n,)`` or ``(n, K)``.
    beta, group, gated, method
        The problem options and the method used (``"admm"`` or ``"al"``).
    solver : str
        ``"fullscale-<method>"``, with ``"-gated"`` for the gated relaxation.
    beta_max : float
        The zero solution is optimal for every ``beta >= beta_max`` (same
        program and patterns), so useful values of ``beta`` lie below it:
        the largest norm of :math:`F^TD_iy_k` over the blocks, or for
        small programs (``n m P K <= 10^6``, ``group="class"``, exact
        program) the exact cone norms at :math:`v = y` by NNLS.
    beta_max_exact : bool
        ``beta_max`` is the exact threshold: the zero solution is not optimal
        below it.  ``False``: only the bound above is known.
    """

    S_plus: Array
    S_minus: Array
    gap_certified: bool
    outer_iterations: int
    multipliers: Array | None
    rho: float
    predictions: Array
    beta: float
    group: str
    gated: bool
    method: str
    beta_max: float = math.nan
    beta_max_exact: bool = False

    @property
    def neurons(self) -> int:
        r"""Number of non-zero blocks: the neurons of the network the point encodes.

        A block is one row of ``S_plus`` or ``S_minus`` for one pattern (and one
        class when ``Y`` has ``K`` columns); each non-zero block is one ReLU
        neuron of the reconstructed BN network (with ``group="class"`` a
        (pattern, sign, class) block is a neuron with a one-hot output weight).
        """
        blocks = (to_numpy(S) for S in (self.S_plus, self.S_minus))
        return int(sum(np.count_nonzero(np.linalg.norm(B, axis=1) > 0) for B in blocks))


@dataclasses.dataclass(frozen=True)
class FullScaleProgress:
    r"""State passed to the ``callback`` of :func:`solve_fullscale`.

    Attributes
    ----------
    kind : {"step", "check"}
        ``"step"``: after an inner step (FISTA or ADMM), at most every
        ``callback_every`` seconds; ``"check"``: after a certificate check,
        every time.
    iterations, outer_iterations : int
        Inner steps and certificate checks so far.
    seconds : float
        Wall time since the call started.
    S_plus, S_minus : Array
        Current blocks, laid out as in :class:`FullScaleSolution` (views of
        the iterate: copy them to keep them).
    objective, lower_bound, violation : float or None
        Objective at the current point, best certified bound and cone
        violation.  For a ``"step"`` of the augmented Lagrangian they are
        by-products of the step (objective and violation at the extrapolated
        point FISTA differentiated, the best bound of the steps so far);
        ``None`` for ADMM steps, which compute nothing extra.
    """

    kind: str
    iterations: int
    outer_iterations: int
    seconds: float
    S_plus: Array
    S_minus: Array
    objective: float | None = None
    lower_bound: float | None = None
    violation: float | None = None


Callback = Callable[[FullScaleProgress], object]


# --------------------------------------------------------------------------
# validation
def _check_callback(callback: Callback | None, every: float) -> None:
    if callback is not None and not callable(callback):
        raise InputError(f"`callback` must be callable or None; got {callback!r}")
    if (
        isinstance(every, bool)
        or not isinstance(every, (int, float))
        or not (math.isfinite(every) and every >= 0)
    ):
        raise InputError(
            f"`callback_every` must be a finite number >= 0; got {every!r}"
        )


def _pick_method(method: str, n: int) -> str:
    r"""Validate ``method``; resolve ``"auto"`` (ADMM for :math:`n \le 4096`).

    ADMM caches ``n x n`` matrices (:math:`8n^2` bytes each in float64: 20 GB
    at ``n = 50000``), so an explicit ``"admm"`` above the limit that
    ``"auto"`` uses is refused before anything is allocated.
    """
    if method not in ("auto", "al", "admm", "working-set"):
        raise InputError(
            f"`method` must be 'auto', 'al', 'admm' or 'working-set'; got {method!r}"
        )
    if method == "auto":
        return "admm" if n <= _ADMM_MAX_N else "al"
    if method == "admm" and n > _ADMM_MAX_N:
        raise InputError(
            f"`method`='admm' caches n x n matrices and is limited to "
            f"n <= {_ADMM_MAX_N}; got n={n} (use method='al' or 'auto')"
        )
    return method


def working_set_seconds(n: int, m: int, P: int, K: int, workers: int = 1) -> float:
    r"""Predicted seconds of ``method="working-set"`` with every block nonzero.

    :math:`nK(2Pm)^2 / (\text{rate} \cdot \min(w, K))`, the cost of the
    Gram matrices :math:`J^TJ` of all ``2P`` blocks of ``m`` columns for ``K``
    classes on ``w`` workers, at :data:`WORKING_SET_RATE`; an estimate of the
    worst case on the benchmark machine, used only to choose a method.
    """
    return n * K * (2.0 * P * m) ** 2 / (WORKING_SET_RATE * min(workers, K))


def _auto_working_set(
    pb: Problem, beta_bound: float, seconds_left: float, workers: int
) -> bool:
    """Whether ``method="auto"`` solves each class exactly (see the constants)."""
    op, K = pb.op, pb.Y.shape[1]
    if op.n <= _ADMM_MAX_N or pb.group != "class" or pb.gated:
        return False
    if op.m > CLASSWISE_MAX_M:
        return False
    return pb.beta >= WORKING_SET_MIN_RATIO * beta_bound or seconds_left >= (
        working_set_seconds(op.n, op.m, op.P, K, workers)
    )


def _solve_iv(
    F: Array, Y: Array, beta: float, D: Array, group: str
) -> tuple[ModuleType, Array, Array, bool]:
    xp = array_namespace(F, Y, D)
    if len(F.shape) != 2 or not xp.isdtype(F.dtype, "real floating"):
        raise InputError(
            "`F` must be a 2-D real floating array (n x m); "
            f"got shape {F.shape}, dtype {F.dtype}"
        )
    n = F.shape[0]
    if len(Y.shape) not in (1, 2) or Y.shape[0] != n:
        raise InputError(
            f"`y` must have shape (n,) or (n, K) with n={n}; got shape {Y.shape}"
        )
    if len(D.shape) != 2 or D.shape[0] != n or D.shape[1] < 1:
        raise InputError(
            f"`D` must be an (n, P) pattern array with n={n}, P >= 1; "
            f"got shape {D.shape}"
        )
    check_beta(beta)
    if group not in ("class", "pattern"):
        raise InputError(f"`group` must be 'class' or 'pattern'; got {group!r}")
    vector = len(Y.shape) == 2
    Y2 = xp.astype(Y if vector else xp.reshape(Y, (n, 1)), F.dtype)
    if not bool(xp.all(xp.isfinite(F))) or not bool(xp.all(xp.isfinite(Y2))):
        raise InputError("`F` and `y` must contain only finite values")
    Dm = xp.astype(D if xp.isdtype(D.dtype, "bool") else D != 0, F.dtype)
    return xp, Y2, Dm, vector


def _progress_printer(verbose: bool | None):
    on = sys.stderr.isatty() if verbose is None else bool(verbose)

    def emit(msg: str) -> None:
        if on:
            print(msg, file=sys.stderr, flush=True)

    return emit


@xp_capabilities()
def solve_fullscale(
    F: Array,
    y: Array,
    beta: float,
    D: Array,
    *,
    gated: bool = False,
    group: Group = "class",
    tol: float = 1e-6,
    viol_tol: float = 1e-6,
    max_iter: int | None = None,
    max_outer: int = 100_000,
    time_limit: float | None = None,
    init: FullScaleSolution | None = None,
    rho: float | None = None,
    dual_step: float = 1.0,
    row_chunk: int | None = None,
    pattern_chunk: int | None = None,
    method: Method = "auto",
    polish: bool = True,
    verbose: bool | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: float = 60.0,
    resume: str | Path | None = None,
    pattern_record: PatternRecord | None = None,
    callback: Callback | None = None,
    callback_every: float = 0.0,
    workers: int = 1,
    start_signs: np.ndarray | None = None,
    generators: Array | None = None,
) -> FullScaleSolution:
    r"""Solve the convex BN program over given patterns, matrix-free and chunked.

    Parameters
    ----------
    F : Array
        Features, ``(n, m)``: the whitened matrix :math:`U' = [U, 1/\sqrt n]` or a
        regularised version (:mod:`bnconvex.numerics.fullscale.regularizers`).
        Its dtype (float32 or float64) is the working precision; its namespace
        (NumPy, CuPy, array-api-strict) is used throughout.
    y : Array
        ``(n,)`` or one-hot/real ``(n, K)`` labels.
    beta : float
        Regularisation :math:`\beta > 0` (convention A).
    D : Array
        ``(n, P)`` bool patterns (column ``i`` = diagonal of :math:`D_i`).
    gated : bool
        Drop the cone constraints (gated-ReLU relaxation; its optimum is a lower
        bound on the exact one).
    group : {"class", "pattern"}
        Group norms per (pattern, sign, class) -- the default; ``K`` independent
        scalar programs, each a BN network with one output per class -- or per
        (pattern, sign), a Frobenius norm over the ``m x K`` block.
    tol, viol_tol : float
        Stop when a point with cone violation ``<= viol_tol`` (absolute, in
        units of ``y``) has objective within ``tol`` (relative) of the best
        certified lower bound.
    max_iter, max_outer : int
        Budgets of iterations (FISTA or ADMM steps) and of certificate checks
        (positive; a resumed run counts the checkpoint's, and one that already
        reached them takes no step: its point is certified as it is).
        ``max_iter=None`` (default): :data:`FIRST_ORDER_MAX_ITER` steps of the
        first-order methods, :data:`WORKING_SET_ITERS_PER_CLASS` interior-point
        iterations per class for ``"working-set"``.
    time_limit : float, optional
        Wall-time budget in seconds (``>= 0``), counted from the call: checked
        during the set-up (the step-size estimate stops at it) and after
        every inner step.  Past
        it no polishing and no exact per-pattern bound is attempted; the
        returned point is still certified (objective, batched bound,
        violation) and the status is ``TIME_LIMIT`` unless it is optimal.
    init : FullScaleSolution, optional
        Warm start (blocks, multipliers and ``rho``), e.g. from a larger ``beta``.
    rho : float, optional
        Initial penalty (AL: :math:`\|M\|^2/\|F\|^2`; ADMM: 1).
    dual_step : float
        AL only: first multiplier step :math:`\theta_0\in(0, 1]`, as a fraction
        of ``rho``, doubled every round up to 1
        (:mod:`~bnconvex.numerics.fullscale.al`); 1 is the textbook update.
        A small value keeps a time-limited run near the first round's
        quadratic-penalty solution for longer.
    row_chunk, pattern_chunk : int, optional
        Chunk sizes (default: temporaries of about 128 K entries, cache-sized).
    method : {"auto", "admm", "al", "working-set"}
        ``"admm"``: ADMM with a cached ``n x n`` Woodbury factor
        (:mod:`~bnconvex.numerics.fullscale.admm`, memory :math:`O(n^2 + nPK)`);
        ``"al"``: matrix-free augmented Lagrangian with FISTA
        (:mod:`~bnconvex.numerics.fullscale.al`).  ``"auto"`` picks ADMM for
        ``n <= 4096``; above, ``"working-set"`` for the exact per-class program
        (``group="class"``, not gated) when the features have at most
        :data:`CLASSWISE_MAX_M` columns, unless ``beta`` is below
        :data:`WORKING_SET_MIN_RATIO` times the bound on ``beta_max`` and
        ``time_limit`` is below :func:`working_set_seconds` (then the exact
        solve would not finish: most blocks are nonzero); else ``"al"``
        (``dual_step``, ``rho`` and ``workers`` apply to the method picked).
        An explicit ``"admm"`` above ``n = 4096`` is an error.
        ``"working-set"``: each class's program solved exactly by the mid-size
        working-set method (:mod:`~bnconvex.numerics.fullscale.classwise`;
        ``group="class"``, not gated; host float64; for features of a few
        dozen columns, where it certifies tens of thousands of samples in
        minutes); ``max_iter`` then counts interior-point iterations and
        ``max_outer`` class solves.
    polish : bool
        Try active-set Newton polishing (:mod:`~bnconvex.numerics.fullscale.polish`)
        once the certified gap is below ``1e-3`` (``group="class"``,
        ``n <= 4096``); the polished point is kept only if it meets both
        tolerances, with the gap certified by the exact per-pattern cone norms
        of :func:`bnconvex.numerics.core.certificate.dual_constraint_bound`.
    verbose : bool, optional
        Progress lines on stderr; default on only when stderr is a terminal.
    checkpoint : path, optional
        ``.npz`` (:mod:`~bnconvex.numerics.fullscale.checkpoint`: the state,
        the problem's fingerprints and ``D`` bit-packed) written at the end of
        an outer round at most every ``checkpoint_every`` seconds, and at
        exit.
    resume : path, optional
        Continue from a checkpoint: the iterates are identical to an
        uninterrupted run.  Refused unless method, ``gated``, ``group``,
        ``beta``, ``n``, dtype, shapes and a fingerprint of ``F``, ``y`` and
        ``D`` (sums and a hashed strided sample) match the checkpoint.
    pattern_record : PatternRecord, optional
        How ``D`` was sampled (count, sampling, seed, generators), written
        into each checkpoint beside ``D`` itself, so that
        :func:`~bnconvex.numerics.fullscale.fit` resumes on the same patterns
        (:func:`~bnconvex.numerics.fullscale.checkpoint.saved_patterns`).
    callback : callable, optional
        ``callback(progress)`` with a :class:`FullScaleProgress`, after every
        certificate check (``kind="check"``) and, when ``callback_every > 0``,
        after an inner step once at least ``callback_every`` seconds have
        passed since the previous call (``kind="step"``); e.g. to record test
        accuracy against wall time.  Its return value is ignored; its run time
        counts towards ``time_limit``.
    callback_every : float
        Minimum seconds between ``"step"`` calls (``0``: checks only).
    start_signs, generators : array_like, optional
        ``method="working-set"`` only (ignored by the first-order methods): a
        guess of each class's support, ``(P, K)`` signs, block
        :math:`(+, i)` of class ``k`` where ``+1`` and :math:`(-, i)` where
        ``-1`` (e.g. the output weights of the pattern network,
        :func:`~bnconvex.numerics.fullscale.network_patterns`), which each
        class's working set starts with; ``generators`` ``(m, P)`` (with
        :math:`D_i = 1[Fu_i \ge 0]`) choose those blocks' first cone rows
        (:func:`~bnconvex.numerics.solvers.working_set.solve`).  A class
        warm-started from ``init`` or a checkpoint keeps that start.  The
        result does not depend on them, only the time: a CIFAR-10 class at
        33 columns took 116 interior-point iterations from the network's
        signs, 459 from the largest violators.
    workers : int
        ``method="working-set"`` only: classes solved at once, in that many
        worker processes (1: in this process); ``"auto"`` uses it when it
        picks the working set.  The workers are spawned, so a script that
        asks for more than one must call this under
        ``if __name__ == "__main__":`` (Python's multiprocessing rule).

    Returns
    -------
    FullScaleSolution

    Notes
    -----
    Program (per class ``k`` when ``group="class"``), with
    :math:`A_i = (2D_i - I)F`:

    .. math::
        \min_{S}\ \tfrac12\Bigl\|\sum_i D_i F (S_i - S'_i) - Y\Bigr\|_F^2
        + \beta\sum_{i,k}\bigl(\|s_{ik}\|_2 + \|s'_{ik}\|_2\bigr)
        \quad\text{s.t.}\quad A_i s_{ik}\ge 0,\ A_i s'_{ik}\ge 0 .

    *Methods.*  See :mod:`~bnconvex.numerics.fullscale.admm` and
    :mod:`~bnconvex.numerics.fullscale.al`; both only use the chunked GEMMs
    :math:`\hat Y = \operatorname{rowsum}(D\circ(FS))` and
    :math:`F^T(D\circ R)`, and both expose multipliers
    :math:`\lambda\ge0` of the cone constraints for the certificate.

    *Certificate.*  With :math:`r = Y - \hat Y` and any :math:`\lambda\ge0`,
    :math:`B = \max_{i,\pm}\|\pm F^TD_ir + A_i^T\lambda\|` bounds the dual
    constraint (Moreau decomposition; :math:`\lambda = 0` for the gated
    relaxation), so :math:`v = r\min(1,\beta/B)` gives the lower bound
    :math:`-\tfrac12\|v - Y\|^2 + \tfrac12\|Y\|^2` (per class for
    ``group="class"``).  The bound is valid for the program *over the given
    patterns*; it is a bound on the BN network optimum only when ``D`` holds
    every pattern.  For moderate sizes (``n <= 4096``, ``group="class"``) the
    reported bound is the larger of this batched bound and the exact per-pattern
    cone norms of :func:`bnconvex.numerics.core.certificate.dual_constraint_bound`.

    *Vector outputs (paper.md R3).*  ``group="class"`` (default) is the joint
    squared loss with blocks :math:`S_i\in\mathbb R^{m\times K}` whose columns
    each lie in :math:`K_i` and are penalised separately, so the program splits
    into ``K`` scalar programs (one per class).  Its value is *achievable*: it is
    the objective of a BN network whose neurons each feed one class (output
    weights :math:`c\,e_k`), hence an upper bound on the vector-output optimum
    of R3.  ``group="pattern"`` penalises :math:`\|S_i\|_F` instead; since
    :math:`\|S\|_F \le \|S\|_* \le \|S\|_{*,K_i}` it is a relaxation, whose
    value is a lower bound on R3's optimum.  The default is the one that
    corresponds to a network and that separates, which the chunked GEMMs use
    best.
    """
    t_start = time.perf_counter()
    xp, Y, Dm, vector = _solve_iv(F, y, beta, D, group)
    if max_iter is not None:
        check_positive_int(max_iter, "max_iter")
    check_positive_int(max_outer, "max_outer")
    _check_callback(callback, callback_every)
    asked = method
    method = _pick_method(method, F.shape[0])
    dual_step = _check_dual_step(dual_step, method)
    rc, pc = chunk_sizes(F.shape[0], Dm.shape[1], Y.shape[1], row_chunk, pattern_chunk)
    op = ChunkedOperator(F, Dm, xp, row_chunk=rc, pattern_chunk=pc)
    pb = Problem(op, Y, float(beta), group, gated, 0.0, 0.0, 0.0, xp)
    deadline = math.inf if time_limit is None else t_start + time_limit
    G0 = op.loss_gradient(Y)
    pb.g0 = max(float(xp.sqrt(xp.sum(G0 * G0))), _TINY)
    small = (
        group == "class"
        and not gated
        and F.shape[0] * F.shape[1] * Dm.shape[1] * Y.shape[1] <= _EXACT_BETA_MAX_WORK
    )
    host = (to_numpy(F), to_numpy(Dm) > 0.5) if small else None
    zero_beta = zero_optimal_beta(pb, G0, host)
    check_positive_int(workers, "workers")
    if asked == "auto":
        left = deadline - time.perf_counter()
        if _auto_working_set(pb, zero_beta[0], left, workers):
            dual_step = 1.0  # no multiplier step to take
            method = "working-set"
        else:
            workers = 1  # the working set's setting; the AL runs in-process
    if workers != 1 and method != "working-set":
        raise InputError("`workers` applies to method='working-set' only")
    if method == "working-set":
        _check_classwise(gated, group, dual_step)
        pb.L_loss, pb.F2 = 1.0, 1.0  # no step size: interior-point solves
    else:
        pb.L_loss = loss_lipschitz(op, deadline=deadline)
        pb.F2 = spectral_norm_sq(F, xp)
    if max_iter is None:
        max_iter = (
            WORKING_SET_ITERS_PER_CLASS * Y.shape[1]
            if method == "working-set"
            else FIRST_ORDER_MAX_ITER
        )
    solver: FullScaleMethod
    if method == "working-set":
        solver = ClasswiseMethod(
            pb,
            tol,
            init=_init_blocks(pb, init),
            workers=workers,
            guess=_check_guess(start_signs, generators, pb),
        )
    else:
        S0, lam0, rho0 = _initial_point(pb, init, rho, method)
        solver = (
            ADMMMethod(pb, S0, lam0, rho0)
            if method == "admm"
            else ALMethod(pb, S0, lam0, rho0, dual_step)
        )
    if resume is not None:
        load_checkpoint(resume, solver, pb)
    notify = _Notifier(callback, callback_every, t_start, solver, vector, xp)
    ckpt = (
        None
        if checkpoint is None
        else Checkpoint(Path(checkpoint), float(checkpoint_every), pattern_record)
    )
    sol = _run(
        solver,
        pb,
        vector,
        t_start,
        max_iter=max_iter,
        max_outer=max_outer,
        tol=tol,
        viol_tol=viol_tol,
        time_limit=time_limit,
        emit=_progress_printer(verbose),
        checkpoint=ckpt,
        polish=polish
        and group == "class"
        and method != "working-set"
        and F.shape[0] <= _ADMM_MAX_N,
        notify=notify,
    )
    sol.beta_max, sol.beta_max_exact = zero_beta
    return sol


def _check_classwise(gated: bool, group: str, dual_step: float) -> None:
    """``method="working-set"`` solves the exact per-class programs only."""
    if gated or group != "class":
        raise InputError(
            "`method`='working-set' solves the exact program per class: it needs "
            f"gated=False and group='class'; got gated={gated}, group={group!r}"
        )
    if dual_step != 1.0:
        raise InputError(
            "`dual_step` applies to the augmented Lagrangian only; "
            "method='working-set' has no multiplier step"
        )


def _init_blocks(pb: Problem, init: FullScaleSolution | None) -> Array | None:
    """Blocks of a warm start in the full-scale layout, shape checked (or None)."""
    if init is None:
        return None
    S = to_fullscale(init.S_plus, init.S_minus, pb.xp, pb.Y.dtype)
    shape = (pb.op.m, 2, pb.Y.shape[1], pb.op.P)
    if tuple(S.shape) != shape:
        raise InputError(
            f"`init` has blocks of shape {tuple(init.S_plus.shape)}; "
            f"expected P={pb.op.P}, m={pb.op.m}, K={pb.Y.shape[1]}"
        )
    return S


def _check_guess(
    signs: np.ndarray | None, generators: Array | None, pb: Problem
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(start_signs, generators)`` as NumPy arrays of the right shapes, or None."""
    if signs is None:
        if generators is not None:
            raise InputError("`generators` needs `start_signs`")
        return None
    P, K, m = pb.op.P, pb.Y.shape[1], pb.op.m
    S = np.asarray(to_numpy(signs), dtype=np.float64)
    if S.shape != (P, K) or not np.all(np.isin(S, (-1.0, 1.0))):
        raise InputError(
            f"`start_signs` must be a ({P}, {K}) array of +1 and -1; got shape "
            f"{S.shape}"
        )
    if generators is None:
        return S, None
    G = np.asarray(to_numpy(generators), dtype=np.float64)
    if G.shape != (m, P) or not np.all(np.isfinite(G)):
        raise InputError(
            f"`generators` must be a finite ({m}, {P}) array; got shape {G.shape}"
        )
    return S, G


def _check_dual_step(dual_step: float, method: str) -> float:
    """``dual_step`` in (0, 1], and only with the augmented Lagrangian."""
    if isinstance(dual_step, bool) or not isinstance(dual_step, (int, float)):
        raise InputError(f"`dual_step` must be a number in (0, 1]; got {dual_step!r}")
    if not 0.0 < dual_step <= 1.0:
        raise InputError(f"`dual_step` must be in (0, 1]; got {dual_step!r}")
    if method == "admm" and dual_step != 1.0:
        raise InputError(
            "`dual_step` applies to the augmented Lagrangian only (method='al', "
            f"which 'auto' picks above n={_ADMM_MAX_N}); this call uses ADMM"
        )
    return float(dual_step)


def _initial_point(
    pb: Problem, init: FullScaleSolution | None, rho: float | None, method: str
) -> tuple[Array, Array | None, float]:
    xp, op = pb.xp, pb.op
    K = pb.Y.shape[1]
    shape = (op.m, 2, K, op.P)
    rho_default = 1.0 if method == "admm" else pb.L_loss / pb.F2
    if init is None:
        S, lam = xp.zeros(shape, dtype=pb.Y.dtype), None
    else:
        S = _init_blocks(pb, init)
        lam = _warm_multipliers(init.multipliers, pb)
        if init.method == method:
            rho_default = init.rho
    if not pb.gated and lam is None:
        lam = xp.zeros((op.n, 2, K, op.P), dtype=pb.Y.dtype)
    return (
        S,
        (None if pb.gated else lam),
        float(rho if rho is not None else rho_default),
    )


def _warm_multipliers(lam: Array | None, pb: Problem) -> Array | None:
    """Warm-start multipliers in the working namespace and dtype, shape checked."""
    if lam is None:
        return None
    op, xp = pb.op, pb.xp
    shape = (op.n, 2, pb.Y.shape[1], op.P)
    if tuple(lam.shape) != shape:
        raise InputError(
            f"`init` has multipliers of shape {tuple(lam.shape)}; "
            f"expected {shape} (n={op.n}, K={pb.Y.shape[1]}, P={op.P})"
        )
    return xp.asarray(lam, dtype=pb.Y.dtype)


def _run(
    solver: FullScaleMethod,
    pb: Problem,
    vector: bool,
    t_start: float,
    *,
    max_iter: int,
    max_outer: int,
    tol: float,
    viol_tol: float,
    time_limit: float | None,
    emit,
    checkpoint: Checkpoint | None,
    polish: bool,
    notify: _Notifier,
) -> FullScaleSolution:
    last_ckpt = time.perf_counter()
    polisher = _Polisher(pb, tol, viol_tol) if polish else None
    best = _Incumbent()
    deadline = math.inf if time_limit is None else t_start + time_limit
    while True:
        S, lam, viol, ran = _advance(solver, pb, max_iter, max_outer, deadline)
        obj, R = objective(pb, S)
        best.bound(certificate(pb, S, R, lam))
        best.bound(getattr(solver, "lower", -math.inf))
        if viol <= viol_tol:
            best.offer(S, obj, R, viol)
        emit(
            f"[fullscale/{solver.name}] check {solver.outer:4d} "
            f"iters {solver.iters:6d} obj {obj:.10g} lb {best.lb:.10g} "
            f"viol {viol:.2e} best feasible {best.obj:.10g} rho {solver.rho:.2e}"
        )
        notify.check(S, obj, best.lb, viol)
        if (
            polisher is not None
            and time.perf_counter() < deadline
            and polisher.due(best.rel_gap(obj), viol)
        ):
            polisher.attempt(S, best)
        if best.rel_gap() <= tol:
            status = SolverStatus.OPTIMAL
        elif solver.iters >= max_iter or solver.outer >= max_outer:
            status = SolverStatus.MAX_ITERATIONS
        elif getattr(solver, "done", False):
            status = solver.final_status
        elif time.perf_counter() >= deadline or getattr(solver, "out_of_time", False):
            status = SolverStatus.TIME_LIMIT
        else:
            solver.adapt(viol_tol, tol)
            if (
                checkpoint is not None
                and time.perf_counter() - last_ckpt >= checkpoint.every
            ):
                checkpoint.save(solver, pb)
                last_ckpt = time.perf_counter()
            continue
        break
    if (
        polisher is not None
        and status != SolverStatus.OPTIMAL
        and time.perf_counter() < deadline
    ):
        best.bound(polisher.exact_bound(R if best.S is None else best.R))
    if best.S is not None:
        S, obj, R, viol = best.S, best.obj, best.R, best.viol
    lb = best.lb
    if checkpoint is not None:
        if ran and status != SolverStatus.OPTIMAL:
            solver.adapt(viol_tol, tol)  # the state a continued run starts from
        checkpoint.save(solver, pb)
    Sp, Sm = from_fullscale(S, pb.xp, vector)
    pred = R + pb.Y
    return FullScaleSolution(
        S_plus=Sp,
        S_minus=Sm,
        objective=obj,
        lower_bound=lb,
        gap=obj - lb,
        max_violation=viol,
        gap_certified=viol <= viol_tol,
        status=status,
        iterations=solver.iters,
        outer_iterations=solver.outer,
        seconds=time.perf_counter() - t_start,
        multipliers=lam,
        rho=solver.rho,
        predictions=pred if vector else pred[:, 0],
        beta=pb.beta,
        group=pb.group,
        gated=pb.gated,
        method=solver.name,
        solver=f"fullscale-{solver.name}" + ("-gated" if pb.gated else ""),
    )


def _advance(
    solver: FullScaleMethod, pb: Problem, max_iter: int, max_outer: int, deadline: float
) -> tuple[Array, Array | None, float, bool]:
    """Run one round if budget and time remain; return the point and whether it ran.

    A resumed run whose iteration or round count already reaches its budget,
    or a call whose deadline passed during the set-up, runs no step: the
    current point (blocks, multipliers, cone violation measured afresh) is
    then certified as it is, and the state is left unadapted for a resume.
    """
    if (
        solver.iters < max_iter
        and solver.outer < max_outer
        and time.perf_counter() < deadline
    ):
        solver.advance(max_iter - solver.iters, deadline)
        return (*solver.current(), True)
    S, lam, _ = solver.current()
    return S, lam, 0.0 if pb.gated else pb.op.violation(S), False


class _Notifier:
    """Calls the user's progress callback (throttled for inner steps)."""

    def __init__(
        self,
        callback: Callback | None,
        every: float,
        t_start: float,
        solver,
        vector: bool,
        xp: ModuleType,
    ) -> None:
        self.callback, self.every, self.t_start = callback, float(every), t_start
        self.solver, self.vector, self.xp = solver, vector, xp
        self.last = t_start
        if callback is not None and every > 0:
            solver.tick = self.step

    def _emit(self, kind: str, iters: int, S: Array, **values: float) -> None:
        now = time.perf_counter()
        self.last = now
        Sp, Sm = from_fullscale(S, self.xp, self.vector)
        self.callback(
            FullScaleProgress(
                kind, iters, self.solver.outer, now - self.t_start, Sp, Sm, **values
            )
        )

    def step(self, iters: int, S: Array) -> None:
        """Inner-step hook: call back if ``every`` seconds have passed.

        The values are the method's free by-products of the step (AL: the
        objective and violation at the extrapolated point and the best bound
        so far); ``None`` where the method has none.
        """
        if time.perf_counter() - self.last >= self.every:
            values = {
                key: float(getattr(self.solver, attr))
                for key, attr in (
                    ("objective", "step_objective"),
                    ("lower_bound", "lower"),
                    ("violation", "step_violation"),
                )
                if hasattr(self.solver, attr)
            }
            self._emit("step", iters, S, **values)

    def check(self, S: Array, obj: float, lb: float, viol: float) -> None:
        """Certificate-check hook: always call back."""
        if self.callback is not None:
            self._emit(
                "check",
                self.solver.iters,
                S,
                objective=obj,
                lower_bound=lb,
                violation=viol,
            )


class _Incumbent:
    r"""Best feasible point seen and best lower bound (every bound is valid).

    The bound starts at 0: the dual point :math:`v = 0` is always feasible and
    its value :math:`-\tfrac12\|0 - Y\|^2 + \tfrac12\|Y\|^2 = 0` bounds the
    (non-negative) objective, so no reported bound is negative.
    """

    def __init__(self) -> None:
        self.S = self.R = None
        self.obj, self.viol, self.lb = math.inf, math.inf, 0.0

    def bound(self, lb: float) -> None:
        """Record a certified lower bound."""
        self.lb = max(self.lb, lb)

    def offer(self, S: Array, obj: float, R: Array, viol: float) -> None:
        """Record a point whose cone violation met the tolerance."""
        if obj < self.obj:
            self.S, self.obj, self.R, self.viol = S, obj, R, viol

    def rel_gap(self, obj: float | None = None) -> float:
        """Relative gap of ``obj`` (default: the incumbent) to the best bound."""
        obj = self.obj if obj is None else obj
        if not math.isfinite(obj):
            return math.inf
        return (obj - self.lb) / max(abs(obj), _TINY)


class _Polisher:
    """Schedules polishing attempts and certifies their results exactly."""

    start_gap = 1e-3

    def __init__(self, pb: Problem, tol: float, viol_tol: float) -> None:
        self.pb, self.tol, self.viol_tol = pb, tol, viol_tol
        self.host = (to_numpy(pb.op.F), to_numpy(pb.op.Dmask) > 0.5, to_numpy(pb.Y))
        self.skip = 0
        self.waits = 1

    def due(self, rel: float, viol: float) -> bool:
        """Attempt when the gap is small, backing off after failures."""
        if rel > self.start_gap or (rel <= self.tol and viol <= self.viol_tol):
            return False
        self.skip -= 1
        return self.skip < 0

    def attempt(self, S: Array, best: _Incumbent) -> None:
        """Offer feasible neighbours of ``S`` to ``best`` with exact certificates.

        First the cone projection of every block, then active-set Newton with
        several active-row thresholds; stops once the gap meets ``tol``.
        """
        F, D, Y = self.host
        S_np = to_numpy(S)
        makers = [lambda Sk, k: project_blocks(F, D, Sk)] + [
            functools.partial(self._newton, delta=delta) for delta in (1e-6, 1e-4, 1e-2)
        ]
        for make in makers:
            out = np.stack(
                [make(S_np[:, :, k, :], k) for k in range(Y.shape[1])], axis=2
            )
            self._offer(out, best)
            if best.rel_gap() <= self.tol:
                return
        self.skip, self.waits = self.waits, min(2 * self.waits, 8)

    def exact_bound(self, R: Array) -> float:
        """Lower bound from the exact per-pattern cone norms at residual ``R``."""
        F, D, _ = self.host
        return exact_certificate(self.pb, to_numpy(R), F, D)

    def _newton(self, Sk: np.ndarray, k: int, *, delta: float) -> np.ndarray:
        F, D, Y = self.host
        return polish_blocks(F, D, Y[:, k], self.pb.beta, Sk, delta)

    def _offer(self, out: np.ndarray, best: _Incumbent) -> None:
        """Certify a candidate over all patterns and offer it if feasible."""
        pb = self.pb
        F, D, _ = self.host
        Sx = pb.xp.asarray(out, dtype=pb.Y.dtype)
        viol = pb.op.violation(Sx)
        if viol > self.viol_tol:
            return
        obj, R = objective(pb, Sx)
        best.bound(exact_certificate(pb, to_numpy(R), F, D))
        best.offer(Sx, obj, R, viol)


def exact_certificate(
    pb: Problem, R: np.ndarray, F: np.ndarray, D: np.ndarray
) -> float:
    r"""Lower bound with the exact cone norms :math:`\|\Pi_{K_i}(\pm F^TD_ir)\|`.

    Reuses :func:`bnconvex.numerics.core.certificate.dual_constraint_bound` per class
    (``group="class"``); NumPy on the host, for moderate ``n`` and ``P``.
    """
    Y = to_numpy(pb.Y)
    total = 0.0
    for k in range(Y.shape[1]):
        r = -R[:, k]
        bound = dual_constraint_bound(F, D, r)
        total += residual_lower_bound(Y[:, k], r, pb.beta, bound)[0]
    return total


@xp_capabilities()
def solve_path(
    F: Array, y: Array, betas, D: Array, **kwargs
) -> list[FullScaleSolution]:
    """Solve for each ``beta`` in decreasing order, warm-starting from the previous one.

    Parameters
    ----------
    F, y, D
        As in :func:`solve_fullscale`.
    betas : sequence of float
        Regularisation values; solved from the largest to the smallest (where
        the solution is sparsest first) and returned in that order.
    **kwargs
        Passed to :func:`solve_fullscale` (not ``init``).

    Returns
    -------
    list of FullScaleSolution
    """
    if "init" in kwargs:
        raise InputError(
            "`init` is set by solve_path from the previous beta; do not pass it"
        )
    betas = sorted((check_beta(b) for b in betas), reverse=True)
    if not betas:
        raise InputError(
            "`betas` must contain at least one value; got an empty sequence"
        )
    out: list[FullScaleSolution] = []
    for b in betas:
        out.append(solve_fullscale(F, y, b, D, init=out[-1] if out else None, **kwargs))
    return out
