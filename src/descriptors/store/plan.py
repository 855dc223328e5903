"""The plan of a screen (``plan.json`` in the output directory): every job the engine was asked
to run, stage by stage, with the database it writes to.  A job is *pending* when it is in the
plan but not in the store; adsorbate jobs are planned only once their clean model is relaxed,
so a screen stopped early says so (``complete`` is false) instead of guessing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

__all__ = ["Plan", "PLAN_NAME"]

PLAN_NAME = "plan.json"


class Plan:
    """The jobs a screen has planned so far, persisted atomically after every change."""

    def __init__(self, path: str | Path, db: str, name: str = "", calculator: str = ""):
        self.path = Path(path)
        old = self.load(self.path) if self.path.is_file() else {}
        same = old.get("db") == str(db)
        self.data: dict[str, Any] = {
            "name": name or old.get("name", ""),
            "db": str(db),
            "calculator": calculator or old.get("calculator", ""),
            "created": old.get("created") if same else time.strftime("%Y-%m-%dT%H:%M:%S"),
            "complete": False,
            "pid": os.getpid(),  # the screen writing this plan: `no3rr status` tells running from stopped
            "host": socket.gethostname(),
            "stages": [],
            "jobs": {},
        }

    @staticmethod
    def load(path: str | Path) -> dict[str, Any]:
        return json.loads(Path(path).read_text())

    def add(self, jobs, stage: str) -> None:
        if stage not in self.data["stages"]:
            self.data["stages"].append(stage)
        for j in jobs:
            self.data["jobs"][j.id] = {"kind": j.kind, "label": j.label, "stage": stage}
        self.save()

    def mark_complete(self) -> None:
        self.data["complete"] = True
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)
