"""A screen: spec -> jobs -> engine -> store -> tables.

Stages run in dependency order: bulk lattice constants (where 'relaxed'), gas references,
clean catalyst models, then every (catalyst, adsorbate, binding mode, site) from the relaxed
clean model.  Sites are found on the ideal model (its symmetry) and placed on the relaxed one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .adsorbates import ADSORBATES, place, place_bidentate
from .anomalies import adsorbate_fields, clean_reference, record_clean_check
from .calculators import CalculatorSetting
from .catalysts import CatalystModel, expand_catalysts
from .engine import Engine
from .jobs import Job, JobOutcome, structure_hash
from .references import CONVENTION_TEXT, GAS_REFERENCES, REFERENCE_CONVENTION, atomic_potentials, gas_molecule
from .relax import RelaxSettings
from .sites import find_site_pairs, find_sites
from .slabs import bulk_cell, reference_lattice
from .spec import Spec
from .store import STATUS_FAILED, Store

__all__ = ["run_screen", "plan_adsorbate_jobs", "ScreenResult", "DB_NAME"]

DB_NAME = "screen.db"
BULK_MIN_LENGTH_GAMMA = 10.0  # A; bulk supercell edge for Gamma-only calculators
EOS = {"strain": 0.04, "points": 7}


@dataclass
class ScreenResult:
    out: Path
    db: Path
    stats: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    tables: dict[str, Path] = field(default_factory=dict)
    job_ids: dict[str, list[str]] = field(default_factory=dict)
    verify: dict[str, Any] | None = None  # verify.py summary when the spec has a [verify] table


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, file=sys.stderr, flush=True)


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
        jobs.append(Job("bulk", recipe, {"metal": metal, "structure": structure, "catalyst": f"bulk {metal}"}, atoms))
    return jobs


def gas_jobs(setting: CalculatorSetting, relax: RelaxSettings) -> list[Job]:
    jobs = []
    for name in GAS_REFERENCES:
        atoms = gas_molecule(name)
        recipe = {"kind": "gas", "molecule": name, "structure_hash": structure_hash(atoms), **_common(setting, relax)}
        jobs.append(Job("gas", recipe, {"molecule": name, "catalyst": "gas"}, atoms))
    return jobs


def run_gas_references(engine, setting: CalculatorSetting, relax: RelaxSettings, desc: str = "gas references"
                       ) -> tuple[dict[str, float], list[Job]]:
    """Relax the gas references with ``setting`` (stored jobs are reused); return the atomic
    chemical potentials of the adsorption-energy convention (references.py) and the jobs."""
    gjobs = gas_jobs(setting, relax)
    engine.run(gjobs, desc)
    gas = {}
    for j in gjobs:
        row = engine.store.get(j.id)
        if row is not None and row.get("status") != STATUS_FAILED:
            gas[j.meta["molecule"]] = row.energy
    try:
        return atomic_potentials(gas), gjobs
    except KeyError as err:
        raise RuntimeError(f"gas-phase references with {setting.name} failed ({err}); "
                           f"see `ase db {engine.store.location} kind=gas,calc={setting.name}`") from None


def adsorption_record(job: Job, outcome: JobOutcome, e_clean: float, mu: dict[str, float], clean_ref
                      ) -> dict[str, Any]:
    """What is stored with a relaxed adsorbate job: its adsorption energy against the atomic
    references ``mu`` and the clean model's energy ``e_clean``, and the geometry checks against
    the relaxed clean model ``clean_ref`` (anomalies.py)."""
    atoms = outcome.result.atoms
    info = job.atoms.info
    counts: dict[str, int] = {}
    for i in info["adsorbate_indices"]:
        counts[atoms[i].symbol] = counts.get(atoms[i].symbol, 0) + 1
    e_ads = outcome.result.energy - e_clean - sum(n * mu[s] for s, n in counts.items())
    extra = {"e_ads": float(e_ads), "reference": "atomic",
             **adsorbate_fields(atoms, info, clean_ref, job.meta.get("site"))}
    extra["_data"].update({
        "convention": CONVENTION_TEXT,
        "mu": mu,
        "adsorbate_indices": info["adsorbate_indices"],
        "binding_indices": info["binding_indices"],
        "active": info.get("active"),
    })
    return extra


def _lattice(model: CatalystModel, store: Store, bulk_ids: dict) -> tuple[float | None, float | None, dict] | None:
    """Lattice constants for a slab model, or None if its bulk job did not succeed."""
    if model.kind not in ("slab", "saa"):
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
        a, c = reference_lattice(model.recipe["metal"], model.recipe["structure"])
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
        job = Job("clean", recipe, meta, atoms)
        jobs.append(job)
        ideal[job.id] = atoms
    return jobs, ideal


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
    placement = spec.placement
    relaxed = relaxed.copy()
    relaxed.info = dict(ideal.info)
    sites = [s for s in find_sites(ideal) if s.kind in placement.site_kinds]
    active = ideal.info.get("active")
    pairs = None
    jobs = []
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
                placements = [(p.label, lambda p=p: place_bidentate(relaxed, ads, p, mode), p) for p in chosen]
            else:
                placements = [(s.label, lambda s=s: place(relaxed, ads, s, mode), s) for s in sites if s.kind in mode.sites]
            for label, make, where in placements:
                atoms = make()
                recipe = {
                    "kind": "adsorbate",
                    "parent": clean_job.id,
                    "adsorbate": name,
                    "binding": mode.name,
                    "site": label,
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
                jobs.append(Job("adsorbate", recipe, meta, atoms, parent=clean_job.id))
    return jobs


def run_screen(
    spec: Spec,
    out: str | Path | None = None,
    workers: int | None = None,
    retry_failed: bool | None = None,
    progress: bool = True,
    quiet: bool = False,
    include_flagged: bool = False,
    engine: str | None = None,
    db: str | None = None,
) -> ScreenResult:
    """Run every job of ``spec`` not yet stored.  ``engine`` ('serial'|'local'|'slurm') and ``db``
    (SQLite path or postgresql:// URL) override the spec's ``[engine]`` table and ``db``."""
    engines: list[Engine] = []
    try:
        return _run_screen(spec, out, workers, retry_failed, progress, quiet, include_flagged, engine, db, engines)
    finally:
        for e in engines:  # stop the Parsl workers / cancel the Slurm blocks, also on errors
            e.close()


def engine_settings(spec: Spec, engine: str | None = None):
    """The spec's ``[engine]`` table with ``--engine`` applied; SpecError if Slurm settings are missing."""
    from .spec import EngineSpec, SpecError

    if engine is None or engine == spec.engine.type:
        return spec.engine
    if engine == "slurm":
        raise SpecError("--engine slurm: the spec has no Slurm settings; add an [engine] table with "
                        "type = 'slurm', walltime, partition, ... (example: workflows/slurm_example.toml)")
    if engine not in ("local", "serial"):
        raise SpecError(f"--engine {engine!r}: choose local, slurm or serial")
    return EngineSpec(type=engine, retries=spec.engine.retries)


def _run_screen(spec, out, workers, retry_failed, progress, quiet, include_flagged, engine_choice, db,
                engines) -> ScreenResult:
    t0 = time.perf_counter()
    out = Path(out or spec.output)
    out.mkdir(parents=True, exist_ok=True)
    setting = spec.calculator.setting()
    relax = RelaxSettings(spec.relax.optimizer, spec.relax.fmax, spec.relax.steps)
    eng = engine_settings(spec, engine_choice)
    store = Store(db or spec.db or out / DB_NAME)
    engine = Engine(
        store, setting, relax,
        workers=workers or spec.execution.workers or os.cpu_count() or 1,
        retry_failed=spec.execution.retry_failed if retry_failed is None else retry_failed,
        progress=progress and not quiet,
        engine=eng,
        workdir=out,
        name=spec.name,
    )
    engines.append(engine)
    _log(f"engine: {engine.kind}" + (f" ({engine.workers} workers)" if engine.kind == "local" else "")
         + f"; database: {store}", quiet)
    _log(f"screen {spec.name!r}: calculator {setting.label()}", quiet)
    if setting.info.fidelity == "test-only":
        _log(f"NOTE: {setting.info.note}", quiet)
    models = expand_catalysts(spec)
    adsorbates = spec.adsorbate_names()
    skipped: list[str] = []

    bjobs = bulk_jobs(models, setting)
    bulk_ids = {(j.meta["metal"], j.recipe["structure"]): j.id for j in bjobs}
    engine.run(bjobs, "bulk lattice")
    mu, gjobs = run_gas_references(engine, setting, relax)

    cjobs, ideal = clean_jobs(models, store, bulk_ids, setting, relax, skipped)
    engine.run(cjobs, "clean models")
    from .dband import dband_jobs, dband_post, write_dband_table  # d-band centres (calculators with a DOS)

    djobs = dband_jobs(cjobs, store, setting)
    engine.run(djobs, "d-band centres", postprocess=dband_post)

    def post(job: Job, outcome: JobOutcome) -> dict[str, Any]:
        return adsorption_record(job, outcome, clean_energy[job.parent], mu, clean_refs[job.parent])

    ajobs: list[Job] = []
    clean_energy: dict[str, float] = {}
    clean_refs: dict[str, Any] = {}  # relaxed clean model + its site list: the anomaly checks' reference
    for cj in cjobs:
        row = store.get(cj.id)
        if row is None or row.get("status") == STATUS_FAILED:
            skipped.append(f"{cj.meta['catalyst']}: clean model failed ({row.get('error') if row else 'missing'})")
            continue
        clean_energy[cj.id] = row.energy
        relaxed = row.toatoms()
        clean_refs[cj.id] = clean_reference(ideal[cj.id], relaxed)
        if record_clean_check(store, row, clean_refs[cj.id]):
            skipped.append(f"{cj.meta['catalyst']}: relaxed clean model flagged {clean_refs[cj.id].anomaly!r} "
                           f"({clean_refs[cj.id].reason()}); its adsorbate jobs are not run")
            continue
        ajobs += plan_adsorbate_jobs(cj, ideal[cj.id], relaxed, adsorbates, spec, setting, relax)
    _log(f"{len(models)} catalysts x {len(adsorbates)} adsorbates -> {len(ajobs)} adsorbate jobs", quiet)
    engine.run(ajobs, "adsorbates", postprocess=post)

    from .report import write_tables

    job_ids = {"bulk": [j.id for j in bjobs], "gas": [j.id for j in gjobs], "clean": [j.id for j in cjobs],
               "adsorbate": [j.id for j in ajobs]}
    tables = write_tables(store, out, spec, setting, relax, job_ids, include_flagged=include_flagged)
    if djobs:
        job_ids["dband"] = [j.id for j in djobs]
        if (dband_csv := write_dband_table(store, out, job_ids["dband"])) is not None:
            tables["dband_centres"] = dband_csv
    if spec.analysis is not None:  # free energies, U_L, scaling relations, volcanoes (analysis.py)
        from .analysis import analyze_screen

        try:
            tables.update(analyze_screen(spec, store, engine, out, log=lambda m: _log(m, quiet)))
        except ValueError as err:  # e.g. a gas reference failed: reported, the screen's results stand
            skipped.append(f"analysis: {err}")
    stats = engine.stats.as_dict()
    vres = None
    if spec.verify is not None:  # pre-screen then verify: the expensive level (verify.py)
        from .verify import run_verify

        vres = run_verify(spec, store, out, cjobs, ajobs, ideal, engine.derive, log=lambda m: _log(m, quiet))
        skipped += vres.skipped
        tables.update(vres.tables)
        for k in ("computed", "reused", "failed", "failed_reused"):
            stats[k] += vres.stats[k]
        stats["verify"] = vres.stats
    stats["wall_seconds"] = round(time.perf_counter() - t0, 2)
    stats["jobs"] = {k: len(v) for k, v in job_ids.items()}
    summary = {
        "spec": spec.name,
        "code": f"no3rr-descriptors {__version__}",
        "calculator": setting.as_dict(),
        "calculator_label": setting.label(),
        "fidelity": setting.info.fidelity,
        "note": setting.info.note,
        "relax": relax.as_dict(),
        "reference_convention": REFERENCE_CONVENTION,
        "convention": CONVENTION_TEXT,
        "stats": stats,
        "skipped": skipped,
        "tables": {k: str(v) for k, v in tables.items()},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    engine.mark_complete()  # every stage planned and run (`no3rr status` reads this)
    return ScreenResult(out, store.path or store.location, stats, skipped, tables, job_ids, vres.summary if vres else None)
