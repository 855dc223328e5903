"""Running jobs: a job's identity and record (``jobs``), the executors that run them (in this
process, a local process pool or Slurm batch jobs: ``executors``) and the engine that runs what
the store does not yet hold and records every outcome (``engine``).

The names below are loaded on first use (PEP 562): ``engine.interrupt`` (what every command
needs for Ctrl-C) does not load the calculators the engine imports.
"""

from __future__ import annotations

from descriptors.lazy import lazy_exports

_EXPORTS = {
    "engine": ("PARSL_DIR", "TRAJ_DIR", "Engine", "EngineStats", "StageFailed", "settings_hash"),
    "executors": ("EngineError", "engine_type"),
    "interrupt": ("Interrupted", "exit_code", "interrupts"),
    "jobs": ("Job", "RowExtras"),
}

__all__ = ["Engine", "EngineStats", "StageFailed", "settings_hash", "TRAJ_DIR", "PARSL_DIR", "EngineError", "engine_type", "Job",
           "RowExtras", "Interrupted", "interrupts", "exit_code"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())
