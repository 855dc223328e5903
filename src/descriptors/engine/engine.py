"""Engine: run the jobs that are not yet in the store, and write every outcome as it arrives.

Jobs run on an executor: in this process (``serial``), on a local process pool (``local``,
pool.py, the default with more than one worker) or in Slurm batch jobs through Parsl (``slurm``,
executors.py).  A worker that dies is replaced and its jobs resubmitted (``[engine] retries``, 2)
before they are recorded as ``worker-lost``.  On SIGINT/SIGTERM (interrupt.py) the engine stops
submitting, keeps what finished, kills its workers and records nothing else: jobs cut short
stay pending.  Workers only compute; this process is the only writer of the database, so an
interrupted screen loses at most the jobs in flight, and SQLite on a shared filesystem never sees
concurrent writers.  Jobs already stored (ok, unconverged, or failed unless ``retry_failed``) are
not computed again.  A failed job -- calculator exception, SCF not converged, worker lost to a
wall-time kill -- is recorded with its reason, last energy/fmax, steps and wall time; the rest
go on.  Relaxations write ``trajectories/<job_id>.traj`` under the work directory, so a job
killed mid-relaxation restarts from its last geometry.  What a stage stores with a result (an
adsorbate's energy and geometry flags) is the job's ``Check``, worked out in the worker (jobs.py).
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from descriptors.calculators import CalculatorSetting
from descriptors.engine.executors import EngineError, ParslExecutor, engine_type
from descriptors.engine.interrupt import Interrupted, on_second, requested
from descriptors.engine.jobs import Job, RowExtras, run_check, settled
from descriptors.engine.progress import progress_bar
from descriptors.identity import settings_digest
from descriptors.store.db import STATUS_FAILED, STATUS_OK, STATUS_UNCONVERGED, Store
from descriptors.store.journal import journal_path
from descriptors.store.plan import PLAN_NAME, Plan
from descriptors.tasks import (
    REASON_EXECUTOR,
    REASON_WORKER_LOST,
    JobOutcome,
    RelaxSettings,
    read_trajectory,
    run_job,
    traceback_tail,
    trajectory_path,
)

__all__ = ["Engine", "EngineStats", "StageFailed", "settings_hash", "TRAJ_DIR", "PARSL_DIR"]

TRAJ_DIR = "trajectories"
PARSL_DIR = "parsl-runinfo"
_LOST = ("WorkerLost", "ManagerLost", "BadStateException")


class StageFailed(RuntimeError):
    """Jobs the rest of the screen depends on failed (e.g. the gas references): exit code 1."""


def settings_hash(setting: CalculatorSetting, relax: RelaxSettings) -> str:
    return settings_digest({"calculator": setting.as_dict(), "relax": relax.as_dict()})


@dataclass
class EngineStats:
    computed: int = 0
    reused: int = 0
    failed: int = 0
    failed_reused: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    engine: str = "serial"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Engine:
    """Runs jobs on an executor and records them; use as a context manager (or call ``close``)."""

    def __init__(
        self,
        store: Store,
        setting: CalculatorSetting,
        relax_settings: RelaxSettings,
        workers: int = 1,
        retry_failed: bool = False,
        progress: bool = True,
        engine: Any = None,
        workdir: str | Path | None = None,
        name: str = "",
    ):
        self.store = store
        self.setting = setting
        self.relax = relax_settings
        self.workers = max(1, int(workers))
        self.retry_failed = retry_failed
        self.progress = progress
        self.kind = engine_type(engine, self.workers)
        self.stats = EngineStats(engine=self.kind)
        self.settings_hash = settings_hash(setting, relax_settings)
        self.workdir = Path(workdir) if workdir is not None else None
        self.traj_dir = self.workdir / TRAJ_DIR if self.workdir is not None else None
        self.plan = Plan(self.workdir / PLAN_NAME, store.location, name, setting.label()) if self.workdir else None
        # results go through the store's journal (store/journal.py): durable one by one, committed in batches;
        # what a killed run left there is folded into the database now, before anything asks what is done
        self.replayed = 0
        journal = journal_path(store.location, self.workdir, store.is_url) if self.workdir else None
        if journal is not None and not store.readonly:
            self.replayed = store.use_journal(journal)
        self.executor = None
        self._blobs: dict[str, bytes] = {}  # jobs.Check.shared, pickled once per key
        threads = getattr(engine, "cores_per_job", None) or 1
        # resubmissions of a job whose worker died, before it is recorded as worker-lost
        retries = getattr(engine, "retries", None)
        self.retries = 2 if retries is None else int(retries)
        if self.kind == "local":
            from descriptors.engine.pool import LocalPool

            self.executor = LocalPool(self.workers, threads, self.retries)
            if not store.readonly:
                self.executor.warm(setting)  # workers start while the screen is planned
        elif self.kind == "slurm":
            run_dir = (self.workdir or Path.cwd()) / PARSL_DIR
            self.executor = ParslExecutor(engine, run_dir, self.workers, threads)

    def derive(self, setting: CalculatorSetting, relax_settings: RelaxSettings) -> "Engine":
        """An engine for other calculator/relaxation settings on the same store, executor and plan
        (e.g. the verification level of a screen).  Closing the parent closes the executor."""
        child = Engine.__new__(Engine)
        child.__dict__.update(self.__dict__)
        child.setting = setting
        child.relax = relax_settings
        child.stats = EngineStats(engine=self.kind)
        child.settings_hash = settings_hash(setting, relax_settings)
        child._owner = False
        return child

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def mark_complete(self) -> None:
        """Every stage of the screen has been planned and run (read by ``no3rr status``)."""
        if self.plan is not None:
            self.plan.mark_complete()

    def close(self) -> None:
        """Fold the results journal; stop the Parsl workers (local) or cancel the batch jobs (Slurm)."""
        try:
            if getattr(self, "_owner", True):
                self.store.close_journal()
        finally:
            if self.executor is not None and getattr(self, "_owner", True):
                self.executor.close()

    # -- running -----------------------------------------------------------------
    def pending(self, jobs: list[Job]) -> list[Job]:
        stored = self.store.statuses()
        out = []
        for job in jobs:
            status = stored.get(job.id)
            if not settled(status, self.retry_failed):
                out.append(job)
            elif status == STATUS_FAILED:
                self.stats.failed_reused += 1
            else:
                self.stats.reused += 1
        return out

    def run(
        self,
        jobs: list[Job],
        desc: str,
        postprocess: Callable[[Job, JobOutcome], RowExtras] | None = None,
    ) -> None:
        """Compute the jobs not in the store; write every outcome as it arrives."""
        if self.plan is not None:
            self.plan.add(jobs, desc)
        todo = self.pending(jobs)
        if not todo:
            return
        bar = progress_bar(len(todo), desc, disable=not self.progress, file=sys.stderr)  # tqdm, or lines in a log
        counts = {"done": 0, "failed": 0, "running": 0}

        def tick(outcome_ok: bool, running: int) -> None:
            counts["done" if outcome_ok else "failed"] += 1
            counts["running"] = running
            bar.set_postfix(counts, refresh=False)
            bar.update()

        try:
            # ML relaxations many per model call (engine/batch.py); the rest one job per task
            from descriptors.engine.batch import run_batches

            todo = run_batches(self, todo, postprocess, bar, counts, tick)
            if todo and self.executor is None:
                # one BLAS/OpenMP thread, as in a Parsl worker (executors.worker_entry): the optimizer's
                # small matrix algebra on competing threads costs more CPU than it saves
                from threadpoolctl import threadpool_limits

                limits = threadpool_limits(1)
                try:
                    self._run_serial(todo, postprocess, bar, counts, tick)
                finally:
                    limits.restore_original_limits()
            elif todo:
                self._run_pool(todo, postprocess, bar, counts, tick)
        finally:
            bar.close()
            self.store.fold()  # the stage's results in the database (a failed fold leaves them in the journal)

    def _run_serial(self, todo, postprocess, bar, counts, tick) -> None:
        for job in todo:
            counts["running"] = 1
            bar.set_postfix(counts, refresh=True)
            outcome = run_job(job.id, job.kind, job.atoms, self.setting, self.relax, traj_dir=self.traj_dir)
            if requested():  # the interrupt landed inside the job: whatever it returned is not its result
                raise Interrupted(requested())
            self._record(job, outcome, postprocess)
            tick(outcome.ok, 0)

    def _run_pool(self, todo, postprocess, bar, counts, tick) -> None:
        """Submit every job; record outcomes as they arrive; resubmit jobs whose worker died."""
        submitted: dict[Any, tuple[Job, float]] = {}
        attempts: dict[str, int] = {}

        def submit(job: Job) -> None:
            check = job.check.packed(self._blobs) if job.check is not None else None
            fut = self.executor.submit(job.id, job.kind, job.atoms, self.setting, self.relax, self.traj_dir, check)
            submitted[fut] = (job, time.time())

        kill = getattr(self.executor, "kill", None) or self.executor.close
        remove = on_second(kill)
        left: set = set()
        try:
            for job in todo:
                submit(job)
            left = set(submitted)
            while left:
                finished, left = wait(left, timeout=2.0, return_when=FIRST_COMPLETED)
                running = min(len(left), self.executor.slots())
                lost: list[tuple[Job, BaseException, float]] = []
                for fut in finished:
                    job, t_submit = submitted[fut]
                    try:
                        outcome = fut.result()
                    except Exception as err:  # the worker died or the executor could not run the job
                        del submitted[fut]
                        lost.append((job, err, t_submit))
                        continue
                    if getattr(self.executor, "restarts", None):
                        self.executor.restarts = 0  # a worker delivered: the pool is healthy
                    self._record(job, outcome, postprocess)  # an interrupt here rolls the write back ...
                    del submitted[fut]  # ... and the except clause below records it again
                    tick(outcome.ok, running)
                if lost:
                    self._resubmit(lost, attempts, submitted, submit, postprocess, tick, running)
                    left = set(submitted)
                if not finished:
                    self.store.fold()  # no result for a while: what arrived is written
                    counts["running"] = running
                    bar.set_postfix(counts, refresh=True)
        except KeyboardInterrupt:  # Interrupted (SIGINT/SIGTERM): keep what finished, abandon the rest
            for fut in list(submitted):
                if fut.done() and not fut.cancelled() and fut.exception() is None and fut.result().ok:
                    self._record(submitted[fut][0], fut.result(), postprocess)
            kill()
            raise
        finally:
            remove()

    def _resubmit(self, lost, attempts, submitted, submit, postprocess, tick, running) -> None:
        """Jobs whose worker died: submit again (a new pool if it broke) or record them as worker-lost."""
        from descriptors.engine.pool import MAX_RESTARTS, BrokenProcessPool

        broken = any(isinstance(err, BrokenProcessPool) for _, err, _ in lost)
        if broken:  # every job in flight is lost with the pool: replace it and resubmit them all
            for fut in list(submitted):
                if fut.done() and fut.exception() is None:
                    continue  # finished before the pool broke: collected by the caller's next wait
                job, t_submit = submitted.pop(fut)
                lost.append((job, fut.exception() if fut.done() else BrokenProcessPool("pool replaced"), t_submit))
            self.executor.replace()
            if self.executor.restarts > MAX_RESTARTS:
                raise EngineError(f"no worker process could be kept alive on this machine: {MAX_RESTARTS} worker pools "
                                  "in a row died before finishing a job (last error: "
                                  f"{type(lost[0][1]).__name__}: {lost[0][1]}); check memory and the calculator, "
                                  "or run with --engine serial to see the failure")
        for job, err, t_submit in lost:
            retryable = broken or type(err).__name__ in _LOST
            attempts[job.id] = attempts.get(job.id, 0) + 1
            if retryable and attempts[job.id] <= self.retries:
                submit(job)
            else:
                outcome = self._lost(job, err, t_submit)
                self._record(job, outcome, postprocess)
                tick(outcome.ok, running)

    def _lost(self, job: Job, err: BaseException, t_submit: float) -> JobOutcome:
        """Outcome of a job whose worker never returned: last state from its trajectory."""
        import traceback as tb

        name = type(err).__name__
        reason = REASON_WORKER_LOST if name in _LOST or name == "BrokenProcessPool" else REASON_EXECUTOR
        msg = f"{name}: {err}"
        if reason == REASON_WORKER_LOST:
            msg += " (the worker process died: wall-time limit, out of memory or a crash of the calculator)"
        last: dict[str, Any] = {"seconds": round(time.time() - t_submit, 3)}
        path = trajectory_path(self.traj_dir, job.id)
        if path is not None and path.exists():
            frames = read_trajectory(path)
            if frames:
                f = frames[-1]
                try:
                    last["energy"] = float(f.get_potential_energy())
                    forces = f.get_forces()
                    last["fmax"] = float((forces**2).sum(axis=1).max() ** 0.5)
                except Exception:
                    pass
                last["steps"] = len(frames) - 1
        return JobOutcome(job.id, False, None, msg[:500],
                          traceback_tail("".join(tb.format_exception(err))), reason=reason, last=last)

    # -- recording ---------------------------------------------------------------
    def _record(self, job: Job, outcome: JobOutcome, postprocess) -> None:
        meta = dict(job.meta)
        meta.update(
            {
                "job_id": job.id,
                "kind": job.kind,
                "calc": self.setting.name,
                "calc_version": self.setting.version,
                "calc_hash": self.setting.hash,
                "settings_hash": self.settings_hash,
                "parent": job.parent,
                "engine": self.kind,
            }
        )
        data = {
            "recipe": job.recipe,
            "calculator": self.setting.as_dict(),
            "relax": self.relax.as_dict(),
        }
        self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1
        if outcome.reason:
            self.stats.by_reason[outcome.reason] = self.stats.by_reason.get(outcome.reason, 0) + 1
        if outcome.ok:
            res = outcome.result
            self.stats.computed += 1
            self.stats.seconds += res.seconds
            meta.update(
                {
                    "status": STATUS_OK if res.converged else STATUS_UNCONVERGED,
                    "converged": bool(res.converged),
                    "max_force": res.fmax,
                    "steps": res.steps,
                    "seconds": round(res.seconds, 3),
                    "reason": outcome.reason,
                    "restarted_from_step": res.extra.get("restarted_from_step"),
                    "host": res.extra.get("host"),
                    "slurm_job_id": _int_or_text(res.extra.get("slurm_job_id")),
                }
            )
            data.update(res.extra)
            if outcome.extras is None and job.check is not None:  # run here: the serial paths (one job, a batch)
                run_check(job.check, job.atoms, outcome)
            extras = outcome.extras  # the job's check, worked out where it ran (jobs.Check)
            if extras is None and postprocess:
                try:
                    extra = postprocess(job, outcome)
                    extras = (extra.fields, extra.data)
                except Exception as err:
                    extras = f"{type(err).__name__}: {err}"[:300]
            if isinstance(extras, str):  # keep the computed result; say what is missing
                meta["postprocess_error"] = extras
            elif extras is not None:
                data.update(extras[1])
                meta.update(extras[0])
            self.store.write(
                res.atoms,
                meta,
                data,
                energy=res.energy,
                forces=_raw_forces(res.atoms),
                calculator=self.setting.name,
                calculator_parameters=self.setting.as_dict(),
            )
        else:
            self.stats.failed += 1
            last = outcome.last or {}
            meta.update(
                {
                    "status": STATUS_FAILED,
                    "reason": outcome.reason or "unknown",
                    "error": outcome.error or "unknown error",
                    "last_energy": last.get("energy"),
                    "last_fmax": last.get("fmax"),
                    "steps": last.get("steps"),
                    "seconds": last.get("seconds"),
                }
            )
            data["traceback"] = outcome.traceback or ""
            self.store.write(job.atoms, meta, data)


def _raw_forces(atoms):
    """The forces a worker's result carries (tasks/relax.py ``freeze``: a single-point calculator),
    without ``get_forces``' comparison of the Atoms with a copy of themselves (~0.6 ms per result)."""
    results = getattr(atoms.calc, "results", None) or {}
    return results["forces"] if "forces" in results else atoms.get_forces(apply_constraint=False)


def _int_or_text(v):
    """Slurm job ids are numbers ('1234') or array ids ('1234_5'); ase.db wants numbers as numbers."""
    return int(v) if isinstance(v, str) and v.isdigit() else v
