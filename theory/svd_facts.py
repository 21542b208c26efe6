r"""The centred SVD at symbolic size: matrix symbols and its named hypotheses.

Data :math:`X\in\mathbb R^{n\times d}`, centring
:math:`C = I_n - \mathbf 1\mathbf 1^T/n`, compact centred SVD
:math:`CX = U\Sigma V^T` with :math:`U\in\mathbb R^{n\times r}`,
:math:`V\in\mathbb R^{d\times r}`, :math:`\Sigma` diagonal and positive.  The
sizes ``n, d, r`` are the positive integer symbols of
:mod:`bnconvex.theory.symbols`; nothing here fixes them.

The structural facts are :class:`~bnconvex.theory.rewrite.Rewrite` objects:
a general step lists the ones it uses, and only those are applied.
"""

from __future__ import annotations

import sympy as sp

from .rewrite import Rewrite
from .symbols import d, n, r

__all__ = [
    "CENTRED_SVD",
    "CENTRING",
    "CHAIN_RULE",
    "C_",
    "ONE",
    "RANK_N_MINUS_1",
    "SIGMA_DIAGONAL",
    "SIGMA_INVERTIBLE",
    "U_",
    "U_ORTHONORMAL",
    "V_",
    "V_ORTHONORMAL",
    "Sigma_",
    "X_mat",
    "column",
]

X_mat = sp.MatrixSymbol("X", n, d)
C_ = sp.MatrixSymbol("C", n, n)
U_ = sp.MatrixSymbol("U", n, r)
Sigma_ = sp.MatrixSymbol("Sigma", r, r)
V_ = sp.MatrixSymbol("V", d, r)
#: the all-ones column of length ``n`` (SymPy knows :math:`\mathbf 1^T\mathbf 1 = n`).
ONE = sp.OneMatrix(n, 1)


def column(name: str, size: sp.Expr) -> sp.MatrixSymbol:
    """Return a column vector ``name`` of symbolic length ``size``."""
    return sp.MatrixSymbol(name, size, 1)


CENTRING = Rewrite(
    "definition of the centring matrix",
    r"C = I_n - \tfrac1n\mathbf 1\mathbf 1^T",
    C_,
    sp.Identity(n) - ONE * ONE.T / n,
)
CENTRED_SVD = Rewrite(
    "compact SVD of the centred data", r"CX = U\Sigma V^T", C_ * X_mat,
    U_ * Sigma_ * V_.T,
)
U_ORTHONORMAL = Rewrite(
    "U has orthonormal columns", r"U^TU = I_r", U_.T * U_, sp.Identity(r)
)
V_ORTHONORMAL = Rewrite(
    "V has orthonormal columns", r"V^TV = I_r", V_.T * V_, sp.Identity(r)
)
SIGMA_DIAGONAL = Rewrite(
    "Sigma is diagonal", r"\Sigma^T = \Sigma", Sigma_.T, Sigma_
)
SIGMA_INVERTIBLE = Rewrite(
    "Sigma is positive, hence invertible",
    r"\Sigma\Sigma^{-1} = I_r",
    Sigma_ * Sigma_.I,
    sp.Identity(r),
)
RANK_N_MINUS_1 = Rewrite(
    "high-dimensional regime, rank CX = n - 1",
    r"UU^T = C\quad(r = n-1)",
    U_ * U_.T,
    C_,
)
CHAIN_RULE = Rewrite(
    "chain rule (used to write the left side)",
    r"\nabla_w G(q(w)) = (\partial q/\partial w)^T\,\nabla_q G",
)
