"""What is stored with a relaxed adsorbate job: its adsorption energy and the geometry checks
(anomalies.py) against its relaxed clean model.

:func:`adsorbate_row` runs where the job ran -- in the worker, as the job's check
(``engine.jobs.Check`` with :func:`adsorbate_check`) -- so the screen's driver only stores the
result; ``workflows.stages.adsorption_record`` gives the same row in the driver.
"""

from __future__ import annotations

from typing import Any

from ase import Atoms

from descriptors.convention import CONVENTION_TEXT
from descriptors.geometry.anomalies import CleanReference, adsorbate_fields

__all__ = ["adsorbate_row", "adsorbate_check"]


def adsorbate_row(atoms: Atoms, energy: float, info: dict[str, Any], site: str | None, e_clean: float,
                  mu: dict[str, float], clean_ref: CleanReference) -> tuple[dict[str, Any], dict[str, Any]]:
    """(key-value pairs, data) of a relaxed adsorbate structure ``atoms`` of energy ``energy``:
    the adsorption energy against the atomic references ``mu`` and the clean model's energy
    ``e_clean``, and the checks against the relaxed clean model ``clean_ref``; ``info`` is the
    placement's (``adsorbate_indices``, ``binding_indices``, ``active``), ``site`` its label."""
    counts: dict[str, int] = {}
    for i in info["adsorbate_indices"]:
        counts[atoms[i].symbol] = counts.get(atoms[i].symbol, 0) + 1
    e_ads = energy - e_clean - sum(n * mu[s] for s, n in counts.items())
    fields, data = adsorbate_fields(atoms, info, clean_ref, site)
    data.update({
        "convention": CONVENTION_TEXT,
        "mu": mu,
        "adsorbate_indices": info["adsorbate_indices"],
        "binding_indices": info["binding_indices"],
        "active": info.get("active"),
    })
    return {"e_ads": float(e_ads), "reference": "atomic", **fields}, data


def adsorbate_check(job_atoms: Atoms, result, shared: tuple[CleanReference, float, dict[str, float]],
                    site: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The check of an adsorbate job (``engine.jobs.Check.fn``): ``shared`` is (relaxed clean
    model reference, its energy, the atomic references), the same for every job on that model."""
    clean_ref, e_clean, mu = shared
    return adsorbate_row(result.atoms, result.energy, job_atoms.info, site, e_clean, mu, clean_ref)
