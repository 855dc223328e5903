"""Calculations as plain functions (quacc-style): Atoms and settings in, result out.

These run inside a worker (this process, a local process pool, or a batch job); they never
touch the store.  A result carries everything the store needs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.calculators import CalculatorSetting, make_calculator
from descriptors.tasks.base import (
    OPTIMIZERS,
    CalcResult,
    RelaxSettings,
    TaskContext,
    task,
)

__all__ = ["RelaxSettings", "CalcResult", "relax", "read_trajectory", "max_force", "freeze", "OPTIMIZERS", "make_optimizer"]


def _optimizer(name: str):
    import ase.optimize as opt

    from descriptors.tasks.optimizers import OWN

    if name not in OPTIMIZERS:
        raise ValueError(f"relax.optimizer: {name!r} unknown; choose one of {OPTIMIZERS}")
    return OWN[name] if name in OWN else getattr(opt, name)


def make_optimizer(name: str, atoms: Atoms, **kw):
    """The optimizer ``name`` (an ASE optimizer or one of tasks/optimizers.py) on ``atoms``, silent."""
    return _optimizer(name)(atoms, logfile=None, **kw)


def max_force(atoms: Atoms) -> float:
    f = atoms.get_forces()  # constrained forces (fixed atoms zeroed)
    return float(np.sqrt((f**2).sum(axis=1)).max()) if len(f) else 0.0


def freeze(atoms: Atoms, energy: float, forces: np.ndarray) -> Atoms:
    """A copy with its energy and forces as float64 (ML codes give numpy.float32, which ase.db
    cannot encode)."""
    out = atoms.copy()
    out.calc = SinglePointCalculator(out, energy=float(energy), forces=np.asarray(forces, dtype=np.float64))
    return out


def read_trajectory(path: str | Path) -> list[Atoms]:
    """Every readable frame of an ASE trajectory; a frame cut short by a kill ends the list."""
    from ase.io.trajectory import Trajectory

    frames: list[Atoms] = []
    try:
        with Trajectory(str(path)) as traj:
            for i in range(len(traj)):
                frames.append(traj[i])
    except Exception:  # truncated or corrupt tail: keep what was read
        pass
    return frames


def _restart_from(path: Path, atoms: Atoms) -> tuple[Atoms, int, list[Atoms]]:
    """Start geometry and steps already taken, from the trajectory of an earlier, interrupted run.

    The readable frames are rewritten to a fresh file so that appending never follows a frame
    that a kill cut short.  Returns (atoms, 0) when there is nothing usable.
    """
    from ase.io.trajectory import Trajectory

    frames = read_trajectory(path)
    ok = [f for f in frames if len(f) == len(atoms) and (f.numbers == atoms.numbers).all()]
    if not ok:
        path.unlink(missing_ok=True)
        return atoms, 0, []
    tmp = path.with_suffix(".tmp")
    with Trajectory(str(tmp), "w") as out:
        for f in ok:
            out.write(f)
    tmp.replace(path)
    start = atoms.copy()
    start.positions = ok[-1].positions
    # the optimizer writes the start geometry as frame 0, and every step appends one frame
    return start, len(ok) - 1, ok


def _replay_bfgs(dyn, frames: list[Atoms]) -> None:
    """Set a fresh BFGS optimizer to the state of the run that wrote ``frames``: every step of BFGS
    updates its Hessian with (positions, constrained forces) of the frame it starts from, so the
    same updates in the same order give the same Hessian, to the last bit."""
    pos0 = f0 = None
    for fr in frames:
        pos, f = fr.positions.ravel().copy(), fr.get_forces().ravel().copy()
        dyn.update(pos, f, pos0, f0)
        pos0, f0 = pos, f
    dyn.pos0, dyn.forces0 = pos0, f0


def _fmax(atoms: Atoms, forces: np.ndarray) -> float:
    f = forces.copy()
    for c in atoms.constraints:
        c.adjust_forces(atoms, f)
    return float(np.sqrt((f**2).sum(axis=1)).max()) if len(f) else 0.0


def fast_state_check(calc) -> None:
    """Make ``calc.check_state`` answer "nothing changed" from an exact comparison of the arrays
    first: ASE compares positions, cell, ... with ``allclose`` at every property read (a dozen per
    optimizer step: ~1 ms each on 40 atoms).  Exactly equal arrays are what ``allclose`` accepts
    too; with everything but the positions exactly equal and ASE's own ``check_state`` (not a
    calculator's override), the positions get ASE's test (``allclose``, rtol 0, atol ``tol``) alone;
    anything else goes to ASE's own comparison, so what counts as a change is unchanged."""
    original = getattr(calc, "check_state", None)
    if original is None or getattr(original, "_exact_first", False):
        return

    from ase.calculators.calculator import Calculator

    # ASE's own comparison, nothing overridden: a change of positions only is answered here too
    base = getattr(type(calc), "check_state", None) is Calculator.check_state

    verified: list = [None]  # the last header found equal by ASE's array_equal, as bytes

    def header(a) -> tuple:
        arr = a.arrays
        m, c = arr.get("initial_magmoms"), arr.get("initial_charges")
        return (arr["numbers"].tobytes(), a.cell.array.tobytes(), a.pbc.tobytes(),
                None if m is None else m.tobytes(), None if c is None else c.tobytes())

    def same_header(old, atoms) -> bool:
        """numbers, cell, pbc, magnetic moments and charges equal (array_equal); an optimizer step
        changes none of them, so once found equal their bytes answer (the same bytes are equal
        arrays)."""
        h = header(atoms)
        if h == verified[0] and header(old) == h:
            return True
        if (np.array_equal(old.numbers, atoms.numbers) and np.array_equal(old.cell.array, atoms.cell.array)
                and np.array_equal(old.pbc, atoms.pbc)
                and all(np.array_equal(old.arrays.get(k), atoms.arrays.get(k)) if k in old.arrays or k in atoms.arrays
                        else True for k in ("initial_magmoms", "initial_charges"))):
            if header(old) == h:
                verified[0] = h
            return True
        return False

    def check_state(atoms, tol=1e-15):
        old = calc.atoms
        if old is not None and len(old) == len(atoms) and same_header(old, atoms):
            p0, p1 = old.arrays["positions"], atoms.arrays["positions"]
            if p0.shape == p1.shape and (p0 == p1).all():  # np.array_equal
                return []
            if base:  # compare_atoms' test for positions: allclose(rtol=0, atol=tol)
                return [] if (np.abs(p0 - p1) <= tol).all() else ["positions"]
        return original(atoms, tol)

    check_state._exact_first = True
    calc.check_state = check_state


def _state_path(traj_path: Path | None) -> Path | None:
    return None if traj_path is None else traj_path.with_suffix(".opt.json")


def _atomic_dump(path: Path):
    """The optimizer's ``dump``, written to a temporary file and renamed over the state file."""
    import os

    from ase.io.jsonio import write_json

    def dump(data) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as fd:
            write_json(fd, data)
        os.replace(tmp, path)

    return dump


def _readable_state(path: Path | None) -> bool:
    if path is None or not path.is_file():
        return False
    try:
        from ase.io.jsonio import read_json

        with open(path) as fd:
            read_json(fd)
        return True
    except Exception:
        return False


def relax(
    atoms: Atoms,
    setting: CalculatorSetting,
    settings: RelaxSettings = RelaxSettings(),
    trajectory: str | Path | None = None,
    progress: dict[str, Any] | None = None,
    kind: str = "adsorbate",
    own: bool = False,
) -> CalcResult:
    """Relax ``atoms`` with the calculator ``setting``; steps=0 means single point.

    ``trajectory``: file that receives every optimizer step.  If it already holds frames of this
    structure (a run killed by a wall-time limit), the relaxation restarts from its last geometry
    and the step budget counts the steps already taken.  ``progress`` (a dict) is updated after
    every step with the last energy, fmax and step count, so a caller still knows them when the
    calculator raises.  ``kind``: the job kind "auto" resolves the optimizer for (``RelaxSettings.for_kind``).
    ``own``: ``atoms`` is the caller's to give (``run_job``'s private copy): relaxed and returned
    as the result's structure instead of a copy.
    """
    settings = settings.for_kind(kind, atoms)
    t0 = time.perf_counter()
    start, done, frames = atoms, 0, []
    traj_path = Path(trajectory) if trajectory else None
    state = _state_path(traj_path)
    if traj_path is not None and settings.steps > 0:
        traj_path.parent.mkdir(parents=True, exist_ok=True)
        if traj_path.exists():
            start, done, frames = _restart_from(traj_path, atoms)
        if not done or not _readable_state(state):
            state.unlink(missing_ok=True)  # no restart point, or a state file cut short by a kill
    work = start if own or start is not atoms else atoms.copy()  # ours: relaxed in place
    work.calc = make_calculator(setting, atoms=work)
    fast_state_check(work.calc)
    info = {"restarted_from_step": done} if done else {}
    if progress is not None:
        progress.update(steps=done, energy=None, fmax=None, **info)
    nsteps = 0
    converged = True
    fmax = None  # the largest force of the final geometry, when the optimizer loop has it
    if settings.steps > 0:
        from ase.optimize import BFGS

        from descriptors.tasks.optimizers import run_free_bfgs, runs_free
        from descriptors.tasks.trajwriter import LeanTrajectoryWriter

        kw: dict[str, Any] = {}
        traj = None
        replay = issubclass(_optimizer(settings.optimizer), BFGS)
        if traj_path is not None:
            # one open trajectory for the whole relaxation (ASE reopens a file name at every step);
            # each frame is flushed to the file as it is written, with the energy and forces (what a
            # restart, a lost job's last state and the fine-tuning frames read): ASE would ask the
            # calculator for each of a dozen properties, each a state check
            traj = LeanTrajectoryWriter(str(traj_path), "a", properties=["energy", "forces"])
            kw = {"trajectory": traj}
            if not replay:
                # the optimizer's state (FIRE velocities, ...) saved after every step, so a restarted
                # relaxation takes the same steps as one never interrupted
                kw["restart"] = str(state)
        try:
            dyn = make_optimizer(settings.optimizer, work) if replay else None
            tight = dyn is not None and runs_free(dyn)
            if not tight:
                dyn = make_optimizer(settings.optimizer, work, **kw)
            if traj_path is not None and not replay:
                dyn.dump = _atomic_dump(state)  # a kill mid-write must not leave half a state (then: a reset)
            if replay and frames:
                # BFGS: the Hessian of the interrupted run, rebuilt from its trajectory (the same updates
                # in the same order) instead of a state file written at every step
                _replay_bfgs(dyn, frames)
            observers = []
            if tight and traj is not None:
                def frame():  # the step's own energy and forces, without a property read each
                    res = work.calc.results
                    if "energy" in res and "forces" in res:
                        traj.write(work, energy=res["energy"], forces=res["forces"])
                    else:
                        traj.write(work)
                observers.append(frame)
            if progress is not None:
                def observe():  # the calculator's results of this step, not a new state check
                    res = work.calc.results
                    f = res.get("forces")
                    fm = (dyn.fmax_now if tight else  # run_free_bfgs's own: the same number
                          max_force(work) if f is None else _fmax(work, f))
                    progress.update(steps=done + int(dyn.nsteps), energy=float(res.get("energy", float("nan"))),
                                    fmax=fm)
                observers.append(observe)
            remaining = max(settings.steps - done, 0)
            if tight:
                # BFGS on the free atoms: our own loop (one force read per step, no ASE logging and
                # per-frame optimizer description); ASE writes the start frame only to an empty file
                converged = bool(run_free_bfgs(dyn, settings.fmax, remaining, traj is None or len(traj) == 0,
                                               observers))
            else:
                for fn in observers:
                    dyn.attach(fn, interval=1)
                converged = bool(dyn.run(fmax=settings.fmax, steps=remaining))
            nsteps = done + int(dyn.nsteps)
            if tight:
                fmax = dyn.fmax_now  # max_force(work): the same number
        finally:
            if traj is not None:
                traj.close()
    if state is not None:
        state.unlink(missing_ok=True)
    energy = float(work.get_potential_energy())
    forces = work.get_forces(apply_constraint=False)
    if fmax is None:
        fmax = max_force(work)
    if settings.steps > 0 and not converged:
        converged = fmax < settings.fmax
    # work is this function's own (a copy, or given): frozen in place rather than copied again
    work.calc = SinglePointCalculator(work, energy=energy, forces=np.asarray(forces, dtype=np.float64))
    if settings.steps > 0:  # the optimizer that ran ("auto" resolved), kept with the row's data
        info = {**info, "optimizer": settings.optimizer}
    return CalcResult(work, energy, fmax, nsteps, converged, time.perf_counter() - t0, info)


@task("gas", "clean", "adsorbate")
def relax_task(atoms: Atoms, ctx: TaskContext) -> CalcResult:
    """Relaxation of a gas molecule, a clean model or an adsorbate structure."""
    # run_job's atoms are a private copy: relaxed in place
    return relax(atoms, ctx.setting, ctx.relax, trajectory=ctx.trajectory, progress=ctx.progress, own=True)
