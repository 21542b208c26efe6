"""Symbolic theory of convex BN networks (SymPy only; never imports numerics/verify).

Each module derives one object as a :class:`Derivation` of named, provable
steps: BN scaling identities (:mod:`.bn_scaling`), whitening
(:mod:`.whitening`), the rescaling lemma (:mod:`.rescaling`), the dual
(:mod:`.primal2dual`), loss conjugates (:mod:`.conjugates`), closed forms
(:mod:`.closed_form`), the gradient geometry of GD (:mod:`.preconditioning`)
and BN over image patches (:mod:`.cnn`).
"""

from ._simplify import prove_nonnegative, prove_zero
from .bn_scaling import (
    centering_lemmas,
    convention_conversion,
    convention_conversion_generic,
    scale_invariance,
    scale_invariance_generic,
    shift_invariance,
    shift_invariance_generic,
)
from .closed_form import (
    highdim_kkt,
    highdim_optimum,
    highdim_weights,
    highdim_weights_general,
    huber_h,
    onehot_closed_form,
    onehot_closed_form_general,
)
from .cnn import bn_over_patches, patch_rows
from .conjugates import (
    conjugate_hinge,
    conjugate_logistic,
    conjugate_squared,
    hinge_derivation,
    logistic_derivation,
    squared_derivation,
)
from .derivation import Derivation, Rewrite, Step, instance_scope, overall
from .preconditioning import (
    gradient_orthogonality,
    gradient_orthogonality_general,
    sigma2_preconditioning,
    sigma2_preconditioning_general,
)
from .primal2dual import dual_derivation, dual_derivation_general
from .rescaling import am_gm, am_gm_general
from .whitening import (
    svd_family,
    whitened_representation,
    whitened_representation_general,
    whitening_orthogonality,
    whitening_orthogonality_general,
)

__all__ = [
    "Derivation",
    "Rewrite",
    "Step",
    "am_gm",
    "am_gm_general",
    "bn_over_patches",
    "centering_lemmas",
    "conjugate_hinge",
    "conjugate_logistic",
    "conjugate_squared",
    "convention_conversion",
    "convention_conversion_generic",
    "dual_derivation",
    "dual_derivation_general",
    "gradient_orthogonality",
    "gradient_orthogonality_general",
    "highdim_kkt",
    "highdim_optimum",
    "highdim_weights",
    "highdim_weights_general",
    "hinge_derivation",
    "huber_h",
    "instance_scope",
    "logistic_derivation",
    "onehot_closed_form",
    "onehot_closed_form_general",
    "overall",
    "patch_rows",
    "prove_nonnegative",
    "prove_zero",
    "scale_invariance",
    "scale_invariance_generic",
    "shift_invariance",
    "shift_invariance_generic",
    "sigma2_preconditioning",
    "sigma2_preconditioning_general",
    "squared_derivation",
    "svd_family",
    "whitened_representation",
    "whitened_representation_general",
    "whitening_orthogonality",
    "whitening_orthogonality_general",
]
