"""The ``[analysis]`` table, and the settings of every analysis run (``no3rr analyze`` too).

Free energies, limiting potentials, scaling relations and volcanoes after the screen
(analysis/).  One model, ``AnalysisSettings``, serves both the spec table and the analysis
itself; it is built from keywords like a dataclass, ``AnalysisSettings(potential=0.1, pH=14)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from descriptors.geometry.adsorbates import ADSORBATES
from descriptors.specs.base import StrictModel

__all__ = ["AnalysisSettings", "AnalysisSpec", "SPECIES", "FINAL_STATE", "CORRECTION_MODES", "LEVELS",
           "species_name"]

SPECIES = tuple(f"*{n}" for n in ADSORBATES)  # the package's intermediates, '*'-prefixed
FINAL_STATE = "NH3(g)"  # the final state of the network (analysis.network.FINAL)
CORRECTION_MODES = ("computed", "table", "none")
LEVELS = ("screen", "verify")
_ALIASES = {"*NHO": "*HNO", "*NO3-": "*NO3", "*HNO3": "*NO3H", "*HNO2": "*NO2H"}


def species_name(name: str, where: str) -> str:
    """The canonical spelling of a species ('NO3' -> '*NO3', '*NHO' -> '*HNO'; 'NH3(g)' as is);
    ValueError naming ``where`` and the known species otherwise."""
    s = str(name).strip()
    if s == FINAL_STATE:
        return s
    key = s if s.startswith("*") else "*" + s
    key = _ALIASES.get(key, key)
    if key not in SPECIES:
        raise ValueError(f"{where}: unknown species {name!r}; use one of {', '.join(SPECIES)}")
    return key


class AnalysisSettings(StrictModel):
    """Free energies, limiting potentials, scaling relations and volcanoes after the screen (analysis/)."""

    potential: float = Field(0.0, ge=-5.0, le=5.0, description="V vs RHE for the dG(U) columns")
    pH: float = Field(0.0, ge=-2.0, le=16.0)
    temperature: float = Field(298.15, gt=0.0, le=2000.0, description="K")
    corrections: str = Field("computed", description="computed | table | none | path to a corrections JSON table")
    nitrate_reference: Literal["equilibrium", "hno3"] = "equilibrium"
    equilibrium_potential: float | None = Field(None, ge=-2.0, le=3.0, description="V vs RHE at pH 0 (override)")
    descriptors: tuple[str, ...] = Field(("*N", "*NO3"), description="each gives a 1D volcano; two give the 2D one too")
    use_flagged: bool = Field(False, description="also use sites flagged by the geometry checks (marked in outputs)")
    confidence: float = Field(0.95, gt=0.0, lt=1.0, description="of the scaling relations' intervals")
    level: Literal["screen", "verify"] = Field("screen", description="db input: the screen's energies or its [verify] level's")
    network: str = Field("NO3RR", description="reaction network to analyse (a [networks.<name>] of the network file)")
    network_file: str | None = Field(None, description="TOML network file (format: analysis/data/networks.toml); "
                                                       "None: the package's")
    svg: bool = Field(False, description="also write every figure as SVG (PNG always; the report embeds the PNGs)")

    @field_validator("network_file")
    @classmethod
    def _netfile(cls, v):
        if v is None:
            return v
        import tomllib

        p = Path(v)
        if not p.is_file():
            raise ValueError(f"network_file {v!r}: no such file; give a TOML network file like the package's "
                             "src/descriptors/analysis/data/networks.toml")
        try:
            raw = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"network_file {v!r}: not valid TOML ({err})") from None
        if not raw.get("networks"):
            raise ValueError(f"network_file {v!r}: no [networks.<name>] table")
        return str(p)

    @field_validator("corrections")
    @classmethod
    def _corr(cls, v):
        if v not in CORRECTION_MODES and not Path(v).is_file():
            raise ValueError(f"{v!r}: use 'computed', 'table', 'none' or the path of a corrections JSON table "
                             "(schema: src/descriptors/analysis/data/free_energy_corrections.json)")
        return v

    @field_validator("descriptors")
    @classmethod
    def _desc(cls, v):
        if not 1 <= len(v) <= 2:
            raise ValueError("descriptors: give one or two species, e.g. ['*N'] or ['*N', '*NO3']")
        return tuple(species_name(d, "descriptors") for d in v)

    @property
    def correction_mode(self) -> str:
        return self.corrections if self.corrections in CORRECTION_MODES else "table"

    def as_dict(self) -> dict[str, Any]:
        return {"potential_V_RHE": self.potential, "pH": self.pH, "temperature_K": self.temperature,
                "corrections": self.corrections, "nitrate_reference": self.nitrate_reference,
                "equilibrium_potential": self.equilibrium_potential, "descriptors": list(self.descriptors),
                "use_flagged": self.use_flagged, "level": self.level, "network": self.network,
                "network_file": self.network_file, "svg": self.svg}

    def settings(self) -> AnalysisSettings:
        """The settings of this table: the table itself (kept for callers of ``AnalysisSpec``)."""
        return self


AnalysisSpec = AnalysisSettings
