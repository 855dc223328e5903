"""Catalyst models named by a spec: expand each spec block into buildable models.

A ``CatalystModel`` is a recipe (JSON-serialisable, hashed into job identities) plus a
``build`` that returns plain ``ase.Atoms``.  Metal slabs whose lattice constant is 'relaxed'
name the bulk they need; the screen computes that bulk first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ase import Atoms

from . import slabs

__all__ = ["CatalystModel", "expand_catalysts", "build_model"]


@dataclass(frozen=True)
class CatalystModel:
    name: str
    kind: str  # 'slab' | 'saa' | 'sac' | 'dac'
    recipe: dict[str, Any]
    elements: tuple[str, ...]
    block: int = 0
    bulk: tuple[str, str] | None = None  # (metal, structure) whose relaxed lattice is needed
    lattice: str | float | None = None  # 'relaxed' | 'experimental' | value, slabs only
    meta: dict[str, Any] = field(default_factory=dict)

    def build(self, a: float | None = None, c: float | None = None) -> Atoms:
        return build_model(self.recipe, a=a, c=c)


def build_model(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    """Build the structure of a recipe (pure function of the recipe and the lattice)."""
    kind = recipe["kind"]
    if kind in ("slab", "saa"):
        metal = recipe["metal"]
        slab = slabs.metal_slab(
            metal,
            recipe["facet"],
            size=recipe["size"],
            layers=recipe["layers"],
            vacuum=recipe["vacuum"],
            a=a,
            c=c,
            fixed_layers=recipe["fixed_layers"],
            structure=recipe["structure"],
        )
        if kind == "saa":
            slab = slabs.single_atom_alloy(slab, recipe["solute"])
        return slab
    if kind == "sac":
        from .sac import mn4_graphene

        return mn4_graphene(
            recipe["metal"],
            size=tuple(recipe["size"]) if recipe.get("size") else None,
            coordination=recipe["coordination"],
            ligand=recipe.get("ligand"),
            vacuum=recipe["vacuum"],
            min_image_distance=recipe["min_image_distance"],
        )
    if kind == "dac-gc3n4":
        from .dac import m1m2_gc3n4

        kw = {"vacuum": recipe["vacuum"]}
        if recipe.get("size"):
            kw["size"] = tuple(recipe["size"])
        return m1m2_gc3n4(recipe["m1"], recipe["m2"], **kw)
    if kind == "dac-n6":
        from .dac import m1m2_n6_graphene

        return m1m2_n6_graphene(
            recipe["m1"],
            recipe["m2"],
            size=tuple(recipe["size"]) if recipe.get("size") else None,
            vacuum=recipe["vacuum"],
            min_image_distance=recipe["min_image_distance"],
        )
    raise ValueError(f"unknown model kind {kind!r}")


def _slab_models(block, i: int, metal: str, solute: str | None) -> list[CatalystModel]:
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


def _built_model(recipe: dict[str, Any], kind: str, block: int) -> CatalystModel:
    """A model named by its builder; building it now (cheap) validates the variant up front."""
    atoms = build_model(recipe)
    return CatalystModel(
        name=atoms.info["catalyst"],
        kind=kind,
        recipe=recipe,
        elements=tuple(sorted(set(atoms.get_chemical_symbols()))),
        block=block,
    )


def expand_catalysts(spec) -> list[CatalystModel]:
    """All catalyst models of a validated spec, in spec order, names unique."""
    models: list[CatalystModel] = []
    for i, block in enumerate(spec.catalysts):
        t = block.type
        if t == "slab":
            for metal in block.metals:
                models += _slab_models(block, i, metal, None)
        elif t == "saa":
            for solute in block.solutes:
                if solute == block.host:
                    raise ValueError(f"[{i}] solute {solute} equals the host; a single-atom alloy needs another element")
                models += _slab_models(block, i, block.host, solute)
        elif t == "sac":
            coord = block.coordination
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
                models.append(_built_model(recipe, "sac", i))
        elif t in ("dac-gc3n4", "dac-n6"):
            if block.pairs == "all":
                from .dac import dac_pairs

                pairs = dac_pairs(tuple(block.metals))
            else:
                pairs = [tuple(p) for p in block.pairs]
            for m1, m2 in pairs:
                recipe = {"kind": t, "m1": m1, "m2": m2, "size": list(block.size) if block.size else None,
                          "vacuum": block.vacuum}
                if t == "dac-n6":
                    recipe["min_image_distance"] = block.min_image_distance
                models.append(_built_model(recipe, "dac", i))
        else:  # pragma: no cover - the spec's discriminator forbids it
            raise ValueError(f"unknown catalyst type {t!r}")
    names = [m.name for m in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"catalyst(s) listed twice: {', '.join(dup)}; remove the duplicates")
    return models
