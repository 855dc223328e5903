"""d-band centre of the surface metal atoms from a DFT density of states (GPAW).

The d-band model (Hammer & Norskov, Nature 376, 238 (1995); Adv. Catal. 45, 71 (2000)) ties
adsorbate binding on transition metals to the first moment of the d-projected density of states
of the surface atoms, relative to the Fermi level:

    eps_d = int E n_d(E) dE / int n_d(E) dE,     E measured from E_F, over ``DOS_WINDOW``

``n_d`` is the projection of the Kohn-Sham states on the d partial waves of the PAW setups of
each surface atom (GPAW's ``DOSCalculator.raw_pdos``), broadened by Gaussians of ``width``.
We also report the width (square root of the second central moment) and the filling (fraction
of ``n_d`` below E_F).  Literature values for close-packed surfaces lie near Cu -2.7, Ag -4.3,
Au -3.6, Ni -1.3, Pd -1.8, Pt -2.3 eV (Ruban, Hammer, Stoltze, Skriver, Norskov, J. Mol. Catal.
A 115, 421 (1997)).

In a screen the d-band centre is a job of its own (kind ``dband``, parent = the clean model):
a single point of the relaxed clean slab with the screen's calculator, then the DOS
(workflows/dband.py plans these jobs).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ase import Atoms

from descriptors.calculators import CalculatorSetting, make_calculator
from descriptors.tasks.base import CalcResult, TaskContext, task
from descriptors.tasks.relax import freeze, max_force

__all__ = ["DOS_SETTINGS", "surface_metal_atoms", "dband_from_calc", "dband_job"]

# energies relative to E_F (eV): wide enough for the whole d band of every transition metal
# (early metals' bands reach several eV above E_F), Gaussian broadening 0.1 eV, 0.01 eV grid
DOS_SETTINGS = {"window": (-15.0, 10.0), "width": 0.1, "npoints": 2501}
_NONMETALS = {"H", "He", "B", "C", "N", "O", "F", "Ne", "Si", "P", "S", "Cl", "Ar", "Se", "Br", "Kr", "I", "Xe"}
_TOP_LAYER = 1.0  # A below the topmost metal atom that still counts as the top layer


def surface_metal_atoms(atoms: Atoms, depth: float = _TOP_LAYER) -> list[int]:
    """Indices of the metal atoms of the top layer (within ``depth`` A of the highest metal atom).

    Adsorbate and support atoms (non-metals) are never surface metal atoms.
    """
    metals = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s not in _NONMETALS]
    if not metals:
        raise ValueError("no metal atoms: the d-band centre needs a metal surface")
    z = atoms.positions[metals, 2]
    top = z.max()
    return [i for i, zi in zip(metals, z) if zi >= top - depth]


def _moments(energies: np.ndarray, rho: np.ndarray) -> dict[str, float]:
    norm = np.trapezoid(rho, energies)
    if not norm > 0:
        raise ValueError("d-projected DOS is zero in the window: no d states to average")
    centre = np.trapezoid(energies * rho, energies) / norm
    width = np.sqrt(np.trapezoid((energies - centre) ** 2 * rho, energies) / norm)
    occ = energies <= 0.0
    filling = np.trapezoid(rho[occ], energies[occ]) / norm
    return {"centre": float(centre), "width": float(width), "filling": float(filling)}


def dband_from_calc(calc, indices: list[int], window=DOS_SETTINGS["window"], width=DOS_SETTINGS["width"],
                    npoints: int = DOS_SETTINGS["npoints"]) -> dict[str, Any]:
    """d-band moments of the atoms ``indices`` from a converged GPAW calculator.

    Returns the centre, width and filling of the summed d-projected DOS of those atoms, and the
    centre of each atom (a single-atom alloy's solute differs from its host).
    """
    dos = calc.dos(shift_fermi_level=True)  # energies relative to E_F
    energies = np.linspace(window[0], window[1], int(npoints))
    total = np.zeros_like(energies)
    per_atom = {}
    for a in indices:
        rho = np.asarray(dos.raw_pdos(energies, a=int(a), l=2, spin=None, width=width))
        per_atom[int(a)] = _moments(energies, rho)["centre"]
        total += rho
    out = _moments(energies, total)
    return {
        "dband_centre": out["centre"],
        "dband_width": out["width"],
        "dband_filling": out["filling"],
        "dband_atoms": [int(a) for a in indices],
        "dband_per_atom": per_atom,
        "dband_fermi_level": float(calc.get_fermi_level()),
        "dos_settings": {"window": list(window), "width": width, "npoints": int(npoints)},
    }


def dband_job(atoms: Atoms, setting: CalculatorSetting):
    """Single point of a clean model with ``setting``, then its surface d-band moments."""
    if not setting.info.dos:
        raise ValueError(f"calculator {setting.name!r} gives no density of states; the d-band centre needs 'gpaw'")
    t0 = time.perf_counter()
    work = atoms.copy()
    calc = make_calculator(setting, atoms=work)
    work.calc = calc
    energy = float(work.get_potential_energy())
    forces = work.get_forces(apply_constraint=False)
    idx = surface_metal_atoms(work)
    extra = dband_from_calc(calc, idx)
    extra["dband_symbols"] = [work[i].symbol for i in idx]
    return CalcResult(freeze(work, energy, forces), energy, max_force(work), 0, True,
                      time.perf_counter() - t0, extra)


@task("dband")
def dband_task(atoms: Atoms, ctx: TaskContext) -> CalcResult:
    return dband_job(atoms, ctx.setting)
