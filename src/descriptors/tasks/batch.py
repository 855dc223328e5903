"""Many relaxations per model call: the optimizers of :func:`descriptors.tasks.relax.relax`
stepped side by side, with the forces of every unfinished structure from one batched call.

For an ML potential a force call on one small slab is mostly fixed cost (graph construction,
Python, small tensors); CHGNet's ``predict_structure`` on a list shares it across the batch.
Each structure keeps its own optimizer object (the same class, settings and step rule as a
single relaxation), so a batched relaxation takes exactly the steps and reaches the minimum the
single one would, up to the round-off of batched inference.  Calculators without a batch
predictor are called one structure after the other (same results, no speed-up).

:func:`relax_batch` is what a future engine batch mode calls with the jobs of one stage; it
returns one :class:`CalcResult` per structure, in order.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.calculators import CalculatorSetting, make_calculator
from descriptors.tasks.base import CalcResult, RelaxSettings
from descriptors.tasks.relax import freeze, make_optimizer, max_force

__all__ = ["relax_batch", "batch_predictor", "Predictor"]

#: list of Atoms -> list of (energy eV, forces eV/A (n, 3)), forces without constraints applied
Predictor = Callable[[list[Atoms]], list[tuple[float, np.ndarray]]]


def _chgnet_predictor(calc, batch_size: int) -> Predictor:
    from pymatgen.io.ase import AseAtomsAdaptor

    model = calc.model

    def predict(structures: list[Atoms]) -> list[tuple[float, np.ndarray]]:
        pmg = [AseAtomsAdaptor.get_structure(a) for a in structures]
        preds = model.predict_structure(pmg, task="ef", batch_size=batch_size)
        if isinstance(preds, dict):
            preds = [preds]
        out = []
        for a, p in zip(structures, preds):
            factor = len(a) if model.is_intensive else 1  # as CHGNetCalculator: e is per atom
            out.append((float(p["e"]) * factor, np.asarray(p["f"], dtype=float)))
        return out

    return predict


def _serial_predictor(setting: CalculatorSetting) -> Predictor:
    def predict(structures: list[Atoms]) -> list[tuple[float, np.ndarray]]:
        out = []
        for a in structures:
            w = a.copy()
            w.calc = make_calculator(setting, atoms=w)
            out.append((float(w.get_potential_energy()), w.get_forces(apply_constraint=False).copy()))
        return out

    return predict


def batch_predictor(setting: CalculatorSetting, batch_size: int = 16) -> tuple[Predictor, bool]:
    """(predictor, batched): the calculator's own batch prediction where it has one (CHGNet),
    else a loop over the structures."""
    if setting.name == "chgnet":
        with_calc = Atoms("H", positions=[[0, 0, 0]], cell=[5, 5, 5], pbc=True)
        calc = make_calculator(setting, atoms=with_calc)
        return _chgnet_predictor(calc, batch_size), True
    return _serial_predictor(setting), False


def relax_batch(
    structures: list[Atoms],
    setting: CalculatorSetting,
    settings: RelaxSettings = RelaxSettings(),
    predictor: Predictor | None = None,
    batch_size: int = 16,
) -> list[CalcResult]:
    """Relax every structure with ``settings`` (optimizer, fmax, steps); one predictor call per
    optimizer step for all structures still running.  Returns a CalcResult per structure
    (adsorbate placements: "auto" is BFGS-soft here)."""
    settings = settings.for_kind("adsorbate")
    t0 = time.perf_counter()
    if predictor is None:
        predictor, _ = batch_predictor(setting, batch_size)
    work = [a.copy() for a in structures]
    for a in work:
        a.info = dict(a.info)
    opts = [make_optimizer(settings.optimizer, a) if settings.steps > 0 else None for a in work]
    state = [{"steps": 0, "done": False, "converged": settings.steps <= 0} for _ in work]
    calls = 0
    while True:
        active = [i for i, s in enumerate(state) if not s["done"]] if settings.steps > 0 else list(range(len(work)))
        if not active:
            break
        for i, (e, f) in zip(active, predictor([work[i] for i in active])):
            work[i].calc = SinglePointCalculator(work[i], energy=e, forces=f)
        calls += 1
        if settings.steps <= 0:
            break
        for i in active:
            s = state[i]
            if max_force(work[i]) < settings.fmax:
                s["done"], s["converged"] = True, True
            elif s["steps"] >= settings.steps:
                s["done"] = True
            else:
                opts[i].step()  # reads the forces just predicted, moves the atoms
                opts[i].nsteps += 1
                s["steps"] += 1
    seconds = time.perf_counter() - t0
    out = []
    for a, s in zip(work, state):
        energy = float(a.get_potential_energy())
        forces = a.get_forces(apply_constraint=False)
        out.append(CalcResult(freeze(a, energy, forces), energy, max_force(a), s["steps"], s["converged"],
                              seconds / len(work), {"batched": len(work), "batch_calls": calls}))
    return out
