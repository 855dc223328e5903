"""The local executor: a process pool on this machine that the driver controls end to end.

``concurrent.futures.ProcessPoolExecutor`` on the 'forkserver' context (the package is imported
once in the fork server; a worker starts in milliseconds -- Parsl's interchange took 8-10 s).
Workers ignore SIGINT (Ctrl-C in a terminal reaches the whole process group; only the driver
decides what an interrupt means) and exit on their own when the driver is gone: a watchdog
thread checks every ``WATCHDOG_S`` seconds that the driver process is alive, and on Linux the
kernel sends SIGKILL when the fork server (their parent, which exits with the driver) dies.

A worker that dies (out of memory, a crashing calculator) breaks the pool: the pool is replaced
and the jobs that were in flight are submitted again, up to ``retries`` times each, before they
are recorded as ``worker-lost``.  If ``MAX_RESTARTS`` pools in a row break before any job
finishes, no worker can be had here and the screen stops with ``EngineError``.

The pool starts while the screen is planned (:meth:`LocalPool.warm`, called when the engine is
made): the fork server and the resource tracker are launched at once, and a background thread
starts the workers and has each import the calculator, so the first stage finds them ready.  A
pool that never got a job (a resumed screen with nothing to compute) is stopped at once on close,
not waited for.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

__all__ = ["LocalPool", "WATCHDOG_S", "MAX_RESTARTS", "BrokenProcessPool"]

WATCHDOG_S = 1.0
MAX_RESTARTS = 3


def _exit_with(driver_pid: int, parent_pid: int) -> None:
    while True:
        time.sleep(WATCHDOG_S)
        try:
            os.kill(driver_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:
            pass
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_init(driver_pid: int, threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    threading.Thread(target=_exit_with, args=(driver_pid, os.getppid()), daemon=True,
                     name="no3rr-watchdog").start()


def _warm_up(setting) -> int:
    """A worker's first task: make the calculator once (its imports), so the first job does not."""
    try:
        from descriptors.calculators.base import make_calculator

        make_calculator(setting)
    except Exception:  # the jobs themselves report what is wrong with the calculator
        pass
    return os.getpid()


def _context():
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # what every job needs, imported once in the fork server (the adsorbate checks: jobs.Check)
        ctx.set_forkserver_preload(["descriptors.tasks", "descriptors.engine.executors",
                                    "descriptors.engine.jobs", "descriptors.geometry.adsorption_row"])
        return ctx
    return mp.get_context("spawn")


class LocalPool:
    """Worker processes on this machine; ``submit`` returns a Future of a ``JobOutcome``."""

    kind = "local"

    def __init__(self, workers: int, threads: int = 1, retries: int = 2):
        self.workers = workers
        self.threads = threads
        self.retries = max(0, int(retries))
        self.pool: ProcessPoolExecutor | None = None
        self.restarts = 0  # pools replaced after a worker died, in a row without a finished job
        self._used = False  # a job was submitted to this pool (else close does not wait for it)
        self._warming: threading.Thread | None = None

    def start(self) -> None:
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_worker_init,
                                            initargs=(os.getpid(), self.threads))
            self._fresh = True

    def warm(self, setting) -> None:
        """Start the pool now, while the caller plans: the fork server and the resource tracker are
        launched here (with SIGINT ignored, as in :meth:`submit`), the workers by a background
        thread that gives each a warm-up task (its calculator's imports)."""
        if self.pool is not None or threading.current_thread() is not threading.main_thread():
            return
        self.start()
        self._fresh = False
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            from multiprocessing import forkserver, resource_tracker

            forkserver.ensure_running()
            resource_tracker.ensure_running()
        except Exception:
            pass
        finally:
            signal.signal(signal.SIGINT, old)
        pool = self.pool

        def start_workers() -> None:
            try:
                for _ in range(self.workers):
                    pool.submit(_warm_up, setting)
            except Exception:  # the pool was closed or broke meanwhile: the engine sees it on submit
                pass

        self._warming = threading.Thread(target=start_workers, name="no3rr-pool-warm", daemon=True)
        self._warming.start()

    def submit(self, job_id, kind, atoms, setting, relax_settings, traj_dir, check=None) -> Future:
        from descriptors.engine.executors import worker_entry

        return self.call(worker_entry, job_id, kind, atoms, setting, relax_settings,
                         None if traj_dir is None else str(traj_dir), self.threads, check)

    def call(self, fn, *args) -> Future:
        """``fn(*args)`` in a worker (a module-level function): one job (:meth:`submit`) or a batch
        (engine/batch.py)."""
        self.start()
        self._used = True
        if not getattr(self, "_fresh", False) or threading.current_thread() is not threading.main_thread():
            return self.pool.submit(fn, *args)
        # the first submit starts the fork server, the resource tracker and the workers: they are born
        # with SIGINT ignored (kept across exec), so a Ctrl-C to the process group during their start-up
        # is the driver's alone, not a traceback from a helper process
        self._fresh = False
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return self.pool.submit(fn, *args)
        finally:
            signal.signal(signal.SIGINT, old)

    def slots(self) -> int:
        return self.workers

    def replace(self) -> None:
        """A worker died and took the pool with it: start a new one (the caller resubmits)."""
        self.kill()
        self.restarts += 1

    def pids(self) -> list[int]:
        procs = getattr(self.pool, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.pid]

    def kill(self) -> None:
        """Stop every worker now (jobs in flight are abandoned: they stay pending)."""
        if self.pool is None:
            return
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        for p in procs:
            try:
                p.terminate()
            except Exception:
                pass
        try:
            self.pool.shutdown(wait=False, cancel_futures=True)
        except Exception:
            pass
        deadline = time.time() + 5
        for p in procs:
            try:
                p.join(max(0.1, deadline - time.time()))
                if p.is_alive():
                    p.kill()
            except Exception:
                pass
        self.pool = None

    def close(self) -> None:
        if self._warming is not None:
            self._warming.join()
            self._warming = None
        if self.pool is not None:
            if not self._used:  # only warm-up tasks: nothing to wait for
                self.kill()
                return
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
