"""Checks worked out in the worker (engine/jobs.py ``Check``): an adsorbate job's adsorption
energy and geometry flags come back with its result, equal to what the driver would compute
(``stages.adsorption_record``); a check that raises keeps the result and says why; the shared part
(relaxed clean model, site list) is pickled once per clean model, not once per job."""

import os

import numpy as np
import pytest
from ase.build import fcc111
from ase.constraints import FixAtoms

from descriptors.calculators.base import CalculatorSetting
from descriptors.engine.engine import Engine
from descriptors.engine.jobs import Check, Job
from descriptors.geometry import find_sites, place
from descriptors.geometry.anomalies import clean_reference
from descriptors.specs import EngineSpec
from descriptors.store.db import Store
from descriptors.tasks import JobOutcome, run_job
from descriptors.tasks.relax import RelaxSettings
from descriptors.workflows.stages import adsorption_check, adsorption_record

MU = {"H": -3.4, "N": -8.3, "O": -4.9}  # any numbers: the test compares two ways of computing the same


def where_check(job_atoms, result, shared, args):
    """A check that says which process ran it (module level: sent to workers by reference)."""
    if args == "raise":
        raise RuntimeError("no clean model for this one")
    return {"check_pid": os.getpid(), "tag": shared["tag"]}, {"n_atoms": len(result.atoms)}


def _clean():
    s = fcc111("Cu", (2, 2, 3), a=3.6, vacuum=6.0)
    s.pbc = True
    s.set_constraint(FixAtoms(mask=s.get_tags() >= 2))
    return s


def _ads_jobs(clean, parent="clean-test"):
    jobs = []
    for site in [s for s in find_sites(clean) if s.kind in ("top", "hollow")]:
        for name in ("H", "N"):
            atoms = place(clean, name, site)
            meta = {"catalyst": "Cu(111)", "adsorbate": name, "binding": name, "site": site.label}
            jobs.append(Job("adsorbate", {"t": "wc", "a": name, "s": site.label}, meta, atoms, parent=parent))
    return jobs


@pytest.mark.parametrize("engine", ["serial", "local"])
def test_check_runs_where_the_job_runs(tmp_path, engine):
    store = Store(tmp_path / "screen.db")
    emt = CalculatorSetting("emt")
    relax = RelaxSettings("BFGS", 0.1, 50)
    a = Job("gas", {"t": "a"}, {"catalyst": "gas"}, _clean())
    b = Job("gas", {"t": "b"}, {"catalyst": "gas"}, _clean())
    a.check = Check(where_check, "k", {"tag": "shared"}, None)
    b.check = Check(where_check, "k", {"tag": "shared"}, "raise")
    with Engine(store, emt, relax, workers=2, engine=EngineSpec(type=engine), workdir=tmp_path,
                progress=False) as eng:
        eng.run([a, b], "checks")
        ra, rb = store.get(a.id), store.get(b.id)
        assert ra.tag == "shared" and ra.data["n_atoms"] == 12
        assert (ra.check_pid == os.getpid()) == (engine == "serial")
        # the check's error is stored, the computed result is kept
        assert rb.status == "ok" and np.isfinite(rb.energy)
        assert rb.postprocess_error == "RuntimeError: no clean model for this one"
        if engine == "local":
            assert list(eng._blobs) == ["k"]  # the shared part pickled once for both jobs


def test_worker_row_equals_driver_row(tmp_path):
    """The adsorbate check gives exactly the driver's adsorption_record (fields, flags, data)."""
    clean = _clean()
    emt = CalculatorSetting("emt")
    relax = RelaxSettings("BFGS", 0.05, 200)
    c = run_job("clean", "clean", clean, emt, relax)
    relaxed = c.result.atoms
    ref = clean_reference(clean, relaxed)
    jobs = _ads_jobs(relaxed)
    adsorption_check(jobs, "clean-test", c.result.energy, MU, ref)
    assert len({id(j.check.shared) for j in jobs}) == 1
    store = Store(tmp_path / "screen.db")
    with Engine(store, emt, relax, workers=2, engine=EngineSpec(type="local"), workdir=tmp_path,
                progress=False) as eng:
        eng.run(jobs, "adsorbates")
    for job in jobs:
        row = store.get(job.id)
        outcome = JobOutcome(job.id, True, _result(row))
        want = adsorption_record(job, outcome, c.result.energy, MU, ref)
        for k, v in want.fields.items():
            assert row.get(k) == v, (job.label, k)
        assert row.data["anomaly_details"] == _jsonish(want.data["anomaly_details"])
        assert row.data["mu"] == MU and row.data["adsorbate_indices"] == [12]
        assert "postprocess_error" not in row
    assert any(store.get(j.id).get("anomaly") == "" for j in jobs)


def _result(row):
    from descriptors.tasks import CalcResult

    return CalcResult(row.toatoms(), row.energy, row.max_force, row.steps, True, 0.0)


def _jsonish(value):
    import json

    return json.loads(json.dumps(value))
