"""Quantum ESPRESSO against GPAW through the package's own backends: E_ads of H in the fcc hollow
of Cu(111) (2x2x3, PBE) from single points of both codes on one shared geometry.

What it checks is OUR settings of both codes (calculators/espresso.py and calculators/gpaw.py):
pseudopotentials / PAW setups, smearing, k-points, the dipole correction of the slabs, spin off
for Cu and for closed-shell H2.  Two codes with different pseudopotentials, basis sets and
smearing schemes agree on an adsorption energy only if each is set up right.

Geometry (the same Atoms for both codes): ``fcc111('Cu', (2, 2, 3), a=3.63)``, bulk-terminated,
10 A of vacuum between the slab and its image; a = 3.63 A is the PBE lattice constant of Cu
(3.632 A, Haas, Tran & Blaha, PRB 79, 085104 (2009)).  H sits 0.95 A above the top layer in the
fcc hollow: the height of the earlier comparison (README "Quantum ESPRESSO"), where the force left on H at 40/320 Ry and 4x4x1 was -0.11 eV/A, i.e. within a few
meV of its PBE minimum.  The slab is not relaxed: both codes see identical positions, so the
comparison isolates the codes.  H2: ase's molecule('H2') (0.737 A) in an 8 A box.

E_ads = E(slab+H) - E(slab) - 1/2 E(H2).

Settings (QE_PARAMS, GPAW_PARAMS): PBE, the package's defaults otherwise (QE: Debian's PAW files
Cu.pbe-kjpaw / H.pbe-kjpaw, Marzari-Vanderbilt 0.01 Ry, conv_thr 1e-6 Ry, local-TF mixing for the
slabs; GPAW: gpaw-data setups, Fermi-Dirac 0.1 eV), 30/240 Ry against PW 350 eV, and 4x4x1
k-points for both.  Why (README.md "Quantum ESPRESSO", convergence): at 3x3x1 the two codes
were 0.104 eV apart (QE +0.024, GPAW -0.080 eV: both still 0.15-0.25 eV from their 4x4x1
values), at 4x4x1 (40/320 Ry, 400 eV, 12 A of vacuum) 0.012 eV (QE -0.219, GPAW -0.231 eV).
At these cutoffs 1/2 E(H2) lies 0.033 eV (QE, against 50/400 Ry) and 0.050 eV (GPAW, against
550 eV) above its higher-cutoff value, an error that the adsorbed H shares in part.

The six single points run as processes of their own, two at a time (pw.x's slabs first), each
with one thread: pw.x turns symmetry off with the sawtooth field (10 k-points at 4x4x1) and is
the long pole.

Run as a script for the convergence study, one code and one setting at a time, e.g.
    python tests/test_espresso_gpaw.py qe --ecutwfc 30 --ecutrho 240 --k 4
    python tests/test_espresso_gpaw.py gpaw --ecut 350 --k 4 --only h2
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc111

from descriptors.calculators import base
from descriptors.calculators import espresso as qe_backend
from descriptors.calculators import gpaw as gpaw_backend
from descriptors.calculators.base import CalculatorSetting, make_calculator
from descriptors.structures.gas import gas_molecule

A_CU = 3.63  # A, PBE (Haas, Tran, Blaha, PRB 79, 085104 (2009): 3.632 A)
H_HEIGHT = 0.95  # A above the top layer, fcc hollow
VACUUM = 5.0  # A on each side (fcc111's convention): a 10 A gap
H2_BOX = 8.0  # A

# The test's settings (see the module docstring and README.md for the convergence study).
QE_PARAMS = {"xc": "pbe", "ecutwfc": 30.0, "ecutrho": 240.0, "kpts": [4, 4, 1]}
GPAW_PARAMS = {"mode": "pw", "xc": "PBE", "ecut": 350.0, "kpts": [4, 4, 1]}


def structures():
    """slab, slab+H (fcc), H2: the one geometry both codes compute."""
    slab = fcc111("Cu", (2, 2, 3), a=A_CU, vacuum=VACUUM)
    slab.pbc = True  # as structures/slabs.py builds them: periodic along z, with vacuum
    slab_h = slab.copy()
    add_adsorbate(slab_h, "H", H_HEIGHT, "fcc")
    return {"slab": slab, "slab_h": slab_h, "h2": gas_molecule("H2", box=H2_BOX)}


def single_points(name: str, params: dict, only: tuple[str, ...] = ()) -> dict:
    """E, forces, spin and dipole set-up of the three structures (or ``only`` some) with one
    backend; wall and CPU times."""
    setting = CalculatorSetting(name, params)
    out: dict = {"code": name, "params": dict(params), "energy": {}, "wall_s": {}}
    for key, atoms in structures().items():
        if only and key not in only:
            continue
        work = atoms.copy()
        work.calc = make_calculator(setting, atoms=work)
        t0 = time.perf_counter()
        out["energy"][key] = float(work.get_potential_energy())
        forces = work.get_forces()
        out["wall_s"][key] = round(time.perf_counter() - t0, 1)
        if key == "slab_h":
            out["force_h_z"] = float(forces[-1, 2])
        out.setdefault("magmom", {})[key] = float(np.abs(work.get_initial_magnetic_moments()).sum())
        out.setdefault("pbc", {})[key] = [bool(x) for x in work.pbc]
        if name == "espresso":
            text = (open(os.path.join(work.calc.directory, "espresso.pwi")).read())
            out.setdefault("dipole", {})[key] = "dipfield" in text
            out.setdefault("nspin2", {})[key] = "nspin" in text
        else:
            out.setdefault("dipole", {})[key] = "dipolelayer" in repr(work.calc.parameters.poissonsolver)
            out.setdefault("nspin2", {})[key] = bool(work.calc.parameters.spinpol)
        work.calc = None  # pw.x scratch directories go with their calculator
    e = out["energy"]
    if len(e) == 3:
        out["e_ads"] = e["slab_h"] - e["slab"] - 0.5 * e["h2"]
    return out


def _merge(parts: list[dict]) -> dict:
    out = {"code": parts[0]["code"], "params": parts[0]["params"]}
    for part in parts:
        for k, v in part.items():
            if isinstance(v, dict) and k != "params":
                out.setdefault(k, {}).update(v)
            elif k not in out:
                out[k] = v
    e = out["energy"]
    out["e_ads"] = e["slab_h"] - e["slab"] - 0.5 * e["h2"]
    return out


def _available(name: str) -> bool:
    if name == "espresso":  # pw.x, and the default table's Cu and H files where pw.x will look
        d = qe_backend._pseudo_dir({})
        return qe_backend._espresso_missing() is None and d is not None and all(
            os.path.isfile(os.path.join(d, qe_backend.DEBIAN_PSEUDOPOTENTIALS[el])) for el in ("Cu", "H"))
    return base.REGISTRY["gpaw"].availability() is None


# The physical window for E_ads(H, Cu(111) fcc, 1/4 ML) against 1/2 H2 in GGA: exothermic (H on
# close-packed metals binds exothermically against H2(g) in DFT-GGA: Greeley & Mavrikakis,
# J. Phys. Chem. B 109, 3460 (2005), PW91), and weak, Cu being at the weak-binding side of the
# hydrogen volcano (Norskov et al., J. Electrochem. Soc. 152, J23 (2005)).  The best number for
# this very model is the earlier converged comparison (40/320 Ry and PW 400 eV, 4x4x1, 12 A of
# vacuum, same H height): QE -0.219 eV, GPAW -0.231 eV (README "Quantum ESPRESSO").  The window
# leaves room for the k-point and cutoff errors of this test's cheaper settings (README).
E_ADS_RANGE = (-0.40, 0.0)


@pytest.mark.slow  # minutes: six DFT single points, two at a time (timing in README.md)
def test_qe_and_gpaw_agree_on_h_on_cu111(monkeypatch, tmp_path):
    from conftest import require

    require(_available("espresso"), "pw.x with the Cu and H pseudopotentials", qe_backend.ESPRESSO_INSTALL)
    require(_available("gpaw"), "GPAW with PAW setups", gpaw_backend.GPAW_INSTALL)

    # six single points on two cores, longest first (pw.x's slabs, then GPAW's; the molecules
    # last), each in a process of its own with one thread
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NO3RR_SCRATCH=str(tmp_path))
    jobs = [("qe", "slab_h"), ("qe", "slab"), ("gpaw", "slab_h"), ("gpaw", "slab"), ("qe", "h2"), ("gpaw", "h2")]

    def run(job):
        r = subprocess.run([sys.executable, __file__, job[0], "--only", job[1]], env=env,
                           capture_output=True, text=True, timeout=3600)
        assert r.returncode == 0, f"{job}: {r.stderr[-3000:]}"
        return json.loads(r.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(2) as pool:
        parts = dict(zip(jobs, pool.map(run, jobs)))
    qe = _merge([v for (code, _), v in parts.items() if code == "qe"])
    gp = _merge([v for (code, _), v in parts.items() if code == "gpaw"])
    print(json.dumps({"qe": qe, "gpaw": gp}))
    print(f"E_ads(H/Cu(111) fcc): QE {qe['e_ads']:+.4f} eV, GPAW {gp['e_ads']:+.4f} eV, "
          f"difference {qe['e_ads'] - gp['e_ads']:+.4f} eV")

    for r in (qe, gp):
        # our settings, as the codes ran them: dipole correction on the slabs only, no spin (Cu, H2)
        assert r["dipole"] == {"slab": True, "slab_h": True, "h2": False}, r["dipole"]
        assert not any(r["nspin2"].values()) and not any(r["magmom"].values())
        assert E_ADS_RANGE[0] < r["e_ads"] < E_ADS_RANGE[1], r["e_ads"]
    assert abs(qe["e_ads"] - gp["e_ads"]) < 0.1
    # the force on H at the shared geometry: both codes see the same small downward force.  At these
    # cutoffs (30/240 Ry, 350 eV) the codes differ by 0.11 eV/A (measured 2026-12-02: QE -0.046,
    # GPAW -0.155 eV/A), so this checks sign and size, not force convergence
    assert qe["force_h_z"] < 0 and gp["force_h_z"] < 0
    assert abs(qe["force_h_z"] - gp["force_h_z"]) < 0.15
    assert abs(qe["force_h_z"]) < 0.3 and abs(gp["force_h_z"]) < 0.3
    assert not list(tmp_path.glob("espresso-*"))  # pw.x scratch removed


# ---------------------------------------------------------------------------------------------
# spin and dipole correction where they belong, in both codes (fast: inputs only, no SCF)
# ---------------------------------------------------------------------------------------------

def _cases():
    """(label, atoms, spin expected, dipole expected): magnetic 3d slabs and bulk, Cu, molecules."""
    from ase.build import bcc110, bulk, hcp0001

    def slab(a):
        a.pbc = True  # as structures/slabs.py builds them
        return a

    ni_h = slab(fcc111("Ni", (2, 2, 3), vacuum=5.0))
    add_adsorbate(ni_h, "H", 1.0, "fcc")
    cu_h = slab(fcc111("Cu", (2, 2, 3), vacuum=5.0))
    add_adsorbate(cu_h, "H", 1.0, "fcc")
    return [
        ("Fe(110) slab", slab(bcc110("Fe", (2, 2, 3), vacuum=5.0)), True, True),
        ("Co(0001) slab", slab(hcp0001("Co", (2, 2, 3), vacuum=5.0)), True, True),
        ("Ni(111)+H slab", ni_h, True, True),
        ("Cu(111)+H slab", cu_h, False, True),
        ("Cu(111) slab, z non-periodic", fcc111("Cu", (2, 2, 3), vacuum=5.0), False, True),
        ("Ni bulk", bulk("Ni", "fcc", a=3.52), True, False),
        ("Fe bulk", bulk("Fe", "bcc", a=2.83), True, False),
        ("Cu bulk", bulk("Cu", "fcc", a=3.63), False, False),
        ("NO molecule", gas_molecule("NO", box=8.0), True, False),
        ("H2 molecule", gas_molecule("H2", box=8.0), False, False),
    ]


def _fake_upfs(d):
    z = {"H": 1, "N": 5, "O": 6, "Fe": 16, "Co": 17, "Ni": 18, "Cu": 11}
    for el, zv in z.items():
        (d / f"{el}.UPF").write_text(f'<PP_HEADER element="{el}" z_valence="{zv:.6e}"/>')
    return {el: f"{el}.UPF" for el in z}, z


def test_espresso_spin_and_dipole_where_they_belong(tmp_path):
    """pw.x input: nspin=2 with a starting magnetisation (fraction of Z_valence, pw.x 6.7's unit)
    for Fe, Co, Ni and odd-electron molecules, not for Cu or H2; the sawtooth dipole correction
    (tefield, dipfield, edir=3) for slabs only, never for bulk or molecules."""
    from ase.io.espresso import read_fortran_namelist

    pp, zval = _fake_upfs(tmp_path)
    setting = CalculatorSetting("espresso", {"pseudopotentials": pp, "pseudo_dir": str(tmp_path),
                                             "workdir": str(tmp_path / "scratch")})
    for label, atoms, spin, dipole in _cases():
        work = atoms.copy()
        calc = make_calculator(setting, atoms=work)
        calc.write_inputfiles(work, ["energy"])
        with open(os.path.join(calc.directory, "espresso.pwi")) as fh:
            nl, _ = read_fortran_namelist(fh)
        sy, ctl = nl["system"], nl["control"]
        mags = {k: v for k, v in sy.items() if k.startswith("starting_magnetization")}
        if spin:
            assert sy.get("nspin") == 2 and mags and max(mags.values()) > 0.0, label
            assert all(0.0 <= v <= 1.0 for v in mags.values()), (label, mags)  # a fraction, not muB
            if "slab" in label:  # a metal's Hund moment over its valence charge
                el = next(s for s in work.get_chemical_symbols() if s in ("Fe", "Co", "Ni"))
                hund = {"Fe": 4.0, "Co": 3.0, "Ni": 2.0}[el]
                assert max(mags.values()) == pytest.approx(hund / zval[el]), label
        else:
            assert sy.get("nspin", 1) == 1 and not mags, label
        if dipole:
            assert ctl.get("tefield") is True and ctl.get("dipfield") is True, label
            assert sy["edir"] == 3 and sy["eamp"] == 0.0, label
        else:
            assert "tefield" not in ctl and "dipfield" not in ctl and "edir" not in sy, label


def test_gpaw_spin_and_dipole_where_they_belong():
    """GPAW parameters: spinpol with initial moments for Fe, Co, Ni and odd-electron molecules,
    not for Cu or H2; the dipole layer (z made non-periodic) for slabs only."""
    from conftest import require

    require(_available("gpaw"), "GPAW with PAW setups", gpaw_backend.GPAW_INSTALL)
    setting = CalculatorSetting("gpaw", {"mode": "pw", "ecut": 300.0})
    for label, atoms, spin, dipole in _cases():
        work = atoms.copy()
        p = make_calculator(setting, atoms=work).parameters  # builds parameters only: no SCF
        moments = work.get_initial_magnetic_moments()
        assert bool(p.spinpol) is spin, label
        assert bool(np.abs(moments).sum() > 0.5) is spin, (label, moments)
        has_layer = "dipolelayer='xy'" in repr(p.poissonsolver)
        assert has_layer is dipole, label
        if dipole:
            assert tuple(work.pbc) == (True, True, False), label  # GPAW needs z non-periodic
        else:
            assert tuple(work.pbc) == tuple(atoms.pbc), label


def _main(argv: list[str]) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="one code's E_ads(H/Cu(111)) at one setting (JSON line)")
    ap.add_argument("code", choices=("qe", "gpaw"))
    ap.add_argument("--ecutwfc", type=float, default=QE_PARAMS["ecutwfc"])
    ap.add_argument("--ecutrho", type=float, default=QE_PARAMS["ecutrho"])
    ap.add_argument("--ecut", type=float, default=GPAW_PARAMS["ecut"], help="GPAW plane-wave cutoff (eV)")
    ap.add_argument("--k", type=int, default=QE_PARAMS["kpts"][0])
    ap.add_argument("--only", action="append", choices=("slab", "slab_h", "h2"), default=[],
                    help="compute only this structure (repeatable); default all three")
    a = ap.parse_args(argv)
    os.environ.setdefault("NO3RR_SCRATCH", "/tmp/no3rr-scratch")
    if a.code == "qe":
        r = single_points("espresso", {**QE_PARAMS, "ecutwfc": a.ecutwfc, "ecutrho": a.ecutrho,
                                       "kpts": [a.k, a.k, 1]}, tuple(a.only))
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            r = single_points("gpaw", {**GPAW_PARAMS, "ecut": a.ecut, "kpts": [a.k, a.k, 1]}, tuple(a.only))
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
