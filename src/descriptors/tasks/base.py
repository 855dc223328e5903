"""What a worker runs: one task function per job kind, in a registry, and the worker entry point.

A task is a plain function ``(atoms, ctx) -> CalcResult`` registered for one or more job kinds
with :func:`task`; :func:`run_job` looks the kind up, runs it and turns any exception into a
failed :class:`JobOutcome` with its reason.  Tasks never touch the store: the driver records what
they return.  Adding a job kind is one new task function.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from ase import Atoms

from descriptors.calculators import CalculatorSetting

__all__ = [
    "OPTIMIZERS", "DEFAULT_OPTIMIZER", "OLD_DEFAULT_OPTIMIZER", "RelaxSettings", "CalcResult", "TaskContext", "JobOutcome", "TASKS", "task", "run_job",
    "classify", "traceback_tail", "trajectory_path", "REASON_SCF", "REASON_NOT_CONVERGED", "REASON_CALCULATOR",
    "REASON_NON_FINITE", "REASON_WORKER_LOST", "REASON_EXECUTOR", "REASON_EOS_RANGE",
]

OPTIMIZERS = ("auto", "BFGS-soft", "BFGS-model", "BFGS", "LBFGS", "FIRE", "BFGSLineSearch", "GPMin")  # BFGS-soft, BFGS-model: tasks/optimizers.py
# "auto" (issue 16): ASE BFGS for gas molecules, bulk cells and clean models -- few, cheap, and the
# geometry every placement starts from -- and BFGS-soft for adsorbate placements (0.70x the force
# calls of ASE BFGS, every benchmark placement at BFGS's minimum; README "Benchmarks").  Relaxing
# the clean slabs with BFGS-soft too moved 2 of 38 bidentate NO3 to other minima, hence the split.
DEFAULT_OPTIMIZER = "auto"
#: the default before issue 16: stores made with it keep it when resumed (workflows/screen.py)
OLD_DEFAULT_OPTIMIZER = "BFGS"
AUTO = {"adsorbate": "BFGS-soft"}  # job kind -> optimizer under "auto"; any other kind: BFGS
# issue 16, fifth round: a placement of a one-atom adsorbate (*H, *O, *N, *C; *OH is two) starts
# from Lindh's model Hessian (BFGS-model, tasks/hessian.py): Cu-Cu springs and bonds at their own
# stiffness instead of 70 eV/A^2 everywhere.  Measured: 0.34x the force calls of ASE BFGS on CHGNet
# (H, O, N on Cu(111), 12 of 12 at ASE BFGS's minimum) and 0.38x on EMT (H, O on Cu(100) and
# (111), 16 of 16); molecules keep BFGS-soft: with the model Hessian their soft rotations and tilts
# took NO on top (CHGNet, 0.77 eV lower), 6 of 10 NO3 (CHGNet) and 8 of 16 (EMT) to other minima
# (README "Issue 16, fifth round").
AUTO_SMALL_ADSORBATE = ("BFGS-model", 1)  # (optimizer, at most this many adsorbate atoms)


@dataclass(frozen=True)
class RelaxSettings:
    optimizer: str = DEFAULT_OPTIMIZER
    fmax: float = 0.05  # eV/A
    steps: int = 300

    def as_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "fmax": self.fmax, "steps": self.steps}

    def for_kind(self, kind: str, atoms: Atoms | None = None) -> "RelaxSettings":
        """The settings a job of ``kind`` on ``atoms`` runs with: "auto" resolved to an optimizer
        for the job kind and, for a placement, the size of its adsorbate (``atoms.info
        ["adsorbate_indices"]``, set by the placement); the recipe and the settings hash keep
        "auto", the policy the user chose."""
        if self.optimizer != "auto":
            return self
        name = AUTO.get(kind, "BFGS")
        ads = None if atoms is None or kind != "adsorbate" else atoms.info.get("adsorbate_indices")
        small, most = AUTO_SMALL_ADSORBATE
        if ads is not None and 0 < len(ads) <= most:
            name = small
        return RelaxSettings(name, self.fmax, self.steps)


@dataclass
class CalcResult:
    """What a task returns: the final structure (with a single-point calculator), its energy,
    the largest force, the steps taken, whether it converged, the wall time, and task-specific
    numbers for the row's data (``extra``)."""

    atoms: Atoms
    energy: float
    fmax: float
    steps: int
    converged: bool
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None  # why it is not converged, if not the optimizer's step limit


@dataclass
class TaskContext:
    """Everything a task may use besides its structure."""

    setting: CalculatorSetting
    relax: RelaxSettings = field(default_factory=RelaxSettings)
    trajectory: Path | None = None  # restart file of a relaxation
    progress: dict[str, Any] = field(default_factory=dict)  # last energy, fmax and steps, updated live


TASKS: dict[str, Callable[[Atoms, TaskContext], CalcResult]] = {}


def task(*kinds: str):
    """Register a task function for the job kinds ``kinds``."""
    def register(fn):
        for kind in kinds:
            TASKS[kind] = fn
        return fn

    return register


# Failure categories stored as ``reason`` (the message goes to ``error``, the traceback tail to data).
REASON_SCF = "scf-not-converged"  # the calculator's SCF loop gave up (tblite raises)
REASON_NOT_CONVERGED = "optimizer-not-converged"  # max steps reached; energy kept, status 'unconverged'
REASON_EOS_RANGE = "eos-minimum-outside-range"  # the EOS minimum lies outside the sampled volumes
REASON_CALCULATOR = "calculator-error"  # any other exception from the calculator or optimizer
REASON_NON_FINITE = "non-finite-energy"
REASON_WORKER_LOST = "worker-lost"  # the worker process died: wall-time kill, out of memory, segfault
REASON_EXECUTOR = "executor-error"  # the execution system could not run the job
TRACEBACK_TAIL = 4000  # characters of traceback kept


@dataclass
class JobOutcome:
    job_id: str
    ok: bool
    result: CalcResult | None = None
    error: str | None = None
    traceback: str | None = None
    reason: str | None = None  # a REASON_* category for failures and unconverged relaxations
    last: dict[str, Any] = field(default_factory=dict)  # last energy, fmax, steps, seconds of a failed job
    # what the job's check found, worked out where the job ran (engine/jobs.py ``run_check``): the
    # row's (key-value pairs, data), or the check's error message
    extras: Any = None


def classify(err: BaseException) -> str:
    """Short failure category of an exception raised while computing a job."""
    msg = f"{type(err).__name__} {err}".lower()
    if isinstance(err, FloatingPointError):
        return REASON_NON_FINITE
    if ("scf" in msg or "self-consistent" in msg or "self consistent" in msg) and "converg" in msg:
        return REASON_SCF
    return REASON_CALCULATOR


def traceback_tail(text: str | None, limit: int = TRACEBACK_TAIL) -> str:
    text = text or ""
    return text if len(text) <= limit else "...\n" + text[-limit:]


def trajectory_path(traj_dir: str | Path | None, job_id_: str) -> Path | None:
    """Per-job trajectory file under the output directory (restart point of a killed relaxation)."""
    return None if traj_dir is None else Path(traj_dir) / f"{job_id_}.traj"


def _where() -> dict[str, Any]:
    """Where a job ran: host, and the Slurm batch job if any (for tracing a failure to its allocation)."""
    out: dict[str, Any] = {"host": socket.gethostname()}
    if os.environ.get("SLURM_JOB_ID"):
        out["slurm_job_id"] = os.environ["SLURM_JOB_ID"]
    return out


def run_job(
    job_id_: str,
    kind: str,
    atoms: Atoms,
    setting: CalculatorSetting,
    relax_settings: RelaxSettings,
    traj_dir: str | Path | None = None,
) -> JobOutcome:
    """Worker entry point: compute one job, never raise (a failure is an outcome).

    ``traj_dir``: where relaxations write ``<job_id>.traj``; a relaxation whose trajectory is
    already there (killed earlier) restarts from its last geometry.
    """
    t0 = time.perf_counter()
    ctx = TaskContext(setting, relax_settings.for_kind(kind, atoms), trajectory_path(traj_dir, job_id_))
    try:
        fn = TASKS.get(kind)
        if fn is None:
            raise ValueError(f"job kind {kind!r} has no task; known: {sorted(TASKS)}")
        atoms = atoms.copy()
        atoms.info["job_id"] = job_id_
        result = fn(atoms, ctx)
        if not np.isfinite(result.energy):
            raise FloatingPointError(f"non-finite energy {result.energy}")
        result.extra.update(_where())
        reason = None
        if not result.converged:
            reason = result.reason or REASON_NOT_CONVERGED
        return JobOutcome(job_id_, True, result, reason=reason)
    except Exception as err:  # recorded with its reason; the screen goes on
        last = {k: ctx.progress.get(k) for k in ("energy", "fmax", "steps") if ctx.progress.get(k) is not None}
        last["seconds"] = round(time.perf_counter() - t0, 3)
        return JobOutcome(job_id_, False, None, f"{type(err).__name__}: {err}"[:500],
                          traceback_tail(traceback.format_exc()), reason=classify(err), last=last)
