"""Geometry checks on a relaxed adsorbate structure: is it still bound, still intact, and where?

Bonds are judged with covalent radii (Cordero et al., Dalton Trans. 2008, 2832, as
``ase.data.covalent_radii``) scaled by ``BOND_SCALE``: generous enough for the stretched bonds
of an adsorbate, tight enough that a desorbed molecule 3 A above the surface is not "bound".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.geometry import get_distances
from scipy.sparse.csgraph import connected_components

__all__ = ["BOND_SCALE", "INTRA_SCALE", "check_adsorbate", "bonded_partners"]

BOND_SCALE = 1.25  # adsorbate-substrate bonds
INTRA_SCALE = 1.4  # bonds inside the adsorbate: cheap calculators stretch X-H bonds (EMT: O-H 1.22 A)


def _cutoff(zi: int, zj: int) -> float:
    return BOND_SCALE * (covalent_radii[zi] + covalent_radii[zj])


def bonded_partners(atoms: Atoms, i: int, candidates) -> list[int]:
    """Indices in ``candidates`` bonded to atom ``i`` (minimum-image distances)."""
    candidates = np.asarray(list(candidates), int)
    if len(candidates) == 0:
        return []
    _, d = get_distances(atoms.positions[i], atoms.positions[candidates], cell=atoms.cell, pbc=atoms.pbc)
    d = d[0]
    cut = np.array([_cutoff(atoms.numbers[i], atoms.numbers[j]) for j in candidates])
    return [int(j) for j in candidates[d < cut]]


def check_adsorbate(atoms: Atoms, adsorbate_indices, binding_indices, active=None) -> dict[str, Any]:
    """Describe how the adsorbate sits after relaxation.

    Returns ``bound_to`` (sorted symbols of substrate atoms bonded to the binding atoms),
    ``binding_coordination`` (how many substrate atoms the first binding atom bonds to: 1 top,
    2 bridge, 3/4 hollow), ``bound_to_active`` (for atomically dispersed models: whether a
    binding atom bonds to an active metal) and ``anomaly``: '' if fine, else a comma list of
    'desorbed' (no binding atom bonded to the substrate), 'dissociated' (the adsorbate graph
    fell apart), 'off-active-site' (bound, but not to the active metal).
    """
    ads = [int(i) for i in adsorbate_indices]
    substrate = [i for i in range(len(atoms)) if i not in set(ads)]
    partners: list[int] = []
    first_coord = 0
    for k, b in enumerate(binding_indices):
        p = bonded_partners(atoms, int(b), substrate)
        if k == 0:
            first_coord = len(p)
        partners += p
    anomalies = []
    if not partners:
        # any adsorbate atom touching the surface still counts as bound, but flagged elsewhere
        any_bond = any(bonded_partners(atoms, i, substrate) for i in ads)
        anomalies.append("desorbed" if not any_bond else "rebound")
    if len(ads) > 1:
        sub = atoms[ads]
        _, d = get_distances(sub.positions, cell=atoms.cell, pbc=atoms.pbc)
        z = sub.numbers
        cut = INTRA_SCALE * (covalent_radii[z][:, None] + covalent_radii[z][None, :])
        adj = (d < cut) & ~np.eye(len(ads), dtype=bool)
        n, _ = connected_components(adj, directed=False)
        if n > 1:
            anomalies.append("dissociated")
    bound_active = None
    if active:
        bound_active = bool(set(partners) & {int(i) for i in active})
        if partners and not bound_active:
            anomalies.append("off-active-site")
    return {
        "bound_to": ",".join(sorted(atoms[i].symbol for i in set(partners))),
        "bound_to_indices": sorted(set(partners)),
        "binding_coordination": int(first_coord),
        "bound_to_active": bound_active,
        "anomaly": ",".join(anomalies),
    }
