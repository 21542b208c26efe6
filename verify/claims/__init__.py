"""Built-in claims.  Importing this package registers all of them.

Each module registers its claims with :func:`bnconvex.verify.registry.register`.
The list below is the single place where claim modules are enumerated.
"""

import importlib

_CLAIM_MODULES: tuple[str, ...] = (
    "implicit_bias",
    "core",
    "theory_bn",
    "theory_optim",
    "fullscale",
    "extensions",
    "cnn",
    "vector",
)

for _name in _CLAIM_MODULES:
    importlib.import_module(f"{__name__}.{_name}")
