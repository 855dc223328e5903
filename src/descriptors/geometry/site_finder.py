"""Finding the symmetry-unique adsorption sites of a slab or of an active-site (SAC/DAC) model.

:func:`analyse` picks the analysis by the structure (``atoms.info['active']`` set or not) and
returns every candidate site grouped into orbits; :func:`find_sites` keeps one site per orbit.
A screen asks for the analysis of each clean model three times (its sites, its site pairs, the
anomaly checks' site list): the last ``CACHE_SIZE`` analyses are kept, keyed by everything they
depend on (elements, positions, cell, periodicity, active atoms, ``surface_depth``, ``symprec``).
Callers treat the returned :class:`SiteOrbits` as read-only.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from ase import Atoms

from descriptors.geometry.active_sites import analyse_active
from descriptors.geometry.site_model import Site, SiteOrbits
from descriptors.geometry.slab_sites import analyse_slab

__all__ = ["analyse", "find_sites", "remember", "CACHE_SIZE"]

CACHE_SIZE = 32
_CACHE: "OrderedDict[tuple, SiteOrbits]" = OrderedDict()


def _key(atoms: Atoms, surface_depth: float | None, symprec: float) -> tuple:
    active = atoms.info.get("active")
    return (np.asarray(atoms.numbers).tobytes(), np.ascontiguousarray(atoms.positions, float).tobytes(),
            np.ascontiguousarray(atoms.cell.array, float).tobytes(), tuple(bool(b) for b in atoms.pbc),
            tuple(int(i) for i in active) if active is not None else None, surface_depth, float(symprec))


def analyse(atoms: Atoms, surface_depth: float | None, symprec: float) -> SiteOrbits:
    """Every candidate site of ``atoms`` in symmetry orbits: active-site model or slab analysis."""
    key = _key(atoms, surface_depth, symprec)
    an = _CACHE.get(key)
    if an is not None:
        _CACHE.move_to_end(key)
        return an
    active = atoms.info.get("active")
    if active is not None and len(active) > 0:
        an = analyse_active(atoms, list(active), symprec)
    else:
        an = analyse_slab(atoms, surface_depth, symprec)
    _CACHE[key] = an
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return an


def remember(atoms: Atoms, an: SiteOrbits, surface_depth: float | None = None, symprec: float = 0.1) -> None:
    """Keep an analysis of ``atoms`` made elsewhere (another process: ``site_pairs.sites_elsewhere``)."""
    _CACHE[_key(atoms, surface_depth, symprec)] = an
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)


def find_sites(atoms: Atoms, *, surface_depth: float | None = None, symprec: float = 0.1) -> list[Site]:
    """Symmetry-unique adsorption sites of a slab or of an active-site (SAC/DAC) model.

    Parameters
    ----------
    atoms
        A slab (vacuum along z, adsorption on the top = largest-z side, xy periodic), or a model
        with ``atoms.info['active']`` = indices of the active (metal) atoms.
    surface_depth
        Slabs only: take every atom within this many angstrom of the topmost atom as a surface atom,
        instead of the default coordination-deficit rule (see :mod:`descriptors.geometry.slab_sites`).
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
    an = analyse(atoms, surface_depth, symprec)
    return [an.site(an.reps[o]) for o in an.sorted_orbits()]
