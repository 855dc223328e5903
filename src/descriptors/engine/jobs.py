"""Jobs: one calculation each, with a deterministic identity (identity.py).

A job's identity is the SHA-256 of its canonical recipe: what structure (the built structure
itself where it is known up front, else the identity of the job it derives from), which
adsorbate, binding mode and site, which calculator (name, version, parameters) and which
relaxation settings.  The same recipe always gives the same id, so a job already in the store
is never computed again.  What a worker runs for a job of each kind is in tasks/.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from ase import Atoms

from descriptors.identity import job_id
from descriptors.store.db import STATUS_FAILED, STATUS_OK, STATUS_UNCONVERGED

__all__ = ["Job", "RowExtras", "Check", "run_check", "settled", "SHARED_CACHE"]


@dataclass
class Check:
    """What a stage stores with a computed job, worked out where the job ran (in the worker, not in
    the driver): ``fn(job_atoms, result, shared, args) -> (fields, data)`` -- the row's key-value
    pairs and data -- with ``job_atoms`` the job's initial structure and ``result`` the task's
    ``CalcResult``.  ``fn`` is a module-level function (sent by reference); ``shared`` is what many
    jobs share (e.g. the relaxed clean model and its site list), sent pickled once per ``key``
    (:meth:`blob`) and unpickled once per worker process (:data:`SHARED_CACHE`); ``args`` are the
    job's own (small) arguments."""

    fn: Callable[..., tuple[dict[str, Any], dict[str, Any]]]
    key: str
    shared: Any
    args: Any = None

    def packed(self, blobs: dict[str, bytes]) -> tuple:
        """``(fn, key, pickled shared, args)`` for a worker; ``blobs`` caches one pickle per key."""
        blob = blobs.get(self.key)
        if blob is None:
            blob = blobs[self.key] = pickle.dumps(self.shared, protocol=pickle.HIGHEST_PROTOCOL)
        return (self.fn, self.key, blob, self.args)


#: a worker's unpickled ``Check.shared`` values by key (the most recent ones)
SHARED_CACHE: "OrderedDict[str, Any]" = OrderedDict()
SHARED_CACHE_SIZE = 64


def _shared(key: str, blob: bytes) -> Any:
    value = SHARED_CACHE.get(key)
    if value is None:
        value = SHARED_CACHE[key] = pickle.loads(blob)
        while len(SHARED_CACHE) > SHARED_CACHE_SIZE:
            SHARED_CACHE.popitem(last=False)
    else:
        SHARED_CACHE.move_to_end(key)
    return value


def run_check(check: "Check | tuple | None", job_atoms: Atoms, outcome) -> None:
    """Run a job's check on its outcome (where the job ran) and attach ``(fields, data)`` to it as
    ``outcome.extras``; an exception becomes its message (the driver stores it as
    ``postprocess_error`` and keeps the computed result).  ``check`` is a :class:`Check` (in the
    driver's process) or its :meth:`Check.packed` form (in a worker)."""
    if check is None or not outcome.ok:
        return
    try:
        if isinstance(check, Check):
            fn, shared, args = check.fn, check.shared, check.args
        else:
            fn, key, blob, args = check
            shared = _shared(key, blob)
        fields, data = fn(job_atoms, outcome.result, shared, args)
        outcome.extras = (fields, data)
    except Exception as err:  # keep the computed result; say what is missing
        outcome.extras = f"{type(err).__name__}: {err}"[:300]


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
    check: Check | None = None  # what to store with its result, worked out where it runs

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


def settled(status: str | None, retry_failed: bool) -> bool:
    """Whether a job stored with ``status`` is not computed again: a result (ok, unconverged), or a
    failure when failures are not retried (``Engine.pending``, and a resume's remembered plans)."""
    return status in (STATUS_OK, STATUS_UNCONVERGED) or (status == STATUS_FAILED and not retry_failed)
