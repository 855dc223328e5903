"""GFN1-xTB and GFN2-xTB tight binding through tblite (Gamma point only)."""

from __future__ import annotations

from typing import Any

from ase.data import atomic_numbers

from descriptors.calculators.base import CalculatorInfo, missing_module, register

# GFN1-/GFN2-xTB are parametrised for Z = 1..86 (Grimme, Bannwarth, Shushkov, JCTC 13, 1989 (2017);
# Bannwarth, Ehlert, Grimme, JCTC 15, 1652 (2019)).
XTB_ELEMENTS = frozenset(sym for sym, z in atomic_numbers.items() if 1 <= z <= 86 and sym != "X")

XTB_DEFAULTS = {
    # Fermi smearing in K; metal slabs need a raised electronic temperature to converge SCF
    # (tblite default is 300 K).
    "electronic_temperature": 300.0,
    "accuracy": 1.0,
    "max_iterations": 250,
    "mixer_damping": 0.4,
}


def _tblite(method: str):
    def factory(params: dict[str, Any], atoms=None):
        from tblite.ase import TBLite

        return TBLite(method=method, verbosity=0, **params)

    return factory


register(*(
    CalculatorInfo(
        name=name,
        description=f"{method} tight binding (tblite)",
        elements=XTB_ELEMENTS,
        defaults=dict(XTB_DEFAULTS),
        allowed=frozenset(XTB_DEFAULTS) | {"charge", "multiplicity"},
        package="tblite",
        factory=_tblite(method),
        fidelity="semi-empirical",
        note=f"{method}, Gamma point only: a pre-screening level, not DFT.",
        gamma_only=True,
        install="pip install tblite (a dependency of this package)",
        missing=missing_module("tblite", "pip install tblite"),
        required=True,
    )
    for name, method in (("gfn1-xtb", "GFN1-xTB"), ("gfn2-xtb", "GFN2-xTB"))
))
