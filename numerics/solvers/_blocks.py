r"""Shared block data of the convex BN program for the interior-point solver.

The ``2P`` variable blocks are stored as arrays of shape ``(2, P, m)``: index 0
holds the rows :math:`s_i` (sign +1 in the prediction), index 1 the rows
:math:`s'_i` (sign -1).  Both share the cone :math:`K_i = \{s: G_i s \ge 0\}`,
:math:`G_i = (2D_i - I)U'`.  Since the rows of :math:`G_i` are :math:`\pm` rows
of :math:`U'`, products such as :math:`G_i^T \mathrm{diag}(a) G_i` equal
:math:`U'^T \mathrm{diag}(a) U'` and are formed without the sign.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from bnconvex.numerics.core.blocks import scatter_blocks
from bnconvex.numerics.core.convex_program import ConvexProblem

SIGNS = np.array([1.0, -1.0])


@dataclasses.dataclass(frozen=True)
class Blocks:
    r"""Patterns kept for the solve, in a normalised scale (``||y|| = 1``).

    Attributes
    ----------
    U : ndarray (n, m)
    D : ndarray (n, P) float 0/1
    sign : ndarray (n, P)
        ``2D - 1``.
    UU : ndarray (n, m*m)
        Row ``k`` is the flattened outer product of row ``k`` of ``U`` with itself.
    DD : ndarray (P, n, n)
        Masks :math:`\mathrm{diag}(D_i)\mathbf 1 \mathbf 1^T \mathrm{diag}(D_i)`.
    y : ndarray (n,)
        Labels divided by ``scale``.
    beta : float
        ``beta / scale``.
    scale : float
        ``||y||`` of the original problem (1 when ``y = 0``).
    kept : ndarray of int
        Indices of the original patterns kept.
    """

    U: np.ndarray
    D: np.ndarray
    sign: np.ndarray
    UU: np.ndarray
    DD: np.ndarray
    y: np.ndarray
    beta: float
    scale: float
    kept: np.ndarray

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.U.shape[0]

    @property
    def m(self) -> int:
        """Block dimension."""
        return self.U.shape[1]

    @property
    def P(self) -> int:
        """Number of kept patterns."""
        return self.D.shape[1]

    @property
    def nu(self) -> float:
        """Barrier parameter: per block ``n`` linear terms plus 2 for the cone."""
        return float(2 * self.P * (self.n + 2))

    def slacks(self, X: np.ndarray) -> np.ndarray:
        """Linear slacks :math:`G_i x`, shape (2, P, n)."""
        return self.sign.T * (X @ self.U.T)

    def predict(self, X: np.ndarray) -> np.ndarray:
        r"""Normalised prediction :math:`\sum_i D_i U'(x_{0,i} - x_{1,i})`."""
        return np.sum(self.D * (self.U @ (X[0] - X[1]).T), axis=1)

    def adjoint(self, e: np.ndarray) -> np.ndarray:
        """Rows :math:`U'^T D_i e`, shape (P, m)."""
        return (self.D.T * e) @ self.U

    def objective(self, X: np.ndarray) -> float:
        """Normalised convex objective."""
        e = self.predict(X) - self.y
        return float(0.5 * e @ e + self.beta * np.linalg.norm(X, axis=-1).sum())

    def expand(self, X: np.ndarray, P_total: int) -> tuple[np.ndarray, np.ndarray]:
        """Map normalised kept blocks back to ``(S_plus, S_minus)`` of the problem."""
        return scatter_blocks(X * self.scale, self.kept, P_total)


def make_blocks(
    problem: ConvexProblem, kept: np.ndarray, *, newton_data: bool = True
) -> Blocks:
    """Blocks of ``problem`` restricted to the patterns ``kept``, normalised.

    ``newton_data=False`` leaves ``UU`` and ``DD`` (``P n^2`` numbers, needed
    only by the barrier's Newton step) empty, for the active-set polish alone.
    """
    U = problem.U_prime
    norm_y = float(np.linalg.norm(problem.y))
    scale = norm_y if norm_y > 0 else 1.0
    D = problem.D[:, kept].astype(np.float64)
    UU, DD = np.zeros((0,)), np.zeros((0,))
    if newton_data:
        UU = np.einsum("nm,nk->nmk", U, U).reshape(U.shape[0], -1)
        DD = D.T[:, :, None] * D.T[:, None, :]
    return Blocks(
        U=U,
        D=D,
        DD=DD,
        sign=2.0 * D - 1.0,
        UU=UU,
        y=problem.y / scale,
        beta=problem.beta / scale,
        scale=scale,
        kept=np.asarray(kept, dtype=np.intp),
    )
