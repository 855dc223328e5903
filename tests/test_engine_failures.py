"""Failures on real local workers: each recorded with status and reason, the rest completes.

One screen on the local engine (2 workers) with: jobs that converge, a calculator that
raises (EMT has no Fe), an optimizer that runs out of steps, an SCF that does not converge
(GFN1-xTB with one SCF iteration), and a relaxation whose worker is SIGKILLed mid-way (as a
wall-time limit would); the killed relaxation then restarts from its trajectory.
"""

import os
import signal
import threading
import time

import numpy as np
from ase import Atoms
from ase.build import fcc111, molecule
from ase.constraints import FixAtoms

from descriptors.calculators.base import CalculatorSetting
from descriptors.engine.engine import Engine
from descriptors.engine.jobs import Job
from descriptors.report.status import format_status, summarize
from descriptors.specs import EngineSpec
from descriptors.store.db import Store
from descriptors.tasks import trajectory_path
from descriptors.tasks.relax import RelaxSettings, read_trajectory


def _job(name, atoms, kind="clean"):
    return Job(kind, {"test": name, "n": len(atoms), "formula": atoms.get_chemical_formula()}, {"catalyst": name}, atoms)


def _slab(rattle, seed):
    s = fcc111("Cu", (4, 4, 4), a=3.61, vacuum=6.0)
    s.pbc = True
    s.set_constraint(FixAtoms(mask=s.get_tags() >= 3))
    s.rattle(rattle, seed=seed)
    return s


def _pids_holding(path):
    """Processes that have ``path`` open (the worker writing that trajectory)."""
    target = os.path.realpath(path)
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.path.realpath(f"/proc/{pid}/fd/{fd}") == target:
                    pids.append(int(pid))
                    break
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


def test_failures_recorded_and_killed_relaxation_restarts(tmp_path):
    store = Store(tmp_path / "screen.db")
    emt = CalculatorSetting("emt")
    relax = RelaxSettings("BFGS", 0.05, 200)
    ok_jobs = [_job("H2", molecule("H2")), _job("N2", molecule("N2")),
               _job("Cu slab", _slab(0.05, 1))]
    bad = Atoms("Fe2", positions=[[0, 0, 0], [0, 0, 2.0]], cell=[8, 8, 8], pbc=True)
    raising = _job("Fe2 (no EMT parameters)", bad)
    # retries = 0: a worker killed once is recorded as worker-lost (the default resubmits it twice first,
    # tests/test_runs_never_lie.py)
    local = EngineSpec(type="local", retries=0)
    with Engine(store, emt, relax, workers=2, engine=local, workdir=tmp_path, progress=False) as eng:
        assert eng.kind == "local"
        eng.run(ok_jobs + [raising], "ok and raising")

        # optimizer out of steps: 2 BFGS steps on a rattled slab
        few = eng.derive(emt, RelaxSettings("BFGS", 0.01, 2))
        unconv = _job("rattled slab, 2 steps", _slab(0.15, 2))
        few.run([unconv], "unconverged")

        # SCF that cannot converge: GFN1-xTB limited to one SCF iteration (tblite raises)
        xtb = eng.derive(CalculatorSetting("gfn1-xtb", {"max_iterations": 1, "electronic_temperature": 300.0}),
                         RelaxSettings("BFGS", 0.05, 5))
        cu4 = Atoms("Cu4", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [0, 0, 2.5]])
        scf = _job("Cu4 xtb 1 SCF iteration", cu4)
        xtb.run([scf], "scf")

        # killed mid-relaxation: SIGKILL the worker once its trajectory holds >= 15 frames
        # ASE's own (pure-Python) EMT, the same calculator identity: slow enough per step that the
        # killer sees 15 frames before a vectorised-EMT relaxation could finish on a loaded machine
        slow = eng.derive(CalculatorSetting("emt", {"implementation": "ase"}), RelaxSettings("BFGS", 1e-4, 600))
        victim = _job("slab killed mid-relaxation", _slab(0.2, 3))
        traj = trajectory_path(tmp_path / "trajectories", victim.id)
        killed = {}

        def killer():
            t_end = time.time() + 120
            while time.time() < t_end and "pid" not in killed:
                n_frames = len(read_trajectory(traj)) if traj.exists() else 0
                killed["last_seen_frames"] = n_frames
                if n_frames >= 15:
                    for pid in _pids_holding(traj):
                        os.kill(pid, signal.SIGKILL)
                        killed["pid"] = pid
                time.sleep(0.01)

        th = threading.Thread(target=killer)
        th.start()
        slow.run([victim], "victim")
        th.join()
        assert "pid" in killed, f"the worker relaxing the victim was never found ({killed})"

        rows = {j.id: store.get(j.id) for j in ok_jobs + [raising, unconv, scf, victim]}
        for j in ok_jobs:
            assert rows[j.id].status == "ok" and rows[j.id].max_force < 0.05
        r = rows[raising.id]
        assert r.status == "failed" and r.reason == "calculator-error" and "Fe" in r.error
        assert "Traceback" in r.data["traceback"] and r.seconds >= 0
        r = rows[unconv.id]
        assert r.status == "unconverged" and r.reason == "optimizer-not-converged"
        assert r.steps == 2 and r.max_force > 0.01 and np.isfinite(r.energy)
        r = rows[scf.id]
        assert r.status == "failed" and r.reason == "scf-not-converged", r.error
        r = rows[victim.id]
        assert r.status == "failed" and r.reason == "worker-lost", r.error
        # last state known from the trajectory: energy, fmax and steps of the last frame written
        assert r.steps >= 14 and np.isfinite(r.last_energy) and r.last_fmax > 1e-4
        e_initial = read_trajectory(traj)[0].get_potential_energy()
        assert r.last_energy < e_initial
        assert eng.stats.failed == 1 and xtb.stats.failed == 1 and slow.stats.by_reason == {"worker-lost": 1}

        # status lists them grouped by reason
        s = summarize(tmp_path)
        assert set(s["failed"]) == {"calculator-error", "scf-not-converged", "worker-lost"}
        assert len(s["done"]) == 3 and len(s["unconverged"]) == 1 and not s["pending"]
        text = format_status(s)
        assert "worker-lost: 1" in text and "slab killed mid-relaxation" in text

        # retry: the killed relaxation restarts from its last geometry, not from scratch
        frames_before = read_trajectory(traj)
        n = len(frames_before)
        retry = slow.derive(emt, RelaxSettings("BFGS", 1e-4, 600))
        retry.retry_failed = True
        retry.run([victim], "victim again")
        r = store.get(victim.id)
        assert r.status in ("ok", "unconverged") and r.restarted_from_step == n - 1
        frames = read_trajectory(traj)
        # the restarted run continues the trajectory: its first step starts at the last geometry
        # written before the kill (one BFGS step away), far from the rattled start
        first_new = frames[n].positions
        d_last = np.abs(first_new - frames_before[-1].positions).max()
        d_start = np.abs(first_new - victim.atoms.positions).max()
        assert d_last < 0.05 < d_start, (d_last, d_start)
        assert frames[n].get_potential_energy() < frames_before[0].get_potential_energy() - 1.0
        assert r.steps == len(frames) - 1 and r.steps <= 600
        assert store.count(job_id=victim.id) == 1
