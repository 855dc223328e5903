"""The screening spec: a TOML file validated before any calculation.

Unknown keys, unknown elements or adsorbates, and a calculator that cannot treat the requested
elements (or is not installed here) are errors that name the field and the fix (``SpecError``,
exit code 2 on the CLI).  The ``[[catalysts]]`` blocks are the registered catalyst types of
descriptors.structures, one pydantic model each, told apart by their ``type`` key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError, field_validator

from descriptors.calculators import (
    CalculatorSetting,
    UnsupportedElementsError,
    check_elements,
)
from descriptors.geometry.adsorbates import ADSORBATES, get_adsorbate
from descriptors.specs.analysis import AnalysisSettings
from descriptors.specs.base import SpecError, StrictModel
from descriptors.specs.calculator import CalculatorSpec
from descriptors.specs.execution import EngineSpec, ExecutionSpec
from descriptors.specs.finetune import FINETUNE_BACKENDS, FinetuneSpec
from descriptors.specs.placement import PlacementSpec
from descriptors.specs.relax import RelaxSpec
from descriptors.specs.verify import VerifySpec
from descriptors.structures import CATALYST_TYPES, expand_catalysts

__all__ = ["Spec", "Catalysts", "load_spec", "parse_spec", "finetune_split"]

#: One ``[[catalysts]]`` block: the union of the registered types' block models, on ``type``.
Catalysts = Annotated[Union[tuple(t.spec for t in CATALYST_TYPES.values())], Field(discriminator="type")]


class Spec(StrictModel):
    name: str
    description: str = ""
    output: str = "results/screen"
    catalysts: list[Catalysts] = Field(min_length=1)
    adsorbates: Literal["all"] | list[str]  # required: "all" is said, not assumed
    calculator: CalculatorSpec  # required: no silent default calculator
    relax: RelaxSpec = Field(default_factory=RelaxSpec)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)
    engine: EngineSpec = Field(default_factory=EngineSpec)
    verify: VerifySpec | None = None
    gas_box: float = Field(12.0, ge=5.0, le=40.0, description="edge of the cubic box (A) the gas references are "
                           "computed in: the vacuum around each molecule is this minus its size; smaller is cheaper "
                           "for plane-wave DFT, and a box other than 12 A gives the gas references new job ids")
    finetune: FinetuneSpec | None = None  # `no3rr finetune`: fine-tune the cheap ML level on [verify]
    db: str | None = Field(None, description="result database: a path (SQLite) or postgresql://user:pw@host/db")
    analysis: AnalysisSettings | None = None  # run the analysis at the end of the screen

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
        # refused, not de-duplicated: a name typed twice is often a different one mistyped
        dup = sorted({n for n in v if v.count(n) > 1})
        if dup:
            raise ValueError(f"listed twice: {', '.join(map(repr, dup))}; remove the duplicates")
        for name in v:
            try:
                get_adsorbate(name)
            except ValueError:
                raise ValueError(f"unknown adsorbate {name!r}; known: {', '.join(ADSORBATES)}") from None
        return v

    def adsorbate_names(self) -> list[str]:
        if self.adsorbates == "all":
            return list(ADSORBATES)
        names = [get_adsorbate(n).name for n in self.adsorbates]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:  # two spellings of one adsorbate (e.g. 'NO3' and '*NO3')
            raise ValueError(f"adsorbates: {', '.join(dup)} listed twice under different names; remove one")
        return names


def _model_atoms(model) -> int | None:
    """Atoms of a catalyst model before adsorbates, without building a large one: a slab has at least
    one atom per layer and surface cell (size x size x layers); other models are built (they are small)."""
    r = model.recipe
    if "size" in r and "layers" in r:
        return int(r["size"][0]) * int(r["size"][1]) * int(r["layers"])
    try:
        return len(model.build())
    except Exception:
        return None


def _check_size(spec: "Spec", models) -> None:
    limit = spec.execution.max_atoms
    for m in models:
        n = _model_atoms(m)
        if n is not None and n > limit:
            how = (f" (size {r['size'][0]}x{r['size'][1]} x {r['layers']} layers)" if "size" in (r := m.recipe) else "")
            raise ValueError(f"catalysts[{m.block}]: {m.name} would have at least {n} atoms{how}; the limit is "
                             f"execution.max_atoms = {limit}: make the model smaller, or raise max_atoms")


_REQUIRED = {
    "adsorbates": "required: list them, e.g. adsorbates = ['NO3', 'NO', 'N', 'H'], or write adsorbates = 'all'",
    "calculator": "required: add a [calculator] table, e.g. name = 'gfn1-xtb' (or 'emt', test-only)",
}


def _format_validation(err: ValidationError, source: str) -> str:
    tags = sorted(CATALYST_TYPES)
    import re

    lines = [f"invalid spec {source}:"]
    union_tag = re.compile(r"^(literal\[.*\]|constrained-\w+|float|int|str|bool|(list|tuple)\[.*\])$")
    errors = err.errors()
    # a union (e.g. 'relaxed' | 'experimental' | a number > 0): report the branch the value was meant for
    numeric_locs = {tuple(e["loc"][:-1]) for e in errors if e["loc"] and str(e["loc"][-1]).startswith("constrained")}
    for e in errors:
        if e["loc"] and str(e["loc"][-1]).startswith("literal[") and tuple(e["loc"][:-1]) in numeric_locs:
            continue
        loc = ".".join(str(x) for x in e["loc"] if not (isinstance(x, str) and (x in CATALYST_TYPES
                                                                               or union_tag.match(x))))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling against the README's spec format"
        elif e["type"] == "missing" and loc in _REQUIRED:
            msg = _REQUIRED[loc]
        elif e["type"] == "finite_number":
            msg = "must be a finite number (nan and inf are not values)"
        elif e["type"] == "union_tag_invalid":
            msg = f"unknown catalyst type; use one of {tags}"
        elif e["type"] == "union_tag_not_found":
            msg = f"each catalyst needs a 'type' key, one of {tags}"
        lines.append(f"  {loc or '<top level>'}: {msg.removeprefix('Value error, ')}")
    return "\n".join(lines)


def _check_verify(spec: Spec, setting: CalculatorSetting, symbols: set[str]) -> None:
    """The expensive level: usable here, not the cheap one again, and able to treat every element."""
    vset = spec.verify.calculator.checked_setting()
    if vset.hash == setting.hash:
        raise ValueError(f"verify.calculator: same calculator and parameters as [calculator] ({vset.label()}); "
                         "name a more expensive one, e.g. name = 'gfn1-xtb', or remove [verify]")
    check_elements(vset, symbols, where="verify.calculator")


def finetune_split(spec: Spec, names: list[str]) -> tuple[list[str], list[str]]:
    """(training catalysts, remaining catalysts) of ``[finetune]``: its ``train`` list, or every
    ``1/train_fraction``-th catalyst by sorted name."""
    ft = spec.finetune
    names = sorted(dict.fromkeys(names))
    if ft.train is not None:
        train = sorted(ft.train)
    else:
        n = max(2, min(len(names) - 1, round(ft.train_fraction * len(names))))
        step = len(names) / n
        train = sorted({names[int(i * step)] for i in range(n)})
    return train, [c for c in names if c not in train]


def _check_finetune(spec: Spec, names: list[str]) -> None:
    if spec.verify is None:
        raise ValueError("finetune: needs a [verify] table (the expensive level it learns from), e.g. "
                         "[verify] calculator = { name = 'gfn1-xtb' }")
    if spec.calculator.name not in FINETUNE_BACKENDS:
        raise ValueError(f"finetune: calculator {spec.calculator.name!r} cannot be fine-tuned; fine-tunable: "
                         f"{sorted(FINETUNE_BACKENDS)}; remove [finetune] or set calculator.name to one of them")
    if spec.finetune.freeze != "none" and spec.calculator.name != "chgnet":
        raise ValueError(f"finetune.freeze: {spec.finetune.freeze!r} names CHGNet's layers; with "
                         f"{spec.calculator.name!r} leave freeze = 'none'")
    unknown = sorted(set(spec.finetune.train or []) - set(names))
    if unknown:
        raise ValueError(f"finetune.train: {', '.join(map(repr, unknown))} not among the spec's catalysts "
                         f"({', '.join(sorted(set(names)))})")
    if len(set(names)) < 3:
        raise ValueError(f"finetune: the spec has {len(set(names))} catalyst(s); fine-tuning needs at least 3 "
                         "(two to train on, one to re-rank)")
    train, rest = finetune_split(spec, names)
    if not rest:
        raise ValueError("finetune.train: names every catalyst; leave at least one to re-rank and report on")


def parse_spec(data: dict[str, Any], source: str = "<dict>") -> Spec:
    """Validate a spec mapping; raise SpecError with every problem listed."""
    try:
        spec = Spec.model_validate(data)
    except ValidationError as err:
        raise SpecError(_format_validation(err, source)) from None
    # Cross-field checks that need the models: calculator parameters, availability, element coverage.
    try:
        setting = spec.calculator.checked_setting()
    except ValueError as err:
        raise SpecError(f"invalid spec {source}:\n  {err}") from None
    try:
        models = expand_catalysts(spec)
    except ValueError as err:
        raise SpecError(f"invalid spec {source}:\n  catalysts: {err}") from None
    try:
        _check_size(spec, models)
        spec.adsorbate_names()
    except ValueError as err:
        raise SpecError(f"invalid spec {source}:\n  {err}") from None
    ads_symbols = {s for n in spec.adsorbate_names() for s in ADSORBATES[n].formula_counts}
    try:
        for i in range(len(spec.catalysts)):
            symbols = {e for m in models if m.block == i for e in m.elements}
            check_elements(setting, symbols, where=f"catalysts[{i}]")
        check_elements(setting, ads_symbols | {"H", "N", "O"}, where="adsorbates")
    except UnsupportedElementsError as err:
        raise SpecError(f"invalid spec {source}:\n  {err}") from None
    if spec.finetune is not None:
        try:
            _check_finetune(spec, [m.name for m in models])
        except ValueError as err:
            raise SpecError(f"invalid spec {source}:\n  {err}") from None
    if spec.verify is not None:
        try:
            _check_verify(spec, setting, {e for m in models for e in m.elements} | ads_symbols | {"H", "N", "O"})
        except ValueError as err:
            msg = str(err)
            raise SpecError(f"invalid spec {source}:\n  {'verify.' if msg.startswith('calculator.') else ''}{msg}") from None
    return spec


def load_spec(path: str | Path) -> Spec:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} not found; give the path to a .toml spec, e.g. workflows/quickstart.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise SpecError(f"invalid spec {path}: not UTF-8 text (byte {err.start}: {err.reason}); save it as UTF-8") from None
    except OSError as err:
        raise SpecError(f"spec file {path}: cannot read it ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"invalid spec {path}: not valid TOML ({err})") from None
    return parse_spec(data, str(path))
