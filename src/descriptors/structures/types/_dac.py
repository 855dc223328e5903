"""What the two dual-atom types share: the metal pairs of a block."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from descriptors.structures.gc3n4 import dac_pairs
from descriptors.structures.registry import StrictModel, check_element

__all__ = ["DACPairs", "block_pairs"]


class DACPairs(StrictModel):
    pairs: Literal["all"] | list[tuple[str, str]] = "all"
    metals: list[str] = Field(default_factory=lambda: ["Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu"])
    size: tuple[int, int] | None = None
    vacuum: float = Field(15.0, gt=6.0)

    _m = field_validator("metals")(classmethod(lambda cls, v: [check_element(x) for x in v]))

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v):
        if v != "all":
            for p in v:
                for x in p:
                    check_element(x)
        return v


def block_pairs(block: DACPairs) -> list[tuple[str, str]]:
    """The (m1, m2) pairs of a block: as listed, or every unordered pair of ``metals``."""
    if block.pairs == "all":
        return dac_pairs(tuple(block.metals))
    return [tuple(p) for p in block.pairs]
