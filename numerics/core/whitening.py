r"""Centred compact SVD of the data: the whitened matrix :math:`U' = [U, 1/\sqrt n]`.

BN makes a two-layer ReLU network see the data only through :math:`U'`
(paper.md §1.1 and R1): :math:`BN_{\gamma,\alpha}(Xw) = U's` with
:math:`s = [\gamma q/\|q\|; \alpha]`, :math:`q = \Sigma V^T w`.
"""

from __future__ import annotations

import dataclasses
import math

from bnconvex.numerics._array_api import Array, array_namespace, xp_capabilities
from bnconvex.numerics._validation import check_finite
from bnconvex.numerics.errors import InputError

__all__ = ["Whitening", "whiten"]


@dataclasses.dataclass(frozen=True, eq=False)
class Whitening:
    r"""Centred compact SVD :math:`CX = U\Sigma V^T` of a data matrix.

    Attributes
    ----------
    U : array, shape (n, r)
        Left singular vectors; :math:`U^T\mathbf 1 = 0`.
    sigma : array, shape (r,)
        Singular values, decreasing, all above the rank tolerance.
    Vt : array, shape (r, d)
        Right singular vectors (rows).
    mean : array, shape (d,)
        Column means of the data, to map new samples (:meth:`transform`).
    n : int
        Number of samples.
    rank : int
        :math:`r = \operatorname{rank}(CX)`.
    rtol : float
        Relative rank tolerance that was used.
    """

    U: Array
    sigma: Array
    Vt: Array
    mean: Array
    n: int
    rank: int
    rtol: float

    @property
    def U_prime(self) -> Array:
        r""":math:`U' = [U, \mathbf 1/\sqrt n]`, shape (n, r+1), orthonormal columns."""
        xp = array_namespace(self.U)
        ones = xp.full((self.n, 1), 1.0 / math.sqrt(self.n), dtype=self.U.dtype)
        return xp.concat([self.U, ones], axis=1)

    def transform(self, X_new: Array) -> Array:
        r"""Whitened coordinates :math:`(X_{new} - \bar x) V\Sigma^{-1}` of new samples.

        Parameters
        ----------
        X_new : array, shape (k, d)

        Returns
        -------
        array, shape (k, r)
            For the training data this is :math:`U` (up to rounding).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
        >>> wh = whiten(X)
        >>> bool(np.abs(wh.transform(X) - wh.U).max() < 1e-12)
        True
        """
        if X_new.ndim != 2 or X_new.shape[1] != self.Vt.shape[1]:
            raise InputError(
                f"`X_new` must have shape (k, {self.Vt.shape[1]}); "
                f"got {tuple(X_new.shape)}"
            )
        return ((X_new - self.mean) @ self.Vt.T) / self.sigma


def default_rtol(n: int, d: int) -> float:
    """Default relative rank tolerance ``max(n, d) * eps`` (float64).

    Examples
    --------
    >>> default_rtol(10, 3)  # max(n, d) * eps
    2.220446049250313e-15
    """
    return max(n, d) * 2.220446049250313e-16


@xp_capabilities()
def whiten(X: Array, *, rtol: float | None = None) -> Whitening:
    r"""Centre ``X`` and take its compact SVD.

    Parameters
    ----------
    X : array, shape (n, d)
        Data, one sample per row; ``n >= 2``.
    rtol : float, optional
        Relative rank tolerance; default ``max(n, d) * eps``.

    Returns
    -------
    Whitening

    Raises
    ------
    InputError
        ``X`` not 2-D, ``n < 2``, or ``rank(CX) = 0`` (constant data).

    Notes
    -----
    With :math:`C = I - \tfrac1n\mathbf 1\mathbf 1^T` and the SVD
    :math:`CX = \sum_k \sigma_k u_k v_k^T`, the rank is

    .. math::

        r = \#\{k : \sigma_k > \mathrm{rtol}\cdot\max(\sigma_1, \|X\|_F)\}.

    The :math:`\|X\|_F` term is the rounding floor of forming :math:`CX` by
    subtracting the mean (an error of order :math:`\varepsilon\|X\|_F`), so
    that constant data with a large mean is recognised as rank 0 and not as
    rank 1 made of rounding noise.  It coincides with ``rtol * sigma_1`` of the
    contract whenever the data are not dominated by their mean.
    Because :math:`\mathbf 1^T C = 0`, :math:`U^T\mathbf 1 = 0` and
    :math:`U'^T U' = I_{r+1}` (claim 3).  In floating point the SVD returns
    :math:`u_k` with :math:`|u_k^T\mathbf 1| \approx \varepsilon\sqrt n
    \|X\|_F/\sigma_k` (the centring error, amplified by :math:`1/\sigma_k`);
    every later identity assumes :math:`U^T\mathbf 1 = 0`, so :math:`U` is
    projected onto :math:`\mathbf 1^\perp` after the SVD
    (:func:`_orthogonal_to_ones`), which makes :math:`|U^T\mathbf 1|` a few
    :math:`n\varepsilon` whatever the conditioning.  The projection moves
    :math:`u_k\sigma_k` by :math:`O(\varepsilon\|X\|_F)`, the rounding level
    of :math:`CX` itself, and :math:`U^TU` by
    :math:`O((\varepsilon\sqrt n\|X\|_F/\sigma_r)^2)`.

    Examples
    --------
    >>> import numpy as np
    >>> w = whiten(np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]))
    >>> w.rank, w.U_prime.shape
    (1, (3, 2))
    """
    xp = array_namespace(X)
    X = _whiten_iv(xp, X)
    n, d = X.shape
    rtol = default_rtol(n, d) if rtol is None else float(rtol)
    if not (math.isfinite(rtol) and rtol >= 0):
        raise InputError(f"`rtol` must be a finite number >= 0; got {rtol!r}")
    mean = xp.mean(X, axis=0)
    U, sigma, Vt = xp.linalg.svd(X - mean, full_matrices=False)
    floor = max(float(sigma[0]), float(xp.linalg.vector_norm(X)))
    rank = int(xp.sum(xp.astype(sigma > rtol * floor, xp.int64)))
    if rank == 0:
        raise InputError("`X` has constant columns only: rank(CX) = 0")
    return Whitening(
        U=_orthogonal_to_ones(xp, U[:, :rank]),
        sigma=sigma[:rank],
        Vt=Vt[:rank, :],
        mean=mean,
        n=n,
        rank=rank,
        rtol=rtol,
    )


def _orthogonal_to_ones(xp, U: Array) -> Array:
    r"""Project the columns of ``U`` onto :math:`\mathbf 1^\perp`, twice.

    :math:`U \leftarrow U - \mathbf 1(\mathbf 1^T U)/n`; the second pass
    removes what the rounding of the first leaves ("twice is enough", Parlett
    1980, §6.9), so :math:`|U^T\mathbf 1| \le c\,n\varepsilon` by construction.
    """
    n = U.shape[0]
    for _ in range(2):
        U = U - xp.sum(U, axis=0) / n
    return U


def _whiten_iv(xp, X: Array) -> Array:
    if X.ndim != 2:
        raise InputError(
            f"`X` must be a 2-D array (n samples x d features); got ndim={X.ndim}"
        )
    if X.shape[0] < 2:
        raise InputError(f"`X` must have at least 2 rows (samples); got {X.shape[0]}")
    if X.shape[1] < 1:
        raise InputError(
            f"`X` must have at least one column; got shape {tuple(X.shape)}"
        )
    if not xp.isdtype(X.dtype, "real floating"):
        if not xp.isdtype(X.dtype, ("integral", "bool")):
            raise InputError(f"`X` must be a real numeric array; got dtype={X.dtype}")
        X = xp.astype(X, xp.float64)  # lossless for the sizes used here
    check_finite(X, "X")
    return X
