"""Calculator registry: a calculator is a named, versioned, hashable setting.

``CalculatorSetting`` is what a spec, a job and a stored row carry; ``make_calculator`` turns
it into an ASE calculator only when a job actually runs.  Everything that changes the numbers
(name, version of the code, parameters) enters the hash, so a result computed with other
settings is never mistaken for this one.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from ase.data import atomic_numbers

__all__ = [
    "CalculatorSetting",
    "CalculatorInfo",
    "REGISTRY",
    "make_calculator",
    "calculator_info",
    "check_elements",
    "UnsupportedElementsError",
]


class UnsupportedElementsError(ValueError):
    """The chosen calculator has no parameters for some requested element."""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


@dataclass(frozen=True)
class CalculatorInfo:
    """What the registry knows about one calculator name."""

    name: str
    description: str
    elements: frozenset[str]
    defaults: dict[str, Any]
    allowed: frozenset[str]
    package: str
    factory: Callable[[dict[str, Any], bool], Any]
    fidelity: str  # 'test-only', 'semi-empirical', 'ml', 'dft'
    note: str = ""
    gamma_only: bool = False  # no k-points: bulk needs a supercell instead

    def version(self) -> str:
        return _version(self.package)


# EMT as implemented in ASE (ase.calculators.emt): parameters of Jacobsen, Stoltze and Norskov,
# Surf. Sci. 366, 394 (1996) for Al, Cu, Ag, Au, Ni, Pd, Pt; H, C, N, O from ASE's own fit.
_EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"})
# GFN1-/GFN2-xTB are parametrised for Z = 1..86 (Grimme, Bannwarth, Shushkov, JCTC 13, 1989 (2017);
# Bannwarth, Ehlert, Grimme, JCTC 15, 1652 (2019)).
_XTB_ELEMENTS = frozenset(sym for sym, z in atomic_numbers.items() if 1 <= z <= 86 and sym != "X")


def _emt_factory(params: dict[str, Any], periodic: bool):
    from ase.calculators.emt import EMT

    return EMT(**params)


def _tblite_factory(method: str):
    def factory(params: dict[str, Any], periodic: bool):
        from tblite.ase import TBLite

        p = dict(params)
        return TBLite(method=method, verbosity=0, **p)

    return factory


_XTB_DEFAULTS = {
    # Fermi smearing in K; metal slabs need a raised electronic temperature to converge SCF
    # (tblite default is 300 K).
    "electronic_temperature": 300.0,
    "accuracy": 1.0,
    "max_iterations": 250,
    "mixer_damping": 0.4,
}
_XTB_ALLOWED = frozenset(_XTB_DEFAULTS) | {"charge", "multiplicity"}

REGISTRY: dict[str, CalculatorInfo] = {
    "emt": CalculatorInfo(
        name="emt",
        description="Effective medium theory (ASE)",
        elements=_EMT_ELEMENTS,
        defaults={},
        allowed=frozenset({"asap_cutoff"}),
        package="ase",
        factory=_emt_factory,
        fidelity="test-only",
        note="EMT numbers test the pipeline; they are not chemistry.",
    ),
    **{
        name: CalculatorInfo(
            name=name,
            description=f"{method} tight binding (tblite)",
            elements=_XTB_ELEMENTS,
            defaults=dict(_XTB_DEFAULTS),
            allowed=_XTB_ALLOWED,
            package="tblite",
            factory=_tblite_factory(method),
            fidelity="semi-empirical",
            note=f"{method}, Gamma point only: a pre-screening level, not DFT.",
            gamma_only=True,
        )
        for name, method in (("gfn1-xtb", "GFN1-xTB"), ("gfn2-xtb", "GFN2-xTB"))
    },
}


def calculator_info(name: str) -> CalculatorInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"calculator.name: unknown calculator {name!r}; choose one of {sorted(REGISTRY)}"
        ) from None


@dataclass(frozen=True)
class CalculatorSetting:
    """A named calculator with its parameters: what produced a number."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        info = calculator_info(self.name)
        unknown = set(self.params) - set(info.allowed)
        if unknown:
            raise ValueError(
                f"calculator.params: {sorted(unknown)} not understood by {self.name!r}; "
                f"allowed: {sorted(info.allowed)}"
            )
        merged = dict(info.defaults)
        merged.update(self.params)
        object.__setattr__(self, "params", merged)

    @property
    def info(self) -> CalculatorInfo:
        return calculator_info(self.name)

    @property
    def version(self) -> str:
        return self.info.version()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "params": dict(sorted(self.params.items()))}

    @property
    def hash(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def label(self) -> str:
        p = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name} {self.version}" + (f" ({p})" if p else "")

    def __hash__(self) -> int:  # dict params are not hashable by default
        return hash(self.hash)


def check_elements(setting: CalculatorSetting, symbols, where: str = "catalysts") -> None:
    """Raise before any work if the calculator cannot treat some element."""
    missing = sorted(set(symbols) - set(setting.info.elements))
    if missing:
        supported = sorted(setting.info.elements, key=lambda s: atomic_numbers[s])
        hint = (
            f"{setting.name!r} only treats {', '.join(supported)}"
            if len(supported) < 30
            else f"{setting.name!r} treats Z = 1..86"
        )
        raise UnsupportedElementsError(
            f"{where}: element(s) {', '.join(missing)} not supported by calculator {setting.name!r}; "
            f"{hint}. Fix: drop those elements or set calculator.name to 'gfn1-xtb' or 'gfn2-xtb'."
        )


def make_calculator(setting: CalculatorSetting, periodic: bool = True):
    """Build the ASE calculator for ``setting``.  Called only inside a running job."""
    return setting.info.factory(dict(setting.params), periodic)
