"""The plan of a screen (``plan.json`` in the output directory): every job the engine was asked
to run, stage by stage, with the database it writes to.  A job is *pending* when it is in the
plan but not in the store; adsorbate jobs are planned only once their clean model is relaxed,
so a screen stopped early says so (``complete`` is false) instead of guessing.

The database is stored relative to the output directory when it lies inside it (so the
directory can be moved or copied and read from any working directory), and a PostgreSQL URL
with its password masked (the password comes from PGPASSWORD or ~/.pgpass when read back).
A run that stops before it completes keeps the jobs of the plan before it: they are dropped
only when the new run has planned every stage (``mark_complete``).
"""

from __future__ import annotations

import json
import os
import socket
import time
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from descriptors.store.db import is_url, redact

__all__ = ["Plan", "PLAN_NAME", "plan_db", "stored_db"]

PLAN_NAME = "plan.json"


def stored_db(out: Path, db: str | Path) -> str:
    """How plan.json names the database: relative to ``out`` when inside it, password masked."""
    if is_url(db):
        return redact(db)
    p = Path(db).absolute()
    try:
        return p.relative_to(Path(out).absolute()).as_posix()
    except ValueError:
        return str(p)


def plan_db(out: str | Path, recorded: str) -> str:
    """The database a plan names, resolved against its output directory (not the working directory).
    Plans written before the path was stored relative to ``out`` held a path relative to the working
    directory of that run: its file name inside ``out`` is used then."""
    if is_url(recorded):
        return recorded
    p = Path(recorded)
    if p.is_absolute():
        return str(p)
    inside = Path(out) / p
    if not inside.exists() and (Path(out) / p.name).exists():
        return str(Path(out) / p.name)
    return str(inside)


_q = encode_basestring_ascii  # json.dumps of a str (ensure_ascii), the C function it calls


def _entry(v: dict[str, Any]) -> str:
    """``json.dumps(v)`` of a plan entry: the usual {kind, label, stage} of text formatted directly
    (100,000 jobs: 0.3 s instead of 0.8 s), anything else by json."""
    if len(v) == 3 and type(v.get("kind")) is str and type(v.get("label")) is str and type(v.get("stage")) is str \
            and list(v) == ["kind", "label", "stage"]:
        return f'{{"kind": {_q(v["kind"])}, "label": {_q(v["label"])}, "stage": {_q(v["stage"])}}}'
    return json.dumps(v)


class Plan:
    """The jobs a screen has planned so far, persisted atomically after every change."""

    def __init__(self, path: str | Path, db: str, name: str = "", calculator: str = ""):
        self.path = Path(path)
        try:
            old = self.load(self.path) if self.path.is_file() else {}
        except ValueError:  # a damaged plan is rewritten
            old = {}
        stored = stored_db(self.path.parent, db)
        same = old.get("db") == stored
        self.previous: dict[str, Any] = dict(old.get("jobs", {})) if same else {}
        self.data: dict[str, Any] = {
            "name": name or old.get("name", ""),
            "db": stored,
            "calculator": calculator or old.get("calculator", ""),
            "created": old.get("created") if same else time.strftime("%Y-%m-%dT%H:%M:%S"),
            "complete": False,
            "pid": os.getpid(),  # the screen writing this plan: `no3rr status` tells running from stopped
            "host": socket.gethostname(),
            "stages": [],
            "jobs": {},
        }
        self._saved = False

    @staticmethod
    def load(path: str | Path) -> dict[str, Any]:
        return json.loads(Path(path).read_text())

    def add(self, jobs, stage: str) -> None:
        """Record the jobs of a stage; the file is written only when the plan changed (a new
        stage or a new or changed job), not on every call."""
        changed = stage not in self.data["stages"]
        if changed:
            self.data["stages"].append(stage)
        planned = self.data["jobs"]
        for j in jobs:
            entry = {"kind": j.kind, "label": j.label, "stage": stage}
            if planned.get(j.id) != entry:
                planned[j.id] = entry
                changed = True
        if changed or not self._saved:
            self.save()

    def mark_complete(self) -> None:
        self.data["complete"] = True
        self.previous = {}
        self.save()

    def save(self) -> None:
        """Write atomically; jobs of the previous plan not planned again yet are kept until complete."""
        data = dict(self.data)
        if self.previous:
            data["jobs"] = {**self.previous, **self.data["jobs"]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        # one job per line, written by json's C encoder (``indent`` would use its pure-Python one:
        # 3 s for 100,000 jobs); still one JSON document
        head = json.dumps({k: v for k, v in data.items() if k != "jobs"}, indent=1)[:-2]
        lines = ",\n".join(f"  {_q(k)}: {_entry(v)}" for k, v in data["jobs"].items())
        tmp.write_text(f'{head},\n "jobs": {{\n{lines}\n }}\n}}\n' if lines else f'{head},\n "jobs": {{}}\n}}\n')
        os.replace(tmp, self.path)
        self._saved = True
