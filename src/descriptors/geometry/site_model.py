"""The site records: public :class:`Site` / :class:`SitePair`, and the candidate list they come from.

Site finding (``slab_sites``, ``active_sites``) produces :class:`Candidate` sites, every concrete
site in the cell; :mod:`descriptors.geometry.symmetry` groups them into orbits, and a
:class:`SiteOrbits` holds the result from which the public records are made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from ase import Atoms

__all__ = ["Site", "SitePair", "site_position", "Candidate", "SiteOrbits", "KIND_ORDER", "ZHAT",
           "natural_key", "unit", "lateral"]

KIND_ORDER = {"top": 0, "bridge": 1, "hollow": 2}
ZHAT = np.array([0.0, 0.0, 1.0])

#: (atom index, lattice image) of each atom defining a site
Members = tuple[tuple[int, tuple[int, int, int]], ...]


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
    label: str  # e.g. 'top+top', 'top-Fe+top-Cu'; unique among the pairs of a surface: 'bridge+bridge@2.55A,90deg'
    identity_label: str = ""  # the label before it was made unique (in job recipes: stored jobs keep their ids)


def site_position(atoms: Atoms, site: Site) -> np.ndarray:
    """Position of ``site`` recomputed from its atoms (and lattice images) on ``atoms``.

    ``atoms`` may be a relaxed or displaced copy of the structure the site was found on (same atom
    order); the site then follows its defining atoms.
    """
    cell = np.asarray(atoms.cell.array, float)
    pos = atoms.positions[list(site.indices)] + np.asarray(site.offsets, float).reshape(-1, 3) @ cell
    return pos.mean(axis=0)


@dataclass
class Candidate:
    """A concrete site before symmetry reduction: its atoms (with lattice images) and geometry."""

    kind: str
    base: str  # label stem: top / bridge / fcc / hcp / hollow (slabs) or full label (active)
    members: Members
    position: np.ndarray
    normal: np.ndarray
    length: float = 0.0  # bridge length (3-D distance between its two atoms)

    def shifted(self, shift: np.ndarray, cell: np.ndarray) -> Candidate:
        """The same site translated by the lattice vector ``shift`` (integers) @ ``cell``."""
        s = tuple(int(v) for v in shift)
        members = tuple((i, (o[0] + s[0], o[1] + s[1], o[2] + s[2])) for i, o in self.members)
        return Candidate(self.kind, self.base, members, self.position + np.asarray(s, float) @ cell,
                         self.normal, self.length)


@dataclass
class SiteOrbits:
    """Every candidate site of a structure, grouped into symmetry orbits, with their labels."""

    cands: list[Candidate]
    orbit: np.ndarray  # orbit id of every candidate
    labels: dict[int, str]  # orbit id -> label
    reps: dict[int, int]  # orbit id -> representative candidate index
    sizes: dict[int, int]  # orbit id -> multiplicity
    ops: list[tuple[np.ndarray, np.ndarray]]  # fractional (R, t) surface operations
    cell: np.ndarray
    active_model: bool
    axes: np.ndarray  # lattice axes along which positions are periodic (for matching)
    active: tuple[int, ...] = ()

    def site(self, c: int, cand: Candidate | None = None) -> Site:
        """Public record of candidate ``c`` (or of ``cand``, an image of it) with its orbit's label."""
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
        """Orbit ids ordered top, bridge, hollow, then by label (numbers in labels compared as numbers)."""
        return sorted(self.labels, key=lambda o: (KIND_ORDER[self.cands[self.reps[o]].kind],
                                                  natural_key(self.labels[o])))


def natural_key(label: str) -> list[int | str]:
    """Sort key that orders 'hollow-2' before 'hollow-10'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` normalised; +z for a (near) zero vector."""
    n = np.linalg.norm(v)
    return ZHAT.copy() if n < 1e-8 else v / n


def lateral(v: np.ndarray, normal: np.ndarray = ZHAT) -> float:
    """Length of the part of ``v`` perpendicular to the unit vector ``normal``."""
    v = np.asarray(v, float)
    return float(np.linalg.norm(v - np.dot(v, normal) * normal))
