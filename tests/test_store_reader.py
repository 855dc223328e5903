"""The sqlite3 reader of a read-only store (store/reader.py) gives what ase.db gives, row for row,
and the fast reads (`no3rr lookup`, `no3rr status`) do not import ase.db, matplotlib or pydantic."""

import json
import subprocess
import sys
from pathlib import Path

import ase.db
import numpy as np
import pytest
from ase.build import fcc100
from ase.constraints import FixAtoms

from descriptors.store.db import Store
from descriptors.store.reader import decode_data

SRC = Path(__file__).resolve().parents[1] / "src"


def _store(tmp_path) -> Path:
    """A store with the kinds of values screens write: text, bool, int, float and hash keys, nested
    data with arrays, a failed row without energy, and one job written twice (the newest wins)."""
    path = tmp_path / "screen.db"
    s = Store(path)
    slab = fcc100("Cu", (2, 2, 2), vacuum=5.0)
    slab.set_constraint(FixAtoms(indices=[0, 1]))
    rng = np.random.default_rng(3)
    for i in range(6):
        meta = {"job_id": f"job{i}", "kind": "adsorbate" if i < 4 else "gas", "catalyst": f"Cu({100 + i % 2})",
                "adsorbate": "NO3", "site": "bridge", "status": "ok" if i != 3 else "failed",
                "converged": i % 2 == 0, "steps": 10 + i, "e_ads": -1.25 + 0.1 * i, "settings_hash": "0123abcd",
                "calc": "emt", "bound_to": "Cu,Cu", "anomaly": "dissociated,moved" if i == 1 else ""}
        data = {"relax": {"optimizer": "BFGS", "fmax": 0.05}, "calculator": {"name": "emt", "params": {}},
                "vib_energies_real": rng.random(3), "indices": [1, 2], "nested": {"a": np.arange(4)}}
        energy = None if i == 3 else -10.0 - i
        forces = None if i == 3 else rng.random((len(slab), 3)) * 0.01
        s.write(slab, meta, data=data, energy=energy, forces=forces, calculator="emt",
                calculator_parameters={"asap_cutoff": False})
    # an old-style second row of job2 (as a retry before rows were replaced): the newest wins
    db = ase.db.connect(str(path))
    db.write(slab, key_value_pairs={"job_id": "job2", "kind": "adsorbate", "status": "ok", "catalyst": "Cu(100)"},
             data={"relax": {"optimizer": "FIRE"}})
    s.close()
    return path


def _same(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)


def test_reader_rows_equal_ase_db_rows(tmp_path):
    path = _store(tmp_path)
    ro = Store(path, readonly=True)
    assert ro.reader is not None and ro._db is None  # no ase.db until a structure is asked for
    ref = {r.id: r for r in ase.db.connect(str(path)).select()}
    mine = {r.id: r for r in ro.select()}
    assert set(mine) == set(ref) and len(mine) == 7
    for i, r in ref.items():
        m = mine[i]
        assert m.key_value_pairs == r.key_value_pairs
        for key in list(r.key_value_pairs) + ["energy", "natoms", "calculator", "ctime", "unique_id", "missing"]:
            assert m.get(key, "dflt") == r.get(key, "dflt"), key
        _same(m.data, r.data)
        assert m.data.relax == r.data.relax  # attribute access on data, as AtomsRow's FancyDict
        assert getattr(m, "calculator_parameters", None) == getattr(r, "calculator_parameters", None)
        assert ("energy" in m) == ("energy" in r)
    assert ro._db is None
    a, b = mine[1].toatoms(), ref[1].toatoms()  # structures come from ase.db itself
    assert np.allclose(a.positions, b.positions) and a.get_potential_energy() == b.get_potential_energy()
    assert [c.todict() for c in a.constraints] == [c.todict() for c in b.constraints]


def test_reader_selects_as_ase_db(tmp_path):
    path = _store(tmp_path)
    ro, db = Store(path, readonly=True), ase.db.connect(str(path))
    for q in ({"kind": "adsorbate"}, {"kind": "gas"}, {"catalyst": "Cu(101)", "kind": "adsorbate"},
              {"converged": True}, {"converged": False}, {"steps": 12}, {"e_ads": -1.25}, {"job_id": "nope"},
              {"status": "failed"}, {"settings_hash": "0123abcd"}, {"id": 3}, {"calculator": "emt"}, {}):
        assert [r.id for r in ro.select(**q)] == [r.id for r in db.select(**q)], q
        assert ro.count(**q) == db.count(**q), q
    assert [r.id for r in ro.select(kind="adsorbate", include_data=False)] == [1, 2, 3, 4, 7]
    assert ro.get("job2").id == 7 and ro.get("job2").data["relax"] == {"optimizer": "FIRE"}
    assert ro.get("nope") is None
    assert ro.status("job3") == "failed"
    assert ro.statuses()["job2"] == "ok"
    # options the reader does not read go to ase.db, with ase.db's answer
    assert [r.id for r in ro.select(kind="adsorbate", sort="-steps")] == [r.id for r in db.select(kind="adsorbate",
                                                                                                     sort="-steps")]


def test_decode_data_text_and_empty():
    assert decode_data(None) == {} and decode_data("null") == {}
    assert decode_data('{"a": [1, 2], "b": {"c": "x"}}') == {"a": [1, 2], "b": {"c": "x"}}  # JSON text (old files)


def test_readonly_store_never_writes(tmp_path):
    path = _store(tmp_path)
    before = path.read_bytes()
    ro = Store(path, readonly=True)
    list(ro.select(kind="adsorbate"))
    ro.statuses()
    ro.close()
    assert path.read_bytes() == before
    with pytest.raises(Exception, match="not found"):
        Store(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()
    bad = tmp_path / "bad.db"
    bad.write_text("not a database" * 100)
    with pytest.raises(Exception, match="not a readable SQLite database"):
        Store(bad, readonly=True)


def test_empty_store_file_reads_as_empty_and_stays_empty(tmp_path):
    """A screen killed before its first row leaves a store file without tables: status says every
    job is pending, lookup finds nothing; neither writes to the file."""
    from descriptors.cli import main

    db = tmp_path / "screen.db"
    db.touch()
    (tmp_path / "plan.json").write_text(json.dumps({"db": str(db), "name": "t", "calculator": "emt", "complete": True,
                                                    "stages": [], "jobs": {"j": {"kind": "gas", "label": "H2"}}}))
    ro = Store(db, readonly=True)
    assert list(ro.select(kind="adsorbate")) == [] and ro.count() == 0 and ro.statuses() == {} and ro.get("j") is None
    assert main(["status", str(tmp_path)]) == 1  # pending
    assert main(["lookup", "--db", str(db), "--catalyst", "Cu(100)"]) == 1  # nothing stored
    assert db.stat().st_size == 0


@pytest.mark.parametrize("command", ["lookup", "status"])
def test_fast_reads_import_no_heavy_module(tmp_path, command):
    """`lookup` and `status` read the store with sqlite3: ase.db (1.7 s of imports), matplotlib,
    pydantic, scipy and the engine are not imported (the timing itself is a benchmark:
    benchmarks/cli.py)."""
    path = _store(tmp_path)
    (tmp_path / "plan.json").write_text(json.dumps({"db": str(path), "name": "t", "calculator": "emt",
                                                    "complete": True, "stages": ["adsorbates"], "jobs": {
                                                        "job0": {"kind": "adsorbate", "label": "Cu(100) *NO3"}}}))
    argv = (["lookup", "--db", str(path), "--catalyst", "Cu(101)"] if command == "lookup" else ["status", str(tmp_path)])
    code = ("import sys\nfrom descriptors.cli import main\nrc = main(%r)\n"
            "heavy = sorted(m for m in ('ase.db', 'matplotlib', 'pydantic', 'scipy', 'descriptors.engine.engine',"
            " 'descriptors.calculators') if m in sys.modules)\n"
            "print('HEAVY', heavy, rc, file=sys.stderr)\n") % argv
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)},
                       timeout=120)
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("HEAVY [] "), p.stderr
    assert "E_ads" in p.stdout if command == "lookup" else "planned 1 jobs" in p.stdout


def test_lookup_says_why_there_is_no_limiting_potential(tmp_path):
    """A catalyst without a complete route prints U_L = n/a WITH the analysis' reason, not a bare n/a."""
    import json

    from descriptors.report.lookup import lookup_derived

    reason = "no complete NO3-(aq) -> NH3 route: *NOH (no intact bound site (dissociated))"
    summary = tmp_path / "analysis_summary.json"
    rows = [{"catalyst": "Cu(111)", "U_L_V": None, "PDS": "", "branch": "", "dG_H_eV": -0.36,
             "missing": "*NOH (no intact bound site (dissociated))", "notes": reason},
            {"catalyst": "Ag(100)", "U_L_V": -0.8, "PDS": "*NO3->*NO3H", "branch": "O", "dG_H_eV": 0.2}]
    summary.write_text(json.dumps({"catalysts": rows, "corrections": "computed"}))
    d, line = lookup_derived(str(tmp_path / "screen.db"), "Cu(111)", summary)
    assert d["U_L_V"] is None and f"U_L = n/a ({reason})" in line
    d, line = lookup_derived(str(tmp_path / "screen.db"), "Ag(100)", summary)
    assert "U_L = -0.800 V vs RHE" in line and "n/a" not in line
