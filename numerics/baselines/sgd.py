r"""Non-convex baseline: the two-layer BN-ReLU network trained by minibatch SGD or Adam.

This is the network the convex program is compared with (issue 4, item 3): the
same architecture and objective as :mod:`bnconvex.numerics.core.network`,

.. math::

    f(X) = \sum_{j=1}^m \bigl(BN_{\gamma_j,\alpha_j}(X w_j)\bigr)_+ v_j^T,
    \qquad
    \tfrac12\|f(X) - Y\|_F^2 + \tfrac\beta2\sum_j(\gamma_j^2+\alpha_j^2+\|v_j\|^2),

trained the way practitioners train BN networks.  Array-API code throughout
(NumPy, CuPy, ``array-api-strict``); randomness only from ``seed``.

Minibatch BN is not full-batch BN
---------------------------------
The paper's BN (and the convex program) normalises with statistics of the
*whole* training set.  Minibatch training cannot: this baseline does what
PyTorch's ``BatchNorm1d`` does in ``train()`` mode, i.e. each minibatch
:math:`B` (size :math:`b`) is normalised with its own mean and biased
variance,

.. math::

    z_{ij} = \kappa\Bigl(\gamma_j \frac{h_{ij} - \mu_{B,j}}
                              {\sqrt{\sigma^2_{B,j} + \epsilon}} + \alpha_j\Bigr),
    \qquad h = X_B W,

with :math:`\kappa = 1` for the ``"std"`` convention and
:math:`\kappa = 1/\sqrt n` (:math:`n` the full training-set size, *not*
:math:`b`) for convention ``"a"``, so that with full-batch statistics the
layer is exactly :func:`bnconvex.numerics.core.bn.batch_norm` of that convention.
The minibatch objective is the full objective divided by :math:`n`, estimated
on :math:`B`: :math:`\frac1{2b}\|f(X_B) - Y_B\|^2 + \frac{\beta}{2n}
\sum_j(\gamma_j^2+\alpha_j^2+\|v_j\|^2)`.  Its gradients are therefore noisy
*and biased* estimates of the full-batch gradient (the statistics depend on
the batch).  For evaluation the trained network uses **full-batch training
statistics** (:func:`full_batch_statistics`, computed exactly in one pass
after training, instead of PyTorch's running averages); on the training set
this equals :func:`bnconvex.numerics.core.network.forward`, whose objective the
result reports.  Accuracy-versus-time curves recorded *during* training use
running averages (momentum 0.1, as PyTorch) so that recording them costs
almost nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Literal

import numpy as np
from bnconvex.numerics._array_api import (
    Array,
    array_namespace,
    to_numpy,
    xp_capabilities,
)
from bnconvex.numerics._validation import (
    check_beta,
    check_positive_int,
    check_positive_real,
)
from bnconvex.numerics.core.bn import Convention, check_convention, convention_scale
from bnconvex.numerics.core.network import BNNetwork
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.status import SolverStatus

__all__ = [
    "BNStatistics",
    "SGDResult",
    "accuracy",
    "full_batch_statistics",
    "init_network",
    "minibatch_objective_and_gradient",
    "predict",
    "statistics_to_numpy",
    "train_sgd",
]

Optimizer = Literal["sgd", "adam"]
Loss = Literal["squared", "cross_entropy"]
_PARAMS = ("W", "gamma", "alpha", "v")


@dataclasses.dataclass(frozen=True)
class BNStatistics:
    r"""Per-neuron statistics of the pre-activations ``h = X W`` used at test time.

    Attributes
    ----------
    mean, var : Array, shape (m,)
        Mean and biased variance.
    n : int
        Number of training samples they summarise (sets :math:`\kappa` of
        convention ``"a"``).
    """

    mean: Array
    var: Array
    n: int


@dataclasses.dataclass
class SGDResult:
    """Outcome of :func:`train_sgd`.

    Attributes
    ----------
    net : BNNetwork
        Trained parameters (``eps`` as used in training).
    statistics : BNStatistics
        Exact full-batch training statistics of the final network.
    objective : float
        Full-batch training objective (:func:`bnconvex.numerics.core.network`
        convention, squared loss on the given targets).
    status : SolverStatus
        ``MAX_ITERATIONS`` (all epochs done) or ``TIME_LIMIT``.
    epochs, steps : int or float, int
        Completed epochs (fractional when stopped mid-epoch) and SGD steps.
    seconds : float
        Training wall time, excluding the recording of curves.
    history : dict of numpy.ndarray
        Per evaluation: ``epoch``, ``seconds`` (training time so far),
        ``minibatch_objective`` (mean over the steps since the last record),
        and, when test data were given, ``test_accuracy`` (running-average
        statistics).
    settings : dict
        Every hyper-parameter and the seed (JSON-serialisable).
    """

    net: BNNetwork
    statistics: BNStatistics
    objective: float
    status: SolverStatus
    epochs: float
    steps: int
    seconds: float
    history: dict[str, np.ndarray]
    settings: dict[str, Any]


# --------------------------------------------------------------------------
# forward / backward on one minibatch
# --------------------------------------------------------------------------
def _scale(convention: str, n_train: int) -> float:
    """BN scale relative to PyTorch's: ``convention_scale(n) / sqrt(n)``."""
    return convention_scale(n_train, convention) / math.sqrt(n_train)


def _relu(xp: ModuleType, Z: Array) -> Array:
    return xp.maximum(Z, xp.zeros_like(Z))


def _data_loss(xp: ModuleType, F: Array, Y: Array, loss: str) -> tuple[Array, Array]:
    """Return the summed loss and its gradient with respect to the scores ``F``."""
    if loss == "squared":
        R = F - Y
        return 0.5 * xp.sum(R * R), R
    shifted = F - xp.max(F, axis=1, keepdims=True)
    logp = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    # d/dF of -sum(Y log softmax F) is softmax(F) * rowsum(Y) - Y (= P - Y for
    # one-hot or probability rows)
    return -xp.sum(Y * logp), xp.exp(logp) * xp.sum(Y, axis=1, keepdims=True) - Y


def _penalty_sum(xp: ModuleType, params: tuple[Array, ...]) -> Array:
    _, gamma, alpha, v = params
    return xp.sum(gamma * gamma) + xp.sum(alpha * alpha) + xp.sum(v * v)


@xp_capabilities()
def minibatch_objective_and_gradient(
    params: tuple[Array, Array, Array, Array],
    X: Array,
    Y: Array,
    beta: float,
    *,
    n_train: int,
    convention: Convention = "a",
    eps: float = 0.0,
    loss: Loss = "squared",
) -> tuple[float, tuple[Array, Array, Array, Array], tuple[Array, Array]]:
    r"""Minibatch objective (full objective / n) and its gradient, minibatch BN.

    Parameters
    ----------
    params : (W, gamma, alpha, v)
        ``W`` (d, m), ``gamma``/``alpha`` (m,), ``v`` (m, K).
    X : array, shape (b, d)
        The minibatch (``b >= 2``).
    Y : array, shape (b, K)
        Targets (one-hot for classification).
    beta : float
        Weight decay of the full objective (network's convention).
    n_train : int
        Size of the full training set.
    convention, eps, loss
        See the module docstring; ``loss="cross_entropy"`` replaces the
        squared loss by softmax cross-entropy.

    Returns
    -------
    value : float
        :math:`\frac1b\ell(f(X_B), Y_B) + \frac{\beta}{2n}\sum_j(\gamma_j^2 +
        \alpha_j^2 + \|v_j\|^2)`.
    grad : tuple of arrays
        Gradient in the layout of ``params``.
    batch_stats : (mean, var)
        The minibatch statistics (for running averages).

    Notes
    -----
    With :math:`\hat z = (h - \mu_B)/s`, :math:`s = \sqrt{\sigma_B^2 +
    \epsilon}`, :math:`z = \kappa(\gamma\hat z + \alpha)`, :math:`a = z_+`,
    :math:`F = a v`, :math:`G = \partial\ell/\partial F / b` and
    :math:`\Delta = (G v^T)\odot 1[z > 0]`:
    :math:`\partial_v = a^T G`, :math:`\partial_\gamma = \kappa\sum_i
    \Delta_{ij}\hat z_{ij}`, :math:`\partial_\alpha = \kappa\sum_i
    \Delta_{ij}`, and with :math:`g = \kappa\gamma\Delta` the BN backward pass
    :math:`\partial_h = (g - \bar g - \hat z\,\overline{g\hat z})/s`
    (bars: minibatch means), :math:`\partial_W = X^T\partial_h`; plus the
    weight-decay terms :math:`\frac\beta n(\gamma, \alpha, v)`.  With the
    whole training set as the batch the value is ``objective / n`` and the
    gradient is :func:`~bnconvex.numerics.core.network.objective_and_gradient`
    divided by ``n``.
    """
    xp = array_namespace(X, Y, *params)
    W, gamma, alpha, v = params
    b = X.shape[0]
    kappa, decay = _scale(convention, n_train), beta / n_train
    H = X @ W
    mean = xp.mean(H, axis=0)
    Hc = H - mean
    var = xp.mean(Hc * Hc, axis=0)
    s = xp.sqrt(var + eps)
    Zh = Hc / s
    Z = kappa * (gamma * Zh + alpha)
    A = _relu(xp, Z)
    total, dF = _data_loss(xp, A @ v, Y, loss)
    dF = dF / b
    Delta = (dF @ v.T) * xp.astype(Z > 0, X.dtype)
    g = (kappa * gamma) * Delta
    dH = (g - xp.mean(g, axis=0) - Zh * xp.mean(g * Zh, axis=0)) / s
    grad = (
        X.T @ dH,
        kappa * xp.sum(Delta * Zh, axis=0) + decay * gamma,
        kappa * xp.sum(Delta, axis=0) + decay * alpha,
        A.T @ dF + decay * v,
    )
    value = float(total) / b + 0.5 * decay * float(_penalty_sum(xp, params))
    return value, grad, (mean, var)


# --------------------------------------------------------------------------
# evaluation with fixed statistics
# --------------------------------------------------------------------------
def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(n, start + size)


@xp_capabilities()
def full_batch_statistics(
    net: BNNetwork, X: Array, *, chunk: int = 8192
) -> BNStatistics:
    r"""Exact mean and biased variance of ``X @ net.W`` over all rows of ``X``.

    Two passes over row chunks (mean, then centred sum of squares), so memory
    stays at ``chunk x m`` however large ``n`` is.
    """
    xp = array_namespace(X, net.W)
    n = X.shape[0]
    total = xp.zeros(net.m, dtype=X.dtype, device=_device(X))
    for r0, r1 in _chunks(n, chunk):
        total = total + xp.sum(X[r0:r1, :] @ net.W, axis=0)
    mean = total / n
    sq = xp.zeros_like(total)
    for r0, r1 in _chunks(n, chunk):
        Hc = X[r0:r1, :] @ net.W - mean
        sq = sq + xp.sum(Hc * Hc, axis=0)
    return BNStatistics(mean=mean, var=sq / n, n=int(n))


def _device(x: Array) -> Any:
    from array_api_compat import device

    return device(x)


@xp_capabilities()
def predict(
    net: BNNetwork, statistics: BNStatistics, X: Array, *, chunk: int = 8192
) -> Array:
    r"""Scores ``f(X)`` with BN using fixed (training) statistics.

    .. math::

        f(x) = \sum_j \Bigl(\kappa\bigl(\gamma_j
        \tfrac{x^T w_j - \mu_j}{\sqrt{\sigma_j^2 + \epsilon}}
        + \alpha_j\bigr)\Bigr)_+ v_j,

    :math:`\kappa` as in the module docstring with ``n = statistics.n``.  With
    the full-batch statistics of the training set and ``X`` that set, this is
    :func:`bnconvex.numerics.core.network.forward`.
    """
    xp = array_namespace(X, net.W)
    kappa = _scale(net.convention, statistics.n)
    s = xp.sqrt(statistics.var + net.eps)
    parts = []
    for r0, r1 in _chunks(X.shape[0], chunk):
        Z = kappa * (
            net.gamma * ((X[r0:r1, :] @ net.W - statistics.mean) / s) + net.alpha
        )
        parts.append(_relu(xp, Z) @ net.v)
    return xp.concat(parts, axis=0)


def accuracy(scores: Array, labels: Array) -> float:
    """Fraction of rows whose arg-max score is the label (scores (n, K), K >= 2).

    Examples
    --------
    >>> import numpy as np
    >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]]), np.array([0, 1, 1]))
    0.6666666666666666
    """
    xp = array_namespace(scores)
    if scores.ndim != 2 or tuple(np.shape(labels)) != (scores.shape[0],):
        raise InputError(
            "`scores` must be (n, K) and `labels` (n,); got shapes "
            f"{tuple(scores.shape)} and {tuple(np.shape(labels))}"
        )
    hits = xp.argmax(scores, axis=1) == xp.astype(
        xp.asarray(labels, device=_device(scores)), xp.int64
    )
    return float(xp.mean(xp.astype(hits, xp.float64)))


# --------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------
def init_network(
    d: int,
    m: int,
    K: int,
    *,
    seed: int | np.random.Generator,
    xp: ModuleType | None = None,
    dtype: Any = None,
    device: Any = None,
    convention: Convention = "a",
    eps: float = 0.0,
) -> BNNetwork:
    r"""PyTorch-like initialisation: ``W ~ N(0, 1/d)``, ``gamma = 1``, ``alpha = 0``,
    ``v ~ U(-1/sqrt(m), 1/sqrt(m))`` (``nn.Linear``'s default), ``v`` of shape (m, K).
    """  # noqa: D205
    d, m, K = (check_positive_int(v, k) for v, k in ((d, "d"), (m, "m"), (K, "K")))
    rng = np.random.default_rng(seed)
    xp = xp if xp is not None else array_namespace(np.empty(0))
    dtype = dtype if dtype is not None else xp.float64

    def to(a: np.ndarray) -> Array:
        return xp.asarray(a, dtype=dtype, device=device)

    bound = 1.0 / math.sqrt(m)
    return BNNetwork(
        W=to(rng.standard_normal((d, m)) / math.sqrt(d)),
        gamma=to(np.ones(m)),
        alpha=to(np.zeros(m)),
        v=to(rng.uniform(-bound, bound, size=(m, K))),
        convention=convention,
        eps=eps,
    )


class _Optimizer:
    """Momentum SGD (PyTorch's form: ``buf = mu*buf + g``, ``p -= lr*buf``) or Adam."""

    def __init__(
        self,
        params: list[Array],
        kind: str,
        lr: float,
        momentum: float,
        betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
    ) -> None:
        self.kind, self.lr, self.momentum = kind, lr, momentum
        self.betas, self.adam_eps, self.t = betas, adam_eps, 0
        self.m1 = [p * 0 for p in params]
        self.m2 = [p * 0 for p in params] if kind == "adam" else []

    def step(
        self, params: list[Array], grads: tuple[Array, ...], xp: ModuleType
    ) -> list[Array]:
        self.t += 1
        if self.kind == "sgd":
            self.m1 = [
                self.momentum * b + g for b, g in zip(self.m1, grads, strict=True)
            ]
            return [p - self.lr * b for p, b in zip(params, self.m1, strict=True)]
        b1, b2 = self.betas
        self.m1 = [b1 * a + (1 - b1) * g for a, g in zip(self.m1, grads, strict=True)]
        self.m2 = [
            b2 * a + (1 - b2) * g * g for a, g in zip(self.m2, grads, strict=True)
        ]
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        return [
            p - self.lr * (a / c1) / (xp.sqrt(s / c2) + self.adam_eps)
            for p, a, s in zip(params, self.m1, self.m2, strict=True)
        ]


def _train_iv(
    X: Array,
    Y: Array,
    beta: float,
    m: int,
    batch_size: int,
    optimizer: str,
    loss: str,
    convention: str,
    lr: float,
) -> tuple[float, int, int]:
    beta = check_beta(beta)
    m = check_positive_int(m, "m")
    batch_size = check_positive_int(batch_size, "batch_size")
    check_convention(convention)
    if X.ndim != 2 or X.shape[0] < 2:
        raise InputError(
            f"`X` must be a 2-D array with at least 2 rows; got shape {tuple(X.shape)}"
        )
    if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
        raise InputError(
            f"`Y` must have shape ({X.shape[0]}, K) (one-hot targets); "
            f"got {tuple(Y.shape)}"
        )
    if batch_size < 2:
        raise InputError(
            f"`batch_size` must be >= 2 (BN needs two samples); got {batch_size}"
        )
    if optimizer not in ("sgd", "adam"):
        raise InputError(f"`optimizer` must be 'sgd' or 'adam'; got {optimizer!r}")
    if loss not in ("squared", "cross_entropy"):
        raise InputError(f"`loss` must be 'squared' or 'cross_entropy'; got {loss!r}")
    check_positive_real(lr, "lr")
    return beta, m, min(batch_size, X.shape[0])


@dataclasses.dataclass
class _Recorder:
    """Collects the accuracy-versus-time curve; its own time is not training time."""

    evaluate: Callable[[BNNetwork, BNStatistics], float] | None
    rows: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def record(
        self,
        epoch: float,
        seconds: float,
        net: BNNetwork,
        stats: BNStatistics,
        losses: Sequence[float] = (),
    ) -> None:
        """Append one curve point (``losses``: minibatch objectives since the last)."""
        row = {
            "epoch": epoch,
            "seconds": seconds,
            "minibatch_objective": float(np.mean(losses)) if losses else math.nan,
        }
        if self.evaluate is not None:
            row["test_accuracy"] = self.evaluate(net, stats)
        for key, value in row.items():
            self.rows.setdefault(key, []).append(value)

    def history(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.rows.items()}


@dataclasses.dataclass
class _Loop:
    """Mutable state of the training loop (parameters, clocks, stop reason)."""

    params: list[Array]
    opt: _Optimizer
    running: BNStatistics
    record_every: float
    step: int = 0
    seconds: float = 0.0
    status: SolverStatus = SolverStatus.MAX_ITERATIONS
    stopped: bool = False
    next_record: float = 0.0
    losses: list[float] = dataclasses.field(default_factory=list)

    def advance(
        self,
        value: float,
        grads: tuple[Array, ...],
        batch_stats: tuple[Array, Array],
        xp: ModuleType,
        dt: float,
    ) -> None:
        """One optimiser step; running statistics with momentum 0.1 (PyTorch)."""
        self.params = self.opt.step(self.params, grads, xp)
        mean, var = batch_stats
        r = self.running
        self.running = BNStatistics(
            0.9 * r.mean + 0.1 * mean, 0.9 * r.var + 0.1 * var, r.n
        )
        self.losses.append(value)
        self.step += 1
        self.seconds += dt

    def check_stop(self, value: float, time_limit: float | None) -> None:
        """Stop on a non-finite objective (diverged) or at the time limit."""
        if not math.isfinite(value):
            self.status, self.stopped = SolverStatus.INACCURATE, True
        elif time_limit is not None and self.seconds >= time_limit:
            self.status, self.stopped = SolverStatus.TIME_LIMIT, True

    def due(self, done: float) -> bool:
        """Whether a curve point is due after ``done`` epochs."""
        if done + 1e-12 < self.next_record + self.record_every:
            return False
        self.next_record = done
        return True

    def take_losses(self) -> list[float]:
        """Minibatch objectives since the last curve point (then forget them)."""
        out, self.losses = self.losses, []
        return out


def train_sgd(
    X: Array,
    Y: Array,
    beta: float,
    m: int,
    *,
    seed: int,
    convention: Convention = "a",
    optimizer: Optimizer = "sgd",
    lr: float = 0.05,
    momentum: float = 0.9,
    batch_size: int = 128,
    epochs: int = 10,
    time_limit: float | None = None,
    loss: Loss = "squared",
    eps: float = 1e-5,
    X_test: Array | None = None,
    y_test: Array | None = None,
    record_every: float = 1.0,
    init: BNNetwork | None = None,
    progress: Callable[[str], None] | None = None,
) -> SGDResult:
    r"""Train the two-layer BN network with minibatch SGD (momentum) or Adam.

    Parameters
    ----------
    X : array, shape (n, d)
        Training features (NumPy, CuPy or any array-API array).
    Y : array, shape (n, K)
        Targets, one-hot for classification.
    beta : float
        Weight decay of the full objective, in the network's ``convention``
        (convert with :func:`bnconvex.numerics.core.bn.convert_beta`).
    m : int
        Width (number of hidden neurons).
    seed : int
        Seeds the initialisation and the minibatch order.
    convention : {"a", "std"}
        BN convention (module docstring).
    optimizer : {"sgd", "adam"}
    lr, momentum : float
        Step size (of the objective divided by ``n``) and heavy-ball momentum
        (SGD only; Adam uses betas (0.9, 0.999)).
    batch_size : int
        Minibatch size (>= 2).  An epoch is ``max(1, n // batch_size)`` full
        batches of a fresh permutation; the ``n mod batch_size`` samples left
        over are not used in that epoch (a different random subset each
        epoch; 80 of CIFAR-10's 50,000 images at batch 128).
    epochs : int
        Epoch budget.
    time_limit : float, optional
        Wall-time budget in seconds for training (recording excluded); the
        run stops after the step that crosses it.
    loss : {"squared", "cross_entropy"}
        ``"squared"`` is the paper's (and the convex model's) loss.
    eps : float
        BN variance offset (PyTorch's default 1e-5; the exact theory has 0).
    X_test, y_test : array, optional
        If given, test accuracy (running-average statistics) is recorded every
        ``record_every`` epochs.
    record_every : float
        Epochs between curve points (also one point at the start and the end).
    init : BNNetwork, optional
        Start here instead of :func:`init_network`.
    progress : callable, optional
        Called with one line per record (e.g. ``print`` to stderr).

    Returns
    -------
    SGDResult

    Notes
    -----
    See the module docstring for the minibatch-BN versus full-batch-BN issue.

    Examples
    --------
    >>> from bnconvex.numerics.dataio.data import make_classification
    >>> X, Y = make_classification(40, 3, 2, seed=0)
    >>> res = train_sgd(X, Y, 1e-3, 8, seed=0, epochs=20, batch_size=20)
    >>> res.epochs, res.steps, sorted(res.history)
    (20.0, 40, ['epoch', 'minibatch_objective', 'seconds'])
    >>> accuracy(predict(res.net, res.statistics, X), Y.argmax(axis=1)) > 0.7
    True
    """
    xp = array_namespace(X, Y)
    beta, m, batch_size = _train_iv(
        X, Y, beta, m, batch_size, optimizer, loss, convention, lr
    )
    epochs = check_positive_int(epochs, "epochs")
    n, K = X.shape[0], Y.shape[1]
    rng = np.random.default_rng(seed)
    net = (
        init
        if init is not None
        else init_network(
            X.shape[1],
            m,
            K,
            seed=rng,
            xp=xp,
            dtype=X.dtype,
            device=_device(X),
            convention=convention,
            eps=eps,
        )
    )
    params = [getattr(net, k) for k in _PARAMS]
    opt = _Optimizer(params, optimizer, lr, momentum)
    running = BNStatistics(mean=params[0][0, :] * 0, var=params[0][0, :] * 0 + 1, n=n)
    recorder = _Recorder(
        _make_evaluator(X_test, y_test) if X_test is not None else None
    )
    recorder.record(0.0, 0.0, net, full_batch_statistics(net, X))
    loop = _Loop(params, opt, running, record_every)
    step_fn = functools.partial(
        minibatch_objective_and_gradient,
        beta=beta,
        n_train=n,
        convention=convention,
        eps=eps,
        loss=loss,
    )
    done = _run_epochs(
        loop,
        step_fn,
        X,
        Y,
        epochs,
        batch_size,
        time_limit,
        rng,
        net,
        recorder,
        progress,
    )
    net = net.replace(**dict(zip(_PARAMS, loop.params, strict=True)))
    status, step, seconds = loop.status, loop.step, loop.seconds
    return _finish(
        net,
        X,
        Y,
        beta,
        loss,
        status,
        done,
        step,
        seconds,
        recorder,
        dict(
            m=m,
            beta=beta,
            convention=convention,
            optimizer=optimizer,
            lr=lr,
            momentum=momentum,
            batch_size=batch_size,
            epochs=epochs,
            time_limit=time_limit,
            loss=loss,
            eps=eps,
            seed=seed,
            init="pytorch-like" if init is None else "given",
        ),
    )


def _run_epochs(
    loop: _Loop,
    step_fn: Callable[..., Any],
    X: Array,
    Y: Array,
    epochs: int,
    batch_size: int,
    time_limit: float | None,
    rng: np.random.Generator,
    net: BNNetwork,
    recorder: _Recorder,
    progress: Callable[[str], None] | None,
) -> float:
    """Shuffled minibatch epochs until the budget; return the epochs done."""
    xp = array_namespace(X, Y)
    n = X.shape[0]
    per_epoch = max(1, n // batch_size)
    done = 0.0
    for epoch in range(epochs):
        perm = xp.asarray(rng.permutation(n), device=_device(X))
        for k in range(per_epoch):
            t0 = time.perf_counter()
            idx = perm[k * batch_size : (k + 1) * batch_size]
            value, grads, batch_stats = step_fn(
                tuple(loop.params), xp.take(X, idx, axis=0), xp.take(Y, idx, axis=0)
            )
            loop.advance(value, grads, batch_stats, xp, time.perf_counter() - t0)
            loop.check_stop(value, time_limit)
            done = epoch + (k + 1) / per_epoch
            if loop.due(done) or loop.stopped or done == epochs:
                net = net.replace(**dict(zip(_PARAMS, loop.params, strict=True)))
                recorder.record(
                    done, loop.seconds, net, loop.running, loop.take_losses()
                )
                if progress is not None:
                    _report(progress, recorder.rows, loop.seconds)
            if loop.stopped:
                return done
    return done


def _make_evaluator(
    X_test: Array, y_test: Array | None
) -> Callable[[BNNetwork, BNStatistics], float]:
    if y_test is None:
        raise InputError("`y_test` must be given together with `X_test`")

    def evaluate(net: BNNetwork, stats: BNStatistics) -> float:
        return accuracy(predict(net, stats, X_test), y_test)

    return evaluate


def _report(
    progress: Callable[[str], None], rows: dict[str, list[float]], seconds: float
) -> None:
    acc = rows.get("test_accuracy", [math.nan])[-1]
    progress(
        f"sgd: epoch {rows['epoch'][-1]:.2f}  {seconds:.1f}s  "
        f"minibatch objective/n {rows['minibatch_objective'][-1]:.5g}  "
        f"test acc {acc:.4f}"
    )


def _finish(
    net: BNNetwork,
    X: Array,
    Y: Array,
    beta: float,
    loss: str,
    status: SolverStatus,
    epochs: float,
    steps: int,
    seconds: float,
    recorder: _Recorder,
    settings: dict[str, Any],
) -> SGDResult:
    xp = array_namespace(X, Y)
    stats = full_batch_statistics(net, X)
    total, _ = _data_loss(xp, predict(net, stats, X), Y, loss)
    objective = float(total) + 0.5 * beta * float(
        _penalty_sum(xp, tuple(getattr(net, k) for k in _PARAMS))
    )
    return SGDResult(
        net=net,
        statistics=stats,
        objective=objective,
        status=status,
        epochs=float(epochs),
        steps=steps,
        seconds=seconds,
        history=recorder.history(),
        settings=settings,
    )


def statistics_to_numpy(stats: BNStatistics) -> dict[str, np.ndarray]:
    """Host copies of the statistics (for saving next to the network)."""
    return {
        "bn_mean": to_numpy(stats.mean),
        "bn_var": to_numpy(stats.var),
        "bn_n": np.asarray(stats.n),
    }
