"""A relaxation cut short and restarted from its trajectory takes exactly the steps of one never
interrupted: BFGS's Hessian is rebuilt from the trajectory (no state file per step); the exact-first
state check of the calculator gives the same energies as ASE's own."""

import warnings

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc111
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms

from descriptors.calculators import CalculatorSetting
from descriptors.tasks.relax import RelaxSettings, fast_state_check, relax


def _system():
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag == 3]))
    add_adsorbate(slab, "O", 1.6, "ontop")
    slab.rattle(0.05, seed=3)
    return slab


@pytest.mark.parametrize("optimizer", ["BFGS", "BFGS-soft"])  # (FIRE restarts from its state file, not bit for bit)
def test_restarted_relaxation_takes_the_steps_of_an_uninterrupted_one(tmp_path, optimizer):
    """The same steps, the same frames up to the cut bit for bit, the rest to round-off: the
    Hessian replayed from the trajectory is the uninterrupted run's bit for bit, but the restarted
    calculator computes the forces of the last frame again from a fresh neighbour list (pairs
    summed in another order: the last bits differ)."""
    import ase.io

    emt = CalculatorSetting("emt")
    whole = relax(_system(), emt, RelaxSettings(optimizer, 0.01, 200), trajectory=tmp_path / "a.traj")
    assert whole.converged and whole.steps > 12
    cut = relax(_system(), emt, RelaxSettings(optimizer, 0.01, 7), trajectory=tmp_path / "b.traj")
    assert not cut.converged and cut.steps == 7
    again = relax(_system(), emt, RelaxSettings(optimizer, 0.01, 200), trajectory=tmp_path / "b.traj")
    assert again.extra["restarted_from_step"] == 7
    assert again.steps == whole.steps
    assert np.abs(again.atoms.positions - whole.atoms.positions).max() < 1e-9
    assert again.energy == pytest.approx(whole.energy, abs=1e-9)
    assert not list(tmp_path.glob("*.opt.json"))  # no state file left
    ref, got = ase.io.read(tmp_path / "a.traj", ":"), ase.io.read(tmp_path / "b.traj", ":")
    assert len(ref) == len(got) == whole.steps + 1
    for r, g in zip(ref[:8], got[:8]):
        assert r.positions.tobytes() == g.positions.tobytes() and r.get_potential_energy() == g.get_potential_energy()
        assert r.get_forces(apply_constraint=False).tobytes() == g.get_forces(apply_constraint=False).tobytes()


def test_exact_first_state_check_recomputes_after_any_change():
    a = _system()
    a.calc = EMT()
    fast_state_check(a.calc)
    e0 = a.get_potential_energy()
    calls = a.calc.results
    assert a.get_potential_energy() == e0 and a.calc.results is calls  # unchanged: no new calculation
    b = a.copy()
    b.calc = EMT()
    b.positions[-1, 2] += 1e-6
    a.positions[-1, 2] += 1e-6  # a change far below any tolerance one might pick is still a change
    assert a.get_potential_energy() == b.get_potential_energy() != e0
    a.set_initial_magnetic_moments([0.1] * len(a))
    assert a.calc.check_state(a) == ["initial_magmoms"]
    a.get_potential_energy()
    for _ in range(3):  # the header found equal, then answered from its bytes
        a.positions[-1, 2] += 1e-3
        assert a.calc.check_state(a) == ["positions"]
        a.get_potential_energy()
        assert a.calc.check_state(a) == []
    a.cell[2, 2] += 1e-12  # in place: every change is still seen
    assert "cell" in a.calc.check_state(a)
    a.cell[2, 2] -= 1e-12
    assert a.calc.check_state(a) == []
    a.numbers[0] = 28
    assert "numbers" in a.calc.check_state(a)


@pytest.mark.parametrize("shift", [1e-6, 1e-3, 5e-16, 0.0, float("nan")])
def test_positions_only_state_check_answers_as_ase_does(shift):
    """The positions-only answer of the fast check is ASE's compare_atoms' (allclose, atol 1e-15)."""
    from ase.calculators.calculator import compare_atoms

    a = _system()
    a.calc = EMT()
    fast_state_check(a.calc)
    a.get_potential_energy()
    a.positions[-1, 2] += shift
    assert a.calc.check_state(a) == compare_atoms(a.calc.atoms, a)


def test_lean_trajectory_frames_read_back_as_ases(tmp_path, monkeypatch):
    """Frames of the lean writer (appended after a reopen too) read back, by ASE's reader, equal to
    those ASE's writer gives: positions, energy, forces, constraints, magnetic moments, info; 45
    frames and 5 appended, so that the file's offsets table grows twice (at 1 and 42 items)."""
    import ase.io
    from ase.io.trajectory import Trajectory, TrajectoryWriter

    from descriptors.tasks.trajwriter import LeanTrajectoryWriter

    by_ase = []
    ase_write = TrajectoryWriter._write_atoms
    monkeypatch.setattr(TrajectoryWriter, "_write_atoms",
                        lambda self, *a, **k: (by_ase.append(type(self)), ase_write(self, *a, **k))[1])
    a = _system()
    a.info.update(job="x", vec=np.arange(3.0))
    a.set_initial_magnetic_moments([0.5] * len(a))
    a.calc = EMT()
    for mode in ("w", "a"):
        ase_w = Trajectory(str(tmp_path / "ase.traj"), mode, properties=["energy", "forces"])
        lean = LeanTrajectoryWriter(str(tmp_path / "lean.traj"), mode, properties=["energy", "forces"])
        for _ in range(45 if mode == "w" else 5):
            a.positions[-1] += 0.002
            a.get_forces()
            ase_w.write(a)
            lean.write(a, energy=a.calc.results["energy"], forces=a.calc.results["forces"])
        ase_w.close()
        lean.close()
        if mode == "w":  # the first frame is lean too: ASE's writer wrote none
            assert by_ase.count(LeanTrajectoryWriter) == 0
    # reopened, ASE compares the constraints read back with the Atoms' (other objects) and writes a
    # header with every frame from then on: its writer writes those frames (a restart only)
    ref, got = ase.io.read(tmp_path / "ase.traj", ":"), ase.io.read(tmp_path / "lean.traj", ":")
    assert len(ref) == len(got) == 50 and len({tuple(f.positions[-1]) for f in got}) == 50
    for r, g in zip(ref, got):
        assert np.array_equal(r.positions, g.positions) and np.array_equal(r.cell, g.cell)
        assert r.get_potential_energy() == g.get_potential_energy()
        assert np.array_equal(r.get_forces(apply_constraint=False), g.get_forces(apply_constraint=False))
        assert np.array_equal(r.get_forces(), g.get_forces()) and g.info["job"] == "x"
        assert np.array_equal(g.info["vec"], [0, 1, 2]) and np.array_equal(r.get_tags(), g.get_tags())
        assert np.array_equal(r.get_initial_magnetic_moments(), g.get_initial_magnetic_moments())
        assert [c.todict() for c in r.constraints] == [c.todict() for c in g.constraints]


def test_auto_is_bfgs_for_references_and_bfgs_soft_or_model_for_placements(monkeypatch):
    from descriptors.tasks import base

    seen = {}

    def spy(atoms, ctx):
        seen[atoms.info["job_id"]] = ctx.relax.optimizer
        raise RuntimeError("not computed")

    for kind in ("gas", "clean", "adsorbate"):
        monkeypatch.setitem(base.TASKS, kind, spy)
    rs = base.RelaxSettings()
    assert rs.optimizer == base.DEFAULT_OPTIMIZER == "auto"
    for kind in ("gas", "clean", "adsorbate"):
        base.run_job(kind, kind, _system(), CalculatorSetting("emt"), rs)
    assert seen == {"gas": "BFGS", "clean": "BFGS", "adsorbate": "BFGS-soft"}  # no placement record: BFGS-soft
    # a placement of a one-atom adsorbate starts from the model Hessian; molecules keep BFGS-soft
    one, two = _system(), _system()
    one.info["adsorbate_indices"] = [len(one) - 1]
    two.info["adsorbate_indices"] = [len(two) - 2, len(two) - 1]
    for atoms, want in ((one, "BFGS-model"), (two, "BFGS-soft")):
        base.run_job("adsorbate", "adsorbate", atoms, CalculatorSetting("emt"), rs)
        assert seen["adsorbate"] == want
        assert rs.for_kind("adsorbate", atoms).optimizer == want
    assert rs.for_kind("clean", one).optimizer == "BFGS"
    assert base.RelaxSettings("FIRE").for_kind("adsorbate", one).optimizer == "FIRE"  # a named optimizer stays


def test_lean_frames_appended_to_a_reopened_file(tmp_path):
    """Without constraints a reopened file keeps one header, and the lean writer appends its own
    frames (the table growing at 42 items there): ASE reads the same 56 frames as from its writer."""
    import ase.io
    from ase.io.trajectory import Trajectory

    from descriptors.tasks.trajwriter import LeanTrajectoryWriter

    a = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    a.calc = EMT()
    for mode, n in (("w", 3), ("a", 50), ("a", 3)):
        ref = Trajectory(str(tmp_path / "ase.traj"), mode, properties=["energy", "forces"])
        lean = LeanTrajectoryWriter(str(tmp_path / "lean.traj"), mode, properties=["energy", "forces"])
        for _ in range(n):
            a.positions[0, 2] += 0.001
            a.get_forces()
            ref.write(a)
            lean.write(a, energy=a.calc.results["energy"], forces=a.calc.results["forces"])
        assert mode == "w" or not lean.multiple_headers
        ref.close()
        lean.close()
    x, y = ase.io.read(tmp_path / "ase.traj", ":"), ase.io.read(tmp_path / "lean.traj", ":")
    assert len(x) == len(y) == 56
    for p, q in zip(x, y):
        assert np.array_equal(p.positions, q.positions) and p.get_potential_energy() == q.get_potential_energy()
        assert np.array_equal(p.get_forces(), q.get_forces())


def _ulm_items(path):
    """The JSON items of a ulm file, in order, with the file offsets of their arrays left out."""
    import json

    raw = path.read_bytes()
    n, pos0 = np.frombuffer(raw[32:48], np.int64)
    offsets = np.frombuffer(raw[pos0:pos0 + 8 * n], np.int64)

    def strip(d):
        return {k: (v["ndarray"][:2] if isinstance(v, dict) and "ndarray" in v else
                    strip(v) if isinstance(v, dict) else v) for k, v in d.items()}

    return [strip(json.loads(raw[o + 8:o + 8 + int(np.frombuffer(raw[o:o + 8], np.int64)[0])]))
            for o in offsets]


@pytest.mark.parametrize("frames", [1, 2, 43])
@pytest.mark.parametrize("odd_info", [False, True])
def test_lean_file_is_ases_file(tmp_path, frames, odd_info):
    """The first frame of a new file is ASE's, byte for byte (header, arrays, JSON); every later
    frame is ASE's item without the calculator's parameters (the first frame has them), and the
    arrays hold the same bytes."""
    from ase.io.trajectory import Trajectory

    from descriptors.calculators.emt import VectorEMT
    from descriptors.tasks.trajwriter import LeanTrajectoryWriter

    a = _system()
    a.info.update(job_id="abc", size=[3, 3], lattice_a=3.59)
    if odd_info:  # a value ASE's writer leaves out (with a warning): its writer writes the first frame
        a.info["unencodable"] = object()
    a.calc = VectorEMT()
    ref = Trajectory(str(tmp_path / "ase.traj"), "a", properties=["energy", "forces"])
    lean = LeanTrajectoryWriter(str(tmp_path / "lean.traj"), "a", properties=["energy", "forces"])
    for _ in range(frames):
        a.positions[-1] += 0.003
        a.get_forces()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ASE: 'Skipping "unencodable" info.'
            ref.write(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lean.write(a, energy=a.calc.results["energy"], forces=a.calc.results["forces"])
        assert len(lean) == len(ref)
    ref.close()
    lean.close()
    x, y = (tmp_path / "ase.traj").read_bytes(), (tmp_path / "lean.traj").read_bytes()
    if frames == 1:
        assert x == y
    items_ase, items_lean = _ulm_items(tmp_path / "ase.traj"), _ulm_items(tmp_path / "lean.traj")
    assert len(items_ase) == len(items_lean) == frames
    assert items_ase[0] == items_lean[0] and "parameters" in items_lean[0]["calculator."]
    for p, q in zip(items_ase[1:], items_lean[1:]):
        del p["calculator."]["parameters"]
        assert p == q and list(p) == list(q)  # same keys in the same order
    import ase.io

    for p, q in zip(ase.io.read(tmp_path / "ase.traj", ":"), ase.io.read(tmp_path / "lean.traj", ":")):
        assert np.array_equal(p.positions, q.positions) and p.get_potential_energy() == q.get_potential_energy()
        assert np.array_equal(p.get_forces(apply_constraint=False), q.get_forces(apply_constraint=False))
        assert p.info.keys() == q.info.keys() and q.info["size"] == [3, 3] and np.array_equal(p.get_tags(), q.get_tags())


def test_frame_after_lean_frames_through_ases_writer(tmp_path):
    """A frame the lean writer leaves to ASE (here: no energy and forces given) after lean frames
    goes at the file's end: every frame reads back."""
    import ase.io

    from descriptors.calculators.emt import VectorEMT
    from descriptors.tasks.trajwriter import LeanTrajectoryWriter

    a = _system()
    a.calc = VectorEMT()
    lean = LeanTrajectoryWriter(str(tmp_path / "lean.traj"), "w", properties=["energy", "forces"])
    energies = []
    for k in range(5):
        a.positions[-1] += 0.003
        energies.append(a.get_potential_energy())
        if k == 3:
            lean.write(a)
        else:
            lean.write(a, energy=a.calc.results["energy"], forces=a.calc.results["forces"])
    lean.close()
    got = ase.io.read(tmp_path / "lean.traj", ":")
    assert [f.get_potential_energy() for f in got] == energies


def test_relax_leaves_the_callers_atoms_alone_unless_given():
    """relax() relaxes a copy of the caller's Atoms; with own=True (run_job's private copy) the
    Atoms themselves, with the same result; the result's fmax is max_force of its structure."""
    from descriptors.tasks.relax import max_force

    emt = CalculatorSetting("emt")
    a = _system()
    before = a.positions.copy()
    r = relax(a, emt, RelaxSettings("BFGS-soft", 0.05, 100))
    assert np.array_equal(a.positions, before) and a.calc is None and r.atoms is not a
    assert r.converged and r.fmax == max_force(r.atoms) < 0.05
    mine = relax(a, emt, RelaxSettings("BFGS-soft", 0.05, 100), own=True)
    assert mine.atoms is a and mine.energy == r.energy and mine.steps == r.steps
    assert a.positions.tobytes() == r.atoms.positions.tobytes() and a.get_potential_energy() == r.energy
