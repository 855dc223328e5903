"""Jobs: one calculation each, with a deterministic identity (identity.py).

A job's identity is the SHA-256 of its canonical recipe: what structure (the built structure
itself where it is known up front, else the identity of the job it derives from), which
adsorbate, binding mode and site, which calculator (name, version, parameters) and which
relaxation settings.  The same recipe always gives the same id, so a job already in the store
is never computed again.  What a worker runs for a job of each kind is in tasks/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ase import Atoms

from descriptors.identity import job_id

__all__ = ["Job", "RowExtras"]


class _hashed_once:
    """``functools.cached_property`` without its lock (Python < 3.12 takes one per first access:
    a quarter of the time of hashing 100,000 small recipes): the value is stored in the instance's
    ``__dict__`` on first access and read from there afterwards."""

    def __init__(self, func):
        self.func, self.name, self.__doc__ = func, func.__name__, func.__doc__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


@dataclass
class Job:
    """One calculation.  ``atoms`` is the initial structure (built just before running);
    ``label`` is how progress and status name it (set by whoever plans the job)."""

    kind: str  # a task kind of tasks/: 'bulk' | 'gas' | 'clean' | 'adsorbate' | 'vib' | 'dband'
    recipe: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    atoms: Atoms | None = None
    parent: str | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            self.label = f"{self.kind} {self.meta.get('catalyst', '')}".strip()

    @_hashed_once
    def id(self) -> str:
        """The identity of the recipe, hashed once: a recipe is complete when the job is made
        (planning, resuming and recording a 100,000-job screen ask for it several times)."""
        return job_id(self.recipe)


@dataclass
class RowExtras:
    """What a stage adds to the row of a computed job: key-value pairs (searchable with
    ``ase db``) and data (stored with the row)."""

    fields: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def update(self, other: "RowExtras") -> "RowExtras":
        self.fields.update(other.fields)
        self.data.update(other.data)
        return self
