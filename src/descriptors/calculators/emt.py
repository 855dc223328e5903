"""EMT (ASE): milliseconds per call, for tests and the quick start only; not chemistry."""

from __future__ import annotations

from typing import Any

from descriptors.calculators.base import CalculatorInfo, register

# EMT as implemented in ASE (ase.calculators.emt): parameters of Jacobsen, Stoltze and Norskov,
# Surf. Sci. 366, 394 (1996) for Al, Cu, Ag, Au, Ni, Pd, Pt; H, C, N, O from ASE's own fit.
EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"})


def emt_calculator(params: dict[str, Any], atoms=None):
    from ase.calculators.emt import EMT

    return EMT(**params)


register(CalculatorInfo(
    name="emt",
    description="Effective medium theory (ASE)",
    elements=EMT_ELEMENTS,
    defaults={},
    allowed=frozenset({"asap_cutoff"}),
    package="ase",
    factory=emt_calculator,
    fidelity="test-only",
    note="EMT numbers test the pipeline; they are not chemistry.",
    install="part of ASE",
))
