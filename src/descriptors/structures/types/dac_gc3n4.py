"""Catalyst type ``dac-gc3n4``: dual-atom catalysts M1M2 on heptazine g-C3N4 (structures/gc3n4.py)."""

from __future__ import annotations

from typing import Any, Literal

from ase import Atoms

from descriptors.structures.gc3n4 import m1m2_gc3n4
from descriptors.structures.registry import (
    CatalystModel,
    built_model,
    register_catalyst_type,
)
from descriptors.structures.types._dac import DACPairs, block_pairs

__all__ = ["DACGC3N4Catalysts"]


class DACGC3N4Catalysts(DACPairs):
    """Dual-atom catalysts M1M2 on heptazine g-C3N4."""

    type: Literal["dac-gc3n4"]


def expand(block: DACGC3N4Catalysts, i: int) -> list[CatalystModel]:
    return [built_model({"kind": "dac-gc3n4", "m1": m1, "m2": m2, "size": list(block.size) if block.size else None,
                         "vacuum": block.vacuum}, "dac", i)
            for m1, m2 in block_pairs(block)]


def build(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    kw = {"vacuum": recipe["vacuum"]}
    if recipe.get("size"):
        kw["size"] = tuple(recipe["size"])
    return m1m2_gc3n4(recipe["m1"], recipe["m2"], **kw)


register_catalyst_type("dac-gc3n4", spec=DACGC3N4Catalysts, expand=expand, build=build)
