r"""Exact full-scale solves, one class at a time, by the working-set method.

With ``group="class"`` the full-scale program splits into ``K`` scalar
programs, one per class ``k`` (:func:`~bnconvex.numerics.fullscale.solve_fullscale`,
Notes):

.. math::
    p^\star = \sum_k p_k^\star,\qquad
    p_k^\star = \min_{s_i, s'_i \in K_i}\ \tfrac12\Bigl\|\sum_i D_iF(s_i - s'_i)
    - y_k\Bigr\|^2 + \beta\sum_i\bigl(\|s_i\| + \|s'_i\|\bigr).

Each is a :class:`~bnconvex.numerics.core.convex_program.ConvexProblem` on the
features ``F`` and the patterns ``D``, which the mid-size working-set method
(:mod:`bnconvex.numerics.solvers.working_set`) solves with an interior-point
method on a few blocks, exact cone norms for pricing and a certified dual
bound :math:`d_k \le p_k^\star`; no ``n x n`` object, memory
:math:`O(nP + nm|W| + (m|W|)^2)` (and the patterns' Gram matrices, below).
The blocks are kept in float64 (the solves' precision) whatever the working
dtype, so the objective the driver evaluates is that of the certified point.
Lower bounds add up: :math:`d = \sum_k d_k \le p^\star` (a class not solved
yet contributes :math:`0 \le p_k^\star`), and with objectives
:math:`p = \sum_k p_k`, relative gaps :math:`(p_k - d_k)/p_k \le \epsilon`
for every ``k`` give :math:`(p - d)/p \le \epsilon`.

The classes are independent: with ``workers > 1`` they are solved that many at
a time in worker processes (spawned; ``F`` and ``D`` are sent once to each).
They share ``F`` and ``D``, hence the Gram matrices :math:`F^TD_iD_jF` of the
patterns that their working sets use: each process computes those once and
every later class reads its :math:`J^TJ` off them
(:class:`~bnconvex.numerics.solvers._gram.PatternGram`, :math:`(Pm)^2`
float64 per process at most, used when that is at most 1 GiB).
Set ``OPENBLAS_NUM_THREADS=1`` (or the BLAS of the build) so that the workers
do not oversubscribe the cores.

The method pays off when the features have few columns (``m`` up to about
50, e.g. truncated whitening) and ``beta`` leaves few active blocks per
class: then it reaches certified gaps far below those of the first-order
methods (:mod:`~bnconvex.numerics.fullscale.al`), whose iterates violate the
cones by a small amount that stops any certificate.  It runs on the host in
float64 whatever the working dtype and namespace.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import time
import weakref
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from bnconvex.numerics._array_api import Array, to_numpy
from bnconvex.numerics.fullscale._problem import Problem
from bnconvex.numerics.status import SolverStatus

__all__ = ["ClasswiseMethod"]

#: time limit of a class solve when the caller gives none (seconds)
_NO_LIMIT = 1e9
#: statuses of a solve stopped by a budget
_BUDGETS = (SolverStatus.TIME_LIMIT, SolverStatus.MAX_ITERATIONS)


class ClasswiseMethod:
    """Per-class working-set solves behind the :class:`FullScaleMethod` protocol.

    One :meth:`advance` solves the first class of a queue to the target
    ``tol``, or until its share of the time left (what is left divided by the
    classes in the queue).  A class stopped by its share goes to the back of
    the queue and is solved again, warm-started from its blocks, with the time
    the others leave; one stopped by the caller's own budget (iterations or
    deadline) stays in front, so that a resumed run finishes it.  A new solve
    of a class replaces the old one only if its certified gap is smaller.
    ``lower`` is the sum of the certified per-class lower bounds, which the
    driver combines with its batched bound.
    """

    name = "working-set"
    dual_step = 1.0
    rho = 0.0

    def __init__(
        self,
        pb: Problem,
        tol: float,
        init: Array | None = None,
        workers: int = 1,
        guess: tuple[np.ndarray, np.ndarray | None] | None = None,
    ) -> None:
        self.pb, self.tol, self.workers = pb, float(tol), int(workers)
        self._pool: ProcessPoolExecutor | None = None
        #: what the class solves of this process share (:func:`_solve_job`)
        self._cache: dict = {}
        K, P = pb.Y.shape[1], pb.op.P
        # float64 whatever the working dtype: the certificate is of this point
        self.S = pb.xp.zeros((pb.op.m, 2, K, P), dtype=pb.xp.float64)
        #: per class, the flat indices of a warm start's non-zero blocks
        #: (``i`` for :math:`s_i`, ``P + i`` for :math:`s'_i`)
        self.start: list[np.ndarray | None] = [None] * K
        #: generators of the patterns (choose a start's first cone rows)
        self.generators: np.ndarray | None = None
        if init is not None:
            norms = np.linalg.norm(np.asarray(to_numpy(init), np.float64), axis=0)
            self.start = [np.flatnonzero(norms[:, k, :].reshape(-1)) for k in range(K)]
        #: per class, a guess of the support (``guess_blocks`` of the solves)
        self.guess: list[np.ndarray | None] = [None] * K
        if guess is not None:  # (+, i) where the sign is +1, (-, i) where -1
            signs, self.generators = guess
            at = np.arange(P)
            self.guess = [np.where(signs[:, k] > 0, at, P + at) for k in range(K)]
        self.F = np.ascontiguousarray(to_numpy(pb.op.F), dtype=np.float64)
        self.D = to_numpy(pb.op.Dmask) > 0.5
        self.Y = np.asarray(to_numpy(pb.Y), dtype=np.float64)
        self.parts = np.zeros(K)  # certified lower bound of each class
        self.viols = np.zeros(K)
        self.gaps = np.full(K, np.inf)  # certified gap of each class's point
        #: status of each class's kept solve (None: not solved yet)
        self.statuses: list[SolverStatus | None] = [None] * K
        #: classes still to solve, the next one first
        self.queue: list[int] = list(range(K))
        self.iters = self.outer = 0
        self.lower = 0.0
        self.tick = None
        self.out_of_time = False

    def advance(self, budget: int, deadline: float = math.inf) -> None:
        """Solve the next classes (``workers`` at once) within ``budget`` iterations.

        The classes solved together share ``budget`` equally; each gets the
        time left divided by the rounds of ``workers`` classes left.
        """
        ks = [self.queue.pop(0) for _ in range(min(self.workers, len(self.queue)))]
        now = time.perf_counter()
        rounds = math.ceil((len(self.queue) + len(ks)) / self.workers)
        share = _NO_LIMIT if math.isinf(deadline) else (deadline - now) / rounds
        each = max(1, budget // len(ks))
        jobs = [
            _Job(
                k,
                self.Y[:, k],
                self.pb.beta,
                self.tol,
                each,
                max(share, 0.0),
                self.start[k],
                self.guess[k],
            )
            for k in ks
        ]
        outcomes = self._solve(jobs)
        for out in outcomes:
            self._keep(out.k, out)
            if SolverStatus(out.status) in _BUDGETS:
                self.start[out.k] = _support(out)
                stop = out.iterations >= each or time.perf_counter() >= deadline
                # the caller's budget: retried first on resume; a share: last
                self.queue.insert(0 if stop else len(self.queue), out.k)
            self.iters += out.iterations
            self.outer += 1
        if not self.queue and self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.out_of_time = time.perf_counter() >= deadline
        if self.tick is not None:
            self.tick(self.iters, self.S)

    def _solve(self, jobs: list[_Job]) -> list[_Outcome]:
        """Run ``jobs`` here (one worker) or in the process pool."""
        if self.workers == 1:
            return [
                _solve_job(self.F, self.D, job, self._cache, self.generators)
                for job in jobs
            ]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                # spawn: a forked BLAS thread pool can deadlock the child
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.F, self.D, self.generators),
            )
            weakref.finalize(self, self._pool.shutdown)
        return list(self._pool.map(_run_job, jobs))

    def _keep(self, k: int, sol) -> None:
        """Store class ``k``'s solve unless an earlier one has a smaller gap."""
        if sol.gap > self.gaps[k] and self.statuses[k] is not None:
            return
        block = np.stack([sol.S_plus.T, sol.S_minus.T], axis=1)  # (m, 2, P)
        S = to_numpy(self.S).copy()
        S[:, :, k, :] = block
        self.S = self.pb.xp.asarray(S, dtype=self.pb.xp.float64)
        self.parts[k] = max(sol.lower_bound, 0.0)
        self.viols[k], self.gaps[k] = sol.max_violation, sol.gap
        self.statuses[k] = SolverStatus(sol.status)
        self.lower = float(np.sum(self.parts))

    @property
    def done(self) -> bool:
        """Every class solved (none left in the queue)."""
        return not self.queue

    @property
    def final_status(self) -> SolverStatus:
        """Status once every class ran: the first budget that stopped a class.

        ``TIME_LIMIT`` or ``MAX_ITERATIONS`` when a class stopped on its share
        of the budget, else ``INACCURATE`` (each class stopped with its own
        status; the driver reports ``OPTIMAL`` itself when the summed gap
        meets ``tol``).
        """
        for status in _BUDGETS:
            if status in self.statuses:
                return status
        return SolverStatus.INACCURATE

    def current(self) -> tuple[Array, Array | None, float]:
        """Blocks, no multipliers, the largest cone violation of the classes."""
        return self.S, None, float(np.max(self.viols))

    def adapt(self, viol_tol: float, tol: float) -> None:
        """Nothing to adapt: each class is solved to ``tol`` in one round."""

    def state(self) -> tuple[dict, dict]:
        """Blocks and per-class bounds (a resume continues with the next class)."""
        arrays = {"S": self.S, "parts": self.parts, "viols": self.viols}
        meta = {
            "iters": self.iters,
            "outer": self.outer,
            "queue": self.queue,
            "gaps": [float(g) if np.isfinite(g) else None for g in self.gaps],
            "statuses": ["" if s is None else str(s.value) for s in self.statuses],
            "start": [None if b is None else b.tolist() for b in self.start],
        }
        return arrays, meta

    def restore(self, arrays: dict, meta: dict) -> None:
        """Inverse of :meth:`state`."""
        self.S = arrays["S"]
        self.parts = np.asarray(to_numpy(arrays["parts"]), dtype=np.float64)
        self.viols = np.asarray(to_numpy(arrays["viols"]), dtype=np.float64)
        self.iters, self.outer = int(meta["iters"]), int(meta["outer"])
        self.queue = [int(k) for k in meta["queue"]]
        self.gaps = np.array([np.inf if g is None else g for g in meta["gaps"]])
        self.statuses = [SolverStatus(s) if s else None for s in meta["statuses"]]
        self.start = [
            None if b is None else np.asarray(b, np.intp) for b in meta["start"]
        ]
        self.lower = float(np.sum(self.parts))


def _support(sol) -> np.ndarray:
    """Flat indices of a solve's non-zero blocks (``i``: :math:`s_i`, ``P + i``)."""
    norms = np.r_[
        np.linalg.norm(sol.S_plus, axis=1), np.linalg.norm(sol.S_minus, axis=1)
    ]
    return np.flatnonzero(norms)


@dataclasses.dataclass
class _Job:
    """One class solve: labels, options and warm start (``F`` and ``D`` aside)."""

    k: int
    y: np.ndarray
    beta: float
    tol: float
    max_iter: int
    time_limit: float
    start: np.ndarray | None
    guess: np.ndarray | None = None


@dataclasses.dataclass
class _Outcome:
    """What :class:`ClasswiseMethod` keeps of a class solve (picklable)."""

    k: int
    S_plus: np.ndarray
    S_minus: np.ndarray
    lower_bound: float
    gap: float
    max_violation: float
    status: str
    iterations: int


def _solve_job(
    F: np.ndarray,
    D: np.ndarray,
    job: _Job,
    cache: dict,
    generators: np.ndarray | None = None,
) -> _Outcome:
    """Solve one class's program by the working-set method.

    ``cache`` keeps, from one job to the next in the same process, the
    patterns' Gram matrices (:class:`~bnconvex.numerics.solvers._gram.PatternGram`,
    when they fit its memory cap): the classes share ``F`` and ``D``.
    """
    from bnconvex.numerics.core.convex_program import ConvexProblem
    from bnconvex.numerics.solvers._gram import PatternGram
    from bnconvex.numerics.solvers.working_set import solve

    problem = ConvexProblem(F, job.y, job.beta, D)
    if "gram" not in cache:
        fits = PatternGram.fits(problem.P, problem.m)
        cache["gram"] = PatternGram(problem.U_prime, problem.D) if fits else None
    sol = solve(
        problem,
        tol=job.tol,
        max_iter=job.max_iter,
        time_limit=job.time_limit,
        start_blocks=job.start,
        guess_blocks=job.guess,
        generators=generators,
        pattern_gram=cache["gram"],
    )
    return _Outcome(
        job.k,
        sol.S_plus,
        sol.S_minus,
        float(sol.lower_bound),
        float(sol.gap),
        float(sol.max_violation),
        SolverStatus(sol.status).value,
        int(sol.iterations),
    )


#: ``F``, ``D`` and the generators of a worker process (sent once, by
#: :func:`_init_worker`)
_SHARED: dict[str, np.ndarray | None] = {}
#: what the jobs of a worker process share (:func:`_solve_job`)
_CACHE: dict = {}


def _init_worker(F: np.ndarray, D: np.ndarray, generators: np.ndarray | None) -> None:
    """Pool initializer: keep the features and patterns for every job."""
    _SHARED["F"], _SHARED["D"], _SHARED["G"] = F, D, generators
    _CACHE.clear()


def _run_job(job: _Job) -> _Outcome:
    """Run a job in a worker process."""
    return _solve_job(_SHARED["F"], _SHARED["D"], job, _CACHE, _SHARED["G"])
