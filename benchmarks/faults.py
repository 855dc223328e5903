"""Fault injection: a 2-worker EMT screen interrupted again and again must end as if it never was.

One screen (``SPEC``, Cu(100)/(111) x O/N/H/NO: 35 jobs) runs as ``no3rr screen`` in its own process
group; at a random moment one fault is injected -- SIGKILL of the driver alone, SIGKILL of one
worker, or SIGINT to the process group (Ctrl-C) -- and the screen is started again, ``rounds``
times; then it runs to the end.  Checked against an uninterrupted run of the same spec: every
energy within ``TOL`` eV, every job exactly one row, no row failed (an interrupt is never a
failure), and no process of the screens left.  ``python -m benchmarks --only faults``;
tests/test_runs_never_lie.py runs a shorter one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TOL = 1e-4  # eV
CLI = [sys.executable, "-m", "descriptors.cli"]
SPEC = """
name = "faults"
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
[execution]
workers = 2
"""
FAULTS = ("kill-driver", "kill-worker", "ctrl-c")


def rows(db: Path) -> list[dict[str, Any]]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            return [{**json.loads(k), "energy": e} for k, e in con.execute("select key_value_pairs, energy from systems")]
    except sqlite3.Error:
        return []


def _alive(pids: set[int]) -> list[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _children(pid: int) -> set[int]:
    import psutil

    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _workers(pid: int) -> list[int]:
    """The pool's worker processes: grandchildren of the driver (driver -> fork server -> workers)."""
    import psutil

    out = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for c in children:
        try:
            if c.ppid() != pid and "forkserver" in " ".join(c.cmdline()) and c.status() != psutil.STATUS_ZOMBIE:
                out.append(c.pid)
        except psutil.Error:  # exited meanwhile
            pass
    return out


def run_faults(workdir: Path, spec_text: str = SPEC, rounds: int = 5, seed: int = 12, window: tuple = (2.0, 20.0),
               reference: dict[str, float] | None = None, log=lambda m: None, faults: tuple = FAULTS
               ) -> dict[str, Any]:
    """Inject ``rounds`` faults into one screen, resume, and compare with an uninterrupted run."""
    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    spec = workdir / "spec.toml"
    spec.write_text(spec_text)
    out = workdir / "faulty"
    cmd = CLI + ["screen", str(spec), "--out", str(out), "--no-progress", "--workers", "2", "--engine", "local"]
    seen: set[int] = set()
    events = []
    for i in range(rounds):
        fault = faults[i % len(faults)] if i < len(faults) else rng.choice(faults)
        err_file = workdir / f"round{i}.stderr"
        with open(err_file, "w") as fh:  # a file, not a pipe: the wait is for the driver only
            p = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=fh)
        t_fault = time.time() + rng.uniform(*window)
        while time.time() < t_fault and p.poll() is None:
            seen |= _children(p.pid)
            time.sleep(0.05)
        seen |= _children(p.pid)
        if p.poll() is not None:
            events.append({"round": i, "fault": None, "note": "finished before the fault", "exit": p.returncode})
            break
        n_before = len(rows(out / "screen.db"))
        if fault == "kill-driver":
            os.kill(p.pid, signal.SIGKILL)
        elif fault == "kill-worker":
            t_end = time.time() + 30
            while not (ws := _workers(p.pid)) and time.time() < t_end and p.poll() is None:
                time.sleep(0.05)  # the pool starts with the first job
            if ws:
                os.kill(rng.choice(ws), signal.SIGKILL)
            else:
                fault = "kill-worker (no worker yet: none)"
        else:
            os.killpg(p.pid, signal.SIGINT)
        if fault.startswith("kill-worker"):  # the screen goes on: stop it with Ctrl-C a little later
            time.sleep(rng.uniform(0.5, 2.0))
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        t_stop = time.time()
        p.wait(timeout=120)
        err = err_file.read_text(errors="replace")
        events.append({"round": i, "fault": fault, "rows_before": n_before, "exit": p.returncode,
                       "stop_s": round(time.time() - t_stop, 2), "stderr_tail": err.strip().splitlines()[-1:]})
        log(f"round {i}: {fault}, {n_before} rows, exit {p.returncode}")
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    time.sleep(2)  # workers of a SIGKILLed driver exit within their watchdog period (1 s)
    left = _alive(seen)
    got = rows(out / "screen.db")
    plan = json.loads((out / "plan.json").read_text())
    ids = [r["job_id"] for r in got]
    if reference is None:
        ref_out = workdir / "reference"
        r = subprocess.run(CLI + ["screen", str(spec), "--out", str(ref_out), "--no-progress", "--workers", "2",
                                  "--engine", "local"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        reference = {x["job_id"]: x["energy"] for x in rows(ref_out / "screen.db")}
    e_got = {x["job_id"]: x["energy"] for x in got}  # total energies of every job (E_ads follows from them)
    diffs = [abs(e_got[j] - reference[j]) for j in reference if e_got.get(j) is not None and reference[j] is not None]
    return {
        "rounds": len(events),
        "events": events,
        "final_exit": final.returncode,
        "jobs_planned": len(plan["jobs"]),
        "rows": len(got),
        "unique_jobs": len(set(ids)),
        "failed_rows": sum(1 for x in got if x.get("status") == "failed"),
        "missing_vs_reference": sorted(set(reference) - set(ids)),
        "max_abs_diff_energy_eV": max(diffs) if diffs else None,
        "compared": len(diffs),
        "processes_left": left,
        "ok": (final.returncode == 0 and len(got) == len(set(ids)) == len(plan["jobs"]) == len(reference)
               and not any(x.get("status") == "failed" for x in got) and not left
               and (max(diffs) if diffs else 0.0) <= TOL),
    }
