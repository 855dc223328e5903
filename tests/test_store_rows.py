"""Store.write's lean row path writes the row ase.db's own ``write`` writes (every column), on
SQLite and on PostgreSQL; it refuses what ase.db refuses; replacing a row keeps one row per job."""

import os

import numpy as np
import pytest
from ase.build import fcc111
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms

from descriptors.store.db import STATUS_OK, Store, _kvp

URL = os.environ.get("NO3RR_TEST_POSTGRES_URL", "postgresql://no3rr:no3rr@localhost:5432/no3rr_test")
COLUMNS = ["numbers", "positions", "cell", "pbc", "tags", "initial_magmoms", "energy", "forces", "fmax", "natoms",
           "mass", "charge", "calculator", "calculator_parameters", "key_value_pairs", "data", "constraints"]


def _slab():
    a = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    a.set_constraint(FixAtoms(indices=[0, 1, 2, 3]))
    a.set_initial_magnetic_moments(np.linspace(0, 1, len(a)))
    a.info["site"] = "fcc"  # info is not a column
    return a


def _ase_write(store, atoms, meta, data, energy, forces, name, params):
    """The row as ase.db's own write makes it (Atoms copy with a single-point calculator)."""
    a = atoms.copy()
    a.info = {}
    calc = SinglePointCalculator(a, energy=energy, forces=forces)
    calc.name, calc.parameters = name, dict(params)
    a.calc = calc
    return store.db.write(a, key_value_pairs=_kvp(meta), data=data)


def _same(r1, r2):
    for c in COLUMNS:
        v1, v2 = r1.get(c), r2.get(c)
        if c == "key_value_pairs":
            v1, v2 = {k: v for k, v in v1.items() if k != "job_id"}, {k: v for k, v in v2.items() if k != "job_id"}
        if c == "constraints":
            v1, v2 = [x.todict() for x in v1], [x.todict() for x in v2]
        assert _equal(v1, v2), c


def _equal(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b)) and np.asarray(a).dtype == np.asarray(b).dtype
    return type(a) is type(b) and a == b


def _check(store):
    slab = _slab()
    forces = np.random.default_rng(1).normal(size=(len(slab), 3))
    meta = {"job_id": "lean1", "status": STATUS_OK, "kind": "clean", "catalyst": "Cu(111)", "facet": "(111)",
            "converged": True, "steps": 7, "max_force": 0.04, "recipe_hash": "123", "sites": [1, 2]}
    data = {"recipe": {"a": 1, "b": [1.5, 2]}, "traj": np.arange(3.0)}
    params = {"asap_cutoff": False, "cut": 2.5}
    i_new = store.write(slab, meta, data, energy=-1.25, forces=forces, calculator="EMT", calculator_parameters=params)
    i_old = _ase_write(store, slab, dict(meta, job_id="lean0"), data, -1.25, forces, "EMT", params)
    r_new, r_old = store.db.get(id=i_new), store.db.get(id=i_old)
    assert r_new.job_id == "lean1" and r_old.job_id == "lean0"
    _same(r_new, r_old)
    assert r_new.fmax == pytest.approx(np.linalg.norm(forces[4:], axis=1).max())  # fixed atoms excluded
    # a failure (no energy) and its retry: one row per job, the newest
    store.write(slab, {"job_id": "lean2", "status": "failed", "error": "SCF"})
    assert store.get("lean2").get("calculator") is None
    store.write(slab, {"job_id": "lean2", "status": STATUS_OK}, energy=-2.0, forces=forces, calculator="emt")
    assert store.count(job_id="lean2") == 1 and store.get("lean2").energy == -2.0
    # what ase.db refuses, refused as before (and nothing written)
    n = store.count()
    for bad in ({"job_id": "x1", "label": "1.5"}, {"job_id": "x2", "flag": "True"},
                {"job_id": "x4", "bad key": 1}):
        with pytest.raises(ValueError):
            store.write(slab, bad, energy=0.0, forces=forces)
    assert store.count() == n


def test_lean_rows_equal_ase_rows_sqlite(tmp_path):
    _check(Store(tmp_path / "s.db"))


def _postgres_store(prefixes) -> Store:
    """The test server's store, without the rows an earlier run left under ``prefixes`` (skipped, or
    in CI failed, when the server is not there)."""
    from conftest import require

    try:
        store = Store(URL)
        store.count()
    except Exception as err:
        store, why = None, f"{type(err).__name__}: {err}"
    require(store is not None, f"PostgreSQL at {URL} ({why if store is None else ''})",
            "bash scripts/setup.sh --full installs the driver and starts the server; or set NO3RR_TEST_POSTGRES_URL")
    ids = [r.id for r in store.select(include_data=False) if str(r.get("job_id", "")).startswith(prefixes)]
    if ids:
        store.db.delete(ids)
    return store


def test_lean_rows_equal_ase_rows_postgres():
    _check(_postgres_store(("lean", "x")))


def test_journal_keeps_results_until_folded_and_a_second_fold_duplicates_nothing(tmp_path):
    from descriptors.store.journal import Journal

    slab = _slab()
    forces = np.zeros((len(slab), 3))
    db, journal = tmp_path / "s.db", tmp_path / "s.db.journal"
    store = Store(db)
    assert store.use_journal(journal) == 0
    store._folded = float("inf")  # no fold on time: what a SIGKILL right now would leave
    store.write(slab, {"job_id": "j1", "status": STATUS_OK}, energy=-1.0, forces=forces, calculator="emt")
    store.write(slab, {"job_id": "j2", "status": STATUS_OK}, energy=-2.0, forces=forces, calculator="emt")
    assert Store(db).count() == 0 and len(Journal(journal).records()) == 2  # durable, not yet in the db
    # a record cut short by a crash mid-write is dropped, the ones before it kept
    with open(journal, "ab") as fh:
        fh.write(b"\x10\x00\x00\x00garbage")
    again = Store(db)  # the next run: folds what it finds
    assert again.use_journal(journal) == 2
    assert again.statuses() == {"j1": STATUS_OK, "j2": STATUS_OK} and again.get("j2").energy == -2.0
    # killed between the commit and emptying the journal: folding the same records again replaces, never duplicates
    store._pending = Journal(journal).records() or store._pending
    store.fold()
    assert again.count() == 2 and again.count(job_id="j1") == 1
    # the same job twice in one batch (a retried failure): one row, the newer
    again._folded = float("inf")
    again.write(slab, {"job_id": "j3", "status": "failed", "error": "x"})
    again.write(slab, {"job_id": "j3", "status": STATUS_OK}, energy=-3.0, forces=forces, calculator="emt")
    assert again.count(job_id="j3") == 1 and again.get("j3").energy == -3.0
    again.close()
    assert not journal.exists()  # an empty journal is removed when the store closes


def test_status_of_a_stopped_screen_counts_results_in_its_journal(tmp_path):
    from types import SimpleNamespace

    from descriptors.report.status import format_status, summarize
    from descriptors.store.journal import journal_path
    from descriptors.store.plan import Plan

    db = tmp_path / "screen.db"
    plan = Plan(tmp_path / "plan.json", str(db), "j")
    plan.add([SimpleNamespace(id=f"j{i}", kind="adsorbate", label=f"job {i}") for i in range(3)], "adsorbates")
    store = Store(db)
    store.use_journal(journal_path(db, tmp_path, False))
    store._folded = float("inf")  # killed before the next fold
    slab = _slab()
    for i in range(2):
        store.write(slab, {"job_id": f"j{i}", "status": STATUS_OK}, energy=-1.0, forces=np.zeros((len(slab), 3)))
    s = summarize(tmp_path)
    assert s["journal"] == 2 and len(s["pending"]) == 3
    assert "2 finished results are in the store's journal" in format_status(s)


def _check_get_many(store, prefix):
    slab = _slab()
    forces = np.zeros((len(slab), 3))
    ids = [f"{prefix}{i}" for i in range(7)]
    for i, jid in enumerate(ids):
        store.write(slab, {"job_id": jid, "kind": "adsorbate", "status": STATUS_OK, "e_ads": -0.1 * i},
                    data={"n": i}, energy=-1.0 - i, forces=forces)
    # a retried job: its newer row replaces the first, and get_many returns that one, as get does
    store.write(slab, {"job_id": ids[3], "kind": "adsorbate", "status": STATUS_OK, "e_ads": 9.0}, data={"n": 30},
                energy=-30.0, forces=forces)
    store.fold()
    many = store.get_many(ids + ["missing", ids[0]])
    assert list(many) == ids  # asked order, duplicates once, missing left out
    for jid in ids:
        one = store.get(jid)
        assert many[jid].id == one.id and many[jid].energy == one.energy
        assert many[jid].key_value_pairs == one.key_value_pairs and dict(many[jid].data) == dict(one.data)
    assert many[ids[3]].get("e_ads") == 9.0
    assert np.allclose(many[ids[2]].toatoms().positions, slab.positions)


def test_get_many_is_get_for_every_job_sqlite(tmp_path):
    """The batched read the tables and the analysis use returns, per job, the row get() returns:
    on a writable store, on the same file opened read-only, and after a job was written twice."""
    store = Store(tmp_path / "s.db")
    _check_get_many(store, "gm")
    store.close()
    ro = Store(tmp_path / "s.db", readonly=True)
    assert [r.get("e_ads") for r in ro.get_many([f"gm{i}" for i in range(7)]).values()] == \
        [-0.1 * i for i in range(7) if i != 3][:3] + [9.0] + [-0.1 * i for i in range(4, 7)]


def test_get_many_is_get_for_every_job_postgres():
    _check_get_many(_postgres_store("gmpg"), "gmpg")
