"""k-point meshes from the cell: Monkhorst-Pack along periodic directions, 1 along vacuum."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["VACUUM_GAP", "vacuum_directions", "kpoints_from_cell", "kpts_for", "is_molecule"]

VACUUM_GAP = 5.0  # A; a periodic direction with an empty gap this wide is a vacuum direction


def vacuum_directions(atoms, gap: float = VACUUM_GAP) -> list[bool]:
    """For each cell vector: True if non-periodic or the atoms leave an empty gap >= ``gap`` A.

    The gap is measured between the lattice planes of the cell (fractional coordinates times the
    plane spacing), so a slab built with ``vacuum`` on each side has a gap of about 2*vacuum.
    """
    out = []
    cell = atoms.cell
    recip = cell.reciprocal()  # rows b_i with a_i . b_j = delta_ij (no 2 pi)
    scaled = atoms.get_scaled_positions(wrap=True) if len(atoms) else np.zeros((0, 3))
    for i in range(3):
        if not atoms.pbc[i] or cell.rank < 3:
            out.append(True)
            continue
        spacing = 1.0 / np.linalg.norm(recip[i])  # distance between lattice planes
        f = np.sort(scaled[:, i])
        if len(f) == 0:
            out.append(True)
            continue
        gaps = np.diff(np.concatenate([f, [f[0] + 1.0]]))
        out.append(bool(gaps.max() * spacing >= gap))
    return out


def kpoints_from_cell(atoms, density: float) -> tuple[int, int, int]:
    """Monkhorst-Pack sizes from a k-point density (points per A^-1, ASE's convention).

    ``k_i = ceil(2 pi |b_i| density)`` along periodic directions (ASE's
    ``kptdensity2monkhorstpack``) and 1 along vacuum: a slab gets (k, k, 1), a molecule in a
    box (1, 1, 1), i.e. the Gamma point.
    """
    from ase.calculators.calculator import kptdensity2monkhorstpack

    work = atoms.copy()
    vac = vacuum_directions(atoms)
    work.pbc = [not v for v in vac]
    if not work.pbc.any():
        return (1, 1, 1)
    k = kptdensity2monkhorstpack(work, kptdensity=density, even=False)
    return tuple(int(x) for x in k)


def kpts_for(params: dict[str, Any], atoms) -> tuple[int, int, int]:
    """The k-mesh of one structure.  An explicit ``kpts`` is the slab mesh: molecules still get
    Gamma only and bulk cells (no vacuum) still get theirs from ``kpt_density``."""
    if params.get("kpts") is not None:
        k = tuple(int(x) for x in params["kpts"])
        if atoms is None:
            return k
        vac = vacuum_directions(atoms)
        if all(vac):
            return (1, 1, 1)  # a molecule in a box: Gamma only, whatever the slab mesh
        if any(vac):
            return tuple(1 if v else ki for v, ki in zip(vac, k))
    if atoms is None:
        raise ValueError("k-points are derived from the structure: call make_calculator(setting, atoms=...)")
    return kpoints_from_cell(atoms, float(params["kpt_density"]))


def is_molecule(atoms) -> bool:
    return atoms is not None and all(vacuum_directions(atoms))


