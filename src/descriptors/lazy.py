"""Names of a package loaded on first use (PEP 562), so that importing one light module of a folder
does not load everything its package exports (``engine/``, ``geometry/``)."""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]], names: list[str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose ``exports`` map submodule -> names: a name is
    imported from its submodule on first access and kept in the package's ``namespace``."""
    where = {name: module for module, listed in exports.items() for name in listed}

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
