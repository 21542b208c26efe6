r"""Whitening: the centred SVD and the whitened representation of BN.

:math:`U^T\mathbf 1 = 0`, :math:`U'^TU' = I`, and
the whitened representation :math:`BN_{\gamma,\alpha}(Xw) = U's` (paper.md §1, §1.1).

The generic-``n`` part (properties of :math:`C`) is in
:func:`bnconvex.theory.bn_scaling.centering_lemmas`.  The explicit part uses an
exact, *rational-parametrised* family of centred SVDs at ``n = 3``,
``d = r = 2``: :math:`U = U_0 R(\tau)` with :math:`U_0` a fixed orthonormal
basis of :math:`\mathbf 1^\perp`, :math:`V = R(\rho)` a rational rotation,
:math:`\Sigma = \operatorname{diag}(\sigma_1,\sigma_2)`, and
:math:`X = U\Sigma V^T + \mathbf 1 m^T` (any mean ``m``).  Orthogonality then
holds exactly for all parameter values, so each step is an identity in
:math:`\tau, \rho, \sigma, m, w, \gamma, \alpha`.
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from .bn_scaling import centering_lemmas
from .derivation import GENERAL, Derivation, Rewrite, Step, instance_scope
from .rewrite import norm_sq
from .svd_facts import (
    C_,
    CENTRED_SVD,
    CENTRING,
    ONE,
    SIGMA_INVERTIBLE,
    U_,
    U_ORTHONORMAL,
    V_,
    V_ORTHONORMAL,
    Sigma_,
    X_mat,
    column,
)
from .symbols import (
    alpha,
    centering,
    d,
    gamma,
    matrix,
    n,
    norm,
    ones,
    r,
    rotation2,
    vector,
)

__all__ = [
    "SvdFamily",
    "svd_family",
    "whitened_representation",
    "whitened_representation_general",
    "whitening_orthogonality",
    "whitening_orthogonality_general",
]


@dataclasses.dataclass(frozen=True)
class SvdFamily:
    """An exact symbolic centred SVD ``C X = U diag(sigma) V^T`` (n=3, d=r=2)."""

    X: sp.Matrix
    U: sp.Matrix
    sigma: sp.Matrix
    V: sp.Matrix
    mean: sp.Matrix

    @property
    def U_prime(self) -> sp.Matrix:
        r""":math:`U' = [U, \mathbf 1/\sqrt n]`."""
        size = self.U.shape[0]
        return self.U.row_join(ones(size) / sp.sqrt(size))


def svd_family() -> SvdFamily:
    r"""Build the rational-parametrised centred SVD family (``n=3``, ``d=r=2``)."""
    tau, rho = sp.symbols("tau rho", real=True)
    sigma = vector("sigma", 2, positive=True)
    base = sp.Matrix(
        [
            [1 / sp.sqrt(2), 1 / sp.sqrt(6)],
            [-1 / sp.sqrt(2), 1 / sp.sqrt(6)],
            [0, -2 / sp.sqrt(6)],
        ]
    )
    U, V = base * rotation2(tau), rotation2(rho)
    mean = vector("m", 2)
    X = U * sp.diag(*sigma) * V.T + ones(3) * mean.T
    return SvdFamily(X=X, U=U, sigma=sigma, V=V, mean=mean)


def whitening_orthogonality() -> Derivation:
    r""":math:`U^T\mathbf 1 = 0` and :math:`U'^TU' = I_{r+1}`.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    From :math:`CX = U\Sigma V^T` with invertible :math:`\Sigma`,
    :math:`U = CXV\Sigma^{-1}`, so
    :math:`\mathbf 1^TU = (\mathbf 1^TC)XV\Sigma^{-1} = 0`
    because :math:`C\mathbf 1 = 0` (generic ``n``).  Then
    :math:`U'^TU' = \begin{bmatrix}U^TU & U^T\mathbf 1/\sqrt n\\ \mathbf 1^TU/\sqrt n &
    \mathbf 1^T\mathbf 1/n\end{bmatrix} = I`.

    Examples
    --------
    >>> d = whitening_orthogonality()
    >>> [s.name for s in d.steps][-1], set(d.prove().values())
    ('U_prime_orthonormal', {'zero'})
    """
    lemmas = centering_lemmas()
    X4, V2 = (
        matrix("x", 4, 2),
        sp.Matrix(2, 2, sp.symbols("v_11 v_12 v_21 v_22", real=True)),
    )
    sigma_inv = sp.diag(*vector("s", 2, positive=True))
    fam = svd_family()
    steps = (
        lemmas.step("C1_zero_generic"),
        lemmas.step("ones_norm_generic"),
        Step(
            "ones_perp_U",
            r"\mathbf 1^T U = (\mathbf 1^T C) X V\Sigma^{-1} = 0\quad(n=4,\ d=2,"
            r"\ \text{any } X, V, \Sigma)",
            expr=sp.zeros(1, 2),
            source=ones(4).T * centering(4) * X4 * V2 * sigma_inv,
        ),
        Step(
            "family_is_centred_svd",
            r"CX = U\Sigma V^T\quad(\text{explicit family, } n=3,\ r=d=2)",
            expr=fam.U * sp.diag(*fam.sigma) * fam.V.T,
            source=centering(3) * fam.X,
        ),
        Step(
            "U_prime_orthonormal",
            r"U'^TU' = \begin{bmatrix}U^TU & U^T\mathbf 1/\sqrt n\\ \mathbf"
            r" 1^TU/\sqrt n &"
            r" \mathbf 1^T\mathbf 1/n\end{bmatrix} = I_{r+1}\quad(\text{explicit"
            r" family})",
            expr=sp.eye(3),
            source=fam.U_prime.T * fam.U_prime,
        ),
    )
    return Derivation("centred SVD orthogonality", steps).scoped(
        instance_scope(n=3, d=2, r=2)
    )


def whitened_representation() -> Derivation:
    r"""Show :math:`BN_{\gamma,\alpha}(Xw) = U's`, :math:`\|s\|^2 = \gamma^2+\alpha^2`.

    Returns
    -------
    Derivation
        Named steps; ``prove()`` proves each, ``as_records()`` lists their LaTeX.

    Notes
    -----
    With :math:`q = \Sigma V^Tw`: :math:`CXw = Uq`, :math:`\|Uq\| = \|q\|`
    (:math:`U^TU = I`), hence
    :math:`BN_{\gamma,\alpha}(Xw) = \gamma Uq/\|q\| + \alpha\mathbf 1/\sqrt n = U's`.
    Conversely every :math:`s` with :math:`s_{1:r}\neq 0` is reached by
    :math:`w = V\Sigma^{-1}s_{1:r}`, :math:`\gamma = \|s_{1:r}\|`,
    :math:`\alpha = s_{r+1}` (and :math:`s_{1:r} = 0` by :math:`\gamma = 0`).
    """
    fam = svd_family()
    w, q, s = vector("w", 2), vector("q", 2), vector("s", 3)
    sig = sp.diag(*fam.sigma)
    q_of_w = sig * fam.V.T * w
    head = s[:2, :]
    w_of_s = fam.V * sig.inv() * head
    q_w = gamma * q / norm(q)
    steps = (
        Step(
            "centred_preactivation",
            r"CXw = U\Sigma V^Tw = Uq,\ q = \Sigma V^Tw",
            expr=fam.U * q_of_w,
            source=centering(3) * fam.X * w,
        ),
        Step(
            "isometry",
            r"\|Uq\|_2 = \sqrt{q^TU^TUq} = \|q\|_2",
            expr=norm(q),
            source=norm(fam.U * q),
        ),
        Step(
            "bn_in_q",
            r"BN_{\gamma,\alpha}(Xw) = \gamma\frac{CXw}{\|CXw\|} +"
            r" \frac{\alpha}{\sqrt n}"
            r"\mathbf 1 = \gamma\frac{Uq}{\|q\|} + \frac{\alpha}{\sqrt n}\mathbf 1",
            expr=fam.U * q_w + alpha / sp.sqrt(3) * ones(3),
            source=gamma * fam.U * q / norm(fam.U * q) + alpha / sp.sqrt(3) * ones(3),
        ),
        Step(
            "block_product",
            r"U's = U\,s_{1:r} + s_{r+1}\mathbf 1/\sqrt n",
            expr=fam.U * head + s[2] / sp.sqrt(3) * ones(3),
            source=fam.U_prime * s,
        ),
        Step(
            "statement",
            r"BN_{\gamma,\alpha}(Xw) = U'\,s,\quad s = [\gamma q/\|q\|;\ \alpha]",
            expr=fam.U_prime * q_w.col_join(sp.Matrix([alpha])),
            source=gamma * fam.U * q / norm(fam.U * q) + alpha / sp.sqrt(3) * ones(3),
        ),
        Step(
            "norm_s",
            r"\|s\|_2^2 = \gamma^2\frac{\|q\|^2}{\|q\|^2} + \alpha^2 ="
            r" \gamma^2+\alpha^2",
            expr=gamma**2 + alpha**2,
            source=norm(q_w.col_join(sp.Matrix([alpha]))) ** 2,
        ),
        Step(
            "onto_q",
            r"w = V\Sigma^{-1}s_{1:r}\ \Rightarrow\ q = \Sigma V^TV\Sigma^{-1}s_{1:r}"
            r" = s_{1:r}",
            expr=head,
            source=sig * fam.V.T * w_of_s,
        ),
        Step(
            "onto_s",
            r"\gamma = \|s_{1:r}\|,\ \alpha = s_{r+1}\ \Rightarrow\ "
            r"[\gamma q/\|q\|;\ \alpha] = s",
            expr=s,
            source=(norm(head) * head / norm(head)).col_join(sp.Matrix([s[2]])),
        ),
    )
    return Derivation(
        "whitened representation (explicit centred SVD family, n=3, r=d=2)", steps
    ).scoped(instance_scope(n=3, d=2, r=2))


#: :math:`U = CXV\Sigma^{-1}`, proved by the step ``U_from_data`` below.
U_FROM_DATA = Rewrite(
    "U from the data (step 2)", r"U = CXV\Sigma^{-1}", U_, C_ * X_mat * V_ * Sigma_.I
)
#: :math:`U^T\mathbf 1 = 0`, proved by the step ``ones_perp_U`` below.
U_CENTRED = Rewrite(
    "U is orthogonal to the ones vector (step 3)",
    r"\mathbf 1^TU = 0",
    ONE.T * U_,
    sp.ZeroMatrix(1, r),
)


def _u_prime() -> sp.BlockMatrix:
    r""":math:`U' = [U,\ \mathbf 1/\sqrt n]` as a block matrix of symbolic size."""
    return sp.BlockMatrix([[U_, ONE / sp.sqrt(n)]])


def whitening_orthogonality_general() -> Derivation:
    r""":math:`\mathbf 1^TU = 0` and :math:`U'^TU' = I_{r+1}` for every ``n, d, r``.

    Returns
    -------
    Derivation
        Every step ``general``; the hypotheses are the named rewrites
        :data:`~bnconvex.theory.svd_facts.CENTRING`, ``CENTRED_SVD``,
        ``U_ORTHONORMAL``, ``V_ORTHONORMAL`` and ``SIGMA_INVERTIBLE``.

    Examples
    --------
    >>> set(whitening_orthogonality_general().prove().values())
    {'zero'}
    """
    block_identity = sp.BlockMatrix(
        [
            [sp.Identity(r), sp.ZeroMatrix(r, 1)],
            [sp.ZeroMatrix(1, r), sp.Identity(1)],
        ]
    )
    steps = (
        Step(
            "ones_C_zero",
            r"\mathbf 1^TC = \mathbf 1^T - (\mathbf 1^T\mathbf 1)\mathbf 1^T/n = 0",
            title="centring annihilates the ones vector",
            expr=sp.ZeroMatrix(1, n),
            source=ONE.T * C_,
            hypotheses=(CENTRING,),
        ),
        Step(
            "U_from_data",
            r"CXV\Sigma^{-1} = U\Sigma V^TV\Sigma^{-1} = U",
            title="recover U from the centred data",
            expr=U_,
            source=C_ * X_mat * V_ * Sigma_.I,
            hypotheses=(CENTRED_SVD, V_ORTHONORMAL, SIGMA_INVERTIBLE),
        ),
        Step(
            "ones_perp_U",
            r"\mathbf 1^TU = (\mathbf 1^TC)XV\Sigma^{-1} = 0",
            title="the columns of U are centred",
            expr=sp.ZeroMatrix(1, r),
            source=ONE.T * U_,
            hypotheses=(U_FROM_DATA, CENTRING),
        ),
        Step(
            "ones_unit",
            r"\tfrac1n\mathbf 1^T\mathbf 1 = 1",
            title="the normalised ones vector has unit length",
            expr=sp.Identity(1),
            source=ONE.T * ONE / n,
        ),
        Step(
            "U_prime_orthonormal",
            r"U'^TU' = \begin{bmatrix}U^TU & U^T\mathbf 1/\sqrt n\\ "
            r"\mathbf 1^TU/\sqrt n & \mathbf 1^T\mathbf 1/n\end{bmatrix} = I_{r+1}",
            title="assemble the Gram matrix of U' block by block",
            expr=block_identity,
            source=_u_prime().T * _u_prime(),
            hypotheses=(U_ORTHONORMAL, U_CENTRED),
        ),
    )
    return Derivation("centred SVD orthogonality, every n, d, r", steps).scoped(
        GENERAL
    )


def whitened_representation_general() -> Derivation:
    r"""Derive :math:`BN_{\gamma,\alpha}(Xw) = U's`, :math:`\|s\|^2=\gamma^2+\alpha^2`.

    Returns
    -------
    Derivation
        Every step ``general`` (matrix expressions of symbolic ``n, d, r``).

    Examples
    --------
    >>> set(whitened_representation_general().prove().values())
    {'zero'}
    """
    w, s_head = column("w", d), column("s", r)
    s_last = sp.MatrixSymbol("s_0", 1, 1)
    q = Sigma_ * V_.T * w
    nq = sp.sqrt(norm_sq(q))
    shift = alpha * ONE / sp.sqrt(n)
    steps = (
        Step(
            "centred_preactivation",
            r"CXw = U\Sigma V^Tw = Uq,\quad q = \Sigma V^Tw",
            title="centre the pre-activation",
            expr=U_ * q,
            source=C_ * X_mat * w,
            hypotheses=(CENTRED_SVD,),
        ),
        Step(
            "isometry",
            r"\|Uq\|_2^2 = q^TU^TUq = \|q\|_2^2",
            title="U preserves lengths",
            expr=norm_sq(q),
            source=norm_sq(U_ * q),
            hypotheses=(U_ORTHONORMAL,),
        ),
        Step(
            "bn_in_q",
            r"BN_{\gamma,\alpha}(Xw) = \gamma\frac{CXw}{\|CXw\|} + "
            r"\frac{\alpha}{\sqrt n}\mathbf 1 = \gamma\frac{Uq}{\|q\|} + "
            r"\frac{\alpha}{\sqrt n}\mathbf 1",
            title="write BN in whitened coordinates",
            expr=gamma * U_ * q / nq + shift,
            source=gamma * C_ * X_mat * w / sp.sqrt(norm_sq(C_ * X_mat * w)) + shift,
            hypotheses=(CENTRED_SVD, U_ORTHONORMAL),
        ),
        Step(
            "block_product",
            r"U'\begin{bmatrix}s_{1:r}\\ s_{r+1}\end{bmatrix} = U\,s_{1:r} + "
            r"s_{r+1}\mathbf 1/\sqrt n",
            title="multiply out the block product",
            expr=U_ * s_head + ONE * s_last / sp.sqrt(n),
            source=_u_prime() * sp.BlockMatrix([[s_head], [s_last]]),
        ),
        Step(
            "norm_s",
            r"\|s\|_2^2 = \gamma^2\frac{\|q\|^2}{\|q\|^2} + \alpha^2 = "
            r"\gamma^2+\alpha^2",
            title="the length of s",
            expr=gamma**2 + alpha**2,
            source=(gamma / nq) ** 2 * norm_sq(q) + alpha**2,
        ),
        Step(
            "onto_q",
            r"w = V\Sigma^{-1}s_{1:r}\ \Rightarrow\ q = "
            r"\Sigma V^TV\Sigma^{-1}s_{1:r} = s_{1:r}",
            title="every direction of q is reached",
            expr=s_head,
            source=Sigma_ * V_.T * V_ * Sigma_.I * s_head,
            hypotheses=(V_ORTHONORMAL, SIGMA_INVERTIBLE),
        ),
        Step(
            "onto_s",
            r"\gamma = \|s_{1:r}\|,\ \alpha = s_{r+1}\ \Rightarrow\ "
            r"\gamma\,s_{1:r}/\|s_{1:r}\| = s_{1:r}",
            title="every s is reached",
            expr=s_head,
            source=sp.sqrt(norm_sq(s_head)) * s_head / sp.sqrt(norm_sq(s_head)),
        ),
    )
    return Derivation("whitened representation, every n, d, r", steps).scoped(GENERAL)
