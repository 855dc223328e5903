"""Catalyst type ``sac``: a metal atom in a graphene divacancy, M-N4 and variants (structures/sac.py)."""

from __future__ import annotations

from typing import Any, Literal

from ase import Atoms
from pydantic import Field, field_validator

from descriptors.structures.registry import (
    CatalystModel,
    StrictModel,
    built_model,
    check_element,
    register_catalyst_type,
)
from descriptors.structures.sac import mn4_graphene

__all__ = ["SACCatalysts"]

_FIRST_SHELL = {"N", "C", "O", "S", "P", "B"}


class SACCatalysts(StrictModel):
    """Single-atom catalysts: metal in a graphene divacancy (M-N4 and variants)."""

    type: Literal["sac"]
    metals: list[str] = Field(min_length=1)
    coordination: str | list[str] = "N4"
    ligand: Literal["Cl", "OH", "O"] | None = None
    size: tuple[int, int] | None = None
    vacuum: float = Field(15.0, gt=6.0, description="total vacuum along z, A")
    min_image_distance: float = Field(9.8, gt=4.0)

    _m = field_validator("metals")(classmethod(lambda cls, v: [check_element(x) for x in v]))

    @field_validator("coordination")
    @classmethod
    def _coord(cls, v):
        if isinstance(v, list):
            if len(v) != 4 or set(v) - _FIRST_SHELL:
                raise ValueError(f"give four first-shell elements from {sorted(_FIRST_SHELL)}, e.g. ['N','N','N','C']")
        return v


def expand(block: SACCatalysts, i: int) -> list[CatalystModel]:
    coord = block.coordination
    models = []
    for metal in block.metals:
        recipe = {
            "kind": "sac",
            "metal": metal,
            "coordination": list(coord) if isinstance(coord, list) else coord,
            "ligand": block.ligand,
            "size": list(block.size) if block.size else None,
            "vacuum": block.vacuum,
            "min_image_distance": block.min_image_distance,
        }
        models.append(built_model(recipe, "sac", i))
    return models


def build(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    return mn4_graphene(
        recipe["metal"],
        size=tuple(recipe["size"]) if recipe.get("size") else None,
        coordination=recipe["coordination"],
        ligand=recipe.get("ligand"),
        vacuum=recipe["vacuum"],
        min_image_distance=recipe["min_image_distance"],
    )


register_catalyst_type("sac", spec=SACCatalysts, expand=expand, build=build)
