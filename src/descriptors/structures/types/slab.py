"""Catalyst type ``slab``: clean metal surfaces, any fcc/bcc/hcp metal and Miller index (slabs.py).

The slab is built on a metal lattice constant: ``lattice_constant = "relaxed"`` (default) asks for
the bulk metal's EOS first, ``"experimental"`` takes ASE's reference states, a number is used as
given (cubic metals only).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from ase import Atoms
from pydantic import Field, field_validator, model_validator

from descriptors.structures import slabs
from descriptors.structures.registry import (
    CatalystModel,
    StrictModel,
    check_element,
    register_catalyst_type,
)

__all__ = ["SlabParams", "SlabCatalysts", "slab_models", "build_slab"]


class SlabParams(StrictModel):
    """Surface parameters shared by ``slab`` and ``saa`` blocks."""

    facets: list[str | list[int]] = Field(default_factory=lambda: ["100", "111"], min_length=1)
    size: tuple[int, int] = (3, 3)
    layers: int = Field(4, ge=2, le=20)
    vacuum: float = Field(7.5, gt=3.0, description="vacuum on each side, A")
    fixed_layers: int = Field(2, ge=0, description="bottom layers held fixed; = layers freezes the whole slab "
                              "(only adsorbates relax: a frozen-slab protocol)")
    lattice_constant: Literal["relaxed", "experimental"] | Annotated[float, Field(gt=0, le=20)] = "relaxed"
    structure: Literal["fcc", "bcc", "hcp"] | None = None

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        if min(v) < 1:
            raise ValueError("size entries must be >= 1")
        return v

    @field_validator("facets")
    @classmethod
    def _facets(cls, v):
        return [f if isinstance(f, str) else "".join(str(i) for i in f) for f in v]

    @model_validator(mode="after")
    def _fixed(self):
        if self.fixed_layers > self.layers:
            raise ValueError(f"fixed_layers ({self.fixed_layers}) must be at most layers ({self.layers}); "
                             f"fixed_layers = layers freezes the whole slab (only adsorbates relax)")
        return self


class SlabCatalysts(SlabParams):
    """Clean metal slabs, one per metal and facet."""

    type: Literal["slab"]
    metals: list[str] = Field(min_length=1)

    _m = field_validator("metals")(classmethod(lambda cls, v: [check_element(x) for x in v]))


def slab_models(block: SlabParams, i: int, metal: str, solute: str | None) -> list[CatalystModel]:
    """One model per facet of ``block`` for ``metal`` (with one top-layer ``solute`` atom: SAA)."""
    structure = block.structure or slabs.crystal_structure(metal)
    out = []
    for facet in block.facets:
        idx = slabs.parse_facet(facet, structure)
        label = slabs.facet_label(idx)
        recipe = {
            "kind": "saa" if solute else "slab",
            "metal": metal,
            "structure": structure,
            "facet": label,
            "size": list(block.size),
            "layers": block.layers,
            "vacuum": block.vacuum,
            "fixed_layers": block.fixed_layers,
        }
        if solute:
            recipe["solute"] = solute
        name = f"{solute}1{metal}({label})" if solute else f"{metal}({label})"
        lattice = block.lattice_constant
        if isinstance(lattice, float) and structure == "hcp":
            raise ValueError(f"{metal}: a single lattice_constant is ambiguous for hcp; use 'relaxed' or 'experimental'")
        if lattice == "experimental":
            slabs.reference_lattice(metal, structure)  # raises if unknown
        out.append(
            CatalystModel(
                name=name,
                kind=recipe["kind"],
                recipe=recipe,
                elements=tuple(sorted({metal} | ({solute} if solute else set()))),
                block=i,
                bulk=(metal, structure) if lattice == "relaxed" else None,
                lattice=lattice,
                meta={"facet": label, "metal": metal},
            )
        )
    return out


def expand(block: SlabCatalysts, i: int) -> list[CatalystModel]:
    return [m for metal in block.metals for m in slab_models(block, i, metal, None)]


def build_slab(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    """The clean slab of a ``slab`` or ``saa`` recipe on lattice constants (a, c)."""
    return slabs.metal_slab(
        recipe["metal"],
        recipe["facet"],
        size=recipe["size"],
        layers=recipe["layers"],
        vacuum=recipe["vacuum"],
        a=a,
        c=c,
        fixed_layers=recipe["fixed_layers"],
        structure=recipe["structure"],
    )


register_catalyst_type("slab", spec=SlabCatalysts, expand=expand, build=build_slab,
                       needs_lattice=True, metal_surface=True)
