"""Adsorption-site finder: physics of the sites on textbook facets, SAA and SAC/DAC models."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bcc100, bcc110, bcc111, fcc100, fcc110, fcc111, fcc211, graphene, hcp0001, nanotube

from descriptors.geometry import Site, SitePair, find_site_pairs, find_sites, site_position
from _geom import mic_lateral

A_CU = 3.61  # ase.build default lattice constant of Cu (ase.data.reference_states)
A_FE = 2.87  # ase.build default lattice constant of bcc Fe
NN_CU = A_CU / np.sqrt(2)  # 2.553 A


def by_label(sites):
    return {s.label: s for s in sites}


def lateral(v):
    return float(np.linalg.norm(np.asarray(v)[:2]))


def site_atom_xyz(atoms, site):
    return np.array([atoms.positions[i] + np.dot(o, atoms.cell) for i, o in zip(site.indices, site.offsets)])


def top_layer(atoms, tol=0.1):
    z = atoms.positions[:, 2]
    return [i for i in range(len(atoms)) if z[i] > z.max() - tol]


@pytest.fixture(scope="module")
def cu111():
    return fcc111("Cu", (3, 3, 4), vacuum=8.0)


@pytest.fixture(scope="module")
def cu100():
    return fcc100("Cu", (3, 3, 4), vacuum=8.0)


# ------------------------------------------------------------------------------------------------
# close-packed and (100) faces
# ------------------------------------------------------------------------------------------------
def test_fcc111_unique_sites_and_multiplicities(cu111):
    sites = find_sites(cu111)
    assert [s.label for s in sites] == ["top", "bridge", "fcc", "hcp"]
    s = by_label(sites)
    # 3x3 cell: 9 surface atoms, 27 nearest-neighbour edges, 18 triangles = 9 fcc + 9 hcp
    assert {k: v.multiplicity for k, v in s.items()} == {"top": 9, "bridge": 27, "fcc": 9, "hcp": 9}
    assert [x.coordination for x in sites] == [1, 2, 3, 3]
    assert [x.kind for x in sites] == ["top", "bridge", "hollow", "hollow"]
    for x in sites:
        assert x.normal == (0.0, 0.0, 1.0)
        assert len(x.indices) == len(x.offsets) == x.coordination
        np.testing.assert_allclose(site_position(cu111, x), x.position, atol=1e-9)
        # every site sits at the height of the top layer
        assert x.position[2] == pytest.approx(cu111.positions[:, 2].max(), abs=1e-6)
    b = site_atom_xyz(cu111, s["bridge"])
    assert np.linalg.norm(b[0] - b[1]) == pytest.approx(NN_CU, abs=0.01)


def test_fcc111_hcp_has_second_layer_atom_below_and_fcc_does_not(cu111):
    s = by_label(find_sites(cu111))
    z = cu111.positions[:, 2]
    layers = np.unique(np.round(z, 2))[::-1]  # top first
    d_layer = layers[0] - layers[1]
    assert d_layer == pytest.approx(A_CU / np.sqrt(3), abs=0.01)  # (111) spacing a/sqrt(3)
    second = [i for i in range(len(cu111)) if abs(z[i] - layers[1]) < 0.1]
    third = [i for i in range(len(cu111)) if abs(z[i] - layers[2]) < 0.1]
    dist2 = {k: min(mic_lateral(cu111, s[k].position, cu111.positions[i]) for i in second) for k in ("fcc", "hcp")}
    dist3 = {k: min(mic_lateral(cu111, s[k].position, cu111.positions[i]) for i in third) for k in ("fcc", "hcp")}
    assert dist2["hcp"] < 0.05  # a 2nd-layer atom right below the hcp hollow
    assert dist2["fcc"] > 1.0  # none below the fcc hollow ...
    assert dist3["fcc"] < 0.05  # ... whose atom below is in the 3rd layer (ABC stacking)
    # the hollow is equidistant (a/sqrt6 = nn/sqrt3) from its three surface atoms
    for k in ("fcc", "hcp"):
        xyz = site_atom_xyz(cu111, s[k])
        r = [lateral(p - np.array(s[k].position)) for p in xyz]
        np.testing.assert_allclose(r, NN_CU / np.sqrt(3), atol=0.01)


def test_fcc100_sites_hollow_equidistant_from_four_atoms(cu100):
    sites = find_sites(cu100)
    assert [s.label for s in sites] == ["top", "bridge", "hollow"]
    s = by_label(sites)
    assert (s["top"].multiplicity, s["bridge"].multiplicity, s["hollow"].multiplicity) == (9, 18, 9)
    hollow = s["hollow"]
    assert hollow.kind == "hollow" and hollow.coordination == 4  # the square's diagonal was merged away
    xyz = site_atom_xyz(cu100, hollow)
    r = [lateral(p - np.array(hollow.position)) for p in xyz]
    np.testing.assert_allclose(r, A_CU / 2, atol=0.01)  # centre of a square of side a/sqrt2
    # the square's diagonal (a = 3.61 A) is not a bridge: the only bridge is the nearest-neighbour one
    b = site_atom_xyz(cu100, s["bridge"])
    assert np.linalg.norm(b[0] - b[1]) == pytest.approx(NN_CU, abs=0.01)
    # the 4-fold hollow has a 2nd-layer atom below it
    z = cu100.positions[:, 2]
    second = [i for i in range(len(cu100)) if abs(z[i] - (z.max() - A_CU / 2)) < 0.1]
    assert min(mic_lateral(cu100, hollow.position, cu100.positions[i]) for i in second) < 0.05


def test_hcp0001_has_top_bridge_fcc_hcp():
    ru = hcp0001("Ru", (2, 2, 4), vacuum=8.0)
    sites = find_sites(ru)
    assert [s.label for s in sites] == ["top", "bridge", "fcc", "hcp"]
    assert [s.multiplicity for s in sites] == [4, 12, 4, 4]


def test_bcc100_three_sites():
    fe = bcc100("Fe", (2, 2, 4), vacuum=8.0)
    sites = find_sites(fe)
    assert [s.label for s in sites] == ["top", "bridge", "hollow"]
    s = by_label(sites)
    assert s["hollow"].coordination == 4
    b = site_atom_xyz(fe, s["bridge"])
    assert np.linalg.norm(b[0] - b[1]) == pytest.approx(A_FE, abs=0.01)  # square of side a


def test_bcc110_top_short_long_bridge_and_threefold_hollow():
    fe = bcc110("Fe", (2, 2, 4), vacuum=8.0)
    sites = find_sites(fe)
    assert sorted(s.label for s in sites) == ["bridge-long", "bridge-short", "hollow", "top"]
    s = by_label(sites)
    short = site_atom_xyz(fe, s["bridge-short"])
    long = site_atom_xyz(fe, s["bridge-long"])
    assert np.linalg.norm(short[0] - short[1]) == pytest.approx(A_FE * np.sqrt(3) / 2, abs=0.01)
    assert np.linalg.norm(long[0] - long[1]) == pytest.approx(A_FE, abs=0.01)
    assert s["hollow"].coordination == 3  # quasi-3-fold, not equilateral -> not 'fcc'/'hcp'
    assert s["bridge-short"].multiplicity == 2 * s["top"].multiplicity


# ------------------------------------------------------------------------------------------------
# open and stepped facets
# ------------------------------------------------------------------------------------------------
def test_fcc110_default_includes_trough_atoms():
    """Default rule: the 2nd-layer (trough) atoms of fcc(110) are under-coordinated (CN 11) and exposed.

    Triangulating rows + trough atoms gives 7 sites: top on a row atom (top-1), top on a trough atom
    (top-2 = the position of the textbook 4-fold hollow), three bridges (row-row = short bridge,
    row-trough, trough-trough = the position of the long bridge) and two pseudo-3-fold hollows
    (two row atoms + one trough atom, and the reverse).
    """
    cu = fcc110("Cu", (2, 2, 4), vacuum=8.0)
    sites = find_sites(cu)
    s = by_label(sites)
    assert [x.label for x in sites] == ["top-1", "top-2", "bridge-1", "bridge-2", "bridge-3", "hollow-1", "hollow-2"]
    z_top = cu.positions[:, 2].max()
    assert s["top-1"].position[2] == pytest.approx(z_top)
    assert s["top-2"].position[2] == pytest.approx(z_top - A_CU / (2 * np.sqrt(2)), abs=0.01)  # trough
    # all bridges join nearest neighbours (2.55 A in 3-D)
    for k in ("bridge-1", "bridge-2", "bridge-3"):
        b = site_atom_xyz(cu, s[k])
        assert np.linalg.norm(b[0] - b[1]) == pytest.approx(NN_CU, abs=0.01)
    assert all(s[k].coordination == 3 for k in ("hollow-1", "hollow-2"))


def test_fcc110_top_rows_only_gives_textbook_sites():
    """surface_depth below the 1.28 A interlayer spacing keeps only the rows: top, short/long bridge, hollow."""
    cu = fcc110("Cu", (2, 2, 4), vacuum=8.0)
    sites = find_sites(cu, surface_depth=0.5)
    assert [x.label for x in sites] == ["top", "bridge-long", "bridge-short", "hollow"]
    s = by_label(sites)
    short, long = site_atom_xyz(cu, s["bridge-short"]), site_atom_xyz(cu, s["bridge-long"])
    assert np.linalg.norm(short[0] - short[1]) == pytest.approx(NN_CU, abs=0.01)
    assert np.linalg.norm(long[0] - long[1]) == pytest.approx(A_CU, abs=0.01)
    assert s["hollow"].coordination == 4
    assert [x.multiplicity for x in sites] == [4, 4, 4, 4]


def test_stepped_and_open_facets_expose_lower_atoms():
    # fcc(211): step edge, terrace and step-bottom (corner) atoms are all surface atoms
    cu = fcc211("Cu", (3, 2, 4), vacuum=8.0)
    tops = [x for x in find_sites(cu) if x.kind == "top"]
    heights = sorted((round(cu.positions[:, 2].max() - x.position[2], 2) for x in tops))
    assert heights == pytest.approx([0.0, 0.74, 1.47], abs=0.02)
    # bcc(111): three atomic layers (0.83 A apart) are exposed
    fe = bcc111("Fe", (2, 2, 6), vacuum=8.0)
    tops = [x for x in find_sites(fe) if x.kind == "top"]
    assert [x.label for x in tops] == ["top-1", "top-2", "top-3"]
    assert tops[0].position[2] - tops[2].position[2] == pytest.approx(A_FE / np.sqrt(3), abs=0.01)


# ------------------------------------------------------------------------------------------------
# relaxed copies, alloys
# ------------------------------------------------------------------------------------------------
def test_site_position_follows_rattled_atoms(cu111):
    sites = find_sites(cu111)
    pairs = find_site_pairs(cu111)
    moved = cu111.copy()
    moved.rattle(stdev=0.1, seed=3)
    moved.positions[:, 2] += 0.2
    for site in sites + [p.second for p in pairs]:
        expected = site_atom_xyz(moved, site).mean(axis=0)
        np.testing.assert_allclose(site_position(moved, site), expected, atol=1e-9)
        np.testing.assert_allclose(site_position(cu111, site), site.position, atol=1e-9)
        assert np.linalg.norm(site_position(moved, site) - np.array(site.position)) > 0.05


def test_single_atom_alloy_breaks_symmetry(cu111):
    pure = find_sites(cu111)
    saa = cu111.copy()
    ni = top_layer(saa)[4]
    saa[ni].symbol = "Ni"
    sites = find_sites(saa)
    assert len(sites) > len(pure)
    labels = [s.label for s in sites]
    assert len(set(labels)) == len(labels)
    tops = [s for s in sites if s.kind == "top"]
    assert len(tops) > 1 and all(s.label.startswith("top-") for s in tops)
    on_ni = [s for s in tops if s.indices == (ni,)]
    assert len(on_ni) == 1 and on_ni[0].multiplicity == 1
    # the copies still account for every site of the cell
    total = {k: sum(s.multiplicity for s in sites if s.kind == k) for k in ("top", "bridge", "hollow")}
    assert total == {"top": 9, "bridge": 27, "hollow": 18}
    # bridges touching Ni: the 6 Ni-Cu bonds form one orbit (3-fold axis + mirrors through Ni)
    ni_bridges = [s for s in sites if s.kind == "bridge" and ni in s.indices]
    assert [s.multiplicity for s in ni_bridges] == [6]


# ------------------------------------------------------------------------------------------------
# atomically dispersed models
# ------------------------------------------------------------------------------------------------
def _sheet(n=4):
    g = graphene("C2", size=(n, n, 1), vacuum=8.0)
    g.pbc = (True, True, False)
    return g


def test_single_atom_model_has_only_the_metal_top():
    g = _sheet(3)
    g[0].symbol = "Fe"
    g.info["active"] = [0]
    sites = find_sites(g)
    assert len(sites) == 1
    (fe,) = sites
    assert (fe.kind, fe.label, fe.indices, fe.multiplicity) == ("top", "top-Fe", (0,), 1)
    assert fe.normal == (0.0, 0.0, 1.0)
    pairs = find_site_pairs(g)
    assert [(p.label, p.distance) for p in pairs] == [("top-Fe+top-Fe", 0.0)]  # chelating O,O on Fe
    assert pairs[0].first == pairs[0].second == fe


def _dual(second_symbol):
    g = _sheet(4)
    d = g.get_distances(0, range(len(g)), mic=True)
    j = int(np.flatnonzero(np.abs(d - 2.46) < 0.02)[0])  # graphene 2nd neighbour, 2.46 A
    g[0].symbol = "Fe"
    g[j].symbol = second_symbol
    g.info["active"] = [0, j]
    return g, j


def test_dual_atom_model_sites_and_pairs():
    g, j = _dual("Cu")
    sites = find_sites(g)
    assert [s.label for s in sites] == ["top-Cu", "top-Fe", "bridge-Fe-Cu"]
    s = by_label(sites)
    assert s["bridge-Fe-Cu"].indices == (0, j)
    np.testing.assert_allclose(s["bridge-Fe-Cu"].position, site_atom_xyz(g, s["bridge-Fe-Cu"]).mean(axis=0))
    assert all(x.multiplicity == 1 for x in sites)
    pairs = find_site_pairs(g)
    assert [p.label for p in pairs] == ["top-Fe+top-Cu"]
    p = pairs[0]
    assert p.distance == pytest.approx(2.46, abs=0.01)
    assert lateral(site_position(g, p.second) - site_position(g, p.first)) == pytest.approx(p.distance)
    assert {p.first.indices, p.second.indices} == {(0,), (j,)}


def test_homonuclear_dual_atom_tops_are_one_orbit():
    g, j = _dual("Fe")
    sites = find_sites(g)
    assert [(s.label, s.multiplicity) for s in sites] == [("top-Fe", 2), ("bridge-Fe-Fe", 1)]
    assert [p.label for p in find_site_pairs(g)] == ["top-Fe+top-Fe"]


def test_active_normal_on_curved_support():
    """Non-planar support: normal points from the centroid of the support neighbours to the metal."""
    def model(tilt_deg):
        u = np.array([np.sin(np.radians(tilt_deg)), 0.0, np.cos(np.radians(tilt_deg))])
        e1 = np.cross(u, [0, 1.0, 0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(u, e1)
        fe = np.array([10.0, 10.0, 10.0])
        ns = [fe - 0.8 * u + 1.7 * (np.cos(t) * e1 + np.sin(t) * e2) for t in np.linspace(0, 2 * np.pi, 5)[:4]]
        atoms = Atoms("FeN4", positions=[fe, *ns], cell=[20, 20, 20], pbc=False)
        atoms.info["active"] = [0]
        return atoms, u

    atoms, u = model(60.0)
    (site,) = find_sites(atoms)
    np.testing.assert_allclose(site.normal, u, atol=1e-6)
    atoms, _ = model(20.0)  # within 30 deg of +z: snapped to +z
    (site,) = find_sites(atoms)
    assert site.normal == (0.0, 0.0, 1.0)


def test_active_normal_nanotube_wall_points_away_from_axis():
    tube = nanotube(6, 0, length=2, vacuum=6.0)  # axis along z
    tube[0].symbol = "Fe"
    tube.info["active"] = [0]
    (site,) = find_sites(tube)
    radial = tube.positions[0, :2] - tube.positions[:, :2].mean(axis=0)
    np.testing.assert_allclose(site.normal, [*(radial / np.linalg.norm(radial)), 0.0], atol=1e-6)


def test_metal_above_flat_sheet_gets_plus_z():
    """A metal 1.43 A above a flat sheet, bound off-centre to two N (as in M1M2/g-C3N4).

    The centroid of its two bonded N alone would tilt the normal by 35 deg; the flat sheet
    around it fixes the normal to +z.
    """
    n = 4
    sheet = Atoms(f"N{n * n}", positions=[(3.0 * i, 3.0 * j, 8.0) for i in range(n) for j in range(n)],
                  cell=[3.0 * n, 3.0 * n, 16.0], pbc=(True, True, False))
    fe = np.array([4.5, 3.0 + 1.0, 8.0 + 1.43])  # above the N(3,3)-N(6,3) pair, 1.0 A off its axis
    model = sheet + Atoms("Fe", positions=[fe])
    model.info["active"] = [len(model) - 1]
    bonded = model.get_distances(len(model) - 1, range(n * n), mic=True) < 2.54
    assert bonded.sum() == 2
    (site,) = find_sites(model)
    assert site.normal == (0.0, 0.0, 1.0)


# ------------------------------------------------------------------------------------------------
# pairs on slabs
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("facet", ["cu100", "cu111"])
def test_nearest_neighbour_top_top_pair(facet, request):
    slab = request.getfixturevalue(facet)
    pairs = find_site_pairs(slab)
    tt = [p for p in pairs if p.identity_label == "top+top"]
    # one symmetry-unique top+top pair within 3.5 A (the next neighbour is at a = 3.61 / sqrt3 a = 4.42 A)
    assert len(tt) == 1
    p = tt[0]
    assert p.distance == pytest.approx(NN_CU, abs=0.02)
    assert p.first.kind == p.second.kind == "top"
    p1, p2 = site_position(slab, p.first), site_position(slab, p.second)
    assert lateral(p2 - p1) == pytest.approx(p.distance, abs=1e-9)
    np.testing.assert_allclose(p2, p.second.position, atol=1e-9)
    # every pair joins two concrete sites of one kind at the stated lateral distance
    for q in pairs:
        assert isinstance(q, SitePair) and isinstance(q.first, Site)
        assert q.first.kind == q.second.kind
        assert 0.5 < q.distance <= 3.5
        d = site_position(slab, q.second) - site_position(slab, q.first)
        assert lateral(d) == pytest.approx(q.distance, abs=1e-9)


def test_pairs_are_reduced_by_symmetry(cu100):
    pairs = find_site_pairs(cu100, max_distance=3.7)
    tt = sorted(round(p.distance, 2) for p in pairs if p.identity_label == "top+top")
    assert tt == pytest.approx([NN_CU, A_CU], abs=0.02)  # 1st and 2nd neighbour, once each
    hh = [p for p in pairs if p.identity_label == "hollow+hollow"]
    assert sorted(round(p.distance, 2) for p in hh) == pytest.approx([NN_CU, A_CU], abs=0.02)
    # restricting to given sites
    only_top = find_site_pairs(cu100, [s for s in find_sites(cu100) if s.kind == "top"])
    assert [p.label for p in only_top] == ["top+top"]


def test_fcc111_fcc_hcp_pair_and_deterministic_order(cu111):
    pairs = find_site_pairs(cu111)
    fh = [p for p in pairs if p.identity_label == "fcc+hcp"]
    # neighbouring fcc and hcp hollows share an edge: nn/sqrt3 = 1.47 A apart
    assert min(p.distance for p in fh) == pytest.approx(NN_CU / np.sqrt(3), abs=0.01)
    assert [p.label for p in pairs] == [p.label for p in find_site_pairs(cu111)]
    kinds = [p.first.kind for p in pairs]
    assert kinds == sorted(kinds, key=["top", "bridge", "hollow"].index)


def test_pair_labels_are_unique_and_say_how_the_pairs_differ(cu100, cu111):
    """Two different pairs never share a label (all_sites.csv had three 'bridge+bridge' rows per
    adsorbate on fcc(100)); the label says the lateral distance and, for bridges at the same
    distance, the angle between the displacement and the first bridge's axis."""
    for slab in (cu100, cu111):
        pairs = find_site_pairs(slab)
        assert len({p.label for p in pairs}) == len(pairs)
        for p in pairs:
            assert p.label.startswith(p.identity_label)
            if "@" in p.label:  # the stated distance is the pair's
                assert float(p.label.split("@")[1].split("A")[0]) == pytest.approx(p.distance, abs=0.006)
    bb = {p.label: p for p in find_site_pairs(cu100) if p.identity_label == "bridge+bridge"}
    assert sorted(bb) == ["bridge+bridge@1.81A", "bridge+bridge@2.55A,0deg", "bridge+bridge@2.55A,90deg"]
    for label, angle in (("bridge+bridge@2.55A,0deg", 0.0), ("bridge+bridge@2.55A,90deg", 90.0)):
        p = bb[label]  # in line with the bridge (0) or side by side (90), measured from the geometry
        ends = cu100.positions[list(p.first.indices)] + np.asarray(p.first.offsets, float).reshape(-1, 3) @ cu100.cell
        axis = (ends[1] - ends[0])[:2]
        d = (site_position(cu100, p.second) - site_position(cu100, p.first))[:2]
        cos = abs(axis @ d) / np.linalg.norm(axis) / np.linalg.norm(d)
        assert np.degrees(np.arccos(min(cos, 1.0))) == pytest.approx(angle, abs=1.0)
    # a unique label stays plain
    assert [p.label for p in find_site_pairs(cu100) if p.identity_label == "top+top"] == ["top+top"]


def test_bidentate_jobs_keep_their_ids_and_get_unique_site_labels(small_spec_dict):
    """The job recipe keeps the plain pair label (jobs stored before keep their ids); the meta, and
    so every table, gets the unique one."""
    from descriptors.calculators import CalculatorSetting
    from descriptors.engine.jobs import Job
    from descriptors.specs import parse_spec
    from descriptors.structures import metal_slab
    from descriptors.tasks.base import RelaxSettings
    from descriptors.workflows.stages import plan_adsorbate_jobs

    spec = parse_spec(small_spec_dict)
    slab = metal_slab("Cu", "100", size=(3, 3), layers=3, fixed_layers=1)
    clean = Job("clean", {"kind": "clean", "test": 1}, {"catalyst": "Cu(100)"}, slab, label="clean Cu(100)")
    jobs = plan_adsorbate_jobs(clean, slab, slab, ["NO3"], spec, CalculatorSetting("emt", {}), RelaxSettings())
    bi = [j for j in jobs if j.meta["binding"] == "O,O"]
    assert len({j.meta["site"] for j in bi}) == len(bi) == len({j.id for j in bi})
    assert {j.recipe["site"] for j in bi} <= {"top+top", "bridge+bridge", "hollow+hollow"}
    assert any(j.meta["site"].startswith("bridge+bridge@") for j in bi)
