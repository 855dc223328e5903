"""One clean reference per catalyst and calculator level: the lowest relaxed clean model.

E_ads = E(slab+adsorbate) - E(slab) - sum mu needs E(slab) of *the* relaxed clean surface at that
level.  A store can hold several relaxed clean models of one catalyst at one level: a verify level
relaxes the clean slab from each cheap level's geometry (the base ML potential's, each fine-tuned
model's), and the screen's own level may be the same calculator.  If those relaxations land in
different minima (a surface reconstruction, another SCF state), E_ads computed against each one's
own clean energy mix references and differ by the gap, with nothing in the number to say so.

What a computational chemist expects is the ground state of the clean surface as the reference:
here the lowest energy among the relaxed clean models of the same catalyst model (same name,
composition and cell) at the same calculator (``calc_hash``).  Below ``CLEAN_REF_TOLERANCE`` the
differences are relaxation noise (fmax 0.05-0.1 eV/A relaxations of one minimum agree to ~0.02 eV
in this project's stores) and each row keeps its own clean model; above it, every adsorbate row of
that catalyst at that level is referenced to the lowest clean model, and its row says so
(``clean_ref_job``, ``clean_ref_shift`` = E(own clean) - E(reference) >= 0).  Single points are
not minima: clean rows computed without relaxation (a verify level in ``single-point`` mode) keep
their own single-point reference and are left out of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descriptors.store.db import STATUS_FAILED

__all__ = ["CLEAN_REF_TOLERANCE", "CleanGroup", "clean_groups", "group_key", "is_relaxed", "own_clean_job",
           "reference_of", "row_reference", "format_groups"]

#: eV per clean model (it enters E_ads one to one): half AdsorbML's 0.1 eV success tolerance, so the
#: choice of reference alone cannot decide a success; above the ~0.02 eV spread of repeated
#: relaxations of one minimum at fmax 0.05-0.1 eV/A
CLEAN_REF_TOLERANCE = 0.05


def _recipe(row) -> dict[str, Any]:
    return (row.data or {}).get("recipe") or {}


def is_relaxed(row) -> bool:
    """A row relaxed at its level (not a single point on another level's geometry)."""
    rx = _recipe(row).get("relax") or (row.data or {}).get("relax") or {}
    return _recipe(row).get("mode", "relax") != "single-point" and int(rx.get("steps", 1) or 0) > 0


def group_key(row) -> tuple:
    """(calculator hash, catalyst, composition, cell to 1 mA): one catalyst model at one calculator."""
    cell = tuple(np.round(np.asarray(row.cell, float).ravel(), 3).tolist())
    return (row.get("calc_hash"), row.get("catalyst"), tuple(sorted(int(z) for z in row.numbers)), cell)


@dataclass
class CleanGroup:
    """The relaxed clean models of one catalyst at one calculator."""

    catalyst: str
    calc: str
    calc_hash: str
    energies: dict[str, float] = field(default_factory=dict)  # clean job id -> energy

    @property
    def lowest(self) -> str:
        return min(self.energies, key=lambda j: (self.energies[j], j))

    @property
    def spread(self) -> float:
        return max(self.energies.values()) - min(self.energies.values())

    def as_dict(self) -> dict[str, Any]:
        return {"catalyst": self.catalyst, "calculator": self.calc, "calc_hash": self.calc_hash,
                "clean_models": len(self.energies), "spread_eV": round(self.spread, 4), "reference_job": self.lowest,
                "energies_eV": {j: round(e, 6) for j, e in sorted(self.energies.items(), key=lambda kv: kv[1])}}


def clean_groups(clean_rows) -> tuple[dict[tuple, CleanGroup], dict[str, tuple]]:
    """Group the relaxed, unflagged, non-failed clean rows (newest row per job); return the groups
    and clean job id -> group key for every clean row (single points included, for lookups)."""
    newest: dict[str, Any] = {}
    for r in clean_rows:
        j = r.get("job_id")
        if j not in newest or r.id > newest[j].id:
            newest[j] = r
    groups: dict[tuple, CleanGroup] = {}
    key_of: dict[str, tuple] = {}
    for j, r in newest.items():
        key = group_key(r)
        key_of[j] = key
        if r.get("status") == STATUS_FAILED or r.get("anomaly") or r.energy is None or not is_relaxed(r):
            continue
        g = groups.setdefault(key, CleanGroup(r.get("catalyst"), r.get("calc"), r.get("calc_hash")))
        g.energies[j] = float(r.energy)
    return groups, key_of


def reference_of(own_clean: str, groups: dict[tuple, CleanGroup], key_of: dict[str, tuple],
                 tolerance: float = CLEAN_REF_TOLERANCE) -> tuple[str, float]:
    """(clean job whose energy E_ads uses, E(own) - E(that one)) for an adsorbate row whose own
    clean model is ``own_clean``: the group's lowest where the group spreads by more than
    ``tolerance`` and the own model is above the lowest by more than ``tolerance``; else its own."""
    g = groups.get(key_of.get(own_clean))
    if g is None or own_clean not in g.energies or g.spread <= tolerance:
        return own_clean, 0.0
    shift = g.energies[own_clean] - g.energies[g.lowest]
    return (g.lowest, shift) if shift > tolerance else (own_clean, 0.0)


def own_clean_job(row) -> str | None:
    """The clean model an adsorbate row was relaxed on: ``clean_job`` (a derived level) or its parent."""
    return row.get("clean_job") or row.get("parent")


def row_reference(row, groups, key_of, clean_energy: dict[str, float],
                  tolerance: float = CLEAN_REF_TOLERANCE) -> tuple[float | None, str | None, float]:
    """(E_ads against the level's chosen clean reference, that reference's job, E(own) - E(reference))
    of a stored adsorbate row, whatever reference it was stored with (``clean_ref_job`` if the row
    records one, else its own clean model).  E_ads None where the row has none."""
    own = own_clean_job(row)
    if row.get("e_ads") is None or own is None:
        return (None if row.get("e_ads") is None else float(row.get("e_ads"))), own, 0.0
    ref, shift = reference_of(own, groups, key_of, tolerance)
    used = row.get("clean_ref_job") or own
    e = float(row.get("e_ads"))
    if used != ref and used in clean_energy and ref in clean_energy:
        e += clean_energy[used] - clean_energy[ref]
    return e, ref, shift


def format_groups(groups: list[dict[str, Any]], tolerance: float = CLEAN_REF_TOLERANCE) -> list[str]:
    """Lines naming every catalyst whose relaxed clean models at one level differ by more than ``tolerance``."""
    return [f"clean reference: {g['catalyst']} has {g['clean_models']} relaxed clean models at {g['calculator']} "
            f"[{str(g['calc_hash'])[:8]}] "
            f"spanning {g['spread_eV']:.3f} eV (> {tolerance} eV): every E_ads of it at that level uses the lowest "
            f"(job {g['reference_job'][:12]}); rows record clean_ref_job and clean_ref_shift"
            for g in groups if g["spread_eV"] > tolerance]
