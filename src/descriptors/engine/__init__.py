"""Running jobs: a job's identity and record (``jobs``), the executors that run them (in this
process, a local process pool or Slurm batch jobs: ``executors``) and the engine that runs what
the store does not yet hold and records every outcome (``engine``)."""

from descriptors.engine.engine import (
           PARSL_DIR,
           TRAJ_DIR,
           Engine,
           EngineStats,
           StageFailed,
           settings_hash,
)
from descriptors.engine.executors import EngineError, engine_type
from descriptors.engine.interrupt import Interrupted, exit_code, interrupts
from descriptors.engine.jobs import Job, RowExtras

__all__ = ["Engine", "EngineStats", "StageFailed", "settings_hash", "TRAJ_DIR", "PARSL_DIR", "EngineError", "engine_type", "Job",
           "RowExtras", "Interrupted", "interrupts", "exit_code"]
