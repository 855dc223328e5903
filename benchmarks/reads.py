"""Wall time of the reading commands, as a user runs them (a new process each time, imports included).

    python -m benchmarks --only reads [--store results/quickstart]

* ``no3rr lookup --db STORE/screen.db --catalyst C`` (the first catalyst of the store) and with
  ``--adsorbate NO3``, goal < 1 s;
* ``no3rr status STORE``, goal < 1 s;
* ``no3rr analyze workflows/examples/emt_free_energies.csv`` (6 catalysts, every figure), goal < 10 s,
  and with ``--no-plots``.

The store is ``--store`` (a screen's output directory; the quick start's is the one the goals are
for, ~1100 rows) or the main screen of this benchmark run.  Each command runs ``REPEATS`` times;
the median is reported beside its goal, with the load average (the machine is shared).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CSV = REPO / "workflows" / "examples" / "emt_free_energies.csv"
REPEATS = 3
GOALS = {"lookup": 1.0, "lookup_adsorbate": 1.0, "status": 1.0, "analyze": 10.0, "analyze_no_plots": None}


def _time(argv: list[str], repeats: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    walls, rc = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "descriptors.cli", *argv], capture_output=True, text=True, env=env,
                           timeout=900)
        walls.append(time.perf_counter() - t0)
        rc = p.returncode
    walls.sort()
    return {"median_s": round(walls[len(walls) // 2], 3), "min_s": round(walls[0], 3), "max_s": round(walls[-1], 3),
            "exit": rc, "command": "no3rr " + " ".join(argv)}


def run_reads(store_dir: str | Path, repeats: int = REPEATS, log=print) -> dict[str, Any]:
    store_dir = Path(store_dir)
    db = store_dir / "screen.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        n_rows = con.execute("SELECT count(*) FROM systems").fetchone()[0]
        cat = con.execute("SELECT c.value FROM text_key_values c JOIN text_key_values k ON c.id = k.id WHERE "
                          "c.key = 'catalyst' AND k.key = 'kind' AND k.value = 'adsorbate' ORDER BY c.id LIMIT 1"
                          ).fetchone()[0]
    out: dict[str, Any] = {"store": str(store_dir), "rows": n_rows, "catalyst": cat, "repeats": repeats,
                           "load_before": [round(x, 2) for x in os.getloadavg()], "commands": {}}
    with tempfile.TemporaryDirectory(prefix="no3rr-reads-") as tmp:
        cases = {
            "lookup": ["lookup", "--db", str(db), "--catalyst", cat],
            "lookup_adsorbate": ["lookup", "--db", str(db), "--catalyst", cat, "--adsorbate", "NO3"],
            "status": ["status", str(store_dir)],
            "analyze": ["analyze", str(EXAMPLE_CSV), "--out", str(Path(tmp) / "an")],
            "analyze_no_plots": ["analyze", str(EXAMPLE_CSV), "--out", str(Path(tmp) / "an_np"), "--no-plots"],
        }
        for key, argv in cases.items():
            if key == "analyze":  # every run draws (the figures of an unchanged analysis would be kept)
                r = {"runs": []}
                for k in range(repeats):
                    argv[-1] = str(Path(tmp) / f"an{k}")
                    r["runs"].append(_time(argv, 1))
                walls = sorted(x["median_s"] for x in r["runs"])
                r = {**r["runs"][0], "median_s": walls[len(walls) // 2], "min_s": walls[0], "max_s": walls[-1]}
            else:
                r = _time(argv, repeats)
            r["goal_s"] = GOALS[key]
            out["commands"][key] = r
            log(f"reads {key}: {r['median_s']:.2f} s (goal {GOALS[key] or '-'} s)")
    out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def render_reads(r: dict[str, Any]) -> list[str]:
    lines = [f"Reads: wall time of one command, a new process each (median of {r['repeats']}; store {r['store']}, "
             f"{r['rows']} rows; load {r['load_before']} -> {r['load_after']})"]
    for key, c in r["commands"].items():
        goal = f"goal < {c['goal_s']:g} s" if c.get("goal_s") else "no goal"
        ok = "" if not c.get("goal_s") else ("  met" if c["median_s"] < c["goal_s"] else "  NOT met")
        lines.append(f"  {c['command'][:90]:90s} {c['median_s']:6.2f} s ({c['min_s']:.2f}-{c['max_s']:.2f})  "
                     f"{goal}{ok}")
    return lines


if __name__ == "__main__":
    res = run_reads(sys.argv[1] if len(sys.argv) > 1 else REPO / "results" / "quickstart",
                    log=lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(render_reads(res)))
