"""The engine's batch mode: relaxations with an ML potential, many per model call.

With a calculator that has a fast batch path (``tasks.batch.batchable``: CHGNet) and BFGS or
BFGS-soft, the pending adsorbate and clean-slab jobs of a stage are grouped by kind and catalyst
into batches of at most ``BATCH_SIZE`` (fewer when that leaves a worker idle), and each batch runs
as one worker task (``tasks.batch.run_jobs_batched``): in this process (serial engine) or on the
local process pool.  Everything else -- other kinds, other calculators, the Slurm engine, and the
jobs of a batch whose worker died -- goes on to the engine's one-job-per-task path.

Identical to single-job mode: the job ids (the jobs are the same Job objects), the rows (every
outcome goes through ``Engine._record`` as soon as its batch returns), the trajectories
(``trajectories/<job_id>.traj``, one frame per step, restart from the last frame with the Hessian
rebuilt), and resume: a job is recorded only when its batch has returned, so a SIGKILL or an
interrupt loses at most the jobs of the batches in flight, which restart from their trajectories.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import FIRST_COMPLETED, wait
from typing import Any

from descriptors.engine.interrupt import Interrupted, on_second, requested

__all__ = ["BATCH_SIZE", "run_batches", "plan_batches"]

#: jobs per batch (a CHGNet call on 8 small slabs costs 0.8x eight single calls per structure on one core)
BATCH_SIZE = int(os.environ.get("NO3RR_BATCH_SIZE", "8"))


def plan_batches(jobs: list, setting, relax, workers: int, size: int | None = None) -> tuple[list[list], list]:
    """(batches, rest): the batchable jobs grouped by kind and catalyst, in the order they came, in
    batches of at most ``size`` (and at least ``workers`` batches where there are that many jobs);
    the other jobs in their order."""
    from descriptors.tasks.batch import batchable

    size = BATCH_SIZE if size is None else size
    groups: dict[tuple, list] = {}
    rest = []
    for job in jobs:
        if size > 1 and batchable(setting, relax, job.kind):
            groups.setdefault((job.kind, str(job.meta.get("catalyst", ""))), []).append(job)
        else:
            rest.append(job)
    total = sum(len(g) for g in groups.values())
    if total == 0:
        return [], rest
    per = max(1, min(size, math.ceil(total / max(1, workers))))
    batches = [g[i:i + per] for g in groups.values() for i in range(0, len(g), per)]
    return batches, rest


def _items(batch) -> list[tuple[str, str, Any]]:
    return [(job.id, job.kind, job.atoms) for job in batch]


def _entry(items, setting, relax, traj_dir, threads, checks=None):
    """A batch in a worker: the relaxations, then each job's check on its outcome (jobs.Check,
    packed), as ``executors.worker_entry`` does for one job."""
    from threadpoolctl import threadpool_limits

    from descriptors.engine.jobs import run_check
    from descriptors.tasks.batch import run_jobs_batched

    with threadpool_limits(threads):
        outcomes = run_jobs_batched(items, setting, relax, traj_dir)
        for (_, _, atoms), check, outcome in zip(items, checks or [None] * len(items), outcomes):
            run_check(check, atoms, outcome)
    return outcomes


def run_batches(engine, todo: list, postprocess, bar, counts, tick) -> list:
    """Run the batchable jobs of ``todo`` in batches; return the jobs left for the one-job path
    (not batchable, or in a batch whose worker died: the single path resubmits or records them)."""
    if engine.kind not in ("serial", "local"):
        return todo
    batches, rest = plan_batches(todo, engine.setting, engine.relax, engine.workers)
    if not batches:
        return todo
    traj = None if engine.traj_dir is None else str(engine.traj_dir)
    if engine.executor is None:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)
        try:
            for batch in batches:
                counts["running"] = len(batch)
                bar.set_postfix(counts, refresh=True)
                outcomes = _entry(_items(batch), engine.setting, engine.relax, traj, 1)
                if requested():  # the interrupt landed inside the batch: its results are not recorded
                    raise Interrupted(requested())
                for job, outcome in zip(batch, outcomes):
                    engine._record(job, outcome, postprocess)
                    tick(outcome.ok, 0)
        finally:
            limits.restore_original_limits()
        return rest
    return _run_pool(engine, batches, traj, postprocess, tick) + rest


def _run_pool(engine, batches, traj, postprocess, tick) -> list:
    pool = engine.executor
    submitted = {}
    lost: list = []
    kill = getattr(pool, "kill", None) or pool.close
    remove = on_second(kill)
    try:
        for batch in batches:
            checks = [None if job.check is None else job.check.packed(engine._blobs) for job in batch]
            fut = pool.call(_entry, _items(batch), engine.setting, engine.relax, traj, pool.threads, checks)
            submitted[fut] = batch
        left = set(submitted)
        while left:
            finished, left = wait(left, timeout=2.0, return_when=FIRST_COMPLETED)
            running = sum(len(submitted[f]) for f in left)
            for fut in finished:
                batch = submitted.pop(fut)
                try:
                    outcomes = fut.result()
                except Exception:  # the worker died (or the pool broke): the one-job path takes these jobs
                    lost.extend(batch)
                    continue
                for job, outcome in zip(batch, outcomes):
                    engine._record(job, outcome, postprocess)
                    tick(outcome.ok, running)
            if not finished:
                engine.store.fold()
    except KeyboardInterrupt:  # keep what finished, abandon the rest (it restarts from its trajectories)
        for fut, batch in list(submitted.items()):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                for job, outcome in zip(batch, fut.result()):
                    if outcome.ok:
                        engine._record(job, outcome, postprocess)
        kill()
        raise
    finally:
        remove()
    if lost and pool.pool is not None and getattr(pool.pool, "_broken", False):
        pool.replace()  # a worker died and broke the pool: the one-job path gets a new one
    return lost
