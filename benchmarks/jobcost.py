"""Where the CPU time of each job goes, without a profiler (issue 16's per-job table).

    python -m benchmarks.jobcost OUT METALS FACETS [OPTIMIZER]
    e.g. python -m benchmarks.jobcost /tmp/jc Cu 111

Runs the quick start (workflows/quickstart.toml) restricted to METALS x FACETS in this process
(serial engine: driver and worker in one process) with exclusive CPU timers (``process_time``)
around the functions of each category -- calculator, optimizer step, property reads, trajectory
writes, anomaly checks, site finding, store, analysis -- so that a timed call inside another is
not counted twice; the rest is "other".  Prints JSON: ms of CPU per job by category and the total
outside the calculator.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


class Timers:
    """Exclusive CPU time per category: entering a timed function pauses the one it was called from."""

    def __init__(self):
        self.acc: dict[str, float] = {}
        self.stack: list[list[Any]] = []

    def wrap(self, owner, name: str, category: str) -> None:
        fn = getattr(owner, name, None)
        if fn is None:
            return
        acc, stack = self.acc, self.stack

        @functools.wraps(fn)
        def timed(*a, **k):
            t = time.process_time()
            if stack:
                parent, since = stack[-1]
                acc[parent] = acc.get(parent, 0.0) + t - since
            stack.append([category, t])
            try:
                return fn(*a, **k)
            finally:
                t2 = time.process_time()
                cat, since = stack.pop()
                acc[cat] = acc.get(cat, 0.0) + t2 - since
                if stack:
                    stack[-1][1] = t2

        setattr(owner, name, timed)


def main(argv: list[str]) -> dict[str, Any]:
    if len(argv) < 3:
        print("usage: python -m benchmarks.jobcost OUT METALS FACETS [OPTIMIZER]", file=sys.stderr)
        raise SystemExit(2)
    import ase.calculators.calculator as cc
    import ase.io.trajectory as tr
    import ase.optimize.bfgs as bf
    from ase.calculators.emt import EMT

    import descriptors.engine.engine as eng
    import descriptors.geometry.adsorption_row as ar
    import descriptors.tasks.optimizers as op
    import descriptors.tasks.relax as rl
    import descriptors.workflows.screen as scr
    from descriptors.calculators.emt import VectorEMT
    from descriptors.specs import parse_spec
    from descriptors.store.db import Store

    spec_d = tomllib.loads((REPO / "workflows" / "quickstart.toml").read_text())
    spec_d["catalysts"][0]["metals"] = argv[1].split(",")
    spec_d["catalysts"][0]["facets"] = argv[2].split(",")
    if len(argv) > 3:
        spec_d["relax"]["optimizer"] = argv[3]
    spec_d["name"] = "jobcost"
    tm = Timers()
    for owner, name, cat in [
        (EMT, "calculate", "calculator (EMT.calculate)"),  # ASE's (calculator.params.implementation = "ase")
        (VectorEMT, "calculate", "calculator (EMT.calculate)"),  # the default implementation of "emt"
        (cc.Calculator, "get_property", "property reads + state checks"),
        (tr.TrajectoryWriter, "write", "trajectory writes"),
        (bf.BFGS, "step", "optimizer step (BFGS update, eigh, state file)"),
        (op.FreeBFGS, "prepare_step", "optimizer step (BFGS update, eigh, state file)"),
        (op.FreeBFGS, "free_step", "optimizer step (BFGS update, eigh, state file)"),
        (op, "run_free_bfgs", "optimizer loop (run_free_bfgs)"),
        (Store, "write", "store writes"), (Store, "fold", "store folds"),
        (Store, "statuses", "store lookups"), (Store, "get", "store lookups"),
        (scr, "adsorption_record", "anomaly checks + adsorption record (driver)"),
        (ar, "adsorbate_row", "anomaly checks + adsorption record (worker: jobs.Check)"),
        (scr, "clean_reference", "clean reference: site list + clean checks (driver)"),
        (scr, "plan_adsorbate_jobs", "site finding + placement (driver)"),
        (scr, "clean_jobs", "clean models build (driver)"),
        (scr, "analyze_screen", "analysis (once)"), (scr, "write_tables", "tables (once)"),
        (rl, "make_optimizer", "optimizer set-up"), (rl, "make_calculator", "calculator set-up"),
        (eng.Engine, "_record", "engine record (row metadata)"),
    ]:
        tm.wrap(owner, name, cat)
    spec = parse_spec(spec_d, "<jobcost>")
    c0, t0 = time.process_time(), time.perf_counter()
    tm.stack.append(["other (engine loop, job set-up, relax bookkeeping, optimizer loop)", c0])
    res = scr.run_screen(spec, out=argv[0], workers=1, engine="serial", progress=False, quiet=True)
    cat, since = tm.stack.pop()
    c1 = time.process_time()
    tm.acc[cat] = tm.acc.get(cat, 0.0) + c1 - since
    n = res.stats["computed"] + res.stats["failed"]
    calc = tm.acc.get("calculator (EMT.calculate)", 0.0)
    return {"jobs": n, "wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(c1 - c0, 2),
            "calc_cpu_s": round(calc, 2), "overhead_ms_per_job": round((c1 - c0 - calc) / max(n, 1) * 1e3, 1),
            "ms_per_job": {k: round(v / max(n, 1) * 1e3, 1) for k, v in sorted(tm.acc.items(), key=lambda kv: -kv[1])},
            "load": [round(x, 2) for x in os.getloadavg()]}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:]), indent=1))
