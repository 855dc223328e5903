"""The vectorised EMT (descriptors.calculators.emt.VectorEMT) computes what ASE's EMT computes.

Reference: ASE's own ``ase.calculators.emt.EMT`` (a loop over atoms in Python), on the same Atoms.
Energies, per-atom energies, forces and stress agree within 1e-9 (eV, eV/A, eV/A^3); forces are the
gradient of the energy (central differences); a store computed with ASE's class is resumed with the
vectorised one with zero calculator calls and the same numbers.
"""

import csv

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, bulk, fcc100, fcc111, molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.emt import EMT, parameters

from descriptors.calculators import CalculatorSetting, check_elements, make_calculator
from descriptors.calculators import emt as emt_mod
from descriptors.calculators.emt import VectorEMT, half_pairs
from descriptors.geometry.adsorbates import ADSORBATES as _ADS
from descriptors.specs import parse_spec
from descriptors.workflows.screen import run_screen

TOL = 1e-9
ADSORBATES = {name: _ADS[name].atoms(_ADS[name].modes[0]) for name in ("H", "N", "O", "NO", "NO3", "NH3")}


def _compare(atoms, calc=None):
    """Both calculators on copies of ``atoms``: every property ASE's EMT gives, within TOL."""
    ref, new = atoms.copy(), atoms.copy()
    ref.calc, new.calc = EMT(), calc or VectorEMT()
    e_ref, e_new = ref.get_potential_energy(), new.get_potential_energy()
    assert abs(e_new - e_ref) < TOL, (e_new, e_ref)
    assert new.get_potential_energy(force_consistent=True) == pytest.approx(e_ref, abs=TOL)
    assert np.abs(new.get_forces() - ref.get_forces()).max(initial=0.0) < TOL
    assert np.abs(new.get_potential_energies() - ref.get_potential_energies()).max(initial=0.0) < TOL
    if atoms.cell.rank == 3:
        assert np.abs(new.get_stress() - ref.get_stress()).max() < TOL
    else:
        for a in (ref, new):
            with pytest.raises(PropertyNotImplementedError):
                a.get_stress()
    return e_ref


def _perturbed(atoms, seed, scale=0.15):
    a = atoms.copy()
    a.positions += np.random.default_rng(seed).normal(0.0, scale, a.positions.shape)
    return a


@pytest.mark.parametrize("symbol", sorted(parameters))
def test_every_element_ase_supports(symbol):
    """Bulk fcc of each element (one atom per cell: it sees its own images), strained and sheared, and a
    perturbed free trimer; values are far from zero (not a trivially passing comparison)."""
    s0 = parameters[symbol][1] * 0.529177  # Wigner-Seitz radius (A)
    a = (16 * np.pi / 3) ** (1 / 3) * s0  # fcc lattice constant at that radius
    prim = bulk(symbol, "fcc", a=a)
    e = _compare(prim)
    assert abs(e) < 0.1  # EMT's reference: the fcc crystal at s0 has nearly zero energy
    sheared = prim.copy()
    sheared.set_cell(prim.cell.array @ np.array([[1.03, 0.02, 0.0], [0.0, 0.98, 0.01], [0.01, 0.0, 1.05]]),
                     scale_atoms=True)
    assert abs(_compare(sheared) - e) > 1e-4
    cub = _perturbed(bulk(symbol, "fcc", a=a, cubic=True), 1, 0.1)
    assert np.abs(cub.copy().get_positions()).max() > 0
    _compare(cub)
    trimer = _perturbed(Atoms(3 * symbol, positions=[[0, 0, 0], [2.2, 0, 0], [1.1, 1.9, 0.1]]), 2, 0.1)
    assert abs(_compare(trimer)) > 0.5


@pytest.mark.parametrize("facet", ["100", "111"])
@pytest.mark.parametrize("metal", ["Cu", "Pt", "Ni"])
def test_slabs_clean_and_with_adsorbates(metal, facet):
    build = fcc100 if facet == "100" else fcc111
    slab = build(metal, (3, 3, 4), vacuum=7.5)
    _compare(slab)
    _compare(_perturbed(slab, 3))
    for k, (name, ads) in enumerate(ADSORBATES.items()):
        s = slab.copy()
        add_adsorbate(s, ads, 1.6, "ontop" if name == "NH3" else "hollow" if facet == "100" else "fcc")
        _compare(s)
        _compare(_perturbed(s, 10 + k, 0.1))


def test_mixed_metal_slab_and_all_species():
    slab = fcc111("Cu", (3, 3, 3), vacuum=6.0)
    symbols = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al"]
    slab.symbols = [symbols[i % len(symbols)] for i in range(len(slab))]
    for name in ("NO3", "NH3"):
        add_adsorbate(slab, ADSORBATES[name], 1.8, "fcc")
    add_adsorbate(slab, Atoms("C"), 1.4, "hcp")
    _compare(_perturbed(slab, 5, 0.08))


def test_isolated_molecules_and_atoms_without_neighbours():
    """No periodicity, no cell; a lone atom (no neighbour: energy -E0 as in ASE) and atoms beyond the cutoff."""
    for name in ("NO", "NO3", "NH3", "H2O", "CO2", "N2", "H2"):
        m = ADSORBATES[name].copy() if name == "NO3" else molecule(name)
        assert not m.pbc.any() and m.cell.rank == 0
        _compare(_perturbed(m, 7, 0.05))
    lone = Atoms("Cu")
    assert _compare(lone) == pytest.approx(-parameters["Cu"][0])
    far = Atoms("CuN", positions=[[0, 0, 0], [0, 0, 30.0]])
    assert _compare(far) == pytest.approx(-parameters["Cu"][0] - parameters["N"][0])
    one_near = Atoms("CuNO", positions=[[0, 0, 0], [0, 0, 30.0], [0, 0, 31.2]])
    _compare(one_near)


def test_mixed_periodicity_and_atoms_outside_the_cell():
    wire = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0.1, 0], [5.1, 0, 0.2]], cell=[7.6, 10, 10],
                 pbc=[True, False, False])
    _compare(wire)
    sheet = fcc111("Pd", (2, 2, 1), vacuum=5.0)
    sheet.pbc = [True, False, True]  # periodic along a and the vacuum axis, not along b
    _compare(_perturbed(sheet, 8, 0.1))
    slab = fcc100("Au", (2, 2, 3), vacuum=6.0)
    add_adsorbate(slab, molecule("NO"), 1.7, "hollow")
    slab.positions[0] += 2 * slab.cell[0] - 3 * slab.cell[1]  # far outside along periodic axes
    slab.positions[-1] += slab.cell[2]  # outside along the vacuum axis
    _compare(slab)
    periodic_3d = slab.copy()
    periodic_3d.pbc = True
    _compare(periodic_3d)


def test_small_cells_that_see_their_own_images():
    """Cells smaller than the 5.9 A cutoff in every direction, triclinic too."""
    for a in (bulk("Al", "fcc", a=4.05), bulk("Cu", "bcc", a=2.9), bulk("Ni", "hcp", a=2.5, c=4.1),
              bulk("Ag", "sc", a=2.7)):
        _compare(_perturbed(a.repeat((1, 2, 1)), 9, 0.05))
    tri = Atoms("CuO", scaled_positions=[[0, 0, 0], [0.4, 0.5, 0.6]],
                cell=[[2.6, 0, 0], [1.2, 2.4, 0], [0.7, -0.9, 2.3]], pbc=True)
    _compare(tri)


def test_asap_cutoff_parameter():
    s = fcc111("Cu", (2, 2, 3), vacuum=6.0)  # smaller than Ag: another cutoff with asap_cutoff
    add_adsorbate(s, Atoms("O"), 1.5, "fcc")
    ref, new = s.copy(), s.copy()
    ref.calc, new.calc = EMT(asap_cutoff=True), VectorEMT(asap_cutoff=True)
    assert new.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=TOL)
    assert np.abs(new.get_forces() - ref.get_forces()).max() < TOL
    plain = s.copy()
    plain.calc = VectorEMT()
    assert abs(plain.get_potential_energy() - new.get_potential_energy()) > 1e-6  # the parameter matters


def test_forces_are_the_gradient_of_the_energy():
    s = fcc111("Cu", (2, 2, 3), vacuum=6.0, periodic=True)
    add_adsorbate(s, ADSORBATES["NO3"], 1.8, "fcc")
    s = _perturbed(s, 11, 0.05)
    s.calc = VectorEMT()
    f = s.get_forces()
    h = 1e-5
    for a in (0, 5, len(s) - 4, len(s) - 1):
        for k in range(3):
            e = []
            for sign in (1, -1):
                b = s.copy()
                b.calc = VectorEMT()
                b.positions[a, k] += sign * h
                e.append(b.get_potential_energy())
            assert -(e[0] - e[1]) / (2 * h) == pytest.approx(f[a, k], abs=1e-6)
    # and the stress is the strain derivative of the energy (per volume)
    eps = 1e-6
    st = s.get_stress(voigt=False)
    for (p, q) in ((0, 0), (2, 2), (0, 1)):
        e = []
        for sign in (1, -1):
            b = s.copy()
            b.calc = VectorEMT()
            strain = np.eye(3)
            strain[p, q] += sign * eps
            b.set_cell(s.cell.array @ strain, scale_atoms=True)
            e.append(b.get_potential_energy())
        assert (e[0] - e[1]) / (2 * eps) / s.get_volume() == pytest.approx(st[p, q], abs=1e-7)


def test_one_calculator_over_a_relaxation_rebuilds_its_pairs_only_when_needed():
    """The same calculator object through moves smaller and larger than half the skin, a new cell and
    new elements: every step equals a fresh ASE EMT."""
    s = fcc100("Cu", (3, 3, 3), vacuum=6.0)
    add_adsorbate(s, molecule("NO"), 1.7, "hollow")
    calc = VectorEMT()
    rng = np.random.default_rng(4)
    builds = []
    for step in range(12):
        if step == 6:
            s.positions[-1] += [0.0, 0.0, 0.8 * calc.skin]  # one atom beyond half the skin
        else:
            s.positions += rng.normal(0.0, 0.01, s.positions.shape)
        s.calc = calc
        e = s.get_potential_energy()
        f = s.get_forces()
        r = s.copy()
        r.calc = EMT()
        assert e == pytest.approx(r.get_potential_energy(), abs=TOL)
        assert np.abs(f - r.get_forces()).max() < TOL
        builds.append(calc.builds)
        # the calculator keeps its own copy of what it computed (ASE's Calculator.calculate semantics)
        assert calc.atoms is not s and not np.shares_memory(calc.atoms.positions, s.positions)
        assert np.array_equal(calc.atoms.positions, s.positions) and calc.check_state(s) == []
    assert builds[0] == 1 and builds[5] == 1 and builds[6] == 2  # small moves reuse the list
    s.set_cell(s.cell.array * 1.01, scale_atoms=True)
    _compare(s, calc)
    assert calc.builds == 3
    s.symbols[0] = "Pt"
    _compare(s, calc)
    s2 = fcc111("Au", (2, 2, 3), vacuum=5.0)
    _compare(s2, calc)


def test_pair_search_paths_agree():
    """The all-pairs search over images (small systems) and ASE's binned search (large) find the same pairs."""
    def canon(i, j, s):
        out = set()
        for a, b, t in zip(i.tolist(), j.tolist(), map(tuple, s.tolist())):
            out.add(min((a, b, t), (b, a, tuple(-x for x in t))))
        return out

    for atoms in (_perturbed(fcc111("Cu", (3, 3, 4), vacuum=7.5), 1, 0.2), bulk("Cu", "fcc", a=3.6),
                  _perturbed(bulk("Ni", "fcc", a=3.5, cubic=True).repeat((2, 1, 1)), 2, 0.2), molecule("NH3")):
        atoms.positions[0] += 1.7 * atoms.cell[0]
        small = half_pairs(atoms.pbc, atoms.cell.array, atoms.positions, 6.4)
        large = half_pairs(atoms.pbc, atoms.cell.array, atoms.positions, 6.4, brute_force_max_atoms=0)
        assert len(small[0]) == len(canon(*small)) == len(canon(*large)) > 0
        assert canon(*small) == canon(*large)


def test_large_system_path(monkeypatch):
    monkeypatch.setattr(emt_mod, "BRUTE_FORCE_MAX_ATOMS", 10)
    s = fcc111("Pt", (3, 3, 3), vacuum=6.0)
    add_adsorbate(s, molecule("NH3"), 2.0, "ontop")
    _compare(_perturbed(s, 6, 0.05))


def test_unsupported_element_fails_as_in_ase():
    fe = bulk("Fe", "bcc", a=2.87)
    errors = []
    for calc in (EMT(), VectorEMT()):
        fe.calc = calc
        with pytest.raises(NotImplementedError) as err:
            fe.get_potential_energy()
        errors.append(str(err.value))
    assert errors[0] == errors[1] == "No EMT-potential for Fe"
    with pytest.raises(ValueError, match="element\\(s\\) Fe not supported by calculator 'emt'"):
        check_elements(CalculatorSetting("emt"), {"Cu", "Fe"})


def test_implementation_is_selectable_and_not_part_of_the_identity():
    default, ase_impl = CalculatorSetting("emt"), CalculatorSetting("emt", {"implementation": "ase"})
    assert default.hash == ase_impl.hash and default.as_dict() == ase_impl.as_dict()
    assert CalculatorSetting("emt", {"implementation": "numpy"}).hash == default.hash
    assert CalculatorSetting("emt", {"asap_cutoff": True}).hash != default.hash
    assert type(make_calculator(default)) is VectorEMT
    assert type(make_calculator(ase_impl)) is EMT
    assert make_calculator(default).name == make_calculator(ase_impl).name == "emt"
    assert make_calculator(default).todict() == make_calculator(ase_impl).todict()
    with pytest.raises(ValueError, match="calculator.params.implementation: 'fortran' not understood"):
        CalculatorSetting("emt", {"implementation": "fortran"})


SPEC = {
    "name": "emt-impl", "adsorbates": ["H", "NO3"],
    # "relaxed": the lattice constant from an EOS fit with EMT, as in the quick start, so that the whole chain
    # bulk -> clean -> placements is resumed from stored results
    "catalysts": [{"type": "slab", "metals": ["Cu", "Pt"], "facets": ["111"], "size": [2, 2], "layers": 3,
                   "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "relaxed"}],
    "relax": {"fmax": 0.05, "steps": 200}, "placement": {"site_kinds": ["hollow"]},
}


def _count_calls(monkeypatch):
    calls = {"EMT": 0, "VectorEMT": 0}
    for cls in (EMT, VectorEMT):
        original = cls.__dict__["calculate"]

        def counted(self, *a, _orig=original, _name=cls.__name__, **k):
            calls[_name] += 1
            return _orig(self, *a, **k)

        monkeypatch.setattr(cls, "calculate", counted)
    return calls


def _spec(**calc):
    return parse_spec(dict(SPEC, calculator={"name": "emt", "params": calc} if calc else {"name": "emt"}))


def test_store_made_with_ase_emt_resumes_with_zero_calls_and_the_same_numbers(tmp_path, monkeypatch):
    calls = _count_calls(monkeypatch)
    out = tmp_path / "ase"
    first = run_screen(_spec(implementation="ase"), out=out, progress=False, quiet=True, engine="serial")
    assert first.stats["computed"] > 10 and first.stats["failed"] == 0
    assert calls["EMT"] > 100 and calls["VectorEMT"] == 0
    calls["EMT"] = 0
    again = run_screen(_spec(), out=out, progress=False, quiet=True, engine="serial")
    assert again.stats["computed"] == 0 and again.stats["reused"] == first.stats["computed"]
    assert calls == {"EMT": 0, "VectorEMT": 0}
    # the same screen computed afresh with the vectorised EMT: same sites, the same energies to 1e-6 eV
    fresh = run_screen(_spec(), out=tmp_path / "numpy", progress=False, quiet=True, engine="serial")
    assert fresh.stats["computed"] == first.stats["computed"] and calls["EMT"] == 0 and calls["VectorEMT"] > 100
    rows = {}
    for name in ("ase", "numpy"):
        with open(tmp_path / name / "all_sites.csv") as fh:
            rows[name] = list(csv.DictReader(fh))
    assert len(rows["ase"]) == len(rows["numpy"]) > 5
    for a, b in zip(rows["ase"], rows["numpy"]):
        assert (a["catalyst"], a["adsorbate"], a["site"]) == (b["catalyst"], b["adsorbate"], b["site"])
        for k in a:
            if k.startswith("E_") and a[k]:
                assert float(a[k]) == pytest.approx(float(b[k]), abs=1e-6), k
