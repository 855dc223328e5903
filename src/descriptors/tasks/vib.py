"""Harmonic vibrations of chosen atoms (finite differences, ``ase.vibrations``): the worker
side of a ``vib`` job, whose mode energies become free-energy corrections in the analysis."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.calculators import make_calculator
from descriptors.tasks.base import CalcResult, TaskContext, task

__all__ = ["vibrate", "run_vib", "VIB_DELTA", "VIB_NFREE"]

VIB_DELTA = 0.01  # A, finite-difference displacement (ase.vibrations default)
VIB_NFREE = 2


class _MemoryCache(dict):
    """``ase.vibrations``' cache of the displacements' forces, in memory: ASE's default writes a JSON
    file per displacement (to a temporary directory, here) and reads them all back for the
    energies; the same values without the files.  ``lock`` as ASE's file cache: None for a key
    already there, else a handle whose ``save`` stores the value."""

    writable = True
    directory = Path(os.devnull)  # Vibrations.name; no "<name>.eq.pckl" of an old ASE next to it

    @contextmanager
    def lock(self, key):
        yield None if key in self else _Saver(self, key)


class _Saver:
    def __init__(self, cache: dict, key: str):
        self.cache, self.key = cache, key

    def save(self, value) -> None:
        self.cache[self.key] = value


def vibrate(atoms: Atoms, indices: list[int], setting, delta: float = VIB_DELTA, nfree: int = VIB_NFREE):
    """Vibrational energies (eV, complex: imaginary modes have imaginary parts) of ``indices``."""
    from ase.vibrations import Vibrations

    from descriptors.tasks.relax import fast_state_check

    work = atoms.copy()
    work.info = {}
    work.calc = make_calculator(setting, atoms=work)
    fast_state_check(work.calc)  # a displacement changes the positions only
    vib = Vibrations(work, indices=list(indices), delta=delta, nfree=nfree)
    vib.cache = _MemoryCache()
    vib.run()
    energies = np.asarray(vib.get_energies(), dtype=complex)
    work.calc = make_calculator(setting, atoms=work)
    energy = float(work.get_potential_energy())
    forces = np.asarray(work.get_forces(apply_constraint=False), dtype=np.float64)  # ML codes: float32
    return energies, energy, forces


def run_vib(atoms: Atoms, setting):
    """Worker side of a ``vib`` job: a CalcResult whose ``extra`` holds the mode energies."""
    t0 = time.perf_counter()
    indices = [int(i) for i in atoms.info["vib_indices"]]
    energies, energy, forces = vibrate(atoms, indices, setting)
    out = atoms.copy()
    out.info = {}
    out.calc = SinglePointCalculator(out, energy=energy, forces=forces)
    fmax = float(np.sqrt((forces[indices] ** 2).sum(axis=1)).max())
    extra = {
        "vib_energies_real": [float(x) for x in energies.real],
        "vib_energies_imag": [float(x) for x in energies.imag],
        "vib_indices": indices,
        "vib_delta": VIB_DELTA,
        "vib_nfree": VIB_NFREE,
    }
    return CalcResult(out, energy, fmax, len(indices) * 3 * VIB_NFREE, True, time.perf_counter() - t0, extra)


@task("vib")
def vib_task(atoms: Atoms, ctx: TaskContext) -> CalcResult:
    return run_vib(atoms, ctx.setting)
