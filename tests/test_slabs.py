import numpy as np
import pytest
from ase.constraints import FixAtoms

from descriptors.structures.slabs import (bulk_cell, crystal_structure, metal_slab, parse_facet, reference_lattice,
                               single_atom_alloy)


@pytest.mark.parametrize("metal, facet, structure", [("Cu", "100", "fcc"), ("Cu", "111", "fcc"), ("Pt", "110", "fcc"),
                                                     ("Fe", "110", "bcc"), ("W", "100", "bcc"), ("Ru", "0001", "hcp"),
                                                     ("Cu", "210", "fcc"), ("Co", "10-10", "hcp")])
def test_slab_any_metal_and_facet(metal, facet, structure):
    s = metal_slab(metal, facet, size=(2, 2), layers=4, vacuum=7.0, fixed_layers=2)
    assert crystal_structure(metal) == structure
    assert set(s.get_chemical_symbols()) == {metal}
    z = s.positions[:, 2]
    # vacuum on both sides along z
    assert s.cell[2, 2] - (z.max() - z.min()) > 13.9
    fixed = [c for c in s.constraints if isinstance(c, FixAtoms)][0].get_indices()
    # the fixed atoms are the bottom ones, half the slab here
    assert len(fixed) == len(s) // 2
    assert z[fixed].max() < z[np.setdiff1d(np.arange(len(s)), fixed)].min() + 1e-6
    assert s.info["catalyst"].startswith(metal + "(")


def test_fcc100_geometry_matches_lattice_constant():
    a = 3.6
    s = metal_slab("Cu", "100", size=(3, 3), layers=4, a=a)
    top = s.positions[s.get_tags() == 1]
    assert len(top) == 9
    # nearest-neighbour distance in the (100) plane is a/sqrt(2); interlayer spacing a/2
    d = np.linalg.norm(top[1] - top[0])
    assert d == pytest.approx(a / np.sqrt(2), abs=1e-6)
    z = sorted(set(np.round(s.positions[:, 2], 6)))
    assert np.diff(z) == pytest.approx([a / 2] * 3)


def test_fcc111_interlayer_spacing():
    a = 3.61
    s = metal_slab("Cu", "111", size=(3, 3), layers=4, a=a)
    z = sorted(set(np.round(s.positions[:, 2], 6)))
    assert np.diff(z) == pytest.approx([a / np.sqrt(3)] * 3)


def test_experimental_reference_lattice():
    a, c = reference_lattice("Cu")
    assert a == pytest.approx(3.61, abs=0.01)  # Kittel
    a, c = reference_lattice("Ru")
    assert c / a == pytest.approx(1.58, abs=0.01)


def test_bulk_supercell_for_gamma_only():
    b = bulk_cell("Cu", "fcc", 3.61, min_length=10.0)
    assert min(b.cell.lengths()) >= 10.0
    assert len(b) == 4 * 27


def test_parse_facet():
    assert parse_facet("111", "fcc") == (1, 1, 1)
    assert parse_facet("0001", "hcp") == (0, 0, 0, 1)
    assert parse_facet("10-10", "hcp") == (1, 0, -1, 0)
    assert parse_facet([1, 1, 0], "bcc") == (1, 1, 0)
    with pytest.raises(ValueError, match="three Miller"):
        parse_facet("11", "fcc")
    with pytest.raises(ValueError, match="h\\+k\\+i=0"):
        parse_facet("1101", "hcp")


def test_single_atom_alloy_replaces_one_top_atom():
    s = metal_slab("Cu", "111", size=(3, 3), layers=4)
    saa = single_atom_alloy(s, "Pd")
    syms = np.array(saa.get_chemical_symbols())
    assert (syms == "Pd").sum() == 1
    i = int(np.flatnonzero(syms == "Pd")[0])
    assert saa.get_tags()[i] == 1
    assert saa.info["catalyst"] == "Pd1Cu(111)"
    assert saa.info["solute_index"] == i
    with pytest.raises(ValueError, match="solute"):
        single_atom_alloy(s, "Xx")
