"""Dual-atom catalysts in N-doped graphene: M1M2-N6 (e.g. FeCu-N6, FeCo-N6).

Two metals in a graphene tetravacancy lined by six pyridinic N.  Sheet conventions and the
shared helpers are in :mod:`descriptors.structures.graphene`; the M1M2/g-C3N4 model and the metal
pairs of the published screen are in :mod:`descriptors.structures.gc3n4`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from descriptors.structures.graphene import (
    GRAPHENE_A,
    _check_element,
    _check_no_overlap,
    _finish_cell,
    _neighbours,
    _sized,
    _TooSmall,
    graphene_sheet,
    metal_image_distance,
)
from descriptors.structures.sac import M_N_START

__all__ = ["m1m2_n6_graphene"]


def _n6_at(m1, m2, size, cell, vacuum):
    sheet = graphene_sheet(size, cell=cell, vacuum=vacuum)
    nbrs, vec = _neighbours(sheet)
    pos = sheet.positions
    centre = sheet.cell[0] / 2 + sheet.cell[1] / 2
    # tetravacancy = a trans (zigzag) chain A-B-C-D; its two end bonds A-B and C-D are
    # parallel and one lattice constant apart: the metals sit at their midpoints.
    best = None
    near = np.linalg.norm((pos - centre)[:, :2], axis=1) < 3.0 * GRAPHENE_A
    for A in np.flatnonzero(near).tolist():
        for B in nbrs[A]:
            for C in nbrs[B]:
                if C == A:
                    continue
                for Dd in nbrs[C]:
                    if Dd == B or Dd in nbrs[A] or len({A, B, C, Dd}) < 4:
                        continue
                    rB = vec[(A, B)]
                    rC = rB + vec[(B, C)]
                    rD = rC + vec[(C, Dd)]
                    # trans chain: D - B is the same lattice vector as C - A
                    # (a cis chain, four corners of one hexagon, is rejected)
                    if not np.allclose(rD - rB, rC, atol=0.05):
                        continue
                    mid = pos[A] + (rB + rD) / 2  # centre of the chain
                    key = (round(float(np.linalg.norm((mid - centre)[:2])), 4),
                           round(abs(float(rC[1])), 4), (A, B, C, Dd))
                    if best is None or key < best[0]:
                        best = (key, (A, B, C, Dd), (rB, rC, rD))
    if best is None:
        raise _TooSmall
    _, chain, (rB, rC, rD) = best
    A, B, C, Dd = chain
    rel = {A: np.zeros(3), B: rB, C: rC, Dd: rD}
    border = []
    for x in chain:
        for y in nbrs[x]:
            if y not in chain:
                border.append((y, rel[x] + vec[(x, y)]))
    if len({b for b, _ in border}) != 6:
        raise _TooSmall
    p1 = pos[A] + (rel[A] + rel[B]) / 2
    p2 = pos[A] + (rel[C] + rel[Dd]) / 2
    new_pos = pos.copy()
    symbols = sheet.get_chemical_symbols()
    n_idx = []
    for b, r in border:
        p = pos[A] + r
        # move each N radially away from its nearer metal to the initial M-N distance
        home = p1 if np.linalg.norm(p - p1) < np.linalg.norm(p - p2) else p2
        u = (p - home) / np.linalg.norm(p - home)
        r0 = np.linalg.norm(p - home)
        new_pos[b] = home + u * min(M_N_START, r0 + 0.07)
        symbols[b] = "N"
        n_idx.append(b)
    sheet.positions[:] = new_pos
    sheet.set_chemical_symbols(symbols)
    keep = [k for k in range(len(sheet)) if k not in chain]
    renum = {old: new for new, old in enumerate(keep)}
    atoms = sheet[keep]
    atoms += Atoms([m1, m2], positions=[p1, p2])
    atoms.info["active"] = [len(atoms) - 2, len(atoms) - 1]
    _finish_cell(atoms, vacuum)
    return atoms, {"n_idx": sorted(renum[b] for b in n_idx), "size": [int(s) for s in size]}


def m1m2_n6_graphene(
    m1: str,
    m2: str,
    size: Sequence[int] | None = None,
    vacuum: float = 15.0,
    min_image_distance: float = 9.8,
    *,
    cell: str = "hexagonal",
) -> Atoms:
    """Two metals in N-doped graphene sharing six pyridinic N (M1M2-N6).

    Four C atoms forming a zigzag chain are removed (tetravacancy); the six C atoms
    that bordered it become N and the metals sit at the midpoints of the two end bonds
    of the chain, 2.46 A apart (one graphene lattice constant).  Each metal starts with
    three N at 1.93 A and the N bordering the other metal's half at ~2.6 A, so that
    relaxation can form the two N bridges of the FeCo-N6 / FeCu-N6-type site (each
    metal four-coordinate, two N shared; e.g. Wang et al., J. Am. Chem. Soc. 139, 17281
    (2017), doi:10.1021/jacs.7b10385).  The metal-metal distance is an outcome of
    relaxation.

    ``size=None`` picks the smallest supercell (fewest atoms) in which every metal is
    at least ``min_image_distance`` from every periodic image of either metal; for the
    hexagonal cell and 9.8 A that is 5x5 (M2N6C40, 48 atoms).
    """
    for sym, par in ((m1, "m1"), (m2, "m2")):
        _check_element(sym, par, "Fe")
    holder = {}

    def build(sz):
        atoms, meta = _n6_at(m1, m2, sz, cell, vacuum)
        holder["meta"] = meta
        return atoms

    atoms = _sized(build, size, min_image_distance, cell,
                   "the M1M2-N6 site; use at least (4, 4) (hexagonal) or (3, 2) (rectangular)")
    meta = holder["meta"]
    _check_no_overlap(atoms)
    i1, i2 = atoms.info["active"]
    atoms.info = {
        "catalyst": f"{m1}{m2}-N6/graphene",
        "model": "dac",
        "active": [int(i1), int(i2)],
        "metals": [m1, m2],
        "support": "graphene",
        "coordination": "N6",
        "first_shell_indices": meta["n_idx"],
        "ligand": [],
        "size": meta["size"],
        "cell_type": cell,
        "lattice_a": GRAPHENE_A,
        "vacuum": float(vacuum),
        "min_image_distance": float(min_image_distance),
        "image_distance": round(metal_image_distance(atoms, [i1, i2]), 4),
        "builder": "descriptors.dac.m1m2_n6_graphene",
    }
    return atoms
