"""Real DFT in the test suite: a GPAW adsorption energy through the package, checked against a
plain-ASE GPAW computation of the same system, and the d-band centre of that Cu slab."""

import csv

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc111

from descriptors.calculators import base
from descriptors.calculators import gpaw as gpaw_backend
from conftest import require
from descriptors.calculators.base import CalculatorSetting, make_calculator
from descriptors.structures.gas import gas_molecule

# tiny and loose on purpose: LCAO double-zeta, coarse grid, 2x2x1 k-points (seconds per SCF)
LCAO = {"mode": "lcao", "basis": "dzp", "xc": "RPBE", "kpts": [2, 2, 1], "h": 0.3}


@pytest.fixture(autouse=True)
def _gpaw_here():
    require(base.REGISTRY["gpaw"].availability() is None, "GPAW with PAW setups", gpaw_backend.GPAW_INSTALL)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one BLAS thread: the machine's cores are shared
        yield


def _cu111(h: bool):
    slab = fcc111("Cu", (2, 2, 3), vacuum=4.5, a=3.63)
    slab.pbc = True
    if h:
        add_adsorbate(slab, "H", 1.0, "fcc")
    slab.info["model"] = "slab"
    return slab


def _plain_gpaw(atoms, kpts, width):
    """The same calculation written by hand with ASE + GPAW, without this package."""
    from gpaw import GPAW, FermiDirac

    a = atoms.copy()
    dipole = {}
    if kpts != (1, 1, 1):  # the slabs: dipole-layer correction, which needs a non-periodic z
        a.pbc = (True, True, False)
        dipole = {"poissonsolver": {"dipolelayer": "xy"}}
    a.calc = GPAW(mode="lcao", basis="dzp", xc="RPBE", h=0.3, kpts={"size": kpts, "gamma": True},
                  occupations=FermiDirac(width), txt=None, **dipole)
    return a.get_potential_energy()


@pytest.mark.slow
def test_gpaw_adsorption_energy_and_dband_centre(tmp_path):
    from descriptors.workflows.dband import dband_jobs, dband_post, write_dband_table
    from descriptors.engine.engine import Engine
    from descriptors.engine.jobs import Job
    from descriptors.identity import structure_hash
    from descriptors.tasks.relax import RelaxSettings
    from descriptors.store.db import Store

    setting = CalculatorSetting("gpaw", LCAO)
    single_point = RelaxSettings("BFGS", 0.05, 0)
    slab, slab_h, h2 = _cu111(False), _cu111(True), gas_molecule("H2", box=8.0)

    def job(kind, atoms, meta, parent=None):
        recipe = {"kind": kind, "structure_hash": structure_hash(atoms), "calculator": setting.as_dict(),
                  "model": {"kind": "slab"}}
        return Job(kind, recipe, meta, atoms, parent=parent)

    clean = job("clean", slab, {"catalyst": "Cu(111)", "model": "slab"})
    gas = job("gas", h2, {"catalyst": "gas", "molecule": "H2"})
    ads = job("adsorbate", slab_h, {"catalyst": "Cu(111)", "adsorbate": "H", "site": "fcc"}, parent=clean.id)
    store = Store(tmp_path / "screen.db")
    engine = Engine(store, setting, single_point, workers=1, progress=False)
    engine.run([clean, gas, ads], "single points")
    djobs = dband_jobs([clean], store, setting)
    assert len(djobs) == 1 and djobs[0].parent == clean.id
    engine.run(djobs, "d-band centres", postprocess=dband_post)
    rows = {j.kind: store.get(j.id) for j in [clean, gas, ads, *djobs]}
    assert all(r.get("status") == "ok" for r in rows.values()), {k: r.get("error") for k, r in rows.items()}
    e = {k: r.energy for k, r in rows.items()}
    e_ads = e["adsorbate"] - e["clean"] - 0.5 * e["gas"]

    # the same numbers by hand: plain ASE + GPAW
    e_plain = (_plain_gpaw(slab_h, (2, 2, 1), 0.1) - _plain_gpaw(slab, (2, 2, 1), 0.1)
               - 0.5 * _plain_gpaw(h2, (1, 1, 1), gpaw_backend.MOLECULE_SMEARING))
    print(f"GPAW LCAO E_ads(H/Cu(111) fcc) = {e_ads:+.4f} eV (plain ASE {e_plain:+.4f} eV); "
          f"d-band centre {rows['dband'].dband_centre:+.3f} eV")
    assert e_ads == pytest.approx(e_plain, abs=2e-3)
    # H in the fcc hollow of Cu(111) binds weakly against 1/2 H2 (RPBE: about -0.1 to +0.1 eV);
    # a loose LCAO single point at a guessed height stays within a few tenths of that
    assert -0.6 < e_ads < 0.4
    # the d-band job's single point is the clean slab again
    assert e["dband"] == pytest.approx(e["clean"], abs=1e-4)

    d = rows["dband"]
    # Cu: a full d band well below E_F (literature about -2.7 eV for Cu(111), Ruban et al. 1997)
    assert -3.4 < d.dband_centre < -2.0
    assert d.dband_filling > 0.9
    assert 0.5 < d.dband_width < 2.0
    assert rows["dband"].data["dband_atoms"] == [8, 9, 10, 11]  # the top layer of fcc111(2,2,3)
    per_atom = rows["dband"].data["dband_per_atom"]
    assert np.ptp(list(per_atom.values())) < 0.05  # four equivalent top-layer atoms
    path = write_dband_table(store, tmp_path, [djobs[0].id])
    got = list(csv.DictReader(line for line in open(path) if not line.startswith("#")))
    assert len(got) == 1 and got[0]["catalyst"] == "Cu(111)"
    assert float(got[0]["dband_centre_eV"]) == pytest.approx(d.dband_centre)
    assert got[0]["calculator"].startswith("gpaw ") and "mode=lcao" in got[0]["params"]


def test_gpaw_open_shell_molecule_is_spin_polarised():
    """NO has 15 electrons: with spinpol 'auto' it comes out with one unpaired electron (PW mode)."""
    setting = CalculatorSetting("gpaw", {"mode": "pw", "ecut": 250.0})
    no = gas_molecule("NO", box=6.0)
    no.calc = make_calculator(setting, atoms=no)
    no.get_potential_energy()
    assert no.get_magnetic_moment() == pytest.approx(1.0, abs=0.05)
    # Gamma only for a molecule in a box
    assert len(no.calc.get_ibz_k_points()) == 1


def test_dband_is_refused_for_calculators_without_a_dos():
    from descriptors.tasks.dband import dband_job
    from descriptors.workflows.dband import dband_jobs

    assert dband_jobs([object()], None, CalculatorSetting("emt")) == []
    with pytest.raises(ValueError, match="needs 'gpaw'"):
        dband_job(_cu111(False), CalculatorSetting("emt"))


def test_gpaw_slab_gets_the_dipole_layer_and_a_molecule_does_not():
    """Slabs with vacuum along z: GPAW's dipole-layer correction, with z made non-periodic on the
    working copy (GPAW requires it); a molecule in a box and a bulk cell get neither."""
    from ase.build import bulk

    setting = CalculatorSetting("gpaw", LCAO)
    slab = _cu111(True)
    calc = make_calculator(setting, atoms=slab)
    assert "dipolelayer='xy'" in repr(calc.parameters.poissonsolver)
    assert tuple(slab.pbc) == (True, True, False)
    for other in (gas_molecule("H2", box=8.0), bulk("Cu", "fcc", a=3.63, cubic=True)):
        pbc = tuple(other.pbc)
        calc = make_calculator(setting, atoms=other)
        assert "dipolelayer" not in repr(calc.parameters.poissonsolver) and tuple(other.pbc) == pbc
