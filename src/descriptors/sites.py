"""Symmetry-unique adsorption sites on slabs and on atomically dispersed (SAC/DAC) models.

Two kinds of structure are handled:

* **Slabs** (``atoms.info`` has no non-empty ``'active'`` entry): ASE slabs with the vacuum along
  z and the adsorption side at the largest z.  Sites are found geometrically and then reduced by
  the symmetry of the slab (spglib), so chemical order (alloys, single-atom alloys) is respected.
* **Active-site models** (``atoms.info['active']`` lists atom indices, e.g. the Fe of Fe-N4
  graphene or the two metals of a dual-atom catalyst): the support atoms are never sites; the
  sites are the active atoms (top), pairs of close active atoms (bridge) and triples (hollow).

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

Active-site models: normals come from the shape of the support around each active atom (see
:func:`_active_normal`): +z on flat sheets, the local outward direction on curved supports.
"""

from __future__ import annotations

import itertools
import re
import warnings
from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms
from ase.data import covalent_radii, reference_states
from ase.neighborlist import neighbor_list
from scipy.spatial import Delaunay, cKDTree

__all__ = ["Site", "SitePair", "site_position", "find_sites", "find_site_pairs"]

_KIND_ORDER = {"top": 0, "bridge": 1, "hollow": 2}
_ZHAT = np.array([0.0, 0.0, 1.0])
#: first-shell coordination number of the elemental reference structures
_BULK_CN = {"fcc": 12, "hcp": 12, "bcc": 8, "sc": 6, "diamond": 4}
#: active atoms closer than this (angstrom) form a bridge (and three mutually close ones a hollow)
ACTIVE_BRIDGE_CUTOFF = 3.5


# ----------------------------------------------------------------------------------------------
# public data classes
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """One adsorption site (a concrete instance; ``multiplicity`` counts its symmetry copies).

    ``position == mean(positions[i] + offset @ cell)`` over ``zip(indices, offsets)``, so the site
    can be recomputed on a relaxed copy of the structure with :func:`site_position`.
    """

    kind: str  # 'top' | 'bridge' | 'hollow'
    label: str  # unique in the structure: 'top', 'bridge-short', 'fcc', 'hcp', 'top-Fe', ...
    indices: tuple[int, ...]  # atoms defining the site
    offsets: tuple[tuple[int, int, int], ...]  # lattice image of each atom
    position: tuple[float, float, float]  # mean of the defining atoms (their height)
    normal: tuple[float, float, float]  # unit outward normal
    multiplicity: int  # number of symmetry-equivalent copies in the cell
    coordination: int  # len(indices)


@dataclass(frozen=True)
class SitePair:
    """Two concrete sites for a bidentate adsorbate (``first`` and ``second`` may be equal)."""

    first: Site
    second: Site
    distance: float  # lateral distance between the two site positions
    label: str  # e.g. 'top+top', 'top-Fe+top-Cu'


def site_position(atoms: Atoms, site: Site) -> np.ndarray:
    """Position of ``site`` recomputed from its atoms (and lattice images) on ``atoms``.

    ``atoms`` may be a relaxed or displaced copy of the structure the site was found on (same atom
    order); the site then follows its defining atoms.
    """
    cell = np.asarray(atoms.cell.array, float)
    pos = atoms.positions[list(site.indices)] + np.asarray(site.offsets, float).reshape(-1, 3) @ cell
    return pos.mean(axis=0)


# ----------------------------------------------------------------------------------------------
# internal candidate representation
# ----------------------------------------------------------------------------------------------
@dataclass
class _Cand:
    kind: str
    base: str  # label stem: top / bridge / fcc / hcp / hollow (slabs) or full label (active)
    members: tuple[tuple[int, tuple[int, int, int]], ...]
    position: np.ndarray
    normal: np.ndarray
    length: float = 0.0  # bridge length (3-D distance between its two atoms)

    def shifted(self, shift: np.ndarray, cell: np.ndarray) -> "_Cand":
        s = tuple(int(v) for v in shift)
        members = tuple((i, (o[0] + s[0], o[1] + s[1], o[2] + s[2])) for i, o in self.members)
        return _Cand(self.kind, self.base, members, self.position + np.asarray(s, float) @ cell,
                     self.normal, self.length)


@dataclass
class _Analysis:
    cands: list[_Cand]
    orbit: np.ndarray  # orbit id of every candidate
    labels: dict[int, str]  # orbit id -> label
    reps: dict[int, int]  # orbit id -> representative candidate index
    sizes: dict[int, int]  # orbit id -> multiplicity
    ops: list[tuple[np.ndarray, np.ndarray]]  # fractional (R, t) surface operations
    cell: np.ndarray
    active_model: bool
    axes: np.ndarray  # lattice axes along which positions are periodic (for matching)
    active: tuple[int, ...] = ()

    def site(self, c: int, cand: _Cand | None = None) -> Site:
        cand = self.cands[c] if cand is None else cand
        o = int(self.orbit[c])
        return Site(
            kind=cand.kind,
            label=self.labels[o],
            indices=tuple(int(i) for i, _ in cand.members),
            offsets=tuple(tuple(int(v) for v in off) for _, off in cand.members),
            position=tuple(float(v) for v in cand.position),
            normal=tuple(float(v) + 0.0 if abs(v) > 1e-12 else 0.0 for v in cand.normal),
            multiplicity=int(self.sizes[o]),
            coordination=len(cand.members),
        )

    def sorted_orbits(self) -> list[int]:
        return sorted(self.labels, key=lambda o: (_KIND_ORDER[self.cands[self.reps[o]].kind],
                                                  _natural_key(self.labels[o])))


def _natural_key(label: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


# ----------------------------------------------------------------------------------------------
# geometry helpers
# ----------------------------------------------------------------------------------------------
def _cell_ok(cell: np.ndarray) -> bool:
    return abs(np.linalg.det(cell)) > 1e-6


def _frac(points: np.ndarray, cell: np.ndarray) -> np.ndarray:
    return np.asarray(points, float) @ np.linalg.inv(cell)


def _home_xy(frac_xy: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Integer shift that brings fractional xy into the home cell [0, 1) (robust at the edges)."""
    return np.floor(np.asarray(frac_xy) + eps)


_XY = np.array([True, True, False])  # slabs: periodic in x and y only
_NONE = np.zeros(3, bool)


def _wrap(points: np.ndarray, cell: np.ndarray, axes: np.ndarray = _XY) -> np.ndarray:
    """Translate points by lattice vectors along ``axes`` so those fractional coordinates lie in [0, 1)."""
    points = np.asarray(points, float)
    if not axes.any():
        return points
    f = _frac(points, cell)
    shift = np.where(axes, _home_xy(f), 0.0)
    return points - shift @ cell


def _mic(vectors: np.ndarray, cell: np.ndarray, axes: np.ndarray = _XY) -> np.ndarray:
    """Minimum-image form (along ``axes``) of difference vectors of any leading shape."""
    vectors = np.asarray(vectors, float)
    if not axes.any():
        return vectors
    f = _frac(vectors, cell)
    f = f - np.where(axes, np.round(f), 0.0)
    return f @ cell


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


def _image_ranges(cell: np.ndarray, pad: float) -> tuple[range, range]:
    """Ranges of in-plane lattice images needed to cover ``pad`` angstrom around the home cell."""
    a1, a2 = cell[0, :2], cell[1, :2]
    area = abs(a1[0] * a2[1] - a1[1] * a2[0])
    h1 = area / max(np.linalg.norm(a2), 1e-9)  # width of the cell across a1
    h2 = area / max(np.linalg.norm(a1), 1e-9)
    n1 = int(np.ceil(pad / h1)) + 1
    n2 = int(np.ceil(pad / h2)) + 1
    return range(-n1, n1 + 1), range(-n2, n2 + 1)


def _lateral(v: np.ndarray, normal: np.ndarray = _ZHAT) -> float:
    v = np.asarray(v, float)
    return float(np.linalg.norm(v - np.dot(v, normal) * normal))


# ----------------------------------------------------------------------------------------------
# symmetry
# ----------------------------------------------------------------------------------------------
def _surface_operations(atoms: Atoms, symprec: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Space-group operations of the (3-D periodic) structure that keep z and the +z side.

    spglib is given the cell, scaled positions and atomic numbers.  An operation (R, t) acting on
    fractional coordinates is kept when its Cartesian rotation maps z onto +z (no tilt, no flip)
    and its translation has no z component, i.e. it maps the top surface onto itself.
    """
    identity = [(np.eye(3), np.zeros(3))]
    cell = np.asarray(atoms.cell.array, float)
    if len(atoms) == 0 or not _cell_ok(cell):
        return identity
    spg_cell = (cell, atoms.get_scaled_positions(wrap=True), atoms.numbers)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # spglib 2.7+ error-handling notice
            data = spglib.get_symmetry(spg_cell, symprec=symprec)
    except Exception:  # spglib.error.SpglibError with new error handling
        data = None
    if not data:
        return identity
    L = cell.T
    Linv = np.linalg.inv(L)
    ops = []
    for R, t in zip(data["rotations"], data["translations"]):
        Rc = L @ R @ Linv
        if abs(Rc[2, 2] - 1) > 1e-3 or np.abs(Rc[2, :2]).max() > 1e-3 or np.abs(Rc[:2, 2]).max() > 1e-3:
            continue
        tw = np.asarray(t, float) - np.round(t)
        if abs((L @ tw)[2]) > symprec:
            continue
        ops.append((np.asarray(R, float), np.asarray(t, float)))
    return ops or identity


def _apply(op, points: np.ndarray, cell: np.ndarray) -> np.ndarray:
    R, t = op
    f = _frac(points, cell)
    return (f @ R.T + t) @ cell


def _orbits(cands: list[_Cand], ops, cell: np.ndarray, tol: float, axes: np.ndarray) -> np.ndarray:
    """Union-find of candidates mapped onto each other by the operations (same kind and size)."""
    n = len(cands)
    parent = np.arange(n)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n == 0:
        return parent
    pos = np.array([c.position for c in cands])
    key = np.array([_KIND_ORDER[c.kind] * 100 + len(c.members) for c in cands])
    # candidates wrapped into the home cell plus their neighbouring images, in a k-d tree
    home = _wrap(pos, cell, axes)
    rng = [(-1, 0, 1) if a else (0,) for a in axes]
    shifts = np.array(list(itertools.product(*rng)), float)
    shifts = shifts @ cell if _cell_ok(cell) else np.zeros((1, 3))
    tree = cKDTree((home[None, :, :] + shifts[:, None, :]).reshape(-1, 3))
    owner = np.tile(np.arange(n), len(shifts))
    links = set()
    for op in ops:
        mapped = _wrap(_apply(op, pos, cell), cell, axes) if _cell_ok(cell) else pos
        dist, idx = tree.query(mapped, distance_upper_bound=tol)
        hit = np.flatnonzero(np.isfinite(dist))
        d = owner[idx[hit]]
        same = key[d] == key[hit]
        links.update(zip(hit[same].tolist(), d[same].tolist()))
    for c, d in links:
        a, b = find(c), find(d)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return np.array([find(i) for i in range(n)])


# ----------------------------------------------------------------------------------------------
# slabs
# ----------------------------------------------------------------------------------------------
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
        v = _mic(atoms.positions - atoms.positions[k], cell)
        above = (v[:, 2] > 0.3) & (np.linalg.norm(v[:, :2], axis=1) < 0.75 * d1)
        if above.sum() < 3:
            keep.append(k)
    return np.array(keep, int)


def _circumcentre(p: np.ndarray) -> np.ndarray:
    (ax, ay), (bx, by), (cx, cy) = p
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if abs(d) < 1e-12:
        return p.mean(axis=0)
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return np.array([ux, uy])


def _slab_candidates(atoms: Atoms, surf: np.ndarray, d1: float, merge_tol: float) -> list[_Cand]:
    cell = np.asarray(atoms.cell.array, float)
    P = atoms.positions
    cands: list[_Cand] = [
        _Cand("top", "top", ((int(i), (0, 0, 0)),), P[i].copy(), _ZHAT.copy()) for i in surf
    ]
    if len(surf) == 0:
        return cands
    r1, r2 = _image_ranges(cell, max(8.0, 3.0 * d1))
    img = np.array([(n1, n2, 0) for n1 in r1 for n2 in r2], int)
    pts3 = (P[surf][None, :, :] + (img @ cell)[:, None, :]).reshape(-1, 3)
    atom_of = np.tile(surf, len(img))
    img_of = np.repeat(img, len(surf), axis=0)
    tri = Delaunay(pts3[:, :2])
    simp = tri.simplices
    cc = np.array([_circumcentre(pts3[s, :2]) for s in simp])

    # merge adjacent triangles with a common circumcentre (squares / rectangles -> 4-fold hollows)
    parent = np.arange(len(simp))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    internal: set[tuple[int, int]] = set()
    for t, nbrs in enumerate(tri.neighbors):
        for k, u in enumerate(nbrs):
            if u > t and np.linalg.norm(cc[t] - cc[u]) < merge_tol:
                parent[find(u)] = find(t)
                shared = tuple(sorted(int(v) for j, v in enumerate(simp[t]) if j != k))
                internal.add(shared)
    groups: dict[int, set[int]] = {}
    for t in range(len(simp)):
        groups.setdefault(find(t), set()).update(int(v) for v in simp[t])

    inv_cell = np.linalg.inv(cell)  # once, not once per edge and triangle

    def home(points_idx) -> bool:
        c = pts3[list(points_idx)].mean(axis=0)
        return bool(np.all(_home_xy((c @ inv_cell)[:2]) == 0))

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
            cands.append(_Cand("bridge", "bridge", members(e), p.mean(axis=0), _ZHAT.copy(),
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
        cands.append(_Cand("hollow", base, members(v), pts3[v].mean(axis=0), _ZHAT.copy()))
    return cands


def _hollow_name(atoms: Atoms, tri_xyz: np.ndarray, d1: float) -> str:
    """'fcc' / 'hcp' for a flat, equilateral 3-fold hollow (close-packed face), else 'hollow'.

    'hcp' if an atom of the next layer lies below the hollow's centre, 'fcc' if none does.
    """
    sides = [np.linalg.norm(tri_xyz[i] - tri_xyz[j]) for i, j in ((0, 1), (1, 2), (0, 2))]
    if max(sides) > 1.1 * min(sides) or np.ptp(tri_xyz[:, 2]) > 0.3:
        return "hollow"
    c = tri_xyz.mean(axis=0)
    v = _mic(atoms.positions - c, atoms.cell.array)
    below = (v[:, 2] < -0.3) & (v[:, 2] > -1.3 * d1) & (np.linalg.norm(v[:, :2], axis=1) < 0.3 * d1)
    return "hcp" if below.any() else "fcc"


def _label_slab_orbits(cands: list[_Cand], orbit: np.ndarray, reps: dict[int, int]) -> dict[int, str]:
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


def _choose_reps(cands: list[_Cand], orbit: np.ndarray) -> dict[int, int]:
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


def _analyse_slab(atoms: Atoms, surface_depth: float | None, symprec: float) -> _Analysis:
    cell = np.asarray(atoms.cell.array, float)
    if not _cell_ok(cell) or not (atoms.pbc[0] and atoms.pbc[1]):
        raise ValueError("find_sites: a slab needs a 3-D cell periodic in x and y "
                         "(or set atoms.info['active'] for an atomically dispersed model)")
    if np.linalg.norm(cell[0, 2]) > 1e-6 or np.linalg.norm(cell[1, 2]) > 1e-6:
        raise ValueError("find_sites: the in-plane cell vectors must lie in the xy plane (normal +z)")
    d1 = _nn_distance(atoms)
    surf = _surface_atoms(atoms, surface_depth, d1)
    tol = max(2 * symprec, 0.05)
    cands = _slab_candidates(atoms, surf, d1, merge_tol=max(symprec, 0.05))
    ops = _surface_operations(atoms, symprec)
    orbit = _orbits(cands, ops, cell, tol, _XY)
    reps = _choose_reps(cands, orbit)
    labels = _label_slab_orbits(cands, orbit, reps)
    sizes = {o: int((orbit == o).sum()) for o in reps}
    return _Analysis(cands, orbit, labels, reps, sizes, ops, cell, active_model=False, axes=_XY)


# ----------------------------------------------------------------------------------------------
# atomically dispersed (active-site) models
# ----------------------------------------------------------------------------------------------
def _mic_offset(atoms: Atoms, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Image offset n of atom j nearest to atom i, and the vector p_j + n@cell - p_i."""
    cell = np.asarray(atoms.cell.array, float)
    d0 = atoms.positions[j] - atoms.positions[i]
    if not _cell_ok(cell) or not any(atoms.pbc):
        return np.zeros(3, int), d0
    f = _frac(d0[None], cell)[0]
    base = np.where(atoms.pbc, -np.round(f), 0).astype(int)
    best = (np.inf, base, d0)
    rng = [(-1, 0, 1) if p else (0,) for p in atoms.pbc]
    for dn in itertools.product(*rng):
        n = base + np.array(dn, int)
        v = d0 + n @ cell
        if np.linalg.norm(v) < best[0] - 1e-9:
            best = (float(np.linalg.norm(v)), n, v)
    return best[1], best[2]


#: support atoms within this distance (angstrom) of an active atom define its local support surface
SUPPORT_ENV_RADIUS = 4.0


def _active_normal(atoms: Atoms, k: int, active: set[int]) -> np.ndarray:
    """Outward normal at active atom k from the shape of the support around it.

    The support environment is every non-active atom within :data:`SUPPORT_ENV_RADIUS` (and every
    bonded one, 1.25 x the sum of covalent radii).  If those atoms form a sheet (a plane fitted by
    SVD describes them), the normal is that plane's: +z when it is within 30 deg of z (flat sheets;
    by the package convention the +z side of SAC/DAC models is the free one), otherwise oriented
    from the sheet towards the atom (or to the +z half-space when the atom lies in the sheet), as
    on a curved support.  If they do not form a sheet (a 3-D support), it is the direction from
    their centroid to the atom, snapped to +z when within 30 deg of it (+z if that vector is
    shorter than 0.3 A).
    """
    cos30 = np.cos(np.radians(30.0))
    env = []
    for j in range(len(atoms)):
        if j == k or j in active:
            continue
        _, v = _mic_offset(atoms, k, j)
        r = np.linalg.norm(v)
        if r < SUPPORT_ENV_RADIUS or r < 1.25 * (covalent_radii[atoms.numbers[k]] + covalent_radii[atoms.numbers[j]]):
            env.append(v)
    if not env:
        return _ZHAT.copy()
    env = np.array(env)
    out = -env.mean(axis=0)  # from the centroid of the environment to the atom
    if len(env) >= 3:
        _, sv, vt = np.linalg.svd(env - env.mean(axis=0))
        if sv[1] > 0.3 * sv[0] and sv[2] < 0.35 * sv[1]:  # a sheet, not a line or a 3-D block
            n = vt[2]
            if abs(n[2]) > cos30:
                return _ZHAT.copy()
            h = float(np.dot(out, n))
            return n * (np.sign(h) if abs(h) > 0.3 else (1.0 if n[2] >= 0 else -1.0))
    if np.linalg.norm(out) < 0.3:
        return _ZHAT.copy()
    n = out / np.linalg.norm(out)
    return _ZHAT.copy() if n[2] > cos30 else n


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return _ZHAT.copy() if n < 1e-8 else v / n


def _analyse_active(atoms: Atoms, active: list[int], symprec: float) -> _Analysis:
    n_at = len(atoms)
    active = [int(i) for i in active]
    if any(i < 0 or i >= n_at for i in active) or len(set(active)) != len(active):
        raise ValueError(f"atoms.info['active'] must hold distinct atom indices, got {active}")
    aset = set(active)
    cell = np.asarray(atoms.cell.array, float)
    P = atoms.positions
    normals = {k: _active_normal(atoms, k, aset) for k in active}
    sym = atoms.get_chemical_symbols()
    cands: list[_Cand] = [_Cand("top", f"top-{sym[k]}", ((k, (0, 0, 0)),), P[k].copy(), normals[k])
                          for k in active]
    close = {}
    for a, b in itertools.combinations(range(len(active)), 2):
        i, j = active[a], active[b]
        n, v = _mic_offset(atoms, i, j)
        if np.linalg.norm(v) < ACTIVE_BRIDGE_CUTOFF:
            close[(a, b)] = n
            cands.append(_Cand("bridge", f"bridge-{sym[i]}-{sym[j]}",
                               ((i, (0, 0, 0)), (j, tuple(int(x) for x in n))),
                               (P[i] + P[j] + n @ cell) / 2, _unit(normals[i] + normals[j]),
                               float(np.linalg.norm(v))))
    for a, b, c in itertools.combinations(range(len(active)), 3):
        if (a, b) in close and (a, c) in close and (b, c) in close:
            i, j, k = active[a], active[b], active[c]
            nj, nk = close[(a, b)], close[(a, c)]
            if np.linalg.norm((P[k] + nk @ cell) - (P[j] + nj @ cell)) >= ACTIVE_BRIDGE_CUTOFF:
                continue
            xyz = np.array([P[i], P[j] + nj @ cell, P[k] + nk @ cell])
            cands.append(_Cand("hollow", f"hollow-{sym[i]}-{sym[j]}-{sym[k]}",
                               ((i, (0, 0, 0)), (j, tuple(int(x) for x in nj)), (k, tuple(int(x) for x in nk))),
                               xyz.mean(axis=0), _unit(normals[i] + normals[j] + normals[k])))

    # spglib treats the cell as 3-D periodic, so its operations are matched modulo the whole lattice
    axes = np.ones(3, bool) if _cell_ok(cell) else _NONE
    ops = _surface_operations(atoms, symprec)
    tol = max(2 * symprec, 0.05)
    if len(ops) > 1:  # keep only operations that map the set of active atoms onto itself
        act_pos = P[active]
        kept = []
        for op in ops:
            dv = _mic(_apply(op, act_pos, cell)[:, None, :] - act_pos[None, :, :], cell, axes)
            if np.all(np.linalg.norm(dv, axis=2).min(axis=1) < tol):
                kept.append(op)
        ops = kept or [(np.eye(3), np.zeros(3))]
    orbit = _orbits(cands, ops, cell, tol, axes)
    # representative: the candidate whose first active atom comes first in info['active']
    order = {k: r for r, k in enumerate(active)}
    reps: dict[int, int] = {}
    for c in range(len(cands)):
        o = int(orbit[c])
        key = tuple(order[i] for i, _ in cands[c].members)
        if o not in reps or key < tuple(order[i] for i, _ in cands[reps[o]].members):
            reps[o] = c
    # labels: element names; symmetry-distinct sites with the same name get '#2', '#3', ... in the
    # order of atoms.info['active']
    by_base: dict[str, list[int]] = {}
    for o, c in reps.items():
        by_base.setdefault(cands[c].base, []).append(o)
    labels = {}
    for base, orbs in by_base.items():
        ranked = sorted(orbs, key=lambda o: tuple(order[i] for i, _ in cands[reps[o]].members))
        for k, o in enumerate(ranked, 1):
            labels[o] = base if k == 1 else f"{base}#{k}"
    sizes = {o: int((orbit == o).sum()) for o in reps}
    return _Analysis(cands, orbit, labels, reps, sizes, ops, cell, active_model=True,
                     axes=axes, active=tuple(active))


def _analyse(atoms: Atoms, surface_depth: float | None, symprec: float) -> _Analysis:
    active = atoms.info.get("active")
    if active is not None and len(active) > 0:
        return _analyse_active(atoms, list(active), symprec)
    return _analyse_slab(atoms, surface_depth, symprec)


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def find_sites(atoms: Atoms, *, surface_depth: float | None = None, symprec: float = 0.1) -> list[Site]:
    """Symmetry-unique adsorption sites of a slab or of an active-site (SAC/DAC) model.

    Parameters
    ----------
    atoms
        A slab (vacuum along z, adsorption on the top = largest-z side, xy periodic), or a model
        with ``atoms.info['active']`` = indices of the active (metal) atoms.
    surface_depth
        Slabs only: take every atom within this many angstrom of the topmost atom as a surface atom,
        instead of the default coordination-deficit rule (see the module docstring).
    symprec
        spglib tolerance (angstrom); also the tolerance for matching sites under an operation.

    Returns
    -------
    One representative :class:`Site` per symmetry orbit, ordered top, bridge, hollow, then by
    label; ``multiplicity`` is the orbit size (copies in the cell).

    Slab labels: 'top', 'bridge', 'fcc', 'hcp' (flat equilateral 3-fold hollows without / with a
    next-layer atom below), 'hollow' (other 3- and 4-fold hollows).  Several inequivalent sites
    with one name are suffixed 'bridge-short' / 'bridge-long' (two bridges of different length)
    or '-1', '-2', ... in order of decreasing height, then x, then y.  Active-site labels name the
    atoms: 'top-Fe', 'top-Fe#2', 'bridge-Fe-Cu', 'hollow-Fe-Co-Ni' (elements, and the '#n' of
    inequivalent sites with the same name, in the order of ``atoms.info['active']``).
    """
    an = _analyse(atoms, surface_depth, symprec)
    return [an.site(an.reps[o]) for o in an.sorted_orbits()]


def _pair_images(an: _Analysis, p1: np.ndarray, p2: np.ndarray):
    """Images of the point pair (p1, p2) and of (p2, p1) under every operation: (firsts, disps)."""
    pts = np.array([p1, p2], float)
    if _cell_ok(an.cell):
        R = np.array([op[0] for op in an.ops])
        t = np.array([op[1] for op in an.ops])
        m = (np.einsum("mij,pj->mpi", R, _frac(pts, an.cell)) + t[:, None, :]) @ an.cell  # (ops, 2, 3)
    else:
        m = pts[None]
    firsts = np.concatenate([m[:, 0], m[:, 1]])
    disps = np.concatenate([m[:, 1] - m[:, 0], m[:, 0] - m[:, 1]])
    return firsts, disps


def _matches_any(an: _Analysis, images, refs_first: np.ndarray, refs_disp: np.ndarray, tol: float) -> bool:
    """True if any image (first, disp) of a pair coincides with one of the reference pairs."""
    if len(refs_first) == 0:
        return False
    firsts, disps = images
    dv = _mic(firsts[:, None, :] - refs_first[None, :, :], an.cell, an.axes)
    dd = disps[:, None, :] - refs_disp[None, :, :]
    ok = (np.linalg.norm(dv, axis=2) < tol) & (np.linalg.norm(dd, axis=2) < tol)
    return bool(ok.any())


def find_site_pairs(atoms: Atoms, sites: list[Site] | None = None, *, max_distance: float = 3.5,
                    symprec: float = 0.1) -> list[SitePair]:
    """Symmetry-unique pairs of sites for bidentate adsorbates (e.g. NO3 or NO2 through O,O).

    Slabs: pairs of sites of the same kind (top+top, bridge+bridge, hollow+hollow, e.g. also
    'fcc+hcp') whose lateral separation is in (0.5, ``max_distance``] angstrom.  A pair and its
    image under a surface operation, or with its two sites swapped, count once.  ``second`` is the
    concrete periodic image of its site at that separation from ``first`` (its ``offsets`` say
    which), so ``site_position`` of both gives the two actual positions.

    Active-site models: pairs of top sites on two different active atoms within ``max_distance``
    (e.g. 'top-Fe+top-Cu'), and the chelating pair (the same top site twice, distance 0) for every
    active atom with no other active atom within ``max_distance`` (so always for single-atom
    models): a bidentate adsorbate then binds through both O to the one metal.

    ``sites`` (optional, as returned by :func:`find_sites`) restricts the pairs to those labels.
    """
    an = _analyse(atoms, None, symprec)
    allowed = None if sites is None else {s.label for s in sites}
    tol = max(2 * symprec, 0.05)
    cell = an.cell
    orbits = [o for o in an.sorted_orbits() if allowed is None or an.labels[o] in allowed]
    found: list[tuple[SitePair, tuple[np.ndarray, np.ndarray]]] = []
    chelating: list[SitePair] = []

    def add(first_c: int, second: _Cand, c2: int, dist: float):
        p1 = an.cands[first_c].position
        p2 = second.position
        images = _pair_images(an, p1, p2)
        if found and _matches_any(an, images, np.array([r[0] for _, r in found]),
                                  np.array([r[1] for _, r in found]), tol):
            return
        s1, s2 = an.site(first_c), an.site(c2, second)
        pair = SitePair(s1, s2, float(dist), f"{s1.label}+{s2.label}")
        ref = (p1, p2 - p1)
        found.append((pair, ref))

    if an.active_model:
        # tops in the order of atoms.info['active'] (so a pair reads 'top-Fe+top-Cu' for [Fe, Cu])
        rank = {k: r for r, k in enumerate(an.active)}
        tops = sorted((o for o in orbits if an.cands[an.reps[o]].kind == "top"),
                      key=lambda o: rank[an.cands[an.reps[o]].members[0][0]])
        top_cands = [c for c in range(len(an.cands)) if an.cands[c].kind == "top"
                     and int(an.orbit[c]) in set(tops)]
        for o in tops:
            c1 = an.reps[o]
            i = an.cands[c1].members[0][0]
            lonely = True
            for c2 in top_cands:
                j = an.cands[c2].members[0][0]
                if j == i:
                    continue
                n, v = _mic_offset(atoms, i, j)
                nrm = _unit(an.cands[c1].normal + an.cands[c2].normal)
                d = _lateral(v, nrm)
                if np.linalg.norm(v) <= max_distance:
                    lonely = False
                if 0.5 < d <= max_distance:
                    add(c1, an.cands[c2].shifted(n, cell), c2, d)
            if lonely:
                s = an.site(c1)
                chelating.append(SitePair(s, s, 0.0, f"{s.label}+{s.label}"))
    else:
        r1, r2 = _image_ranges(cell, max_distance)
        shifts = np.array([(n1, n2, 0) for n1 in r1 for n2 in r2], int)
        for o in orbits:
            c1 = an.reps[o]
            kind = an.cands[c1].kind
            p1 = an.cands[c1].position
            for c2, cand in enumerate(an.cands):
                if cand.kind != kind or (allowed is not None and an.labels[int(an.orbit[c2])] not in allowed):
                    continue
                disp = cand.position[None, :] + shifts @ cell - p1[None, :]
                lat = np.linalg.norm(disp[:, :2], axis=1)
                for k in np.flatnonzero((lat > 0.5) & (lat <= max_distance + 1e-9)):
                    add(c1, cand.shifted(shifts[k], cell), c2, lat[k])

    pairs = [p for p, _ in found] + chelating
    pairs.sort(key=lambda p: (_KIND_ORDER[p.first.kind], round(p.distance, 3), _natural_key(p.label)))
    return pairs
