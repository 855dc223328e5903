"""Count and time the real calculator calls, in this process and in every worker process.

A "call" is one execution of an ASE calculator's ``calculate()`` requested through
``get_property`` (``get_potential_energy``, ``get_forces`` ...), i.e. one energy/force
evaluation; cache hits (same positions asked twice) are not calls.  The counting wraps ASE from
the outside, nothing in ``descriptors`` changes:

* ``install(directory)`` patches ``ase.calculators.calculator.BaseCalculator.get_property`` in
  this process.  The first time a calculator class is seen its ``calculate`` is wrapped (once per
  class; nested ``super().calculate`` calls count once).
* Worker processes forked from this one inherit the patch.  Processes started afresh (Parsl
  workers, spawn/forkserver pools) pick it up through ``benchmarks/_site/sitecustomize.py`` when
  :func:`subprocess_env` is passed as their environment (``PYTHONPATH`` + ``NO3RR_BENCH_CALLS``).

Each process appends two 8-byte floats per call (wall and CPU seconds inside ``calculate``; the
CPU time is ``time.process_time``, all threads of the process, so OpenMP calculators count fully) to
``<directory>/calls-<pid>-<CalculatorClass>.bin`` with an unbuffered ``os.write``, so nothing is
lost when a pool kills its workers without running ``atexit``.  :func:`read` sums the files.
The cost is two ``perf_counter`` calls and one ``write`` (a few microseconds) per call.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["install", "read", "snapshot", "subprocess_env", "ENV_VAR", "SITE_DIR"]

ENV_VAR = "NO3RR_BENCH_CALLS"
SITE_DIR = Path(__file__).parent / "_site"

_state: dict[str, Any] = {"dir": None, "fds": {}, "pid": None, "wrapped": set(), "calls": 0, "seconds": 0.0}
_local = threading.local()


def _fd(cls_name: str) -> int:
    pid = os.getpid()
    if _state["pid"] != pid:  # forked child: open its own files
        _state["fds"] = {}
        _state["pid"] = pid
    fd = _state["fds"].get(cls_name)
    if fd is None:
        path = os.path.join(_state["dir"], f"calls-{pid}-{cls_name}.bin")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        _state["fds"][cls_name] = fd
    return fd


def _wrap_class(cls) -> None:
    original = cls.calculate
    if getattr(original, "_no3rr_bench", False):
        _state["wrapped"].add(cls)
        return
    name = cls.__name__

    def calculate(self, *args, **kwargs):
        depth = getattr(_local, "depth", 0)
        if depth:  # a nested super().calculate(): counted by the outermost call
            return original(self, *args, **kwargs)
        _local.depth = 1
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return original(self, *args, **kwargs)
        finally:
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            _local.depth = 0
            _state["calls"] += 1
            _state["seconds"] += dt
            if _state["dir"] is not None:
                os.write(_fd(name), struct.pack("<dd", dt, dc))

    calculate._no3rr_bench = True  # type: ignore[attr-defined]
    calculate.__wrapped__ = original  # type: ignore[attr-defined]
    cls.calculate = calculate
    _state["wrapped"].add(cls)


def snapshot() -> tuple[int, float]:
    """(calls, seconds inside the calculator) made by this process since :func:`install`."""
    return _state["calls"], _state["seconds"]


def install(directory: str | Path | None = None) -> None:
    """Count calculator calls of this process (and of processes forked from it).

    With ``directory`` every call is also appended to a file there (see :func:`read`); without,
    only the in-process counter of :func:`snapshot` runs.
    """
    from ase.calculators.calculator import BaseCalculator

    if directory is not None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
    _state["dir"] = None if directory is None else str(directory)
    _state["pid"] = None
    _state["fds"] = {}
    if getattr(BaseCalculator.get_property, "_no3rr_bench", False):
        return
    original = BaseCalculator.get_property

    def get_property(self, name, atoms=None, allow_calculation=True):
        cls = type(self)
        if cls not in _state["wrapped"]:
            _wrap_class(cls)
        return original(self, name, atoms, allow_calculation)

    get_property._no3rr_bench = True  # type: ignore[attr-defined]
    get_property.__wrapped__ = original  # type: ignore[attr-defined]
    BaseCalculator.get_property = get_property


def read(directory: str | Path) -> dict[str, Any]:
    """Calls and seconds inside the calculator, in total, per calculator class and per process."""
    directory = Path(directory)
    total_calls, total_s, total_cpu = 0, 0.0, 0.0
    by_class: dict[str, dict[str, float]] = {}
    pids: set[int] = set()
    for f in sorted(directory.glob("calls-*.bin")):
        _, pid, cls = f.stem.split("-", 2)
        raw = f.read_bytes()
        n = len(raw) // 16
        rec = np.frombuffer(raw[: 16 * n], dtype="<f8").reshape(-1, 2) if n else np.zeros((0, 2))
        s, c_s = float(rec[:, 0].sum()), float(rec[:, 1].sum())
        total_calls += n
        total_s += s
        total_cpu += c_s
        c = by_class.setdefault(cls, {"calls": 0, "seconds": 0.0, "cpu_seconds": 0.0})
        c["calls"] += n
        c["seconds"] += s
        c["cpu_seconds"] += c_s
        pids.add(int(pid))
    return {"calls": total_calls, "seconds": total_s, "cpu_seconds": total_cpu, "by_class": by_class,
            "processes": len(pids)}


def subprocess_env(directory: str | Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child Python process that counts its (and its workers') calls."""
    env = dict(os.environ if base is None else base)
    env[ENV_VAR] = str(directory)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE_DIR), env.get("PYTHONPATH", "")) if p)
    return env
