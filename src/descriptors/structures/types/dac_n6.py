"""Catalyst type ``dac-n6``: dual-atom M1M2-N6 sites in N-doped graphene (structures/dac_n6.py)."""

from __future__ import annotations

from typing import Any, Literal

from ase import Atoms
from pydantic import Field

from descriptors.structures.dac_n6 import m1m2_n6_graphene
from descriptors.structures.registry import (
    CatalystModel,
    built_model,
    register_catalyst_type,
)
from descriptors.structures.types._dac import DACPairs, block_pairs

__all__ = ["DACN6Catalysts"]


class DACN6Catalysts(DACPairs):
    """Dual-atom M1M2-N6 sites in N-doped graphene."""

    type: Literal["dac-n6"]
    pairs: list[tuple[str, str]] = Field(min_length=1)
    min_image_distance: float = Field(9.8, gt=4.0)


def expand(block: DACN6Catalysts, i: int) -> list[CatalystModel]:
    models = []
    for m1, m2 in block_pairs(block):
        recipe = {"kind": "dac-n6", "m1": m1, "m2": m2, "size": list(block.size) if block.size else None,
                  "vacuum": block.vacuum, "min_image_distance": block.min_image_distance}
        models.append(built_model(recipe, "dac", i))
    return models


def build(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    return m1m2_n6_graphene(
        recipe["m1"],
        recipe["m2"],
        size=tuple(recipe["size"]) if recipe.get("size") else None,
        vacuum=recipe["vacuum"],
        min_image_distance=recipe["min_image_distance"],
    )


register_catalyst_type("dac-n6", spec=DACN6Catalysts, expand=expand, build=build)
