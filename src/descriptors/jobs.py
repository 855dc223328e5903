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
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms

from .calculators import CalculatorSetting
from .relax import CalcResult, RelaxSettings, fit_bulk, relax

__all__ = ["Job", "job_id", "structure_hash", "run_job", "JobOutcome"]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def job_id(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(recipe).encode()).hexdigest()[:24]


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
        return f"clean {m.get('catalyst')}"


@dataclass
class JobOutcome:
    job_id: str
    ok: bool
    result: CalcResult | None = None
    error: str | None = None
    traceback: str | None = None


def run_job(job_id_: str, kind: str, atoms: Atoms, setting: CalculatorSetting, relax_settings: RelaxSettings) -> JobOutcome:
    """Worker entry point: compute one job, never raise (a failure is an outcome)."""
    try:
        if kind == "bulk":
            result = fit_bulk(atoms, setting)
        else:
            result = relax(atoms, setting, relax_settings)
        if not np.isfinite(result.energy):
            raise FloatingPointError(f"non-finite energy {result.energy}")
        return JobOutcome(job_id_, True, result)
    except Exception as err:  # recorded with its reason; the screen goes on
        return JobOutcome(job_id_, False, None, f"{type(err).__name__}: {err}"[:500], traceback.format_exc())
