"""Geometry helpers shared by the builder tests, computed independently of the builders."""

import numpy as np
from ase.geometry import get_distances
from threadpoolctl import threadpool_limits

from descriptors.geometry.periodic import XY, mic


def min_interatomic_distance(atoms):
    _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    np.fill_diagonal(d, np.inf)
    return d.min()


def distances_from(atoms, i):
    _, d = get_distances(atoms.positions[i], atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    d = d[0]
    d[i] = np.inf
    return d


def mic_lateral(atoms, p, q):
    """Minimum-image lateral distance between two points of a slab (periodic in x and y)."""
    v = mic(np.asarray(q, float) - np.asarray(p, float), atoms.cell.array, XY)
    return float(np.linalg.norm(v[:2]))


def image_distance(atoms, indices):
    """Metal - periodic image distance, computed independently from a 3x3 repeat."""
    n = len(atoms)
    big = atoms.repeat((3, 3, 1))
    centre = 4  # the (1, 1) copy in repeat order i*3 + j
    images = [c * n + i for c in range(9) if c != centre for i in indices]
    return min(big.get_distances(centre * n + i, images).min() for i in indices)


def one_openmp_thread():
    """tblite's OpenMP threads spin-wait: on a busy 2-core machine 2 threads were ~7x
    slower than 1 (0.3 s vs 3 s per single point of Fe-N4); run xtb single-threaded."""
    return threadpool_limits(limits=1, user_api="openmp")
