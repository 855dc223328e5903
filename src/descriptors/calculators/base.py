"""Calculator registry: a calculator is a named, versioned, hashable setting.

``CalculatorSetting`` is what a spec, a job and a stored row carry; ``make_calculator`` turns
it into an ASE calculator only when a job actually runs.  Everything that changes the numbers
(name, version of the code, parameters) enters the hash, so a result computed with other
settings is never mistaken for this one.  Machine-specific parameters (a program's command, a
pseudopotential directory, a scratch directory) do not change the numbers and stay out of the
identity, so the same screen run on a laptop and on a cluster shares its job ids.

A backend is one module of this folder that calls :func:`register` with a
:class:`CalculatorInfo` (name, fidelity, elements, parameters, install line, factory); the
package imports every module of the folder, so adding a calculator is adding one file.
Whether a backend is installed is checked when a calculator is made (:func:`make_calculator`)
or a spec is validated (:meth:`CalculatorSetting.check_available`), never when a setting is
built: a stored setting can be rebuilt anywhere.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ase.data import atomic_numbers, chemical_symbols

from descriptors.identity import settings_digest

__all__ = [
    "CalculatorSetting", "CalculatorInfo", "REGISTRY", "register", "make_calculator", "calculator_info",
    "check_elements", "UnsupportedElementsError", "CalculatorUnavailableError", "compact_elements",
    "describe_calculators", "has_module", "missing_module", "workdir", "choice", "positive", "kpts_param",
    "spin_param",
]


class UnsupportedElementsError(ValueError):
    """The chosen calculator has no parameters for some requested element."""


class CalculatorUnavailableError(ValueError):
    """The calculator's package, program or data is not installed on this machine."""


@functools.lru_cache(maxsize=None)
def _version(dist: str) -> str:
    """Installed version of a distribution (cached: read once per process, not once per job)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_module(module: str, install: str) -> Callable[[], str | None]:
    """An availability check: None if ``module`` imports here, else what to install."""
    def check() -> str | None:
        return None if has_module(module) else f"python package {module!r} not installed; {install}"

    return check


@dataclass(frozen=True)
class CalculatorInfo:
    """What the registry knows about one calculator name."""

    name: str
    description: str
    elements: frozenset[str] | Callable[[dict[str, Any]], frozenset[str]]
    defaults: dict[str, Any]
    allowed: frozenset[str]
    package: str
    factory: Callable[[dict[str, Any], Any], Any]  # (params, atoms or None) -> ASE calculator
    fidelity: str  # 'test-only', 'semi-empirical', 'ml', 'dft'
    note: str = ""
    gamma_only: bool = False  # no k-points: bulk needs a supercell instead
    install: str = ""  # how to install what is missing
    local: frozenset[str] = frozenset()  # machine-specific params: recorded, not part of the identity
    validate: Callable[[dict[str, Any]], None] | None = None  # raises ValueError naming the param
    missing: Callable[[], str | None] | None = None  # None if usable here, else what is missing
    required: bool = False  # a missing backend is an error when a spec is validated (python packages)
    dos: bool = False  # gives a projected density of states (d-band centre)
    # the fix printed when a spec asks for elements this calculator does not treat
    elements_fix: str = "drop those elements or set calculator.name to 'gfn1-xtb' or 'gfn2-xtb'"
    elements_text: str | None = None  # `no3rr calculators` text when the element set depends on params

    def version(self) -> str:
        return _version(self.package)

    def availability(self) -> str | None:
        """None if usable on this machine, else what is missing (and the install line)."""
        return self.missing() if self.missing else None

    def supported_elements(self, params: dict[str, Any] | None = None) -> frozenset[str]:
        if callable(self.elements):
            merged = dict(self.defaults)
            merged.update(params or {})
            return self.elements(merged)
        return self.elements


REGISTRY: dict[str, CalculatorInfo] = {}


FIDELITY_ORDER = ("test-only", "semi-empirical", "ml", "dft")  # the ladder, cheapest first


def register(*infos: CalculatorInfo) -> None:
    """Add calculators to the registry (called by each backend module when it is imported).
    The registry stays ordered along the fidelity ladder, cheapest first."""
    for info in infos:
        if info.fidelity not in FIDELITY_ORDER:
            raise ValueError(f"calculator {info.name!r}: fidelity {info.fidelity!r} not in {FIDELITY_ORDER}")
        REGISTRY[info.name] = info
    ordered = sorted(REGISTRY.values(), key=lambda i: FIDELITY_ORDER.index(i.fidelity))
    REGISTRY.clear()
    REGISTRY.update((i.name, i) for i in ordered)


def calculator_info(name: str) -> CalculatorInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"calculator.name: unknown calculator {name!r}; choose one of {sorted(REGISTRY)}"
        ) from None


@dataclass(frozen=True)
class CalculatorSetting:
    """A named calculator with its parameters and code version: what produced a number.

    ``version`` defaults to the installed version of the backend's package; a setting read back
    from a store passes the stored version, so it is rebuilt exactly even where the backend is
    not installed.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    version: str = ""

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
        if info.validate:
            info.validate(merged)
        object.__setattr__(self, "params", merged)
        if not self.version:
            object.__setattr__(self, "version", info.version())

    @property
    def info(self) -> CalculatorInfo:
        return calculator_info(self.name)

    @property
    def elements(self) -> frozenset[str]:
        return self.info.supported_elements(self.params)

    def check_available(self) -> None:
        """Raise ``CalculatorUnavailableError`` (with the install line) if a Python backend is missing."""
        info = self.info
        if info.required:
            why = info.availability()
            if why:
                raise CalculatorUnavailableError(f"calculator.name: {self.name!r} is not usable here: {why}")

    def identity_params(self) -> dict[str, Any]:
        """Parameters that change the numbers (machine-specific ones left out)."""
        return {k: v for k, v in sorted(self.params.items()) if k not in self.info.local}

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "params": self.identity_params()}

    @property
    def hash(self) -> str:
        return settings_digest(self.as_dict())  # stored as calc_hash and looked up

    @property
    def fidelity(self) -> str:
        return self.info.fidelity

    def label(self) -> str:
        p = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name} {self.version}" + (f" ({p})" if p else "")

    def __hash__(self) -> int:  # dict params are not hashable by default
        return hash(self.hash)


def compact_elements(elements) -> str:
    """'H-Bi, Ac-Pu (89)': runs of consecutive atomic numbers as symbol ranges."""
    zs = sorted(atomic_numbers[e] for e in elements)
    if not zs:
        return "none"
    runs, start, prev = [], zs[0], zs[0]
    for z in zs[1:] + [None]:
        if z is not None and z == prev + 1:
            prev = z
            continue
        a, b = chemical_symbols[start], chemical_symbols[prev]
        runs += [a] if start == prev else ([a, b] if prev == start + 1 else [f"{a}-{b}"])
        if z is not None:
            start = prev = z
    return f"{', '.join(runs)} ({len(zs)})"


def check_elements(setting: CalculatorSetting, symbols, where: str = "catalysts") -> None:
    """Raise before any work if the calculator cannot treat some element."""
    supported = setting.elements
    missing = sorted(set(symbols) - set(supported))
    if missing:
        hint = (f"{setting.name!r} only treats {', '.join(sorted(supported, key=lambda s: atomic_numbers[s]))}"
                if len(supported) < 30 else f"{setting.name!r} treats {compact_elements(supported)}")
        raise UnsupportedElementsError(
            f"{where}: element(s) {', '.join(missing)} not supported by calculator {setting.name!r}; "
            f"{hint}. Fix: {setting.info.elements_fix}."
        )


def make_calculator(setting: CalculatorSetting, atoms=None):
    """Build the ASE calculator for ``setting``.  Called only inside a running job.

    ``atoms`` (the working copy the calculator will be attached to) lets the k-point codes
    derive their mesh from the cell (1 along vacuum, Gamma for molecules) and set initial
    magnetic moments on it where spin polarisation is needed.
    """
    info = setting.info
    if info.required:
        why = info.availability()
        if why:
            raise CalculatorUnavailableError(f"calculator {setting.name!r} is not usable here: {why}")
    return info.factory(dict(setting.params), atoms)


def describe_calculators() -> list[dict[str, Any]]:
    """Every registered calculator: fidelity, whether it is usable here (or what to install),
    version, the elements it treats with its default parameters, and its parameters."""
    out = []
    for info in REGISTRY.values():
        why = info.availability()
        try:
            elements = info.supported_elements()
            el_text = compact_elements(elements)
        except Exception as err:  # e.g. a setup directory that cannot be read
            elements, el_text = frozenset(), f"unknown ({err})"
        out.append({
            "name": info.name,
            "fidelity": info.fidelity,
            "usable": why is None,
            "missing": why,
            "install": info.install,
            "version": info.version(),
            "description": info.description,
            "elements": sorted(elements, key=lambda s: atomic_numbers[s]),
            "elements_text": info.elements_text or el_text,
            "defaults": dict(info.defaults),
            "params": sorted(info.allowed),
            "note": info.note,
        })
    return out


# -- parameter checks shared by the backends -------------------------------------------------

def workdir(params: dict[str, Any], prefix: str) -> str:
    """A fresh directory per calculation so parallel jobs never share input/output files."""
    base = Path(params.get("workdir") or os.environ.get("NO3RR_SCRATCH") or "no3rr-scratch")
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"calculator.params.{name}: {value!r} not understood; choose one of {list(choices)}")


def positive(params: dict[str, Any], *names: str) -> None:
    for n in names:
        v = params.get(n)
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            raise ValueError(f"calculator.params.{n}: must be a positive number, got {v!r}")


def kpts_param(params: dict[str, Any]) -> None:
    k = params.get("kpts")
    if k is not None and not (isinstance(k, (list, tuple)) and len(k) == 3
                              and all(isinstance(x, int) and x >= 1 for x in k)):
        raise ValueError(f"calculator.params.kpts: give three positive integers, e.g. [4, 4, 1]; got {k!r}")


def spin_param(params: dict[str, Any]) -> None:
    choice("spinpol", params.get("spinpol", "auto"), ("auto", True, False))
