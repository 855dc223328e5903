"""Calculators: a registry of named, versioned settings and one module per backend.

Every module of this folder other than the shared ones (``base``, ``kpoints``, ``spin``, ``finetuned``) is a
backend that registers itself on import; they are all imported here, so a new calculator is one
new file.  See ``base.py`` for the registry and ``CalculatorSetting``.
"""

import importlib
import pkgutil

from descriptors.calculators.base import (
    REGISTRY,
    CalculatorInfo,
    CalculatorSetting,
    CalculatorUnavailableError,
    UnsupportedElementsError,
    calculator_info,
    check_elements,
    compact_elements,
    describe_calculators,
    make_calculator,
    register,
)
from descriptors.calculators.kpoints import kpoints_from_cell, vacuum_directions
from descriptors.calculators.spin import initial_magnetic_moments, needs_spin

_SHARED = {"base", "kpoints", "spin", "finetuned"}
for _m in pkgutil.iter_modules(__path__):
    if _m.name not in _SHARED:
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = [
    "REGISTRY", "CalculatorInfo", "CalculatorSetting", "CalculatorUnavailableError", "UnsupportedElementsError",
    "calculator_info", "check_elements", "compact_elements", "describe_calculators", "make_calculator", "register",
    "kpoints_from_cell", "vacuum_directions", "initial_magnetic_moments", "needs_spin",
]
