"""Free-energy corrections: harmonic and ideal-gas limits against independent formulas and
reference data; vibrations as resumable engine jobs."""

import json

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc100
from ase.constraints import FixAtoms
from ase.units import invcm, kB

from descriptors.calculators.base import CalculatorSetting
from descriptors.engine.engine import Engine
from descriptors.structures.gas import gas_molecule
from descriptors.tasks.relax import RelaxSettings, relax
from descriptors.store.db import Store
from descriptors.analysis.thermo import (LOW_FREQUENCY_FLOOR_CM, correction_from_vib_row, harmonic_correction,
                                         ideal_gas_correction, load_table)
from descriptors.tasks.vib import run_vib
from descriptors.workflows.vibrations import plan_vib_jobs

EMT = CalculatorSetting("emt", {})


def test_harmonic_correction_matches_closed_form():
    T = 298.15
    cm = np.array([3400.0, 1450.0, 620.0, 300.0, 20.0])  # the 20 cm-1 mode is raised to the floor
    e = cm * invcm
    c = harmonic_correction(e, T)
    used = np.maximum(e, LOW_FREQUENCY_FLOOR_CM * invcm)
    x = used / (kB * T)
    zpe = used.sum() / 2
    s = kB * np.sum(x / np.expm1(x) - np.log1p(-np.exp(-x)))
    u_th = np.sum(used / np.expm1(x))
    assert c.zpe == pytest.approx(zpe, rel=1e-10)
    assert c.ts == pytest.approx(T * s, rel=1e-8)
    assert c.cp == pytest.approx(u_th, rel=1e-8)
    assert c.n_raised == 1 and c.method == "harmonic"
    # an imaginary mode is dropped and counted, never silently treated as real
    c2 = harmonic_correction(np.r_[e[:4], 1j * 0.01], T)
    assert c2.n_imaginary == 1 and c2.zpe == pytest.approx(e[:4].sum() / 2)


def test_ideal_gas_H2_entropy_matches_codata():
    """T*S of H2 at 298.15 K, 1 bar from the EMT molecule vs CODATA S = 130.680 J/(mol K) (0.404 eV):
    translation and rotation dominate, so the model must land within 0.01 eV."""
    r = relax(gas_molecule("H2"), EMT, RelaxSettings(fmax=0.001, steps=200))
    a = r.atoms
    a.info["vib_indices"] = [0, 1]
    res = run_vib(a, EMT)
    e = np.array(res.extra["vib_energies_real"]) + 1j * np.array(res.extra["vib_energies_imag"])
    c = ideal_gas_correction(e, a, "H2", 298.15)
    assert c.ts == pytest.approx(298.15 * 130.680 / 96485.332, abs=0.01)
    assert c.n_imaginary == 0 and c.method == "ideal-gas"


def test_table_entries_carry_sources_and_bad_tables_are_rejected(tmp_path):
    t = load_table()
    assert t.get("H2(g)").ts == pytest.approx(0.41) and "Norskov" in t.get("H2(g)").source
    assert t.formation["NO3-(aq)"] == pytest.approx(-111.3)
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"entries": {"*NO3": {"zpe": 0.1, "ts": 0.2}}}))
    with pytest.raises(ValueError, match="source"):
        load_table(bad)


def test_vibrations_run_as_resumable_engine_jobs(tmp_path):
    slab = fcc100("Cu", size=(2, 2, 2), vacuum=5.0)
    slab.set_constraint(FixAtoms(indices=list(range(len(slab)))))
    add_adsorbate(slab, "N", 1.2, "hollow")
    store = Store(tmp_path / "s.db")
    store.write(slab, {"job_id": "parent1", "kind": "adsorbate", "status": "ok", "catalyst": "Cu(100)"},
                {"adsorbate_indices": [len(slab) - 1]}, energy=0.0)
    jobs = plan_vib_jobs(store, [("parent1", [len(slab) - 1], {"adsorbate": "N"})], EMT)
    assert len(jobs) == 1 and jobs[0].kind == "vib"
    eng = Engine(store, EMT, RelaxSettings(), workers=1, progress=False)
    eng.run(jobs, "vibrations")
    assert eng.stats.computed == 1
    row = next(store.select(kind="vib"))
    assert row.get("vib_of") == "parent1" and len(row.data["vib_energies_real"]) == 3
    c = correction_from_vib_row(row, 298.15)
    assert c.method == "harmonic" and c.zpe > 0 and row.get("job_id") in c.source
    eng2 = Engine(store, EMT, RelaxSettings(), workers=1, progress=False)
    eng2.run(plan_vib_jobs(store, [("parent1", [len(slab) - 1], {"adsorbate": "N"})], EMT), "vibrations")
    assert eng2.stats.computed == 0 and eng2.stats.reused == 1
