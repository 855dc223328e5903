"""BFGS-soft reaches BFGS's minimum with fewer force calls, resumes from a trajectory,
and relax_batch reproduces single relaxations step for step."""

import sys
from pathlib import Path

import numpy as np
import pytest

from descriptors.calculators import CalculatorSetting
from descriptors.specs import RelaxSpec
from descriptors.tasks.base import OPTIMIZERS, RelaxSettings
from descriptors.tasks.batch import relax_batch
from descriptors.tasks.relax import read_trajectory, relax

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EMT = CalculatorSetting("emt")


@pytest.fixture(scope="module")
def placements():
    from benchmarks.optimizers import initial_geometries

    geoms = initial_geometries(["Cu"], ["111"], ["H", "NO3"])
    # an atom in a hollow, a monodentate and a bidentate NO3: the kinds that differ between optimizers
    pick = [g for g in geoms if g["label"].endswith(("H@fcc", "NO3 O@top", "NO3 O,O@fcc+fcc"))]
    assert len(pick) == 3, [g["label"] for g in geoms]
    return pick


def _counted(atoms, rs):
    from benchmarks import callcount

    callcount.install()
    c0, _ = callcount.snapshot()
    res = relax(atoms, EMT, rs)
    c1, _ = callcount.snapshot()
    return res, c1 - c0


def test_bfgs_soft_reaches_the_bfgs_minimum_with_fewer_calls(placements):
    assert RelaxSpec().optimizer == "auto" and "BFGS-soft" in OPTIMIZERS
    assert RelaxSpec().settings().for_kind("adsorbate").optimizer == "BFGS-soft"
    default = RelaxSettings("BFGS-soft", 0.05, 300)
    ours_calls = bfgs_calls = 0
    for g in placements:
        ours, n_ours = _counted(g["atoms"], default)
        ref, n_ref = _counted(g["atoms"], RelaxSettings("BFGS", default.fmax, default.steps))
        assert ours.converged and ref.converged
        assert ours.energy == pytest.approx(ref.energy, abs=0.01), g["label"]
        ads = list(range(len(g["clean"]), len(g["atoms"])))  # the adsorbate's atoms follow the slab's
        moved = np.linalg.norm(ours.atoms.positions[ads] - ref.atoms.positions[ads], axis=1).max()
        assert moved < 0.3, (g["label"], moved)  # the same site (a neighbouring site is >= 1.4 A away)
        ours_calls += n_ours
        bfgs_calls += n_ref
    assert ours_calls < bfgs_calls


def test_interrupted_relaxation_resumes_to_the_same_minimum(placements, tmp_path):
    g = placements[2]
    default = RelaxSettings("BFGS-soft", 0.05, 300)
    full = relax(g["atoms"], EMT, default)
    traj = tmp_path / "job.traj"
    first = relax(g["atoms"], EMT, RelaxSettings(default.optimizer, default.fmax, 4), trajectory=traj)
    assert not first.converged and len(read_trajectory(traj)) == 5
    again = relax(g["atoms"], EMT, default, trajectory=traj)
    assert again.extra["restarted_from_step"] == 4
    assert again.converged
    assert again.energy == pytest.approx(full.energy, abs=0.01)
    assert np.abs(again.atoms.positions - full.atoms.positions).max() < 0.1


@pytest.mark.parametrize("optimizer", ["BFGS", "BFGS-soft", "auto"])  # auto: H BFGS-model, NO3 BFGS-soft
def test_relax_batch_reproduces_single_relaxations(placements, optimizer):
    rs = RelaxSettings(optimizer, 0.05, 300)
    atoms = [g["atoms"] for g in placements]
    single = [relax(a, EMT, rs) for a in atoms]
    stats = {}
    batched = relax_batch(atoms, EMT, rs, stats=stats)
    for s, b in zip(single, batched):
        assert b.steps == s.steps and b.converged == s.converged
        assert b.energy == pytest.approx(s.energy, abs=1e-8)
        assert np.allclose(b.atoms.positions, s.atoms.positions, atol=1e-8)
        assert b.extra == s.extra  # what a row stores: the same keys as a single relaxation's
    # one model call per optimizer step of the longest relaxation (plus the final forces)
    assert stats["model_calls"] == max(s.steps for s in single) + 1
    assert stats["force_evaluations"] == sum(s.steps + 1 for s in single)


def test_relax_batch_writes_and_restarts_trajectories_as_relax(placements, tmp_path):
    """A batch killed after 4 steps (a step budget of 4 here) leaves the trajectories a single
    relaxation leaves; the next batch restarts from them (Hessian replayed) and ends where one
    uninterrupted single relaxation ends, frame for frame."""
    from ase.io.trajectory import Trajectory

    rs = RelaxSettings("BFGS-soft", 0.05, 300)
    atoms = [g["atoms"] for g in placements]
    ref_trajs = [tmp_path / f"single{i}.traj" for i in range(len(atoms))]
    single = [relax(a, EMT, rs, trajectory=t) for a, t in zip(atoms, ref_trajs)]
    trajs = [tmp_path / f"batch{i}.traj" for i in range(len(atoms))]
    first = relax_batch(atoms, EMT, RelaxSettings(rs.optimizer, rs.fmax, 4), trajectories=trajs)
    assert [len(read_trajectory(t)) for t in trajs] == [5] * len(atoms) and not any(r.converged for r in first)
    again = relax_batch(atoms, EMT, rs, trajectories=trajs)
    for s, b, rt, bt in zip(single, again, ref_trajs, trajs):
        assert b.extra == {"restarted_from_step": 4, "optimizer": "BFGS-soft"} and b.steps == s.steps and b.converged
        assert b.energy == pytest.approx(s.energy, abs=1e-8)
        ref, got = read_trajectory(rt), read_trajectory(bt)
        assert len(ref) == len(got) == s.steps + 1
        assert max(np.abs(x.positions - y.positions).max() for x, y in zip(ref, got)) < 1e-8
        with Trajectory(str(bt)) as t:
            assert t[-1].get_potential_energy() == pytest.approx(s.energy, abs=1e-8)


def test_bfgs_on_free_dofs_takes_ase_bfgs_steps(placements):
    """"BFGS" solves its step on the free degrees of freedom (tasks/optimizers.py FreeBFGS): the
    same relaxation as ASE's BFGS, step for step, to round-off."""
    from ase.optimize import BFGS as ASEBFGS

    from descriptors.calculators import make_calculator

    for g in placements[:4]:
        ours = relax(g["atoms"], EMT, RelaxSettings("BFGS", 0.05, 300))
        a = g["atoms"].copy()
        a.calc = make_calculator(EMT, atoms=a)
        dyn = ASEBFGS(a, logfile=None)
        assert dyn.run(fmax=0.05, steps=300)
        assert ours.steps == dyn.nsteps, g["label"]
        assert np.abs(ours.atoms.positions - a.positions).max() < 1e-6
        assert ours.energy == pytest.approx(a.get_potential_energy(), abs=1e-8)


@pytest.mark.parametrize("indefinite", [False, True])
def test_free_step_is_ases_step_for_any_hessian(indefinite):
    """FreeBFGS's step (Cholesky when the free block is positive definite, else eigh with ASE's
    |eigenvalue| rule) equals ASE BFGS's step from the same Hessian and gradient, to round-off."""
    from ase.build import fcc111
    from ase.calculators.emt import EMT as ASEEMT
    from ase.constraints import FixAtoms
    from ase.optimize import BFGS as ASEBFGS
    from ase.optimize.bfgs import BFGSMethod

    from descriptors.tasks.optimizers import FreeBFGS

    a = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    a.set_constraint(FixAtoms(indices=[x.index for x in a if x.tag == 3]))
    a.calc = ASEEMT()
    n = 3 * len(a)
    free = np.flatnonzero(np.repeat([x.tag != 3 for x in a], 3))
    rng = np.random.default_rng(1)
    m = rng.normal(size=(len(free), len(free)))
    block = m @ m.T + 0.5 * np.eye(len(free))
    if indefinite:
        w, v = np.linalg.eigh(block)
        block = (v * np.where(np.arange(len(w)) % 3 == 0, -w, w)) @ v.T  # a third of the modes negative
    h = np.eye(n) * 70.0
    h[np.ix_(free, free)] = block
    g = np.zeros(n)
    g[free] = rng.normal(size=len(free))
    steps = []
    for cls in (FreeBFGS, ASEBFGS):
        dyn = cls(a, logfile=None)
        dyn.state = BFGSMethod(h.copy())
        pos = a.positions.ravel().copy()
        dyn.pos0, dyn.forces0 = pos, -g  # same configuration: the update is skipped
        steps.append(dyn.prepare_step(pos, g)[0])
    assert np.abs(steps[0] - steps[1]).max() < 1e-9 * np.abs(steps[1]).max()
    if not indefinite:
        assert steps[0] @ g < 0  # positive definite: a descent step


def _screen_rows(spec, out, engine, batch: bool, monkeypatch, workers=1):
    """Run the screen with the engine's batch mode on (EMT made batchable for the test: the worker
    relaxes each batch with tasks.batch.run_jobs_batched) or off; its rows by job id."""
    import descriptors.engine.batch as eb
    import descriptors.tasks.batch as tb
    from descriptors.store.db import Store
    from descriptors.workflows.screen import run_screen

    calls = []
    monkeypatch.setattr(tb, "FAST", ("chgnet", "emt") if batch else ("chgnet",))
    monkeypatch.setattr(eb, "_entry", (lambda f: lambda items, *a: calls.append(len(items)) or f(items, *a))(eb._entry)
                        if engine == "serial" else eb._entry)
    res = run_screen(spec, out=out, progress=False, quiet=True, engine=engine, workers=workers)
    rows = {r.job_id: r for r in Store(out / "screen.db").select()}
    return res, rows, calls


def test_engine_batch_mode_gives_the_rows_of_single_job_mode(tmp_path, monkeypatch):
    """The same screen with the batch mode and without, on the serial engine and the local pool:
    the same job ids, statuses, steps, energies, positions and row fields (EMT is deterministic:
    to round-off); trajectories with one frame per step; a second run computes nothing."""
    from descriptors.specs import parse_spec
    from descriptors.tasks.relax import read_trajectory

    spec = parse_spec({
        "name": "batch-mode", "adsorbates": ["H", "NO"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
        "placement": {"site_kinds": ["hollow", "top"]},
        "calculator": {"name": "emt"}, "relax": {"fmax": 0.05, "steps": 300},
    })
    _, single, none = _screen_rows(spec, tmp_path / "single", "serial", False, monkeypatch)
    assert none == []
    res, batched, calls = _screen_rows(spec, tmp_path / "batched", "serial", True, monkeypatch)
    ads = [r for r in single.values() if r.kind == "adsorbate"]
    assert len(ads) >= 4 and sum(calls) == len(ads) + 1  # every placement, and the clean slab, in batches
    res_local, local, _ = _screen_rows(spec, tmp_path / "local", "local", True, monkeypatch, workers=2)
    for other in (batched, local):
        assert other.keys() == single.keys()
        for jid, s in single.items():
            b = other[jid]
            assert (b.status, b.kind, b.steps, b.converged) == (s.status, s.kind, s.steps, s.converged), jid
            assert b.energy == pytest.approx(s.energy, abs=1e-8)
            assert np.abs(b.toatoms().positions - s.toatoms().positions).max() < 1e-8
            assert set(b.key_value_pairs) == set(s.key_value_pairs)
            assert set(b.data) == set(s.data)
            if s.kind == "adsorbate":
                assert len(read_trajectory(tmp_path / "batched" / "trajectories" / f"{jid}.traj")) == s.steps + 1
    again, _, calls2 = _screen_rows(spec, tmp_path / "batched", "serial", True, monkeypatch)
    assert again.stats["computed"] == 0 and calls2 == []


class _Killed(BaseException):
    """The worker process dies (as by SIGKILL): nothing after this point runs."""


def test_batch_restarts_from_the_trajectories_of_a_killed_batch(tmp_path, monkeypatch):
    """A batch killed after 3 steps leaves its placements' trajectories and no rows; the next run
    computes exactly those jobs, restarting each from its trajectory (restarted_from_step 3), and
    stores the rows of an uninterrupted run."""
    import descriptors.engine.batch as eb
    from descriptors.specs import parse_spec

    spec = parse_spec({
        "name": "batch-kill", "adsorbates": ["H", "NO"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
        "placement": {"site_kinds": ["hollow"]},
        "calculator": {"name": "emt"}, "relax": {"fmax": 0.05, "steps": 300},
    })
    monkeypatch.setattr(eb, "BATCH_SIZE", 32)  # every placement in one batch
    _, ref, _ = _screen_rows(spec, tmp_path / "ref", "serial", True, monkeypatch)
    ads = {jid: r for jid, r in ref.items() if r.kind == "adsorbate"}
    assert len(ads) >= 3 and all(r.steps > 3 for r in ads.values())
    entry = eb._entry

    def killed(items, setting, relax, traj, threads):
        if items[0][1] != "adsorbate":
            return entry(items, setting, relax, traj, threads)
        entry(items, setting, RelaxSettings(relax.optimizer, relax.fmax, 3), traj, threads)  # 3 steps, then dies
        raise _Killed()

    out = tmp_path / "killed"
    monkeypatch.setattr(eb, "_entry", killed)
    import descriptors.tasks.batch as tb

    monkeypatch.setattr(tb, "FAST", ("chgnet", "emt"))
    from descriptors.workflows.screen import run_screen

    with pytest.raises(_Killed):
        run_screen(spec, out=out, progress=False, quiet=True, engine="serial")
    frames = {j: len(read_trajectory(out / "trajectories" / f"{j}.traj")) for j in ads}
    assert set(frames.values()) == {0, 4}, frames  # the first batch killed after 3 steps, the next never started
    monkeypatch.setattr(eb, "_entry", entry)
    res, rows, calls = _screen_rows(spec, out, "serial", True, monkeypatch)
    assert res.stats["computed"] == len(ads) and sum(calls) == len(ads)  # only the lost placements, in batches
    assert rows.keys() == ref.keys()
    for jid, r in ads.items():
        b = rows[jid]
        assert b.get("restarted_from_step") == (3 if frames[jid] else None), jid
        assert (b.steps, b.status) == (r.steps, r.status), jid
        assert b.energy == pytest.approx(r.energy, abs=1e-8)
        assert np.abs(b.toatoms().positions - r.toatoms().positions).max() < 1e-8


def test_worker_killed_mid_batch_its_jobs_restart_on_the_one_job_path(tmp_path, monkeypatch):
    """Local pool, batch mode: the worker relaxing a batch is SIGKILLed mid-way (as a wall-time
    limit would); the batch's jobs go to the engine's one-job path (a new pool, resubmitted), each
    restarts from its trajectory, and the rows are those of an uninterrupted run."""
    import os
    import signal
    import threading
    import time

    from test_engine_failures import _pids_holding, _slab

    import descriptors.tasks.batch as tb
    from descriptors.engine.engine import Engine
    from descriptors.engine.jobs import Job
    from descriptors.specs import EngineSpec
    from descriptors.store.db import Store
    from descriptors.tasks import trajectory_path

    monkeypatch.setattr(tb, "FAST", ("chgnet", "emt"))
    relax_s = RelaxSettings("BFGS", 0.01, 400)
    jobs = [Job("clean", {"test": "batch-kill", "seed": i}, {"catalyst": "Cu"}, _slab(0.12, 10 + i))
            for i in range(3)]
    ref = [relax(j.atoms, EMT, relax_s) for j in jobs]
    traj = trajectory_path(tmp_path / "trajectories", jobs[0].id)
    killed = {}

    def killer():
        t_end = time.time() + 120
        while time.time() < t_end and "pid" not in killed:
            if traj.exists() and len(read_trajectory(traj)) >= 6:
                for pid in _pids_holding(traj):
                    os.kill(pid, signal.SIGKILL)
                    killed["pid"] = pid
            time.sleep(0.01)

    store = Store(tmp_path / "screen.db")
    with Engine(store, EMT, relax_s, workers=2, engine=EngineSpec(type="local"), workdir=tmp_path,
                progress=False) as eng:
        th = threading.Thread(target=killer)
        th.start()
        eng.run(jobs, "clean slabs")
        th.join()
    assert "pid" in killed, "the worker relaxing the batch was never found"
    for job, r in zip(jobs, ref):
        row = store.get(job.id)
        assert row.status == "ok" and row.steps == r.steps, (row.status, row.steps, r.steps)
        assert row.energy == pytest.approx(r.energy, abs=1e-8)
    assert store.get(jobs[0].id).restarted_from_step >= 5  # from its trajectory, not from scratch


@pytest.mark.parametrize("optimizer", ["BFGS", "BFGS-soft"])
def test_free_block_loop_takes_prepare_steps_steps_bit_for_bit(placements, optimizer):
    """run_free_bfgs's loop on the free block (free_step: update, solve, cap on the free degrees of
    freedom alone; forces and positions through the free range) takes the steps of the loop over
    whole vectors (prepare_step + determine_step, Atoms.set_positions, Atoms.get_forces) to the
    last bit: positions, energies, the Hessian, the optimizer's pos0/forces0 and fmax."""
    from descriptors.calculators import make_calculator
    from descriptors.tasks import optimizers
    from descriptors.tasks.relax import make_optimizer

    for g in placements:
        runs = []
        for loop in (optimizers.run_free_bfgs, optimizers._run_free_any):
            a = g["atoms"].copy()
            a.calc = make_calculator(EMT, atoms=a)
            dyn = make_optimizer(optimizer, a)
            seen = []
            conv = loop(dyn, 0.05, 300, True, [lambda: seen.append((a.positions.tobytes(), a.calc.results["energy"],
                                                                    dyn.fmax_now))])
            runs.append((conv, dyn.nsteps, seen, dyn.state.hessian.tobytes(), dyn.pos0.tobytes(),
                         dyn.forces0.tobytes()))
        assert runs[0][1] > 5 and runs[0][0]
        assert runs[0] == runs[1], g["label"]
        fmax = np.linalg.norm(a.get_forces(), axis=1).max()
        assert runs[0][2][-1][2] == fmax < 0.05


def test_float32_forces_take_the_whole_vector_steps(placements):
    """Forces in float32 (ML codes) make ASE's step float32 too (dpos takes the gradient's dtype):
    run_free_bfgs then takes prepare_step + determine_step on whole vectors, the steps of ASE's
    loop (written out here), bit for bit."""
    from ase.calculators.calculator import Calculator, all_changes

    from descriptors.calculators import make_calculator
    from descriptors.tasks import optimizers
    from descriptors.tasks.relax import make_optimizer

    class Float32(Calculator):
        implemented_properties = ["energy", "forces"]

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            a = atoms.copy()
            a.calc = self.inner
            self.results = {"energy": np.float32(a.get_potential_energy()),
                            "forces": a.get_forces(apply_constraint=False).astype(np.float32)}

    g = placements[1]
    runs = []
    for mine in (True, False):
        a = g["atoms"].copy()
        a.calc = Float32(make_calculator(EMT, atoms=a))
        dyn = make_optimizer("BFGS-soft", a)
        if mine:
            conv = optimizers.run_free_bfgs(dyn, 0.05, 100, False)
        else:  # the loop of ASE's Optimizer.run for BFGS, one force read per step
            grad = -a.get_forces().ravel()
            conv = bool(np.linalg.norm(grad.reshape(-1, 3), axis=1).max() < 0.05)
            while not conv and dyn.nsteps < 100:
                pos = a.get_positions().ravel()
                dpos, lengths = dyn.prepare_step(pos, grad)
                a.set_positions((pos + dyn.determine_step(dpos, lengths)).reshape(-1, 3))
                dyn.nsteps += 1
                grad = -a.get_forces().ravel()
                conv = bool(np.linalg.norm(grad.reshape(-1, 3), axis=1).max() < 0.05)
        if not mine:
            assert grad.dtype == np.float32
        runs.append((conv, dyn.nsteps, a.positions.tobytes(), dyn.state.hessian.tobytes()))
    assert runs[0][1] > 5 and runs[0] == runs[1]
