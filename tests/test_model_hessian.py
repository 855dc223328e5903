"""BFGS-model: BFGS started from Lindh's model Hessian (tasks/hessian.py).  The Hessian is checked
against a hand-worked diatomic and against the invariances of any Hessian; relaxations end at ASE
BFGS's minimum (EMT and CHGNet) and restart from their trajectories step for step."""

import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc111, molecule
from ase.constraints import FixAtoms

from descriptors.calculators import CalculatorSetting
from descriptors.tasks.base import OPTIMIZERS, RelaxSettings
from descriptors.tasks.hessian import lindh_hessian
from descriptors.tasks.relax import read_trajectory, relax

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def test_diatomic_stretch_is_lindhs_force_constant():
    # N-O at 1.15 A: both second-row atoms, so alpha = 0.28 bohr^-2 and r_ref = 2.87 bohr (Lindh et
    # al. 1995, Table 1); k = 0.45 rho Hartree/bohr^2, and a diatomic's one stretch eigenvalue is 2k
    no = Atoms("NO", positions=[[0, 0, 0], [0, 0, 1.15]])
    h = lindh_hessian(no, floor=0.0)
    r = 1.15 / 0.529177210903
    k = 0.45 * np.exp(0.28 * (2.87**2 - r**2)) * 27.211386245988 / 0.529177210903**2
    w = np.linalg.eigvalsh(h)
    assert w[-1] == pytest.approx(2 * k, rel=1e-10)
    assert np.abs(w[:-1]).max() < 1e-9  # translations and rotations of a diatomic cost nothing
    assert h[2, 2] == pytest.approx(k, rel=1e-10) and h[2, 5] == pytest.approx(-k, rel=1e-10)


def test_invariances_rotation_translation_and_bends():
    water = molecule("H2O")
    h = lindh_hessian(water, floor=0.0)
    assert np.array_equal(h, h.T)
    w = np.linalg.eigvalsh(h)
    assert np.abs(w[:6]).max() < 1e-9 and (w[6:] > 1.0).all()  # 3 stretch + bend modes: the bend is in
    rot = water.copy()
    rot.rotate(37, (1, 2, 3), center="COM")
    rot.translate((0.3, -1.0, 2.0))
    R = np.zeros((3, 3))
    for i, e in enumerate(np.eye(3)):
        x = Atoms("H", positions=[e])
        x.rotate(37, (1, 2, 3), center=(0, 0, 0))
        R[:, i] = x.positions[0]
    big = np.kron(np.eye(3), R)
    assert np.allclose(lindh_hessian(rot, floor=0.0), big @ h @ big.T, atol=1e-9)
    # a periodic slab: a rigid translation of every atom costs nothing
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0, a=3.615)
    add_adsorbate(slab, "O", 1.2, "fcc")
    slab.pbc = True
    hs = lindh_hessian(slab, floor=0.0)
    for axis in range(3):
        t = np.zeros((len(slab), 3))
        t[:, axis] = 1.0
        assert np.abs(hs @ t.ravel()).max() < 1e-9


def test_fixed_atoms_keep_alpha_and_no_coupling():
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0, a=3.615)
    fixed = [a.index for a in slab if a.tag == 3]
    slab.set_constraint(FixAtoms(indices=fixed))
    h = lindh_hessian(slab, alpha=70.0, floor=2.0)
    plain = slab.copy()
    plain.set_constraint()
    free0 = lindh_hessian(plain, floor=0.0)
    fd = np.repeat(np.isin(np.arange(len(slab)), fixed), 3)
    assert np.array_equal(h[np.ix_(fd, fd)], 70.0 * np.eye(fd.sum()))
    assert not h[np.ix_(fd, ~fd)].any()
    assert np.allclose(h[np.ix_(~fd, ~fd)], free0[np.ix_(~fd, ~fd)] + 2.0 * np.eye((~fd).sum()), atol=1e-12)
    # the positions given, not the Atoms' own, decide
    moved = slab.positions.copy()
    moved[-1] += (0.3, 0.0, -0.2)
    assert not np.allclose(lindh_hessian(slab, moved), h)


def _o_on_cu():
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag == 3]))
    add_adsorbate(slab, "O", 1.6, "ontop")
    slab.rattle(0.05, seed=3)
    return slab


def test_restarted_model_bfgs_takes_the_steps_of_an_uninterrupted_one(tmp_path):
    """As BFGS and BFGS-soft (tests/test_relax_restart.py): the same steps to round-off -- EMT's own
    neighbour list, rebuilt at the restart geometry, sums its pairs in another order."""
    assert "BFGS-model" in OPTIMIZERS
    emt = CalculatorSetting("emt")
    rs = RelaxSettings("BFGS-model", 0.01, 200)
    whole = relax(_o_on_cu(), emt, rs, trajectory=tmp_path / "a.traj")
    assert whole.converged and whole.steps > 8
    cut = relax(_o_on_cu(), emt, RelaxSettings("BFGS-model", 0.01, 5), trajectory=tmp_path / "b.traj")
    assert not cut.converged and cut.steps == 5 and len(read_trajectory(tmp_path / "b.traj")) == 6
    again = relax(_o_on_cu(), emt, rs, trajectory=tmp_path / "b.traj")
    assert again.extra["restarted_from_step"] == 5
    assert again.steps == whole.steps
    assert np.abs(again.atoms.positions - whole.atoms.positions).max() < 1e-9
    assert again.energy == pytest.approx(whole.energy, abs=1e-9)
    ref, got = read_trajectory(tmp_path / "a.traj"), read_trajectory(tmp_path / "b.traj")
    assert len(ref) == len(got)
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(ref[:6], got[:6]))


def test_replayed_model_hessian_is_the_running_one_bit_for_bit():
    """The optimizer state a restart rebuilds from the trajectory frames (the model Hessian of the
    first frame, then BFGS's updates) is the state of the run that wrote them, to the last bit."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from descriptors.calculators import make_calculator
    from descriptors.tasks.optimizers import ModelBFGS, run_free_bfgs
    from descriptors.tasks.relax import _replay_bfgs, make_optimizer

    atoms = _o_on_cu()
    atoms.calc = make_calculator(CalculatorSetting("emt"), atoms=atoms)
    dyn = make_optimizer("BFGS-model", atoms)
    assert isinstance(dyn, ModelBFGS)
    frames = []

    def frame():
        f = atoms.copy()
        f.calc = SinglePointCalculator(f, energy=atoms.get_potential_energy(),
                                       forces=atoms.get_forces(apply_constraint=False))
        frames.append(f)

    assert run_free_bfgs(dyn, 0.01, 6, True, [frame]) is False and len(frames) == 7
    start = _o_on_cu()
    start.positions = frames[-1].positions
    fresh = make_optimizer("BFGS-model", start)
    _replay_bfgs(fresh, frames)
    # the next step from the last frame: the running optimizer's and the replayed one's
    pos, g = frames[-1].positions.ravel(), -frames[-1].get_forces().ravel()
    step_run, _ = dyn.prepare_step(pos.copy(), g.copy())
    step_replayed, _ = fresh.prepare_step(pos.copy(), g.copy())
    assert np.array_equal(fresh.state.hessian, dyn.state.hessian)
    assert np.array_equal(step_replayed, step_run)
    assert not np.allclose(fresh.state.hessian, np.diag(np.diag(fresh.state.hessian)))  # a model, not alpha I


def test_model_bfgs_on_emt_reaches_bfgs_minimum_with_fewer_calls():
    from benchmarks.optimizers import initial_geometries

    emt = CalculatorSetting("emt")
    geoms = [g for g in initial_geometries(["Cu"], ["111"], ["H", "O"]) if g["label"].endswith(("@fcc", "@top"))]
    assert len(geoms) == 4
    ours_calls = ref_calls = 0
    for g in geoms:
        ours = relax(g["atoms"], emt, RelaxSettings("BFGS-model", 0.05, 300))
        ref = relax(g["atoms"], emt, RelaxSettings("BFGS", 0.05, 300))
        assert ours.converged and ref.converged
        assert ours.energy == pytest.approx(ref.energy, abs=0.01), g["label"]
        ads = slice(len(g["clean"]), None)
        assert np.linalg.norm(ours.atoms.positions[ads] - ref.atoms.positions[ads], axis=1).max() < 0.1
        ours_calls += ours.steps + 1
        ref_calls += ref.steps + 1
    assert ours_calls < 0.8 * ref_calls, (ours_calls, ref_calls)


def test_model_bfgs_batch_is_the_single_relaxation():
    from benchmarks.optimizers import initial_geometries
    from descriptors.tasks.batch import relax_batch

    emt = CalculatorSetting("emt")
    atoms = [g["atoms"] for g in initial_geometries(["Cu"], ["111"], ["O"])]
    rs = RelaxSettings("BFGS-model", 0.05, 300)
    single = [relax(a, emt, rs) for a in atoms]
    batched = relax_batch(atoms, emt, rs)
    for s, b in zip(single, batched):
        assert b.steps == s.steps and b.energy == pytest.approx(s.energy, abs=1e-8)
        assert np.allclose(b.atoms.positions, s.atoms.positions, atol=1e-8)


def test_model_bfgs_on_chgnet_reaches_ase_bfgs_minimum(monkeypatch):
    """CHGNet (the potential the model Hessian is for): the benchmark's placements of H and O on
    Cu(111) relax to ASE BFGS's minimum (|dE| <= 0.01 eV, every atom within 0.1 A) in fewer calls."""
    import socket

    from conftest import require

    from descriptors.calculators import base, ml

    require(base.REGISTRY["chgnet"].availability() is None, "chgnet", ml.ML_INSTALL)

    def refuse(*a, **k):  # the weights come from the installed wheel, never the network
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from benchmarks.ml_batch import placements
    from descriptors.tasks.batch import batch_predictor, relax_batch

    setting = CalculatorSetting("chgnet")
    atoms = [a for label, a in placements(["H", "O"]) if label.endswith(("H@fcc", "O@top", "O@bridge"))]
    assert len(atoms) == 3
    pred, fast = batch_predictor(setting)
    assert fast
    st_ref, st = {}, {}
    ref = relax_batch(atoms, setting, RelaxSettings("BFGS", 0.05, 300), predictor=pred, stats=st_ref)
    ours = relax_batch(atoms, setting, RelaxSettings("BFGS-model", 0.05, 300), predictor=pred, stats=st)
    for r, o in zip(ref, ours):
        assert r.converged and o.converged
        assert abs(o.energy - r.energy) <= 0.01
        assert np.abs(o.atoms.positions - r.atoms.positions).max() <= 0.1
    assert st["force_evaluations"] < 0.7 * st_ref["force_evaluations"], (st, st_ref)


def test_model_bfgs_under_a_cell_filter_starts_from_alpha_identity():
    """A cell filter's coordinates are not the atoms' positions: BFGS-model is then ASE's BFGS."""
    from ase.build import bulk
    from ase.filters import FrechetCellFilter

    from descriptors.calculators import make_calculator
    from descriptors.tasks.relax import make_optimizer

    cu = bulk("Cu", "fcc", a=3.7)
    cu.calc = make_calculator(CalculatorSetting("emt"), atoms=cu)
    filt = FrechetCellFilter(cu)
    dyn = make_optimizer("BFGS-model", filt)
    dyn.update(filt.get_positions().ravel(), filt.get_forces().ravel(), None, None)  # the first update
    assert dyn.state.hessian.shape == (3 * (len(cu) + 3),) * 2
    assert np.array_equal(dyn.state.hessian, 70.0 * np.eye(3 * (len(cu) + 3)))
    assert make_optimizer("BFGS-model", filt).run(fmax=0.05, steps=50)  # and it relaxes the cell


def test_each_relaxation_records_the_optimizer_auto_resolved_to():
    """"auto" stays in the recipe (the user's policy); the result says which optimizer ran, for one
    relaxation and in a batch: BFGS-model for a one-atom placement, BFGS-soft for a molecule, BFGS
    for a clean slab; a single point names none."""
    from benchmarks.optimizers import initial_geometries
    from descriptors.tasks.batch import relax_batch

    emt = CalculatorSetting("emt")
    h = next(g for g in initial_geometries(["Cu"], ["111"], ["H"]) if g["label"].endswith("@fcc"))
    no = next(g for g in initial_geometries(["Cu"], ["111"], ["NO"]) if g["label"].endswith("@top"))
    for g in (h, no):
        assert g["atoms"].info.get("adsorbate_indices")  # what auto resolves by
    auto = RelaxSettings("auto", 0.05, 300)
    assert relax(h["atoms"], emt, auto, kind="adsorbate").extra["optimizer"] == "BFGS-model"
    assert relax(no["atoms"], emt, auto, kind="adsorbate").extra["optimizer"] == "BFGS-soft"
    assert relax(h["clean"], emt, auto, kind="clean").extra["optimizer"] == "BFGS"
    assert "optimizer" not in relax(h["atoms"], emt, RelaxSettings("auto", 0.05, 0), kind="adsorbate").extra
    batched = relax_batch([h["atoms"], no["atoms"]], emt, auto, kind="adsorbate")
    assert [r.extra["optimizer"] for r in batched] == ["BFGS-model", "BFGS-soft"]
