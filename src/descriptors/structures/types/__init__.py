"""The registered catalyst types: one module each, imported (and so registered) here.

Every module of this folder whose name does not start with ``_`` calls
:func:`descriptors.structures.registry.register_catalyst_type`; a new catalyst type is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
