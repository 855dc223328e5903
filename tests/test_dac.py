"""Dual-atom catalyst builders: g-C3N4 sheet, M1M2/g-C3N4, M1M2-N6/graphene, pairs."""

import itertools
import json
import time

import numpy as np
import pytest
from _geom import distances_from, image_distance, min_interatomic_distance, one_openmp_thread
from ase.geometry import get_distances

from descriptors.structures.dac_n6 import m1m2_n6_graphene
from descriptors.structures.gc3n4 import (
    DAC_METALS,
    GC3N4_A,
    dac_pairs,
    gc3n4_sheet,
    m1m2_gc3n4,
)


def n_neighbours(atoms, i, element="N", cutoff=2.4):
    d = distances_from(atoms, i)
    return [k for k in np.flatnonzero(d < cutoff) if atoms[k].symbol == element]


# ---------------------------------------------------------------- g-C3N4 sheet


def test_gc3n4_unit_cell_formula_and_lattice():
    sheet = gc3n4_sheet()
    assert sheet.get_chemical_formula() == "C6N8"
    assert len(sheet) == 14
    a, b, c, alpha, beta, gamma = sheet.cell.cellpar()
    assert abs(a - GC3N4_A) < 0.05 and abs(b - GC3N4_A) < 0.05
    assert gamma == pytest.approx(60.0)  # hexagonal
    assert c == pytest.approx(15.0)
    assert tuple(sheet.pbc) == (True, True, False)
    json.dumps(sheet.info)
    sites = sheet.info["sites"]
    assert {s: sites.count(s) for s in set(sites)} == {
        "N_center": 1, "C_inner": 3, "N_edge": 6, "C_outer": 3, "N_bridge": 1,
    }


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 2)])
def test_gc3n4_bonding_and_planarity(size):
    sheet = gc3n4_sheet(size)
    n, m = size
    syms = sheet.get_chemical_symbols()
    assert syms.count("C") == 6 * n * m and syms.count("N") == 8 * n * m
    assert np.ptp(sheet.positions[:, 2]) < 0.01  # planar before relaxation
    assert min_interatomic_distance(sheet) > 1.3
    for i, s in enumerate(syms):
        d = distances_from(sheet, i)
        nb = np.flatnonzero(d < 1.5)
        nb_syms = [syms[k] for k in nb]
        if s == "C":
            assert nb_syms == ["N"] * 3, (i, nb_syms)
        else:
            assert set(nb_syms) == {"C"} and len(nb) in (2, 3), (i, nb_syms)
        # C-N bonds between 1.33 and 1.47 A
        assert all(1.32 <= d[k] <= 1.47 for k in nb), d[nb]
    # two-coordinate (pyridinic, cavity-lining) N: 6 per cell
    two = [i for i, s in enumerate(syms) if s == "N" and np.sum(distances_from(sheet, i) < 1.5) == 2]
    assert len(two) == 6 * n * m
    assert sorted(two) == [i for i, s in enumerate(sheet.info["sites"]) if s == "N_edge"]


def test_gc3n4_lattice_parameter_is_a_parameter():
    sheet = gc3n4_sheet(a=7.20)
    assert sheet.cell.cellpar()[0] == pytest.approx(7.20)
    with pytest.raises(ValueError, match="a="):
        gc3n4_sheet(a=6.5)


def test_gc3n4_cavity_is_lined_by_six_edge_n():
    sheet = gc3n4_sheet((2, 2))
    for cx, cy in sheet.info["cavities"]:
        z = sheet.positions[0, 2]
        _, d = get_distances([cx, cy, z], sheet.positions, cell=sheet.cell, pbc=sheet.pbc)
        d = d[0]
        ring = np.argsort(d)[:6]
        assert [sheet.info["sites"][k] for k in ring] == ["N_edge"] * 6
        assert 2.2 < d[ring].min() and d[ring].max() < 2.6


# ---------------------------------------------------------------- pairs


def test_dac_pairs_complete_and_distinct():
    pairs = dac_pairs()
    assert len(pairs) == 36
    assert len({frozenset(p) if p[0] != p[1] else (p[0],) for p in pairs}) == 36
    assert sum(1 for a, b in pairs if a == b) == 8
    assert sum(1 for a, b in pairs if a != b) == 28
    expected = {frozenset(p) for p in itertools.combinations(DAC_METALS, 2)}
    assert {frozenset(p) for p in pairs if p[0] != p[1]} == expected
    assert {p[0] for p in pairs if p[0] == p[1]} == set(DAC_METALS)
    assert pairs == dac_pairs()  # deterministic
    assert pairs[0] == ("Ti", "Ti") and pairs[-1] == ("Cu", "Cu")
    assert DAC_METALS == ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu")


def test_dac_pairs_custom_and_validation():
    assert dac_pairs(("Fe", "Cu")) == [("Fe", "Fe"), ("Fe", "Cu"), ("Cu", "Cu")]
    with pytest.raises(ValueError, match="duplicates"):
        dac_pairs(("Fe", "Fe"))
    with pytest.raises(ValueError, match="metals"):
        dac_pairs(("Fe", "Zz"))


# ---------------------------------------------------------------- M1M2 / g-C3N4


@pytest.mark.parametrize("m1,m2", dac_pairs(), ids=lambda x: x)
def test_m1m2_gc3n4_all_36_pairs(m1, m2):
    atoms = m1m2_gc3n4(m1, m2)
    i1, i2 = atoms.info["active"]
    assert [atoms[i1].symbol, atoms[i2].symbol] == [m1, m2] == atoms.info["metals"]
    syms = atoms.get_chemical_symbols()
    assert syms.count("C") == 24 and syms.count("N") == 32  # 2x2 C6N8
    for i in (i1, i2):
        assert len(n_neighbours(atoms, i, "N", 2.4)) >= 2
    assert 2.0 <= atoms.get_distance(i1, i2, mic=True) <= 3.0
    assert min_interatomic_distance(atoms) > 0.7
    # metals in the cavity, on the +z side of the sheet
    zsheet = np.median(atoms.positions[:, 2])
    assert all(0.0 <= atoms.positions[i, 2] - zsheet <= 2.0 for i in (i1, i2))
    assert image_distance(atoms, [i1, i2]) > 9.8


def test_m1m2_gc3n4_metadata():
    atoms = m1m2_gc3n4("Fe", "Co")
    info = atoms.info
    json.dumps(info)
    assert info["catalyst"] == "FeCo/g-C3N4"
    assert info["model"] == "dac"
    assert info["support"] == "g-C3N4"
    assert info["metals"] == ["Fe", "Co"]
    assert len(atoms) == 58
    # the six N lining the occupied cavity are edge (two-coordinate) N
    assert len(info["cavity_edge_N"]) == 6
    assert all(atoms[k].symbol == "N" for k in info["cavity_edge_N"])
    z = atoms.positions[:, 2]
    assert atoms.cell[2, 2] == pytest.approx(np.ptp(z) + 15.0)


@pytest.mark.parametrize(
    "kwargs,word",
    [
        ({"m1": "Xx", "m2": "Fe"}, "m1"),
        ({"m1": "Fe", "m2": "co"}, "m2"),
        ({"m1": "Fe", "m2": "Co", "size": (1, 1)}, "size"),
        ({"m1": "Fe", "m2": "Co", "mm_distance": 4.0}, "mm_distance"),
    ],
)
def test_m1m2_gc3n4_validation(kwargs, word):
    with pytest.raises(ValueError, match=word):
        m1m2_gc3n4(**kwargs)


# ---------------------------------------------------------------- M1M2-N6 / graphene


@pytest.mark.parametrize("m1,m2", [("Fe", "Cu"), ("Ru", "Cu"), ("Fe", "Co"), ("Ni", "Ni")])
def test_m1m2_n6_graphene(m1, m2):
    atoms = m1m2_n6_graphene(m1, m2)
    json.dumps(atoms.info)
    assert atoms.info["catalyst"] == f"{m1}{m2}-N6/graphene"
    assert atoms.info["model"] == "dac" and atoms.info["support"] == "graphene"
    n, m = atoms.info["size"]
    assert (n, m) == (5, 5)
    syms = atoms.get_chemical_symbols()
    # 5x5 graphene (50 C) minus a 4-atom vacancy, 6 C -> N: M1M2 N6 C40
    assert syms.count("N") == 6 and syms.count("C") == 2 * n * m - 10 == 40
    i1, i2 = atoms.info["active"]
    assert [atoms[i1].symbol, atoms[i2].symbol] == [m1, m2]
    for i in (i1, i2):
        assert len(n_neighbours(atoms, i, "N", 2.1)) == 3
        assert all(1.85 <= atoms.get_distance(i, k, mic=True) <= 2.1
                   for k in n_neighbours(atoms, i, "N", 2.1))
    assert 2.3 <= atoms.get_distance(i1, i2, mic=True) <= 2.6
    # every N is bonded to two C (pyridinic)
    for k in atoms.info["first_shell_indices"]:
        d = distances_from(atoms, k)
        assert sum(1 for j in np.flatnonzero(d < 1.6) if syms[j] == "C") == 2
    assert image_distance(atoms, [i1, i2]) >= 9.8
    assert min_interatomic_distance(atoms) > 0.7


def test_m1m2_n6_graphene_auto_size_and_validation():
    big = m1m2_n6_graphene("Fe", "Cu", min_image_distance=12.0)
    assert image_distance(big, big.info["active"]) >= 12.0
    small = m1m2_n6_graphene("Fe", "Cu", size=(4, 4))
    assert small.get_chemical_formula() == "C22CuFeN6"
    with pytest.raises(ValueError, match="size"):
        m1m2_n6_graphene("Fe", "Cu", size=(2, 2))
    with pytest.raises(ValueError, match="m2"):
        m1m2_n6_graphene("Fe", "Qq")


# ---------------------------------------------------------------- GFN1-xTB relaxations


def _xtb():
    pytest.importorskip("tblite")
    from tblite.ase import TBLite

    # tblite defaults otherwise: charge 0, no spin polarisation, accuracy 1,
    # max_iterations 250, Broyden mixing.  300 K converged every model tried.
    return TBLite(method="GFN1-xTB", electronic_temperature=300.0, verbosity=0)


@pytest.mark.slow
def test_feco_gc3n4_gfn1_xtb_relaxation_keeps_the_dimer_bound():
    """~2.5 s per BFGS step for 58 atoms on 2 cores; ~2 min in total."""
    from ase.optimize import BFGS

    atoms = m1m2_gc3n4("Fe", "Co")
    atoms.calc = _xtb()
    t0 = time.perf_counter()
    with one_openmp_thread():
        BFGS(atoms, logfile=None).run(fmax=0.15, steps=60)
    elapsed = time.perf_counter() - t0
    i1, i2 = atoms.info["active"]
    for i in (i1, i2):
        assert len(n_neighbours(atoms, i, "N", 2.4)) >= 2
    assert 2.0 <= atoms.get_distance(i1, i2, mic=True) <= 3.0
    support = [k for k in range(len(atoms)) if k not in (i1, i2)]
    assert np.std(atoms.positions[support, 2]) < 0.3  # still a sheet
    assert min_interatomic_distance(atoms) > 0.7
    assert elapsed < 400


@pytest.mark.slow
def test_fecu_n6_gfn1_xtb_relaxation_keeps_the_site():
    """~25 s on 2 cores (48 atoms, ~10 BFGS steps)."""
    from ase.optimize import BFGS

    atoms = m1m2_n6_graphene("Fe", "Cu")
    atoms.rattle(0.02, seed=2)
    atoms.calc = _xtb()
    with one_openmp_thread():
        BFGS(atoms, logfile=None).run(fmax=0.1, steps=60)
    i1, i2 = atoms.info["active"]
    for i in (i1, i2):
        assert len(n_neighbours(atoms, i, "N", 2.2)) >= 3
    assert 2.0 <= atoms.get_distance(i1, i2, mic=True) <= 2.8
    assert np.std(atoms.positions[:, 2]) < 0.3
    assert min_interatomic_distance(atoms) > 0.7
