"""Engine: run jobs that are not yet in the store, in this process or a local process pool.

Workers only compute; this process writes every outcome to the store the moment it arrives, so
an interrupted screen loses at most the jobs in flight.  A failed job is recorded with its
reason and the rest go on.  Jobs already stored (ok, unconverged, or failed unless
``retry_failed``) are not computed again.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable

from tqdm import tqdm

from .calculators import CalculatorSetting
from .jobs import Job, JobOutcome, run_job
from .relax import RelaxSettings
from .store import STATUS_FAILED, STATUS_OK, STATUS_UNCONVERGED, Store

__all__ = ["Engine", "EngineStats", "settings_hash"]


def _worker_init() -> None:
    """One BLAS/OpenMP thread per worker process: workers x threads must not exceed the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def settings_hash(setting: CalculatorSetting, relax: RelaxSettings) -> str:
    blob = json.dumps({"calculator": setting.as_dict(), "relax": relax.as_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class EngineStats:
    computed: int = 0
    reused: int = 0
    failed: int = 0
    failed_reused: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Engine:
    def __init__(
        self,
        store: Store,
        setting: CalculatorSetting,
        relax_settings: RelaxSettings,
        workers: int = 1,
        retry_failed: bool = False,
        progress: bool = True,
    ):
        self.store = store
        self.setting = setting
        self.relax = relax_settings
        self.workers = max(1, int(workers))
        self.retry_failed = retry_failed
        self.progress = progress
        self.stats = EngineStats()
        self.settings_hash = settings_hash(setting, relax_settings)

    def pending(self, jobs: list[Job]) -> list[Job]:
        out = []
        for job in jobs:
            status = self.store.status(job.id)
            if status in (STATUS_OK, STATUS_UNCONVERGED):
                self.stats.reused += 1
            elif status == STATUS_FAILED and not self.retry_failed:
                self.stats.failed_reused += 1
            else:
                out.append(job)
        return out

    def run(
        self,
        jobs: list[Job],
        desc: str,
        postprocess: Callable[[Job, JobOutcome], dict[str, Any]] | None = None,
    ) -> None:
        """Compute the jobs not in the store; write every outcome as it arrives."""
        todo = self.pending(jobs)
        if not todo:
            return
        bar = tqdm(total=len(todo), desc=desc, unit="job", disable=not self.progress, file=sys.stderr,
                   dynamic_ncols=True)
        try:
            if self.workers == 1 or len(todo) == 1:
                for job in todo:
                    bar.set_postfix_str(job.label[-40:], refresh=False)
                    outcome = run_job(job.id, job.kind, job.atoms, self.setting, self.relax)
                    self._record(job, outcome, postprocess)
                    bar.update()
            else:
                by_id = {job.id: job for job in todo}
                with ProcessPoolExecutor(max_workers=self.workers, initializer=_worker_init) as pool:
                    futures = {
                        pool.submit(run_job, job.id, job.kind, job.atoms, self.setting, self.relax): job.id
                        for job in todo
                    }
                    for fut in as_completed(futures):
                        jid = futures[fut]
                        try:
                            outcome = fut.result()
                        except Exception as err:  # a worker process died (e.g. out of memory)
                            outcome = JobOutcome(jid, False, None, f"worker crashed: {type(err).__name__}: {err}")
                        self._record(by_id[jid], outcome, postprocess)
                        bar.update()
        finally:
            bar.close()

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
            }
        )
        data = {
            "recipe": job.recipe,
            "calculator": self.setting.as_dict(),
            "relax": self.relax.as_dict(),
        }
        self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1
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
                }
            )
            data.update(res.extra)
            if postprocess:
                extra = postprocess(job, outcome)
                data.update(extra.pop("_data", {}))
                meta.update(extra)
            self.store.write(
                res.atoms,
                meta,
                data,
                energy=res.energy,
                forces=res.atoms.get_forces(apply_constraint=False),
                calculator=self.setting.name,
                calculator_parameters=self.setting.as_dict(),
            )
        else:
            self.stats.failed += 1
            meta.update({"status": STATUS_FAILED, "error": outcome.error or "unknown error"})
            data["traceback"] = outcome.traceback or ""
            self.store.write(job.atoms, meta, data)
