"""Symmetry-unique adsorption sites of slabs.

Slabs are ASE slabs with the vacuum along z and the adsorption side at the largest z (``atoms.info``
has no non-empty ``'active'`` entry).  Sites are found geometrically and then reduced by the
symmetry of the slab (spglib), so chemical order (alloys, single-atom alloys) is respected.

Prior art
---------
The slab algorithm re-implements the approach of CatKit's ``AdsorptionSites`` (J. R. Boes,
O. Mamun, K. Winther, T. Bligaard, "Graph theory approach to high-throughput surface adsorption
structure generation", Int. J. Quantum Chem. 2019, e25870; github.com/SUNCAT-Center/CatKit,
``catkit/gen/adsorption.py``): a periodic 2-D Delaunay triangulation of the surface atoms' xy
positions gives top sites (vertices), bridge sites (edges) and hollow sites (triangles); triangles
with a common circumcentre are merged into 4-fold hollows and their shared diagonal is dropped;
the sites are then grouped by the slab's symmetry.  CatKit does not import on Python >= 3.10, so
this module re-implements the idea with numpy/scipy/spglib only (no code copied).

Surface atoms of a slab
-----------------------
An atom is a surface atom when it (1) lies in the upper half of the slab, (2) is under-coordinated
with respect to the bulk (first-shell neighbour count below the bulk value; the bulk value is the
larger of the most-coordinated atom in the slab and the coordination of the element's reference
crystal structure from ``ase.data.reference_states``: 12 fcc/hcp, 8 bcc, ...) and (3) is not
covered from above (fewer than three atoms higher up within 0.75 nearest-neighbour distances
laterally, which would mark a buried atom below a close-packed layer).  This keeps the top layer
of flat facets and adds the exposed lower atoms of open and stepped facets: the trough atoms of
fcc(110), the step/terrace/corner atoms of fcc(211), the three outer layers of bcc(111), the
second layer of hcp(10-10).  ``surface_depth`` replaces the rule by a plain depth window
(every atom within ``surface_depth`` angstrom of the topmost atom).

Consequence for fcc(110): by default the second-layer (trough) atoms are surface atoms, so the
triangulation gives a top on the trough atom (the position of the textbook 4-fold hollow), a
bridge between trough atoms (the textbook long-bridge position) and pseudo-3-fold hollows.  With
``surface_depth`` smaller than the interlayer spacing (e.g. 0.5) only the top rows are used and the
textbook set top / bridge-short / bridge-long / 4-fold hollow comes out.

Limits: the slab must be clean (no adsorbates), with its atoms in one piece along z (not wrapped
across the cell's z boundary); neighbours are counted within 1.1 x the median nearest-neighbour
distance; the reference bulk coordination is taken from the majority element, so for an ordered
compound whose structure differs from that element's (e.g. a B2 alloy of an fcc metal) pass
``surface_depth``.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import reference_states
from ase.neighborlist import neighbor_list
from scipy.spatial import Delaunay

from descriptors.geometry.periodic import XY, cell_ok, home_shift, image_ranges, mic
from descriptors.geometry.site_model import ZHAT, Candidate, SiteOrbits
from descriptors.geometry.symmetry import component_roots, orbits, surface_operations

__all__ = ["analyse_slab"]

#: first-shell coordination number of the elemental reference structures
_BULK_CN = {"fcc": 12, "hcp": 12, "bcc": 8, "sc": 6, "diamond": 4}


def _nn_distance(atoms: Atoms) -> float:
    """Typical nearest-neighbour distance: median over atoms of the distance to the closest atom."""
    for rcut in (3.5, 5.0, 8.0):
        i, d = neighbor_list("id", atoms, rcut)
        if len(i):
            dmin = np.full(len(atoms), np.inf)
            np.minimum.at(dmin, i, d)
            dmin = dmin[np.isfinite(dmin)]
            if len(dmin) == len(atoms) or rcut == 8.0:
                return float(np.median(dmin))
    return 2.5


def _bulk_cn(atoms: Atoms) -> int:
    """Reference first-shell coordination from the majority element's crystal structure."""
    numbers, counts = np.unique(atoms.numbers, return_counts=True)
    z = int(numbers[np.argmax(counts)])
    state = reference_states[z] if z < len(reference_states) else None
    return _BULK_CN.get((state or {}).get("symmetry", ""), 0)


def _surface_atoms(atoms: Atoms, surface_depth: float | None, d1: float) -> np.ndarray:
    """Indices of the exposed atoms of the top side (see the module docstring for the rule)."""
    z = atoms.positions[:, 2]
    if surface_depth is not None:
        return np.flatnonzero(z >= z.max() - float(surface_depth) - 1e-6)
    # first-shell coordination; 1.1 d1 separates the bcc first (d1) and second (1.155 d1) shells
    i = neighbor_list("i", atoms, 1.1 * d1)
    cn = np.bincount(i, minlength=len(atoms))
    bulk = max(int(cn.max()), _bulk_cn(atoms))
    mid = 0.5 * (z.min() + z.max())
    cand = np.flatnonzero((z >= mid - 1e-3) & (cn < bulk))
    if len(cand) == 0:  # e.g. a monolayer where every atom has the same coordination
        cand = np.flatnonzero(z >= z.max() - 0.3 * d1)
    # not buried: fewer than three atoms higher up within 0.75 d1 laterally
    cell = atoms.cell.array
    keep = []
    for k in cand:
        v = mic(atoms.positions - atoms.positions[k], cell)
        above = (v[:, 2] > 0.3) & (np.linalg.norm(v[:, :2], axis=1) < 0.75 * d1)
        if above.sum() < 3:
            keep.append(k)
    return np.array(keep, int)


def _circumcentre(p: np.ndarray) -> np.ndarray:
    """Circumcentre of the 2-D triangle ``p`` (3 x 2); its centroid if the triangle is degenerate."""
    (ax, ay), (bx, by), (cx, cy) = p
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if abs(d) < 1e-12:
        return p.mean(axis=0)
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return np.array([ux, uy])


def _slab_candidates(atoms: Atoms, surf: np.ndarray, d1: float, merge_tol: float) -> list[Candidate]:
    """Every top, bridge and hollow of the home cell from a periodic Delaunay triangulation (CatKit's idea).

    The surface atoms ``surf`` and their in-plane images are triangulated in xy; triangles whose
    circumcentres coincide within ``merge_tol`` merge into one 4-fold hollow without its diagonal.
    """
    cell = np.asarray(atoms.cell.array, float)
    P = atoms.positions
    cands: list[Candidate] = [
        Candidate("top", "top", ((int(i), (0, 0, 0)),), P[i].copy(), ZHAT.copy()) for i in surf
    ]
    if len(surf) == 0:
        return cands
    r1, r2 = image_ranges(cell, max(8.0, 3.0 * d1))
    img = np.array([(n1, n2, 0) for n1 in r1 for n2 in r2], int)
    pts3 = (P[surf][None, :, :] + (img @ cell)[:, None, :]).reshape(-1, 3)
    atom_of = np.tile(surf, len(img))
    img_of = np.repeat(img, len(surf), axis=0)
    tri = Delaunay(pts3[:, :2])
    simp = tri.simplices
    cc = np.array([_circumcentre(pts3[s, :2]) for s in simp])

    # merge adjacent triangles with a common circumcentre (squares / rectangles -> 4-fold hollows)
    merged: list[tuple[int, int]] = []
    internal: set[tuple[int, int]] = set()
    for t, nbrs in enumerate(tri.neighbors):
        for k, u in enumerate(nbrs):
            if u > t and np.linalg.norm(cc[t] - cc[u]) < merge_tol:
                merged.append((t, int(u)))
                shared = tuple(sorted(int(v) for j, v in enumerate(simp[t]) if j != k))
                internal.add(shared)
    polygon = component_roots(len(simp), merged)
    groups: dict[int, set[int]] = {}
    for t in range(len(simp)):
        groups.setdefault(int(polygon[t]), set()).update(int(v) for v in simp[t])

    inv_cell = np.linalg.inv(cell)  # once, not once per edge and triangle

    def home(points_idx) -> bool:
        c = pts3[list(points_idx)].mean(axis=0)
        return bool(np.all(home_shift((c @ inv_cell)[:2]) == 0))

    def members(points_idx):
        return tuple((int(atom_of[p]), tuple(int(v) for v in img_of[p])) for p in points_idx)

    # bridges: Delaunay edges that are not the diagonal of a merged polygon
    edges = set()
    for s in simp:
        for a, b in ((0, 1), (1, 2), (0, 2)):
            e = tuple(sorted((int(s[a]), int(s[b]))))
            if e not in internal:
                edges.add(e)
    for e in sorted(edges):
        if home(e):
            p = pts3[list(e)]
            cands.append(Candidate("bridge", "bridge", members(e), p.mean(axis=0), ZHAT.copy(),
                                   float(np.linalg.norm(p[0] - p[1]))))

    # hollows: triangles and merged polygons, vertices ordered by angle around the centre
    for g in sorted(groups.values(), key=lambda s: sorted(s)):
        if not home(g):
            continue
        v = sorted(g)
        c = pts3[v].mean(axis=0)
        ang = [np.arctan2(pts3[p, 1] - c[1], pts3[p, 0] - c[0]) for p in v]
        v = [p for _, p in sorted(zip(ang, v))]
        base = _hollow_name(atoms, pts3[v], d1) if len(v) == 3 else "hollow"
        cands.append(Candidate("hollow", base, members(v), pts3[v].mean(axis=0), ZHAT.copy()))
    return cands


def _hollow_name(atoms: Atoms, tri_xyz: np.ndarray, d1: float) -> str:
    """'fcc' / 'hcp' for a flat, equilateral 3-fold hollow (close-packed face), else 'hollow'.

    'hcp' if an atom of the next layer lies below the hollow's centre, 'fcc' if none does.
    """
    sides = [np.linalg.norm(tri_xyz[i] - tri_xyz[j]) for i, j in ((0, 1), (1, 2), (0, 2))]
    if max(sides) > 1.1 * min(sides) or np.ptp(tri_xyz[:, 2]) > 0.3:
        return "hollow"
    c = tri_xyz.mean(axis=0)
    v = mic(atoms.positions - c, atoms.cell.array)
    below = (v[:, 2] < -0.3) & (v[:, 2] > -1.3 * d1) & (np.linalg.norm(v[:, :2], axis=1) < 0.3 * d1)
    return "hcp" if below.any() else "fcc"


def _label_slab_orbits(cands: list[Candidate], orbit: np.ndarray, reps: dict[int, int]) -> dict[int, str]:
    """Orbit labels: the base name, 'bridge-short' / 'bridge-long', or '-1', '-2', ... from the top down."""
    by_base: dict[str, list[int]] = {}
    for o, c in reps.items():
        by_base.setdefault(cands[c].base, []).append(o)
    labels = {}
    for base, orbs in by_base.items():
        if len(orbs) == 1:
            labels[orbs[0]] = base
            continue
        lengths = sorted(cands[reps[o]].length for o in orbs)
        if base == "bridge" and len(orbs) == 2 and lengths[1] - lengths[0] > 0.05:
            short = min(orbs, key=lambda o: cands[reps[o]].length)
            for o in orbs:
                labels[o] = "bridge-short" if o == short else "bridge-long"
            continue

        def order(o):
            p = cands[reps[o]].position
            return (round(-p[2], 2), round(p[0], 2), round(p[1], 2))

        for k, o in enumerate(sorted(orbs, key=order), 1):
            labels[o] = f"{base}-{k}"
    return labels


def _choose_reps(cands: list[Candidate], orbit: np.ndarray) -> dict[int, int]:
    """Representative of each orbit: lowest atom indices, then smallest x, y (deterministic)."""
    def key(k):
        return (tuple(sorted(i for i, _ in cands[k].members)),
                round(float(cands[k].position[0]), 3), round(float(cands[k].position[1]), 3))

    reps: dict[int, int] = {}
    for c in range(len(cands)):
        o = int(orbit[c])
        if o not in reps or key(c) < key(reps[o]):
            reps[o] = c
    return reps


def analyse_slab(atoms: Atoms, surface_depth: float | None, symprec: float) -> SiteOrbits:
    """Every candidate site of the slab's top side, grouped into orbits of its surface symmetry."""
    cell = np.asarray(atoms.cell.array, float)
    if not cell_ok(cell) or not (atoms.pbc[0] and atoms.pbc[1]):
        raise ValueError("find_sites: a slab needs a 3-D cell periodic in x and y "
                         "(or set atoms.info['active'] for an atomically dispersed model)")
    if np.linalg.norm(cell[0, 2]) > 1e-6 or np.linalg.norm(cell[1, 2]) > 1e-6:
        raise ValueError("find_sites: the in-plane cell vectors must lie in the xy plane (normal +z)")
    d1 = _nn_distance(atoms)
    surf = _surface_atoms(atoms, surface_depth, d1)
    tol = max(2 * symprec, 0.05)
    cands = _slab_candidates(atoms, surf, d1, merge_tol=max(symprec, 0.05))
    ops = surface_operations(atoms, symprec)
    orbit = orbits(cands, ops, cell, tol, XY)
    reps = _choose_reps(cands, orbit)
    labels = _label_slab_orbits(cands, orbit, reps)
    sizes = {o: int((orbit == o).sum()) for o in reps}
    return SiteOrbits(cands, orbit, labels, reps, sizes, ops, cell, active_model=False, axes=XY)
