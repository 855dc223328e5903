"""Bulk lattice constants: an equation-of-state fit of an isotropically strained cell."""

from __future__ import annotations

import time

import numpy as np
from ase import Atoms

from descriptors.calculators import CalculatorSetting, make_calculator
from descriptors.tasks.base import REASON_EOS_RANGE, CalcResult, TaskContext, task
from descriptors.tasks.relax import freeze, max_force

__all__ = ["fit_bulk"]


def fit_bulk(atoms: Atoms, setting: CalculatorSetting, strain: float = 0.04, points: int = 7) -> CalcResult:
    """Equation-of-state fit (Birch-Murnaghan) of an isotropically strained bulk cell.

    Returns the cell rescaled to the fitted equilibrium volume with its energy; ``extra`` holds
    the scale factor, the bulk modulus (GPa) and the energies of the fit.
    """
    from ase.eos import EquationOfState
    from ase.units import GPa

    t0 = time.perf_counter()
    atoms = atoms.copy()  # the calculator may set initial magnetic moments on its structure
    calc = make_calculator(setting, atoms=atoms)
    cell0 = atoms.get_cell()
    volumes, energies = [], []
    for x in np.linspace(1 - strain, 1 + strain, points):
        a = atoms.copy()
        a.set_cell(cell0 * x, scale_atoms=True)
        a.calc = calc
        volumes.append(float(a.get_volume()))
        energies.append(float(a.get_potential_energy()))  # float64: ML codes return numpy.float32
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, B = eos.fit()
    scale = float((v0 / atoms.get_volume()) ** (1 / 3))
    out = atoms.copy()
    out.set_cell(cell0 * scale, scale_atoms=True)
    out.calc = calc
    energy = float(out.get_potential_energy())
    forces = np.asarray(out.get_forces(), dtype=np.float64)
    # The fitted minimum must lie inside the sampled range, else the fit extrapolates.
    inside = min(volumes) < v0 < max(volumes)
    return CalcResult(
        freeze(out, energy, forces),
        energy,
        max_force(out),
        points,
        bool(inside),
        time.perf_counter() - t0,
        {"scale": scale, "bulk_modulus_GPa": float(B / GPa), "eos_volumes": volumes, "eos_energies": energies},
        reason=None if inside else REASON_EOS_RANGE,
    )


@task("bulk")
def bulk_task(atoms: Atoms, ctx: TaskContext) -> CalcResult:
    return fit_bulk(atoms, ctx.setting)
