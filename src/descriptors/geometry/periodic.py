"""Periodic-lattice helpers on ``ase.geometry``: fractional coordinates, wrapping, minimum images.

One set of helpers for the whole ``geometry`` layer (site finding, site pairs, anomaly checks).
Minimum images come from :func:`ase.geometry.find_mic` (exact for any cell: Minkowski reduction
plus a search of the neighbouring images) and wrapping from :func:`ase.geometry.wrap_positions`;
the functions here only choose the periodic axes and keep the array shapes the callers use.

Axes are boolean masks of length 3: :data:`XY` for slabs (periodic in x and y, vacuum along z),
:data:`NONE` for no periodicity, ``atoms.pbc`` for a structure's own boundary conditions.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from ase import Atoms
from ase.geometry import wrap_positions

__all__ = ["XY", "NONE", "cell_ok", "fractional", "home_shift", "wrap", "mic", "mic_offset", "image_ranges"]

XY = np.array([True, True, False])  # slabs: periodic in x and y only
NONE = np.zeros(3, bool)
#: fractional coordinates within this of the upper cell edge count as the lower edge (0, not 1)
HOME_EPS = 1e-6


def cell_ok(cell: np.ndarray) -> bool:
    """True for a cell with a non-zero volume (three independent lattice vectors)."""
    return abs(np.linalg.det(cell)) > 1e-6


def fractional(points: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Fractional coordinates of Cartesian ``points`` (any leading shape) in ``cell``."""
    return np.asarray(points, float) @ np.linalg.inv(cell)


def home_shift(frac: np.ndarray, eps: float = HOME_EPS) -> np.ndarray:
    """Integer shift that brings fractional coordinates into the home cell [0, 1) (robust at the edges)."""
    return np.floor(np.asarray(frac) + eps)


def wrap(points: np.ndarray, cell: np.ndarray, axes: np.ndarray = XY) -> np.ndarray:
    """Translate points by lattice vectors along ``axes`` so those fractional coordinates lie in [0, 1).

    Coordinates within :data:`HOME_EPS` below 1 wrap to 0, as in :func:`home_shift`, so a point on
    a cell edge and its image land on the same side.
    """
    points = np.asarray(points, float)
    if not np.any(axes):
        return points
    return wrap_positions(points, cell, pbc=axes, eps=HOME_EPS)


def mic(vectors: np.ndarray, cell: np.ndarray, axes: np.ndarray = XY) -> np.ndarray:
    """Minimum-image form (along ``axes``) of difference vectors of any leading shape.

    :func:`ase.geometry.find_mic`'s result, with its arithmetic: for three periodic axes its naive
    minimum image where that is safe (every result shorter than half the shortest cell vector),
    otherwise -- and for one or two periodic axes (slabs) -- ``general_find_mic``'s, with the
    Minkowski reduction and image vectors computed once per cell (the anomaly checks ask
    thousands of times for the same cell) instead of on every call."""
    vectors = np.asarray(vectors, float)
    if not np.any(axes) or vectors.size == 0:
        return vectors
    cell = np.asarray(cell, float)
    pbc = cell.any(1) & np.asarray(axes, bool)
    if not pbc.any():
        return vectors.copy()
    flat = vectors.reshape(-1, 3)
    if pbc.all():  # find_mic's naive_find_mic, accepted under its own condition
        f = np.linalg.solve(cell.T, flat.T).T
        f -= np.floor(f + 0.5)
        vmin = f @ cell
        if (np.linalg.norm(vmin, axis=1) < 0.5 * np.linalg.norm(cell, axis=1).min()).all():
            return vmin.reshape(vectors.shape)
    rcell, vrvecs = _reduced(cell.tobytes(), pbc.tobytes())
    frac = np.linalg.solve(rcell.T, flat.T).T
    frac[:, pbc] %= 1.0
    x = frac @ rcell + vrvecs[:, None]
    best = np.argmin(np.linalg.norm(x, axis=2), axis=0)
    return x[best, np.arange(len(flat)), :].reshape(vectors.shape)


@functools.lru_cache(maxsize=256)
def _reduced(cell_bytes: bytes, pbc_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Minkowski-reduced cell and Voronoi-relevant image vectors (as ase's general_find_mic)."""
    from ase.geometry.cell import complete_cell
    from ase.geometry.minkowski_reduction import minkowski_reduce

    cell = np.frombuffer(cell_bytes, float).reshape(3, 3)
    pbc = np.frombuffer(pbc_bytes, bool)
    rcell, _ = minkowski_reduce(complete_cell(cell), pbc=pbc)
    ranges = [np.arange(-1 * p, p + 1) for p in pbc]
    hkls = np.array([(0, 0, 0)] + list(itertools.product(*ranges)))
    return rcell, hkls @ rcell


def mic_offset(atoms: Atoms, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Image offset n of atom j nearest to atom i, and the vector p_j + n@cell - p_i.

    The nearest image is :func:`ase.geometry.find_mic`'s; the offset is the lattice vector that
    separates it from the plain difference, and the vector is rebuilt from that offset.
    """
    cell = np.asarray(atoms.cell.array, float)
    d0 = atoms.positions[j] - atoms.positions[i]
    if not cell_ok(cell) or not any(atoms.pbc):
        return np.zeros(3, int), d0
    v = mic(d0[None], cell, np.asarray(atoms.pbc, bool))[0]
    n = np.rint(fractional(v - d0, cell)).astype(int)
    return n, d0 + n @ cell


def image_ranges(cell: np.ndarray, pad: float) -> tuple[range, range]:
    """Ranges of in-plane lattice images needed to cover ``pad`` angstrom around the home cell."""
    a1, a2 = cell[0, :2], cell[1, :2]
    area = abs(a1[0] * a2[1] - a1[1] * a2[0])
    h1 = area / max(np.linalg.norm(a2), 1e-9)  # width of the cell across a1
    h2 = area / max(np.linalg.norm(a1), 1e-9)
    n1 = int(np.ceil(pad / h1)) + 1
    n2 = int(np.ceil(pad / h2)) + 1
    return range(-n1, n1 + 1), range(-n2, n2 + 1)
