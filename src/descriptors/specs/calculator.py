"""The ``[calculator]`` table (and ``[verify.calculator]``): a registered calculator and its parameters."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from descriptors.calculators import REGISTRY, CalculatorSetting
from descriptors.specs.base import StrictModel

__all__ = ["CalculatorSpec"]


class CalculatorSpec(StrictModel):
    name: str = "emt"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if v not in REGISTRY:
            raise ValueError(f"unknown calculator {v!r}; choose one of {sorted(REGISTRY)}")
        return v

    def setting(self) -> CalculatorSetting:
        """The calculator setting (parameters checked; whether it is installed is not)."""
        return CalculatorSetting(self.name, dict(self.params))

    def checked_setting(self) -> CalculatorSetting:
        """The setting, after checking that its backend is usable on this machine
        (``CalculatorUnavailableError``, a ValueError naming ``calculator.name`` and the install line)."""
        setting = self.setting()
        setting.check_available()
        return setting
