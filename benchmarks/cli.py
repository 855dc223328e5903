"""``python -m benchmarks``: where the time goes, how it scales, against the tools users would pick.

    python -m benchmarks [--quick] [--out FILE.json] [--only NAME[,NAME]] [--spec SPEC.toml]

Benchmarks (``--only``): overhead, parallel, resume, relax, sites, memory, store, ml, faults (fault
injection: benchmarks/faults.py), reads (wall time of lookup, status, analyze: benchmarks/reads.py),
cost (seconds per calculator call: benchmarks/costcal.py; ``--write-cost-table`` ships them), emt (ASE's EMT
against the vectorised one behind ``emt``, per call and inside relaxations: benchmarks/emtcalls.py), finetune and
finetune-metals (CHGNet fine-tuned on GFN1-xTB, measured on catalysts it never saw: benchmarks/finetune.py).
Each figure is a
ratio or a per-job number measured within one run, so that it survives a loaded machine; the
load average (``os.getloadavg``) before and after every screen is in the JSON.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import cases
from .screens import REPO, measure_screen

NAMES = ("overhead", "parallel", "resume", "relax", "sites", "memory", "store", "ml", "faults", "reads", "cost",
         "emt", "finetune", "finetune-metals")
DEFAULT_OUT = REPO / "results" / "benchmarks.json"


class _Clock:
    def __init__(self, quiet: bool):
        self.t0 = time.perf_counter()
        self.quiet = quiet

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f} s] {msg}", file=sys.stderr, flush=True)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _meta(args, argv) -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    try:
        from threadpoolctl import threadpool_info

        blas = [{"api": i.get("internal_api"), "threads": i.get("num_threads")} for i in threadpool_info()]
    except Exception:  # informational only
        blas = []
    return {
        "command": "python -m benchmarks " + " ".join(argv),
        "mode": "quick" if args.quick else "full",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
        "versions": {d: _version(d) for d in ("no3rr-descriptors", "ase", "numpy", "scipy", "tblite", "pymatgen",
                                                "parsl", "psutil")},
        "threadpools": blas,
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ},
    }


def _parse_only(value: str | None) -> list[str]:
    if not value:
        return list(NAMES)
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [n for n in names if n not in NAMES]
    if bad:
        print(f"--only: unknown benchmark(s) {', '.join(bad)}; choose from {', '.join(NAMES)}", file=sys.stderr)
        raise SystemExit(2)
    return names


class Runner:
    """Runs each screen at most once and shares it between the benchmarks that need it."""

    def __init__(self, workdir: Path, quick: bool, spec_path: str | None, main_workers: int | None, log):
        self.workdir = workdir
        self.quick = quick
        self.spec_path = spec_path
        self.main_workers = main_workers
        self.log = log
        self.runs: dict[str, dict[str, Any]] = {}
        self.specs: dict[str, dict[str, Any]] = {}

    def _run(self, key: str, spec: dict[str, Any], workers: int, out: Path | None = None) -> dict[str, Any]:
        if key not in self.runs:
            self.log(f"screen {key}: {spec['name']} with {workers} worker(s) ...")
            out = out or (self.workdir / key)
            r = measure_screen(spec, out, workers, key)
            r["spec"] = spec["name"]
            self.runs[key] = r
            self.log(f"screen {key}: {r['jobs_computed']} jobs, {r['wall_s']:.1f} s, {r['calls']} calls")
        return self.runs[key]

    def main(self) -> dict[str, Any]:
        spec = cases.emt_main(self.quick, self.spec_path)
        w = self.main_workers or min(int(spec.get("execution", {}).get("workers", 2)), os.cpu_count() or 1)
        return self._run(f"emt-w{w}", spec, w)

    def parallel(self, workers: int) -> dict[str, Any]:
        spec = cases.emt_parallel(self.quick, self.spec_path)
        if spec == cases.emt_main(self.quick, self.spec_path):  # the same screen: one run serves both
            return self._run(f"emt-w{workers}", spec, workers)
        return self._run(f"emt-par-w{workers}", spec, workers)

    def xtb(self) -> dict[str, Any]:
        return self._run("xtb-w1", cases.xtb_small(self.quick), 1)

    def resume(self) -> dict[str, Any]:
        first = self.main()
        key = f"{first['label']}-resume"
        if key not in self.runs:
            spec = next(s for s in (cases.emt_main(self.quick, self.spec_path), cases.emt_parallel(self.quick, self.spec_path))
                        if s["name"] == first["spec"])
            self.log(f"screen {key}: re-run of {first['label']} ...")
            r = measure_screen(spec, Path(first["out"]), first["workers"], key)
            r["spec"] = spec["name"]
            self.runs[key] = r
        return self.runs[key]


# ------------------------------------------------------------------------------------------------
# the figures
# ------------------------------------------------------------------------------------------------
def _overhead_row(r: dict[str, Any]) -> dict[str, Any]:
    keys = ("label", "spec", "workers", "jobs_computed", "calls", "wall_s", "calc_s", "job_s", "wall_over_calc",
            "core_over_calc", "overhead_ms_per_job", "in_job_overhead_ms_per_job", "driver_overhead_ms_per_job",
            "calc_ms_per_call", "calls_per_job", "jobs_per_s", "cpu_total_s", "calc_cpu_s", "cpu_over_calc_cpu",
            "cpu_overhead_ms_per_job", "cpu_utilisation", "driver_s", "load_before", "load_after")
    return {k: r.get(k) for k in keys}


def bench_overhead(run: Runner) -> dict[str, Any]:
    rows = [run.main(), run.xtb()]
    return {"runs": [_overhead_row(r) for r in rows]}


def bench_parallel(run: Runner) -> dict[str, Any]:
    r1, r2 = run.parallel(1), run.parallel(2)
    same = r1["jobs_computed"] == r2["jobs_computed"] and r1["calls"] == r2["calls"]
    speedup = r1["wall_s"] / r2["wall_s"] if r2["wall_s"] else None
    return {
        "spec": r1["spec"],
        "jobs": r1["jobs_computed"],
        "same_jobs_and_calls": same,
        "throughput_jobs_per_s": {"1": r1["jobs_per_s"], "2": r2["jobs_per_s"]},
        "wall_s": {"1": r1["wall_s"], "2": r2["wall_s"]},
        "calls": {"1": r1["calls"], "2": r2["calls"]},
        "speedup": round(speedup, 3) if speedup else None,
        "efficiency": round(speedup / 2, 3) if speedup else None,
        "in_job_overhead_ms_per_job": {"1": r1["in_job_overhead_ms_per_job"], "2": r2["in_job_overhead_ms_per_job"]},
        "calc_ms_per_call": {"1": r1["calc_ms_per_call"], "2": r2["calc_ms_per_call"]},
        "load": {"1": r1["load_before"] + r1["load_after"], "2": r2["load_before"] + r2["load_after"]},
        # CPU-based (a shared machine): the CPU the 2-worker run spends per CPU of the 1-worker run (work added
        # by running in parallel: pool, pickling, a second process's imports) and the share of its 2 x wall
        # time the 2-worker run had a core busy (idle workers at stage barriers and the serial driver parts
        # -- planning, analysis -- and, on a loaded machine, time waiting for a core)
        "cpu_total_s": {"1": r1["cpu_total_s"], "2": r2["cpu_total_s"]},
        "cpu_ratio": round(r2["cpu_total_s"] / r1["cpu_total_s"], 3) if r1["cpu_total_s"] else None,
        "cpu_efficiency": round(r1["cpu_total_s"] / r2["cpu_total_s"], 3) if r2["cpu_total_s"] else None,
        "cpu_utilisation": {"1": r1["cpu_utilisation"], "2": r2["cpu_utilisation"]},
        # the driver process's own CPU with 2 workers (planning, recording, store, analysis): what competes
        # with the two workers for the two cores
        "driver_cpu_s": {"1": (r1.get("cpu_s") or {}).get("driver"), "2": (r2.get("cpu_s") or {}).get("driver")},
    }


def bench_resume(run: Runner) -> dict[str, Any]:
    first = run.main()
    again = run.resume()
    stored = again["jobs_reused"]
    return {
        "spec": first["spec"],
        "first_run": {"jobs_computed": first["jobs_computed"], "wall_s": first["wall_s"], "calls": first["calls"]},
        "resume_calls": again["calls"],
        "resume_jobs_computed": again["jobs_computed"],
        "resume_jobs_reused": stored,
        "resume_wall_s": again["wall_s"],
        "resume_ms_per_stored_job": round(1e3 * again["wall_s"] / stored, 2) if stored else None,
        "resume_over_first_wall": round(again["wall_s"] / first["wall_s"], 4) if first["wall_s"] else None,
        "resume_driver_s": again["driver_s"],
        "resume_cpu_s": again["cpu_s"],
    }


def bench_memory(run: Runner) -> dict[str, Any]:
    if not run.runs:
        run.main()
    return {"runs": [{"label": r["label"], "workers": r["workers"], "jobs_computed": r["jobs_computed"], **r["memory"]}
                     for r in run.runs.values()]}


def bench_relax(quick: bool, log) -> dict[str, Any]:
    from .optimizers import run_relax

    s = cases.relax_structures(quick)
    return run_relax(s["metals"], s["facets"], s["adsorbates"], progress=None)


def bench_store(quick: bool, workdir: Path, log) -> dict[str, Any]:
    from .store_scale import run_store_scale

    return run_store_scale(quick, workdir / "store-scale", log)


def bench_ml(quick: bool, log) -> dict[str, Any]:
    from descriptors.calculators.base import calculator_info

    why = calculator_info("chgnet").availability()
    if why:
        return {"skipped": f"CHGNet not available: {why}"}
    from .ml_batch import run_ml_batch

    return run_ml_batch(quick, "chgnet")  # the default optimizer ("auto"), as a screen runs it


def bench_sites(quick: bool, log) -> dict[str, Any]:
    from .sitefinding import run_sites

    return run_sites(cases.site_slabs(quick), repeats=1 if quick else 2, progress=log)


# ------------------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------------------
def _fmt(v, nd=2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def render(result: dict[str, Any]) -> str:
    b = result["benchmarks"]
    m = result["meta"]
    out = [f"no3rr benchmarks ({m['mode']}), {m['cpus']} CPUs, load {m['load_start']} -> {m.get('load_end')}, "
           f"total {m.get('total_s', 0):.0f} s"]
    if "overhead" in b:
        out += ["", "Overhead: wall / time inside the calculator, per-job overhead (ms)",
                _table(["run", "workers", "jobs", "calls", "wall s", "calc s", "wall/calc", "core-s/calc",
                        "ovh ms/job", "in-job ms", "driver ms", "calc ms/call", "cpu/calc-cpu", "cpu ovh ms/job",
                        "cpu util"],
                       [[r["label"], r["workers"], r["jobs_computed"], r["calls"], r["wall_s"], r["calc_s"],
                         r["wall_over_calc"], r["core_over_calc"], r["overhead_ms_per_job"],
                         r["in_job_overhead_ms_per_job"], r["driver_overhead_ms_per_job"], r["calc_ms_per_call"],
                         r["cpu_over_calc_cpu"], r["cpu_overhead_ms_per_job"], r["cpu_utilisation"]]
                        for r in b["overhead"]["runs"]]),
                "(in-job: optimizer and calculator set-up inside the jobs; driver: everything else; cpu util = "
                "CPU seconds / (wall x workers), low when the machine is loaded)",
                "goal (issue 16): <= 30 ms per job outside the calculator on the EMT quick start (baseline 567 ms "
                "wall-based on an idle machine); on a loaded machine compare 'cpu ovh ms/job'"] + [
                f"  {r['label']} driver stages (s): " + ", ".join(f"{k} {v['seconds']:.1f} ({v['calls']}x)"
                                                          for k, v in (r.get("driver_s") or {}).items())
                for r in b["overhead"]["runs"]]
    if "parallel" in b:
        p = b["parallel"]
        out += ["", f"Parallel efficiency ({p['spec']}, {p['jobs']} jobs, same jobs/calls: {p['same_jobs_and_calls']})",
                _table(["workers", "wall s", "jobs/s", "calls", "in-job ms/job", "calc ms/call"],
                       [[w, p["wall_s"][w], p["throughput_jobs_per_s"][w], p["calls"][w],
                         p["in_job_overhead_ms_per_job"][w], p["calc_ms_per_call"][w]] for w in ("1", "2")]),
                f"speed-up {_fmt(p['speedup'])}, efficiency (speed-up / workers) {_fmt(p['efficiency'])} "
                f"(goal >= 0.9; before 0.55 with Parsl, issue 16)",
                f"  CPU: {_fmt(p.get('cpu_total_s', {}).get('1'))} s with 1 worker, {_fmt(p.get('cpu_total_s', {}).get('2'))} s "
                f"with 2 (CPU efficiency {_fmt(p.get('cpu_efficiency'), 3)}); cores busy "
                f"{_fmt((p.get('cpu_utilisation') or {}).get('2'))} of 2 x wall (idle at stage ends, serial driver parts, "
                f"a loaded machine); load {p['load']['2']}",
                f"  driver process CPU: {_fmt((p.get('driver_cpu_s') or {}).get('2'))} s with 2 workers "
                f"(planning, recording, store, analysis)"]
    if "resume" in b:
        r = b["resume"]
        out += ["", f"Resume ({r['spec']}): {r['resume_calls']} calculator calls, {r['resume_jobs_computed']} jobs "
                    f"computed, {r['resume_jobs_reused']} reused in {_fmt(r['resume_wall_s'])} s "
                    f"({_fmt(r['resume_ms_per_stored_job'])} ms per stored job, "
                    f"{_fmt(100 * (r['resume_over_first_wall'] or 0), 1)} % of the first run)",
                "  resume driver stages (s): " + ", ".join(f"{k} {v['seconds']:.1f}" for k, v in r["resume_driver_s"].items())]
    if "relax" in b:
        x = b["relax"]
        s = x["summary"]
        out += ["", f"Calculator calls per relaxation ({x['relaxations']} placed configurations, {x['calculator']}, "
                    f"fmax {x['default']['fmax']}; dE against ASE BFGS from the same geometry)",
                _table(["method", "n", "calls", "mean", "median", "vs default", "vs ASE BFGS", "converged",
                        "other min", "max|dE| eV", "opt ms/call", "s"],
                       [[k, v["relaxations"], v["calls_total"], v["calls_mean"], v["calls_median"], v["calls_vs_default"],
                         v.get("calls_vs_ase_bfgs"), v["converged"], v.get("other_minimum"),
                         v.get("dE_vs_ase_bfgs_max_abs_eV"), v["optimizer_ms_per_call"], v["seconds_total"]]
                        for k, v in s.items()]),
                *[f"{k} / ASE BFGS calls: {_fmt(s[k].get('calls_vs_ase_bfgs'), 3)} (goal <= 0.8 at equal minima; "
                  f"baseline 1.0), other minimum on {s[k].get('other_minimum')}/{s[k]['relaxations']} "
                  f"(|dE| > 0.01 eV or an adsorbate atom > 0.3 A from ASE BFGS's)"
                  for k in ("default", "ASE BFGS-soft") if k in s],
                f"fewest calls with no more other minima than BFGS: {x['fewest_calls_same_minima']}"] + [
                f"  {k} flagged #{t['row']} {t['label']}: both relaxed on to fmax 0.005: dE {t['dE_tight_eV']} eV, "
                f"max dx {t['max_dx_tight_A']} A -> {'the same minimum' if t['same_minimum'] else 'another minimum'}"
                for k in s for t in s[k].get("flagged_tightened", [])]
    if "sites" in b:
        s = b["sites"]
        rows = []
        for r in s["slabs"]:
            o, p = r["ours"], r.get("pymatgen", {})
            rows.append([r["catalyst"], o["sites"], json.dumps(o["site_geometry"]).replace('"', ""), o["configurations"],
                         o["sites_s"], o["sites_and_configurations_s"], p.get("sites"),
                         json.dumps(p.get("site_geometry")).replace('"', "") if p else "-",
                         json.dumps(p.get("site_labels")).replace('"', "") if p else "-",
                         p.get("configurations"), p.get("sites_s"), p.get("generate_adsorption_structures_s")])
        out += ["", f"Site finding and placement: descriptors vs pymatgen AdsorbateSiteFinder "
                    f"({len(s['adsorbates'])} adsorbates; geometry = atoms at the nearest lateral distance)",
                _table(["slab", "sites", "by geometry", "configs", "sites s", "all s", "pmg sites", "pmg by geometry",
                        "pmg labels", "pmg configs", "pmg sites s", "pmg all s"], rows)]
        if s.get("pymatgen"):
            out.append(f"time pymatgen/ours: sites {_fmt(s['sites_time_ratio_pymatgen_over_ours'])}, "
                       f"sites+configurations {_fmt(s['configs_time_ratio_pymatgen_over_ours'])}; "
                       f"same sites by geometry on {s['slabs_with_same_sites_by_geometry']}/{len(s['slabs'])} slabs")
        else:
            out.append(s.get("note", ""))
    if "store" in b:
        out += ["", *render_store(b["store"])]
    if "ml" in b:
        out += ["", *render_ml(b["ml"])]
    run_list = list(result.get("runs", {}).values())
    if "memory" in b:
        out += ["", "Peak memory (MB): driver and workers",
                _table(["run", "workers", "driver peak", "largest other peak", "sum RSS", "sum PSS", "processes"],
                       [[r["label"], r["workers"], r["driver_peak_mb"], r["worker_peak_mb"], r["rss_total_mb"],
                         r["pss_total_mb"], r["processes_max"]] for r in b["memory"]["runs"]]),
                "(peaks: VmHWM of the driver and of the largest other process: Parsl interchange, pool, workers; "
                "sums: sampled every 0.5 s over all the screen's processes)",
                "", "CPU seconds by process (driver: getrusage minus the sampler thread; others: psutil samples)",
                _table(["run", "process", "count", "cpu s", "peak MB"],
                       [[r["label"], "driver", 1, r["cpu_s"]["driver"], r["memory"]["driver_peak_mb"]]
                        for r in run_list] +
                       [[r["label"], role, v["processes"], v["cpu_s"], v["peak_mb_max"]]
                        for r in run_list for role, v in r.get("other_processes", {}).items()])]
    if "reads" in b:
        from .reads import render_reads

        out += ["", *render_reads(b["reads"])]
    if "cost" in b:
        from .costcal import render_cost

        out += ["", *render_cost(b["cost"])]
    if "emt" in b:
        from .emtcalls import render_emtcalls

        out += ["", *render_emtcalls(b["emt"])]
    if "faults" in b:
        f = b["faults"]
        out += ["", f"Fault injection: {f['rounds']} faults ({', '.join(str(e['fault']) for e in f['events'])}), "
                f"final exit {f['final_exit']}; {f['rows']} rows for {f['jobs_planned']} planned jobs "
                f"({f['unique_jobs']} unique), {f['failed_rows']} failed, max |dE| vs an uninterrupted run "
                f"{f['max_abs_diff_energy_eV']} eV over {f['compared']} jobs, processes left {f['processes_left']}: "
                f"{'OK' if f['ok'] else 'FAILED'}"]
    for name in ("finetune", "finetune-metals"):
        if name in b:
            from .finetune import render_finetune

            out += [""] + render_finetune(b[name])
    return "\n".join(out)


def render_store(s: dict[str, Any]) -> list[str]:
    g = s["goals"]
    rows = []
    for b in s["backends"]:
        r, rl, w, wl = b["resume"], b["resume_legacy"], b["write"], b["write_legacy"]
        wd = b.get("write_direct") or {}
        rows.append([b["backend"], b["jobs"], r["plan_s"], r["run_s"], rl.get("run_s"), r["cpu_s"], r["peak_mb"],
                     rl.get("peak_mb"), w["results_per_s"], w.get("results_per_cpu_s"), w["store_writes_per_s"],
                     w["store_writes_per_cpu_s"],
                     wd.get("results_per_s"), wd.get("store_writes_per_cpu_s"),
                     wl["results_per_s"], wl["store_writes_per_s"], wl["store_writes_per_cpu_s"]])
    out = [f"Store at scale: synthetic screen, zero-cost jobs through Engine.run and Store "
           f"(goals: resume <= {g['resume_s']:.0f} s and <= {g['resume_peak_mb']:.0f} MB; >= {g['results_per_s']:.0f} "
           f"results/s; SIGKILL loses {g['lost_on_sigkill']})",
           _table(["backend", "jobs", "plan s", "resume s", "before s", "resume cpu s", "peak MB", "before MB",
                   "results/s", "results/cpu-s", "writes/s", "writes/cpu-s", "direct results/s", "direct writes/cpu-s",
                   "before results/s", "before writes/s", "before writes/cpu-s"], rows),
           "(plan: making the Job objects (the benchmark's, not the tool's work); resume: Engine.run with nothing "
           "to compute (plan file, statuses, pending); before: the code before issue 16, same store, same run; "
           "results/s: end to end through the engine, results journal folded in batches; direct: the same rows with "
           "a commit per result; writes/s: Store.write + Store.fold alone)"]
    for k in s.get("kill", []):
        out.append(f"  SIGKILL ({k['backend']}, {k['jobs']} jobs of 10 ms, killed {k['killed_after_s']} s in): "
                   f"{k['reported_written']} reported written, {k['stored_after_kill']} stored, "
                   f"{k['lost_reported_results']} lost; the next run computed {k['next_run_computed']} and reused "
                   f"{k['next_run_reused']}; {k['rows_final']} rows for {k['distinct_jobs_final']} jobs: "
                   f"{'ok' if k['ok'] else 'FAILED'}")
    if isinstance(s.get("postgresql"), str):
        out.append(f"  PostgreSQL: {s['postgresql']}")
    return out


def render_ml(m: dict[str, Any]) -> list[str]:
    from .ml_batch import render

    return render(m)


def _write(out: Path, result: dict[str, Any], run: Runner, t0: float) -> None:
    result["runs"] = run.runs
    result["meta"]["load_end"] = [round(x, 2) for x in os.getloadavg()]
    result["meta"]["total_s"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small cases, about 2 minutes on 2 cores")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help=f"JSON file to write (default {DEFAULT_OUT})")
    ap.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(NAMES)}")
    ap.add_argument("--spec", default=None, help="EMT screen for overhead/parallel/resume/memory instead of the quick start")
    ap.add_argument("--workers", type=int, default=None, help="workers of the main screen (default: the spec's)")
    ap.add_argument("--workdir", default=None, help="where the screens write (default: a temporary directory, removed)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--store", default=None, help="reads: a screen's output directory to time lookup/status on "
                                                  "(default: the main screen of this run; the goals are for the "
                                                  "quick start's, e.g. results/quickstart)")
    ap.add_argument("--write-cost-table", action="store_true",
                    help="cost: write the measured table to src/descriptors/specs/data/cost_calibration.json")
    args = ap.parse_args(argv)
    names = _parse_only(args.only)
    if args.spec and not Path(args.spec).is_file():
        raise SystemExit(f"--spec: {args.spec!r} not found; give an EMT spec file, e.g. workflows/quickstart.toml")
    if args.store and not (Path(args.store) / "screen.db").is_file():
        print(f"--store: {args.store}/screen.db not found; give a screen's output directory, e.g. results/quickstart",
              file=sys.stderr)
        raise SystemExit(2)
    log = _Clock(args.quiet)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="no3rr-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"meta": _meta(args, argv), "benchmarks": {}}
    run = Runner(workdir, args.quick, args.spec, args.workers, log)
    out = Path(args.out)
    t0 = time.perf_counter()
    try:
        for name in ("relax", "sites", "store", "ml", "overhead", "parallel", "resume", "memory", "faults", "reads",
                     "cost", "emt", "finetune", "finetune-metals"):
            if name not in names:
                continue
            log(f"benchmark {name}")
            if name == "relax":
                result["benchmarks"][name] = bench_relax(args.quick, log)
            elif name == "sites":
                result["benchmarks"][name] = bench_sites(args.quick, log)
            elif name == "faults":
                from .faults import run_faults

                result["benchmarks"][name] = run_faults(workdir / "faults", rounds=3 if args.quick else 8, log=log)
            elif name == "store":
                result["benchmarks"][name] = bench_store(args.quick, workdir, log)
            elif name in ("finetune", "finetune-metals"):
                from .finetune import run_finetune_bench

                result["benchmarks"][name] = run_finetune_bench(workdir, args.quick, log, workers=args.workers or 2,
                                                                case="metals" if name.endswith("metals") else "facets")
            elif name == "ml":
                result["benchmarks"][name] = bench_ml(args.quick, log)
            elif name == "reads":
                from .reads import run_reads

                result["benchmarks"][name] = run_reads(args.store or run.main()["out"], log=log)
            elif name == "cost":
                from .costcal import run_costcal

                result["benchmarks"][name] = run_costcal(write=args.write_cost_table, log=log)
            elif name == "emt":
                from .emtcalls import run_emtcalls

                result["benchmarks"][name] = run_emtcalls(args.quick, log=log)
            else:
                result["benchmarks"][name] = globals()[f"bench_{name}"](run)
            _write(out, result, run, t0)  # a benchmark interrupted later keeps the figures so far
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    _write(out, result, run, t0)
    print(render(result))
    print(f"\nwritten: {out}")
    return 0
