"""Catalyst type ``saa``: single-atom alloys, one top-layer host atom replaced by each solute."""

from __future__ import annotations

from typing import Any, Literal

from ase import Atoms
from pydantic import Field, field_validator

from descriptors.structures import slabs
from descriptors.structures.registry import (
    CatalystModel,
    check_element,
    register_catalyst_type,
)
from descriptors.structures.types.slab import SlabParams, build_slab, slab_models

__all__ = ["SAACatalysts"]


class SAACatalysts(SlabParams):
    """Single-atom alloys: one top-layer host atom replaced by each solute."""

    type: Literal["saa"]
    host: str
    solutes: list[str] = Field(min_length=1)

    _h = field_validator("host")(classmethod(lambda cls, v: check_element(v)))
    _s = field_validator("solutes")(classmethod(lambda cls, v: [check_element(x) for x in v]))


def expand(block: SAACatalysts, i: int) -> list[CatalystModel]:
    models: list[CatalystModel] = []
    for solute in block.solutes:
        if solute == block.host:
            raise ValueError(f"[{i}] solute {solute} equals the host; a single-atom alloy needs another element")
        models += slab_models(block, i, block.host, solute)
    return models


def build(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    return slabs.single_atom_alloy(build_slab(recipe, a, c), recipe["solute"])


register_catalyst_type("saa", spec=SAACatalysts, expand=expand, build=build, needs_lattice=True, metal_surface=True)
