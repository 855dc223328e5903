"""Jobs: one calculation each, with a deterministic identity.

A job's identity is the SHA-256 of its canonical recipe: what structure (the built structure
itself where it is known up front, else the identity of the job it derives from), which
adsorbate, binding mode and site, which calculator (name, version, parameters) and which
relaxation settings.  The same recipe always gives the same id, so a job already in the store
is never computed again.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from .calculators import CalculatorSetting, text_hash
from .relax import CalcResult, RelaxSettings, fit_bulk, relax

__all__ = ["Job", "job_id", "structure_hash", "run_job", "JobOutcome", "classify", "trajectory_path"]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def job_id(recipe: dict[str, Any]) -> str:
    return text_hash(hashlib.sha256(_canonical(recipe).encode()).hexdigest()[:24])


def structure_hash(atoms: Atoms, decimals: int = 4) -> str:
    """Hash of numbers, positions, cell, pbc and fixed atoms (rounded to 1e-4 A)."""
    fixed: list[int] = []
    for c in atoms.constraints:
        if c.__class__.__name__ == "FixAtoms":
            fixed += [int(i) for i in c.get_indices()]
    blob = {
        "numbers": atoms.numbers.tolist(),
        "positions": np.round(atoms.positions, decimals).tolist(),
        "cell": np.round(atoms.cell.array, decimals).tolist(),
        "pbc": atoms.pbc.tolist(),
        "fixed": sorted(fixed),
    }
    return hashlib.sha256(_canonical(blob).encode()).hexdigest()[:24]


@dataclass
class Job:
    """One calculation.  ``atoms`` is the initial structure (built just before running)."""

    kind: str  # 'bulk' | 'gas' | 'clean' | 'adsorbate'
    recipe: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    atoms: Atoms | None = None
    parent: str | None = None

    @property
    def id(self) -> str:
        return job_id(self.recipe)

    @property
    def label(self) -> str:
        m = self.meta
        if self.kind == "adsorbate":
            return f"{m.get('catalyst')} *{m.get('adsorbate')} {m.get('binding')}@{m.get('site')}"
        if self.kind == "gas":
            return f"gas {m.get('molecule')}"
        if self.kind == "bulk":
            return f"bulk {m.get('metal')}"
        if self.kind == "vib":
            what = m.get("molecule") if m.get("vib_kind") == "gas" else f"{m.get('catalyst')} *{m.get('adsorbate')}"
            return f"vibrations {what}"
        if self.kind == "dband":
            return f"d-band {m.get('catalyst')}"
        return f"clean {m.get('catalyst')}"


# Failure categories stored as ``reason`` (the message goes to ``error``, the traceback tail to data).
REASON_SCF = "scf-not-converged"  # the calculator's SCF loop gave up (tblite raises)
REASON_NOT_CONVERGED = "optimizer-not-converged"  # max steps reached; energy kept, status 'unconverged'
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
    import os
    import socket

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
    progress: dict[str, Any] = {}
    try:
        atoms = atoms.copy()
        atoms.info["job_id"] = job_id_
        if kind == "bulk":
            result = fit_bulk(atoms, setting)
        elif kind == "vib":  # harmonic vibrations for free-energy corrections (thermo.py)
            from .thermo import run_vib

            result = run_vib(atoms, setting)
        elif kind == "dband":  # surface d-band centre of a relaxed clean slab (dband.py)
            from .dband import dband_job

            result = dband_job(atoms, setting)
        else:
            result = relax(atoms, setting, relax_settings, trajectory=trajectory_path(traj_dir, job_id_),
                           progress=progress)
        if not np.isfinite(result.energy):
            raise FloatingPointError(f"non-finite energy {result.energy}")
        result.extra.update(_where())
        reason = None
        if not result.converged:
            reason = REASON_NOT_CONVERGED
            if kind == "bulk":
                reason = "eos-minimum-outside-range"
        return JobOutcome(job_id_, True, result, reason=reason)
    except Exception as err:  # recorded with its reason; the screen goes on
        last = {k: progress.get(k) for k in ("energy", "fmax", "steps") if progress.get(k) is not None}
        last["seconds"] = round(time.perf_counter() - t0, 3)
        return JobOutcome(job_id_, False, None, f"{type(err).__name__}: {err}"[:500],
                          traceback_tail(traceback.format_exc()), reason=classify(err), last=last)
