"""Gas-phase reference molecules and the adsorption-energy reference convention.

Convention (stated in every output): adsorption energies are referenced to atomic chemical
potentials built from closed-shell gas molecules computed with the same calculator,

    E_ads = E(slab+A) - E(slab) - sum_X n_X mu_X,
    mu_H = 1/2 E(H2),  mu_O = E(H2O) - E(H2),  mu_N = E(NH3) - 3/2 E(H2),

the hydrogen and oxygen references of the computational hydrogen electrode (Norskov et al.,
J. Phys. Chem. B 108, 17886 (2004)) with nitrogen referenced to ammonia, the NO3RR product, so
that *N, *NH, *NH2 and *NH3 energies read directly against the final state.
NO and HNO3 are computed too: NO for *NO against gas NO, and HNO3 as the anchor of the
nitrate reference in the free-energy analysis.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import molecule

__all__ = ["GAS_REFERENCES", "gas_molecule", "REFERENCE_CONVENTION", "atomic_potentials", "CONVENTION_TEXT"]

GAS_REFERENCES = ("H2", "H2O", "NH3", "NO", "HNO3")

REFERENCE_CONVENTION = "atomic: mu_H=1/2 E(H2), mu_O=E(H2O)-E(H2), mu_N=E(NH3)-3/2 E(H2)"
CONVENTION_TEXT = (
    "E_ads = E(slab+adsorbate) - E(slab) - sum_X n_X mu_X with mu_H = 1/2 E(H2), "
    "mu_O = E(H2O) - E(H2), mu_N = E(NH3) - 3/2 E(H2); all energies from the same calculator "
    "and settings, gas molecules relaxed in a box"
)


def _hno3() -> Atoms:
    """Planar HNO3, experimental geometry (Cox & Riveros, J. Chem. Phys. 42, 3106 (1965);
    NIST CCCBDB): N-O(H) 1.406, N=O 1.211 / 1.199 A, O-H 0.964 A."""
    n = np.zeros(3)
    oh = np.array([1.406, 0.0, 0.0])
    a1, a2 = np.radians(115.9), np.radians(-113.9)  # O(H)-N=O angles
    o1 = 1.211 * np.array([np.cos(a1), np.sin(a1), 0.0])
    o2 = 1.199 * np.array([np.cos(a2), np.sin(a2), 0.0])
    ah = np.radians(180 - 102.2)  # N-O-H 102.2 deg
    h = oh + 0.964 * np.array([np.cos(ah), np.sin(ah), 0.0])
    return Atoms("NOOOH", positions=[n, oh, o1, o2, h])


def gas_molecule(name: str, box: float = 12.0) -> Atoms:
    """A gas-phase molecule centred in a cubic box of edge ``box`` (non-periodic)."""
    if name == "HNO3":
        m = _hno3()
    else:
        m = molecule(name)
    m.cell = [box, box, box]
    m.center()
    m.pbc = False
    m.info.update({"catalyst": "gas", "model": "gas", "molecule": name})
    return m


def atomic_potentials(gas: dict[str, float]) -> dict[str, float]:
    """mu_H, mu_O, mu_N from gas-phase total energies {name: E}."""
    missing = [k for k in ("H2", "H2O", "NH3") if k not in gas]
    if missing:
        raise KeyError(f"gas references missing: {missing}")
    return {
        "H": 0.5 * gas["H2"],
        "O": gas["H2O"] - gas["H2"],
        "N": gas["NH3"] - 1.5 * gas["H2"],
    }
