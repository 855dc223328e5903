"""Geometry checks after a relaxation: is the result still the structure we meant to compute?

Open Catalyst style (Chanussot et al., ACS Catal. 11, 6059 (2021); Lan et al., "AdsorbML",
npj Comput. Mater. 9, 172 (2023)): a relaxed adsorbate structure is flagged when the adsorbate
desorbed, dissociated or intercalated, or the surface changed under it; AdsorbML excludes such
structures from the minimum.  This module adds the checks the screened models need:

==================  ========  ===============================================================
flag                excluded  meaning
==================  ========  ===============================================================
desorbed            yes       no adsorbate atom bonded to the substrate
dissociated         yes       the adsorbate's bond graph fell apart
intercalated        yes       an adsorbate atom sank below the local top surface layer
reconstructed       yes       a substrate atom moved from its place in the relaxed clean model
metal-pulled-out    yes       a SAC/DAC metal lost its support bonds or rose far above the plane
too-close           yes       two atoms closer than ``MIN_DISTANCE`` (unphysical)
moved               no        the binding atom ended on another site (``site_final`` names it)
rebound             no        bound, but through another atom than the binding atom(s)
off-active-site     no        bound, but not to an active metal of a SAC/DAC model
==================  ========  ===============================================================

"moved" is not excluded: AdsorbML keeps a relaxation that migrated to another site; the energy
is then that of the final site, which is recorded.  The relaxed *clean* model is checked too
(``too-close`` and ``metal-pulled-out``): a flagged clean model gets no adsorbate jobs.

Bonds are judged with covalent radii (Cordero et al., Dalton Trans. 2008, 2832, as
``ase.data.covalent_radii``) scaled by ``BOND_SCALE``: generous enough for the stretched bonds
of an adsorbate, tight enough that a desorbed molecule 3 A above the surface is not "bound".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.geometry import get_distances
from scipy.sparse.csgraph import connected_components

from descriptors.geometry.flags import (
    EXCLUDING_FLAGS,
    INFORMATIVE_FLAGS,
    flags,
    is_excluded,
)
from descriptors.geometry.periodic import XY, mic
from descriptors.geometry.site_finder import analyse

__all__ = [
    "BOND_SCALE", "INTRA_SCALE", "MIN_DISTANCE", "INTERCALATION_DEPTH", "RECONSTRUCTION_LATERAL",
    "RECONSTRUCTION_VERTICAL", "METAL_MAX_HEIGHT", "EXCLUDING_FLAGS", "INFORMATIVE_FLAGS",
    "check_adsorbate", "bonded_partners", "too_close_pairs", "CleanReference", "clean_reference",
    "check_relaxed", "adsorbate_fields", "flags", "is_excluded",
]

BOND_SCALE = 1.25  # adsorbate-substrate bonds
INTRA_SCALE = 1.4  # bonds inside the adsorbate: cheap calculators stretch X-H bonds (EMT: O-H 1.22 A)
#: A. The shortest bond there is, H2, is 0.741 A (NIST CCCBDB, experimental r_e); two atoms
#: closer than 0.7 A are a fused, unphysical geometry (seen: Ti-V at 0.19 A after a bad start).
MIN_DISTANCE = 0.7
#: A below the local top surface layer (mean height of the three laterally nearest surface
#: atoms).  Chemisorbed atoms sit above that plane (N in the Cu(100) hollow, among the lowest,
#: ~0.3-0.5 A above); the first subsurface sites lie >= 1 A below (octahedral site under
#: fcc(111): ~1.2 A), so 0.5 A separates the two.
INTERCALATION_DEPTH = 0.5
#: Fractions of each substrate atom's nearest-neighbour distance d (in the relaxed clean model).
#: Lateral: half the top-to-hollow distance of a close-packed layer, d/(2 sqrt 3) = 0.29 d; an
#: atom that moved further is closer to a neighbouring lattice position than to its own.
#: Vertical: half the fcc(111) interlayer spacing, sqrt(2/3) d / 2 = 0.41 d (half-way to an
#: adatom).  Adsorbate-induced relaxations of metals are ~0.1-0.3 A (< 0.12 d on Cu).
RECONSTRUCTION_LATERAL = 0.29
RECONSTRUCTION_VERTICAL = 0.41
#: A above the local support plane (mean height of the support atoms within ``PLANE_RADIUS``).
#: In-site metals sit in the plane (M-N4 graphene) or up to ~0.85 A above it (Co in FeCo/g-C3N4
#: relaxed with GFN1-xTB, see dac.m1m2_gc3n4, whose unrelaxed start is 1.72 A up); a metal that
#: stands on the other metal of a DAC (M-M 2.2-2.5 A) is >= 2.5 A up.  2.0 A lies between.
#: Independently, a metal is pulled out when it keeps fewer than half of the support bonds it
#: has in the ideal model (bonds by covalent radii x ``BOND_SCALE``, at least one required).
METAL_MAX_HEIGHT = 2.0
#: Radius (A) of the neighbourhood that defines the local support plane around a metal.
PLANE_RADIUS = 3.5



def _cutoff(zi: int, zj: int) -> float:
    return BOND_SCALE * (covalent_radii[zi] + covalent_radii[zj])


def bonded_partners(atoms: Atoms, i: int, candidates) -> list[int]:
    """Indices in ``candidates`` bonded to atom ``i`` (minimum-image distances)."""
    candidates = np.asarray(list(candidates), int)
    if len(candidates) == 0:
        return []
    # ase.geometry.get_distances' minimum-image lengths, with the cell's reduction cached (periodic.mic)
    d = _pair_lengths(atoms, atoms.positions[candidates] - atoms.positions[i])
    cut = np.array([_cutoff(atoms.numbers[i], atoms.numbers[j]) for j in candidates])
    return [int(j) for j in candidates[d < cut]]


def check_adsorbate(atoms: Atoms, adsorbate_indices, binding_indices, active=None) -> dict[str, Any]:
    """Describe how the adsorbate sits after relaxation (bonding only; see :func:`check_relaxed`).

    Returns ``bound_to`` (sorted symbols of substrate atoms bonded to the binding atoms),
    ``binding_coordination`` (how many substrate atoms the first binding atom bonds to: 1 top,
    2 bridge, 3/4 hollow), ``bound_to_active`` (for atomically dispersed models: whether a
    binding atom bonds to an active metal) and ``anomaly``: '' if fine, else a comma list of
    'desorbed' (no adsorbate atom bonded to the substrate), 'rebound' (bound through another
    atom than the binding atoms), 'dissociated' (the adsorbate graph fell apart),
    'off-active-site' (bound, but not to the active metal).
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
        p = atoms.positions[ads]
        d = _pair_lengths(atoms, p[None, :, :] - p[:, None, :])
        z = atoms.numbers[ads]
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


# ----------------------------------------------------------------------------------------------
# single checks on plain Atoms
# ----------------------------------------------------------------------------------------------
def too_close_pairs(atoms: Atoms, threshold: float | None = None) -> list[tuple[int, int, float]]:
    """Atom pairs (i < j, minimum image) closer than ``threshold`` (default ``MIN_DISTANCE``) angstrom."""
    threshold = MIN_DISTANCE if threshold is None else threshold
    if len(atoms) < 2:
        return []
    # the pairs i < j as ase.geometry.get_distances takes them, minimum images from periodic.mic
    i, j = np.triu_indices(len(atoms), k=1)
    d = _pair_lengths(atoms, atoms.positions[j] - atoms.positions[i])
    close = np.flatnonzero(d < threshold)
    return [(int(i[k]), int(j[k]), round(float(d[k]), 3)) for k in close]


def _pair_lengths(atoms: Atoms, vectors: np.ndarray) -> np.ndarray:
    """Minimum-image lengths of difference vectors (``get_distances``' numbers, the cell's
    reduction cached)."""
    return np.linalg.norm(mic(vectors, atoms.cell.array, np.array(atoms.pbc)), axis=-1)


def _lateral_vectors(atoms: Atoms, point, indices) -> np.ndarray:
    """Minimum-image vectors (periodic in x, y only) from ``point`` to atoms ``indices``."""
    v = atoms.positions[list(indices)] - np.asarray(point, float)
    return mic(v, atoms.cell.array, np.array(atoms.pbc) & XY)


def _mic_displacements(new: np.ndarray, old: np.ndarray, atoms: Atoms) -> np.ndarray:
    """Minimum-image displacements ``new - old`` along the periodic axes of ``atoms``."""
    return mic(np.asarray(new, float) - np.asarray(old, float), atoms.cell.array, np.array(atoms.pbc))


def _nn_distances(atoms: Atoms) -> np.ndarray:
    _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def _fixed(atoms: Atoms) -> set[int]:
    out: set[int] = set()
    for c in atoms.constraints:
        if c.__class__.__name__ == "FixAtoms":
            out |= {int(i) for i in c.get_indices()}
    return out


# ----------------------------------------------------------------------------------------------
# the relaxed clean model as the reference of its adsorbate jobs
# ----------------------------------------------------------------------------------------------
@dataclass
class CleanReference:
    """What the checks of adsorbate jobs need from one relaxed clean model (computed once).

    ``sites``: every concrete site instance of the ideal model as (label, kind, members) with
    members = ((atom index, lattice offset), ...), as ``sites.find_sites`` labels them, so a
    relaxed binding atom can be re-classified.  ``surface``: atoms of the top surface layer
    (slabs: the atoms of top sites; SAC/DAC: the support atoms without the ligand).
    """

    relaxed: Atoms
    active: list[int]
    ligand: list[int]
    surface: list[int]
    support: list[int]
    d_nn: np.ndarray
    sites: list[tuple[str, str, tuple]]
    normals: dict[int, np.ndarray]
    support_bonds_ideal: dict[int, int]
    anomaly: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def reason(self) -> str:
        """One line: why the relaxed clean model is flagged ('' if it is not)."""
        parts = []
        for i, j, d in self.details.get("too_close", []):
            parts.append(f"atoms {i} {self.relaxed[i].symbol} and {j} {self.relaxed[j].symbol} {d} A apart")
        for i, m in self.details.get("metals", {}).items():
            if m["pulled_out"]:
                parts.append(f"{m['symbol']} (atom {i}) {m['height']} A above the support plane with "
                             f"{m['support_bonds']} support bonds (ideal {m['support_bonds_ideal']})")
        return "; ".join(parts)


def clean_reference(ideal: Atoms, relaxed: Atoms) -> CleanReference:
    """Site list of ``ideal`` (its symmetry) and the relaxed clean geometry; checks the latter."""
    relaxed = relaxed.copy()
    if len(relaxed) != len(ideal):
        raise ValueError(f"relaxed clean model has {len(relaxed)} atoms, the ideal one {len(ideal)}")
    active = [int(i) for i in (ideal.info.get("active") or [])]
    ligand = [int(i) for i in (ideal.info.get("ligand") or [])]
    an = analyse(ideal, None, 0.1)  # the full candidate list, not only one site per orbit
    sites = [(an.labels[int(an.orbit[c])], cand.kind, cand.members) for c, cand in enumerate(an.cands)]
    normals = {}
    if active:
        support = [i for i in range(len(ideal)) if i not in set(active) | set(ligand)]
        surface = support
        for cand in an.cands:
            if cand.kind == "top":
                normals[cand.members[0][0]] = np.asarray(cand.normal, float)
    else:
        support = [i for i in range(len(ideal))]
        surface = sorted({cand.members[0][0] for cand in an.cands if cand.kind == "top"})
    bonds0 = {m: len(bonded_partners(ideal, m, support)) for m in active}
    ref = CleanReference(relaxed, active, ligand, surface, support, _nn_distances(relaxed), sites, normals, bonds0)
    flags_, details = [], {}
    close = too_close_pairs(relaxed)
    if close:
        flags_.append("too-close")
        details["too_close"] = close
    if active:
        out = _metal_state(relaxed, ref)
        details["metals"] = out
        if any(m["pulled_out"] for m in out.values()):
            flags_.append("metal-pulled-out")
    ref.anomaly = ",".join(flags_)
    ref.details = details
    return ref


def _metal_state(atoms: Atoms, ref: CleanReference) -> dict[str, dict[str, Any]]:
    """Height above the local support plane and support bonds of every active metal."""
    out = {}
    for m in ref.active:
        p = atoms.positions[m]
        v = _lateral_vectors(atoms, p, ref.support)
        lat = np.linalg.norm(v[:, :2], axis=1)
        near = lat < PLANE_RADIUS
        n = ref.normals.get(m, np.array([0.0, 0.0, 1.0]))
        height = float(-np.mean(v[near] @ n)) if near.any() else float("nan")
        bonds = len(bonded_partners(atoms, m, ref.support))
        need = max(1, math.ceil(ref.support_bonds_ideal.get(m, 2) / 2))
        pulled = bonds < need or (np.isfinite(height) and height > METAL_MAX_HEIGHT)
        out[str(m)] = {"symbol": atoms[m].symbol, "height": round(height, 3), "support_bonds": bonds,
                       "support_bonds_ideal": ref.support_bonds_ideal.get(m), "pulled_out": bool(pulled)}
    return out


def _classify(atoms: Atoms, b: int, ref: CleanReference, substrate) -> tuple[str, str]:
    """(label, kind) of the site the binding atom ``b`` sits on in ``atoms``."""
    if ref.active:
        bonded = set(bonded_partners(atoms, b, ref.active))
        if not bonded:
            return ("support" if bonded_partners(atoms, b, substrate) else ""), ""
        for label, kind, members in ref.sites:
            if {i for i, _ in members} == bonded:
                return label, kind
        return "+".join(sorted(atoms[i].symbol for i in bonded)), ""
    if not bonded_partners(atoms, b, substrate):
        return "", ""
    if not ref.sites:
        return "", ""
    # every site centre at once (the mean of its members' images), then the nearest one laterally
    # (the first of equals, as a loop over ref.sites with a strict "<" would pick)
    idx, off, sid, count = _site_arrays(ref)
    cell = atoms.cell.array
    summed = np.zeros((len(count), 3))
    np.add.at(summed, sid, atoms.positions[idx] + off @ cell)
    v = mic(atoms.positions[b] - summed / count[:, None], cell, np.array(atoms.pbc) & XY)
    k = int(np.argmin(np.linalg.norm(v[:, :2], axis=1)))
    return ref.sites[k][0], ref.sites[k][1]


def _site_arrays(ref: CleanReference) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``ref.sites``' members as flat arrays (atom index, lattice offset, site number) and the
    member count of each site; made once per clean model."""
    cached = ref.__dict__.get("_site_arrays")
    if cached is None or cached[0] is not ref.sites:
        idx = [int(i) for _, _, members in ref.sites for i, _ in members]
        off = [np.asarray(o, float) for _, _, members in ref.sites for _, o in members]
        sid = [k for k, (_, _, members) in enumerate(ref.sites) for _ in members]
        count = np.array([len(members) for _, _, members in ref.sites], float)
        cached = (ref.sites, (np.array(idx, int), np.array(off, float).reshape(-1, 3), np.array(sid, int), count))
        ref.__dict__["_site_arrays"] = cached
    return cached[1]


def check_relaxed(atoms: Atoms, info: dict[str, Any], ref: CleanReference,
                  initial_site: str | None = None) -> dict[str, Any]:
    """Every check on one relaxed adsorbate structure against its relaxed clean model.

    ``info`` holds ``adsorbate_indices`` and ``binding_indices`` (as ``adsorbates.place`` sets
    them); ``initial_site`` is the placement's site label ('fcc', 'top-Fe', 'top+top' for a
    bidentate pair).  Returns :func:`check_adsorbate`'s keys with the anomaly string extended,
    plus ``site_final``, ``site_kind_final`` and ``details`` (the numbers behind each flag).
    """
    ads = [int(i) for i in info["adsorbate_indices"]]
    binding = [int(i) for i in info["binding_indices"]]
    n_sub = len(ref.relaxed)
    if len(atoms) != n_sub + len(ads) or min(ads) < n_sub:
        raise ValueError("adsorbate structure does not extend its clean model (substrate atoms first)")
    out = check_adsorbate(atoms, ads, binding, ref.active or None)
    fl = flags(out["anomaly"])
    details: dict[str, Any] = {}
    substrate = list(range(n_sub))

    # moved: re-classify each binding atom against the clean model's site list
    final = [_classify(atoms, b, ref, substrate) for b in binding]
    labels = [f[0] for f in final]
    site_final = "+".join(labels) if all(labels) else ""
    out["site_final"] = site_final
    out["site_kind_final"] = final[0][1] if len(final) == 1 else ("pair" if site_final else "")
    if site_final and initial_site and sorted(site_final.split("+")) != sorted(initial_site.split("+")):
        if site_final != "support":
            fl.append("moved")
        details["moved"] = {"from": initial_site, "to": site_final}

    # intercalated: an adsorbate atom below the local top surface layer
    sunk = []
    surf = list(ref.surface)
    if surf:  # every adsorbate atom at once: minimum-image vectors to the surface atoms
        v = mic(atoms.positions[surf][None, :, :] - atoms.positions[ads][:, None, :], atoms.cell.array,
                np.array(atoms.pbc) & XY)
        nearest = np.argsort(np.linalg.norm(v[:, :, :2], axis=2), axis=1)[:, :3]
        for k, i in enumerate(ads):
            depth = float(np.mean(v[k, nearest[k], 2]))  # surface plane height relative to atom i
            if depth > INTERCALATION_DEPTH:
                sunk.append([i, round(depth, 3)])
    if sunk:
        fl.append("intercalated")
        details["intercalated"] = sunk

    # reconstructed: substrate atoms (not the active metals) moved from the relaxed clean model
    disp = _mic_displacements(atoms.positions[:n_sub], ref.relaxed.positions, atoms)
    if not _fixed(ref.relaxed) and not _fixed(atoms):
        disp = disp - np.median(disp, axis=0)  # a free-floating sheet may drift as a whole
    check = [i for i in substrate if i not in set(ref.active)]
    lateral = np.linalg.norm(disp[check, :2], axis=1) / ref.d_nn[check]
    vertical = np.abs(disp[check, 2]) / ref.d_nn[check]
    details["max_lateral_shift_A"] = round(float(np.linalg.norm(disp[check, :2], axis=1).max()), 3) if check else 0.0
    details["max_vertical_shift_A"] = round(float(np.abs(disp[check, 2]).max()), 3) if check else 0.0
    off = (lateral > RECONSTRUCTION_LATERAL) | (vertical > RECONSTRUCTION_VERTICAL)
    moved_atoms = [check[k] for k in np.flatnonzero(off)]
    if moved_atoms:
        fl.append("reconstructed")
        details["reconstructed"] = moved_atoms

    if ref.active:
        state = _metal_state(atoms, ref)
        details["metals"] = state
        if any(m["pulled_out"] for m in state.values()):
            fl.append("metal-pulled-out")

    close = too_close_pairs(atoms)
    if close:
        fl.append("too-close")
        details["too_close"] = close
    out["anomaly"] = ",".join(dict.fromkeys(fl))
    out["details"] = details
    return out


def adsorbate_fields(atoms: Atoms, info: dict[str, Any], ref: CleanReference,
                     initial_site: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """What :func:`check_relaxed` finds, as the row's key-value pairs and the row's data."""
    chk = check_relaxed(atoms, info, ref, initial_site)
    fields = {
        "bound_to": chk["bound_to"],
        "binding_coordination": chk["binding_coordination"],
        "anomaly": chk["anomaly"],
        "excluded": is_excluded(chk["anomaly"]),
        "site_final": chk["site_final"],
        "site_kind_final": chk["site_kind_final"],
    }
    if chk["bound_to_active"] is not None:
        fields["bound_to_active"] = chk["bound_to_active"]
    return fields, {"bound_to_indices": chk["bound_to_indices"], "anomaly_details": chk["details"]}
