"""Spin polarisation: which structures need it, and their initial magnetic moments."""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers, ground_state_magnetic_moments

from descriptors.calculators.kpoints import vacuum_directions

__all__ = ["MAGNETIC_ELEMENTS", "needs_spin", "initial_magnetic_moments", "prepare_spin"]

# Open-shell 3d metals that practitioners treat spin-polarised (metallic Cr, Mn, Fe, Co, Ni; and
# every 3d metal as an isolated site of a single/dual-atom catalyst).  Initial moments are the
# free-atom Hund's-rule moments of ase.data.ground_state_magnetic_moments, a generous start from
# which the SCF relaxes down.
MAGNETIC_ELEMENTS = frozenset({"Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni"})


def needs_spin(atoms) -> bool:
    """Spin polarisation is needed for open-shell 3d metals, and for an odd-electron molecule."""
    if set(atoms.get_chemical_symbols()) & MAGNETIC_ELEMENTS:
        return True
    if np.any(np.abs(atoms.get_initial_magnetic_moments()) > 1e-8):
        return True
    return all(vacuum_directions(atoms)) and int(atoms.numbers.sum()) % 2 == 1


def initial_magnetic_moments(atoms) -> np.ndarray:
    """Initial moments: Hund's-rule moments on magnetic metals; one unpaired electron on the
    first odd-Z atom of an odd-electron molecule (NO, NO2, ...); zero elsewhere."""
    m = np.zeros(len(atoms))
    for i, sym in enumerate(atoms.get_chemical_symbols()):
        if sym in MAGNETIC_ELEMENTS:
            m[i] = ground_state_magnetic_moments[atomic_numbers[sym]]
    if not m.any() and all(vacuum_directions(atoms)) and int(atoms.numbers.sum()) % 2 == 1:
        odd = [i for i, z in enumerate(atoms.numbers) if z % 2 == 1]
        m[odd[0] if odd else 0] = 1.0
    return m


def prepare_spin(atoms, spinpol) -> bool:
    """Decide spin polarisation (``spinpol`` 'auto' | True | False); set initial moments on
    ``atoms`` (a working copy) when spin is on and none are given."""
    if atoms is None:
        return bool(spinpol is True)
    spin = needs_spin(atoms) if spinpol == "auto" else bool(spinpol)
    if spin and not np.any(np.abs(atoms.get_initial_magnetic_moments()) > 1e-8):
        atoms.set_initial_magnetic_moments(initial_magnetic_moments(atoms))
    return spin


