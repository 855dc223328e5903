"""Free-energy corrections: G = E + ZPE - T*S (+ integral of Cp dT).

Three sources, and every corrected number records which one it used (``Correction.method``):

- ``table``: a JSON table of ZPE, T*S and Cp terms with the source of each entry
  (``data/free_energy_corrections.json`` by default, or a file of the same schema);
- ``computed``: harmonic vibrations of the adsorbate atoms on the relaxed structure (slab atoms
  fixed; ``ase.vibrations`` finite differences, ``ase.thermochemistry.HarmonicThermo``) and
  ideal-gas thermochemistry for the gas molecules (``IdealGasThermo``), with the screen's calculator;
- ``none``: electronic energies only (stated in every output).

Computed vibrations run as jobs of kind ``vib`` through the engine, so a screen resumes them
instead of recomputing: workflows/vibrations.py makes the jobs, tasks/vib.py is the worker side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.units import invcm, kJ, mol

__all__ = [
    "Correction", "CorrectionTable", "NO_CORRECTION", "load_table", "harmonic_correction", "ideal_gas_correction",
    "correction_from_vib_row", "GAS_THERMO", "DEFAULT_TABLE",
    "LOW_FREQUENCY_FLOOR_CM", "VIB_DELTA", "free_energy_potentials", "formation_free_energy_eV",
]

DEFAULT_TABLE = Path(__file__).parent / "data" / "free_energy_corrections.json"

# Quasi-harmonic treatment: real modes below 100 cm-1 are raised to 100 cm-1 before the
# entropy is evaluated (Ribeiro, Marenich, Cramer, Truhlar, J. Phys. Chem. B 115, 14556 (2011)),
# so that soft frustrated translations/rotations of adsorbates do not dominate T*S.
LOW_FREQUENCY_FLOOR_CM = 100.0
VIB_DELTA = 0.01  # A, finite-difference displacement (ase.vibrations default)
VIB_NFREE = 2

# Ideal-gas parameters: geometry, rotational symmetry number (point group: H2 D_inf_h -> 2,
# H2O C2v -> 2, NH3 C3v -> 3, NO C_inf_v -> 1, HNO3 Cs -> 1, N2 D_inf_h -> 2, N2O (N-N-O) C_inf_v -> 1),
# spin S, and pressure.  Water is
# taken as a gas at 0.035 bar (3534 Pa), its vapour pressure at 298 K, so that its free energy
# equals that of liquid water (Norskov et al., J. Phys. Chem. B 108, 17886 (2004)).
GAS_THERMO: dict[str, dict[str, Any]] = {
    "H2": {"geometry": "linear", "symmetrynumber": 2, "spin": 0.0, "pressure": 101325.0},
    "H2O": {"geometry": "nonlinear", "symmetrynumber": 2, "spin": 0.0, "pressure": 3534.0},
    "NH3": {"geometry": "nonlinear", "symmetrynumber": 3, "spin": 0.0, "pressure": 101325.0},
    "NO": {"geometry": "linear", "symmetrynumber": 1, "spin": 0.5, "pressure": 101325.0},
    "HNO3": {"geometry": "nonlinear", "symmetrynumber": 1, "spin": 0.0, "pressure": 101325.0},
    "N2": {"geometry": "linear", "symmetrynumber": 2, "spin": 0.0, "pressure": 101325.0},
    "N2O": {"geometry": "linear", "symmetrynumber": 1, "spin": 0.0, "pressure": 101325.0},
}


@dataclass(frozen=True)
class Correction:
    """G - E of one species at temperature ``temperature`` (eV), with where it came from."""

    zpe: float
    ts: float
    cp: float
    method: str  # 'table' | 'harmonic' | 'ideal-gas' | 'none'
    source: str
    temperature: float = 298.15
    n_imaginary: int = 0  # imaginary modes dropped (harmonic/ideal-gas)
    n_raised: int = 0  # real modes raised to LOW_FREQUENCY_FLOOR_CM

    @property
    def dg(self) -> float:
        return self.zpe - self.ts + self.cp

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dG"] = self.dg
        return d


NO_CORRECTION = Correction(0.0, 0.0, 0.0, "none", "electronic energies only (no ZPE, entropy or heat capacity)")


@dataclass
class CorrectionTable:
    path: Path
    temperature: float
    entries: dict[str, Correction]
    formation: dict[str, float] = field(default_factory=dict)  # kJ/mol
    formation_sources: dict[str, str] = field(default_factory=dict)

    def get(self, species: str) -> Correction | None:
        return self.entries.get(species)


def load_table(path: str | Path | None = None) -> CorrectionTable:
    """Read a corrections table; every entry must carry zpe, ts and a source."""
    path = Path(path) if path else DEFAULT_TABLE
    if not path.is_file():
        raise ValueError(f"corrections table {str(path)!r} not found; give a JSON file like {DEFAULT_TABLE.name}")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"corrections table {path}: not valid JSON ({err})") from None
    temperature = float(raw.get("temperature_K", 298.15))
    entries = {}
    for name, e in (raw.get("entries") or {}).items():
        missing = [k for k in ("zpe", "ts", "source") if k not in e]
        if missing:
            raise ValueError(f"corrections table {path}: entry {name!r} lacks {missing} (each entry needs zpe, ts "
                             "and the source of the numbers)")
        entries[name] = Correction(float(e["zpe"]), float(e["ts"]), float(e.get("cp", 0.0)), "table",
                                   f"{path.name}: {e['source']}", temperature)
    formation, fsources = {}, {}
    for name, e in (raw.get("formation_free_energies_kJ_per_mol") or {}).items():
        formation[name] = float(e["value"])
        fsources[name] = e.get("source", "")
    if not formation and path != DEFAULT_TABLE:  # user tables may omit them: take the package's
        base = load_table(DEFAULT_TABLE)
        formation, fsources = base.formation, base.formation_sources
    return CorrectionTable(path, temperature, entries, formation, fsources)


def formation_free_energy_eV(name: str, table: CorrectionTable | None = None) -> tuple[float, str]:
    """Experimental standard formation free energy (eV per formula unit) and its source."""
    table = table or load_table()
    if name not in table.formation:
        raise KeyError(f"no formation free energy for {name!r} in {table.path}")
    return table.formation[name] * kJ / mol, table.formation_sources.get(name, "")


def _split_modes(vib_energies, floor_cm: float) -> tuple[np.ndarray, int, int]:
    """Real mode energies (eV) with soft modes raised to the floor; counts of dropped/raised."""
    e = np.asarray(vib_energies, dtype=complex)
    imag = np.abs(e.imag) > 1e-9
    real = e.real[~imag]
    real = real[real > 1e-9]
    n_imag = int(imag.sum()) + int((~imag).sum() - real.size)
    floor = floor_cm * invcm
    n_raised = int((real < floor).sum())
    return np.maximum(real, floor), n_imag, n_raised


def harmonic_correction(vib_energies, temperature: float = 298.15, floor_cm: float = LOW_FREQUENCY_FLOOR_CM,
                        source: str = "") -> Correction:
    """Adsorbate ZPE, T*S and integral Cv dT in the harmonic limit (all modes vibrational)."""
    from ase.thermochemistry import HarmonicThermo

    real, n_imag, n_raised = _split_modes(vib_energies, floor_cm)
    thermo = HarmonicThermo(vib_energies=real, potentialenergy=0.0)
    zpe = float(thermo.get_ZPE_correction())
    u = float(thermo.get_internal_energy(temperature, verbose=False))
    ts = float(temperature * thermo.get_entropy(temperature, verbose=False))
    note = (f"harmonic (ase HarmonicThermo), {real.size} modes, modes < {floor_cm:g} cm-1 raised to {floor_cm:g} cm-1"
            f" ({n_raised}), {n_imag} imaginary/zero dropped")
    return Correction(zpe, ts, u - zpe, "harmonic", f"{note}; {source}".rstrip("; "), temperature, n_imag, n_raised)


def ideal_gas_correction(vib_energies, atoms: Atoms, molecule: str, temperature: float = 298.15,
                         source: str = "") -> Correction:
    """Gas ZPE, T*S and integral Cp dT (ideal gas, rigid rotor, harmonic oscillator)."""
    from ase.thermochemistry import IdealGasThermo

    if molecule not in GAS_THERMO:
        raise KeyError(f"no ideal-gas parameters for {molecule!r}; known: {sorted(GAS_THERMO)}")
    p = GAS_THERMO[molecule]
    e = np.asarray(vib_energies, dtype=complex)
    n_modes = 3 * len(atoms) - (5 if p["geometry"] == "linear" else 6)
    real = np.sort(np.abs(e.real[np.abs(e.imag) < 1e-9]))[::-1][:n_modes]
    n_imag = n_modes - int((real > 1e-9).sum())
    thermo = IdealGasThermo(vib_energies=real, geometry=p["geometry"], potentialenergy=0.0, atoms=atoms,
                            symmetrynumber=p["symmetrynumber"], spin=p["spin"], vib_selection="exact"
                            if real.size == n_modes else "highest", ignore_imag_modes=True)
    zpe = float(thermo.get_ZPE_correction())
    h = float(thermo.get_enthalpy(temperature, verbose=False))
    ts = float(temperature * thermo.get_entropy(temperature, p["pressure"], verbose=False))
    note = (f"ideal gas (ase IdealGasThermo), {p['geometry']}, symmetry number {p['symmetrynumber']}, spin "
            f"{p['spin']}, {p['pressure']:g} Pa")
    return Correction(zpe, ts, h - zpe, "ideal-gas", f"{note}; {source}".rstrip("; "), temperature, n_imag, 0)


def free_energy_potentials(corr: dict[str, Correction]) -> dict[str, float]:
    """Corrections of the atomic references mu_H, mu_O, mu_N (convention.py) from the gas ones."""
    missing = [k for k in ("H2", "H2O", "NH3") if k not in corr]
    if missing:
        raise KeyError(f"free-energy corrections missing for gas references {missing}")
    return {
        "H": 0.5 * corr["H2"].dg,
        "O": corr["H2O"].dg - corr["H2"].dg,
        "N": corr["NH3"].dg - 1.5 * corr["H2"].dg,
    }


def _row_energies(row) -> np.ndarray:
    return np.array(row.data["vib_energies_real"]) + 1j * np.array(row.data["vib_energies_imag"])


def correction_from_vib_row(row, temperature: float, gas: str | None = None) -> Correction:
    """Correction from a stored ``vib`` row (harmonic for adsorbates, ideal gas for ``gas``)."""
    src = f"vib job {row.get('job_id')} ({row.get('calc')}, displacement {row.data.get('vib_delta')} A)"
    if gas:
        return ideal_gas_correction(_row_energies(row), row.toatoms(), gas, temperature, src)
    return harmonic_correction(_row_energies(row), temperature, source=src)
