r"""BN over patches: the identities behind the convex CNN program (paper.md R8).

A convolution is a product with the stacked patch matrix, BN with statistics
over the batch *and* the positions (``BatchNorm2d``) is standard BN of the
stacked feature map, i.e. :math:`\sqrt{nK}` times convention A on :math:`nK`
entries, and pooling is a linear map after the ReLU.  With these, the key
identity of R0
(:func:`bnconvex.theory.whitening.whitened_representation_general`, proved
for every size) applies to the patch matrix
:math:`\mathcal X\in\mathbb R^{nK\times h}` with :math:`n` replaced by
:math:`nK`: every matrix is the patch matrix of some images (take stride =
kernel, no padding), so the identity proved for every data matrix is the
identity for every patch matrix.

Sizes are explicit (``n`` images of length ``length``, one channel, a
1-D kernel); SymPy proves each step for symbolic entries.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, Step, instance_scope
from .symbols import alpha, bn_a, check_size, gamma, matrix, relu, vector
from .whitening import whitened_representation_general

__all__ = ["bn_over_patches", "patch_rows"]


def patch_rows(images: sp.Matrix, kernel: int, stride: int, padding: int) -> sp.Matrix:
    r"""Stacked patch matrix of 1-D images (rows of ``images``), position-major.

    Parameters
    ----------
    images : sympy.Matrix, shape (n, L)
    kernel, stride, padding : int

    Returns
    -------
    sympy.Matrix, shape (n K, kernel)
        Row ``k n + j`` is :math:`(\tilde x_{j,ks}, \dots, \tilde x_{j,ks+kernel-1})`
        of the zero-padded image :math:`\tilde x_j`.
    """
    n, length = images.shape
    padded = sp.zeros(n, padding).row_join(images).row_join(sp.zeros(n, padding))
    K = (length + 2 * padding - kernel) // stride + 1
    rows = [
        padded[j, k * stride : k * stride + kernel] for k in range(K) for j in range(n)
    ]
    return sp.Matrix.vstack(*rows)


def _feature_map(images: sp.Matrix, w: sp.Matrix, stride: int, padding: int):
    r"""Return the cross-correlation :math:`H_{jk} = \sum_t w_t\tilde x_{j,ks+t}`."""
    n, length = images.shape
    kernel = w.shape[0]
    K = (length + 2 * padding - kernel) // stride + 1

    def entry(j: int, k: int) -> sp.Expr:
        total = sp.S.Zero
        for t in range(kernel):
            pos = k * stride + t - padding
            if 0 <= pos < length:
                total += w[t] * images[j, pos]
        return total

    return sp.Matrix(n, K, entry)


def _stack(H: sp.Matrix) -> sp.Matrix:
    """Stack a feature map (n, K) position-major: entry ``k n + j`` is ``H[j, k]``."""
    n, K = H.shape
    return sp.Matrix([H[j, k] for k in range(K) for j in range(n)])


def _batchnorm2d(H: sp.Matrix) -> sp.Matrix:
    r"""``BatchNorm2d`` (training mode, biased variance, no eps) of one channel.

    Mean and variance over every entry of the map (batch and positions),
    returned stacked position-major.
    """
    size = H.shape[0] * H.shape[1]
    mean = sum(H, sp.S.Zero) / size
    var = sum(((e - mean) ** 2 for e in H), sp.S.Zero) / size
    return _stack(H.applyfunc(lambda e: gamma * (e - mean) / sp.sqrt(var) + alpha))


def bn_over_patches(
    n: int = 2, length: int = 2, kernel: int = 2, stride: int = 1, padding: int = 1
) -> Derivation:
    r"""Convolution, BN over batch and positions, and pooling on the patch matrix.

    Parameters
    ----------
    n, length : int
        Images (2..3) and their length (2..4).
    kernel, stride, padding : int
        Convolution geometry (kernel 1..length + 2 padding, stride 1..2,
        padding 0..1).

    Returns
    -------
    Derivation
        Steps ``conv_is_patch_product``, ``bn2d_is_bn_over_nK``,
        ``sum_pooling``, ``average_pooling`` (scope: the instance sizes), then
        the R0 key identity for every size (scope ``general``; steps suffixed
        ``_patches``) that turns :math:`BN(\mathcal Xw)` into
        :math:`\mathcal U's` with :math:`\|s\|^2 = \gamma^2+\alpha^2`.

    Notes
    -----
    .. math::
        H_{jk} = \sum_t w_t\tilde x_{j,ks+t} = (\mathcal Xw)_{kn+j},\qquad
        \mathrm{BN2d}_{\gamma,\alpha}(H) = \sqrt{nK}\,BN_{\gamma,\alpha}(\mathcal Xw),

    .. math::
        \Bigl(\sum_k (Z_{jk})_+\Bigr)_j = S(\mathrm{vec}\,Z)_+,\quad
        S = [I_n,\dots,I_n]\ (\text{average: } S/K).
    """
    n = check_size("n", n, range(2, 4))
    length = check_size("length", length, range(2, 5))
    stride = check_size("stride", stride, range(1, 3))
    padding = check_size("padding", padding, range(0, 2))
    kernel = check_size("kernel", kernel, range(1, length + 2 * padding + 1))
    x = matrix("x", n, length)
    w = vector("w", kernel)
    X = patch_rows(x, kernel, stride, padding)
    H = _feature_map(x, w, stride, padding)
    K = H.shape[1]
    size = n * K
    hmap = matrix("h", n, K)
    zmap = matrix("z", n, K)
    S = sp.Matrix.hstack(*([sp.eye(n)] * K))
    relu_vec = _stack(zmap).applyfunc(relu)
    pooled = sp.Matrix(
        [sum((relu(zmap[j, k]) for k in range(K)), sp.S.Zero) for j in range(n)]
    )
    steps = (
        Step(
            "conv_is_patch_product",
            r"H_{jk} = \sum_t w_t\,\tilde x_{j,ks+t} = (\mathcal Xw)_{kn+j},"
            r"\quad \mathcal X = [X_1;\dots;X_K]",
            expr=X * w,
            source=_stack(H),
        ),
        Step(
            "bn2d_is_bn_over_nK",
            r"\gamma\frac{H_{jk} - \mu}{\sigma} + \alpha = \sqrt{nK}\Bigl(\gamma"
            r"\frac{(Ch)_{kn+j}}{\|Ch\|} + \frac{\alpha}{\sqrt{nK}}\Bigr),\quad"
            r" \mu, \sigma^2 \text{ over batch and positions}",
            expr=sp.sqrt(size) * bn_a(_stack(hmap)),
            source=_batchnorm2d(hmap),
            note="any feature map h with Ch != 0 (BN undefined otherwise)",
        ),
        Step(
            "sum_pooling",
            r"\Bigl(\sum_k (Z_{jk})_+\Bigr)_j = \bigl(S(\operatorname{vec}Z)_+\bigr)_j,"
            r"\ S = [I_n,\dots,I_n]",
            expr=S * relu_vec,
            source=pooled,
        ),
        Step(
            "average_pooling",
            r"\Bigl(\tfrac1K\sum_k (Z_{jk})_+\Bigr)_j = \bigl(\tfrac1KS"
            r"(\operatorname{vec}Z)_+\bigr)_j",
            expr=(S / K) * relu_vec,
            source=pooled / K,
        ),
    )
    head = Derivation(
        f"BN over patches (n={n}, L={length}, kernel={kernel}, stride={stride}, "
        f"padding={padding}, K={K})",
        steps,
    ).scoped(
        instance_scope(
            n=n, L=length, kernel=kernel, stride=stride, padding=padding, K=K
        )
    )
    # R0's key identity for every data matrix (symbolic sizes): it applies to
    # the patch matrix with n replaced by n K
    return head + whitened_representation_general().suffixed("_patches")
