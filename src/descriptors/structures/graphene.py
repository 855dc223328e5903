"""Graphene supports and the helpers shared by the 2D-sheet builders (sac.py, gc3n4.py, dac_n6.py).

Conventions of every sheet model:

* the sheet lies in the xy plane, periodic in x and y (``pbc=(True, True, False)``),
  the cell's z length is the model's thickness plus ``vacuum`` and the model is centred
  in z;
* the +z side of the metal is free for adsorbates; axial ligands and puckered large
  first-shell atoms (S, P, B) go where they do not block it;
* builders return plain :class:`ase.Atoms`; metadata lives in ``atoms.info``
  (JSON-serialisable values only).

All geometries are *starting* geometries built from bond lengths; relax them with the
calculator you use for the screen before computing adsorption energies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers

# ase.build, ase.geometry and ase.neighborlist (with scipy.sparse: ~1 s) are imported where they are
# used: this module is loaded with the catalyst types' registry, by every command that reads a spec.

__all__ = ["GRAPHENE_A", "graphene_sheet", "metal_image_distance", "shortest_lattice_vector"]

#: Graphene lattice constant (A); C-C 1.42 A = a / sqrt(3).  Castro Neto et al.,
#: Rev. Mod. Phys. 81, 109 (2009), doi:10.1103/RevModPhys.81.109 (a ~ 2.46 A).
GRAPHENE_A = 2.46


def _check_element(symbol, parameter: str, example: str) -> str:
    """Return a valid chemical symbol or raise ValueError naming the parameter."""
    if not isinstance(symbol, str) or symbol not in atomic_numbers or symbol == "X":
        hint = ""
        if isinstance(symbol, str) and symbol.capitalize() in atomic_numbers:
            hint = f" (did you mean {symbol.capitalize()!r}? symbols are case-sensitive)"
        raise ValueError(
            f"{parameter}={symbol!r} is not a chemical element symbol{hint}; "
            f"pass an element symbol such as {example!r}"
        )
    return symbol


def shortest_lattice_vector(cell, pbc=(True, True, False)) -> float:
    """Length of the shortest non-zero lattice translation along the periodic axes
    (the first vector of the Minkowski-reduced cell, ``ase.geometry.minkowski_reduce``)."""
    from ase.geometry import minkowski_reduce

    reduced, _ = minkowski_reduce(np.asarray(cell, float), pbc=pbc)
    return float(min(np.linalg.norm(reduced[k]) for k in range(3) if pbc[k]))


def metal_image_distance(atoms: Atoms, indices: Sequence[int] | None = None) -> float:
    """Shortest distance between any of ``indices`` and any *periodic image* of them.

    Only in-plane translations are considered (the sheet is not periodic in z).
    Distances inside the home cell (e.g. the two metals of a DAC) are not images and
    are not counted.  ``indices`` default to ``atoms.info['active']``.  No image is
    farther than the shortest lattice vector (an atom's own image), so the pairs with a
    non-zero cell shift within that cutoff (``ase.neighborlist.neighbor_list``) hold it.
    """
    if indices is None:
        indices = atoms.info["active"]
    sub = Atoms(numbers=atoms.numbers[list(indices)], positions=atoms.positions[list(indices)],
                cell=atoms.cell, pbc=(True, True, False))
    cutoff = shortest_lattice_vector(sub.cell) + 1e-6
    from ase.neighborlist import neighbor_list

    _, _, d, shift = neighbor_list("ijdS", sub, cutoff, self_interaction=False)
    return float(d[np.any(shift != 0, axis=1)].min())


def _hexagonal_unit(a: float) -> Atoms:
    """The two-atom cell a1 = (a, 0), a2 = (a/2, a*sqrt(3)/2), C at fractional (1/3, 1/3) and
    (2/3, 2/3): ``ase.build.graphene`` (a2 = (-a/2, ...), C at 0 and (2/3, 1/3)) shifted by
    (a/2, a/(2 sqrt(3))) onto the 60-degree cell of the same lattice (a2 -> a1 + a2)."""
    from ase.build import graphene

    unit = graphene("C2", a=a)
    unit.positions += [a / 2.0, a / (2.0 * math.sqrt(3.0)), 0.0]
    cell = unit.cell.array.copy()
    cell[1] = cell[0] + cell[1]
    cell[2] = [0.0, 0.0, 1.0]
    unit.set_cell(cell, scale_atoms=False)
    return unit


def _rectangular_unit(a: float) -> Atoms:
    """The four-atom cell a x a*sqrt(3).  ``ase.build.graphene`` has no rectangular cell, and a
    supercell of its hexagonal one (``ase.build.make_supercell``) orders and places the atoms
    differently, which would change every stored structure; hence the explicit basis."""
    d = a / math.sqrt(3.0)  # C-C bond
    basis = [[0.0, 0.0, 0.0], [0.0, d, 0.0], [a / 2, 1.5 * d, 0.0], [a / 2, 2.5 * d, 0.0]]
    return Atoms("C4", positions=basis, cell=[[a, 0.0, 0.0], [0.0, 3.0 * d, 0.0], [0.0, 0.0, 1.0]],
                 pbc=(True, True, False))


def graphene_sheet(
    size: Sequence[int] = (4, 4),
    cell: str = "hexagonal",
    a: float = GRAPHENE_A,
    vacuum: float = 15.0,
) -> Atoms:
    """Flat graphene supercell in the xy plane.

    ``cell='hexagonal'``: a1 = (a, 0), a2 = (a/2, a*sqrt(3)/2), 2 atoms per cell,
    ``size=(n, m)`` gives 2*n*m atoms.  ``cell='rectangular'``: a x a*sqrt(3), 4 atoms
    per cell, 4*n*m atoms.  The cell's z length is ``vacuum`` and the sheet sits at
    its middle.  Atoms are ordered cell by cell (n outer, m inner), basis innermost.
    """
    n, m = _check_size(size, "size")
    if cell == "hexagonal":
        unit = _hexagonal_unit(a)
    elif cell == "rectangular":
        unit = _rectangular_unit(a)
    else:
        raise ValueError(f"cell={cell!r} is not known; use 'hexagonal' or 'rectangular'")
    atoms = unit.repeat((n, m, 1))
    _finish_cell(atoms, vacuum)
    atoms.info.update({"support": "graphene", "size": [n, m], "cell_type": cell,
                       "lattice_a": float(a), "vacuum": float(vacuum)})
    return atoms


def _check_size(size, name: str) -> tuple[int, int]:
    try:
        n, m = (int(s) for s in size)
        ok = n >= 1 and m >= 1 and all(float(s) == int(s) for s in size)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}={size!r} must be two positive integers, e.g. (4, 4)")
    return n, m


def _finish_cell(atoms: Atoms, vacuum: float) -> None:
    """Set the z length to thickness + vacuum and centre the model in z (in place)."""
    if not vacuum > 0:
        raise ValueError(f"vacuum={vacuum!r} must be > 0 (A of vacuum in total, e.g. 15.0)")
    z = atoms.positions[:, 2]
    thickness = float(z.max() - z.min())
    cell = atoms.cell.array.copy()
    cell[2] = [0.0, 0.0, thickness + vacuum]
    atoms.set_cell(cell)
    atoms.positions[:, 2] += (thickness + vacuum) / 2.0 - (z.max() + z.min()) / 2.0


def _check_no_overlap(atoms: Atoms, tol: float = 0.7) -> None:
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, tol)
    if len(d):
        raise RuntimeError(
            f"internal error: atoms {int(i[0])} and {int(j[0])} are {d[0]:.2f} A apart"
        )


class _TooSmall(Exception):
    """The requested supercell is too small for the defect (defect meets its image)."""


def _auto_size(build, min_image_distance: float, cell: str, nmax: int = 12):
    """Smallest (by atom count) supercell whose metal-image distance is large enough.

    ``build(size)`` returns the model; ties are broken towards the most isotropic
    (n == m) cell.
    """
    cands = sorted(
        ((n, m) for n in range(1, nmax + 1) for m in range(1, nmax + 1)),
        key=lambda s: (s[0] * s[1], abs(s[0] - s[1]), s),
    )
    unit = graphene_sheet((1, 1), cell=cell).cell.array
    for size in cands:
        # necessary condition: every metal is one supercell vector from its own image
        sup = unit * np.array([size[0], size[1], 1])[:, None]
        if shortest_lattice_vector(sup) < min_image_distance - 1e-6:
            continue
        try:
            atoms = build(size)
        except _TooSmall:
            continue
        if metal_image_distance(atoms) >= min_image_distance - 1e-6:
            return atoms
    raise ValueError(
        f"no {cell} supercell up to {nmax}x{nmax} reaches min_image_distance="
        f"{min_image_distance}; pass size=(n, m) explicitly or lower min_image_distance"
    )


def _sized(build, size, min_image_distance: float, cell: str, too_small: str):
    """Build with an explicit ``size``, or the smallest cell reaching ``min_image_distance``.

    ``too_small`` completes the error for an explicit size that cannot hold the defect,
    e.g. "a divacancy site; use at least (3, 3) (hexagonal) or (2, 2) (rectangular)".
    """
    if cell not in ("hexagonal", "rectangular"):
        raise ValueError(f"cell={cell!r} is not known; use 'hexagonal' or 'rectangular'")
    if size is None:
        if not min_image_distance > 0:
            raise ValueError(
                f"min_image_distance={min_image_distance!r} must be > 0 (A), e.g. 9.8"
            )
        return _auto_size(build, min_image_distance, cell)
    sz = _check_size(size, "size")
    try:
        return build(sz)
    except _TooSmall:
        raise ValueError(f"size={tuple(size)!r} is too small for {too_small}") from None


def _neighbours(sheet: Atoms, cutoff: float = 1.6) -> tuple[dict[int, list[int]], dict[tuple[int, int], np.ndarray]]:
    """Bonded neighbours of every atom and the minimum-image bond vectors; ``_TooSmall`` if a
    cell is so small that an atom meets its own image as a neighbour."""
    from ase.neighborlist import neighbor_list

    i, j, D = neighbor_list("ijD", sheet, cutoff)
    nbrs: dict[int, list[int]] = {k: [] for k in range(len(sheet))}
    vec = {}
    for a, b, v in zip(i, j, D):
        nbrs[int(a)].append(int(b))
        vec[(int(a), int(b))] = v
    if any(len(set(v)) != 3 for v in nbrs.values()):
        raise _TooSmall
    return nbrs, vec
