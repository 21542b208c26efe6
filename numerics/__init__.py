"""Numerical layer of bnconvex: BN networks, whitening, arrangements, programs.

Public names of the finished modules are re-exported here (SciPy style, with
``__all__``).  Only the exceptions and status constants are imported eagerly;
every other name is loaded on first access (PEP 562 ``__getattr__``), so
``import bnconvex.numerics`` stays cheap and pulls in neither SciPy nor
mpmath, and optional back ends (PyTorch, CuPy) are imported only by the
functions that need them.

Modules are grouped by role:

=====================  ======================================================
subpackage / module    contents
=====================  ======================================================
``core``               the model: ``bn`` (conventions A and std), ``network``
                       (the two-layer BN-ReLU network, objective, I/O),
                       ``whitening`` (``U' = [U, 1/sqrt(n)]``), ``arrangements``
                       (activation patterns), ``convex_program`` (R1),
                       ``certificate`` (dual bounds), ``reconstruct``
                       (program <-> network), ``closed_form`` (R2, one-hot)
``solvers``            ``solve`` / ``solve_convex`` and the registry
                       ``METHODS`` of every method (working-set, IPM,
                       CVXPY/Clarabel, full-scale ADMM/AL, the loss barrier)
``result``             ``SolveResult`` (what every method returns) and the
                       shared options ``tol, max_iter, time_limit, verbose``
``fullscale``          the vectorised array-API model for large data (NumPy,
                       CuPy): whitening at scale, patterns, ADMM/AL, ``fit``
``extensions``         ``deep`` (R4), ``bn_after_relu`` (R6), ``losses`` (R5),
                       ``implicit_bias`` (the Sigma^2 preconditioning),
                       ``cnn`` (R8, convolutional BN networks),
                       ``cnn_fullscale`` (its gated program at CIFAR scale),
                       ``vector``
                       (R3, general labels: exact small-instance solver)
``baselines``          non-convex trainers: ``nonconvex`` (L-BFGS/GD), ``sgd``
``dataio``             ``data`` (synthetic sets, .npz/.csv), ``datasets``
                       (CIFAR-10, Fashion-MNIST), ``atomic`` (atomic
                       text/JSON/NumPy file writes)
``highprec``           ``mp_refine``: mpmath refinement and certificates
``provenance``         versions, git revision and machine of a record
``exact``              the exact-fit pipeline that joins them (``fit_exact``)
=====================  ======================================================

A few names are defined by two modules, or are also a submodule's name; the
flat namespace keeps one and the other stays qualified (``_QUALIFIED`` below):
``predict`` is :func:`sgd.predict` (use ``convex_program.predict`` for the
program), ``convex_objective`` is the one of ``convex_program``, and
``bn_after_relu``'s ``convex_objective`` and ``reconstruct`` (the latter also
the submodule ``reconstruct``) stay qualified.
"""

from __future__ import annotations

from bnconvex.numerics._lazy import attach
from bnconvex.numerics.errors import (
    BnConvexError,
    ClaimError,
    InputError,
    PrecisionError,
    SolverError,
)
from bnconvex.numerics.status import SolverStatus

#: public names of each lazily imported module, whitespace-separated
#: (``tests/numerics/test_init.py`` checks them against the module's ``__all__``).
_LAZY_MODULES: dict[str, str] = {
    "core.bn": (
        "CONVENTIONS Convention batch_norm check_convention convention_scale "
        "convert_beta"
    ),
    "core.network": (
        "BNNetwork TORCH_DEFAULT_EPS forward load_network objective "
        "objective_and_gradient penalty save_network"
    ),
    "core.whitening": "Whitening whiten",
    "core.arrangements": (
        "LP_MARGIN_TOL enumerate_patterns is_realizable load_patterns "
        "max_pattern_count sample_patterns save_patterns"
    ),
    "core.reconstruct": "convex_to_network network_to_convex",
    "core.closed_form": (
        "highdim_network highdim_optimum highdim_prediction huber_h "
        "onehot_network onehot_optimum universal_lower_bound"
    ),
    "baselines.nonconvex": (
        "initial_network pack_network train_best_of train_nonconvex unpack_network"
    ),
    "dataio.data": (
        "load_dataset make_classification make_regression make_spread_spectrum"
    ),
    "highprec.mp_refine": (
        "GUARD_DPS MIN_DPS MpCertificate MpSolution MpWhitening certify_mp "
        "highdim_optimum_mp refine_solution whiten_mp"
    ),
    "dataio.datasets": (
        "CIFAR10_CLASSES DATASET_NAMES Dataset FASHION_MNIST_CLASSES RawImages "
        "classification_from_raw default_source load_classification load_raw "
        "preprocess read_cifar10_batches read_fashion_mnist read_idx "
        "read_image_folder read_image_tar resolve_source save_raw_cache select"
    ),
    "dataio.atomic": (
        "atomic_save atomic_savez atomic_write atomic_write_json atomic_write_text"
    ),
    "provenance": (
        "CUPY_DISTRIBUTIONS blas_info cpu_model cupy_version git_revision gpu_name "
        "machine_info provenance_record software_versions"
    ),
    "baselines.sgd": (
        "BNStatistics SGDResult accuracy full_batch_statistics init_network "
        "minibatch_objective_and_gradient predict statistics_to_numpy "
        "train_sgd"
    ),
    "extensions.implicit_bias": (
        "ImplicitBiasCurves PAPER_SETTING curves_to_numpy energy_fraction "
        "implicit_bias_curves implicit_bias_experiment preconditioning_error "
        "spread_spectrum_instance whitened_objective_and_gradient "
        "whitened_parameters"
    ),
    "core.convex_program": (
        "ConvexProblem ConvexSolution cone_violation convex_objective"
    ),
    "solvers": "DEFAULT_SOLVER METHODS Method SOLVERS solve solve_convex",
    "result": "BoundedGap COMMON_OPTIONS SolveResult relative_gap",
    "exact": (
        "BOUND_KINDS MAX_EXACT_PATTERNS ExactFit ExactProgram NetworkGap "
        "certify_network_exact check_solve_memory choose_patterns exact_program "
        "fit_exact image_blocks network_in_convention"
    ),
    "core.certificate": (
        "Certificate both_signs certify_network certify_predictions "
        "certify_residual cover_rounding dual_constraint_bound dual_objective "
        "dual_scale pattern_vectors residual_lower_bound"
    ),
    "extensions.losses": (
        "LOSSES Loss LossName get_loss loss_convex_objective loss_dual_bound "
        "network_loss_objective solve_loss_program train_loss_network"
    ),
    "extensions.deep": (
        "DeepBNNetwork centered_rank deep_forward deep_hidden deep_objective "
        "deep_objective_and_gradient deep_penalty overparameterized_network "
        "random_hidden_layers train_deep"
    ),
    "extensions.bn_after_relu": (
        "AfterReLUProblem AfterReLUSolution after_relu_forward "
        "after_relu_objective after_relu_objective_and_gradient relu_patterns "
        "solve_after_relu train_after_relu"
    ),
    "extensions.cnn": (
        "CNN_SOLVERS POOLINGS CNNProblem CNNSolution ConvGeometry certify_cnn "
        "cnn_convex_objective cnn_forward cnn_objective cnn_objective_and_gradient "
        "cnn_predict default_cnn_solver patch_matrix pooling_matrix reconstruct_cnn "
        "solve_cnn train_cnn"
    ),
    "extensions.cnn_fullscale": (
        "GatedCNNFit PatchWhitening ReluReading fit_gated_cnn gated_dual_bound "
        "image_patches patch_whitening pooled_features relu_reading sample_gates"
    ),
    "extensions.vector": (
        "VectorSolution atom_bound separable_upper_bound "
        "singular_value_lower_bound solve_atoms solve_vector vector_network"
    ),
}

#: names in a module's ``__all__`` that the flat namespace does not re-export,
#: because another module's name or a submodule has the same spelling.
_QUALIFIED: dict[str, str] = {
    "core.convex_program": "predict",
    "extensions.bn_after_relu": "convex_objective reconstruct",
}

_LAZY_NAMES, __getattr__, __dir__ = attach(__name__, _LAZY_MODULES)

__all__ = [
    "BnConvexError",
    "ClaimError",
    "InputError",
    "PrecisionError",
    "SolverError",
    "SolverStatus",
]
__all__ += sorted(_LAZY_NAMES)
