"""The stages a screen and its verify level share: bulk lattice constants, gas references,
clean models, adsorbate placements and what is stored with each relaxed adsorbate.

Each function plans jobs (``Job`` with its recipe, hence its identity) or reads their results
from the store; the engine runs them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descriptors.calculators import CalculatorSetting
from descriptors.convention import atomic_potentials
from descriptors.engine import Job, RowExtras, StageFailed
from descriptors.engine.jobs import Check
from descriptors.geometry import (
    ADSORBATES,
    find_site_pairs,
    find_sites,
    place,
    place_bidentate,
)
from descriptors.geometry.adsorption_row import adsorbate_check, adsorbate_row
from descriptors.geometry.anomalies import CleanReference
from descriptors.identity import structure_hash
from descriptors.specs import Spec
from descriptors.specs.cost import JobCounts
from descriptors.store import STATUS_FAILED, Store
from descriptors.structures import CatalystModel
from descriptors.structures.gas import GAS_REFERENCES, gas_molecule
from descriptors.structures.slabs import bulk_cell, reference_lattice
from descriptors.tasks import JobOutcome, RelaxSettings

__all__ = ["bulk_jobs", "gas_jobs", "run_gas_references", "adsorption_record", "adsorption_check", "clean_jobs",
           "find_sites_ahead", "plan_adsorbate_jobs", "adsorbate_placements", "count_adsorbate_jobs", "count_jobs",
           "record_clean_check", "adsorbate_label", "BULK_MIN_LENGTH_GAMMA", "EOS"]

BULK_MIN_LENGTH_GAMMA = 10.0  # A; bulk supercell edge for Gamma-only calculators
EOS = {"strain": 0.04, "points": 7}


def _common(setting: CalculatorSetting, relax: RelaxSettings) -> dict[str, Any]:
    return {"calculator": setting.as_dict(), "relax": relax.as_dict(), "code": "descriptors"}


def bulk_jobs(models: list[CatalystModel], setting: CalculatorSetting) -> list[Job]:
    jobs, seen = [], set()
    for m in models:
        if m.bulk is None or m.bulk in seen:
            continue
        seen.add(m.bulk)
        metal, structure = m.bulk
        a0, c0 = reference_lattice(metal, structure)
        min_len = BULK_MIN_LENGTH_GAMMA if setting.info.gamma_only else 0.0
        atoms = bulk_cell(metal, structure, a0, c0, min_length=min_len)
        recipe = {
            "kind": "bulk", "metal": metal, "structure": structure, "a0": a0, "c0": c0,
            "min_length": min_len, "eos": EOS, "structure_hash": structure_hash(atoms),
            "calculator": setting.as_dict(),
        }
        jobs.append(Job("bulk", recipe, {"metal": metal, "structure": structure, "catalyst": f"bulk {metal}"}, atoms,
                        label=f"bulk {metal}"))
    return jobs


def gas_jobs(setting: CalculatorSetting, relax: RelaxSettings, box: float = 12.0) -> list[Job]:
    """The gas references, each in a cubic box of edge ``box`` (A; the spec's ``gas_box``)."""
    jobs = []
    for name in GAS_REFERENCES:
        atoms = gas_molecule(name, box)
        recipe = {"kind": "gas", "molecule": name, "structure_hash": structure_hash(atoms), **_common(setting, relax)}
        jobs.append(Job("gas", recipe, {"molecule": name, "catalyst": "gas"}, atoms, label=f"gas {name}"))
    return jobs


def run_gas_references(engine, setting: CalculatorSetting, relax: RelaxSettings, desc: str = "gas references",
                       box: float = 12.0) -> tuple[dict[str, float], list[Job]]:
    """Relax the gas references with ``setting`` (stored jobs are reused); return the atomic
    chemical potentials of the adsorption-energy convention (convention.py) and the jobs."""
    gjobs = gas_jobs(setting, relax, box)
    engine.run(gjobs, desc)
    gas = {}
    for j in gjobs:
        row = engine.store.get(j.id)
        if row is not None and row.get("status") != STATUS_FAILED:
            gas[j.meta["molecule"]] = row.energy
    try:
        return atomic_potentials(gas), gjobs
    except KeyError as err:
        raise StageFailed(f"gas-phase references with {setting.name} failed ({err}); nothing else was computed; "
                          f"see `no3rr status` or `ase db {engine.store} kind=gas,calc={setting.name}`") from None


def adsorption_record(job: Job, outcome: JobOutcome, e_clean: float, mu: dict[str, float], clean_ref
                      ) -> RowExtras:
    """What is stored with a relaxed adsorbate job: its adsorption energy against the atomic
    references ``mu`` and the clean model's energy ``e_clean``, and the geometry checks against
    the relaxed clean model ``clean_ref`` (geometry/anomalies.py), worked out in this process
    (:func:`adsorption_check` has them worked out in the worker)."""
    res = outcome.result
    fields, data = adsorbate_row(res.atoms, res.energy, job.atoms.info, job.meta.get("site"), e_clean, mu, clean_ref)
    return RowExtras(fields, data)


def adsorption_check(jobs: list[Job], parent_id: str, e_clean: float, mu: dict[str, float], clean_ref) -> None:
    """Give each adsorbate job on the clean model ``parent_id`` its check (``engine.jobs.Check``):
    the worker computes what :func:`adsorption_record` would, and the relaxed clean model, its site
    list, energy and ``mu`` go to a worker once per clean model, not once per job."""
    key = f"adsorbate-check:{parent_id}"
    shared = (clean_ref, e_clean, mu)
    for job in jobs:
        job.check = Check(adsorbate_check, key, shared, job.meta.get("site"))


def record_clean_check(store, row, ref: CleanReference) -> bool:
    """Write the clean model's flag onto its stored row (if not there yet); True if flagged.

    Only the screen's driver process calls this (it is the only writer of the store).
    """
    if row.get("anomaly", None) != ref.anomaly or ("anomaly_details" not in row.data and ref.anomaly):
        store.db.update(row.id, anomaly=ref.anomaly, excluded=bool(ref.anomaly),
                        data={"anomaly_details": ref.details})
    return bool(ref.anomaly)


def adsorbate_label(meta: dict[str, Any]) -> str:
    """How progress and status name an adsorbate job: 'Cu(111) *NO bridge-N@top'."""
    return f"{meta.get('catalyst')} *{meta.get('adsorbate')} {meta.get('binding')}@{meta.get('site')}"


def _lattice(model: CatalystModel, store: Store, bulk_ids: dict) -> tuple[float | None, float | None, dict] | None:
    """Lattice constants of a metal model (and how they were chosen), or None if its bulk job failed."""
    if not model.catalyst_type.needs_lattice:
        return None, None, {}
    if model.lattice == "relaxed":
        bid = bulk_ids[model.bulk]
        row = store.get(bid)
        if row is None or row.get("status") == STATUS_FAILED:
            return None
        a0, c0 = reference_lattice(*model.bulk)
        s = row.data["scale"]
        return a0 * s, (c0 * s if c0 else None), {"lattice": "relaxed", "bulk_job": bid}
    if model.lattice == "experimental":
        a, c = model.unrelaxed_lattice()
        return a, c, {"lattice": "experimental", "a": a, "c": c}
    return float(model.lattice), None, {"lattice": "given", "a": float(model.lattice)}


def clean_jobs(models, store, bulk_ids, setting, relax, skipped: list[str]) -> tuple[list[Job], dict[str, Any]]:
    jobs, ideal = [], {}
    for m in models:
        lat = _lattice(m, store, bulk_ids)
        if lat is None:
            skipped.append(f"{m.name}: bulk lattice job failed")
            continue
        a, c, lattice_recipe = lat
        atoms = m.build(a, c)
        recipe = {"kind": "clean", "model": m.recipe, "lattice": lattice_recipe, **_common(setting, relax)}
        if lattice_recipe.get("lattice") != "relaxed":
            # the structure is fully known up front: hash it into the identity
            recipe["structure_hash"] = structure_hash(atoms)
        meta = {"catalyst": m.name, "model": atoms.info.get("model", m.kind)}
        for k in ("metal", "host", "solute", "support", "coordination", "ligand"):
            if atoms.info.get(k) is not None:
                meta[k] = atoms.info[k]
        if atoms.info.get("facet"):
            meta["facet"] = f"({atoms.info['facet']})"  # '(100)': ase.db refuses numeric-looking strings
        if atoms.info.get("metals"):
            meta["metals"] = "-".join(atoms.info["metals"])
        if atoms.info.get("lattice_a"):
            meta["lattice_a"] = float(atoms.info["lattice_a"])
        job = Job("clean", recipe, meta, atoms, label=f"clean {m.name}")
        jobs.append(job)
        ideal[job.id] = atoms
    return jobs, ideal


def find_sites_ahead(ideal: list, adsorbates: list[str], spec: Spec, submit=None):
    """Find the sites and site pairs of the ideal clean models in a background thread while they
    relax (the geometry layer caches them: site_finder, site_pairs), so that planning the adsorbate
    jobs after the clean stage does not keep the workers waiting.  With ``submit(fn, *args) ->
    Future`` (the local pool's) every other model is analysed by a worker meanwhile and the result
    kept here.  Returns the started thread (join it before planning); an error is left for the
    planning to raise."""
    import threading

    from descriptors.geometry.site_pairs import remember_elsewhere, sites_elsewhere

    placement = spec.placement
    pairs = placement.bidentate and any(m.bidentate for n in adsorbates for m in ADSORBATES[n].modes)
    dist = placement.max_pair_distance if pairs else None
    elsewhere = []
    if submit is not None and len(ideal) > 1:
        try:
            elsewhere = [(atoms, submit(sites_elsewhere, atoms, dist)) for atoms in ideal[::2]]
            ideal = ideal[1::2]
        except Exception:  # the pool could not take them: all here
            elsewhere = []

    def work() -> None:
        try:
            for atoms in ideal:
                find_sites(atoms)
                if pairs:
                    find_site_pairs(atoms, max_distance=placement.max_pair_distance)
            for atoms, fut in elsewhere:
                remember_elsewhere(atoms, fut.result(), dist)
        except Exception:
            pass

    th = threading.Thread(target=work, name="no3rr-sites-ahead", daemon=True)
    th.start()
    return th


def adsorbate_placements(ideal, relaxed, adsorbates: list[str], spec: Spec):
    """(adsorbate name, binding mode, site label, make() -> placed Atoms, site or site pair) of every
    placement on one clean model, in the planner's order; the sites are those of the ideal model.
    ``make`` is not called here, so counting placements costs only the site finding."""
    placement = spec.placement
    sites = [s for s in find_sites(ideal) if s.kind in placement.site_kinds]
    active = ideal.info.get("active")
    pairs = None
    for name in adsorbates:
        ads = ADSORBATES[name]
        for mode in ads.modes:
            if mode.bidentate:
                if not placement.bidentate:
                    continue
                if pairs is None:
                    pairs = find_site_pairs(ideal, max_distance=placement.max_pair_distance)
                d_ads = ads.binding_distance(mode)
                chosen = []
                for p in pairs:
                    chelate = p.distance < 0.5
                    if chelate and active and len(active) == 1:
                        chosen.append(p)
                    elif not chelate and abs(p.distance - d_ads) <= placement.bidentate_tolerance:
                        chosen.append(p)
                for p in chosen:
                    yield name, mode, p.label, (lambda p=p, ads=ads, mode=mode: place_bidentate(relaxed, ads, p, mode)), p
            else:
                for s in sites:
                    if s.kind in mode.sites:
                        yield name, mode, s.label, (lambda s=s, ads=ads, mode=mode: place(relaxed, ads, s, mode)), s


def count_adsorbate_jobs(ideal, adsorbates: list[str], spec: Spec) -> int:
    """How many adsorbate jobs the planner makes on one clean model (before any relaxation):
    the same sites, binding modes and site pairs as :func:`plan_adsorbate_jobs`, nothing placed."""
    return sum(1 for _ in adsorbate_placements(ideal, ideal, adsorbates, spec))


COUNT_MODELS_MAX = 100  # models whose sites are found for `validate`; the rest take their kind's mean


def count_jobs(spec: Spec, models: list[CatalystModel]) -> JobCounts:
    """The jobs a screen of ``spec`` will plan on ``models``, counted without relaxing or placing
    anything (``no3rr validate``'s estimate): the bulk and gas jobs the stages make, and on every
    model the adsorbate jobs of :func:`plan_adsorbate_jobs` (sites of the ideal model). Beyond
    COUNT_MODELS_MAX models, an evenly spread sample is counted and each other model takes the mean
    of the counted models of its catalyst type (``JobCounts.sampled`` says how many were counted).
    Models that fail to build count no adsorbate jobs (the screen reports them)."""
    setting = spec.calculator.setting()
    relax = RelaxSettings(spec.relax.optimizer, spec.relax.fmax, spec.relax.steps)
    adsorbates = spec.adsorbate_names()
    step = max(1, -(-len(models) // COUNT_MODELS_MAX))
    counted: dict[int, int] = {}
    for i in range(0, len(models), step):
        try:
            counted[i] = count_adsorbate_jobs(models[i].build(), adsorbates, spec)
        except Exception:  # noqa: BLE001 - a model that does not build is the screen's to report
            counted[i] = 0
    by_type: dict[str, list[int]] = {}
    for i, n in counted.items():
        by_type.setdefault(type(models[i]).__name__, []).append(n)
    every = [n for ns in by_type.values() for n in ns]
    per_model = []
    for i, m in enumerate(models):
        if i in counted:
            per_model.append(counted[i])
        else:
            ns = by_type.get(type(m).__name__) or every
            per_model.append(round(sum(ns) / len(ns)) if ns else 0)
    n_gas = len(gas_jobs(setting, relax, spec.gas_box))
    analysis = getattr(spec, "analysis", None)
    computed = analysis is not None and getattr(analysis, "corrections", "") == "computed"
    vib_max = (len(models) * len(adsorbates) + n_gas) if computed else 0
    return JobCounts(len(bulk_jobs(models, setting)), n_gas, tuple(per_model), vib_max, sampled=len(counted))


def plan_adsorbate_jobs(
    clean_job: Job,
    ideal,
    relaxed,
    adsorbates: list[str],
    spec: Spec,
    setting: CalculatorSetting,
    relax: RelaxSettings,
) -> list[Job]:
    """Every (adsorbate, binding mode, site) job on one relaxed clean model."""
    relaxed = relaxed.copy()
    relaxed.info = dict(ideal.info)
    jobs = []
    for name, mode, label, make, where in adsorbate_placements(ideal, relaxed, adsorbates, spec):
        ads = ADSORBATES[name]
        atoms = make()
        recipe = {
            "kind": "adsorbate",
            "parent": clean_job.id,
            "adsorbate": name,
            "binding": mode.name,
            # the plain pair label ('bridge+bridge'), as before pair labels were made unique:
            # stored jobs keep their ids (site_indices tell the pairs apart)
            "site": getattr(where, "identity_label", "") or label,
            "site_indices": atoms.info["site_indices"],
            "geometry": np.round(ads.atoms(mode).positions, 4).tolist(),
            **_common(setting, relax),
        }
        meta = {
            "catalyst": clean_job.meta["catalyst"],
            "model": clean_job.meta.get("model"),
            "facet": clean_job.meta.get("facet"),
            "adsorbate": name,
            "binding": mode.name,
            "site": label,
            "site_kind": getattr(where, "kind", "pair"),
        }
        jobs.append(Job("adsorbate", recipe, meta, atoms, parent=clean_job.id, label=adsorbate_label(meta)))
    return jobs
