r"""Explicit spectral regularisers of the convex BN program (paper.md §4, claim 21).

The paper states that GD on a BN network favours high singular-value directions
and that this bias can be encoded in the convex program; the exact form is
UNCONFIRMED, so this module implements a *parameterised family* of feature
maps :math:`\phi` that replace :math:`U'` in R1:

.. math::
    \phi_{k,p,c}(x) = \Bigl[\,\bigl(\tfrac{\sigma_j}{\sigma_1}\bigr)^{p}
    \frac{v_j^T(x - \mu)}{\sigma_j}\Bigr]_{j=1..k} \oplus\ \frac{c}{\sqrt n},
    \qquad
    \phi_{k,p,c}(X) = \bigl[\,U_k(\Sigma_k/\sigma_1)^{p},\ c\mathbf 1/\sqrt n\,\bigr].

* **Truncated whitening** (``p = 0, c = 1``): :math:`U'_k = [U_k, 1/\sqrt n]`;
  ``k = r`` is exactly R1's :math:`U'`.  With the same patterns, the feasible
  predictions for ``k`` are a subset of those for ``k + 1`` (pad :math:`s` with a
  zero), so the optimum is non-decreasing as ``k`` decreases (claim
  ``regularizer.truncated_whitening``).
* **Spectral weighting** (``p > 0``): with :math:`W = \mathrm{diag}((\sigma_j/
  \sigma_1)^p, c)` and :math:`t = W s`, the program on :math:`U'W` is R1 on
  :math:`U'` with the *weighted group norm* :math:`\beta\|W^{-1}t\|_2`: moving
  along the ``j``-th direction costs :math:`(\sigma_1/\sigma_j)^p` times more,
  which penalises small-:math:`\sigma` directions (the Σ²-preconditioning bias of
  GD, paper.md §4, is the case "p = 2 in step-size units").  The cone
  constraints are unchanged because :math:`(2D_i-I)U'Ws \ge 0` is the cone of
  :math:`t`.  ``p < 0`` favours small-σ directions (allowed, for ablations).
"""

from __future__ import annotations

import dataclasses
import math

from bnconvex.numerics._array_api import Array, array_namespace, xp_capabilities
from bnconvex.numerics._validation import check_positive_int
from bnconvex.numerics.errors import InputError
from bnconvex.numerics.fullscale.whitening import SpectralFactors

__all__ = ["FeatureMap", "spectral_features", "truncated_whitening"]


@dataclasses.dataclass(frozen=True)
class FeatureMap:
    r"""Affine feature map :math:`\phi(x) = [A^T(x - \mu),\ c/\sqrt n]` (float64).

    Attributes
    ----------
    mean : Array
        :math:`\mu` ``(d,)``.
    A : Array
        ``(d, k)``, :math:`V_k\,\mathrm{diag}((\sigma_j/\sigma_1)^p/\sigma_j)`.
    shift : float
        :math:`c/\sqrt n`, the constant last feature (the BN shift direction).
    k, power, scale : int, float, float
        The parameters ``k``, ``p`` and ``c``.
    """

    mean: Array
    A: Array
    shift: float
    k: int
    power: float
    scale: float

    @property
    def m(self) -> int:
        """Number of features ``k + 1``."""
        return self.k + 1

    def transform(self, X: Array, *, dtype=None, chunk_rows: int = 8192) -> Array:
        r"""Map the rows of ``X`` to ``(N, k + 1)`` features, chunk-wise.

        Computed in float64, or in float32 when ``dtype`` is float32 (the
        features are then rounded once more, a relative error of about
        :math:`d\,u_{32}` per entry, far below the solver's tolerances).
        """
        xp = array_namespace(X)
        if len(X.shape) != 2 or X.shape[1] != self.A.shape[0]:
            raise InputError(
                f"`X` must have shape (N, {self.A.shape[0]}); got {X.shape}"
            )
        dtype = xp.float64 if dtype is None else dtype
        work = xp.float32 if dtype == xp.float32 else xp.float64
        mean, A = xp.astype(self.mean, work), xp.astype(self.A, work)
        parts = []
        for r0 in range(0, X.shape[0], chunk_rows):
            Xc = xp.astype(X[r0 : min(r0 + chunk_rows, X.shape[0]), :], work) - mean
            Z = xp.matmul(Xc, A)
            ones = xp.full((Z.shape[0], 1), self.shift, dtype=work)
            parts.append(xp.astype(xp.concat([Z, ones], axis=1), dtype))
        return xp.concat(parts, axis=0)


def _check_k(fac: SpectralFactors, k: int | None) -> int:
    if k is None:
        return fac.rank
    k = check_positive_int(k, "k")
    if k > fac.rank:
        raise InputError(
            f"`k` must be at most the rank r={fac.rank} of the centred data; got {k}"
        )
    return k


@xp_capabilities()
def spectral_features(
    fac: SpectralFactors, power: float, *, k: int | None = None, scale: float = 1.0
) -> FeatureMap:
    r"""Build the map :math:`[U_k(\Sigma_k/\sigma_1)^p,\ c/\sqrt n]` (module Notes).

    Parameters
    ----------
    fac : SpectralFactors
        Centred SVD from :func:`~bnconvex.numerics.fullscale.whiten_large`.
    power : float
        Exponent ``p`` (0: plain whitening).
    k : int, optional
        Leading directions kept (default: the rank; ``k > rank`` raises).
    scale : float
        ``c > 0``, weight of the shift direction.

    Returns
    -------
    FeatureMap
    """
    k = _check_k(fac, k)
    power, scale = float(power), float(scale)
    if not math.isfinite(power):
        raise InputError(f"`power` must be a finite number; got {power!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"`scale` must be a positive finite number; got {scale!r}")
    sig = fac.sigma[:k]
    weights = (sig / fac.sigma[0]) ** power / sig
    A = fac.Vt[:k, :].T * weights
    return FeatureMap(fac.mean, A, scale / math.sqrt(fac.n), k, power, scale)


@xp_capabilities()
def truncated_whitening(fac: SpectralFactors, k: int | None = None) -> FeatureMap:
    r"""Build the truncated whitening :math:`U'_k = [U_k, 1/\sqrt n]`.

    ``k = rank`` gives R1's :math:`U'` exactly.

    Parameters
    ----------
    fac : SpectralFactors
        Centred SVD.
    k : int, optional
        Number of leading singular directions, ``1 <= k <= rank``.

    Returns
    -------
    FeatureMap

    Raises
    ------
    InputError
        When ``k`` exceeds the rank (the message names ``k`` and the rank).
    """
    return spectral_features(fac, 0.0, k=k, scale=1.0)
