"""Screening spec: a TOML file validated before any calculation.

Unknown keys, unknown elements or adsorbates, and a calculator that cannot treat the requested
elements are errors that name the field and the fix (``SpecError``, exit code 2 on the CLI).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from ase.data import atomic_numbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .adsorbates import ADSORBATES, get_adsorbate
from .calculators import REGISTRY, CalculatorSetting, UnsupportedElementsError, check_elements
from .relax import OPTIMIZERS

__all__ = ["Spec", "SpecError", "load_spec", "parse_spec"]


class SpecError(ValueError):
    """A spec that cannot run; the message names the field and the fix."""


_ELEMENTS = {s for s, z in atomic_numbers.items() if z > 0}


def _check_element(value: str) -> str:
    if value not in _ELEMENTS:
        raise ValueError(f"{value!r} is not a chemical element symbol (write e.g. 'Cu', 'Fe')")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlabParams(_Strict):
    facets: list[str | list[int]] = Field(default_factory=lambda: ["100", "111"], min_length=1)
    size: tuple[int, int] = (3, 3)
    layers: int = Field(4, ge=2, le=20)
    vacuum: float = Field(7.5, gt=3.0, description="vacuum on each side, A")
    fixed_layers: int = Field(2, ge=0)
    lattice_constant: Literal["relaxed", "experimental"] | float = "relaxed"
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
        if self.fixed_layers >= self.layers:
            raise ValueError(f"fixed_layers ({self.fixed_layers}) must be smaller than layers ({self.layers})")
        return self


class SlabCatalysts(SlabParams):
    type: Literal["slab"]
    metals: list[str] = Field(min_length=1)

    _m = field_validator("metals")(classmethod(lambda cls, v: [_check_element(x) for x in v]))


class SAACatalysts(SlabParams):
    """Single-atom alloys: one top-layer host atom replaced by each solute."""

    type: Literal["saa"]
    host: str
    solutes: list[str] = Field(min_length=1)

    _h = field_validator("host")(classmethod(lambda cls, v: _check_element(v)))
    _s = field_validator("solutes")(classmethod(lambda cls, v: [_check_element(x) for x in v]))


_FIRST_SHELL = {"N", "C", "O", "S", "P", "B"}


class SACCatalysts(_Strict):
    """Single-atom catalysts: metal in a graphene divacancy (M-N4 and variants)."""

    type: Literal["sac"]
    metals: list[str] = Field(min_length=1)
    coordination: str | list[str] = "N4"
    ligand: Literal["Cl", "OH", "O"] | None = None
    size: tuple[int, int] | None = None
    vacuum: float = Field(15.0, gt=6.0, description="total vacuum along z, A")
    min_image_distance: float = Field(9.8, gt=4.0)

    _m = field_validator("metals")(classmethod(lambda cls, v: [_check_element(x) for x in v]))

    @field_validator("coordination")
    @classmethod
    def _coord(cls, v):
        if isinstance(v, list):
            if len(v) != 4 or set(v) - _FIRST_SHELL:
                raise ValueError(f"give four first-shell elements from {sorted(_FIRST_SHELL)}, e.g. ['N','N','N','C']")
        return v


class DACPairs(_Strict):
    pairs: Literal["all"] | list[tuple[str, str]] = "all"
    metals: list[str] = Field(default_factory=lambda: ["Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu"])
    size: tuple[int, int] | None = None
    vacuum: float = Field(15.0, gt=6.0)

    _m = field_validator("metals")(classmethod(lambda cls, v: [_check_element(x) for x in v]))

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v):
        if v != "all":
            for p in v:
                for x in p:
                    _check_element(x)
        return v


class DACGC3N4Catalysts(DACPairs):
    """Dual-atom catalysts M1M2 on heptazine g-C3N4."""

    type: Literal["dac-gc3n4"]


class DACN6Catalysts(DACPairs):
    """Dual-atom M1M2-N6 sites in N-doped graphene."""

    type: Literal["dac-n6"]
    pairs: list[tuple[str, str]] = Field(min_length=1)
    min_image_distance: float = Field(9.8, gt=4.0)


Catalysts = Annotated[
    Union[SlabCatalysts, SAACatalysts, SACCatalysts, DACGC3N4Catalysts, DACN6Catalysts],
    Field(discriminator="type"),
]


class CalculatorSpec(_Strict):
    name: str = "emt"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if v not in REGISTRY:
            raise ValueError(f"unknown calculator {v!r}; choose one of {sorted(REGISTRY)}")
        return v

    def setting(self) -> CalculatorSetting:
        return CalculatorSetting(self.name, dict(self.params))


class RelaxSpec(_Strict):
    optimizer: str = "BFGS"
    fmax: float = Field(0.05, gt=0, le=5)
    steps: int = Field(300, ge=0)

    @field_validator("optimizer")
    @classmethod
    def _opt(cls, v):
        if v not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {v!r}; choose one of {list(OPTIMIZERS)}")
        return v


class PlacementSpec(_Strict):
    site_kinds: list[Literal["top", "bridge", "hollow"]] = Field(default_factory=lambda: ["top", "bridge", "hollow"])
    bidentate: bool = True
    bidentate_tolerance: float = Field(0.8, gt=0, description="|site-pair distance - O..O distance| allowed, A")
    max_pair_distance: float = Field(3.2, gt=0)


class ExecutionSpec(_Strict):
    workers: int = Field(1, ge=1, description="parallel local worker processes")
    retry_failed: bool = False


class Spec(_Strict):
    name: str
    description: str = ""
    output: str = "results/screen"
    catalysts: list[Catalysts] = Field(min_length=1)
    adsorbates: Literal["all"] | list[str] = "all"
    calculator: CalculatorSpec = Field(default_factory=CalculatorSpec)
    relax: RelaxSpec = Field(default_factory=RelaxSpec)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)

    @field_validator("adsorbates")
    @classmethod
    def _ads(cls, v):
        if v == "all":
            return v
        if not v:
            raise ValueError("give at least one adsorbate, or 'all'")
        for name in v:
            try:
                get_adsorbate(name)
            except ValueError:
                raise ValueError(f"unknown adsorbate {name!r}; known: {', '.join(ADSORBATES)}") from None
        return v

    def adsorbate_names(self) -> list[str]:
        if self.adsorbates == "all":
            return list(ADSORBATES)
        return [get_adsorbate(n).name for n in self.adsorbates]


def _format_validation(err: ValidationError, source: str) -> str:
    lines = [f"invalid spec {source}:"]
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"] if not (isinstance(x, str) and x in _TAGS))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling against the README's spec format"
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown catalyst type; use one of {sorted(_TAGS)}"
        elif e["type"] == "union_tag_not_found":
            msg = f"each catalyst needs a 'type' key, one of {sorted(_TAGS)}"
        lines.append(f"  {loc or '<top level>'}: {msg.removeprefix('Value error, ')}")
    return "\n".join(lines)


_TAGS = {"slab", "saa", "sac", "dac-gc3n4", "dac-n6"}


def parse_spec(data: dict[str, Any], source: str = "<dict>") -> Spec:
    """Validate a spec mapping; raise SpecError with every problem listed."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as err:
        raise SpecError(_format_validation(err, source)) from None
    # Cross-field checks that need the models: calculator parameters and element coverage.
    try:
        setting = spec.calculator.setting()
    except ValueError as err:
        raise SpecError(f"invalid spec {source}:\n  {err}") from None
    from .catalysts import expand_catalysts  # late import: catalysts imports builders

    try:
        models = expand_catalysts(spec)
    except ValueError as err:
        raise SpecError(f"invalid spec {source}:\n  catalysts: {err}") from None
    ads_symbols = {s for n in spec.adsorbate_names() for s in ADSORBATES[n].formula_counts}
    try:
        for i in range(len(spec.catalysts)):
            symbols = {e for m in models if m.block == i for e in m.elements}
            check_elements(setting, symbols, where=f"catalysts[{i}]")
        check_elements(setting, ads_symbols | {"H", "N", "O"}, where="adsorbates")
    except UnsupportedElementsError as err:
        raise SpecError(f"invalid spec {source}:\n  {err}") from None
    return spec


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} not found; give the path to a .toml spec, e.g. workflows/quickstart.toml")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"invalid spec {path}: not valid TOML ({err})") from None
    return parse_spec(data, str(path))
