"""The store at scale: a synthetic screen of many jobs through the real engine and store.

A job here is a real :class:`descriptors.engine.jobs.Job` (recipe -> SHA-256 identity, meta,
its own small Atoms) of the kind ``bench-zero``, whose task (registered below like any other)
costs nothing: it returns the structure with a zero energy, without a calculator.  Everything
else is what a screen does: ``Engine.run`` plans the jobs (plan.json), asks the store which are
done (``Engine.pending`` -> ``Store.statuses``) and records every outcome with ``Store.write``.

Each phase runs in a fresh child process (``python -m benchmarks.store_scale PHASE ...``) so its
time and peak memory (VmHWM) are its own:

* ``fill``: the first job through ``Engine.run``; its row is then copied at the SQL level to the
  other N-1 job ids (every table of ase.db's schema, job id replaced), so that a 100,000-job
  store exists in seconds (through the engine it would take N x the write time below);
* ``resume``: the same N jobs planned again and run: nothing to compute; wall time and peak
  memory (goal <= 10 s, <= 1 GB); ``--legacy`` measures the code before issue 16 (ase.db row
  objects for every stored job) on the same store;
* ``write``: M new jobs through ``Engine.run`` as a screen writes them: each result appended to
  the results journal (store/journal.py), folded into the database in batches (goal >= 500
  results/s); the time inside ``Store.write`` and ``Store.fold`` is the driver's write cost;
  ``--direct`` writes the same rows with a commit per result (no journal); ``--legacy``
  writes with the old ``Store.write`` (ase.db's own connection and commit per row, a job-id lookup
  that scans every row);
* ``kill``: a screen of jobs that take 10 ms each, SIGKILLed mid-run; every result the driver
  reported written must be in the store, and the next run computes exactly the rest (no
  duplicates).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["run_store_scale"]

KIND = "bench-zero"
REPO = Path(__file__).resolve().parents[1]


def _register() -> None:
    import numpy as np

    from descriptors.tasks.base import CalcResult, task
    from descriptors.tasks.relax import freeze

    @task(KIND)
    def zero_task(atoms, ctx):  # noqa: ARG001  (a task with no calculator: costs nothing)
        delay = float(os.environ.get("NO3RR_BENCH_JOB_S", "0") or 0)
        if delay:
            time.sleep(delay)
        return CalcResult(freeze(atoms, 0.0, np.zeros((len(atoms), 3))), 0.0, 0.0, 0, True, delay)


def _jobs(n: int, start: int = 0):
    from ase import Atoms

    from descriptors.engine.jobs import Job

    base = Atoms("CuH", positions=[[0, 0, 0], [0, 0, 1.5]], cell=[8, 8, 8], pbc=True)
    return [Job(KIND, {"bench": "store-scale", "i": i}, {"catalyst": "synthetic", "adsorbate": "H", "site": i % 7},
                base.copy(), label=f"synthetic {i}") for i in range(start, start + n)]


def _engine(location: str, workdir: Path):
    from descriptors.calculators import CalculatorSetting
    from descriptors.engine.engine import Engine
    from descriptors.store.db import Store
    from descriptors.tasks import RelaxSettings

    store = Store(location)
    return store, Engine(store, CalculatorSetting("emt"), RelaxSettings(steps=0), progress=False, workdir=workdir)


def _hwm_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _legacy_statuses(self) -> dict[str, str]:
    """``Store.statuses`` before issue 16: an ase.db row object for every stored job."""
    out: dict[str, str] = {}
    for r in self.db.select(include_data=False):
        jid = r.get("job_id")
        if jid is not None:
            out[jid] = r.get("status")
    return out


def _legacy_write(self, atoms, meta, data=None, energy=None, forces=None, calculator=None,
                  calculator_parameters=None) -> int:
    """``Store.write`` before issue 16: a job-id lookup through ase.db (no index on the value),
    ase.db's own connection and a commit per row (rollback journal, full sync)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from descriptors.store.db import _kvp

    old = [r.id for r in self.db.select(job_id=meta["job_id"])]
    a = atoms.copy()
    a.info = {}
    if energy is not None:
        calc = SinglePointCalculator(a, energy=energy, forces=forces)
        if calculator:
            calc.name = calculator
            calc.parameters = dict(calculator_parameters or {})
        a.calc = calc
    with self.db:
        row_id = self.db.write(a, key_value_pairs=_kvp(meta), data=data or {})
        if old:
            self.db.delete(old)
    return row_id


def _clone_fill(store, template_job_id: str, n: int, start: int) -> None:
    """Copy the engine's row of one job to the jobs start..start+n-1 at the SQL level (its
    job_id replaced in the key-value tables), so a 100,000-row store is made in seconds."""
    from descriptors.identity import job_id

    con = store._connection()
    pg = store.is_url
    raw = con.con if pg else con
    cur = raw.cursor()
    ph = "%s" if pg else "?"
    cur.execute(f"SELECT id FROM text_key_values WHERE key = 'job_id' AND value = {ph}", (template_job_id,))
    tid = cur.fetchone()[0]
    cur.execute("SELECT MAX(id) FROM systems")
    top = cur.fetchone()[0]
    tables = ["systems", "species", "keys", "text_key_values", "number_key_values"]
    rows: dict[str, tuple[list[str], list[tuple]]] = {}
    for t in tables:
        cur.execute(f"SELECT * FROM {t} WHERE id = {ph}", (tid,))
        rows[t] = ([d[0] for d in cur.description], cur.fetchall())
    ids = [job_id({"bench": "store-scale", "i": i}) for i in range(start, start + n)]
    if pg:  # on the server: the template row once per new id (a client-side copy took minutes)
        new_ids = list(range(top + 1, top + 1 + n))
        for t in tables:
            cols = rows[t][0]
            expr = {"id": "u.nid", "unique_id": "lpad(to_hex(u.nid), 32, '0')",
                    "key_value_pairs": "jsonb_set(s.key_value_pairs, '{job_id}', to_jsonb(u.jid))"} if t == "systems" \
                else {"id": "u.nid", "value": "CASE WHEN s.key = 'job_id' THEN u.jid ELSE s.value END"} \
                if t == "text_key_values" else {"id": "u.nid"}
            select = ", ".join(expr.get(c, f"s.{c}") for c in cols)
            cur.execute(f"INSERT INTO {t} ({', '.join(cols)}) SELECT {select} FROM {t} s, "
                        "unnest(%s::int[], %s::text[]) AS u(nid, jid) WHERE s.id = %s", (new_ids, ids, tid))
        cur.execute("SELECT setval('systems_id_seq', (SELECT MAX(id) FROM systems))")
        raw.commit()
        return
    for t in tables:
        cols, tmpl = rows[t]
        out = []
        for k, jid in enumerate(ids):
            new_id = top + 1 + k
            for r in tmpl:
                r = dict(zip(cols, r))
                r["id"] = new_id
                if t == "systems":
                    r["unique_id"] = f"{new_id:032x}"
                    kvp = r["key_value_pairs"]
                    kvp = json.loads(kvp) if isinstance(kvp, str) else dict(kvp)
                    kvp["job_id"] = jid
                    r["key_value_pairs"] = json.dumps(kvp)
                elif t == "text_key_values" and r["key"] == "job_id":
                    r["value"] = jid
                if pg:  # JSONB columns come back as dicts (arrays as lists, which psycopg2 adapts)
                    from psycopg2.extras import Json

                    r = {c: Json(v) if isinstance(v, dict) else v for c, v in r.items()}
                out.append(tuple(r[c] for c in cols))
        if not out:
            continue
        sql = f"INSERT INTO {t} ({', '.join(cols)}) VALUES "
        if pg:
            from psycopg2.extras import execute_values

            execute_values(cur, sql + "%s", out, page_size=5000)
        else:
            cur.executemany(sql + f"({', '.join('?' * len(cols))})", out)
    if pg:
        cur.execute("SELECT setval('systems_id_seq', (SELECT MAX(id) FROM systems))")
    raw.commit()


def _child(argv: list[str]) -> dict[str, Any]:
    phase, location, n, start = argv[0], argv[1], int(argv[2]), int(argv[3])
    legacy = "--legacy" in argv
    direct = "--direct" in argv  # this round's row path with a commit per result, no journal
    workdir = Path(argv[4])
    _register()
    from descriptors.store.db import Store

    if legacy:
        Store.statuses = _legacy_statuses
        Store.write = _legacy_write
    if legacy or direct:
        Store.use_journal = lambda self, path: 0
    t0, c0 = time.perf_counter(), time.process_time()
    jobs = _jobs(n, start)
    t_plan = time.perf_counter() - t0
    store, eng = _engine(location, workdir)
    writes = {"n": 0, "s": 0.0, "cpu": 0.0}
    inner = store.write

    depth = {"write": 0}

    def timed_write(*a, **k):
        t, c = time.perf_counter(), time.process_time()
        depth["write"] += 1
        try:
            out = inner(*a, **k)
        finally:
            depth["write"] -= 1
        writes["n"] += 1
        writes["s"] += time.perf_counter() - t
        writes["cpu"] += time.process_time() - c
        if phase == "kill":
            print(a[1]["job_id"], flush=True)  # reported only once durable (journal or commit)
        return out

    store.write = timed_write
    fold = store.fold

    def timed_fold():  # the end-of-stage fold of the journal is write time too (inside write it is counted)
        if depth["write"]:
            return fold()
        t, c = time.perf_counter(), time.process_time()
        out = fold()
        writes["s"] += time.perf_counter() - t
        writes["cpu"] += time.process_time() - c
        return out

    store.fold = timed_fold
    t1 = time.perf_counter()
    if phase == "fill":  # the engine writes the first job; its row is cloned for the others
        eng.run(jobs[:1], "fill")
        _clone_fill(store, jobs[0].id, n - 1, start + 1)
        eng.plan.add(jobs, "fill")
    else:
        eng.run(jobs, phase)
    t_run = time.perf_counter() - t1
    t_pending = time.perf_counter()
    return {
        "phase": phase, "legacy": legacy, "direct": direct, "jobs": n, "plan_s": round(t_plan, 3), "run_s": round(t_run, 3),
        "wall_s": round(t_pending - t0, 3), "cpu_s": round(time.process_time() - c0, 3),
        "computed": eng.stats.computed, "reused": eng.stats.reused, "writes": writes["n"],
        "replayed_from_journal": eng.replayed,
        "write_s": round(writes["s"], 3), "write_cpu_s": round(writes["cpu"], 3),
        "peak_mb": _hwm_mb(), "journal": store.journal,
    }


def _run_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.store_scale", *args]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=_env(env))
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])}: exit {p.returncode}: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def _stored_ids(location: str, workdir: Path | None = None) -> list[str]:
    """Job ids in the store, after folding what the (killed) run left in its results journal, as
    the next run does first."""
    from descriptors.store.db import Store
    from descriptors.store.journal import journal_path

    store = Store(location)
    if workdir is not None:
        store.use_journal(journal_path(location, workdir, store.is_url))
    cur = store._connection().cursor()
    cur.execute("SELECT value FROM text_key_values WHERE key = 'job_id'")
    ids = [r[0] for r in cur.fetchall()]
    store.close()
    return ids


def _kill_test(location: str, workdir: Path, n: int, after_s: float) -> dict[str, Any]:
    """SIGKILL a screen of n 10-ms jobs after ``after_s`` s; check what is stored, then finish it."""
    cmd = [sys.executable, "-m", "benchmarks.store_scale", "kill", location, str(n), "0", str(workdir)]
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=_env({"NO3RR_BENCH_JOB_S": "0.01"}))
    reported: list[str] = []
    t0 = None
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    while True:
        if t0 is not None and time.perf_counter() - t0 >= after_s:
            break
        if not sel.select(timeout=1.0):
            if p.poll() is not None:
                break
            continue
        line = p.stdout.readline()
        if not line:
            break
        reported.append(line.strip())
        if t0 is None:
            t0 = time.perf_counter()  # the first result is written: the screen is running
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    # what the pipe still held was also reported before the kill
    reported += [x.strip() for x in p.stdout.read().splitlines() if x.strip()]
    stored = _stored_ids(location, workdir)
    lost = sorted(set(reported) - set(stored))
    again = _run_child(["write", location, str(n), "0", str(workdir)])
    final = _stored_ids(location)
    return {
        "jobs": n, "killed_after_s": after_s, "reported_written": len(reported), "stored_after_kill": len(stored),
        "lost_reported_results": len(lost), "in_flight_at_kill": len(stored) - len(reported),
        "next_run_computed": again["computed"], "next_run_reused": again["reused"],
        "rows_final": len(final), "distinct_jobs_final": len(set(final)),
        "ok": (not lost and again["computed"] == n - len(stored) and len(final) == n == len(set(final))),
    }


def _pg_location(schema: str) -> str | None:
    url = os.environ.get("NO3RR_TEST_POSTGRES_URL", "postgresql://no3rr:no3rr@localhost:5432/no3rr_test")
    try:
        import psycopg2

        con = psycopg2.connect(url, connect_timeout=5)
    except Exception:  # no server, no driver: the PostgreSQL figures are skipped and say so
        return None
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cur.execute(f"CREATE SCHEMA {schema}")
    con.close()
    return f"{url}?options=-csearch_path%3D{schema}"


def _pg_drop(schema: str) -> None:
    import psycopg2

    url = os.environ.get("NO3RR_TEST_POSTGRES_URL", "postgresql://no3rr:no3rr@localhost:5432/no3rr_test")
    con = psycopg2.connect(url, connect_timeout=5)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    con.close()


def _backend(name: str, location: str, workdir: Path, n: int, m: int, m_legacy: int, kill_n: int,
             log) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": name, "jobs": n}
    log(f"store {name}: fill {n} jobs ...")
    out["fill"] = _run_child(["fill", location, str(n), "0", str(workdir / "fill")])
    log(f"store {name}: resume {n} jobs (now and before) ...")
    out["resume"] = _run_child(["resume", location, str(n), "0", str(workdir / "fill")])
    # NO3RR_BENCH_LEGACY=0: leave out the code before issue 16 (on 100,000 PostgreSQL rows it takes an hour)
    legacy = os.environ.get("NO3RR_BENCH_LEGACY", "1") != "0"
    skipped = {"skipped": "NO3RR_BENCH_LEGACY=0"}
    out["resume_legacy"] = (_run_child(["resume", location, str(n), "0", str(workdir / "fill"), "--legacy"])
                            if legacy else dict(skipped))
    log(f"store {name}: write {m} new results (now and {m_legacy} before) ...")
    w = _run_child(["write", location, str(m), str(n), str(workdir / "write")])
    wd = _run_child(["write", location, str(m), str(n + m), str(workdir / "write-direct"), "--direct"])
    wl = (_run_child(["write", location, str(m_legacy), str(n + 2 * m), str(workdir / "write-legacy"), "--legacy"])
          if legacy else dict(skipped, writes=0, run_s=0, write_s=0, write_cpu_s=0))
    for r in (w, wd, wl):
        r["results_per_s"] = round(r["writes"] / r["run_s"], 1) if r["run_s"] else None
        r["results_per_cpu_s"] = round(r["writes"] / r["cpu_s"], 1) if r.get("cpu_s") else None
        r["store_writes_per_s"] = round(r["writes"] / r["write_s"], 1) if r["write_s"] else None
        r["store_writes_per_cpu_s"] = round(r["writes"] / r["write_cpu_s"], 1) if r["write_cpu_s"] else None
    out["write"], out["write_direct"], out["write_legacy"] = w, wd, wl
    log(f"store {name}: " + json.dumps(out))  # the figures so far, should a later phase be interrupted
    return out


def run_store_scale(quick: bool, workdir: Path, log) -> dict[str, Any]:
    """Both backends (PostgreSQL when a server answers): fill, resume, write, SIGKILL."""
    n = 10_000 if quick else 100_000
    m, m_legacy = (500, 100) if quick else (2000, 200)
    result: dict[str, Any] = {"goals": {"resume_s": 10.0, "resume_peak_mb": 1024.0, "results_per_s": 500.0,
                                        "lost_on_sigkill": "at most the jobs in flight"},
                              "backends": []}
    workdir.mkdir(parents=True, exist_ok=True)
    n_sqlite = int(os.environ.get("NO3RR_BENCH_SQLITE_JOBS", n))
    result["backends"].append(_backend("sqlite", str(workdir / "scale.db"), workdir / "sqlite", n_sqlite, m, m_legacy,
                                       0, log))
    log("store sqlite: SIGKILL mid-screen ...")
    result["kill"] = [dict(_kill_test(str(workdir / "kill.db"), workdir / "kill", 400, 1.0), backend="sqlite")]
    log("store sqlite: " + json.dumps(result["kill"][0]))
    schema = "no3rr_bench_store_scale"
    pg = _pg_location(schema)
    if os.environ.get("NO3RR_BENCH_PG_JOBS") == "0":
        result["postgresql"] = "skipped: NO3RR_BENCH_PG_JOBS=0"
        _pg_drop(schema) if pg else None
    elif pg is None:
        result["postgresql"] = "skipped: no PostgreSQL server at NO3RR_TEST_POSTGRES_URL"
    else:
        try:
            n_pg = 10_000 if quick else int(os.environ.get("NO3RR_BENCH_PG_JOBS", "100000"))
            result["backends"].append(_backend("postgresql", pg, workdir / "pg", n_pg, m, m_legacy, 0, log))
            _pg_drop(schema)
            pg = _pg_location(schema)
            log("store postgresql: SIGKILL mid-screen ...")
            result["kill"].append(dict(_kill_test(pg, workdir / "pg-kill", 400, 1.0), backend="postgresql"))
        except Exception as err:  # the SQLite figures stand; say what went wrong with PostgreSQL
            result["postgresql"] = f"failed: {type(err).__name__}: {err}"[:500]
        finally:
            _pg_drop(schema)
    return result


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1:])))
