"""Many relaxations per model call: the optimizers of :func:`descriptors.tasks.relax.relax`
stepped side by side, with the forces of every unfinished structure from one batched call.

Each structure keeps its own optimizer object (the same class, settings and step rule as a
single relaxation: ``run_free_bfgs``'s loop for BFGS and BFGS-soft), its own trajectory (the same
frames, the same restart from the last frame with the Hessian replayed) and its own step budget,
so a batched relaxation takes the steps and reaches the minimum the single one would, up to the
round-off of the model's batched inference.  For CHGNet the calls go through
``calculators.ml.CHGNetEF`` (graph reused while the atoms move less than a skin, energy and forces
only); calculators without a batch predictor are called one structure after the other.

:func:`run_jobs_batched` is the worker side of the engine's batch mode (engine/batch.py): jobs in,
one ``JobOutcome`` per job out, exactly as :func:`descriptors.tasks.base.run_job` would give them.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.calculators import CalculatorSetting, make_calculator
from descriptors.tasks.base import (
    REASON_NOT_CONVERGED,
    CalcResult,
    JobOutcome,
    RelaxSettings,
    _where,
    classify,
    run_job,
    traceback_tail,
    trajectory_path,
)
from descriptors.tasks.relax import (
    _optimizer,
    _replay_bfgs,
    _restart_from,
    freeze,
    make_optimizer,
    max_force,
)

__all__ = ["relax_batch", "batch_predictor", "Predictor", "batchable", "run_jobs_batched", "BATCH_KINDS"]

#: list of Atoms (and their slots: which relaxation each is) -> list of (energy eV, forces eV/A (n, 3)),
#: forces without constraints applied
Predictor = Callable[..., list[tuple[float, np.ndarray]]]
#: job kinds the engine relaxes in batches (relaxations of slabs; gas and bulk jobs are few)
BATCH_KINDS = ("adsorbate", "clean")
#: calculators with a batch predictor that is cheaper per structure than their ASE calculator
FAST = ("chgnet",)


def _serial_predictor(setting: CalculatorSetting) -> Predictor:
    def predict(structures: list[Atoms], slots=None) -> list[tuple[float, np.ndarray]]:
        out = []
        for a in structures:
            w = a.copy()
            w.calc = make_calculator(setting, atoms=w)
            out.append((float(w.get_potential_energy()), w.get_forces(apply_constraint=False).copy()))
        return out

    return predict


def batch_predictor(setting: CalculatorSetting, batch_size: int = 16) -> tuple[Predictor, bool]:
    """(predictor, fast): CHGNet's energy-and-force path (``calculators.ml.CHGNetEF``: graph reuse,
    no stress or magnetic moments), else a loop over the structures with the calculator."""
    if setting.name == "chgnet":
        from descriptors.calculators.ml import chgnet_ef

        return chgnet_ef(dict(setting.params)), True
    return _serial_predictor(setting), False


def batchable(setting: CalculatorSetting, settings: RelaxSettings, kind: str) -> bool:
    """Whether the engine relaxes jobs of ``kind`` in batches: a fast predictor, a relaxation (not a
    single point) and an optimizer whose restart is rebuilt from the trajectory (BFGS, BFGS-soft)."""
    from descriptors.tasks.optimizers import FreeBFGS

    if setting.name not in FAST or kind not in BATCH_KINDS or settings.steps <= 0:
        return False
    return issubclass(_optimizer(settings.for_kind(kind).optimizer), FreeBFGS)


class _Run:
    """One structure's relaxation inside a batch: its Atoms, optimizer, trajectory and counters."""

    def __init__(self, atoms: Atoms, settings: RelaxSettings, traj: Path | None):
        from descriptors.tasks.optimizers import runs_free

        self.t0 = time.perf_counter()
        start, self.done, frames = atoms, 0, []
        self.traj = None
        if traj is not None:
            traj.parent.mkdir(parents=True, exist_ok=True)
            if traj.exists():
                start, self.done, frames = _restart_from(traj, atoms)
            traj.with_suffix(".opt.json").unlink(missing_ok=True)
        self.work = start.copy()
        self.work.info = dict(self.work.info)
        self.dyn = make_optimizer(settings.optimizer, self.work)
        self.optimizer = settings.optimizer  # "auto" already resolved for this structure
        self.tight = runs_free(self.dyn)
        if frames:
            _replay_bfgs(self.dyn, frames)
        if traj is not None:
            from descriptors.tasks.trajwriter import LeanTrajectoryWriter

            self.traj = LeanTrajectoryWriter(str(traj), "a", properties=["energy", "forces"])
        self.remaining = max(settings.steps - self.done, 0)
        self.finished = False
        self.converged = False
        self.calls = 0

    def receive(self, energy: float, forces: np.ndarray, fmax: float) -> None:
        """The forces of the current geometry: write the frame, test convergence, or take a step."""
        w = self.work
        w.calc = SinglePointCalculator(w, energy=energy, forces=forces)
        self.calls += 1
        if self.traj is not None and (self.dyn.nsteps > 0 or len(self.traj) == 0):
            self.traj.write(w, energy=energy, forces=forces)
        self.converged = max_force(w) < fmax
        if self.converged or self.dyn.nsteps >= self.remaining:
            self.finish()
            return
        if self.tight:  # run_free_bfgs's step
            pos = w.get_positions().ravel()
            dpos, steplengths = self.dyn.prepare_step(pos, -w.get_forces().ravel())
            dpos = self.dyn.determine_step(dpos, steplengths)
            w.set_positions((pos + dpos).reshape(-1, 3))
        else:
            self.dyn.step()
        self.dyn.nsteps += 1

    def finish(self) -> None:
        self.finished = True
        if self.traj is not None:
            self.traj.close()
            self.traj = None

    def result(self, seconds: float) -> CalcResult:
        w = self.work
        energy = float(w.get_potential_energy())
        forces = w.get_forces(apply_constraint=False)
        info = {"restarted_from_step": self.done} if self.done else {}
        info["optimizer"] = self.optimizer
        return CalcResult(freeze(w, energy, forces), energy, max_force(w), self.done + int(self.dyn.nsteps),
                          self.converged, seconds, info)


def relax_batch(
    structures: list[Atoms],
    setting: CalculatorSetting,
    settings: RelaxSettings = RelaxSettings(),
    predictor: Predictor | None = None,
    batch_size: int = 16,
    trajectories: list[Path | None] | None = None,
    kind: str = "adsorbate",
    stats: dict[str, Any] | None = None,
) -> list[CalcResult]:
    """Relax every structure with ``settings`` (optimizer, fmax, steps; "auto" resolved for
    ``kind``); one predictor call per optimizer step for all structures still running.
    ``trajectories``: one file (or None) per structure, written and restarted from as by ``relax``.
    Returns a CalcResult per structure, with what ``relax`` returns; ``stats`` (a dict) receives
    the number of model calls and force evaluations.  Each result's ``seconds`` is its share of the
    batch's wall time (by force evaluations)."""
    auto = settings
    settings = settings.for_kind(kind)
    t0 = time.perf_counter()
    if predictor is None:
        predictor, _ = batch_predictor(setting, batch_size)
    trajectories = trajectories or [None] * len(structures)
    if settings.steps <= 0:  # single points
        pred = predictor([a.copy() for a in structures], slots=None)
        out = []
        for a, (e, f) in zip(structures, pred):
            w = a.copy()
            w.calc = SinglePointCalculator(w, energy=e, forces=f)
            out.append(CalcResult(freeze(w, e, f), e, max_force(w), 0, True, 0.0, {}))
        return out
    runs: list[_Run] = []
    try:
        for a, traj in zip(structures, trajectories):
            runs.append(_Run(a, auto.for_kind(kind, a), None if traj is None else Path(traj)))
        calls = 0
        while True:
            active = [i for i, r in enumerate(runs) if not r.finished]
            if not active:
                break
            for lo in range(0, len(active), batch_size):
                chunk = active[lo:lo + batch_size]
                pred = predictor([runs[i].work for i in chunk], slots=[id(runs[i]) for i in chunk])
                calls += 1
                for i, (e, f) in zip(chunk, pred):
                    runs[i].receive(float(e), np.asarray(f, dtype=float), settings.fmax)
    finally:
        for r in runs:
            r.finish()
        forget = getattr(predictor, "forget", None)
        if forget is not None:
            for r in runs:
                forget(id(r))
    seconds = time.perf_counter() - t0
    total = max(1, sum(r.calls for r in runs))
    if stats is not None:
        stats.update(model_calls=calls, force_evaluations=total, seconds=seconds)
    return [r.result(seconds * r.calls / total) for r in runs]


def run_jobs_batched(
    jobs: list[tuple[str, str, Atoms]],
    setting: CalculatorSetting,
    relax_settings: RelaxSettings,
    traj_dir: str | Path | None = None,
    batch_size: int = 16,
) -> list[JobOutcome]:
    """Worker entry point of the engine's batch mode: ``(job_id, kind, atoms)`` of one kind in, one
    ``JobOutcome`` per job out, as ``run_job`` gives them (same trajectories, restart, row data,
    failure reasons).  If the batch raises (a calculator error in one structure), every job of it is
    run again on its own with ``run_job``, so each failure is its own job's, with its own reason
    (the single runs restart from the trajectories the batch wrote)."""
    if not jobs:
        return []
    kind = jobs[0][1]
    assert all(k == kind for _, k, _ in jobs), "one kind per batch"
    atoms = []
    for job_id_, _, a in jobs:
        a = a.copy()
        a.info["job_id"] = job_id_
        atoms.append(a)
    trajs = [trajectory_path(traj_dir, job_id_) for job_id_, _, _ in jobs]
    try:
        results = relax_batch(atoms, setting, relax_settings, batch_size=batch_size, trajectories=trajs, kind=kind)
    except Exception:
        return [run_job(job_id_, k, a, setting, relax_settings, traj_dir=traj_dir) for job_id_, k, a in jobs]
    where = _where()
    out = []
    for (job_id_, _, _), result in zip(jobs, results):
        if not np.isfinite(result.energy):
            err = FloatingPointError(f"non-finite energy {result.energy}")
            out.append(JobOutcome(job_id_, False, None, f"{type(err).__name__}: {err}"[:500],
                                  traceback_tail("".join(traceback.format_exception(err))), reason=classify(err),
                                  last={"steps": result.steps, "seconds": round(result.seconds, 3)}))
            continue
        result.extra.update(where)
        out.append(JobOutcome(job_id_, True, result, reason=None if result.converged else REASON_NOT_CONVERGED))
    return out
