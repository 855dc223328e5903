"""The ``[placement]`` table: which adsorption sites and bidentate site pairs are tried."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from descriptors.specs.base import StrictModel

__all__ = ["PlacementSpec"]


class PlacementSpec(StrictModel):
    site_kinds: list[Literal["top", "bridge", "hollow"]] = Field(default_factory=lambda: ["top", "bridge", "hollow"])
    bidentate: bool = True
    bidentate_tolerance: float = Field(0.8, gt=0, description="|site-pair distance - O..O distance| allowed, A")
    max_pair_distance: float = Field(3.2, gt=0)
