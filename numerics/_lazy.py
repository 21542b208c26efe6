"""Lazy re-exports for package ``__init__`` modules (PEP 562), as ``lazy_loader``.

A package lists, per submodule, the public names it re-exports; a name is
imported from its submodule on first attribute access and then cached in the
package namespace, so importing the package itself stays cheap.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, submodules: Mapping[str, str]
) -> tuple[dict[str, str], Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(names, __getattr__, __dir__)`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    submodules : mapping of str to str
        Submodule name -> its public names, separated by whitespace.

    Raises
    ------
    ValueError
        When two submodules list the same name (one would shadow the other).

    Returns
    -------
    names : dict
        Public name -> submodule that defines it.
    __getattr__, __dir__ : callables
        To be bound at module level in the package ``__init__``.
    """
    names: dict[str, str] = {}
    for module, listed in submodules.items():
        for name in listed.split():
            if names.setdefault(name, module) != module:
                raise ValueError(
                    f"{package}: {name!r} is listed for both {names[name]!r} and "
                    f"{module!r}; keep one of them qualified"
                )

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return names, __getattr__, __dir__
