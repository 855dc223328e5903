"""Running jobs: a job's identity and record (``jobs``), the executors that run them (in this
process, a local process pool or Slurm batch jobs: ``executors``) and the engine that runs what
the store does not yet hold and records every outcome (``engine``).

The names below are loaded on first use (PEP 562): ``engine.interrupt`` (what every command
needs for Ctrl-C) does not load the calculators the engine imports.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "engine": ("PARSL_DIR", "TRAJ_DIR", "Engine", "EngineStats", "StageFailed", "settings_hash"),
    "executors": ("EngineError", "engine_type"),
    "interrupt": ("Interrupted", "exit_code", "interrupts"),
    "jobs": ("Job", "RowExtras"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = ["Engine", "EngineStats", "StageFailed", "settings_hash", "TRAJ_DIR", "PARSL_DIR", "EngineError", "engine_type", "Job",
           "RowExtras", "Interrupted", "interrupts", "exit_code"]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
