"""GPAW: PAW DFT in plane waves or LCAO, with the PAW setups found on this machine."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ase.data import atomic_numbers

from descriptors.calculators import base
from descriptors.calculators.base import (
    CalculatorInfo,
    choice,
    kpts_param,
    positive,
    register,
    spin_param,
)
from descriptors.calculators.kpoints import is_molecule, kpts_for, vacuum_directions
from descriptors.calculators.spin import prepare_spin

GPAW_INSTALL = ("pip install 'no3rr-descriptors[gpaw]' (GPAW is compiled: first "
                "apt-get install libxc-dev libopenblas-dev, and build with CC=g++; "
                "bash scripts/setup.sh --full does both)")
GPAW_XC = ("RPBE", "PBE", "BEEF-vdW")
_GPAW_SETUP_XC = {"RPBE": "RPBE", "PBE": "PBE", "BEEF-vdW": "PBE"}  # BEEF-vdW runs on PBE setups


def gpaw_setup_dirs() -> list[Path]:
    """Where GPAW looks for PAW setups: $GPAW_SETUP_PATH (colon-separated, e.g. Debian's
    gpaw-data in /usr/share/gpaw-setups) first, then the gpaw-data wheel GPAW depends on."""
    dirs = [Path(p) for p in os.environ.get("GPAW_SETUP_PATH", "").split(":") if p]
    spec = importlib.util.find_spec("gpaw_data") if base.has_module("gpaw_data") else None
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "setups")
    return [d for d in dirs if d.is_dir()]


def _gpaw_elements(params: dict[str, Any]) -> frozenset[str]:
    """Elements with a PAW setup for the functional (and a dzp basis in LCAO mode) on disk."""
    xc = _GPAW_SETUP_XC.get(params.get("xc", "RPBE"), "PBE")
    lcao = params.get("mode") == "lcao"
    found = set()
    for d in gpaw_setup_dirs():
        for f in d.iterdir():
            parts = f.name.split(".")
            if len(parts) == 3 and parts[1] == xc and parts[0] in atomic_numbers:
                if not lcao or (d / f"{parts[0]}.{params.get('basis', 'dzp')}.basis.gz").exists():
                    found.add(parts[0])
    return frozenset(found)


def _gpaw_missing() -> str | None:
    if not base.has_module("gpaw"):
        return f"python package 'gpaw' not installed; {GPAW_INSTALL}"
    if not gpaw_setup_dirs():
        return ("no PAW setups found: pip install gpaw-data, or apt-get install gpaw-data and "
                "export GPAW_SETUP_PATH=/usr/share/gpaw-setups")
    return None


def _gpaw_validate(p: dict[str, Any]) -> None:
    choice("mode", p["mode"], ("pw", "lcao"))
    choice("xc", p["xc"], GPAW_XC)
    positive(p, "ecut", "kpt_density", "smearing", "h", "maxiter")
    kpts_param(p)
    spin_param(p)


# Molecules in a box (no k-points) get a small smearing so that open-shell molecules (NO) keep
# integer occupations; GPAW extrapolates energies to zero width in both cases.
MOLECULE_SMEARING = 0.01  # eV


def _gpaw_factory(params: dict[str, Any], atoms=None):
    from gpaw import GPAW, PW, FermiDirac

    p = dict(params)
    kpts = kpts_for(p, atoms)
    width = MOLECULE_SMEARING if is_molecule(atoms) else float(p["smearing"])
    kw: dict[str, Any] = dict(
        xc=p["xc"],
        kpts={"size": kpts, "gamma": True},
        occupations=FermiDirac(width),
        spinpol=prepare_spin(atoms, p["spinpol"]),
        maxiter=int(p["maxiter"]),
        txt=None,
    )
    if atoms is not None and not is_molecule(atoms) and vacuum_directions(atoms) == [False, False, True]:
        # A slab with vacuum along z: dipole-layer correction (Neugebauer & Scheffler, PRB 46,
        # 16067 (1992)), the GPAW counterpart of pw.x's sawtooth.  GPAW 26 requires z to be
        # non-periodic for it (gpaw/new/pw/poisson.py; with pbc z True it fails with a bare
        # AssertionError), so the working copy gets pbc = (True, True, False); the k-mesh is
        # already 1 along z.
        atoms.pbc = (True, True, False)
        kw["poissonsolver"] = {"dipolelayer": "xy"}
    if p["mode"] == "pw":
        kw["mode"] = PW(float(p["ecut"]))
    else:
        kw.update(mode="lcao", basis=p["basis"], h=float(p["h"]))
    return GPAW(**kw)


_GPAW_DEFAULTS = {
    "mode": "pw",  # plane waves; "lcao" (dzp basis) is the cheap, qualitative option
    "ecut": 400.0,  # eV, plane-wave cutoff (pw mode)
    "basis": "dzp",  # LCAO basis (lcao mode)
    "h": 0.2,  # A, real-space grid spacing (lcao mode)
    # RPBE: Hammer, Hansen, Norskov, Phys. Rev. B 59, 7413 (1999), the usual functional for
    # chemisorption energies on metals.
    "xc": "RPBE",
    "kpt_density": 4.0,  # k-points per A^-1 (ASE convention): a 3x3 fcc(111) cell gets 4x4x1
    "smearing": 0.1,  # eV, Fermi-Dirac width for periodic systems
    "spinpol": "auto",  # open-shell 3d metals and odd-electron molecules
    "maxiter": 300,
}


register(CalculatorInfo(
    name="gpaw",
    description="GPAW PAW DFT (plane waves or LCAO)",
    elements=_gpaw_elements,
    defaults=dict(_GPAW_DEFAULTS),
    allowed=frozenset(_GPAW_DEFAULTS) | {"kpts"},
    package="gpaw",
    factory=_gpaw_factory,
    elements_fix=("install PAW setups for them (GPAW_SETUP_PATH) or drop those elements; "
                  "'gfn1-xtb'/'gfn2-xtb' treat Z = 1..86"),
    fidelity="dft",
    note="DFT; k-points from the cell (kpt_density, 1 along vacuum), Gamma for molecules.",
    install=GPAW_INSTALL,
    validate=_gpaw_validate,
    missing=_gpaw_missing,
    required=True,
    dos=True,
))
