"""The DFT / ML rungs of the calculator registry without running DFT: k-points from the cell,
spin, identities, install errors, `no3rr calculators`, and the pw.x / VASP input files."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from ase.build import add_adsorbate, bulk, fcc111
from ase.io.espresso import read_fortran_namelist

from descriptors.calculators import base, espresso, kpoints, ml, vasp
from descriptors.calculators import (
    calculator_info,
    CalculatorSetting,
    CalculatorUnavailableError,
    UnsupportedElementsError,
    check_elements,
    compact_elements,
    initial_magnetic_moments,
    kpoints_from_cell,
    make_calculator,
    needs_spin,
    vacuum_directions,
)
from descriptors.cli import main
from descriptors.structures.gas import gas_molecule
from descriptors.specs import SpecError, parse_spec


def _slab(metal="Cu", size=(3, 3, 3), vacuum=7.5, ads=None):
    s = fcc111(metal, size, vacuum=vacuum)
    s.pbc = True  # as slabs.py builds them: periodic along z with vacuum
    if ads:
        add_adsorbate(s, ads, 1.0, "fcc")
    return s


# ---------------------------------------------------------------------------------------------
# k-points and spin
# ---------------------------------------------------------------------------------------------

def test_kpoints_follow_the_cell_with_one_along_vacuum():
    slab = _slab(size=(3, 3, 3))
    assert vacuum_directions(slab) == [False, False, True]
    # reference the other way round: k_i = ceil(2 pi density / d_i), d_i the lattice-plane spacing
    b = np.linalg.inv(slab.cell.array).T  # reciprocal vectors without 2 pi
    for density in (2.0, 4.0, 6.0):
        expect = [math.ceil(2 * math.pi * density * np.linalg.norm(b[i])) for i in range(2)]
        assert kpoints_from_cell(slab, density) == (expect[0], expect[1], 1)
    # a 3x3 cell has a third of the k-points per direction of the 1x1 cell (within rounding)
    k1 = kpoints_from_cell(_slab(size=(1, 1, 3)), 4.0)
    k3 = kpoints_from_cell(slab, 4.0)
    assert k1[2] == k3[2] == 1 and abs(k1[0] - 3 * k3[0]) <= 3
    # molecule in a box: Gamma only; bulk: periodic in all three directions, cubic -> equal
    assert kpoints_from_cell(gas_molecule("H2O"), 4.0) == (1, 1, 1)
    kb = kpoints_from_cell(bulk("Cu", "fcc", a=3.61, cubic=True), 4.0)
    assert kb[0] == kb[1] == kb[2] == math.ceil(2 * math.pi * 4.0 / 3.61)
    # non-periodic z (single-atom catalyst sheets) is vacuum whatever the cell length
    sheet = _slab(size=(2, 2, 1), vacuum=2.0)
    sheet.pbc = (True, True, False)
    assert kpoints_from_cell(sheet, 4.0)[2] == 1


def test_explicit_kpts_are_the_slab_mesh():
    p = {"kpts": [3, 3, 2], "kpt_density": 4.0}
    assert kpoints.kpts_for(p, _slab()) == (3, 3, 1)  # never more than 1 along vacuum
    assert kpoints.kpts_for(p, gas_molecule("H2")) == (1, 1, 1)
    cu = bulk("Cu", "fcc", a=3.61)
    assert kpoints.kpts_for(p, cu) == kpoints_from_cell(cu, 4.0)  # bulk keeps its density mesh


def test_spin_where_needed():
    assert not needs_spin(_slab("Cu"))
    assert needs_spin(_slab("Ni"))
    assert needs_spin(gas_molecule("NO"))  # 15 electrons
    assert not needs_spin(gas_molecule("H2O"))
    assert not needs_spin(_slab("Cu", ads="H"))  # odd electron count, but a metal: no spin
    m = initial_magnetic_moments(_slab("Ni", ads="H"))
    assert np.allclose(m[:-1], 2.0) and m[-1] == 0.0  # Ni 3d8 4s2: two unpaired electrons (Hund)
    no = initial_magnetic_moments(gas_molecule("NO"))
    assert no.sum() == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# identity, validation, install errors
# ---------------------------------------------------------------------------------------------

def test_machine_specific_params_stay_out_of_the_job_identity():
    pp = {"Cu": "Cu.upf", "H": "H.upf"}
    a = CalculatorSetting("espresso", {"pseudopotentials": pp, "pseudo_dir": "/here"})
    b = CalculatorSetting("espresso", {"pseudopotentials": pp, "pseudo_dir": "/cluster/pseudo", "command": "srun pw.x"})
    c = CalculatorSetting("espresso", {"pseudopotentials": pp, "ecutwfc": 50.0})
    assert a.hash == b.hash != c.hash
    assert "pseudo_dir" not in a.as_dict()["params"] and "/here" in a.label()
    v1 = CalculatorSetting("vasp", {"pp_path": "/a"})
    v2 = CalculatorSetting("vasp", {"pp_path": "/b", "command": "mpirun vasp_std"})
    assert v1.hash == v2.hash != CalculatorSetting("vasp", {"encut": 500.0}).hash


def test_bad_params_name_the_field():
    with pytest.raises(ValueError, match="calculator.params.xc"):
        CalculatorSetting("vasp", {"xc": "b3lyp"})
    with pytest.raises(ValueError, match="calculator.params.kpts"):
        CalculatorSetting("vasp", {"kpts": [4, 4]})
    with pytest.raises(ValueError, match="calculator.params.pseudopotentials.*Cu.pbe-kjpaw.UPF"):
        CalculatorSetting("espresso", {"pseudopotentials": {}})
    with pytest.raises(ValueError, match="calculator.params.encut"):
        CalculatorSetting("vasp", {"encut": -1})


def test_espresso_elements_are_those_with_a_pseudopotential():
    s = CalculatorSetting("espresso", {"pseudopotentials": {"Cu": "Cu.upf", "H": "H.upf"}})
    check_elements(s, {"Cu", "H"})
    with pytest.raises(UnsupportedElementsError, match="pseudopotentials"):
        check_elements(s, {"Cu", "O"})


def test_missing_python_backend_is_a_clear_error(monkeypatch):
    real = base.has_module
    monkeypatch.setattr(base, "has_module", lambda name: False if name in ("gpaw", "chgnet") else real(name))
    # a setting is only a record (it can be rebuilt from a store anywhere); the check is explicit,
    # and runs when a spec is validated or a calculator is made
    with pytest.raises(CalculatorUnavailableError, match=r"no3rr-descriptors\[gpaw\].*libxc-dev"):
        CalculatorSetting("gpaw").check_available()
    with pytest.raises(CalculatorUnavailableError, match=r"torch==2.13.0.*no3rr-descriptors\[ml\]"):
        make_calculator(CalculatorSetting("chgnet"))
    # in a spec: exit 2 before anything runs, naming calculator.name
    spec = {"name": "x", "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"]}],
            "adsorbates": ["H"], "calculator": {"name": "gpaw"}}
    with pytest.raises(SpecError, match="calculator.name: 'gpaw' is not usable here"):
        parse_spec(spec)


def test_ml_weights_missing_is_an_error_not_a_download(monkeypatch, tmp_path):
    if base.has_module("chgnet"):
        monkeypatch.setitem(ml.CHGNET_MODELS, "0.3.0", "pretrained/none/missing.pth.tar")
        with pytest.raises(CalculatorUnavailableError, match="missing from the installed package"):
            ml.shipped_checkpoint("chgnet", "0.3.0")
    with pytest.raises(ValueError, match="calculator.params.model"):
        ml.shipped_checkpoint("sevenn", "7net-omat")  # a model sevenn would download: refused


def test_compact_elements():
    assert compact_elements({"H", "He", "Li", "Cu", "Zn"}) == "H-Li, Cu, Zn (5)"
    assert compact_elements(ml.MPTRJ_ELEMENTS) == "H-Bi, Ac-Pu (89)"


def test_no3rr_calculators_lists_every_calculator(capsys, monkeypatch):
    assert main(["calculators", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(base.REGISTRY)
    by = {r["name"]: r for r in rows}
    assert by["emt"]["usable"] and by["emt"]["fidelity"] == "test-only"
    assert set(by["emt"]["elements"]) == {"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"}
    assert {by[n]["fidelity"] for n in ("gpaw", "espresso", "vasp")} == {"dft"}
    assert by["chgnet"]["fidelity"] == by["sevenn"]["fidelity"] == "ml"
    for r in rows:  # usable here <=> nothing missing; otherwise the install line is printed
        assert r["usable"] == (r["missing"] is None)
    # with GPAW hidden, the plain listing says NO and what to install
    real = base.has_module
    monkeypatch.setattr(base, "has_module", lambda name: False if name == "gpaw" else real(name))
    assert main(["calculators"]) == 0
    out = capsys.readouterr().out
    gpaw_lines = out[out.index("\ngpaw"):].splitlines()[1:4]
    assert " NO " in out[out.index("\ngpaw"):].splitlines()[1]
    assert any("libxc-dev" in line for line in gpaw_lines)


# ---------------------------------------------------------------------------------------------
# Quantum ESPRESSO and VASP input files
# ---------------------------------------------------------------------------------------------

def _pw_input(setting, atoms):
    work = atoms.copy()
    calc = make_calculator(setting, atoms=work)
    calc.template.write_input(calc.profile, Path(calc.directory), work, calc.parameters, ["energy", "forces"])
    text = (Path(calc.directory) / "espresso.pwi").read_text()
    with open(Path(calc.directory) / "espresso.pwi") as fh:
        nl, cards = read_fortran_namelist(fh)
    return text, nl, cards


def test_espresso_input_is_what_a_practitioner_writes(tmp_path):
    for el, z in (("Ni", 18.0), ("Cu", 11.0), ("H", 1.0), ("O", 6.0)):
        (tmp_path / f"{el}.UPF").write_text(f'<PP_HEADER element="{el}" z_valence="{z:.6e}"/>')
    pp = {el: f"{el}.UPF" for el in ("Ni", "Cu", "H", "O")}
    s = CalculatorSetting("espresso", {"pseudopotentials": pp, "pseudo_dir": str(tmp_path),
                                       "workdir": str(tmp_path / "scratch")})
    slab = _slab("Ni", size=(2, 2, 3), vacuum=6.0, ads="H")
    text, nl, cards = _pw_input(s, slab)
    c, sy, el = nl["control"], nl["system"], nl["electrons"]
    assert c["calculation"] == "scf" and c["tprnfor"] is True and c["pseudo_dir"] == str(tmp_path)
    assert sy["input_dft"] == "rpbe" and sy["ecutwfc"] == 40.0 and sy["ecutrho"] == 320.0
    assert sy["occupations"] == "smearing" and sy["smearing"] == "mv" and sy["degauss"] == 0.01
    assert sy["nspin"] == 2  # Ni: spin-polarised, starting_magnetization as a fraction of Z_valence
    mags = [v for k, v in sy.items() if k.startswith("starting_magnetization")]
    assert max(mags) == pytest.approx(2.0 / 18.0, abs=1e-4)  # Ni Hund moment 2 (ase.data) / 18 valence e
    assert el["mixing_mode"] == "local-TF"
    # dipole correction along z with the sawtooth turning over inside the vacuum
    assert c["tefield"] is True and c["dipfield"] is True and sy["edir"] == 3 and sy["eamp"] == 0.0
    z = slab.get_scaled_positions()[:, 2]
    lo, hi = z.max(), z.min() + 1.0  # the vacuum between the top layer and the next image
    start, end = sy["emaxpos"], sy["emaxpos"] + sy["eopreg"]
    for f in (start, end):
        f = f if f > z.max() else f + 1.0
        assert lo < f < hi
    assert el["conv_thr"] == 1e-6 and el["mixing_beta"] == 0.3
    k = kpoints_from_cell(slab, 4.0)
    assert f"K_POINTS automatic\n{k[0]} {k[1]} 1  0 0 0" in text
    assert "Ni  58.6934 Ni.UPF" in text and "H  1.008 H.UPF" in text

    # a non-magnetic Cu slab: no spin; a molecule: Gamma, no dipole, tiny smearing
    _, nl_cu, _ = _pw_input(s, _slab("Cu", size=(2, 2, 3), vacuum=6.0, ads="H"))
    assert nl_cu["system"].get("nspin", 1) == 1
    text_m, nl_m, _ = _pw_input(s, gas_molecule("H2O", box=8.0))
    assert "K_POINTS automatic\n1 1 1  0 0 0" in text_m
    assert "tefield" not in nl_m["control"] and nl_m["system"]["degauss"] == 0.001
    assert nl_m["electrons"]["mixing_mode"] == "plain"
    # machine-specific: a missing pseudopotential file is a clear error
    with pytest.raises(CalculatorUnavailableError, match="Ni.UPF not found"):
        (tmp_path / "Ni.UPF").unlink()
        make_calculator(s, atoms=slab.copy())


@pytest.mark.slow
def test_espresso_runs_when_present(tmp_path):
    from conftest import require

    require(espresso._espresso_missing() is None and espresso._pseudo_dir({}) is not None, "pw.x",
            espresso.ESPRESSO_INSTALL)
    s = CalculatorSetting("espresso", {"xc": "pbe", "workdir": str(tmp_path), "ecutwfc": 25.0, "ecutrho": 200.0})
    h2 = gas_molecule("H2", box=6.0)
    h2.calc = make_calculator(s, atoms=h2)
    e = h2.get_potential_energy()
    f = h2.get_forces()
    assert np.isfinite(e) and abs(f[0, 2] + f[1, 2]) < 1e-2  # Newton's third law


def _fake_potcars(root: Path, elements):
    for el in elements:
        d = root / "potpaw_PBE" / el
        d.mkdir(parents=True, exist_ok=True)
        (d / "POTCAR").write_text(f"  PAW_PBE {el} 01Jan2000\n TITEL  = PAW_PBE {el} 01Jan2000\n ZVAL   =   1.0\n"
                                  " End of Dataset\n")


def _incar(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip().upper()] = v.strip()
    return out


def test_vasp_input_is_what_a_practitioner_writes(tmp_path):
    _fake_potcars(tmp_path / "pp", ["Ni", "Cu", "H", "O"])
    s = CalculatorSetting("vasp", {"pp_path": str(tmp_path / "pp"), "workdir": str(tmp_path / "scratch")})
    assert s.elements == {"Ni", "Cu", "H", "O"}  # read from potpaw_PBE
    slab = _slab("Ni", size=(2, 2, 3), vacuum=6.0, ads="H")
    work = slab.copy()
    calc = make_calculator(s, atoms=work)
    calc.write_input(work)
    d = Path(calc.directory)
    inc = _incar(d / "INCAR")
    assert inc["GGA"] == "RP" and float(inc["ENCUT"]) == 400.0 and float(inc["EDIFF"]) == 1e-5
    assert inc["ISMEAR"] == "0" and float(inc["SIGMA"]) == 0.05 and inc["LREAL"].lower() == "auto"
    assert inc["LDIPOL"] == ".TRUE." and inc["IDIPOL"] == "3"
    assert inc["ISPIN"] == "2" and inc["MAGMOM"] == "12*2.0000 1*0.0000"  # Ni moments, none on H
    assert inc["IBRION"] == "-1" and inc["NSW"] == "0"  # ASE's optimizer drives the ionic steps
    k = kpoints_from_cell(slab, 4.0)
    lines = (d / "KPOINTS").read_text().splitlines()
    assert lines[2].strip().lower().startswith("g") and lines[3].split() == [str(k[0]), str(k[1]), "1"]
    from ase.io import read

    pos = read(d / "POSCAR")
    assert pos.get_chemical_formula() == slab.get_chemical_formula()
    assert np.allclose(np.sort(pos.positions[:, 2]), np.sort(slab.positions[:, 2]), atol=1e-6)
    assert (d / "POTCAR").read_text().count("TITEL") == 2  # Ni, H in POSCAR order

    cu = _slab("Cu", size=(2, 2, 3), vacuum=6.0, ads="H")
    calc = make_calculator(s, atoms=cu)
    calc.write_input(cu)
    inc = _incar(Path(calc.directory) / "INCAR")
    assert inc["ISPIN"] == "1" and "MAGMOM" not in inc and inc["LDIPOL"] == ".TRUE."

    mol = gas_molecule("H2O", box=10.0)
    calc = make_calculator(s, atoms=mol)
    calc.write_input(mol)
    inc = _incar(Path(calc.directory) / "INCAR")
    assert "LDIPOL" not in inc and float(inc["SIGMA"]) == 0.01
    assert (Path(calc.directory) / "KPOINTS").read_text().splitlines()[3].split() == ["1", "1", "1"]


@pytest.mark.skipif(vasp._vasp_missing() is not None, reason="VASP not available (licensed; not required in CI)")
def test_vasp_runs_when_present(tmp_path):
    s = CalculatorSetting("vasp", {"workdir": str(tmp_path), "encut": 300.0})
    h2 = gas_molecule("H2", box=6.0)
    h2.calc = make_calculator(s, atoms=h2)
    assert np.isfinite(h2.get_potential_energy())


def test_gpaw_spec_validation_uses_the_setups_on_disk():
    if calculator_info("gpaw").availability() is not None:
        pytest.skip("gpaw not installed here")
    base = {"name": "x", "adsorbates": ["H"], "calculator": {"name": "gpaw", "params": {"mode": "lcao"}},
            "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"]}]}
    parse_spec(base)
    s = CalculatorSetting("gpaw", {"mode": "lcao"})
    missing = sorted(set(ml.MPTRJ_ELEMENTS) - s.elements)
    assert missing, "every element has a setup?"
    bad = dict(base, catalysts=[{"type": "slab", "metals": [missing[0]], "facets": ["111"], "structure": "fcc"}])
    with pytest.raises(SpecError, match=f"{missing[0]} not supported by calculator 'gpaw'"):
        parse_spec(bad)
    with pytest.raises(SpecError, match="calculator.params.xc"):
        parse_spec(dict(base, calculator={"name": "gpaw", "params": {"xc": "B3LYP"}}))
