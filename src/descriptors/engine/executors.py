"""Executors: where the jobs of a screen run.

* ``serial``: in the driver process, one job after the other (workers = 1, tests, debugging).
  A calculator that kills its process stops the screen; re-running resumes it.
* ``local``: a process pool on this machine (pool.py), one worker process per core.
* ``slurm``: Parsl HighThroughputExecutor + SlurmProvider: batch jobs ("blocks") of ``nodes``
  nodes and ``walltime``, each running a Parsl worker pool with one worker per ``cores_per_job``
  cores; the launcher (``srun`` by default) starts the pool on every node of a block.

Workers only compute and return a ``JobOutcome``; the driver (engine.py) is the only writer of
the database.  A worker that dies (wall-time kill, out of memory, segfault) comes back to the
driver as a Parsl ``WorkerLost``/``ManagerLost`` exception (or ``BrokenProcessPool`` locally); the
engine resubmits the job (``[engine] retries``) before it records it as ``worker-lost``.
"""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

__all__ = ["EngineError", "ParslExecutor", "parsl_config", "worker_entry", "engine_type"]

# Heartbeats (s): how fast a dead worker or a lost driver is noticed.  Parsl's defaults
# (30 s / 120 s) suit busy clusters; a busy but healthy node must not be declared dead.
SLURM_HEARTBEAT = (10, 90)


class EngineError(RuntimeError):
    """The chosen engine cannot run here (e.g. no ``sbatch`` on this machine)."""


def engine_type(engine: Any, workers: int) -> str:
    """'serial', 'local' or 'slurm' from an EngineSpec, a name or None; local with one worker is serial."""
    name = getattr(engine, "type", engine) or "local"
    if name == "local" and workers <= 1:
        return "serial"
    return name


def worker_entry(job_id: str, kind: str, atoms, setting, relax_settings, traj_dir, threads: int, check=None):
    """What a worker runs: ``tasks.run_job`` with BLAS/OpenMP limited to the job's cores, then the
    job's check (``jobs.Check``, packed) on its result, so the driver only stores what comes back."""
    from threadpoolctl import threadpool_limits

    from descriptors.engine.jobs import run_check
    from descriptors.tasks import run_job

    with threadpool_limits(threads):
        outcome = run_job(job_id, kind, atoms, setting, relax_settings, traj_dir=traj_dir)
        run_check(check, atoms, outcome)
    return outcome


def _lines(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _python_path_init() -> list[str]:
    """Workers run the driver's Python: put its bin directory (process_worker_pool.py) first on PATH."""
    return [f'export PATH="{Path(sys.executable).parent}:$PATH"']


def parsl_config(engine, run_dir: str | Path, workers: int):
    """The Parsl ``Config`` for an engine spec (``spec.EngineSpec``) of type 'local' or 'slurm'."""
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor

    kind = getattr(engine, "type", engine)
    retries = 0  # the engine resubmits jobs whose worker was lost ([engine] retries), not Parsl
    if kind == "slurm":
        from parsl.launchers import MpiExecLauncher, SingleNodeLauncher, SrunLauncher
        from parsl.providers import SlurmProvider

        cores = engine.cores_per_job or 1
        launcher = {"srun": SrunLauncher, "single": SingleNodeLauncher, "mpiexec": MpiExecLauncher}[
            engine.launcher or "srun"]()
        init = _python_path_init() + [f"export OMP_NUM_THREADS={cores}"] + _lines(engine.worker_init)
        provider_kw: dict[str, Any] = dict(
            partition=engine.partition,
            account=engine.account,
            walltime=engine.walltime,
            nodes_per_block=engine.nodes or 1,
            init_blocks=1 if engine.init_blocks is None else engine.init_blocks,
            min_blocks=0,
            max_blocks=engine.max_blocks or 1,
            worker_init="\n".join(init),
            scheduler_options="\n".join(_lines(engine.scheduler_options)),
            launcher=launcher,
        )
        if engine.cores_per_node:
            provider_kw["cores_per_node"] = engine.cores_per_node
        if engine.exclusive is not None:
            provider_kw["exclusive"] = engine.exclusive
        htex_kw: dict[str, Any] = {}
        if engine.jobs_per_node:
            htex_kw["max_workers_per_node"] = engine.jobs_per_node
        executor = HighThroughputExecutor(
            label="slurm",
            cores_per_worker=cores,
            heartbeat_period=SLURM_HEARTBEAT[0],
            heartbeat_threshold=SLURM_HEARTBEAT[1],
            provider=SlurmProvider(**provider_kw),
            **htex_kw,
        )
        strategy = "htex_auto_scale"
    else:
        raise ValueError(f"engine.type {kind!r}: Parsl runs 'slurm' (local jobs run on engine/pool.py)")
    return Config(
        executors=[executor],
        run_dir=str(run_dir),
        retries=retries,
        strategy=strategy,
        initialize_logging=False,
        usage_tracking=0,
    )


def check_available(kind: str) -> None:
    """Fail before anything runs if the batch system is missing."""
    if kind == "slurm":
        missing = [c for c in ("sbatch", "squeue", "scancel") if shutil.which(c) is None]
        if missing:
            raise EngineError(
                f"engine.type = 'slurm' but {', '.join(missing)} not found on PATH: run the screen on a Slurm "
                "login node, or choose --engine local (Parsl on this machine) / --engine serial")


class ParslExecutor:
    """A Parsl DataFlowKernel of its own (no global ``parsl.load``), started on first use."""

    def __init__(self, engine, run_dir: str | Path, workers: int, threads: int = 1):
        self.engine = engine
        self.kind = getattr(engine, "type", engine)
        self.run_dir = Path(run_dir)
        self.workers = workers
        self.threads = threads
        self.dfk = None
        self._app = None

    def start(self) -> None:
        if self.dfk is not None:
            return
        check_available(self.kind)
        from parsl.app.python import PythonApp
        from parsl.dataflow.dflow import DataFlowKernel

        # the interchange and the local worker pool are scripts next to this Python
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.dfk = DataFlowKernel(parsl_config(self.engine, self.run_dir, self.workers))
        self._app = PythonApp(worker_entry, data_flow_kernel=self.dfk, executors=[self.kind])

    def submit(self, job_id: str, kind: str, atoms, setting, relax_settings, traj_dir, check=None) -> Future:
        self.start()
        return self._app(job_id, kind, atoms, setting, relax_settings,
                         None if traj_dir is None else str(traj_dir), self.threads, check)

    def slots(self) -> int:
        """Worker slots connected now (for the 'running' count of the progress bar)."""
        if self.dfk is None:
            return 0
        try:
            managers = self.dfk.executors[self.kind].connected_managers()
            return sum(int(m.get("worker_count", 0)) for m in managers if m.get("active", True))
        except Exception:
            return self.workers

    def close(self) -> None:
        if self.dfk is not None:
            try:
                self.dfk.cleanup()
            finally:
                self.dfk = None
                self._app = None
