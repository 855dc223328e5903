"""Calculator registry: a calculator is a named, versioned, hashable setting.

``CalculatorSetting`` is what a spec, a job and a stored row carry; ``make_calculator`` turns
it into an ASE calculator only when a job actually runs.  Everything that changes the numbers
(name, version of the code, parameters) enters the hash, so a result computed with other
settings is never mistaken for this one.  Machine-specific parameters (a program's command, a
pseudopotential directory, a scratch directory) do not change the numbers and stay out of the
identity, so the same screen run on a laptop and on a cluster shares its job ids.

The fidelity ladder, cheapest first:

=========  ===============  ========================================================
name       fidelity         what it is
=========  ===============  ========================================================
emt        test-only        ASE's EMT: pipeline tests and the quick start
gfn1/2-xtb semi-empirical   tblite tight binding, Gamma point only
chgnet     ml               CHGNet universal potential (weights ship in the wheel)
sevenn     ml               SevenNet universal potential (weights ship in the wheel)
gpaw       dft              GPAW, PAW setups, LCAO or plane waves, runs on this machine
espresso   dft              Quantum ESPRESSO pw.x through ASE (pseudopotentials given)
vasp       dft              VASP through ASE (licensed; POTCARs from VASP_PP_PATH)
=========  ===============  ========================================================

Each backend beyond EMT is an optional extra with its own install line (``install``) and a
clear error naming it when it is missing (``CalculatorUnavailableError``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from ase.data import atomic_numbers, chemical_symbols, ground_state_magnetic_moments

__all__ = [
    "CalculatorSetting",
    "CalculatorInfo",
    "REGISTRY",
    "make_calculator",
    "calculator_info",
    "check_elements",
    "UnsupportedElementsError",
    "CalculatorUnavailableError",
    "kpoints_from_cell",
    "vacuum_directions",
    "initial_magnetic_moments",
    "needs_spin",
    "compact_elements",
    "gpaw_setup_dirs",
    "describe_calculators",
]


class UnsupportedElementsError(ValueError):
    """The chosen calculator has no parameters for some requested element."""


class CalculatorUnavailableError(ValueError):
    """The calculator's package, program or data is not installed on this machine."""


def text_hash(h: str) -> str:
    """A hex digest that ase.db keeps as text: one that reads as a number (all digits, or digits
    around one 'e', e.g. '05024405718e3685') is refused by ase.db, so its first character becomes 'x'.
    Every other digest is unchanged, so existing identities stay valid."""
    try:
        float(h)
    except ValueError:
        return h
    return "x" + h[1:]


@functools.lru_cache(maxsize=None)
def _version(dist: str) -> str:
    """Installed version of a distribution (cached: read once per process, not once per job)."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not-installed"


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class CalculatorInfo:
    """What the registry knows about one calculator name."""

    name: str
    description: str
    elements: frozenset[str] | Callable[[dict[str, Any]], frozenset[str]]
    defaults: dict[str, Any]
    allowed: frozenset[str]
    package: str
    factory: Callable[[dict[str, Any], bool, Any], Any]  # (params, periodic, atoms or None)
    fidelity: str  # 'test-only', 'semi-empirical', 'ml', 'dft'
    note: str = ""
    gamma_only: bool = False  # no k-points: bulk needs a supercell instead
    install: str = ""  # how to install what is missing
    local: frozenset[str] = frozenset()  # machine-specific params: recorded, not part of the identity
    validate: Callable[[dict[str, Any]], None] | None = None  # raises ValueError naming the param
    missing: Callable[[], str | None] | None = None  # None if usable here, else what is missing
    required: bool = False  # a missing backend is an error when a setting is made (python packages)
    dos: bool = False  # gives a projected density of states (d-band centre)

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


# ---------------------------------------------------------------------------------------------
# structure helpers shared by the k-point codes
# ---------------------------------------------------------------------------------------------

VACUUM_GAP = 5.0  # A; a periodic direction with an empty gap this wide is a vacuum direction


def vacuum_directions(atoms, gap: float = VACUUM_GAP) -> list[bool]:
    """For each cell vector: True if non-periodic or the atoms leave an empty gap >= ``gap`` A.

    The gap is measured between the lattice planes of the cell (fractional coordinates times the
    plane spacing), so a slab built with ``vacuum`` on each side has a gap of about 2*vacuum.
    """
    out = []
    cell = atoms.cell
    recip = cell.reciprocal()  # rows b_i with a_i . b_j = delta_ij (no 2 pi)
    scaled = atoms.get_scaled_positions(wrap=True) if len(atoms) else np.zeros((0, 3))
    for i in range(3):
        if not atoms.pbc[i] or cell.rank < 3:
            out.append(True)
            continue
        spacing = 1.0 / np.linalg.norm(recip[i])  # distance between lattice planes
        f = np.sort(scaled[:, i])
        if len(f) == 0:
            out.append(True)
            continue
        gaps = np.diff(np.concatenate([f, [f[0] + 1.0]]))
        out.append(bool(gaps.max() * spacing >= gap))
    return out


def kpoints_from_cell(atoms, density: float) -> tuple[int, int, int]:
    """Monkhorst-Pack sizes from a k-point density (points per A^-1, ASE's convention).

    ``k_i = ceil(2 pi |b_i| density)`` along periodic directions (ASE's
    ``kptdensity2monkhorstpack``) and 1 along vacuum: a slab gets (k, k, 1), a molecule in a
    box (1, 1, 1), i.e. the Gamma point.
    """
    from ase.calculators.calculator import kptdensity2monkhorstpack

    work = atoms.copy()
    vac = vacuum_directions(atoms)
    work.pbc = [not v for v in vac]
    if not work.pbc.any():
        return (1, 1, 1)
    k = kptdensity2monkhorstpack(work, kptdensity=density, even=False)
    return tuple(int(x) for x in k)


# Open-shell 3d metals that practitioners treat spin-polarised (metallic Cr, Mn, Fe, Co, Ni; and
# every 3d metal as an isolated site of a single/dual-atom catalyst).  Initial moments are the
# free-atom Hund's-rule moments of ase.data.ground_state_magnetic_moments, a generous start from
# which the SCF relaxes down.
MAGNETIC_ELEMENTS = frozenset({"Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni"})


def needs_spin(atoms) -> bool:
    """Spin polarisation is needed for open-shell 3d metals, and for an odd-electron molecule."""
    if set(atoms.get_chemical_symbols()) & MAGNETIC_ELEMENTS:
        return True
    if np.any(np.abs(atoms.get_initial_magnetic_moments()) > 1e-8):
        return True
    return all(vacuum_directions(atoms)) and int(atoms.numbers.sum()) % 2 == 1


def initial_magnetic_moments(atoms) -> np.ndarray:
    """Initial moments: Hund's-rule moments on magnetic metals; one unpaired electron on the
    first odd-Z atom of an odd-electron molecule (NO, NO2, ...); zero elsewhere."""
    m = np.zeros(len(atoms))
    for i, sym in enumerate(atoms.get_chemical_symbols()):
        if sym in MAGNETIC_ELEMENTS:
            m[i] = ground_state_magnetic_moments[atomic_numbers[sym]]
    if not m.any() and all(vacuum_directions(atoms)) and int(atoms.numbers.sum()) % 2 == 1:
        odd = [i for i, z in enumerate(atoms.numbers) if z % 2 == 1]
        m[odd[0] if odd else 0] = 1.0
    return m


def _prepare_spin(atoms, spinpol) -> bool:
    """Decide spin polarisation (``spinpol`` 'auto' | True | False); set initial moments on
    ``atoms`` (a working copy) when spin is on and none are given."""
    if atoms is None:
        return bool(spinpol is True)
    spin = needs_spin(atoms) if spinpol == "auto" else bool(spinpol)
    if spin and not np.any(np.abs(atoms.get_initial_magnetic_moments()) > 1e-8):
        atoms.set_initial_magnetic_moments(initial_magnetic_moments(atoms))
    return spin


def _kpts(params: dict[str, Any], atoms) -> tuple[int, int, int]:
    """The k-mesh of one structure.  An explicit ``kpts`` is the slab mesh: molecules still get
    Gamma only and bulk cells (no vacuum) still get theirs from ``kpt_density``."""
    if params.get("kpts") is not None:
        k = tuple(int(x) for x in params["kpts"])
        if atoms is None:
            return k
        vac = vacuum_directions(atoms)
        if all(vac):
            return (1, 1, 1)  # a molecule in a box: Gamma only, whatever the slab mesh
        if any(vac):
            return tuple(1 if v else ki for v, ki in zip(vac, k))
    if atoms is None:
        raise ValueError("k-points are derived from the structure: call make_calculator(setting, atoms=...)")
    return kpoints_from_cell(atoms, float(params["kpt_density"]))


def _is_molecule(atoms) -> bool:
    return atoms is not None and all(vacuum_directions(atoms))


def _workdir(params: dict[str, Any], prefix: str) -> str:
    """A fresh directory per calculation so parallel jobs never share input/output files."""
    base = Path(params.get("workdir") or os.environ.get("NO3RR_SCRATCH") or "no3rr-scratch")
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=base)


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"calculator.params.{name}: {value!r} not understood; choose one of {list(choices)}")


def _positive(params: dict[str, Any], *names: str) -> None:
    for n in names:
        v = params.get(n)
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            raise ValueError(f"calculator.params.{n}: must be a positive number, got {v!r}")


def _kpts_param(params: dict[str, Any]) -> None:
    k = params.get("kpts")
    if k is not None and not (isinstance(k, (list, tuple)) and len(k) == 3
                              and all(isinstance(x, int) and x >= 1 for x in k)):
        raise ValueError(f"calculator.params.kpts: give three positive integers, e.g. [4, 4, 1]; got {k!r}")


def _spin_param(params: dict[str, Any]) -> None:
    _choice("spinpol", params.get("spinpol", "auto"), ("auto", True, False))


# ---------------------------------------------------------------------------------------------
# EMT and xtb
# ---------------------------------------------------------------------------------------------

# EMT as implemented in ASE (ase.calculators.emt): parameters of Jacobsen, Stoltze and Norskov,
# Surf. Sci. 366, 394 (1996) for Al, Cu, Ag, Au, Ni, Pd, Pt; H, C, N, O from ASE's own fit.
_EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"})
# GFN1-/GFN2-xTB are parametrised for Z = 1..86 (Grimme, Bannwarth, Shushkov, JCTC 13, 1989 (2017);
# Bannwarth, Ehlert, Grimme, JCTC 15, 1652 (2019)).
_XTB_ELEMENTS = frozenset(sym for sym, z in atomic_numbers.items() if 1 <= z <= 86 and sym != "X")


def _emt_factory(params: dict[str, Any], periodic: bool, atoms=None):
    from ase.calculators.emt import EMT

    return EMT(**params)


def _tblite_factory(method: str):
    def factory(params: dict[str, Any], periodic: bool, atoms=None):
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


def _missing_module(module: str, install: str) -> Callable[[], str | None]:
    def check() -> str | None:
        return None if _has_module(module) else f"python package {module!r} not installed; {install}"

    return check


# ---------------------------------------------------------------------------------------------
# GPAW
# ---------------------------------------------------------------------------------------------

GPAW_INSTALL = ("pip install 'no3rr-descriptors[gpaw]' (GPAW is compiled: first "
                "apt-get install libxc-dev libopenblas-dev, and build with CC=g++; "
                "bash scripts/setup.sh --full does both)")
GPAW_XC = ("RPBE", "PBE", "BEEF-vdW")
_GPAW_SETUP_XC = {"RPBE": "RPBE", "PBE": "PBE", "BEEF-vdW": "PBE"}  # BEEF-vdW runs on PBE setups


def gpaw_setup_dirs() -> list[Path]:
    """Where GPAW looks for PAW setups: $GPAW_SETUP_PATH (colon-separated, e.g. Debian's
    gpaw-data in /usr/share/gpaw-setups) first, then the gpaw-data wheel GPAW depends on."""
    dirs = [Path(p) for p in os.environ.get("GPAW_SETUP_PATH", "").split(":") if p]
    spec = importlib.util.find_spec("gpaw_data") if _has_module("gpaw_data") else None
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
    if not _has_module("gpaw"):
        return f"python package 'gpaw' not installed; {GPAW_INSTALL}"
    if not gpaw_setup_dirs():
        return ("no PAW setups found: pip install gpaw-data, or apt-get install gpaw-data and "
                "export GPAW_SETUP_PATH=/usr/share/gpaw-setups")
    return None


def _gpaw_validate(p: dict[str, Any]) -> None:
    _choice("mode", p["mode"], ("pw", "lcao"))
    _choice("xc", p["xc"], GPAW_XC)
    _positive(p, "ecut", "kpt_density", "smearing", "h", "maxiter")
    _kpts_param(p)
    _spin_param(p)


# Molecules in a box (no k-points) get a small smearing so that open-shell molecules (NO) keep
# integer occupations; GPAW extrapolates energies to zero width in both cases.
MOLECULE_SMEARING = 0.01  # eV


def _gpaw_factory(params: dict[str, Any], periodic: bool, atoms=None):
    from gpaw import GPAW, PW, FermiDirac

    p = dict(params)
    kpts = _kpts(p, atoms)
    width = MOLECULE_SMEARING if _is_molecule(atoms) else float(p["smearing"])
    kw: dict[str, Any] = dict(
        xc=p["xc"],
        kpts={"size": kpts, "gamma": True},
        occupations=FermiDirac(width),
        spinpol=_prepare_spin(atoms, p["spinpol"]),
        maxiter=int(p["maxiter"]),
        txt=None,
    )
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

# ---------------------------------------------------------------------------------------------
# Quantum ESPRESSO and VASP: input files through ASE, the program run where it is installed
# ---------------------------------------------------------------------------------------------

ESPRESSO_INSTALL = ("apt-get install quantum-espresso (pw.x) or a cluster module; give the "
                    "pseudopotential directory as calculator.params.pseudo_dir or $ESPRESSO_PSEUDO")
VASP_INSTALL = ("licensed program: set $ASE_VASP_COMMAND (e.g. 'mpirun vasp_std') or "
                "calculator.params.command, and $VASP_PP_PATH (folder with potpaw_PBE) or "
                "calculator.params.pp_path")


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
    _choice("xc", p["xc"], ("rpbe", "pbe"))
    _positive(p, "ecutwfc", "ecutrho", "kpt_density", "degauss", "conv_thr")
    _kpts_param(p)
    _spin_param(p)


def _dipole_window(atoms) -> tuple[float, float]:
    """(emaxpos, eopreg) of pw.x's sawtooth dipole correction: the sawtooth turns over inside the
    vacuum, centred between the top and the periodic image of the bottom of the slab."""
    z = np.sort(atoms.get_scaled_positions(wrap=True)[:, 2])
    gaps = np.diff(np.concatenate([z, [z[0] + 1.0]]))
    i = int(np.argmax(gaps))
    centre = (z[i] + gaps[i] / 2.0) % 1.0
    eopreg = min(0.1, 0.5 * gaps[i])
    return float((centre - eopreg / 2.0) % 1.0), float(eopreg)


def _espresso_factory(params: dict[str, Any], periodic: bool, atoms=None):
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
    molecule = _is_molecule(atoms)
    system: dict[str, Any] = {
        "ecutwfc": float(p["ecutwfc"]),  # Ry
        "ecutrho": float(p["ecutrho"]),  # Ry; 8-12 x ecutwfc for ultrasoft/PAW
        "occupations": "smearing",
        # Marzari-Vanderbilt cold smearing (PRL 82, 3296 (1999)), the usual choice for metals
        "smearing": "mv",
        "degauss": 0.001 if molecule else float(p["degauss"]),  # Ry
        "input_dft": p["xc"],
    }
    if _prepare_spin(atoms, p["spinpol"]):
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
                    kpts=_kpts(p, atoms), directory=_workdir(p, "espresso-"))


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
    _choice("xc", p["xc"], ("rpbe", "pbe"))
    _choice("lreal", p["lreal"], ("Auto", False, True))
    _choice("ismear", p["ismear"], (-1, 0, 1, 2))
    _positive(p, "encut", "ediff", "sigma", "kpt_density")
    _kpts_param(p)
    _spin_param(p)


def _vasp_factory(params: dict[str, Any], periodic: bool, atoms=None):
    from ase.calculators.vasp import Vasp

    p = dict(params)
    molecule = _is_molecule(atoms)
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
        # ASE drives the ionic steps (relax.py): VASP does one electronic ground state per call
        ibrion=-1,
        nsw=0,
        lcharg=False,
        lwave=True,  # reused as the start of the next ionic step
        kpts=_kpts(p, atoms),
        gamma=True,
        directory=_workdir(p, "vasp-"),
    )
    if _prepare_spin(atoms, p["spinpol"]):
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

# ---------------------------------------------------------------------------------------------
# universal ML potentials: weights ship inside the wheel, never downloaded
# ---------------------------------------------------------------------------------------------

# Both are trained on the Materials Project trajectory set MPtrj (Deng et al., Nat. Mach. Intell.
# 5, 1031 (2023)), which covers Z = 1-83 and 89-94: 89 elements.  tests/test_ml_calculators.py
# checks this list against the species stored in the shipped checkpoints.
MPTRJ_ELEMENTS = frozenset(
    chemical_symbols[z] for z in list(range(1, 84)) + list(range(89, 95))
)
ML_INSTALL = "pip install torch==2.13.0 first (the CPU build), then pip install 'no3rr-descriptors[ml]'"

# the checkpoints that ship inside the wheels (relative to the package directory)
CHGNET_MODELS = {
    "0.3.0": "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
    "0.2.0": "pretrained/0.2.0/chgnet_0.2.0_e30f77s348m32.pth.tar",
}
SEVENN_MODELS = {
    "7net-0": "pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
    "7net-0_22may2024": "pretrained_potentials/SevenNet_0__22May2024/checkpoint_sevennet_0.pth",
    "7net-l3i5": "pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth",
}


def _offline() -> None:
    """No hub, no download: whatever a library would fetch must already be on disk."""
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[k] = "1"


def _torch_threads() -> None:
    """One torch thread per job unless OMP_NUM_THREADS says otherwise: jobs run side by side
    (one per core), and torch's spinning OpenMP threads were measured 10x slower per force call
    on a loaded 2-core machine (0.3 s with one thread, 2.7 s with two)."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS") or 1)))


def shipped_checkpoint(package: str, model: str) -> Path:
    """Path of a checkpoint inside an installed package; a clear error, never a download."""
    table = {"chgnet": CHGNET_MODELS, "sevenn": SEVENN_MODELS}[package]
    if model not in table:
        raise ValueError(f"calculator.params.model: {model!r} is not shipped with {package}; "
                         f"choose one of {sorted(table)}")
    spec = importlib.util.find_spec(package) if _has_module(package) else None
    if spec is None or not spec.origin:
        raise CalculatorUnavailableError(f"python package {package!r} not installed; {ML_INSTALL}")
    path = Path(spec.origin).parent / table[model]
    if not path.is_file():
        raise CalculatorUnavailableError(
            f"{package} model {model!r}: weights {path} missing from the installed package "
            f"(they are not downloaded); reinstall with {ML_INSTALL}")
    return path


def _ml_missing(package: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if not _has_module("torch"):
            return f"python package 'torch' not installed; {ML_INSTALL}"
        if not _has_module(package):
            return f"python package {package!r} not installed; {ML_INSTALL}"
        try:
            shipped_checkpoint(package, REGISTRY[package].defaults["model"])
        except (CalculatorUnavailableError, ValueError) as err:
            return str(err)
        return None

    return check


_MODEL_CACHE: dict[tuple[str, str], Any] = {}


def _chgnet_factory(params: dict[str, Any], periodic: bool, atoms=None):
    _offline()
    _torch_threads()
    path = shipped_checkpoint("chgnet", params["model"])
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    key = ("chgnet", params["model"])
    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints its banner to stdout
        if key not in _MODEL_CACHE:
            # as CHGNet.load, but from the checked path (mlp_out_bias only for the 0.2.0 weights)
            _MODEL_CACHE[key] = CHGNet.from_file(str(path), mlp_out_bias=params["model"] == "0.2.0",
                                                 version=params["model"])
        return CHGNetCalculator(model=_MODEL_CACHE[key], use_device="cpu", on_isolated_atoms="ignore")


def _sevenn_factory(params: dict[str, Any], periodic: bool, atoms=None):
    _offline()
    _torch_threads()
    path = shipped_checkpoint("sevenn", params["model"])
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(model=str(path), device="cpu")


def _ml_validate(package: str) -> Callable[[dict[str, Any]], None]:
    def validate(p: dict[str, Any]) -> None:
        table = {"chgnet": CHGNET_MODELS, "sevenn": SEVENN_MODELS}[package]
        _choice("model", p["model"], sorted(table))

    return validate


# ---------------------------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------------------------

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
        install="part of ASE",
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
            install="pip install tblite (a dependency of this package)",
            missing=_missing_module("tblite", "pip install tblite"),
            required=True,
        )
        for name, method in (("gfn1-xtb", "GFN1-xTB"), ("gfn2-xtb", "GFN2-xTB"))
    },
    **{
        name: CalculatorInfo(
            name=name,
            description=f"{model_name} universal ML potential (MPtrj, PBE/PBE+U)",
            elements=MPTRJ_ELEMENTS,
            defaults={"model": model},
            allowed=frozenset({"model"}),
            package=name,
            factory=factory,
            fidelity="ml",
            note="universal ML potential trained on bulk PBE data: a pre-screening level, not DFT.",
            install=ML_INSTALL,
            validate=_ml_validate(name),
            missing=_ml_missing(name),
            required=True,
        )
        for name, model_name, model, factory in (
            ("chgnet", "CHGNet", "0.3.0", _chgnet_factory),  # Deng et al., Nat. Mach. Intell. 5, 1031 (2023)
            ("sevenn", "SevenNet-0", "7net-0", _sevenn_factory),  # Park et al., JCTC 20, 4857 (2024)
        )
    },
    "gpaw": CalculatorInfo(
        name="gpaw",
        description="GPAW PAW DFT (plane waves or LCAO)",
        elements=_gpaw_elements,
        defaults=dict(_GPAW_DEFAULTS),
        allowed=frozenset(_GPAW_DEFAULTS) | {"kpts"},
        package="gpaw",
        factory=_gpaw_factory,
        fidelity="dft",
        note="DFT; k-points from the cell (kpt_density, 1 along vacuum), Gamma for molecules.",
        install=GPAW_INSTALL,
        validate=_gpaw_validate,
        missing=_gpaw_missing,
        required=True,
        dos=True,
    ),
    "espresso": CalculatorInfo(
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
        missing=_espresso_missing,
    ),
    "vasp": CalculatorInfo(
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
    ),
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
    """A named calculator with its parameters: what produced a number.

    Making a setting for a Python backend that is not installed raises
    ``CalculatorUnavailableError`` with the install line: its version (part of every job id)
    would otherwise be unknown.
    """

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
        if info.validate:
            info.validate(merged)
        if info.required:
            why = info.availability()
            if why:
                raise CalculatorUnavailableError(f"calculator.name: {self.name!r} is not usable here: {why}")
        object.__setattr__(self, "params", merged)

    @property
    def info(self) -> CalculatorInfo:
        return calculator_info(self.name)

    @property
    def version(self) -> str:
        return self.info.version()

    @property
    def elements(self) -> frozenset[str]:
        return self.info.supported_elements(self.params)

    def identity_params(self) -> dict[str, Any]:
        """Parameters that change the numbers (machine-specific ones left out)."""
        return {k: v for k, v in sorted(self.params.items()) if k not in self.info.local}

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "params": self.identity_params()}

    @property
    def hash(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return text_hash(hashlib.sha256(blob.encode()).hexdigest()[:16])  # stored as calc_hash and looked up

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
        if setting.name == "espresso":
            fix = "add a UPF file for each to calculator.params.pseudopotentials"
        elif setting.name == "gpaw":
            fix = ("install PAW setups for them (GPAW_SETUP_PATH) or drop those elements; "
                   "'gfn1-xtb'/'gfn2-xtb' treat Z = 1..86")
        else:
            fix = "drop those elements or set calculator.name to 'gfn1-xtb' or 'gfn2-xtb'"
        hint = (f"{setting.name!r} only treats {', '.join(sorted(supported, key=lambda s: atomic_numbers[s]))}"
                if len(supported) < 30 else f"{setting.name!r} treats {compact_elements(supported)}")
        raise UnsupportedElementsError(
            f"{where}: element(s) {', '.join(missing)} not supported by calculator {setting.name!r}; "
            f"{hint}. Fix: {fix}."
        )


def make_calculator(setting: CalculatorSetting, periodic: bool = True, atoms=None):
    """Build the ASE calculator for ``setting``.  Called only inside a running job.

    ``atoms`` (the working copy the calculator will be attached to) lets the k-point codes
    derive their mesh from the cell (1 along vacuum, Gamma for molecules) and set initial
    magnetic moments on it where spin polarisation is needed.
    """
    info = setting.info
    if info.required or info.missing:
        why = info.availability()
        if why and info.required:
            raise CalculatorUnavailableError(f"calculator {setting.name!r} is not usable here: {why}")
    if atoms is not None:
        periodic = bool(np.any(atoms.pbc))
    return info.factory(dict(setting.params), periodic, atoms)


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
        if info.name == "espresso":
            el_text = "those given in calculator.params.pseudopotentials"
        out.append({
            "name": info.name,
            "fidelity": info.fidelity,
            "usable": why is None,
            "missing": why,
            "install": info.install,
            "version": info.version(),
            "description": info.description,
            "elements": sorted(elements, key=lambda s: atomic_numbers[s]),
            "elements_text": el_text,
            "defaults": dict(info.defaults),
            "params": sorted(info.allowed),
            "note": info.note,
        })
    return out
