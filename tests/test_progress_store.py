"""Progress lines for a log file, and the store's SQL paths (statuses, job-id lookup, bulk writes,
WAL journal) against ase.db's own row objects; a SIGKILLed driver loses no written result."""

import io
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule

from descriptors.engine.progress import Progress, progress_bar
from descriptors.store.db import STATUS_FAILED, STATUS_OK, Store

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_progress_in_a_log_writes_a_line_per_interval_not_per_job():
    out, clock = io.StringIO(), FakeClock()
    bar = Progress(100, "adsorbates", file=out, interval=30, clock=clock)
    for i in range(100):
        clock.t = i * 1.0  # one job a second: 100 s in all
        bar.set_postfix({"done": i + 1, "failed": 0}, refresh=False)
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    # start, t=30, 60, 90, end: not one line per job
    assert len(lines) == 5, lines
    assert lines[0].startswith("adsorbates: 0/100 jobs") and lines[0].endswith("started")
    assert "31/100 jobs (31 %)" in lines[1] and "00:30 elapsed" in lines[1] and "done 31" in lines[1]
    assert lines[-1].startswith("adsorbates: 100/100 jobs (100 %)") and lines[-1].endswith("finished")
    assert all("\r" not in x for x in lines)


def test_progress_bar_is_tqdm_on_a_terminal_only():
    assert isinstance(progress_bar(3, "x", file=io.StringIO()), Progress)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    from tqdm import tqdm

    assert isinstance(progress_bar(3, "x", file=Tty()), tqdm)
    quiet = progress_bar(3, "x", disable=True, file=io.StringIO())
    quiet.update()
    quiet.close()
    assert quiet.file.getvalue() == ""


def _legacy_statuses(store):
    out = {}
    for r in store.db.select(include_data=False):
        if r.get("job_id") is not None:
            out[r.get("job_id")] = r.get("status")
    return out


def test_statuses_and_rewrite_match_ase_rows(tmp_path):
    store = Store(tmp_path / "s.db")
    h2o = molecule("H2O")
    for i in range(5):
        store.write(h2o, {"job_id": f"job{i}", "status": STATUS_FAILED if i == 2 else STATUS_OK, "kind": "gas"},
                    energy=float(i), forces=np.zeros((3, 3)), calculator="emt")
    # a retried failure replaces its row: one row, the new status
    store.write(h2o, {"job_id": "job2", "status": STATUS_OK, "kind": "gas"}, energy=-1.0, forces=np.zeros((3, 3)))
    assert store.count() == 5
    assert store.statuses() == _legacy_statuses(store) == {f"job{i}": STATUS_OK for i in range(5)}
    assert store.get("job2").energy == pytest.approx(-1.0)
    assert store.get("job3").energy == pytest.approx(3.0)
    # rows read back through ase.db as before (energy, forces, calculator name)
    row = store.get("job1")
    assert row.calculator == "emt" and np.allclose(row.forces, 0)
    assert store.journal == "wal"
    con = sqlite3.connect(tmp_path / "s.db")
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "no3rr_text_key_value" in names


def test_old_store_statuses_match_ase_rows():
    old = REPO / "tests" / "fixtures"
    dbs = sorted(old.rglob("*.db"))
    if not dbs:
        pytest.skip("no fixture store")
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        copy = Path(d) / dbs[0].name
        shutil.copy(dbs[0], copy)
        store = Store(copy)
        got = store.statuses()
        assert got and got == _legacy_statuses(store)


def test_bulk_is_all_or_nothing(tmp_path):
    store = Store(tmp_path / "s.db")
    h2 = molecule("H2")
    with store.bulk():
        for i in range(3):
            store.write(h2, {"job_id": f"a{i}", "status": STATUS_OK})
    with pytest.raises(KeyboardInterrupt):
        with store.bulk():
            store.write(h2, {"job_id": "b0", "status": STATUS_OK})
            raise KeyboardInterrupt
    assert sorted(Store(tmp_path / "s.db").statuses()) == ["a0", "a1", "a2"]


def test_sigkill_loses_no_written_result_and_the_next_run_computes_the_rest(tmp_path):
    sys.path.insert(0, str(REPO))
    from benchmarks.store_scale import _kill_test

    r = _kill_test(str(tmp_path / "kill.db"), tmp_path / "w", 150, 0.5)
    assert r["lost_reported_results"] == 0
    assert 0 < r["stored_after_kill"] < 150, r  # killed mid-screen
    assert r["in_flight_at_kill"] <= 1  # serial engine: at most the one job it was writing
    assert r["next_run_computed"] == 150 - r["stored_after_kill"]
    assert r["rows_final"] == r["distinct_jobs_final"] == 150
    assert r["ok"]
