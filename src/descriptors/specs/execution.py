"""The ``[execution]`` and ``[engine]`` tables: how many workers, and where jobs run."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from descriptors.specs.base import StrictModel

__all__ = ["ExecutionSpec", "EngineSpec"]


class ExecutionSpec(StrictModel):
    workers: int | None = Field(None, ge=1, description="parallel local worker processes (default: all cores)")
    retry_failed: bool = False
    max_atoms: int = Field(500, ge=1, description="largest model (atoms) a spec may ask for; checked by validate")


_SLURM_ONLY = ("partition", "account", "walltime", "nodes", "cores_per_job", "cores_per_node", "jobs_per_node",
               "max_blocks", "init_blocks", "worker_init", "launcher", "scheduler_options", "exclusive")


class EngineSpec(StrictModel):
    """Where jobs run (engine/executors.py): 'local' Parsl workers, Slurm batch jobs, or this process."""

    type: Literal["local", "slurm", "serial"] = "local"
    retries: int = Field(2, ge=0, le=10, description="resubmissions of a job whose worker died (out of memory, a "
                         "crash, a lost batch job) before it is recorded as worker-lost")
    # Slurm (Parsl SlurmProvider); only with type = "slurm"
    partition: str | None = None
    account: str | None = None
    walltime: str | None = Field(None, description="wall time of one batch job (block), e.g. '02:00:00'")
    nodes: int | None = Field(None, ge=1, description="nodes per batch job (block)")
    cores_per_job: int | None = Field(None, ge=1, description="cores given to one screening job (one Parsl worker)")
    cores_per_node: int | None = Field(None, ge=1, description="cores to request per node (--cpus-per-task)")
    jobs_per_node: int | None = Field(None, ge=1, description="screening jobs running at once on one node")
    max_blocks: int | None = Field(None, ge=1, description="batch jobs in the queue at most")
    init_blocks: int | None = Field(None, ge=0)
    worker_init: list[str] | str | None = None
    launcher: Literal["srun", "single", "mpiexec"] | None = None
    scheduler_options: list[str] | str | None = None
    exclusive: bool | None = None

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, v):
        if v is not None and not re.fullmatch(r"(\d+-)?\d{1,3}:\d{2}(:\d{2})?", v):
            raise ValueError(f"walltime {v!r}: write HH:MM:SS or D-HH:MM:SS as Slurm does, e.g. '02:00:00'")
        return v

    @model_validator(mode="after")
    def _slurm_keys(self):
        given = [k for k in _SLURM_ONLY if getattr(self, k) is not None]
        if self.type != "slurm" and given:
            raise ValueError(f"{', '.join(given)} only apply to type = 'slurm' (engine.type is {self.type!r}); "
                             "set type = 'slurm' or remove them")
        if self.type == "slurm" and self.walltime is None:
            raise ValueError("type = 'slurm' needs walltime, the wall time of one batch job, e.g. walltime = '02:00:00'")
        return self
