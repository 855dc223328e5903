"""VASP through ASE (licensed): the usual surface INCAR, ASE drives the ionic steps."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ase.data import atomic_numbers

from descriptors.calculators.base import (
    CalculatorInfo,
    choice,
    kpts_param,
    positive,
    register,
    spin_param,
    workdir,
)
from descriptors.calculators.kpoints import is_molecule, kpts_for, vacuum_directions
from descriptors.calculators.spin import prepare_spin

VASP_INSTALL = ("licensed program: set $ASE_VASP_COMMAND (e.g. 'mpirun vasp_std') or "
                "calculator.params.command, and $VASP_PP_PATH (folder with potpaw_PBE) or "
                "calculator.params.pp_path")


def _vasp_command(params: dict[str, Any]) -> str | None:
    for env in ("ASE_VASP_COMMAND", "VASP_COMMAND", "VASP_SCRIPT"):
        if os.environ.get(env):
            return os.environ[env]
    return params.get("command") or shutil.which("vasp_std")


def _vasp_missing() -> str | None:
    if _vasp_command({}) is None:
        return f"no VASP command; {VASP_INSTALL}"
    if not os.environ.get("VASP_PP_PATH"):
        return f"VASP_PP_PATH not set; {VASP_INSTALL}"
    return None


# VASP's PBE PAW set covers Z = 1-96 (H to Cm); without VASP_PP_PATH we cannot look on disk.
_VASP_ELEMENTS_DEFAULT = frozenset(s for s, z in atomic_numbers.items() if 1 <= z <= 96 and s != "X")


def _vasp_elements(params: dict[str, Any]) -> frozenset[str]:
    root = params.get("pp_path") or os.environ.get("VASP_PP_PATH")
    if root and (Path(root) / "potpaw_PBE").is_dir():
        return frozenset(d.name.split("_")[0] for d in (Path(root) / "potpaw_PBE").iterdir()
                         if (d / "POTCAR").exists() and d.name.split("_")[0] in atomic_numbers)
    return _VASP_ELEMENTS_DEFAULT


def _vasp_validate(p: dict[str, Any]) -> None:
    choice("xc", p["xc"], ("rpbe", "pbe"))
    choice("lreal", p["lreal"], ("Auto", False, True))
    choice("ismear", p["ismear"], (-1, 0, 1, 2))
    positive(p, "encut", "ediff", "sigma", "kpt_density")
    kpts_param(p)
    spin_param(p)


def _vasp_factory(params: dict[str, Any], atoms=None):
    from ase.calculators.vasp import Vasp

    p = dict(params)
    molecule = is_molecule(atoms)
    kw: dict[str, Any] = dict(
        xc=p["xc"],  # 'rpbe' -> GGA = RP with PBE PAW potentials
        setups=p["setups"],
        encut=float(p["encut"]),
        ediff=float(p["ediff"]),
        prec=p["prec"],
        ismear=0 if molecule else int(p["ismear"]),
        sigma=0.01 if molecule else float(p["sigma"]),
        lreal=p["lreal"],
        algo=p["algo"],
        nelm=int(p["nelm"]),
        # ASE drives the ionic steps (tasks/relax.py): VASP does one electronic ground state per call
        ibrion=-1,
        nsw=0,
        lcharg=False,
        lwave=True,  # reused as the start of the next ionic step
        kpts=kpts_for(p, atoms),
        gamma=True,
        directory=workdir(p, "vasp-"),
    )
    if prepare_spin(atoms, p["spinpol"]):
        kw["ispin"] = 2  # MAGMOM is written from the atoms' initial magnetic moments
    else:
        kw["ispin"] = 1
    if atoms is not None and not molecule and vacuum_directions(atoms)[2]:
        # dipole correction along z for slabs (Neugebauer & Scheffler, PRB 46, 16067 (1992))
        kw.update(ldipol=True, idipol=3)
    command = _vasp_command(p)
    if command:
        kw["command"] = command
    if p.get("pp_path"):
        kw["pp"] = str(Path(p["pp_path"]) / "potpaw_PBE")
    return Vasp(**kw)


_VASP_DEFAULTS = {
    "xc": "rpbe",
    "setups": "recommended",  # VASP's recommended PAW set
    "encut": 400.0,  # eV
    "ediff": 1e-5,  # eV
    "prec": "Normal",
    # Gaussian smearing, safe for metals and semiconducting supports alike (VASP manual, ISMEAR:
    # "if in doubt ISMEAR = 0 with a small SIGMA")
    "ismear": 0,
    "sigma": 0.05,  # eV
    "lreal": "Auto",  # real-space projection, recommended by VASP above ~20 atoms
    "algo": "Fast",
    "nelm": 200,
    "kpt_density": 4.0,
    "spinpol": "auto",
}


register(CalculatorInfo(
    name="vasp",
    description="VASP (through ASE)",
    elements=_vasp_elements,
    defaults=dict(_VASP_DEFAULTS),
    allowed=frozenset(_VASP_DEFAULTS) | {"kpts", "pp_path", "command", "workdir"},
    package="ase",
    factory=_vasp_factory,
    fidelity="dft",
    note="DFT; ASE drives the ionic steps, dipole correction along z for slabs.",
    install=VASP_INSTALL,
    local=frozenset({"pp_path", "command", "workdir"}),
    validate=_vasp_validate,
    missing=_vasp_missing,
))
