"""The ``[relax]`` table: optimizer, force threshold and step limit of every relaxation."""

from __future__ import annotations

from pydantic import Field, field_validator

from descriptors.specs.base import StrictModel
from descriptors.tasks.base import DEFAULT_OPTIMIZER, OPTIMIZERS, RelaxSettings

__all__ = ["RelaxSpec"]


class RelaxSpec(StrictModel):
    optimizer: str = DEFAULT_OPTIMIZER
    fmax: float = Field(0.05, gt=0, le=5)
    steps: int = Field(300, ge=0)

    @field_validator("optimizer")
    @classmethod
    def _opt(cls, v):
        if v not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {v!r}; choose one of {list(OPTIMIZERS)}")
        return v

    def settings(self) -> RelaxSettings:
        """The worker-side settings (tasks.base.RelaxSettings) of this table."""
        return RelaxSettings(self.optimizer, self.fmax, self.steps)
