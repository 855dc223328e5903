"""Quantum ESPRESSO pw.x through ASE: input files written here, the program run where it is installed."""

from __future__ import annotations

import functools
import os
import re
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
)
from descriptors.calculators.kpoints import is_molecule, kpts_for, vacuum_directions
from descriptors.calculators.process import remove_with, run_tied, scratch_dir
from descriptors.calculators.spin import prepare_spin

# Debian's quantum-espresso-data installs its pseudopotentials here (flat directory).
DEBIAN_PSEUDO_DIR = Path("/usr/share/espresso/pseudo")
# The default table: PBE files shipped by quantum-espresso-data 6.7 (provenance from each UPF
# header; suggested cutoffs ecutwfc/ecutrho in Ry from the same headers).  pslibrary 1.0.0 PAW
# (Dal Corso, Comput. Mater. Sci. 95, 337 (2014)) where Debian ships it for PBE (N, Ni); else the
# PAW sets L. Paulatto generated with ld1.x in 2008 (H, O, Cu: the only PBE PAW files shipped for
# them; the alternatives have no author, date or cutoffs), pslibrary 0.1 for C, pslibrary 0.2.1
# ultrasoft for Fe (no PBE PAW Fe is shipped; Fe.pbe-spn-kjpaw_psl.1.0.0 exists only as PBEsol),
# and for Pt the only PBE file, a fully relativistic ultrasoft one (author 'anonymous', 2007):
# without lspinorb pw.x averages its spin-orbit projectors into a scalar-relativistic potential.
DEBIAN_PSEUDOPOTENTIALS = {
    "H": "H.pbe-kjpaw.UPF",  # PAW, Paulatto 15Apr2008, 46/201 Ry
    "C": "C.pbe-n-kjpaw_psl.0.1.UPF",  # PAW, pslibrary 0.1 (Paulatto 2012), 37/147 Ry
    "N": "N.pbe-n-kjpaw_psl.1.0.0.UPF",  # PAW, pslibrary 1.0.0 (Dal Corso 2018), 44/320 Ry
    "O": "O.pbe-kjpaw.UPF",  # PAW, Paulatto 15Apr2008, 38/151 Ry
    "Fe": "Fe.pbe-spn-rrkjus_psl.0.2.1.UPF",  # US, pslibrary 0.2.1 (Dal Corso 2012), 64/782 Ry
    "Ni": "Ni.pbe-spn-kjpaw_psl.1.0.0.UPF",  # PAW, pslibrary 1.0.0 (Dal Corso 2018), 75/476 Ry
    "Cu": "Cu.pbe-kjpaw.UPF",  # PAW, Paulatto 15Apr2008, 3d10 4s1, 47/189 Ry
    "Pt": "Pt.rel-pbe-n-rrkjus.UPF",  # US, fully relativistic, 'anonymous' 2Sep2007, 27/228 Ry
}

ESPRESSO_INSTALL = ("apt-get install quantum-espresso quantum-espresso-data (pw.x and the default "
                    "pseudopotentials; bash scripts/setup.sh --full does it) or a cluster module; "
                    "another pseudopotential directory goes in calculator.params.pseudo_dir or $ESPRESSO_PSEUDO")
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
                         "{ Cu = 'Cu.pbe-kjpaw.UPF', H = 'H.pbe-kjpaw.UPF' } (Debian's "
                         "quantum-espresso-data), or leave it out for the default table")
    bad = [k for k in pp if k not in atomic_numbers or k == "X"]
    if bad:
        raise ValueError(f"calculator.params.pseudopotentials: {bad} are not element symbols")
    choice("xc", p["xc"], ("rpbe", "pbe"))
    choice("mixing_mode", p["mixing_mode"], ("auto", "plain", "TF", "local-TF"))
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
    from ase.calculators.espresso import Espresso

    p = dict(params)
    pseudo_dir = _pseudo_dir(p)
    if not pseudo_dir:
        raise CalculatorUnavailableError(
            "calculator.params.pseudo_dir: no pseudopotential directory; apt-get install "
            "quantum-espresso-data, set pseudo_dir in the spec or export ESPRESSO_PSEUDO=/path/to/upf")
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
    extra: dict[str, Any] = {}
    if prepare_spin(atoms, p["spinpol"]):
        system["nspin"] = 2
        # ASE writes starting_magnetization = moment / rescale_magmom_fac; pw.x 6.7 wants the
        # fraction of the species' valence charge (-1..1): divide by Z_valence of the species with
        # the largest initial moment (exact when one species carries the moments: a magnetic metal
        # with adsorbates, an odd-electron molecule; an approximate start for magnetic alloys).
        m = np.abs(atoms.get_initial_magnetic_moments())
        if m.any():
            el = atoms[int(np.argmax(m))].symbol
            extra["rescale_magmom_fac"] = _z_valence(Path(pseudo_dir) / pseudos[el])
    vac = vacuum_directions(atoms) if atoms is not None else [False, False, False]
    if atoms is not None and not molecule and vac[2]:
        # slab with vacuum along z: sawtooth dipole correction (Bengtsson, PRB 59, 12301 (1999))
        emaxpos, eopreg = _dipole_window(atoms)
        system.update({"edir": 3, "emaxpos": emaxpos, "eopreg": eopreg, "eamp": 0.0})
        control_dipole = {"tefield": True, "dipfield": True}
    else:
        control_dipole = {}
    electrons = {"conv_thr": float(p["conv_thr"]), "mixing_beta": float(p["mixing_beta"])}
    mode = p["mixing_mode"]
    if mode == "auto":  # local-TF for slabs (plain mixing oscillated on Cu(111)); it stalls on H2
        mode = "local-TF" if control_dipole else "plain"
    electrons["mixing_mode"] = mode
    input_data = {
        "control": {"calculation": "scf", "tprnfor": True, "disk_io": "low", **control_dipole},
        "system": system,
        "electrons": electrons,
    }
    command = _espresso_command(p) or "pw.x"
    profile = _tied_profile_class()(command=command, pseudo_dir=str(pseudo_dir))
    directory = scratch_dir(p, "espresso-")
    calc = Espresso(profile=profile, input_data=input_data, pseudopotentials=pseudos,
                    kpts=kpts_for(p, atoms), directory=directory, **extra)
    remove_with(calc, directory)
    return calc


def _pseudo_dir(p: dict[str, Any]) -> str | None:
    d = p.get("pseudo_dir") or os.environ.get("ESPRESSO_PSEUDO")
    if not d and DEBIAN_PSEUDO_DIR.is_dir():
        d = str(DEBIAN_PSEUDO_DIR)
    return d


def _z_valence(upf: Path) -> float:
    """Valence charge from a UPF header (v2 attribute z_valence, or the v1 'Z valence' line)."""
    text = upf.read_text(errors="replace")[:20000]
    m = re.search(r'z_valence="\s*([-+.\dEe]+)"', text) or re.search(r"([-+.\dEe]+)\s+Z valence", text)
    if not m:
        raise CalculatorUnavailableError(f"pseudopotential {upf}: no z_valence in its header")
    return float(m.group(1))


class SCFNotConvergedError(RuntimeError):
    """pw.x ended without a converged SCF (classified as scf-not-converged: retryable)."""


@functools.cache
def _tied_profile_class():
    """The profile class, made on first use: ase.calculators.espresso imports ase.io (~1 s), and
    this module is imported with the registry by every command."""
    from ase.calculators.espresso import EspressoProfile

    class _TiedProfile(EspressoProfile):
        """pw.x run so that it dies with the job (see calculators/process.py), and an unconverged
        SCF reported as such (pw.x then prints no '!' energy line and ASE would find no energy)."""

        def run(self, directory, inputfile, outputfile, errorfile=None, append=False):
            directory = Path(directory)
            argv = self.get_command(inputfile)
            with open(directory / outputfile, "ab" if append else "wb") as out:
                err = open(directory / errorfile, "ab" if append else "wb") if errorfile else None
                try:
                    code = run_tied(argv, directory, out, err)
                finally:
                    if err:
                        err.close()
            text = (directory / outputfile).read_text(errors="replace")
            if "convergence NOT achieved" in text:
                raise SCFNotConvergedError(
                    "pw.x: SCF not converged (convergence NOT achieved); lower "
                    "calculator.params.mixing_beta or raise the smearing")
            if code != 0:
                tail = "\n".join(text.splitlines()[-15:])
                raise RuntimeError(f"pw.x exited with code {code} in {directory}:\n{tail}")

    return _TiedProfile


_ESPRESSO_DEFAULTS = {
    "xc": "rpbe",  # input_dft; Hammer, Hansen, Norskov, PRB 59, 7413 (1999)
    "ecutwfc": 40.0,  # Ry, typical for SSSP-efficiency / pslibrary PAW sets
    "ecutrho": 320.0,  # Ry
    "degauss": 0.01,  # Ry (0.136 eV)
    "conv_thr": 1e-6,  # Ry
    "mixing_beta": 0.3,  # slabs with vacuum need damped mixing
    "mixing_mode": "auto",  # local-TF for slabs with vacuum, plain otherwise
    "kpt_density": 4.0,
    "spinpol": "auto",
    "pseudopotentials": dict(DEBIAN_PSEUDOPOTENTIALS),
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
    note=("DFT; elements are those given in calculator.params.pseudopotentials (default: the PBE "
          "files of Debian's quantum-espresso-data in /usr/share/espresso/pseudo)."),
    install=ESPRESSO_INSTALL,
    local=frozenset({"pseudo_dir", "command", "workdir"}),
    validate=_espresso_validate,
    elements_fix="add a UPF file for each to calculator.params.pseudopotentials",
    elements_text=("those in calculator.params.pseudopotentials; default (Debian): "
                   + ", ".join(DEBIAN_PSEUDOPOTENTIALS)),
    missing=_espresso_missing,
))
