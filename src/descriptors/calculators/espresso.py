"""Quantum ESPRESSO pw.x through ASE: input files written here, the program run where it is installed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_numbers

from descriptors.calculators.base import (
    CalculatorInfo,
    CalculatorUnavailableError,
    UnsupportedElementsError,
    choice,
    kpts_param,
    positive,
    register,
    spin_param,
    workdir,
)
from descriptors.calculators.kpoints import is_molecule, kpts_for, vacuum_directions
from descriptors.calculators.spin import prepare_spin

ESPRESSO_INSTALL = ("apt-get install quantum-espresso (pw.x) or a cluster module; give the "
                    "pseudopotential directory as calculator.params.pseudo_dir or $ESPRESSO_PSEUDO")
def _espresso_command(params: dict[str, Any]) -> str | None:
    return params.get("command") or os.environ.get("ASE_ESPRESSO_COMMAND") or shutil.which("pw.x")


def _espresso_missing() -> str | None:
    if _espresso_command({}) is None:
        return f"pw.x not found; {ESPRESSO_INSTALL}"
    return None


def _espresso_elements(params: dict[str, Any]) -> frozenset[str]:
    return frozenset(k for k in (params.get("pseudopotentials") or {}) if k in atomic_numbers)


def _espresso_validate(p: dict[str, Any]) -> None:
    pp = p.get("pseudopotentials")
    if not isinstance(pp, dict) or not pp:
        raise ValueError("calculator.params.pseudopotentials: give one UPF file per element, e.g. "
                         "{ Cu = 'Cu.pbe-dn-kjpaw_psl.1.0.0.UPF', H = 'H.pbe-kjpaw_psl.1.0.0.UPF' }")
    bad = [k for k in pp if k not in atomic_numbers or k == "X"]
    if bad:
        raise ValueError(f"calculator.params.pseudopotentials: {bad} are not element symbols")
    choice("xc", p["xc"], ("rpbe", "pbe"))
    positive(p, "ecutwfc", "ecutrho", "kpt_density", "degauss", "conv_thr")
    kpts_param(p)
    spin_param(p)


def _dipole_window(atoms) -> tuple[float, float]:
    """(emaxpos, eopreg) of pw.x's sawtooth dipole correction: the sawtooth turns over inside the
    vacuum, centred between the top and the periodic image of the bottom of the slab."""
    z = np.sort(atoms.get_scaled_positions(wrap=True)[:, 2])
    gaps = np.diff(np.concatenate([z, [z[0] + 1.0]]))
    i = int(np.argmax(gaps))
    centre = (z[i] + gaps[i] / 2.0) % 1.0
    eopreg = min(0.1, 0.5 * gaps[i])
    return float((centre - eopreg / 2.0) % 1.0), float(eopreg)


def _espresso_factory(params: dict[str, Any], atoms=None):
    from ase.calculators.espresso import Espresso, EspressoProfile

    p = dict(params)
    pseudo_dir = p.get("pseudo_dir") or os.environ.get("ESPRESSO_PSEUDO")
    if not pseudo_dir:
        raise CalculatorUnavailableError(
            "calculator.params.pseudo_dir: no pseudopotential directory; set it in the spec or "
            "export ESPRESSO_PSEUDO=/path/to/upf")
    pseudos = dict(p["pseudopotentials"])
    if atoms is not None:
        missing = sorted(set(atoms.get_chemical_symbols()) - set(pseudos))
        if missing:
            raise UnsupportedElementsError(
                f"calculator.params.pseudopotentials: no pseudopotential for {missing}")
        for el in set(atoms.get_chemical_symbols()):
            f = Path(pseudo_dir) / pseudos[el]
            if not f.is_file():
                raise CalculatorUnavailableError(f"pseudopotential {f} not found (calculator.params.pseudo_dir)")
    molecule = is_molecule(atoms)
    system: dict[str, Any] = {
        "ecutwfc": float(p["ecutwfc"]),  # Ry
        "ecutrho": float(p["ecutrho"]),  # Ry; 8-12 x ecutwfc for ultrasoft/PAW
        "occupations": "smearing",
        # Marzari-Vanderbilt cold smearing (PRL 82, 3296 (1999)), the usual choice for metals
        "smearing": "mv",
        "degauss": 0.001 if molecule else float(p["degauss"]),  # Ry
        "input_dft": p["xc"],
    }
    if prepare_spin(atoms, p["spinpol"]):
        system["nspin"] = 2  # ASE turns the atoms' initial moments into starting_magnetization
    vac = vacuum_directions(atoms) if atoms is not None else [False, False, False]
    if atoms is not None and not molecule and vac[2]:
        # slab with vacuum along z: sawtooth dipole correction (Bengtsson, PRB 59, 12301 (1999))
        emaxpos, eopreg = _dipole_window(atoms)
        system.update({"edir": 3, "emaxpos": emaxpos, "eopreg": eopreg, "eamp": 0.0})
        control_dipole = {"tefield": True, "dipfield": True}
    else:
        control_dipole = {}
    input_data = {
        "control": {"calculation": "scf", "tprnfor": True, "disk_io": "low", **control_dipole},
        "system": system,
        "electrons": {"conv_thr": float(p["conv_thr"]), "mixing_beta": float(p["mixing_beta"])},
    }
    command = _espresso_command(p) or "pw.x"
    profile = EspressoProfile(command=command, pseudo_dir=str(pseudo_dir))
    return Espresso(profile=profile, input_data=input_data, pseudopotentials=pseudos,
                    kpts=kpts_for(p, atoms), directory=workdir(p, "espresso-"))


_ESPRESSO_DEFAULTS = {
    "xc": "rpbe",  # input_dft; Hammer, Hansen, Norskov, PRB 59, 7413 (1999)
    "ecutwfc": 40.0,  # Ry, typical for SSSP-efficiency / pslibrary PAW sets
    "ecutrho": 320.0,  # Ry
    "degauss": 0.01,  # Ry (0.136 eV)
    "conv_thr": 1e-6,  # Ry
    "mixing_beta": 0.3,  # slabs with vacuum need damped mixing
    "kpt_density": 4.0,
    "spinpol": "auto",
    "pseudopotentials": {},
}



register(CalculatorInfo(
    name="espresso",
    description="Quantum ESPRESSO pw.x (through ASE)",
    elements=_espresso_elements,
    defaults=dict(_ESPRESSO_DEFAULTS),
    allowed=frozenset(_ESPRESSO_DEFAULTS) | {"kpts", "pseudo_dir", "command", "workdir"},
    package="ase",
    factory=_espresso_factory,
    fidelity="dft",
    note="DFT; elements are those given in calculator.params.pseudopotentials.",
    install=ESPRESSO_INSTALL,
    local=frozenset({"pseudo_dir", "command", "workdir"}),
    validate=_espresso_validate,
    elements_fix="add a UPF file for each to calculator.params.pseudopotentials",
    elements_text="those given in calculator.params.pseudopotentials",
    missing=_espresso_missing,
))
