"""Seconds per calculator call, measured: the numbers behind ``no3rr validate``'s cost estimate.

    python -m benchmarks --only cost [--write-cost-table]
    python -m benchmarks.costcal [--write]      # the same, alone

For each calculator that is usable here (EMT, GFN1-xTB through tblite, CHGNet, SevenNet) and a
representative structure -- NO on the fcc hollow of Cu(111) slabs of 2x2x3, 3x3x2 and 3x3x4 atoms
(14, 20 and 38 atoms) -- one call is made to load the model (reported, not counted), then
``CALLS`` energy+force calls on slightly displaced copies (so nothing is cached), one thread.  The
per-call seconds are fitted to ``t = a * N**b`` (least squares in log-log) over the atom counts N.

``--write`` stores the fit, the points, the machine and the date in
``src/descriptors/specs/data/cost_calibration.json``, which ``specs/cost.py`` reads.  DFT is not
measured (minutes per call, depends on the cluster); its stated value stays in cost.py.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "src" / "descriptors" / "specs" / "data" / "cost_calibration.json"
CALCULATORS = {"emt": {}, "gfn1-xtb": {"electronic_temperature": 1500.0, "max_iterations": 300},
               "chgnet": {}, "sevenn": {}}
SIZES = ((2, 2, 3), (3, 3, 2), (3, 3, 4))  # even Cu counts: a closed-shell NO/Cu slab for xtb
CALLS = 3


def _structure(size):
    from ase.build import add_adsorbate, fcc111, molecule

    slab = fcc111("Cu", size, vacuum=7.5, a=3.61)
    add_adsorbate(slab, molecule("NO"), 1.5, "fcc", mol_index=1)
    return slab


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 1.0
    return math.exp(my - b * mx), b


def measure(name: str, params: dict[str, Any], calls: int = CALLS, sizes=SIZES, log=print) -> dict[str, Any]:
    import numpy as np

    from descriptors.calculators import (
        CalculatorSetting,
        calculator_info,
        make_calculator,
    )

    why = calculator_info(name).availability()
    if why:
        return {"skipped": why}
    setting = CalculatorSetting(name, dict(params))
    points, load = [], []
    rng = np.random.default_rng(0)
    for size in sizes:
        atoms = _structure(size)
        t0 = time.perf_counter()
        calc = make_calculator(setting, atoms)
        atoms.calc = calc
        atoms.get_forces()
        load.append(round(time.perf_counter() - t0, 3))
        times = []
        for _ in range(calls):
            a = atoms.copy()
            a.positions += rng.normal(0, 0.01, a.positions.shape)
            a.calc = calc
            t0 = time.perf_counter()
            a.get_potential_energy()
            a.get_forces()
            times.append(time.perf_counter() - t0)
        per = sorted(times)[len(times) // 2]
        points.append((len(atoms), per))
        log(f"cost {name}: {len(atoms)} atoms, {per:.4f} s per call (median of {calls}), first call {load[-1]:.2f} s")
    a, b = _fit(points)
    return {"params": params, "points": [{"atoms": n, "seconds_per_call": round(t, 5)} for n, t in points],
            "first_call_s": load, "a": a, "b": round(b, 3),
            "law": "seconds per energy+force call = a * N_atoms ** b (least squares in log-log)"}


def run_costcal(write: bool = False, log=print) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(1)
    except Exception:  # informational: the thread count is recorded either way
        limiter = None
    try:
        import torch

        torch.set_num_threads(1)
    except Exception:
        pass
    out = {
        "what": "seconds per energy+force call of each calculator, fitted to a * N_atoms ** b",
        "structure": "NO on the fcc hollow of Cu(111) slabs " + ", ".join("x".join(map(str, s)) for s in SIZES),
        "measured": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu(), "cpus": os.cpu_count(), "threads": 1, "platform": platform.platform(),
                    "python": platform.python_version(), "load_average": [round(x, 2) for x in os.getloadavg()]},
        "command": "python -m benchmarks --only cost --write-cost-table",
        "calculators": {},
    }
    for name, params in CALCULATORS.items():
        try:
            out["calculators"][name] = measure(name, params, log=log)
        except Exception as e:  # a backend that fails here is reported, not fatal to the benchmark
            out["calculators"][name] = {"skipped": f"{type(e).__name__}: {e}"}
    out["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if limiter is not None:
        limiter.unregister() if hasattr(limiter, "unregister") else None
    if write:
        TABLE.write_text(json.dumps(out, indent=1) + "\n")
        log(f"written: {TABLE}")
    return out


def remeasure(names: list[str], log=print) -> dict[str, Any]:
    """Measure only ``names`` again and replace their entries in the shipped table; each replaced
    entry carries its own date and machine ('measured', 'machine'), which the estimate quotes."""
    table = json.loads(TABLE.read_text())
    for name in names:
        if name not in CALCULATORS:
            print(f"--remeasure: {name!r} is not one of {sorted(CALCULATORS)}", file=sys.stderr)
            raise SystemExit(2)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in names:
        load = [round(x, 2) for x in os.getloadavg()]
        entry = measure(name, CALCULATORS[name], calls=15, log=log)  # median of 15: robust to a busy machine
        entry["measured"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        entry["machine"] = {"cpu": _cpu(), "cpus": os.cpu_count(), "threads": 1, "load_average": load,
                            "load_average_end": [round(x, 2) for x in os.getloadavg()]}
        entry["command"] = f"python -m benchmarks.costcal --remeasure {name}"
        table["calculators"][name] = entry
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    log(f"written: {TABLE} ({', '.join(names)} re-measured)")
    return table


def render_cost(c: dict[str, Any]) -> list[str]:
    lines = [f"Seconds per calculator call ({c['structure']}; {c['machine']['cpu']}, 1 thread, load "
             f"{c['machine']['load_average']}): t = a * N^b"]
    for name, r in c["calculators"].items():
        if "skipped" in r:
            lines.append(f"  {name:9s} skipped: {r['skipped']}")
            continue
        pts = ", ".join(f"{p['atoms']} atoms {p['seconds_per_call']:.4g} s" for p in r["points"])
        lines.append(f"  {name:9s} a = {r['a']:.3g} s, b = {r['b']:.2f}; {pts}; 40 atoms: "
                     f"{r['a'] * 40 ** r['b']:.3g} s per call")
    return lines


if __name__ == "__main__":
    if "--remeasure" in sys.argv[1:]:  # python -m benchmarks.costcal --remeasure emt [NAME ...]
        names = sys.argv[sys.argv.index("--remeasure") + 1:]
        res = remeasure(names, log=lambda m: print(m, file=sys.stderr, flush=True))
        print("\n".join(render_cost(res)))
        raise SystemExit(0)
    res = run_costcal(write="--write" in sys.argv[1:], log=lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(render_cost(res)))
