"""Calculations as plain functions (quacc-style): Atoms and settings in, result out.

These run inside a worker (this process, a local process pool, or a batch job); they never
touch the store.  A result carries everything the store needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from .calculators import CalculatorSetting, make_calculator

__all__ = ["RelaxSettings", "CalcResult", "relax", "fit_bulk", "OPTIMIZERS"]

OPTIMIZERS = ("BFGS", "LBFGS", "FIRE", "BFGSLineSearch", "GPMin")


@dataclass(frozen=True)
class RelaxSettings:
    optimizer: str = "BFGS"
    fmax: float = 0.05  # eV/A
    steps: int = 300

    def as_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "fmax": self.fmax, "steps": self.steps}


@dataclass
class CalcResult:
    atoms: Atoms
    energy: float
    fmax: float
    steps: int
    converged: bool
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _optimizer(name: str):
    import ase.optimize as opt

    if name not in OPTIMIZERS:
        raise ValueError(f"relax.optimizer: {name!r} unknown; choose one of {OPTIMIZERS}")
    return getattr(opt, name)


def _max_force(atoms: Atoms) -> float:
    f = atoms.get_forces()  # constrained forces (fixed atoms zeroed)
    return float(np.sqrt((f**2).sum(axis=1)).max()) if len(f) else 0.0


def _freeze(atoms: Atoms, energy: float, forces: np.ndarray) -> Atoms:
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, energy=energy, forces=forces)
    return out


def relax(atoms: Atoms, setting: CalculatorSetting, settings: RelaxSettings = RelaxSettings()) -> CalcResult:
    """Relax ``atoms`` with the calculator ``setting``; steps=0 means single point."""
    t0 = time.perf_counter()
    work = atoms.copy()
    work.calc = make_calculator(setting, periodic=bool(np.any(work.pbc)))
    nsteps = 0
    if settings.steps > 0:
        Opt = _optimizer(settings.optimizer)
        dyn = Opt(work, logfile=None)
        converged = bool(dyn.run(fmax=settings.fmax, steps=settings.steps))
        nsteps = int(dyn.nsteps)
    energy = float(work.get_potential_energy())
    forces = work.get_forces(apply_constraint=False)
    fmax = _max_force(work)
    if settings.steps <= 0:
        converged = True
    return CalcResult(_freeze(work, energy, forces), energy, fmax, nsteps, converged, time.perf_counter() - t0)


def fit_bulk(atoms: Atoms, setting: CalculatorSetting, strain: float = 0.04, points: int = 7) -> CalcResult:
    """Equation-of-state fit (Birch-Murnaghan) of an isotropically strained bulk cell.

    Returns the cell rescaled to the fitted equilibrium volume with its energy; ``extra`` holds
    the scale factor, the bulk modulus (GPa) and the energies of the fit.
    """
    from ase.eos import EquationOfState
    from ase.units import GPa

    t0 = time.perf_counter()
    calc = make_calculator(setting, periodic=True)
    cell0 = atoms.get_cell()
    volumes, energies = [], []
    for x in np.linspace(1 - strain, 1 + strain, points):
        a = atoms.copy()
        a.set_cell(cell0 * x, scale_atoms=True)
        a.calc = calc
        volumes.append(a.get_volume())
        energies.append(a.get_potential_energy())
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, B = eos.fit()
    scale = float((v0 / atoms.get_volume()) ** (1 / 3))
    out = atoms.copy()
    out.set_cell(cell0 * scale, scale_atoms=True)
    out.calc = calc
    energy = float(out.get_potential_energy())
    forces = out.get_forces()
    # The fitted minimum must lie inside the sampled range, else the fit extrapolates.
    inside = min(volumes) < v0 < max(volumes)
    return CalcResult(
        _freeze(out, energy, forces),
        energy,
        _max_force(out),
        points,
        bool(inside),
        time.perf_counter() - t0,
        {"scale": scale, "bulk_modulus_GPa": float(B / GPa), "eos_volumes": volumes, "eos_energies": energies},
    )
