"""Symmetry-unique pairs of sites for bidentate adsorbates (NO3, NO2 through O,O)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from ase import Atoms

from descriptors.geometry.periodic import (
    cell_ok,
    fractional,
    image_ranges,
    mic,
    mic_offset,
)
from descriptors.geometry.site_finder import CACHE_SIZE, _key, analyse, remember
from descriptors.geometry.site_model import (
    KIND_ORDER,
    Candidate,
    Site,
    SiteOrbits,
    SitePair,
    lateral,
    natural_key,
    site_position,
    unit,
)

__all__ = ["find_site_pairs", "sites_elsewhere", "remember_elsewhere"]


def _pair_images(an: SiteOrbits, p1: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Images of the point pair (p1, p2) and of (p2, p1) under every operation: (firsts, disps)."""
    pts = np.array([p1, p2], float)
    if cell_ok(an.cell):
        R = np.array([op[0] for op in an.ops])
        t = np.array([op[1] for op in an.ops])
        m = (np.einsum("mij,pj->mpi", R, fractional(pts, an.cell)) + t[:, None, :]) @ an.cell  # (ops, 2, 3)
    else:
        m = pts[None]
    firsts = np.concatenate([m[:, 0], m[:, 1]])
    disps = np.concatenate([m[:, 1] - m[:, 0], m[:, 0] - m[:, 1]])
    return firsts, disps


def _matches_any(an: SiteOrbits, images: tuple[np.ndarray, np.ndarray], refs_first: np.ndarray,
                 refs_disp: np.ndarray, tol: float) -> bool:
    """True if any image (first, disp) of a pair coincides with one of the reference pairs."""
    if len(refs_first) == 0:
        return False
    firsts, disps = images
    dv = mic(firsts[:, None, :] - refs_first[None, :, :], an.cell, an.axes)
    dd = disps[:, None, :] - refs_disp[None, :, :]
    ok = (np.linalg.norm(dv, axis=2) < tol) & (np.linalg.norm(dd, axis=2) < tol)
    return bool(ok.any())


class _PairSet:
    """Pairs found so far; a new pair is kept unless an image of it under a surface operation, in
    either order, is already there."""

    def __init__(self, an: SiteOrbits, tol: float):
        self.an, self.tol = an, tol
        self.pairs: list[SitePair] = []
        self.refs: list[tuple[np.ndarray, np.ndarray]] = []  # (first position, displacement) of each pair

    def add(self, first_c: int, second: Candidate, c2: int, dist: float) -> None:
        """Keep the pair (candidate ``first_c``, ``second`` = an image of candidate ``c2``) if it is new."""
        an = self.an
        p1 = an.cands[first_c].position
        p2 = second.position
        images = _pair_images(an, p1, p2)
        if self.refs and _matches_any(an, images, np.array([r[0] for r in self.refs]),
                                      np.array([r[1] for r in self.refs]), self.tol):
            return
        s1, s2 = an.site(first_c), an.site(c2, second)
        self.pairs.append(SitePair(s1, s2, float(dist), f"{s1.label}+{s2.label}"))
        self.refs.append((p1, p2 - p1))


def _active_pairs(atoms: Atoms, an: SiteOrbits, orbits: list[int], max_distance: float,
                  found: _PairSet) -> list[SitePair]:
    """Top+top pairs on two active atoms into ``found``; returns the chelating pairs of lonely atoms."""
    cell = an.cell
    chelating: list[SitePair] = []
    # tops in the order of atoms.info['active'] (so a pair reads 'top-Fe+top-Cu' for [Fe, Cu])
    rank = {k: r for r, k in enumerate(an.active)}
    tops = sorted((o for o in orbits if an.cands[an.reps[o]].kind == "top"),
                  key=lambda o: rank[an.cands[an.reps[o]].members[0][0]])
    top_cands = [c for c in range(len(an.cands)) if an.cands[c].kind == "top"
                 and int(an.orbit[c]) in set(tops)]
    for o in tops:
        c1 = an.reps[o]
        i = an.cands[c1].members[0][0]
        lonely = True
        for c2 in top_cands:
            j = an.cands[c2].members[0][0]
            if j == i:
                continue
            n, v = mic_offset(atoms, i, j)
            nrm = unit(an.cands[c1].normal + an.cands[c2].normal)
            d = lateral(v, nrm)
            if np.linalg.norm(v) <= max_distance:
                lonely = False
            if 0.5 < d <= max_distance:
                found.add(c1, an.cands[c2].shifted(n, cell), c2, d)
        if lonely:
            s = an.site(c1)
            chelating.append(SitePair(s, s, 0.0, f"{s.label}+{s.label}"))
    return chelating


def _slab_pairs(an: SiteOrbits, orbits: list[int], allowed: set[str] | None, max_distance: float,
                found: _PairSet) -> None:
    """Same-kind pairs whose lateral separation is in (0.5, ``max_distance``] into ``found``."""
    cell = an.cell
    r1, r2 = image_ranges(cell, max_distance)
    shifts = np.array([(n1, n2, 0) for n1 in r1 for n2 in r2], int)
    for o in orbits:
        c1 = an.reps[o]
        kind = an.cands[c1].kind
        p1 = an.cands[c1].position
        for c2, cand in enumerate(an.cands):
            if cand.kind != kind or (allowed is not None and an.labels[int(an.orbit[c2])] not in allowed):
                continue
            disp = cand.position[None, :] + shifts @ cell - p1[None, :]
            lat = np.linalg.norm(disp[:, :2], axis=1)
            for k in np.flatnonzero((lat > 0.5) & (lat <= max_distance + 1e-9)):
                found.add(c1, cand.shifted(shifts[k], cell), c2, lat[k])


def find_site_pairs(atoms: Atoms, sites: list[Site] | None = None, *, max_distance: float = 3.5,
                    symprec: float = 0.1) -> list[SitePair]:
    """Symmetry-unique pairs of sites for bidentate adsorbates (e.g. NO3 or NO2 through O,O).

    Slabs: pairs of sites of the same kind (top+top, bridge+bridge, hollow+hollow, e.g. also
    'fcc+hcp') whose lateral separation is in (0.5, ``max_distance``] angstrom.  A pair and its
    image under a surface operation, or with its two sites swapped, count once.  ``second`` is the
    concrete periodic image of its site at that separation from ``first`` (its ``offsets`` say
    which), so ``site_position`` of both gives the two actual positions.

    Active-site models: pairs of top sites on two different active atoms within ``max_distance``
    (e.g. 'top-Fe+top-Cu'), and the chelating pair (the same top site twice, distance 0) for every
    active atom with no other active atom within ``max_distance`` (so always for single-atom
    models): a bidentate adsorbate then binds through both O to the one metal.

    ``sites`` (optional, as returned by :func:`find_sites`) restricts the pairs to those labels.
    The last ``site_finder.CACHE_SIZE`` results are kept (a screen may find them ahead, while its
    clean models relax: workflows/screen.py).
    """
    key = (_key(atoms, None, symprec), None if sites is None else tuple(sorted({s.label for s in sites})),
           float(max_distance))
    cached = _PAIRS.get(key)
    if cached is not None:
        _PAIRS.move_to_end(key)
        return list(cached)
    pairs = _find_site_pairs(atoms, sites, max_distance, symprec)
    _PAIRS[key] = tuple(pairs)
    while len(_PAIRS) > CACHE_SIZE:
        _PAIRS.popitem(last=False)
    return pairs


_PAIRS: "OrderedDict[tuple, tuple[SitePair, ...]]" = OrderedDict()


def sites_elsewhere(atoms: Atoms, max_distance: float | None, symprec: float = 0.1) -> tuple:
    """The site analysis of ``atoms`` and, unless ``max_distance`` is None, its site pairs: made in
    another process (a screen's pool worker, while the clean models relax) and handed to
    :func:`remember_elsewhere` in the one that plans."""
    an = analyse(atoms, None, symprec)
    return an, None if max_distance is None else tuple(find_site_pairs(atoms, max_distance=max_distance,
                                                                       symprec=symprec))


def remember_elsewhere(atoms: Atoms, found: tuple, max_distance: float | None, symprec: float = 0.1) -> None:
    """Keep what :func:`sites_elsewhere` found for ``atoms`` in this process' caches."""
    an, pairs = found
    remember(atoms, an, None, symprec)
    if pairs is not None:
        _PAIRS[(_key(atoms, None, symprec), None, float(max_distance))] = tuple(pairs)
        while len(_PAIRS) > CACHE_SIZE:
            _PAIRS.popitem(last=False)


def _find_site_pairs(atoms: Atoms, sites, max_distance: float, symprec: float) -> list[SitePair]:
    an = analyse(atoms, None, symprec)
    allowed = None if sites is None else {s.label for s in sites}
    orbits = [o for o in an.sorted_orbits() if allowed is None or an.labels[o] in allowed]
    found = _PairSet(an, max(2 * symprec, 0.05))
    chelating: list[SitePair] = []
    if an.active_model:
        chelating = _active_pairs(atoms, an, orbits, max_distance, found)
    else:
        _slab_pairs(an, orbits, allowed, max_distance, found)
    pairs = found.pairs + chelating
    pairs.sort(key=lambda p: (KIND_ORDER[p.first.kind], round(p.distance, 3), natural_key(p.label)))
    return unique_labels(atoms, pairs)


def _orientation(atoms: Atoms, pair: SitePair) -> int | None:
    """Angle (degrees, 0-90, in steps of 5) between the pair's lateral displacement and the axis of
    its first site when that site is a two-atom (bridge) site; None otherwise."""
    first = pair.first
    if len(first.indices) != 2 or pair.distance < 0.5:
        return None
    cell = np.asarray(atoms.cell.array, float)
    ends = atoms.positions[list(first.indices)] + np.asarray(first.offsets, float).reshape(-1, 3) @ cell
    axis = ends[1, :2] - ends[0, :2]
    d = site_position(atoms, pair.second)[:2] - site_position(atoms, first)[:2]
    cos = abs(float(axis @ d)) / (np.linalg.norm(axis) * np.linalg.norm(d))
    return int(5 * round(np.degrees(np.arccos(min(1.0, cos))) / 5))


def unique_labels(atoms: Atoms, pairs: list[SitePair]) -> list[SitePair]:
    """The pairs with labels that tell them apart: where two pairs share a label (e.g. three
    'bridge+bridge' pairs on fcc(100)), each of them gets its lateral distance ('@2.55A'), then,
    if still shared, the angle between the displacement and its first bridge's axis (',90deg':
    side by side, ',0deg': in line), then a running number ('#2').  ``identity_label`` keeps the
    plain label, which job recipes use (jobs stored before keep their identities)."""
    def dedupe(labels: list[str], extra) -> list[str]:
        count: dict[str, int] = {}
        for lab in labels:
            count[lab] = count.get(lab, 0) + 1
        return [lab + extra(k) if count[lab] > 1 else lab for k, lab in enumerate(labels)]

    labels = dedupe([p.label for p in pairs], lambda k: f"@{pairs[k].distance:.2f}A")
    angles = [_orientation(atoms, p) for p in pairs]
    labels = dedupe(labels, lambda k: f",{angles[k]}deg" if angles[k] is not None else "")
    seen: dict[str, int] = {}
    out = []
    for p, lab in zip(pairs, dedupe(labels, lambda k: "")):
        seen[lab] = seen.get(lab, 0) + 1
        final = lab if seen[lab] == 1 else f"{lab}#{seen[lab]}"
        out.append(SitePair(p.first, p.second, p.distance, final, p.identity_label or p.label))
    if len(set(x.label for x in out)) != len(out):  # a '#2' that collides with a label made above
        out = [SitePair(p.first, p.second, p.distance, f"{p.label}#{k + 1}", p.identity_label)
               for k, p in enumerate(out)]
    return out
