"""The driver of a running screen is SIGKILLed mid-way and restarted.

At the end every planned job has exactly one result, rows stored before the kill are untouched,
and the restart made no calculator call for a job that was already stored.  Calculator calls
are observed in every process (driver and Parsl workers) by a ``sitecustomize`` that logs the
``job_id`` that ``run_job`` puts into ``atoms.info`` each time EMT computes.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from descriptors.store.db import Store
from descriptors.store.journal import journal_path, pending_jobs

SPEC = """
name = "kill-test"
adsorbates = ["O", "N", "H", "NO"]
[[catalysts]]
type = "slab"
metals = ["Cu"]
facets = ["100", "111"]
size = [2, 2]
layers = 3
fixed_layers = 1
lattice_constant = "experimental"
[calculator]
name = "emt"
[relax]
fmax = 0.02
steps = 150
"""

SITECUSTOMIZE = """
import os
_dir = os.environ.get("NO3RR_TEST_CALL_LOG")
if _dir:
    from ase.calculators.emt import EMT
    from descriptors.calculators.emt import VectorEMT  # the implementation behind "emt" (ASE's is selectable)

    def _logged(_orig):
        def calculate(self, atoms=None, *args, **kwargs):
            jid = (atoms if atoms is not None else self.atoms).info.get("job_id", "?")
            fd = os.open(os.path.join(_dir, f"calls-{os.getpid()}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            os.write(fd, (jid + "\\n").encode())
            os.close(fd)
            return _orig(self, atoms, *args, **kwargs)
        return calculate

    for _cls in (EMT, VectorEMT):
        _cls.calculate = _logged(_cls.__dict__["calculate"])
"""


def _calls(d: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in d.glob("calls-*.log"):
        for line in f.read_text().split():
            out[line] = out.get(line, 0) + 1
    return out


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("select count(*) from systems").fetchone()[0]
    except sqlite3.Error:
        return 0


def _kill_workers_of(out: Path) -> None:
    """SIGKILL the Parsl worker pool of the killed driver (its own process group), by pid."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "process_worker_pool" in cmd and str(out) in cmd:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.slow  # two Parsl start-ups and a small screen: ~40 s on 2 cores
def test_driver_killed_mid_screen_resumes_without_recomputing(tmp_path):
    spec = tmp_path / "kill.toml"
    spec.write_text(SPEC)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(SITECUSTOMIZE))
    out = tmp_path / "out"
    db = out / "screen.db"
    log1, log2 = tmp_path / "calls1", tmp_path / "calls2"
    log1.mkdir(), log2.mkdir()
    cmd = [sys.executable, "-m", "descriptors.cli", "screen", str(spec), "--out", str(out), "--no-progress",
           "--engine", "local", "--workers", "2"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))

    p = subprocess.Popen(cmd, env=dict(env, NO3RR_TEST_CALL_LOG=str(log1)), start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t_end = time.time() + 240
    while time.time() < t_end and p.poll() is None and _count(db) < 10:  # gas + clean done, adsorbates running
        time.sleep(0.05)
    assert p.poll() is None, "the screen finished before it could be killed:\n" + p.stdout.read().decode()
    os.killpg(p.pid, signal.SIGKILL)  # the driver and its interchange
    p.wait()
    p.stdout.close()
    _kill_workers_of(out)
    time.sleep(0.5)

    before = {r.job_id: (r.id, r.mtime) for r in Store(db).select()}
    plan = json.loads((out / "plan.json").read_text())
    assert len(before) >= 10 and not plan["complete"]
    assert _calls(log1), "the sitecustomize call log saw no calculator call"
    # results finished before the kill but not yet folded into the database wait in the journal
    # (store/journal.py): the next run folds them, it does not compute them again
    journaled = pending_jobs(journal_path(db, out, False)) - set(before)

    r = subprocess.run(cmd, env=dict(env, NO3RR_TEST_CALL_LOG=str(log2)), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    store = Store(db)
    rows = list(store.select())
    plan = json.loads((out / "plan.json").read_text())
    assert plan["complete"]
    planned = set(plan["jobs"])
    # every job exactly one result, none lost
    ids = [row.job_id for row in rows]
    assert len(ids) == len(set(ids)) == len(planned) and set(ids) == planned
    assert all(row.status in ("ok", "unconverged") for row in rows)
    # rows stored before the kill are untouched ...
    after = {row.job_id: (row.id, row.mtime) for row in rows}
    assert all(after[j] == before[j] for j in before)
    # ... and the restart computed exactly the missing jobs, calling no calculator for a stored one
    calls2 = _calls(log2)
    assert "?" not in calls2
    assert not set(calls2) & (set(before) | journaled)
    assert set(calls2) == planned - set(before) - journaled
    assert f"computed {len(planned) - len(before) - len(journaled)} jobs" in r.stdout
    # the status command agrees
    st = subprocess.run([sys.executable, "-m", "descriptors.cli", "status", str(out)], capture_output=True, text=True)
    assert st.returncode == 0, st.stdout + st.stderr
    assert f"planned {len(planned)} jobs: {len(planned)} done" in st.stdout and "0 pending" in st.stdout
