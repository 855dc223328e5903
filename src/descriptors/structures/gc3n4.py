"""Dual-atom catalysts on carbon nitride: M1M2/g-C3N4.

* :func:`gc3n4_sheet` - the planar heptazine (tri-s-triazine) g-C3N4 monolayer, C6N8
  per hexagonal cell, built from bond lengths and D3h symmetry.
* :func:`m1m2_gc3n4` - two metals in one six-fold "nitrogen pot" cavity of g-C3N4.
* :func:`dac_pairs` - the 36 unordered pairs of {Ti, V, Cr, Mn, Fe, Co, Ni, Cu} screened
  for NO3RR on g-C3N4 by Lv et al., J. Mater. Chem. A (2024) (see below)

The M1M2-N6 sites in N-doped graphene are in :mod:`descriptors.structures.dac_n6`.  Sheet
conventions as in :mod:`descriptors.structures.graphene`: sheet in the xy plane, ``pbc=(True,
True, False)``, z length = model thickness + ``vacuum``, model centred in z, +z side free
for adsorbates, plain :class:`ase.Atoms` with JSON-serialisable ``atoms.info``.

Literature for the 36-pair screen: L. Lv, Y. Shen, M. Zhou et al., "High-throughput
screening for efficient dual-atom catalysts in electrocatalytic nitrate reduction to
ammonia via dissociation-association mechanism", J. Mater. Chem. A (2024),
doi:10.1039/d3ta07167g (M1, M2 in Ti..Cu, 36 M1M2/g-C3N4; best TiFe, U_L = -0.21 V).
Their exact supercell and initial placement could not be checked here; the model below
is the common one of TM2@g-C3N4 DAC studies (both metals in one cavity of a 2x2 cell).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from descriptors.structures.graphene import (
    _check_element,
    _check_no_overlap,
    _check_size,
    _finish_cell,
    metal_image_distance,
)

__all__ = [
    "GC3N4_A",
    "HEPTAZINE_BONDS",
    "DAC_METALS",
    "gc3n4_sheet",
    "m1m2_gc3n4",
    "dac_pairs",
]

# --------------------------------------------------------------------------------------
# g-C3N4 geometry
# --------------------------------------------------------------------------------------

#: In-plane lattice constant (A) of planar heptazine g-C3N4 (hexagonal, P-6m2).
#: 7.13 A is the PBE lattice constant of the flat sheet quoted throughout the DFT
#: literature on M/g-C3N4 and M1M2/g-C3N4 (the primary source could not be checked
#: offline).  GFN1-xTB puts the flat sheet's minimum at a ~ 7.04 A (graphene 2.457 A),
#: so with xtb the default sheet is under ~1% tensile strain.
#: Experiment: the (100) in-plane reflection at 2theta = 13.0 deg (d ~ 0.68 nm) of
#: Wang et al., Nat. Mater. 8, 76 (2009), doi:10.1038/nmat2317.  Wang, Hao, Ye &
#: Umezawa, Chem. Mater. (2017), doi:10.1021/acs.chemmater.6b02969, show that the flat
#: P-6m2 model is not the ground state and that corrugation of the heptazine units
#: explains the shorter XRD repeat.  A flat sheet with a = 6.8 A would need a 1.27 A
#: C-N bridge, so the DFT value is the default; pass ``a`` to change it.
GC3N4_A = 7.13

#: Heptazine core bond lengths (A) and ring angle at the edge N (deg): central N - C
#: 1.39-1.40 A and ring C-N 1.32-1.35 A as in the heptazine core of melem
#: (Juergens et al., J. Am. Chem. Soc. 125, 10288 (2003), doi:10.1021/ja0357689);
#: C-N-C at the two-coordinate ring N 118 deg (sp2 ring N; chosen so that the bridge
#: bond comes out at 1.465 A, the C-N single-bond length of the DFT-relaxed flat sheet).
#: The C-N(bridge) bond follows from ``a``: a/sqrt(3) - r(outer C) = 1.465 A at 7.13 A.
HEPTAZINE_BONDS = {
    "N_center-C_inner": 1.395,
    "C_inner-N_edge": 1.33,
    "C_outer-N_edge": 1.35,
    "angle_N_edge": 118.0,
}

#: Metals of the published 36-pair screen (Lv et al., J. Mater. Chem. A 2024).
DAC_METALS = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu")


def _rot(v, deg):
    t = math.radians(deg)
    c, s = math.cos(t), math.sin(t)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _heptazine_unit(a: float):
    """In-plane coordinates and labels of one C6N8 cell (heptazine centre at origin)."""
    b = HEPTAZINE_BONDS
    r_ci = b["N_center-C_inner"]
    d1, d2 = b["C_inner-N_edge"], b["C_outer-N_edge"]
    th = math.radians(b["angle_N_edge"])
    # C_inner at 90 deg, C_outer at 30 deg from the centre: |Ci - Co| fixed by the
    # ring angle at N_edge, then r_co from the triangle (Nc, Ci, Co) with a 60 deg apex.
    cc = math.sqrt(d1**2 + d2**2 - 2 * d1 * d2 * math.cos(th))
    r_co = (r_ci + math.sqrt(r_ci**2 - 4 * (r_ci**2 - cc**2))) / 2.0
    ci = np.array([0.0, r_ci])  # 90 deg
    co = r_co * np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])
    # N_edge bonded to ci and co, on the outer side of the Ci-Co line
    base = co - ci
    L = np.linalg.norm(base)
    x = (d1**2 - d2**2 + L**2) / (2 * L)
    h = math.sqrt(max(d1**2 - x**2, 0.0))
    ex = base / L
    ey = np.array([-ex[1], ex[0]])
    ne = ci + x * ex + h * ey
    if np.linalg.norm(ne) < np.linalg.norm(ci + x * ex - h * ey):
        ne = ci + x * ex - h * ey
    ne_mirror = np.array([-ne[0], ne[1]])  # mirror through the 90 deg axis (x -> -x)
    pts, labels = [np.zeros(2)], ["N_center"]
    for k in range(3):
        pts.append(_rot(ci, 120 * k))
        labels.append("C_inner")
    for k in range(3):
        pts += [_rot(ne, 120 * k), _rot(ne_mirror, 120 * k)]
        labels += ["N_edge", "N_edge"]
    for k in range(3):
        pts.append(_rot(co, 120 * k))
        labels.append("C_outer")
    # bridging N at the B site of the honeycomb, (a1 + a2)/3, a/sqrt(3) along 30 deg
    pts.append(a / math.sqrt(3.0) * np.array([math.cos(math.pi / 6), math.sin(math.pi / 6)]))
    labels.append("N_bridge")
    bridge = a / math.sqrt(3.0) - r_co
    return np.array(pts), labels, bridge


def gc3n4_sheet(size: Sequence[int] = (1, 1), vacuum: float = 15.0, *, a: float = GC3N4_A) -> Atoms:
    """Planar heptazine g-C3N4 monolayer: C6N8 per hexagonal cell (14 atoms).

    One heptazine (C6N7) unit per cell plus one three-coordinate bridging N shared by
    three heptazines.  The heptazine centre is at the origin, the bridging N at
    fractional (1/3, 1/3) and the centre of the six-fold N-lined cavity at (2/3, 2/3).
    ``atoms.info['sites']`` labels every atom (``'N_center'``, ``'C_inner'``,
    ``'N_edge'`` (two-coordinate pyridinic N lining the cavities), ``'C_outer'``,
    ``'N_bridge'``) and ``atoms.info['cavities']`` gives the cavity centres (x, y).
    """
    n, m = _check_size(size, "size")
    if not 6.0 <= a <= 8.0:
        raise ValueError(f"a={a!r} A is not a g-C3N4 lattice constant; use ~7.13 (6.0-8.0)")
    xy, labels, bridge = _heptazine_unit(a)
    if not 1.3 <= bridge <= 1.6:
        raise ValueError(
            f"a={a!r} A gives a C-N bridge of {bridge:.2f} A in a flat sheet; "
            "use a between ~7.0 and ~7.35 A (default 7.13)"
        )
    lat = np.array([[a, 0.0], [a / 2.0, a * math.sqrt(3.0) / 2.0]])
    symbols = [lab[0] for lab in labels]
    pos, sites, cav = [], [], []
    for i in range(n):
        for j in range(m):
            t = i * lat[0] + j * lat[1]
            pos += [np.r_[p + t, 0.0] for p in xy]
            sites += labels
            cav.append(((2 / 3) * (lat[0] + lat[1]) + t).tolist())
    cell = np.zeros((3, 3))
    cell[0, :2], cell[1, :2], cell[2, 2] = n * lat[0], m * lat[1], 1.0
    atoms = Atoms(symbols * (n * m), positions=pos, cell=cell, pbc=(True, True, False))
    # wrap into the cell so that the model is tidy
    atoms.wrap()
    _finish_cell(atoms, vacuum)
    atoms.info.update({
        "support": "g-C3N4",
        "size": [n, m],
        "lattice_a": float(a),
        "vacuum": float(vacuum),
        "sites": sites,
        "cavities": [[round(c, 6) for c in xy_] for xy_ in cav],
        "builder": "descriptors.dac.gc3n4_sheet",
    })
    return atoms


# --------------------------------------------------------------------------------------
# M1M2 / g-C3N4
# --------------------------------------------------------------------------------------


def _m_n_start(metal: str) -> float:
    """Initial metal-N distance: sum of covalent radii (Cordero et al., Dalton Trans.
    2008, 2832), clamped to 1.90-2.20 A so that every metal starts bonded."""
    r = covalent_radii[atomic_numbers[metal]] + covalent_radii[atomic_numbers["N"]]
    return float(min(max(r, 1.90), 2.20))


def m1m2_gc3n4(
    m1: str,
    m2: str,
    size: Sequence[int] = (2, 2),
    vacuum: float = 15.0,
    *,
    a: float = GC3N4_A,
    mm_distance: float = 2.4,
) -> Atoms:
    """Two metals in one six-fold cavity of planar g-C3N4 (M1M2/g-C3N4).

    Model: the N-lined cavity between three heptazine units (six two-coordinate edge
    N, ~4.7 A across) holds both metals; this is the usual TM2@g-C3N4 / M1M2@g-C3N4
    DAC model; two adjacent cavities would put the metals a full lattice constant
    (7.13 A) apart, too far for a dimer.  The six edge N come in three pairs (one pair
    per heptazine); each metal starts in one of the gaps *between* pairs (the gaps that
    face a bridging N), bound to one edge N of each neighbouring heptazine, the two
    metals ``mm_distance`` apart.  The cavity is too small for a 2.4 A dimer in the
    plane (the metals would be 1.4 A from N), so the dimer starts above the plane (+z),
    lifted until each metal's two nearest edge N are at the initial M-N distance (sum
    of covalent radii, clamped to 1.9-2.2 A).  GFN1-xTB relaxes FeCo from there to
    Fe 0.3 A and Co 0.85 A above the plane, M-M 2.25 A, each metal with 2-3 N.  The
    default 2x2 cell holds one dimer per four heptazines (C24N32 + 2 M, 58 atoms;
    metal-image distance ~12 A).  Relax before use.

    ``m1`` and ``m2`` are element symbols; ``info['active'] = [i_m1, i_m2]``.
    """
    for sym, par in ((m1, "m1"), (m2, "m2")):
        _check_element(sym, par, "Fe")
    if not 2.0 <= mm_distance <= 3.0:
        raise ValueError(f"mm_distance={mm_distance!r} A should be between 2.0 and 3.0")
    sheet = gc3n4_sheet(size, vacuum, a=a)
    n, m = sheet.info["size"]
    if n * m < 2:
        raise ValueError(
            f"size={tuple(size)!r}: a 1x1 cell puts the dimer 7.1 A from its image; "
            "use at least (2, 2)"
        )
    sites = sheet.info["sites"]
    z0 = sheet.positions[0, 2]
    cav = np.array(sheet.info["cavities"])
    centre2d = (sheet.cell[0, :2] + sheet.cell[1, :2]) / 2
    c = cav[np.argmin(np.linalg.norm(cav - centre2d, axis=1))]
    c3 = np.r_[c, z0]
    # edge N lining this cavity (minimum-image vectors from the cavity centre)
    probe = sheet + Atoms("X", positions=[c3])
    ix = len(probe) - 1
    vec = probe.get_distances(ix, range(ix), mic=True, vector=True)
    dist = np.linalg.norm(vec, axis=1)
    edge = [k for k in np.argsort(dist) if sites[k] == "N_edge"][:6]
    nvec = vec[edge][:, :2]
    # The six edge N form three pairs (one per heptazine); between the pairs are three
    # "inter-heptazine" gaps, each facing a bridging N.  Each metal sits in one such gap,
    # bound to one edge N of each of the two neighbouring heptazines.  Of the placements
    # tried (dimer axis through the cavity centre; dimer across two inter-heptazine
    # gaps; one metal in plane and one on top; both near the plane across two gaps),
    # this one relaxed lowest with GFN1-xTB for FeCo: by 0.37, 0.20 and 0.08 eV.
    bvec = np.array([vec[k][:2] for k in np.argsort(dist) if sites[k] == "N_bridge"][:3])
    bdir = bvec / np.linalg.norm(bvec, axis=1)[:, None]
    order = np.argsort(np.arctan2(bdir[:, 1], bdir[:, 0]))
    u1, u2 = bdir[order[0]], bdir[order[1]]  # 120 deg apart
    r = mm_distance / math.sqrt(3.0)  # |r*u1 - r*u2| = mm_distance
    pts = []
    for u, sym in ((u1, m1), (u2, m2)):
        q = r * u
        d_ip = float(np.sort(np.linalg.norm(nvec - q, axis=1))[:2].max())
        z = math.sqrt(max(_m_n_start(sym) ** 2 - d_ip**2, 0.0))
        pts.append((q, z))
    z = max(z for _, z in pts)  # same height for both: the M-M distance stays as asked
    p1 = c3 + np.r_[pts[0][0], z]
    p2 = c3 + np.r_[pts[1][0], z]
    atoms = sheet.copy()
    atoms += Atoms([m1, m2], positions=[p1, p2])
    i1, i2 = len(atoms) - 2, len(atoms) - 1
    _finish_cell(atoms, vacuum)
    _check_no_overlap(atoms)
    atoms.info = {
        "catalyst": f"{m1}{m2}/g-C3N4",
        "model": "dac",
        "active": [i1, i2],
        "metals": [m1, m2],
        "support": "g-C3N4",
        "size": [int(n), int(m)],
        "lattice_a": float(a),
        "vacuum": float(vacuum),
        "mm_distance_start": float(mm_distance),
        "cavity_edge_N": [int(k) for k in edge],
        "ligand": [],
        "sites": list(sites) + ["metal", "metal"],
        "image_distance": round(metal_image_distance(atoms, [i1, i2]), 4),
        "builder": "descriptors.dac.m1m2_gc3n4",
    }
    return atoms


def dac_pairs(metals: Sequence[str] = DAC_METALS) -> list[tuple[str, str]]:
    """Unordered metal pairs, homonuclear included, in a deterministic order.

    ``itertools.combinations_with_replacement`` in the order of ``metals``: for the
    default eight 3d metals (Lv et al., J. Mater. Chem. A 2024) that is 8 homonuclear +
    28 heteronuclear = 36 pairs, ('Ti', 'Ti'), ('Ti', 'V'), ..., ('Cu', 'Cu').
    """
    metals = list(metals)
    for s in metals:
        _check_element(s, "metals", "Fe")
    if len(set(metals)) != len(metals):
        raise ValueError(f"metals={metals!r} contains duplicates; list each metal once")
    return list(itertools.combinations_with_replacement(metals, 2))
