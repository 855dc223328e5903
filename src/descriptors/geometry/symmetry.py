"""Surface symmetry: the space-group operations that keep the top side, and the orbits of sites.

spglib gives the operations of the cell treated as 3-D periodic; those that keep z and the +z side
map the adsorption side onto itself.  Candidate sites mapped onto each other by such an operation
form one orbit, found as the connected components of the "maps onto" graph
(``scipy.sparse.csgraph.connected_components``).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import spglib
from ase import Atoms
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from descriptors.geometry.periodic import cell_ok, fractional, wrap
from descriptors.geometry.site_model import KIND_ORDER, Candidate

__all__ = ["Operation", "surface_operations", "apply_operation", "component_roots", "orbits"]

#: a space-group operation on fractional coordinates: x -> R x + t
Operation = tuple[np.ndarray, np.ndarray]


def surface_operations(atoms: Atoms, symprec: float) -> list[Operation]:
    """Space-group operations of the (3-D periodic) structure that keep z and the +z side.

    spglib is given the cell, scaled positions and atomic numbers.  An operation (R, t) acting on
    fractional coordinates is kept when its Cartesian rotation maps z onto +z (no tilt, no flip)
    and its translation has no z component, i.e. it maps the top surface onto itself.
    """
    identity = [(np.eye(3), np.zeros(3))]
    cell = np.asarray(atoms.cell.array, float)
    if len(atoms) == 0 or not cell_ok(cell):
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


def apply_operation(op: Operation, points: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Cartesian images of ``points`` under the fractional operation ``op``."""
    R, t = op
    f = fractional(points, cell)
    return (f @ R.T + t) @ cell


def component_roots(n: int, links: Iterable[tuple[int, int]]) -> np.ndarray:
    """For each of ``n`` nodes, the smallest node index of its connected component under ``links``."""
    links = list(links)
    if n == 0:
        return np.arange(0)
    rows = np.array([a for a, _ in links], int)
    cols = np.array([b for _, b in links], int)
    graph = coo_matrix((np.ones(len(links)), (rows, cols)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    root = np.full(comp.max() + 1, n)
    np.minimum.at(root, comp, np.arange(n))
    return root[comp]


def orbits(cands: Sequence[Candidate], ops: Sequence[Operation], cell: np.ndarray, tol: float,
           axes: np.ndarray) -> np.ndarray:
    """Orbit id (smallest member index) of every candidate; candidates that an operation maps onto
    each other (within ``tol``, modulo the lattice along ``axes``, same kind and size) share one."""
    n = len(cands)
    if n == 0:
        return np.arange(0)
    pos = np.array([c.position for c in cands])
    key = np.array([KIND_ORDER[c.kind] * 100 + len(c.members) for c in cands])
    # candidates wrapped into the home cell plus their neighbouring images, in a k-d tree
    home = wrap(pos, cell, axes)
    rng = [(-1, 0, 1) if a else (0,) for a in axes]
    shifts = np.array(list(itertools.product(*rng)), float)
    shifts = shifts @ cell if cell_ok(cell) else np.zeros((1, 3))
    tree = cKDTree((home[None, :, :] + shifts[:, None, :]).reshape(-1, 3))
    owner = np.tile(np.arange(n), len(shifts))
    links = set()
    for op in ops:
        mapped = wrap(apply_operation(op, pos, cell), cell, axes) if cell_ok(cell) else pos
        dist, idx = tree.query(mapped, distance_upper_bound=tol)
        hit = np.flatnonzero(np.isfinite(dist))
        d = owner[idx[hit]]
        same = key[d] == key[hit]
        links.update(zip(hit[same].tolist(), d[same].tolist()))
    return component_roots(n, links)
