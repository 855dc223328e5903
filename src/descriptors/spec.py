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

__all__ = ["Spec", "SpecError", "EngineSpec", "load_spec", "parse_spec"]


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


class VerifySpec(_Strict):
    """Pre-screen then verify (AdsorbML: Lan et al., npj Comput. Mater. 9, 172 (2023)), see verify.py.

    Every placement is relaxed with ``[calculator]``; the ``top_k`` lowest unflagged ones per
    (catalyst, adsorbate) go to this expensive calculator, as a single point on the cheap
    geometry or a relaxation from it.  ``all`` also runs every placement at the expensive level,
    to measure how often the top-k found the expensive minimum within ``tolerance`` eV.
    """

    calculator: CalculatorSpec
    top_k: int = Field(2, ge=1, description="placements per (catalyst, adsorbate) sent to the expensive level")
    mode: Literal["single-point", "relax"] = "single-point"
    all: bool = Field(False, description="also run every placement at the expensive level (validation)")
    relax: RelaxSpec | None = Field(None, description="mode 'relax' only; default: the [relax] table")
    tolerance: float = Field(0.1, gt=0, le=2.0, description="eV; success = top-k within this of the minimum")

    @model_validator(mode="after")
    def _mode(self):
        if self.mode == "single-point" and self.relax is not None:
            raise ValueError("relax only applies to mode = 'relax'; remove verify.relax or set mode = 'relax'")
        return self


class ExecutionSpec(_Strict):
    workers: int | None = Field(None, ge=1, description="parallel local worker processes (default: all cores)")
    retry_failed: bool = False


_SLURM_ONLY = ("partition", "account", "walltime", "nodes", "cores_per_job", "cores_per_node", "jobs_per_node",
               "max_blocks", "init_blocks", "worker_init", "launcher", "scheduler_options", "exclusive")


class EngineSpec(_Strict):
    """Where jobs run (executors.py): 'local' Parsl workers, Slurm batch jobs, or this process."""

    type: Literal["local", "slurm", "serial"] = "local"
    retries: int = Field(0, ge=0, le=10, description="automatic resubmissions of a job whose worker was lost")
    # Slurm (Parsl SlurmProvider); only with type = "slurm"
    partition: str | None = None
    account: str | None = None
    walltime: str | None = Field(None, description="wall time of one batch job (block), e.g. '02:00:00'")
    nodes: int | None = Field(None, ge=1, description="nodes per batch job (block)")
    cores_per_job: int | None = Field(None, ge=1, description="cores given to one screening job (one Parsl worker)")
    cores_per_node: int | None = Field(None, ge=1, description="cores to request per node (--cpus-per-task)")
    jobs_per_node: int | None = Field(None, ge=1, description="screening jobs running at once on one node")
    max_blocks: int | None = Field(None, ge=1, description="batch jobs in the queue at most")
    init_blocks: int | None = Field(None, ge=0)
    worker_init: list[str] | str | None = None
    launcher: Literal["srun", "single", "mpiexec"] | None = None
    scheduler_options: list[str] | str | None = None
    exclusive: bool | None = None

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, v):
        import re

        if v is not None and not re.fullmatch(r"(\d+-)?\d{1,3}:\d{2}(:\d{2})?", v):
            raise ValueError(f"walltime {v!r}: write HH:MM:SS or D-HH:MM:SS as Slurm does, e.g. '02:00:00'")
        return v

    @model_validator(mode="after")
    def _slurm_keys(self):
        given = [k for k in _SLURM_ONLY if getattr(self, k) is not None]
        if self.type != "slurm" and given:
            raise ValueError(f"{', '.join(given)} only apply to type = 'slurm' (engine.type is {self.type!r}); "
                             "set type = 'slurm' or remove them")
        if self.type == "slurm" and self.walltime is None:
            raise ValueError("type = 'slurm' needs walltime, the wall time of one batch job, e.g. walltime = '02:00:00'")
        return self


class AnalysisSpec(_Strict):
    """Free energies, limiting potentials, scaling relations and volcanoes after the screen (analysis.py)."""

    potential: float = Field(0.0, ge=-5.0, le=5.0, description="V vs RHE for the dG(U) columns")
    pH: float = Field(0.0, ge=-2.0, le=16.0)
    temperature: float = Field(298.15, gt=0.0, le=2000.0, description="K")
    corrections: str = Field("computed", description="computed | table | none | path to a corrections JSON table")
    nitrate_reference: Literal["equilibrium", "hno3"] = "equilibrium"
    equilibrium_potential: float | None = Field(None, ge=-2.0, le=3.0, description="V vs RHE at pH 0 (override)")
    descriptors: list[str] = Field(default_factory=lambda: ["*N", "*NO3"], min_length=1, max_length=2)
    use_flagged: bool = Field(False, description="also use sites flagged by the geometry checks (marked in outputs)")

    @field_validator("corrections")
    @classmethod
    def _corr(cls, v):
        if v not in ("computed", "table", "none") and not Path(v).is_file():
            raise ValueError(f"{v!r}: use 'computed', 'table', 'none' or the path of a corrections JSON table "
                             "(schema: src/descriptors/data/free_energy_corrections.json)")
        return v

    @field_validator("descriptors")
    @classmethod
    def _desc(cls, v):
        from .analysis import _species

        return [_species(d, "descriptors") for d in v]

    def settings(self):
        from .analysis import AnalysisSettings

        return AnalysisSettings(self.potential, self.pH, self.temperature, self.corrections, self.nitrate_reference,
                                self.equilibrium_potential, tuple(self.descriptors), self.use_flagged)


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
    engine: EngineSpec = Field(default_factory=EngineSpec)
    verify: VerifySpec | None = None
    db: str | None = Field(None, description="result database: a path (SQLite) or postgresql://user:pw@host/db")
    analysis: AnalysisSpec | None = None  # run analysis.py at the end of the screen

    @field_validator("db")
    @classmethod
    def _db(cls, v):
        if v is None:
            return v
        if "://" in v and not v.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"{v!r}: give a file path (SQLite) or a postgresql://user:password@host:port/dbname URL")
        return v

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
    if spec.verify is not None:  # the expensive level must treat the same elements
        try:
            vset = spec.verify.calculator.setting()
            if vset.hash == setting.hash:
                raise ValueError(f"verify.calculator: same calculator and parameters as [calculator] ({vset.label()}); "
                                 "name a more expensive one, e.g. name = 'gfn1-xtb', or remove [verify]")
            symbols = {e for m in models for e in m.elements} | ads_symbols | {"H", "N", "O"}
            check_elements(vset, symbols, where="verify.calculator")
        except ValueError as err:
            msg = str(err)
            raise SpecError(f"invalid spec {source}:\n  {'verify.' if msg.startswith('calculator.') else ''}{msg}") from None
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
