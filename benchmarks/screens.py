"""Screens as a user runs them: overhead, parallel efficiency, resume cost and peak memory.

Every screen runs in a fresh child process (``python -m benchmarks.screens``) so that its peak
memory and its calculator calls are its own.  The child calls the public
``descriptors.workflows.screen.run_screen(spec, out=..., workers=...)`` and nothing deeper; the calls are
counted from outside (``benchmarks/callcount.py``), in the driver and in every worker process.

Figures of one run (``measure_screen``):

* ``wall_s``: wall time of ``run_screen`` inside the child (imports and interpreter start-up are
  ``startup_s``).
* ``calc_s``: seconds inside the calculator (``calculate()``), summed over all processes;
  ``calls``: the number of real calculator calls.
* ``job_s``: seconds inside the jobs (``relax``/EOS fit, i.e. calculator + optimizer), from the
  engine's statistics.
* ``wall_over_calc`` = wall / calc; ``core_over_calc`` = wall x workers / calc (core-seconds
  spent per calculator-second, 1.0 is no overhead at all).
* ``overhead_ms_per_job`` = (wall x workers - calc) / jobs computed, split into the part inside the
  jobs (optimizer, calculator set-up: ``(job_s - calc_s) / jobs``) and the rest (driver: planning,
  site finding, placement, hashing, database writes, tables, process pool, idle workers).
* CPU-time versions (robust on a loaded machine, where wall time is mostly waiting for a core):
  ``cpu_total_s`` (driver + workers, ``getrusage``/psutil), ``calc_cpu_s`` (``process_time`` inside
  the calculator), ``cpu_over_calc_cpu`` and ``cpu_overhead_ms_per_job``; ``cpu_utilisation`` =
  cpu_total / (wall x workers) tells how much of the wall time the screen actually got a core.
* ``driver_s``: time of a few driver stages wrapped from outside (database writes, adsorbate-job
  planning, tables) where those functions exist.
* memory: the driver's peak RSS (VmHWM), the largest peak of the other processes of the screen
  (Parsl interchange, worker pool, workers: VmHWM sampled), ``getrusage`` RUSAGE_SELF /
  RUSAGE_CHILDREN maxrss, and a psutil sample every 0.5 s of all the screen's processes (peak of
  the summed RSS and of the summed PSS, which counts shared pages once).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import callcount

__all__ = ["measure_screen", "PeakMemory"]

REPO = Path(__file__).resolve().parents[1]


def _hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a process image, from /proc (Linux); 0 if unavailable.

    Unlike ``getrusage().ru_maxrss``, VmHWM restarts at ``exec``, so a child started by a large
    parent does not inherit the parent's peak.
    """
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _role(p) -> str:
    """What a process of the screen is, from its command line."""
    try:
        cmd = " ".join(p.cmdline())
    except Exception:  # exited or not readable
        return "other"
    if "interchange" in cmd or "interchange" in (p.name() if hasattr(p, "name") else ""):
        return "parsl interchange"
    if "process_worker_pool" in cmd:
        return "parsl worker pool"
    if "spawn_main" in cmd or "multiprocessing" in cmd:
        return "workers"
    return cmd.split(" ")[0].rsplit("/", 1)[-1] or "other"


class PeakMemory(threading.Thread):
    """Sample memory and CPU of the screen's processes every ``interval`` seconds.

    The processes are this one, its descendants, and every process whose environment carries
    ``marker`` (``NO3RR_BENCH_CALLS=<this run's directory>``): Parsl's local provider starts its
    worker pool detached (re-parented to init), so descendants alone would miss the workers.
    """

    own_cpu = 0.0

    def __init__(self, interval: float = 0.5, marker: tuple[str, str] | None = None):
        super().__init__(daemon=True)
        self.interval = interval
        self.marker = marker
        self._stop_evt = threading.Event()
        self._checked: dict[int, bool] = {}
        self.child_cpu: dict[int, float] = {}  # last sampled CPU seconds of each other process
        self.child_hwm: dict[int, float] = {}  # last sampled VmHWM (MB) of each other process
        self.child_role: dict[int, str] = {}
        self.peak: dict[str, Any] = {"rss_total_mb": 0.0, "pss_total_mb": 0.0, "processes_max": 0, "samples": 0}
        try:
            import psutil  # noqa: F401

            self.available = True
        except ImportError:
            self.available = False

    def _marked(self, p) -> bool:
        import psutil

        if p.pid in self._checked:
            return self._checked[p.pid]
        ok = False
        if self.marker is not None:
            try:
                ok = p.environ().get(self.marker[0]) == self.marker[1]
            except (psutil.Error, OSError):
                ok = False
        self._checked[p.pid] = ok
        return ok

    def _processes(self):
        import psutil

        me = psutil.Process()
        procs = {me.pid: me}
        try:
            for c in me.children(recursive=True):
                procs[c.pid] = c
        except psutil.Error:
            pass
        if self.marker is not None:
            for p in psutil.process_iter():
                if p.pid not in procs and self._marked(p):
                    procs[p.pid] = p
        return me, list(procs.values())

    def sample(self) -> None:
        import psutil

        me, procs = self._processes()
        rss = pss = 0.0
        n = 0
        for p in procs:
            try:
                try:
                    mi = p.memory_full_info()
                    p_pss = getattr(mi, "pss", mi.rss)
                except (psutil.AccessDenied, AttributeError):
                    mi = p.memory_info()
                    p_pss = mi.rss
                if p.pid != me.pid:
                    if p.pid not in self.child_role:
                        self.child_role[p.pid] = _role(p)
                    ct = p.cpu_times()
                    self.child_cpu[p.pid] = ct.user + ct.system
                    self.child_hwm[p.pid] = max(self.child_hwm.get(p.pid, 0.0), _hwm_mb(p.pid), mi.rss / 2**20)
            except psutil.Error:  # exited between listing and reading
                continue
            n += 1
            rss += mi.rss
            pss += p_pss
        pk = self.peak
        pk["rss_total_mb"] = max(pk["rss_total_mb"], rss / 2**20)
        pk["pss_total_mb"] = max(pk["pss_total_mb"], pss / 2**20)
        pk["processes_max"] = max(pk["processes_max"], n)
        pk["samples"] += 1

    def run(self) -> None:
        if not self.available:
            return
        t = time.thread_time()
        while not self._stop_evt.is_set():
            self.sample()
            self._stop_evt.wait(self.interval)
        self.own_cpu = time.thread_time() - t  # subtracted from the driver's CPU

    def stop(self) -> dict[str, Any]:
        self._stop_evt.set()
        if self.is_alive():
            self.join()
        if self.available:
            self.sample()
        out = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in self.peak.items()}
        out["driver_peak_mb"] = round(_hwm_mb(os.getpid()), 1)
        out["worker_peak_mb"] = round(max(self.child_hwm.values(), default=0.0), 1)
        out["other_processes"] = len(self.child_hwm)
        out["psutil"] = self.available
        return out

    def by_role(self) -> dict[str, dict[str, float]]:
        """CPU seconds, peak RSS and count of the other processes, grouped by what they are."""
        out: dict[str, dict[str, float]] = {}
        for pid, role in self.child_role.items():
            r = out.setdefault(role, {"processes": 0, "cpu_s": 0.0, "peak_mb_max": 0.0})
            r["processes"] += 1
            r["cpu_s"] = round(r["cpu_s"] + self.child_cpu.get(pid, 0.0), 2)
            r["peak_mb_max"] = round(max(r["peak_mb_max"], self.child_hwm.get(pid, 0.0)), 1)
        return out

    def children_cpu(self) -> float:
        """CPU seconds of all other processes seen (up to their last sample)."""
        return float(sum(self.child_cpu.values()))


# Driver stages timed from outside when they exist (module, attribute path); missing ones are skipped.
_DRIVER_STAGES = {
    "store_write": ("descriptors.store.db", "Store.write"),
    "store_statuses": ("descriptors.store.db", "Store.statuses"),
    # patched where run_screen looks them up (it imports them by name)
    "analysis": ("descriptors.workflows.screen", "analyze_screen"),
    "plan_adsorbate_jobs": ("descriptors.workflows.screen", "plan_adsorbate_jobs"),
    "write_tables": ("descriptors.workflows.screen", "write_tables"),
}


def _time_stages() -> dict[str, list[float]]:
    acc: dict[str, list[float]] = {}
    for key, (mod_name, attr) in _DRIVER_STAGES.items():
        try:
            owner = importlib.import_module(mod_name)
            *path, name = attr.split(".")
            for p in path:
                owner = getattr(owner, p)
            fn = getattr(owner, name)
        except (ImportError, AttributeError):
            continue
        acc[key] = [0.0, 0]

        def wrapped(*a, __fn=fn, __acc=acc[key], **kw):
            t = time.perf_counter()
            try:
                return __fn(*a, **kw)
            finally:
                __acc[0] += time.perf_counter() - t
                __acc[1] += 1

        functools.update_wrapper(wrapped, fn)
        setattr(owner, name, wrapped)
    return acc


def _child(args: dict[str, Any]) -> dict[str, Any]:
    """Run one screen in this (fresh) process and describe it."""
    t_start = time.perf_counter()
    from descriptors.specs import parse_spec
    from descriptors.workflows.screen import run_screen

    stages = _time_stages()
    spec = parse_spec(args["spec"], args.get("source", "<benchmark>"))
    startup = time.perf_counter() - t_start
    marker = os.environ.get(callcount.ENV_VAR)
    mem = PeakMemory(marker=(callcount.ENV_VAR, marker) if marker else None)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0_self = ru0.ru_utime + ru0.ru_stime
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0_children = ru0.ru_utime + ru0.ru_stime
    mem.start()
    t0 = time.perf_counter()
    res = run_screen(spec, out=args["out"], workers=args["workers"], progress=False, quiet=True)
    wall = time.perf_counter() - t0
    memory = mem.stop()
    ru_self = resource.getrusage(resource.RUSAGE_SELF)
    ru_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss is in kilobytes on Linux; it carries over the parent's peak across fork+exec, so the
    # driver's own peak is VmHWM (driver_peak_mb); children: the largest waited-for child
    memory["driver_maxrss_mb"] = round(ru_self.ru_maxrss / 1024, 1)
    memory["children_maxrss_mb"] = round(ru_children.ru_maxrss / 1024, 1)
    stats = dict(res.stats)
    # workers that were never waited for (e.g. killed by a pool) miss from RUSAGE_CHILDREN: take the
    # larger of it and the psutil samples
    children = max(ru_children.ru_utime + ru_children.ru_stime - cpu0_children, mem.children_cpu())
    return {
        "wall_s": wall,
        "startup_s": startup,
        "stats": stats,
        "cpu_s": {"driver": ru_self.ru_utime + ru_self.ru_stime - cpu0_self - mem.own_cpu, "children": children},
        "sampler_cpu_s": mem.own_cpu,
        "memory": memory,
        "processes": mem.by_role(),
        "driver_s": {k: {"seconds": round(v[0], 3), "calls": v[1]} for k, v in stages.items()},
        "db": str(res.db),
    }


def measure_screen(spec: dict[str, Any], out: str | Path, workers: int, label: str,
                   timeout: float = 1800.0) -> dict[str, Any]:
    """Run ``spec`` (a spec mapping) in a fresh process with ``workers`` and return its figures."""
    out = Path(out)
    calls_dir = Path(tempfile.mkdtemp(prefix="calls-", dir=out.parent if out.parent.exists() else None))
    env = callcount.subprocess_env(calls_dir)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(REPO)])
    args = {"spec": spec, "out": str(out), "workers": workers, "source": label}
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.screens"], input=json.dumps(args), capture_output=True, text=True,
        env=env, cwd=str(REPO), timeout=timeout,
    )
    process_wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark screen {label!r} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    calls = callcount.read(calls_dir)
    st = res["stats"]
    computed = int(st.get("computed", 0)) + int(st.get("failed", 0))
    wall = res["wall_s"]
    calc = calls["seconds"]
    calc_cpu = calls["cpu_seconds"]
    cpu_total = res["cpu_s"]["driver"] + res["cpu_s"]["children"]
    job_s = float(st.get("seconds", 0.0))
    core = wall * workers
    r: dict[str, Any] = {
        "label": label,
        "workers": workers,
        "jobs_computed": computed,
        "jobs_reused": int(st.get("reused", 0)) + int(st.get("failed_reused", 0)),
        "jobs_failed": int(st.get("failed", 0)),
        "jobs": st.get("jobs"),
        "wall_s": round(wall, 3),
        "process_wall_s": round(process_wall, 3),
        "startup_s": round(res["startup_s"], 3),
        "calls": calls["calls"],
        "calls_by_class": calls["by_class"],
        "processes_calling": calls["processes"],
        "calc_s": round(calc, 3),
        "job_s": round(job_s, 3),
        "cpu_s": {k: round(v, 2) for k, v in res["cpu_s"].items()},
        "jobs_per_s": round(computed / wall, 3) if wall > 0 else None,
        "calls_per_job": round(calls["calls"] / computed, 2) if computed else None,
        "calc_ms_per_call": round(1e3 * calc / calls["calls"], 3) if calls["calls"] else None,
        "wall_over_calc": round(wall / calc, 3) if calc > 0 else None,
        "core_over_calc": round(core / calc, 3) if calc > 0 else None,
        "overhead_ms_per_job": round(1e3 * (core - calc) / computed, 1) if computed else None,
        "in_job_overhead_ms_per_job": round(1e3 * (job_s - calc) / computed, 1) if computed else None,
        "driver_overhead_ms_per_job": round(1e3 * (core - job_s) / computed, 1) if computed else None,
        "calc_cpu_s": round(calc_cpu, 3),
        "cpu_total_s": round(cpu_total, 3),
        "cpu_over_calc_cpu": round(cpu_total / calc_cpu, 3) if calc_cpu > 0 else None,
        "cpu_overhead_ms_per_job": round(1e3 * (cpu_total - calc_cpu) / computed, 1) if computed else None,
        "cpu_utilisation": round(cpu_total / core, 3) if core > 0 else None,
        "driver_s": res["driver_s"],
        "other_processes": res.get("processes", {}),
        "memory": res["memory"],
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "out": str(out),
    }
    return r


if __name__ == "__main__":
    result = _child(json.loads(sys.stdin.read()))
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
