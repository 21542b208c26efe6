"""Shared SymPy symbols (with assumptions) and small constructors.

Every theory module takes its scalar symbols from here so that the same
assumptions (``real``, ``positive``) are used throughout, and builds explicit
vectors and matrices of symbolic entries with :func:`vector` and
:func:`matrix`.  The BN operation itself is written once here, in both
conventions, on an explicit symbolic pre-activation vector.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

__all__ = [
    "INDICES",
    "X_",
    "K",
    "alpha",
    "b_",
    "beta",
    "bn_a",
    "bn_a_entry",
    "bn_std",
    "bn_std_entry",
    "c",
    "cayley3",
    "centering",
    "check_size",
    "d",
    "eta",
    "gamma",
    "h_",
    "i",
    "in_range",
    "j",
    "k",
    "l",
    "lam",
    "m",
    "matrix",
    "mean_generic",
    "n",
    "norm",
    "ones",
    "q_",
    "r",
    "relu",
    "rotation2",
    "t",
    "v",
    "vector",
    "w_",
    "z",
]

#: BN scale and shift, output weight, scalar dual variable, scalar prediction.
gamma, alpha, v, lam, z = sp.symbols("gamma alpha v lambda z", real=True)
#: weight-decay coefficient, a positive rescaling factor, a GD step size.
beta, c, eta = sp.symbols("beta c eta", positive=True)
#: a non-negative scalar (a norm).
t = sp.Symbol("t", nonnegative=True)
#: the generic batch size and the generic number of features.
n = sp.Symbol("n", positive=True, integer=True)
d = sp.Symbol("d", positive=True, integer=True)
#: the generic rank (length of whitened coordinates q).
r = sp.Symbol("r", positive=True, integer=True)
#: the generic number of neurons (output weights v_1..v_m) and of classes.
m = sp.Symbol("m", positive=True, integer=True)
K = sp.Symbol("K", positive=True, integer=True)
#: summation indices of generic-size statements; i, j, k range over 1..n, l over 1..d.
i, j, k, l = sp.symbols("i j k l", positive=True, integer=True)
INDICES: tuple[sp.Symbol, ...] = (i, j, k, l)
#: generic-length vectors (pre-activation, weights, shift) and the data matrix.
h_, w_, b_, q_ = (sp.IndexedBase(name, real=True) for name in ("h", "w", "b", "q"))
X_ = sp.IndexedBase("x", real=True)


def in_range(expr: sp.Expr) -> sp.Expr:
    """Evaluate sums and use that every index of :data:`INDICES` lies in ``1..n``.

    ``Sum(...).doit()`` returns ``Piecewise`` branches guarded by ``i <= n``
    or ``n >= i`` (``n``, ``d``, ``r``, ``m`` or ``K``); such a guard says that
    the free index ``i`` is a valid index of the vector it subscripts, which is
    the convention of every generic statement here, so it is replaced by
    ``True``.
    """
    done = sp.sympify(expr).doit()
    sizes = (n, d, r, m, K)
    guards = {
        rel: sp.true
        for rel in done.atoms(sp.core.relational.Relational)
        if (isinstance(rel, sp.Le) and rel.lhs in INDICES and rel.rhs in sizes)
        or (isinstance(rel, sp.Ge) and rel.rhs in INDICES and rel.lhs in sizes)
    }
    return sp.piecewise_fold(done.xreplace(guards)) if guards else done


def check_size(name: str, value: object, allowed: range | tuple[int, ...]) -> int:
    """Validate an explicit size argument of a derivation factory.

    Raises
    ------
    ValueError
        Naming the argument and its value when ``value`` is not an ``int`` in
        ``allowed``.  (``theory`` may not import ``numerics``, so this is the
        plain ``ValueError`` that ``numerics.errors.InputError`` subclasses.)

    Parameters
    ----------
    name : str
        Argument name used in the message.
    value : object
        The value given.
    allowed : range or tuple of int
        Admissible values.

    Returns
    -------
    int
        ``value``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ValueError(f"`{name}` must be an integer in {allowed!r}; got {value!r}")
    return value


def vector(name: str, size: int, **assumptions: bool) -> sp.Matrix:
    """Column vector ``[name_1, ..., name_size]`` of fresh symbols.

    Parameters
    ----------
    name : str
        Base name of the entries.
    size : int
        Number of entries (at least 1).
    **assumptions : bool
        SymPy assumptions of every entry; ``real=True`` when none is given.

    Returns
    -------
    sympy.Matrix
        Shape ``(size, 1)``.
    """
    check_size("size", size, range(1, 65))
    assumptions = assumptions or {"real": True}
    return sp.Matrix([sp.Symbol(f"{name}_{i + 1}", **assumptions) for i in range(size)])


def matrix(name: str, rows: int, cols: int, **assumptions: bool) -> sp.Matrix:
    """Matrix of fresh symbols ``name_{ij}`` (1-based), real unless told otherwise."""
    assumptions = assumptions or {"real": True}
    return sp.Matrix(
        rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", **assumptions)
    )


def ones(size: int) -> sp.Matrix:
    """Return the all-ones column vector of length ``size``."""
    return sp.ones(size, 1)


def centering(size: int) -> sp.Matrix:
    r"""Return the centring projector :math:`C = I_n - \tfrac1n\mathbf 1\mathbf 1^T`."""
    return sp.eye(size) - sp.ones(size, size) / size


def norm(vec: sp.Matrix) -> sp.Expr:
    r"""Return the Euclidean norm :math:`\sqrt{\sum_i x_i^2}` of a real column."""
    return sp.sqrt(sum((e**2 for e in vec), sp.S.Zero))


def relu(expr: sp.Expr) -> sp.Expr:
    r"""ReLU written as :math:`(x + |x|)/2`, which SymPy manipulates algebraically."""
    return (expr + sp.Abs(expr)) / 2


def bn_a(h: sp.Matrix, scale: sp.Expr = gamma, shift: sp.Expr = alpha) -> sp.Matrix:
    r"""Convention-A batch normalisation of one pre-activation column.

    Parameters
    ----------
    h : sympy.Matrix, shape (n, 1)
        Pre-activation :math:`h = Xw` with real entries.
    scale, shift : sympy.Expr
        :math:`\gamma` and :math:`\alpha`.

    Returns
    -------
    sympy.Matrix
        :math:`\gamma\, Ch/\|Ch\|_2 + \alpha\,\mathbf 1/\sqrt n`.

    Notes
    -----
    Undefined when :math:`Ch = 0` (the norm vanishes); callers choose
    instances with a non-constant ``h``.
    """
    size = h.shape[0]
    ch = centering(size) * h
    return scale * ch / norm(ch) + shift / sp.sqrt(size) * ones(size)


def bn_std(h: sp.Matrix, scale: sp.Expr = gamma, shift: sp.Expr = alpha) -> sp.Matrix:
    r"""Batch-normalise one column, standard convention (batch std, biased, no eps).

    Returns
    -------
    sympy.Matrix
        :math:`\gamma (h - \bar h \mathbf 1)/\operatorname{std}(h) + \alpha\mathbf 1`,
        :math:`\operatorname{std}(h) = \sqrt{\tfrac1n \sum_i (h_i - \bar h)^2}`.
    """
    size = h.shape[0]
    mean = sum(h, sp.S.Zero) / size
    dev = h - mean * ones(size)
    std = sp.sqrt(sum((e**2 for e in dev), sp.S.Zero) / size)
    return scale * dev / std + shift * ones(size)


def rotation2(tau: sp.Expr) -> sp.Matrix:
    r"""Return a rational 2x2 rotation, exactly orthogonal for every real tau.

    :math:`\frac{1}{1+\tau^2}\begin{bmatrix}1-\tau^2 & -2\tau\\
    2\tau & 1-\tau^2\end{bmatrix}`.

    Parameters
    ----------
    tau : sympy.Expr
        Real parameter.

    Returns
    -------
    sympy.Matrix
        2 x 2, exactly orthogonal.
    """
    den = 1 + tau**2
    return sp.Matrix([[1 - tau**2, -2 * tau], [2 * tau, 1 - tau**2]]) / den


def cayley3(p: sp.Expr, q: sp.Expr, r: sp.Expr) -> sp.Matrix:
    r"""Rational 3x3 orthogonal matrix :math:`(I - A)(I + A)^{-1}`, A skew-symmetric.

    Every entry is a rational function of ``p, q, r``, so orthogonality holds
    exactly and survives substitution of rationals.

    Parameters
    ----------
    p, q, r : sympy.Expr
        Entries of the skew-symmetric ``A``.

    Returns
    -------
    sympy.Matrix
        3 x 3, exactly orthogonal.
    """
    skew = sp.Matrix([[0, -r, q], [r, 0, -p], [-q, p, 0]])
    eye = sp.eye(3)
    return ((eye - skew) * (eye + skew).adjugate() / (eye + skew).det()).applyfunc(
        sp.cancel
    )


def mean_generic(entry: Callable[[sp.Expr], sp.Expr]) -> sp.Expr:
    r"""Return :math:`\bar h = \tfrac1n\sum_{k=1}^n h_k` (generic length)."""
    return sp.Sum(entry(k), (k, 1, n)) / n


def bn_a_entry(
    entry: Callable[[sp.Expr], sp.Expr], scale: sp.Expr = gamma, shift: sp.Expr = alpha
) -> sp.Expr:
    r"""Return entry ``i`` of convention-A BN of a generic-length vector (any ``n``).

    :math:`\gamma (h_i-\bar h)/\sqrt{\sum_j (h_j-\bar h)^2} + \alpha/\sqrt n`,
    with ``entry(q)`` the ``q``-th component of ``h``.

    Parameters
    ----------
    entry : callable
        ``entry(q)`` is the ``q``-th component of ``h`` (e.g. ``h_[q]``).
    scale, shift : sympy.Expr
        :math:`\gamma`, :math:`\alpha`.

    Returns
    -------
    sympy.Expr
    """
    centred_sq = sp.Sum((entry(j) - mean_generic(entry)) ** 2, (j, 1, n))
    return scale * (entry(i) - mean_generic(entry)) / sp.sqrt(
        centred_sq
    ) + shift / sp.sqrt(n)


def bn_std_entry(
    entry: Callable[[sp.Expr], sp.Expr], scale: sp.Expr = gamma, shift: sp.Expr = alpha
) -> sp.Expr:
    r"""Return entry ``i`` of standard BN of a generic-length vector (any ``n``).

    Parameters
    ----------
    entry : callable
        ``entry(q)`` is the ``q``-th component of ``h``.
    scale, shift : sympy.Expr
        :math:`\gamma`, :math:`\alpha`.

    Returns
    -------
    sympy.Expr
    """
    var = sp.Sum((entry(j) - mean_generic(entry)) ** 2, (j, 1, n)) / n
    return scale * (entry(i) - mean_generic(entry)) / sp.sqrt(var) + shift
