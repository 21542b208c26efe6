r"""The exact fit: one library function from data to a certified BN network.

The chain is a *reduction* (as in CVXPY's reduction chain) whose forward steps
turn the non-convex training problem into the convex program and whose
inverse turns the program's solution back into a network:

==========================  ==============================================
forward step                inverse step
==========================  ==============================================
convention ``bn`` -> A      :func:`network_in_convention` (A -> ``bn``)
whitening ``U'``            :func:`convex_to_network`
patterns ``D_1..D_P``       (blocks of dropped patterns are zero)
convex program + solve      certificate (dual bound, universal bound)
==========================  ==============================================

:func:`exact_program` runs the forward steps (an :class:`ExactProgram`, whose
:meth:`~ExactProgram.network` runs the inverse ones); :func:`fit_exact` adds
the solve and the certificate.

Every caller (the ``solve`` and ``certify`` commands, the claims, the figure
data, the benchmarks, the scikit-learn estimators) goes through
:func:`fit_exact` or through the named steps below; none retypes the chain.

Bound kinds (one vocabulary across the library, the JSON outputs and the
reports; defined in ``docs/cli.md``):

``global``
    valid for every BN network of any width: the pattern set is the complete
    arrangement of the rows of :math:`U'`, so the program's dual bound is a
    bound on the non-convex problem.
``patterns``
    valid for the convex program over the pattern set used (a sampled set),
    i.e. for networks whose neurons use only those patterns.
``universal``
    :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)` (paper R2), valid for every
    network whatever the patterns; always available, usually loose.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from bnconvex.numerics._validation import check_beta, check_data
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.result import BoundedGap, relative_gap

__all__ = [
    "BOUND_KINDS",
    "MAX_EXACT_PATTERNS",
    "ExactFit",
    "ExactProgram",
    "NetworkGap",
    "certify_network_exact",
    "check_solve_memory",
    "choose_patterns",
    "exact_program",
    "fit_exact",
    "image_blocks",
    "network_in_convention",
]

#: The vocabulary of lower-bound kinds (see the module docstring).
BOUND_KINDS = ("global", "patterns", "universal")
BoundKind = Literal["global", "patterns", "universal"]

#: ``arrangements="exact"`` is refused when the arrangement may exceed this
#: many patterns (``max_pattern_count(n, r)``, the Cover/Zaslavsky bound).
MAX_EXACT_PATTERNS = 200_000
#: ``arrangements="auto"`` enumerates up to this bound and samples above it.
AUTO_EXACT_PATTERNS = 20_000
#: Number of sampled patterns chosen by ``arrangements="auto"`` above it.
AUTO_SAMPLES = 5_000


def choose_patterns(
    U_prime: np.ndarray,
    arrangements: str | int = "auto",
    *,
    seed: int = 0,
    patterns: Any = None,
) -> tuple[np.ndarray, bool]:
    """Forward step 2: the pattern matrix ``D`` (n x P, bool) and its completeness.

    Parameters
    ----------
    U_prime : ndarray, shape (n, r + 1)
        Whitened data with the shift column.
    arrangements : {"auto", "exact"} or int
        ``"exact"``: every region of the central arrangement of the rows of
        :math:`U'` (refused above :data:`MAX_EXACT_PATTERNS`); an integer:
        that many Gaussian-sampled patterns; ``"auto"``: exact up to
        :data:`AUTO_EXACT_PATTERNS`, else :data:`AUTO_SAMPLES` samples.
    seed : int
        Seed of the sampling.
    patterns : array_like or path, optional
        A given pattern set (``(n, P)`` 0/1 array or ``.npy`` file); wins over
        ``arrangements`` and is never taken as complete.

    Returns
    -------
    D : ndarray of bool, shape (n, P)
    complete : bool
        Whether ``D`` is the whole arrangement (bound kind ``global``).
    """
    from bnconvex.numerics._validation import check_patterns
    from bnconvex.numerics.core import arrangements as arr

    n, m = U_prime.shape
    if patterns is not None:
        if isinstance(patterns, (str, bytes)) or hasattr(patterns, "__fspath__"):
            return np.asarray(arr.load_patterns(patterns, n), dtype=bool), False
        return np.asarray(check_patterns(patterns, n, "patterns"), dtype=bool), False
    bound = arr.max_pattern_count(n, m - 1)
    if arrangements == "auto":
        arrangements = "exact" if bound <= AUTO_EXACT_PATTERNS else AUTO_SAMPLES
    if arrangements == "exact":
        if bound > MAX_EXACT_PATTERNS:
            raise InputError(
                f"`arrangements` 'exact' may need up to {bound} patterns "
                f"(n={n}, r={m - 1}); pass a sample size, e.g. 5000"
            )
        return np.asarray(arr.enumerate_patterns(U_prime), dtype=bool), True
    integer = isinstance(arrangements, (int, np.integer))
    if isinstance(arrangements, bool) or not integer:
        raise InputError(
            "`arrangements` must be 'auto', 'exact' or a positive number of "
            f"sampled patterns; got {arrangements!r}"
        )
    if arrangements < 1:
        raise InputError(
            f"`arrangements` must be a positive number of patterns; got {arrangements}"
        )
    D = arr.sample_patterns(U_prime, int(arrangements), seed=seed)
    return np.asarray(D, dtype=bool), False


def network_in_convention(net: Any, n: int, convention: str) -> Any:
    r"""Inverse step 1: express a convention-A network in ``convention``.

    Notes
    -----
    :math:`BN^{std} = \sqrt n\, BN^{a}`, so scaling :math:`\gamma, \alpha, v`
    by :math:`n^{-1/4}` keeps :math:`f(X)` and turns the penalty
    :math:`\tfrac{\beta_a}{2}(\gamma^2+\alpha^2+v^2)` into
    :math:`\tfrac{\beta_{std}}{2}n^{-1/2}(\gamma^2+\alpha^2+v^2)` with
    :math:`\beta_{std} = \sqrt n\,\beta_a`: the same number.
    """
    if convention == "a":
        return net
    if convention != "std":
        raise InputError(f"`bn` must be 'a' or 'std'; got {convention!r}")
    c = float(n) ** -0.25
    return net.replace(
        gamma=net.gamma * c, alpha=net.alpha * c, v=net.v * c, convention="std"
    )


@dataclasses.dataclass(frozen=True)
class ExactFit:
    r"""Result of :func:`fit_exact`: every stage of the chain, certified.

    Attributes
    ----------
    whitening : Whitening
        Centred compact SVD of ``X``; ``whitening.U_prime`` is :math:`U'`.
    D : ndarray of bool, shape (n, P)
        The pattern set of the program.
    complete : bool
        Whether ``D`` is the complete arrangement.
    problem : ConvexProblem
        The convex program (convention A, ``beta_a``).
    solution : ConvexSolution
        The solver's result (its ``lower_bound`` is valid over ``D``).
    certificate : Certificate
        Dual certificate of the solution's predictions, with the universal
        bound.
    network : BNNetwork
        The network rebuilt from the blocks, in convention ``bn``.
    network_objective : float
        Its objective on ``(X, y)``: a feasible point of the non-convex
        problem, so the upper side of every gap (the solver's objective is
        not, when a budget stopped it at a point outside the cones).
    beta, beta_a : float
        Weight decay in convention ``bn`` and in convention A.
    bn : {"a", "std"}
        The convention of ``beta`` and ``network``.
    """

    whitening: Any
    D: np.ndarray
    complete: bool
    problem: Any
    solution: Any
    certificate: Any
    network: Any
    network_objective: float
    beta: float
    beta_a: float
    bn: str

    @property
    def objective(self) -> float:
        """Convex objective of the solution (= the network's, convention A)."""
        return float(self.solution.objective)

    @property
    def pattern_lower_bound(self) -> float:
        """Best lower bound valid for the program over ``D``."""
        sol, cert = self.solution, self.certificate
        return max(float(sol.lower_bound), float(cert.lower_bound))

    @property
    def pattern_gap(self) -> float:
        """Relative gap of the network over the pattern set used."""
        gap = self.network_objective - self.pattern_lower_bound
        return relative_gap(gap, self.network_objective)

    @property
    def bound_kind(self) -> BoundKind:
        """``"global"`` for a complete arrangement, else ``"universal"``.

        The kind of :attr:`lower_bound`: with sampled patterns the bound
        valid for every network is the universal one (the pattern bound is
        :attr:`pattern_lower_bound`, kind ``"patterns"``).
        """
        return "global" if self.complete else "universal"

    @property
    def lower_bound(self) -> float:
        """The best lower bound valid for every BN network (kind :attr:`bound_kind`)."""
        universal = float(self.certificate.universal_bound)
        if self.complete:
            return max(self.pattern_lower_bound, universal)
        return universal

    @property
    def gap(self) -> float:
        """``network_objective - lower_bound`` (>= 0 up to rounding)."""
        return self.network_objective - self.lower_bound

    @property
    def relative_gap(self) -> float:
        """``gap / max(|network_objective|, tiny)``."""
        return relative_gap(self.gap, self.network_objective)

    @property
    def status(self) -> str:
        """The solver's status (about the program over ``D``)."""
        return str(self.solution.status)


@dataclasses.dataclass(frozen=True)
class ExactProgram:
    """Forward steps of the chain: the convex program of ``(X, y, beta)``.

    Attributes
    ----------
    whitening : Whitening
    D : ndarray of bool, shape (n, P)
    complete : bool
        Whether ``D`` is the complete arrangement.
    problem : ConvexProblem
        Convention A, ``beta_a``.
    beta, beta_a : float
    bn : {"a", "std"}
    """

    whitening: Any
    D: np.ndarray
    complete: bool
    problem: Any
    beta: float
    beta_a: float
    bn: str

    def network(self, S_plus: np.ndarray, S_minus: np.ndarray) -> Any:
        """Inverse steps: blocks -> network (R1 recovery) -> convention ``bn``."""
        from bnconvex.numerics.core.reconstruct import convex_to_network

        net = convex_to_network(self.whitening, S_plus, S_minus)
        return network_in_convention(net, self.problem.n, self.bn)


def exact_program(
    X: Any,
    y: Any,
    beta: float,
    *,
    bn: str = "a",
    arrangements: str | int = "auto",
    patterns: Any = None,
    seed: int = 0,
    whitening: Any = None,
) -> ExactProgram:
    r"""Forward steps: :math:`\beta \to \beta_a`, whiten, choose the patterns.

    Parameters are those of :func:`fit_exact`. For a solve other than
    :func:`~bnconvex.numerics.solvers.solve_convex` (e.g. a convex loss,
    :func:`~bnconvex.numerics.extensions.losses.solve_loss_program`), solve
    ``program.problem`` and rebuild the network with :meth:`ExactProgram.network`.

    Returns
    -------
    ExactProgram
    """
    from bnconvex.numerics.core.bn import convert_beta
    from bnconvex.numerics.core.convex_program import ConvexProblem
    from bnconvex.numerics.core.whitening import whiten

    if bn not in ("a", "std"):
        raise InputError(f"`bn` must be 'a' or 'std'; got {bn!r}")
    X, y = check_data(X, y)
    if y.ndim != 1:
        raise InputError(f"`y` must be one column (scalar output); got shape {y.shape}")
    beta = check_beta(beta)
    n = X.shape[0]
    beta_a = convert_beta(beta, n, source=bn, target="a")
    wh = whiten(X) if whitening is None else _check_whitening(whitening, n)
    U = np.asarray(wh.U_prime, dtype=np.float64)
    D, complete = choose_patterns(U, arrangements, seed=seed, patterns=patterns)
    problem = ConvexProblem(U, y, beta_a, D)
    return ExactProgram(wh, D, complete, problem, float(beta), beta_a, bn)


def _check_whitening(whitening: Any, n: int) -> Any:
    """Return ``whitening`` if it is a :class:`Whitening` of ``n`` samples."""
    from bnconvex.numerics.core.whitening import Whitening

    if not isinstance(whitening, Whitening) or whitening.n != n:
        raise InputError(
            f"`whitening` must be a Whitening of the n={n} rows of `X`; "
            f"got {type(whitening).__name__}"
        )
    return whitening


def check_solve_memory(problem: Any, bn: str = "a", solver: str | None = None) -> None:
    r"""Refuse, before any allocation, a solve whose memory exceeds what is free.

    Parameters
    ----------
    problem : ConvexProblem
        The program about to be solved (``U_prime`` n x (r+1), ``D`` n x P,
        ``beta`` in convention A).
    bn : {"a", "std"}
        Convention of the user's ``beta``, for the advice in the message.
    solver : str, optional
        The method (default :data:`~bnconvex.numerics.solvers.DEFAULT_SOLVER`).
        ``working-set`` holds the block matrices of its working set only (a
        peak of 1.08 GB at n = 100,000, d = 20, P = 256, benchmarks/README.md),
        so the check of every block's matrices applies to the other methods.

    Raises
    ------
    InputError
        Naming ``arrangements`` (the blocks alone do not fit) or ``beta`` (it
        is below the resolution of the data and the dense Newton matrix over
        every block would not fit), with the estimate.

    Notes
    -----
    The program has :math:`2P` blocks of :math:`r+1` variables,
    :math:`k = 2P(r+1)`; the solvers hold the block matrices
    :math:`D_iU'` (:math:`8nk` bytes).  A block is kept out of the solve when
    its dual score :math:`\max_{s\in K_i,\|s\|\le1} v^TD_iU's` is below
    :math:`\beta_a`; that score is a sum of :math:`n` terms of size at most
    :math:`\|y\|`, computed with an error up to :math:`n\varepsilon\|y\|`.
    Below :math:`\beta_a = n\varepsilon\|y\|` no block can be told inactive,
    every block may enter the solve, and its active-set polish forms the dense
    :math:`k\times k` Newton matrix: :math:`8k^2` bytes more (31.9 GiB for
    n = 30, d = 3 at ``beta = 1e-300``, where it was found).
    """
    from bnconvex.numerics._validation import check_resources
    from bnconvex.numerics.solvers import DEFAULT_SOLVER

    n, m = problem.U_prime.shape
    k = 2 * problem.D.shape[1] * m
    if (solver or DEFAULT_SOLVER) != "working-set":
        check_resources(
            8.0 * n * k,
            "arrangements",
            f"the {k // m} blocks of the program (n={n}, r={m - 1})",
            "sample fewer patterns (--arrangements N)",
        )
    resolution = n * np.finfo(np.float64).eps * float(np.linalg.norm(problem.y))
    if problem.beta < resolution:
        scale = float(np.sqrt(n)) if bn == "std" else 1.0
        check_resources(
            8.0 * n * k + 8.0 * k * k,
            "beta",
            f"beta_a = {problem.beta:.3g} is below the float64 resolution "
            f"n*eps*||y|| = {resolution:.3g} of this data, so every one of the "
            f"{k // m} blocks may enter the solve, whose dense Newton matrix",
            f"use beta >= {resolution * scale:.3g}",
        )


def fit_exact(
    X: Any,
    y: Any,
    beta: float,
    *,
    bn: str = "a",
    arrangements: str | int = "auto",
    patterns: Any = None,
    seed: int = 0,
    whitening: Any = None,
    solver: str | None = None,
    verbose: bool = False,
    **solver_options: Any,
) -> ExactFit:
    r"""Fit a two-layer BN-ReLU network to global optimality (paper R1).

    Forward: :math:`\beta_a = \beta/\sqrt n` for ``bn="std"``; whiten
    :math:`X` into :math:`U' = [U, 1/\sqrt n]`; choose the patterns; solve

    .. math::

        \min_{s_i, s'_i \in K_i} \tfrac12\Bigl\|\sum_i D_i U'(s_i - s'_i) - y
        \Bigr\|^2 + \beta_a \sum_i (\|s_i\| + \|s'_i\|),\qquad
        K_i = \{s : (2D_i - I)U's \ge 0\};

    certify by the dual. Inverse: blocks -> network (R1 recovery) -> ``bn``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    beta : float
        Weight decay in convention ``bn``.
    bn : {"a", "std"}
        BN convention of ``beta`` and of the returned network.
    arrangements, patterns, seed
        See :func:`choose_patterns`.
    whitening : Whitening, optional
        The whitening of ``X`` to use instead of ``whiten(X)``, e.g. one
        truncated to the top ``k`` singular directions (an explicit
        regulariser); its ``n`` must be the number of rows of ``X``.
    solver : str, optional
        A method of :data:`bnconvex.numerics.solvers.METHODS` that solves a
        ``ConvexProblem`` (default
        :data:`~bnconvex.numerics.solvers.DEFAULT_SOLVER`).
    verbose : bool
        Progress of the solver on stderr.
    **solver_options
        ``tol``, ``max_iter``, ``time_limit`` and the solver's own options.

    Returns
    -------
    ExactFit

    Examples
    --------
    >>> import numpy as np
    >>> from bnconvex.numerics.exact import fit_exact
    >>> X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, -1.0], [3.0, 0.0]])
    >>> fit = fit_exact(X, np.array([1.0, -1.0, 0.5, 2.0]), 0.1)
    >>> fit.bound_kind, fit.relative_gap < 1e-8, fit.status
    ('global', True, 'optimal')
    """
    from bnconvex.numerics.core.certificate import certify_predictions
    from bnconvex.numerics.core.convex_program import predict
    from bnconvex.numerics.core.network import objective
    from bnconvex.numerics.solvers import DEFAULT_SOLVER, solve_convex

    prog = exact_program(
        X,
        y,
        beta,
        bn=bn,
        arrangements=arrangements,
        patterns=patterns,
        seed=seed,
        whitening=whitening,
    )
    problem = prog.problem
    check_solve_memory(problem, bn, solver)
    sol = solve_convex(
        problem, solver=solver or DEFAULT_SOLVER, verbose=verbose, **solver_options
    )
    known = sol.certificate  # the solver's: its cone norms are not solved again
    cert = certify_predictions(
        problem,
        predict(problem, sol.S_plus, sol.S_minus),
        sol.objective,
        complete=prog.complete,
        with_universal=True,
        constraint_bound=None if known is None else known.constraint_bound,
    )
    net = prog.network(sol.S_plus, sol.S_minus)
    value = float(objective(net, *check_data(X, y), prog.beta))
    return ExactFit(
        prog.whitening,
        prog.D,
        prog.complete,
        problem,
        sol,
        cert,
        net,
        value,
        prog.beta,
        prog.beta_a,
        prog.bn,
    )


@dataclasses.dataclass(frozen=True)
class NetworkGap(BoundedGap):
    r"""Result of :func:`certify_network_exact`: a network's distance to the optimum.

    Attributes
    ----------
    objective : float
        The network's training objective (its own convention and ``eps``).
    lower_bound : float
        The best lower bound on the global optimum :math:`p^*` valid for every
        BN network (kind :attr:`bound_kind`); never below the universal bound.
    bound_kind : {"global", "universal"}
        ``"global"`` with the complete arrangement, else ``"universal"``.
    pattern_lower_bound : float
        Lower bound over the pattern set ``D`` (kind ``"patterns"``: valid for
        networks whose neurons use only those patterns; equal to the global
        bound when ``complete``), never below the universal bound.
    universal_bound : float
        :math:`h_\beta(\|y_+\|) + h_\beta(\|y_-\|)`.
    optimum : float or None
        :math:`p^*` itself (the exact program's optimum, within
        ``optimum - lower_bound`` of it) when it was computed, else ``None``.
    optimum_status : str
        The exact solve's status, or why it was not run.
    D : ndarray of bool, shape (n, P)
    complete : bool
    beta_a : float
        The convention-A coefficient of the program.
    """

    objective: float
    lower_bound: float
    bound_kind: BoundKind
    pattern_lower_bound: float
    universal_bound: float
    optimum: float | None
    optimum_status: str
    D: np.ndarray
    complete: bool
    beta_a: float

    @property
    def pattern_relative_gap(self) -> float:
        """``(objective - pattern_lower_bound) / max(|objective|, tiny)``."""
        return relative_gap(self.objective - self.pattern_lower_bound, self.objective)

    @property
    def covers(self) -> str:
        """Say in one sentence which networks the two bounds cover."""
        P = self.D.shape[1]
        if self.complete:
            return (
                f"every BN network of any width: the {P} patterns are the complete "
                "arrangement"
            )
        return (
            "lower_bound (universal) covers every BN network; pattern_lower_bound "
            f"covers only networks whose neurons use the {P} sampled patterns"
        )


def certify_network_exact(
    net: Any,
    X: Any,
    y: Any,
    beta: float,
    *,
    arrangements: str | int = "auto",
    seed: int = 0,
    optimum: bool = True,
    solver: str | None = None,
    **solver_options: Any,
) -> NetworkGap:
    r"""How far a trained BN network is from the global optimum, certified.

    Parameters
    ----------
    net : BNNetwork
        Scalar output, convention ``net.convention``, any ``eps``.
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    beta : float
        Weight decay in the network's convention.
    arrangements, seed
        See :func:`choose_patterns`.
    optimum : bool
        With a complete arrangement, also solve the exact program for
        :math:`p^*` (skipped, with a reason, when its memory would not fit).
    solver, **solver_options
        As for :func:`fit_exact`.

    Returns
    -------
    NetworkGap

    Notes
    -----
    The network's own residual, scaled into the dual feasible set, bounds
    :math:`p^*` below (:func:`~bnconvex.numerics.core.certificate.certify_network`);
    far from the optimum that bound is loose, so with the complete
    arrangement the exact program is solved as well, warm-started from the
    network (:func:`image_blocks` seed the working set): its optimum brackets
    :math:`p^*` within the solver's certified gap, its dual bound replaces a
    looser one, and ``objective - optimum`` is the network's distance to the
    optimum.  :math:`p^* \le` the network's objective (for ``eps > 0`` too,
    see :func:`~bnconvex.numerics.core.network.load_network`), so the optimum
    reported is the smaller of the two.  Every bound is clipped below at the
    universal bound :math:`h_\beta(\|y_+\|)+h_\beta(\|y_-\|)`, valid for any
    network.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, -1.0], [3.0, 0.0]])
    >>> y = np.array([1.0, -1.0, 0.5, 2.0])
    >>> fit = fit_exact(X, y, 0.1)
    >>> res = certify_network_exact(fit.network, X, y, 0.1)
    >>> res.bound_kind, bool(abs(res.optimum - fit.objective) < 1e-8)
    ('global', True)
    """
    from bnconvex.numerics.core.bn import convert_beta
    from bnconvex.numerics.core.certificate import certify_network

    X, y = check_data(X, y)
    if y.ndim != 1:
        raise InputError(f"`y` must be one column (scalar output); got shape {y.shape}")
    beta = check_beta(beta)
    beta_a = convert_beta(beta, X.shape[0], source=net.convention, target="a")
    U = _whitened(X)
    D, complete = choose_patterns(U, arrangements, seed=seed)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        cert = certify_network(net, X, y, beta, D=D, complete=complete)
    if not np.isfinite(cert.objective):
        weights = (net.W, net.gamma, net.alpha, net.v)
        top = max(float(np.max(np.abs(a))) for a in weights)
        raise InputError(
            f"`net` has a non-finite objective on this data ({cert.objective}; "
            f"largest weight magnitude {top:.3g}): its values overflow float64; "
            "expected a network with a finite objective"
        )
    universal = float(cert.universal_bound)
    pattern_bound = max(float(cert.lower_bound), universal)
    p_star, status = None, "not computed: sampled patterns"
    if complete and optimum:
        if (solver or "working-set") == "working-set":
            solver_options = {"start_blocks": _warm_start(net, X, D), **solver_options}
        bracket, status = _exact_optimum(U, y, beta_a, D, solver, solver_options)
        if bracket is not None:
            pattern_bound = max(pattern_bound, bracket[0])
            p_star = min(bracket[1], float(cert.objective))
    return NetworkGap(
        objective=float(cert.objective),
        lower_bound=pattern_bound if complete else universal,
        bound_kind="global" if complete else "universal",
        pattern_lower_bound=pattern_bound,
        universal_bound=universal,
        optimum=p_star,
        optimum_status=status,
        D=D,
        complete=complete,
        beta_a=beta_a,
    )


def image_blocks(net: Any, X: np.ndarray, D: np.ndarray) -> np.ndarray:
    """Flat indices of the blocks of ``D`` that the network's convex image uses.

    The image (:func:`~bnconvex.numerics.core.reconstruct.network_to_convex`)
    puts each neuron in the block of its activation pattern, :math:`s_i` for a
    positive output weight and :math:`s'_i` otherwise; as ``start_blocks`` of
    the working-set solver these warm-start the exact solve from the network.
    A pattern that is not a column of ``D`` (only possible when ``D`` is not
    the complete arrangement) is left out.

    Returns
    -------
    ndarray of int
        ``i`` for :math:`s_i`, ``P + i`` for :math:`s'_i` (``P = D.shape[1]``).
    """
    from bnconvex.numerics.core.reconstruct import network_to_convex

    D_net, S_plus, S_minus = network_to_convex(net, X)
    column = {D[:, i].tobytes(): i for i in range(D.shape[1])}
    P, flat = D.shape[1], []
    for j in range(D_net.shape[1]):
        i = column.get(np.ascontiguousarray(D_net[:, j], dtype=bool).tobytes())
        if i is None:
            continue
        if np.any(S_plus[j]):
            flat.append(i)
        if np.any(S_minus[j]):
            flat.append(P + i)
    return np.unique(np.asarray(flat, dtype=np.intp))


def _warm_start(net: Any, X: np.ndarray, D: np.ndarray) -> np.ndarray:
    """:func:`image_blocks`, or none when the network's image cannot be formed.

    Only a hint for the first working set: a network whose hidden values
    overflow float64 (its objective was checked finite, its image may not be)
    starts the solve cold instead, never with a warning or an error.
    """
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return image_blocks(net, X, D)
    except InputError:
        return np.zeros(0, dtype=np.intp)


def _whitened(X: np.ndarray) -> np.ndarray:
    from bnconvex.numerics.core.whitening import whiten

    return np.asarray(whiten(X).U_prime, dtype=np.float64)


def _exact_optimum(
    U: np.ndarray,
    y: np.ndarray,
    beta_a: float,
    D: np.ndarray,
    solver: str | None,
    options: dict[str, Any],
) -> tuple[tuple[float, float] | None, str]:
    """``((lower, upper), status)`` of the exact program, or ``(None, why not)``."""
    from bnconvex.numerics.core.certificate import certify_predictions
    from bnconvex.numerics.core.convex_program import ConvexProblem, predict
    from bnconvex.numerics.solvers import DEFAULT_SOLVER, solve_convex

    problem = ConvexProblem(U, y, beta_a, D)
    try:
        check_solve_memory(problem, solver=solver)
    except InputError as exc:
        return None, f"not computed: {exc}"
    sol = solve_convex(problem, solver=solver or DEFAULT_SOLVER, **options)
    cert = certify_predictions(
        problem,
        predict(problem, sol.S_plus, sol.S_minus),
        sol.objective,
        complete=True,
        with_universal=False,
    )
    lower = max(float(sol.lower_bound), float(cert.lower_bound))
    if str(sol.status) != "optimal":
        return (lower, np.inf), str(sol.status)
    return (lower, float(sol.objective)), "optimal"
