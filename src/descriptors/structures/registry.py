"""The catalyst-type registry: what a ``[[catalysts]]`` block may be and how it becomes structures.

A catalyst type (``slab``, ``saa``, ``sac``, ``dac-gc3n4``, ``dac-n6``, ...) is one module of
``structures/types/`` that calls :func:`register_catalyst_type` with

* ``spec``: the pydantic model of its ``[[catalysts]]`` block (``type: Literal[name]``);
  the spec's catalyst union is generated from the registry (specs/spec.py);
* ``expand(block, index) -> list[CatalystModel]``: the buildable models of one block;
* ``build(recipe, a, c) -> Atoms``: the structure of one recipe;
* what other layers ask of it: ``needs_lattice`` (built on a metal lattice constant; with
  ``lattice_constant = "relaxed"`` a bulk EOS job comes first, named by ``CatalystModel.bulk``)
  and ``metal_surface`` (a metal surface: gets a d-band job when the calculator gives a DOS).

A ``CatalystModel`` is a recipe (JSON-serialisable, hashed into job identities; its ``kind`` is
the type's name) plus a ``build`` that returns plain ``ase.Atoms``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ase import Atoms
from ase.data import atomic_numbers
from pydantic import BaseModel, ConfigDict, model_validator

from descriptors.structures.slabs import reference_lattice

__all__ = [
    "CatalystModel", "CatalystType", "CATALYST_TYPES", "register_catalyst_type", "catalyst_type",
    "expand_catalysts", "build_model", "is_metal_surface", "StrictModel", "check_element",
]


class StrictModel(BaseModel):
    """Base of every spec table: unknown keys are errors, validated values are frozen, numbers are
    numbers (the text "0.05" or a boolean is not coerced) and finite (no nan or inf)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _strict_numbers(cls, data):
        if isinstance(data, dict):
            for name, value in data.items():
                f = cls.model_fields.get(name)
                if f is None or not isinstance(value, (str, bool)) or not _takes_number(f.annotation):
                    continue
                if isinstance(value, bool) and not _takes(f.annotation, bool):
                    raise ValueError(f"{name} = {str(value).lower()}: give a number, not a boolean")
                if isinstance(value, str) and not _takes(f.annotation, str) and value not in _literals(f.annotation):
                    raise ValueError(f"{name} = {value!r}: give a number without quotes"
                                     + (f" or one of {sorted(_literals(f.annotation))}" if _literals(f.annotation)
                                        else ""))
        return data


def _args(tp) -> list:
    """The types a field annotation accepts (Optional, Union, Annotated and Literal unpacked)."""
    import typing

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _args(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(tp) for t in _args(a)]
    return [tp]


def _takes(tp, kind) -> bool:
    return any(a is kind for a in _args(tp))


def _takes_number(tp) -> bool:
    return any(a in (int, float) for a in _args(tp))


def _literals(tp) -> set:
    import typing

    return {v for a in _args(tp) if typing.get_origin(a) is typing.Literal for v in typing.get_args(a)}


_ELEMENTS = {s for s, z in atomic_numbers.items() if z > 0}


def check_element(value: str) -> str:
    """``value`` if it is a chemical element symbol, else a ValueError with an example."""
    if value not in _ELEMENTS:
        raise ValueError(f"{value!r} is not a chemical element symbol (write e.g. 'Cu', 'Fe')")
    return value


@dataclass(frozen=True)
class CatalystModel:
    name: str
    kind: str  # 'slab' | 'saa' | 'sac' | 'dac' (the model family; recipe['kind'] names the type)
    recipe: dict[str, Any]
    elements: tuple[str, ...]
    block: int = 0
    bulk: tuple[str, str] | None = None  # (metal, structure) whose relaxed lattice is needed
    lattice: str | float | None = None  # 'relaxed' | 'experimental' | value, lattice types only
    meta: dict[str, Any] = field(default_factory=dict)

    def build(self, a: float | None = None, c: float | None = None) -> Atoms:
        return build_model(self.recipe, a=a, c=c)

    @property
    def catalyst_type(self) -> CatalystType:
        """The registered type of this model (``recipe['kind']``)."""
        return catalyst_type(self.recipe["kind"])

    def unrelaxed_lattice(self) -> tuple[float | None, float | None]:
        """(a, c) of a structure built without a bulk relaxation: the given lattice constant,
        else the experimental one; (None, None) for types without a metal lattice."""
        if not self.catalyst_type.needs_lattice:
            return None, None
        if isinstance(self.lattice, float):
            return self.lattice, None
        return reference_lattice(self.recipe["metal"], self.recipe["structure"])


@dataclass(frozen=True)
class CatalystType:
    """One registered catalyst type; see the module docstring."""

    name: str
    spec: type[BaseModel]
    expand: Callable[[Any, int], list[CatalystModel]]
    build: Callable[[dict[str, Any], float | None, float | None], Atoms]
    needs_lattice: bool = False
    metal_surface: bool = False
    description: str = ""


CATALYST_TYPES: dict[str, CatalystType] = {}


def register_catalyst_type(name: str, *, spec: type[BaseModel], expand, build, needs_lattice: bool = False,
                           metal_surface: bool = False, description: str = "") -> CatalystType:
    """Add a catalyst type; its spec model's ``type`` field must be ``Literal[name]``."""
    tag = spec.model_fields.get("type")
    if tag is None or getattr(tag.annotation, "__args__", None) != (name,):
        raise TypeError(f"{spec.__name__}.type must be Literal[{name!r}] to register catalyst type {name!r}")
    if name in CATALYST_TYPES:
        raise ValueError(f"catalyst type {name!r} is registered twice")
    t = CatalystType(name, spec, expand, build, needs_lattice, metal_surface, description or (spec.__doc__ or "").strip())
    CATALYST_TYPES[name] = t
    return t


def catalyst_type(name: str) -> CatalystType:
    try:
        return CATALYST_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown catalyst type {name!r}; use one of {sorted(CATALYST_TYPES)}") from None


def is_metal_surface(kind: str | None) -> bool:
    """True for a registered metal-surface type (``slab``, ``saa``): those get a d-band job."""
    return kind in CATALYST_TYPES and CATALYST_TYPES[kind].metal_surface


def build_model(recipe: dict[str, Any], a: float | None = None, c: float | None = None) -> Atoms:
    """Build the structure of a recipe (pure function of the recipe and the lattice)."""
    return catalyst_type(recipe["kind"]).build(recipe, a, c)


def expand_catalysts(spec) -> list[CatalystModel]:
    """All catalyst models of a validated spec, in spec order, names unique."""
    models: list[CatalystModel] = []
    for i, block in enumerate(spec.catalysts):
        models += catalyst_type(block.type).expand(block, i)
    names = [m.name for m in models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"catalyst(s) listed twice: {', '.join(dup)}; remove the duplicates")
    return models


def built_model(recipe: dict[str, Any], kind: str, block: int) -> CatalystModel:
    """A model named by its builder; building it now (cheap) validates the variant up front."""
    atoms = build_model(recipe)
    return CatalystModel(
        name=atoms.info["catalyst"],
        kind=kind,
        recipe=recipe,
        elements=tuple(sorted(set(atoms.get_chemical_symbols()))),
        block=block,
    )
