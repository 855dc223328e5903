"""The adsorbate jobs planned on each clean model, remembered beside the screen so that a resumed
screen does not find sites and place every adsorbate again for catalysts whose jobs are all stored.

Planning costs ~1-2 ms a job (site finding, placement, the recipe's hash) and ~0.1-0.3 s of site
finding per model; on a resumed screen of 100,000 jobs that is minutes of work whose only product
is the job ids the store already holds.  Each clean model's plan is written once, after it was
planned, to ``OUT/plans/<key>.json``: the ids, labels and table metadata of its adsorbate jobs.
The key hashes everything the plan depends on: the clean job's id (its model, lattice, calculator
and relaxation), the adsorbates, the ``[placement]`` settings, the calculator and relaxation of the
adsorbate jobs, and the source of the code that finds sites and places adsorbates (a changed site
finder plans again, and its new jobs run).  A plan is used only when every one of its jobs is done
in the store (or failed and not retried): anything to compute is planned as before, with its
structures.  Files are written atomically; a missing, damaged or foreign file plans again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from descriptors.engine import Job
from descriptors.identity import canonical

__all__ = ["plan_key", "load_plan", "save_plan", "PLAN_DIR"]

PLAN_DIR = "plans"
_META = ("catalyst", "model", "facet", "adsorbate", "binding", "site", "site_kind")
_CODE: str | None = None


def _code_fingerprint() -> str:
    """SHA-256 of the source files whose logic decides the sites and placements."""
    global _CODE
    if _CODE is None:
        root = Path(__file__).resolve().parents[1]
        files = sorted((root / "geometry").glob("*.py")) + sorted((root / "structures").rglob("*.py")) + [
            root / "workflows" / "stages.py", Path(__file__)]
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        _CODE = h.hexdigest()
    return _CODE


def plan_key(clean_job: Job, adsorbates: list[str], spec, setting, relax) -> str:
    """The key of one clean model's adsorbate plan (see the module's doc)."""
    what = {"clean": clean_job.id, "adsorbates": list(adsorbates), "placement": spec.placement.model_dump(mode="json"),
            "calculator": setting.as_dict(), "relax": relax.as_dict(), "code": _code_fingerprint()}
    return hashlib.sha256(canonical(what).encode()).hexdigest()[:32]


def save_plan(out: Path, key: str, jobs: list[Job]) -> None:
    """Write the plan of one clean model (atomically: a kill leaves the old file or none)."""
    d = Path(out) / PLAN_DIR
    d.mkdir(parents=True, exist_ok=True)
    body = {"key": key, "jobs": [[j.id, j.label, j.parent, {k: j.meta.get(k) for k in _META}] for j in jobs]}
    tmp = d / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(body, separators=(",", ":")))
    os.replace(tmp, d / f"{key}.json")


def load_plan(out: Path, key: str) -> list[Job] | None:
    """The remembered jobs of a plan, without structures (their ids as planned), or None."""
    try:
        body = json.loads((Path(out) / PLAN_DIR / f"{key}.json").read_text())
        if body.get("key") != key:
            return None
        jobs = []
        for jid, label, parent, meta in body["jobs"]:
            j = Job("adsorbate", {}, dict(meta), None, parent=parent, label=label)
            j.__dict__["id"] = str(jid)  # the id the planner computed from its recipe
            jobs.append(j)
        return jobs
    except (OSError, ValueError, TypeError, KeyError):
        return None
