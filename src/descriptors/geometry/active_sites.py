"""Adsorption sites of atomically dispersed (SAC/DAC) models: only the active metal atoms are sites.

``atoms.info['active']`` lists the active atom indices, e.g. the Fe of Fe-N4 graphene or the two
metals of a dual-atom catalyst.  The support atoms are never sites; the sites are the active atoms
(top), pairs of close active atoms (bridge) and triples (hollow), grouped by the symmetry
operations that map the set of active atoms onto itself.

Normals come from the shape of the support around each active atom (see :func:`_active_normal`):
+z on flat sheets, the local outward direction on curved supports.
"""

from __future__ import annotations

import itertools

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from descriptors.geometry.periodic import NONE, cell_ok, mic, mic_offset
from descriptors.geometry.site_model import ZHAT, Candidate, SiteOrbits, unit
from descriptors.geometry.symmetry import (
    Operation,
    apply_operation,
    orbits,
    surface_operations,
)

__all__ = ["ACTIVE_BRIDGE_CUTOFF", "SUPPORT_ENV_RADIUS", "analyse_active"]

#: active atoms closer than this (angstrom) form a bridge (and three mutually close ones a hollow)
ACTIVE_BRIDGE_CUTOFF = 3.5
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
        _, v = mic_offset(atoms, k, j)
        r = np.linalg.norm(v)
        if r < SUPPORT_ENV_RADIUS or r < 1.25 * (covalent_radii[atoms.numbers[k]] + covalent_radii[atoms.numbers[j]]):
            env.append(v)
    if not env:
        return ZHAT.copy()
    env = np.array(env)
    out = -env.mean(axis=0)  # from the centroid of the environment to the atom
    if len(env) >= 3:
        _, sv, vt = np.linalg.svd(env - env.mean(axis=0))
        if sv[1] > 0.3 * sv[0] and sv[2] < 0.35 * sv[1]:  # a sheet, not a line or a 3-D block
            n = vt[2]
            if abs(n[2]) > cos30:
                return ZHAT.copy()
            h = float(np.dot(out, n))
            return n * (np.sign(h) if abs(h) > 0.3 else (1.0 if n[2] >= 0 else -1.0))
    if np.linalg.norm(out) < 0.3:
        return ZHAT.copy()
    n = out / np.linalg.norm(out)
    return ZHAT.copy() if n[2] > cos30 else n


def _active_candidates(atoms: Atoms, active: list[int]) -> list[Candidate]:
    """Tops on the active atoms, bridges between close pairs and hollows on mutually close triples."""
    aset = set(active)
    cell = np.asarray(atoms.cell.array, float)
    P = atoms.positions
    normals = {k: _active_normal(atoms, k, aset) for k in active}
    sym = atoms.get_chemical_symbols()
    cands: list[Candidate] = [Candidate("top", f"top-{sym[k]}", ((k, (0, 0, 0)),), P[k].copy(), normals[k])
                              for k in active]
    close = {}
    for a, b in itertools.combinations(range(len(active)), 2):
        i, j = active[a], active[b]
        n, v = mic_offset(atoms, i, j)
        if np.linalg.norm(v) < ACTIVE_BRIDGE_CUTOFF:
            close[(a, b)] = n
            cands.append(Candidate("bridge", f"bridge-{sym[i]}-{sym[j]}",
                                   ((i, (0, 0, 0)), (j, tuple(int(x) for x in n))),
                                   (P[i] + P[j] + n @ cell) / 2, unit(normals[i] + normals[j]),
                                   float(np.linalg.norm(v))))
    for a, b, c in itertools.combinations(range(len(active)), 3):
        if (a, b) in close and (a, c) in close and (b, c) in close:
            i, j, k = active[a], active[b], active[c]
            nj, nk = close[(a, b)], close[(a, c)]
            if np.linalg.norm((P[k] + nk @ cell) - (P[j] + nj @ cell)) >= ACTIVE_BRIDGE_CUTOFF:
                continue
            xyz = np.array([P[i], P[j] + nj @ cell, P[k] + nk @ cell])
            cands.append(Candidate("hollow", f"hollow-{sym[i]}-{sym[j]}-{sym[k]}",
                                   ((i, (0, 0, 0)), (j, tuple(int(x) for x in nj)),
                                    (k, tuple(int(x) for x in nk))),
                                   xyz.mean(axis=0), unit(normals[i] + normals[j] + normals[k])))
    return cands


def _active_operations(atoms: Atoms, active: list[int], symprec: float, axes: np.ndarray) -> list[Operation]:
    """Surface operations that map the set of active atoms onto itself (modulo the lattice along ``axes``)."""
    cell = np.asarray(atoms.cell.array, float)
    ops = surface_operations(atoms, symprec)
    tol = max(2 * symprec, 0.05)
    if len(ops) <= 1:
        return ops
    act_pos = atoms.positions[active]
    kept = []
    for op in ops:
        dv = mic(apply_operation(op, act_pos, cell)[:, None, :] - act_pos[None, :, :], cell, axes)
        if np.all(np.linalg.norm(dv, axis=2).min(axis=1) < tol):
            kept.append(op)
    return kept or [(np.eye(3), np.zeros(3))]


def _label_active_orbits(cands: list[Candidate], orbit: np.ndarray, active: list[int]
                         ) -> tuple[dict[int, int], dict[int, str]]:
    """Representatives and labels of the orbits, both in the order of ``atoms.info['active']``.

    The representative is the candidate whose first active atom comes first; labels name the
    elements, and symmetry-distinct sites with the same name get '#2', '#3', ... in that order.
    """
    order = {k: r for r, k in enumerate(active)}

    def rank(c: int) -> tuple[int, ...]:
        return tuple(order[i] for i, _ in cands[c].members)

    reps: dict[int, int] = {}
    for c in range(len(cands)):
        o = int(orbit[c])
        if o not in reps or rank(c) < rank(reps[o]):
            reps[o] = c
    by_base: dict[str, list[int]] = {}
    for o, c in reps.items():
        by_base.setdefault(cands[c].base, []).append(o)
    labels = {}
    for base, orbs in by_base.items():
        for k, o in enumerate(sorted(orbs, key=lambda o: rank(reps[o])), 1):
            labels[o] = base if k == 1 else f"{base}#{k}"
    return reps, labels


def analyse_active(atoms: Atoms, active: list[int], symprec: float) -> SiteOrbits:
    """Every candidate site on the active atoms, grouped into orbits of the operations that keep them."""
    active = [int(i) for i in active]
    if any(i < 0 or i >= len(atoms) for i in active) or len(set(active)) != len(active):
        raise ValueError(f"atoms.info['active'] must hold distinct atom indices, got {active}")
    cell = np.asarray(atoms.cell.array, float)
    cands = _active_candidates(atoms, active)
    # spglib treats the cell as 3-D periodic, so its operations are matched modulo the whole lattice
    axes = np.ones(3, bool) if cell_ok(cell) else NONE
    ops = _active_operations(atoms, active, symprec, axes)
    orbit = orbits(cands, ops, cell, max(2 * symprec, 0.05), axes)
    reps, labels = _label_active_orbits(cands, orbit, active)
    sizes = {o: int((orbit == o).sum()) for o in reps}
    return SiteOrbits(cands, orbit, labels, reps, sizes, ops, cell, active_model=True,
                      axes=axes, active=tuple(active))
