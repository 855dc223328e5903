"""The store on a real PostgreSQL server: a screen writes to it, resume and status read it, lookup
returns what the SQLite store of the same screen returns.

URL from NO3RR_TEST_POSTGRES_URL (default: the role/db that scripts/setup.sh --full creates).
"""

import json
import os

import pytest
from conftest import require

from descriptors.cli import main
from descriptors.report.status import summarize
from descriptors.specs import parse_spec
from descriptors.store.db import Store
from descriptors.workflows.screen import run_screen

URL = os.environ.get("NO3RR_TEST_POSTGRES_URL", "postgresql://no3rr:no3rr@localhost:5432/no3rr_test")


def _connect():
    try:
        store = Store(URL)
        store.count()
        return store, None
    except Exception as err:  # no driver, no server, wrong credentials
        return None, f"{type(err).__name__}: {err}"


def test_screen_writes_to_postgres_and_lookup_reads_it(tmp_path, capsys, monkeypatch):
    store, why = _connect()
    require(store is not None, f"PostgreSQL at {URL} ({why})",
            "bash scripts/setup.sh --full installs the driver and starts the server; or set NO3RR_TEST_POSTGRES_URL")
    ids = [r.id for r in store.select(include_data=False)]
    if ids:  # a clean test database: resume would otherwise reuse an earlier run's rows
        store.db.delete(ids)
    spec = parse_spec({
        "name": "pg-test", "adsorbates": ["O", "NO"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["100"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "lattice_constant": "experimental"}],
        "calculator": {"name": "emt"}, "relax": {"fmax": 0.05, "steps": 100},
        "db": URL,
    })
    res = run_screen(spec, out=tmp_path / "pg", engine="serial", progress=False, quiet=True)
    n = sum(res.stats["jobs"].values())
    assert res.stats["computed"] == n == store.count() and res.db == URL
    # resume on PostgreSQL: nothing recomputed
    res2 = run_screen(spec, out=tmp_path / "pg", engine="serial", progress=False, quiet=True)
    assert res2.stats["computed"] == 0 and res2.stats["reused"] == n and store.count() == n
    # the password is not written; status reads the plan and takes the password from PGPASSWORD
    from descriptors.store.db import _password

    pw = _password(URL)
    if pw:
        assert f":{pw}@" not in (tmp_path / "pg" / "plan.json").read_text()
        assert f":{pw}@" not in (tmp_path / "pg" / "summary.json").read_text()
        monkeypatch.setenv("PGPASSWORD", pw)
    s = summarize(tmp_path / "pg")
    assert s["complete"] and not s["pending"] and len(s["done"]) + len(s["unconverged"]) == n
    assert "***" in s["db"] and "no3rr:no3rr@" not in s["db"]  # password not echoed
    # the same screen on SQLite gives the same rows
    ref = run_screen(spec, out=tmp_path / "sqlite", db=str(tmp_path / "sqlite" / "screen.db"), engine="serial",
                     progress=False, quiet=True)
    sq = Store(ref.db)
    for r in store.select(kind="adsorbate"):
        assert sq.get(r.job_id).e_ads == pytest.approx(r.e_ads, abs=1e-9)
    # lookup reads from PostgreSQL: same answer as from SQLite
    for adsorbate in ("O", "NO"):
        got = []
        for db in (URL, str(ref.db)):
            assert main(["lookup", "--db", db, "--catalyst", "Cu(100)", "--adsorbate", adsorbate, "--json"]) == 0
            got.append(json.loads(capsys.readouterr().out))
        assert got[0]["site"] == got[1]["site"] and got[0]["E_ads_eV"] == pytest.approx(got[1]["E_ads_eV"])
        assert got[0]["calculator_settings"]["name"] == "emt"


def test_second_writer_on_postgres_refused(tmp_path):
    from descriptors.store.lock import StoreLock, StoreLocked

    store, why = _connect()
    require(store is not None, f"PostgreSQL at {URL} ({why})",
            "bash scripts/setup.sh --full installs the driver and starts the server; or set NO3RR_TEST_POSTGRES_URL")
    first = StoreLock(URL, is_url=True).acquire()
    try:
        with pytest.raises(StoreLocked, match=f"pid {os.getpid()}"):
            StoreLock(URL, is_url=True).acquire()
    finally:
        first.release()
    StoreLock(URL, is_url=True).acquire().release()  # released with its connection


def test_sigkill_on_postgres_loses_no_written_result_and_the_next_run_computes_the_rest(tmp_path):
    """A driver writing to PostgreSQL through its results journal (in the output directory),
    SIGKILLed mid-screen: every result it reported written is in the store once the next run has
    folded the journal; the next run computes exactly the rest; one row per job."""
    import sys
    from pathlib import Path

    store, why = _connect()
    require(store is not None, f"PostgreSQL at {URL} ({why})",
            "bash scripts/setup.sh --full installs the driver and starts the server; or set NO3RR_TEST_POSTGRES_URL")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.store_scale import _kill_test, _pg_drop, _pg_location

    schema = f"no3rr_test_kill_{os.getpid()}"
    location = _pg_location(schema)
    try:
        r = _kill_test(location, tmp_path / "w", 150, 0.5)
    finally:
        _pg_drop(schema)
    assert r["lost_reported_results"] == 0, r
    assert 0 < r["stored_after_kill"] < 150, r  # killed mid-screen
    assert r["in_flight_at_kill"] <= 1  # serial engine: at most the one job it was writing
    assert r["next_run_computed"] == 150 - r["stored_after_kill"]
    assert r["rows_final"] == r["distinct_jobs_final"] == 150
    assert r["ok"]
