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

from descriptors import __version__
from descriptors.convention import CONVENTION_TEXT, REFERENCE_CONVENTION
from descriptors.engine import Engine, Job, interrupts
from descriptors.engine.engine import settings_hash
from descriptors.engine.jobs import settled
from descriptors.geometry.anomalies import clean_reference
from descriptors.report.tables import write_tables
from descriptors.specs import EngineSpec, Spec, SpecError, finetune_split
from descriptors.store import STATUS_FAILED, Store, StoreLock, is_url
from descriptors.structures import expand_catalysts
from descriptors.tasks import RelaxSettings
from descriptors.tasks.base import DEFAULT_OPTIMIZER, OLD_DEFAULT_OPTIMIZER
from descriptors.workflows.analyze import analyze_screen
from descriptors.workflows.dband import dband_jobs, dband_post, write_dband_table
from descriptors.workflows.finetune import run_finetune
from descriptors.workflows.outdir import check_out
from descriptors.workflows.plancache import load_plan, plan_key, save_plan
from descriptors.workflows.stages import (
    adsorption_check,
    bulk_jobs,
    clean_jobs,
    find_sites_ahead,
    plan_adsorbate_jobs,
    record_clean_check,
    run_gas_references,
)
from descriptors.workflows.verify import run_verify

__all__ = ["run_screen", "engine_settings", "ScreenOptions", "ScreenResult", "DB_NAME"]

DB_NAME = "screen.db"


@dataclass
class ScreenResult:
    out: Path
    db: Path
    stats: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    tables: dict[str, Path] = field(default_factory=dict)
    job_ids: dict[str, list[str]] = field(default_factory=dict)
    verify: dict[str, Any] | None = None  # verify.py summary when the spec has a [verify] table
    finetune: dict[str, Any] | None = None  # finetune.py summary (`no3rr finetune`)


@dataclass
class ScreenOptions:
    """How to run a screen, beyond its spec (the command line's overrides)."""

    out: Path
    workers: int | None = None
    retry_failed: bool | None = None
    progress: bool = True
    quiet: bool = False
    include_flagged: bool = False
    engine: str | None = None  # 'serial' | 'local' | 'slurm': overrides the spec's [engine] type
    db: str | None = None  # SQLite path or postgresql:// URL: overrides the spec's db
    wait: bool = False  # wait for another screen holding the store instead of stopping
    finetune: bool = False  # `no3rr finetune`: fine-tune on [verify] and re-rank (workflows/finetune.py)

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)


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
    wait: bool = False,
    finetune: bool = False,
) -> ScreenResult:
    """Run every job of ``spec`` not yet stored.  ``engine`` ('serial'|'local'|'slurm') and ``db``
    (SQLite path or postgresql:// URL) override the spec's ``[engine]`` table and ``db``.

    One screen writes to a store at a time (store/lock.py): ``StoreLocked`` if another holds it,
    unless ``wait``.  SIGINT/SIGTERM raise ``engine.Interrupted`` after the workers are stopped;
    nothing cut short is recorded (engine/interrupt.py)."""
    opts = ScreenOptions(Path(out or spec.output), workers, retry_failed, progress, quiet, include_flagged, engine, db,
                         wait, finetune)
    engines: list[Engine] = []
    locks: list[StoreLock] = []
    with interrupts():
        try:
            return _run_screen(spec, opts, engines, locks)
        finally:
            for e in engines:  # stop the workers / cancel the Slurm blocks, also on errors
                e.close()
            for lock in reversed(locks):
                lock.release()


def engine_settings(spec: Spec, engine: str | None = None):
    """The spec's ``[engine]`` table with ``--engine`` applied; SpecError if Slurm settings are missing."""
    if engine is None or engine == spec.engine.type:
        return spec.engine
    if engine == "slurm":
        raise SpecError("--engine slurm: the spec has no Slurm settings; add an [engine] table with "
                        "type = 'slurm', walltime, partition, ... (example: workflows/slurm_example.toml)")
    if engine not in ("local", "serial"):
        raise SpecError(f"--engine {engine!r}: choose local, slurm or serial")
    return EngineSpec(type=engine, retries=spec.engine.retries)


def _kept_old_default(spec: Spec, store: Store, setting, relax: RelaxSettings, log) -> RelaxSettings:
    """A spec that does not name its optimizer, on a store already holding jobs of the default
    before issue 16 (BFGS) with the same calculator and [relax] numbers: that screen goes on with
    BFGS, so resuming it computes nothing again (identities record the optimizer)."""
    if "optimizer" in spec.relax.model_fields_set or relax.optimizer != DEFAULT_OPTIMIZER:
        return relax
    old = RelaxSettings(OLD_DEFAULT_OPTIMIZER, relax.fmax, relax.steps)
    try:
        made_before = store.count(settings_hash=settings_hash(setting, old)) > 0
    except Exception:  # an empty or new store: nothing to keep
        return relax
    if made_before:
        log(f"note: this store was made with the earlier default optimizer {OLD_DEFAULT_OPTIMIZER}; the screen "
            f"keeps it (set [relax] optimizer = \"{DEFAULT_OPTIMIZER}\" to use the new default, as new jobs)")
        return old
    return relax


def _remembered_plans(cjobs, adsorbates, spec, setting, relax, out, engine) -> dict[str, list[Job]]:
    """clean job id -> the remembered adsorbate jobs of each clean model whose own job and every
    remembered job the engine would not compute again (``jobs.settled``)."""
    if spec.verify is not None or spec.finetune is not None:
        return {}
    statuses = None
    found = {}
    for cj in cjobs:
        jobs = load_plan(out, plan_key(cj, adsorbates, spec, setting, relax))
        if jobs is None:
            continue
        statuses = engine.store.statuses() if statuses is None else statuses
        if statuses.get(cj.id) != STATUS_FAILED and settled(statuses.get(cj.id), engine.retry_failed) \
                and all(settled(statuses.get(j.id), engine.retry_failed) for j in jobs):
            found[cj.id] = jobs
    return found


def _run_screen(spec: Spec, opts: ScreenOptions, engines: list[Engine], locks: list[StoreLock]) -> ScreenResult:
    t0 = time.perf_counter()
    out = opts.out
    check_out(out)
    setting = spec.calculator.setting()
    relax = RelaxSettings(spec.relax.optimizer, spec.relax.fmax, spec.relax.steps)
    eng = engine_settings(spec, opts.engine)
    location = opts.db or spec.db or out / DB_NAME
    if not is_url(location):
        location = Path(location)
    store = Store(location)  # StoreError if damaged or unreachable
    # one writer per store, and the output directory's trajectories belong to the run that holds it
    locks.append(StoreLock(location, is_url=is_url(location), wait=opts.wait).acquire())
    if is_url(location) or Path(location).absolute().parent != out.absolute():
        locks.append(StoreLock(out / ".screen", wait=opts.wait).acquire())
    relax = _kept_old_default(spec, store, setting, relax, opts.log)
    if locks[0].taken_over:
        opts.log(f"note: took over the lock of a screen that is no longer running ({locks[0].taken_over})")
    engine = Engine(
        store, setting, relax,
        workers=opts.workers or spec.execution.workers or os.cpu_count() or 1,
        retry_failed=spec.execution.retry_failed if opts.retry_failed is None else opts.retry_failed,
        progress=opts.progress and not opts.quiet,
        engine=eng,
        workdir=out,
        name=spec.name,
    )
    engines.append(engine)
    opts.log(f"engine: {engine.kind}" + (f" ({engine.workers} workers)" if engine.kind == "local" else "")
         + f"; database: {store}")
    opts.log(f"screen {spec.name!r}: calculator {setting.label()}")
    if (command := dict(getattr(setting, "params", {}) or {}).get("command")):
        opts.log(f"calculator command from the spec (runs as given; a spec is code): {command}")
    if setting.info.fidelity == "test-only":
        opts.log(f"NOTE: {setting.info.note}")
    models = expand_catalysts(spec)
    adsorbates = spec.adsorbate_names()
    skipped: list[str] = []

    bjobs = bulk_jobs(models, setting)
    bulk_ids = {(j.meta["metal"], j.recipe["structure"]): j.id for j in bjobs}
    engine.run(bjobs, "bulk lattice")
    cjobs, ideal = clean_jobs(models, store, bulk_ids, setting, relax, skipped)
    # a resumed screen: the catalysts whose remembered adsorbate jobs are all stored are not planned
    # again (plancache.py); a [verify] or [finetune] level needs every job's structure, so plans all
    remembered = _remembered_plans(cjobs, adsorbates, spec, setting, relax, out, engine)
    # sites found while the gas references and the clean models relax on the workers (not in between,
    # with the workers idle)
    pool = engine.executor if engine.kind == "local" else None
    ahead = (find_sites_ahead([a for jid, a in ideal.items() if jid not in remembered], adsorbates, spec,
                              getattr(pool, "call", None))
             if engine.kind != "serial" else None)
    mu, gjobs = run_gas_references(engine, setting, relax, box=spec.gas_box)
    engine.run(cjobs, "clean models")
    djobs = dband_jobs(cjobs, store, setting)
    engine.run(djobs, "d-band centres", postprocess=dband_post)

    if ahead is not None:
        ahead.join()
    ajobs: list[Job] = []
    clean_energy: dict[str, float] = {}
    clean_refs: dict[str, Any] = {}  # relaxed clean model + its site list: the anomaly checks' reference
    for cj in cjobs:
        if cj.id in remembered:  # every adsorbate job of this clean model is stored: their ids suffice
            ajobs += remembered[cj.id]
            continue
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
        planned = plan_adsorbate_jobs(cj, ideal[cj.id], relaxed, adsorbates, spec, setting, relax)
        # adsorption energy and geometry checks worked out in the worker, next to the relaxation
        adsorption_check(planned, cj.id, clean_energy[cj.id], mu, clean_refs[cj.id])
        ajobs += planned
        try:
            save_plan(out, plan_key(cj, adsorbates, spec, setting, relax), planned)
        except OSError:  # a read-only output directory: the next run plans again
            pass
    opts.log(f"{len(models)} catalysts x {len(adsorbates)} adsorbates -> {len(ajobs)} adsorbate jobs")
    engine.run(ajobs, "adsorbates")

    job_ids = {"bulk": [j.id for j in bjobs], "gas": [j.id for j in gjobs], "clean": [j.id for j in cjobs],
               "adsorbate": [j.id for j in ajobs]}
    tables = write_tables(store, out, spec, setting, relax, job_ids, include_flagged=opts.include_flagged)
    if djobs:
        job_ids["dband"] = [j.id for j in djobs]
        if (dband_csv := write_dband_table(store, out, job_ids["dband"])) is not None:
            tables["dband_centres"] = dband_csv
    if spec.analysis is not None:  # free energies, U_L, scaling relations, volcanoes (analysis/)
        try:
            tables.update(analyze_screen(spec, store, engine, out, log=opts.log))
        except ValueError as err:  # e.g. a gas reference failed: reported, the screen's results stand
            skipped.append(f"analysis: {err}")
    stats = engine.stats.as_dict()
    vres = ftres = None
    vcjobs, vajobs = cjobs, ajobs
    if spec.finetune is not None:  # the expensive level runs on the training catalysts only
        train, rest = finetune_split(spec, [m.name for m in models])
        vcjobs = [j for j in cjobs if j.meta["catalyst"] in train]
        vajobs = [j for j in ajobs if j.meta["catalyst"] in train]
        opts.log(f"finetune: [verify] on the training catalysts {', '.join(train)}; "
                 + (f"then re-ranking {', '.join(rest)}" if opts.finetune
                    else f"run `no3rr finetune` to fine-tune and re-rank {', '.join(rest)}"))
    if spec.verify is not None:  # pre-screen then verify: the expensive level (verify.py)
        vres = run_verify(spec, store, out, vcjobs, vajobs, ideal, engine.derive, log=opts.log)
        skipped += vres.skipped
        tables.update(vres.tables)
        for k in ("computed", "reused", "failed", "failed_reused"):
            stats[k] += vres.stats[k]
        stats["verify"] = vres.stats
    if opts.finetune:
        ftres = run_finetune(spec, store, out, cjobs, ajobs, ideal, engine.derive, train, rest, opts.log)
        skipped += ftres["skipped"]
        for k in ("computed", "reused", "failed", "failed_reused"):
            stats[k] += ftres["stats"][k]
        tables["finetune_summary"] = out / "finetune" / "finetune_summary.json"
    try:  # one self-contained page of everything above (report/html.py)
        from descriptors.report.html import write_report

        tables["report_html"] = write_report(out)
    except (ValueError, OSError) as err:
        skipped.append(f"report.html: {err}")
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
    return ScreenResult(out, store.path or store.location, stats, skipped, tables, job_ids, vres.summary if vres else None,
                        ftres)
