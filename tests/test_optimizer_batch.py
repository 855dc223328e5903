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


@pytest.mark.parametrize("optimizer", ["BFGS", "BFGS-soft"])
def test_relax_batch_reproduces_single_relaxations(placements, optimizer):
    rs = RelaxSettings(optimizer, 0.05, 300)
    atoms = [g["atoms"] for g in placements]
    single = [relax(a, EMT, rs) for a in atoms]
    batched = relax_batch(atoms, EMT, rs)
    for s, b in zip(single, batched):
        assert b.steps == s.steps and b.converged == s.converged
        assert b.energy == pytest.approx(s.energy, abs=1e-8)
        assert np.allclose(b.atoms.positions, s.atoms.positions, atol=1e-8)
    # one model call per optimizer step of the longest relaxation (plus the final forces)
    assert batched[0].extra["batch_calls"] == max(s.steps for s in single) + 1


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
