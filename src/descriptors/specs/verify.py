"""The ``[verify]`` table: an expensive calculator level for the best placements."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from descriptors.specs.base import StrictModel
from descriptors.specs.calculator import CalculatorSpec
from descriptors.specs.relax import RelaxSpec

__all__ = ["VerifySpec"]


class VerifySpec(StrictModel):
    """Pre-screen then verify (AdsorbML: Lan et al., npj Comput. Mater. 9, 172 (2023)), see workflows/verify.py.

    Every placement is relaxed with ``[calculator]``; the ``top_k`` lowest unflagged ones per
    (catalyst, adsorbate) go to this expensive calculator, as a single point on the cheap
    geometry or a relaxation from it.  ``all`` also runs every placement at the expensive level,
    to measure how often the top-k found the expensive minimum within ``tolerance`` eV.
    """

    calculator: CalculatorSpec
    top_k: int = Field(2, ge=1, description="placements per (catalyst, adsorbate) sent to the expensive level")
    mode: Literal["single-point", "relax"] = "single-point"
    all: bool = Field(False, description="also run every placement at the expensive level (validation)")
    relax: RelaxSpec | None = Field(None, description="mode 'relax' only; default: the [relax] table")
    within: float | None = Field(None, gt=0, le=5.0, description="eV; besides the top_k, also send every placement "
                                 "whose cheap E_ads is within this of the (catalyst, adsorbate)'s lowest cheap one "
                                 "(a near-tie the cheap level cannot resolve)")
    tolerance: float = Field(0.1, gt=0, le=2.0, description="eV; success = top-k within this of the minimum")

    @model_validator(mode="after")
    def _mode(self):
        if self.mode == "single-point" and self.relax is not None:
            raise ValueError("relax only applies to mode = 'relax'; remove verify.relax or set mode = 'relax'")
        return self
