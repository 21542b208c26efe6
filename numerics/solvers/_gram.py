r"""The Gram matrices of the pattern blocks, shared by programs on the same data.

A restricted program over the blocks :math:`(\sigma_b, i_b)` has
:math:`J = [\sigma_b D_{i_b} U]_b` and

.. math::

    (J^TJ)_{bb'} = \sigma_b\sigma_{b'}\, G_{i_b i_{b'}}, \qquad
    G_{ij} = U^T D_i D_j U \in \mathbb R^{m \times m},

which depends on the data and the patterns only.  The per-class programs of a
full-scale fit (:mod:`bnconvex.numerics.fullscale.classwise`) share ``U`` and
``D``, and their working sets end on much the same patterns, so
:class:`PatternGram` computes :math:`G` once for each pattern any of them uses
and every later program reads its :math:`J^TJ` off it: for CIFAR-10 at 33
columns and 128 patterns, :math:`J^TJ` of a final working set (about 130
blocks) took some 25 s of a class's 200 s.
"""

from __future__ import annotations

import numpy as np
from bnconvex.numerics.solvers._pdip import Q_ROW_CHUNK, masked_columns

#: Largest cache kept, in bytes of ``G`` (float64, all patterns).
MAX_BYTES = 1 << 30


class PatternGram:
    r"""Cache of :math:`G_{ij} = U^TD_iD_jU` over the patterns used so far.

    Parameters
    ----------
    U : ndarray (n, m)
        The features :math:`U'` (float64).
    D : ndarray (n, P) of bool
        The patterns.

    Notes
    -----
    Memory :math:`(Pm)^2` float64 at most (every pattern used; twice that
    while it grows).  A program whose blocks bring ``f`` new patterns costs
    :math:`O(n\,Pm\,fm)` (GEMMs over row chunks), one whose patterns are
    all cached only the copy of its :math:`(km)^2` entries.
    """

    def __init__(self, U: np.ndarray, D: np.ndarray) -> None:
        self.U, self.D = U, D
        #: position of each pattern in the cache (-1: not computed)
        self.at = np.full(D.shape[1], -1, np.intp)
        self.patterns = np.zeros(0, np.intp)
        self.G = np.zeros((0, 0))

    @staticmethod
    def fits(P: int, m: int) -> bool:
        """Whether ``G`` of ``P`` patterns of ``m`` columns fits :data:`MAX_BYTES`."""
        return 8 * (P * m) ** 2 <= MAX_BYTES

    def _extend(self, patterns: np.ndarray) -> None:
        """Compute the rows and columns of ``G`` of the patterns not cached yet."""
        new = np.unique(patterns[self.at[patterns] < 0])
        if not new.size:
            return
        m, old = self.U.shape[1], self.patterns.size
        every = np.r_[self.patterns, new]
        C = np.zeros((every.size * m, new.size * m))
        for lo in range(0, self.U.shape[0], Q_ROW_CHUNK):  # temporaries chunk x Pm
            rows = slice(lo, lo + Q_ROW_CHUNK)
            M = self.D[rows][:, every].astype(self.U.dtype)
            Jc = masked_columns(M, self.U[rows])
            C += Jc.T @ Jc[:, old * m :]
        G = np.empty((every.size * m, every.size * m))
        G[: old * m, : old * m] = self.G
        G[:, old * m :] = C
        G[old * m :, :] = C.T
        self.G, self.patterns = G, every
        self.at[new] = np.arange(old, every.size)

    def gram(self, patterns: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        r""":math:`J^TJ` of the blocks ``(sigma[b], patterns[b])`` (Fortran order).

        The whole symmetric matrix, so that it serves as
        :attr:`~bnconvex.numerics.solvers._pdip.Restricted.Qu` (which reads
        the upper triangle).
        """
        self._extend(patterns)
        m = self.U.shape[1]
        idx = (self.at[patterns][:, None] * m + np.arange(m)).ravel()
        s = np.repeat(np.asarray(sigma, dtype=float), m)
        Q = self.G[np.ix_(idx, idx)]
        Q *= s[:, None]
        Q *= s[None, :]
        return Q.T  # symmetric: the transpose of the C-ordered copy is Fortran
