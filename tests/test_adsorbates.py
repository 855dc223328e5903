import numpy as np
import pytest
from ase.data import atomic_numbers, covalent_radii
from ase.neighborlist import NeighborList, natural_cutoffs

from descriptors.geometry import (
    ADSORBATES,
    find_site_pairs,
    find_sites,
    get_adsorbate,
    place,
    place_bidentate,
)
from descriptors.structures.slabs import metal_slab

NETWORK = ["NO3", "NO2", "NO", "NOH", "HNO", "N", "NH", "NH2", "NH3", "NH2OH", "O", "OH", "H", "NO3H", "NO2H",
           "H2NO", "NHOH", "N2O", "N2"]


def test_library_covers_the_no3rr_network():
    for name in NETWORK:
        assert name in ADSORBATES
    assert get_adsorbate("*NHO").name == "HNO"
    assert {m.name for m in ADSORBATES["NO3"].modes} == {"O,O", "O"}
    assert {m.name for m in ADSORBATES["NO2"].modes} == {"N", "O,O"}
    with pytest.raises(ValueError, match="unknown adsorbate"):
        get_adsorbate("CO2H")
    with pytest.raises(ValueError, match="unknown adsorbate"):  # NH4+ is not *NH3: no silent swap
        get_adsorbate("NH4")
    assert get_adsorbate("*HNO3").name == "NO3H" and get_adsorbate("HNO2").name == "NO2H"


def test_library_has_every_surface_species_of_the_shipped_networks():
    from descriptors.analysis.netdata import load_networks

    for net in load_networks().values():
        for s in net.adsorbates():
            a = get_adsorbate(s)
            assert a.formula_counts == dict(net.species[s].formula), s
            assert a.modes and all(m.sites for m in a.modes)


@pytest.mark.parametrize("name", list(ADSORBATES))
def test_gas_geometry_is_a_connected_molecule(name):
    """Initial geometries: bonds within 0.85-1.15 x covalent sums, no clashes, one molecule."""
    ads = ADSORBATES[name]
    for mode in ads.modes:
        a = ads.atoms(mode)
        d = a.get_all_distances()
        n = len(a)
        if n > 1:
            z = a.numbers
            ref = covalent_radii[z][:, None] + covalent_radii[z][None, :]
            assert (d + np.eye(n) * 10 > 0.7 * ref).all(), "atoms too close"
            nl = NeighborList(natural_cutoffs(a, mult=1.15), self_interaction=False, bothways=True)
            nl.update(a)
            from scipy.sparse.csgraph import connected_components
            ncomp, _ = connected_components(nl.get_connectivity_matrix())
            assert ncomp == 1
        # binding atoms at z=0, everything else not below them
        b = list(mode.binding)
        assert np.allclose(a.positions[b, 2], 0.0, atol=1e-6)
        assert a.positions[:, 2].min() > -1e-6


def test_place_on_every_site_binding_atom_at_bond_distance():
    slab = metal_slab("Cu", "111", size=(3, 3), layers=3, fixed_layers=1)
    for site in find_sites(slab):
        s = place(slab, "N", site)
        n = s.info["binding_indices"][0]
        d = s.get_distances(n, s.info["site_indices"], mic=True)
        target = covalent_radii[atomic_numbers["N"]] + covalent_radii[atomic_numbers["Cu"]]
        assert d.min() == pytest.approx(target, abs=0.05) or d.min() > target  # never closer than the bond
        assert np.allclose(d, d[0], atol=1e-6), f"{site.label}: N not centred over the site"
        # N above the surface, nothing overlaps
        assert s.positions[n, 2] > slab.positions[:, 2].max()
        assert s.get_all_distances(mic=True)[n][:len(slab)].min() > 1.5


def test_bidentate_no3_on_neighbouring_top_sites():
    slab = metal_slab("Cu", "100", size=(3, 3), layers=3, fixed_layers=1)
    pairs = [p for p in find_site_pairs(slab) if p.identity_label == "top+top" and abs(p.distance - 2.553) < 0.02]
    assert pairs
    s = place_bidentate(slab, "NO3", pairs[0])
    o1, o2 = s.info["binding_indices"]
    i, j = pairs[0].first.indices[0], pairs[0].second.indices[0]
    # each O sits over its own Cu: nearest surface atoms differ
    d1 = s.get_distances(o1, [i, j], mic=True)
    d2 = s.get_distances(o2, [i, j], mic=True)
    assert np.argmin(d1) != np.argmin(d2)
    # the nitrogen is above both oxygens (O,O-down)
    n = s.info["adsorbate_indices"][0]
    assert s.positions[n, 2] > max(s.positions[o1, 2], s.positions[o2, 2])
