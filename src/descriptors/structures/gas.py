"""Gas-phase reference molecules (H2, H2O, NH3, NO, HNO3) in a box, as plain ``ase.Atoms``.

They are relaxed with the screen's calculator and give the atomic chemical potentials of the
reference convention (convention.py).  NO is computed for *NO against gas NO, and HNO3 as the
anchor of the nitrate reference in the free-energy analysis.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

__all__ = ["GAS_REFERENCES", "gas_molecule"]

GAS_REFERENCES = ("H2", "H2O", "NH3", "NO", "HNO3")

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
        # ase.build: ~1 s of imports, only when a molecule is built
        from ase.build import molecule

        m = molecule(name)
    m.cell = [box, box, box]
    m.center()
    m.pbc = False
    m.info.update({"catalyst": "gas", "model": "gas", "molecule": name})
    return m
