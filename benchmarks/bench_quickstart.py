"""Benchmark: the quick-start screen (EMT) and its resume, timed.

    python benchmarks/bench_quickstart.py [--workers 2] [--out /tmp/bench-qs]

Prints wall time, jobs per second, calculator time per job, and the resume time (which must
compute nothing).
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from descriptors.screen import run_screen
from descriptors.spec import load_spec


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--spec", default=str(Path(__file__).parents[1] / "workflows" / "quickstart.toml"))
    p.add_argument("--out", default=None)
    args = p.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-qs-"))
    if out.exists():
        shutil.rmtree(out)
    spec = load_spec(args.spec)
    t = time.perf_counter()
    res = run_screen(spec, out=out, workers=args.workers, progress=False, quiet=True)
    wall = time.perf_counter() - t
    st = res.stats
    print(f"spec: {spec.name}  workers: {args.workers}")
    print(f"jobs computed: {st['computed']}  ({st['jobs']})")
    print(f"wall time: {wall:.1f} s   jobs/s: {st['computed'] / wall:.2f}")
    print(f"calculator time per job (mean): {st['seconds'] / max(st['computed'], 1):.3f} s")
    t = time.perf_counter()
    res2 = run_screen(spec, out=out, workers=args.workers, progress=False, quiet=True)
    print(f"resume: {time.perf_counter() - t:.1f} s, computed {res2.stats['computed']} (must be 0)")
    print(f"database size: {(out / 'screen.db').stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
