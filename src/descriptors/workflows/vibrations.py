"""Vibration jobs of a screen (harmonic adsorbates, ideal-gas molecules) for computed free-energy
corrections: planned from the stored rows, run through the engine, resumable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from descriptors.analysis.dataset import level_rows
from descriptors.calculators import CalculatorSetting
from descriptors.engine import Engine, Job
from descriptors.identity import structure_hash
from descriptors.store import Store, best_rows, latest_rows
from descriptors.tasks import RelaxSettings
from descriptors.tasks.vib import VIB_DELTA, VIB_NFREE

__all__ = ["plan_vib_jobs", "plan_screen_vibrations", "run_vibrations_for_db"]


def plan_vib_jobs(store, parents: list[tuple[str, list[int], dict[str, Any]]], setting,
                  rows: dict[str, Any] | None = None) -> list:
    """``vib`` jobs for stored parent jobs: (parent job id, atom indices to displace, meta).

    The identity hashes the parent job, the displaced atoms, the displacement and the calculator,
    so re-running a screen reuses every stored vibration.  ``rows``: the parents' newest rows by
    job id, already read (``latest_rows``); a parent not in it is read by itself.
    """
    jobs = []
    rows = rows or {}
    for parent_id, indices, meta in parents:
        row = rows[parent_id] if parent_id in rows else store.get(parent_id)
        if row is None or row.get("status") == "failed":
            continue
        atoms = row.toatoms()
        atoms.info = {"vib_indices": [int(i) for i in indices]}
        recipe = {"kind": "vib", "parent": parent_id, "indices": [int(i) for i in indices], "delta": VIB_DELTA,
                  "nfree": VIB_NFREE, "calculator": setting.as_dict(), "structure_hash": structure_hash(atoms)}
        m = {"catalyst": row.get("catalyst"), "vib_of": parent_id}
        m.update(meta)
        what = m.get("molecule") if m.get("vib_kind") == "gas" else f"{m.get('catalyst')} *{m.get('adsorbate')}"
        jobs.append(Job("vib", recipe, m, atoms, parent=parent_id, label=f"vibrations {what}"))
    return jobs


def plan_screen_vibrations(store, setting, use_flagged: bool = False) -> list:
    """``vib`` jobs for the best site of every (catalyst, adsorbate) used by the analysis (valid
    ones, or also flagged ones with ``use_flagged``) and every gas reference, all computed with
    ``setting`` on the rows of that same calculator setting."""
    parents = []
    sites, gas_rows, _ = level_rows(store, "screen", calc_hash=setting.hash)
    # every parent row in two reads (one per kind), not a query per parent
    rows = {**latest_rows(store, kind="adsorbate"), **latest_rows(store, kind="gas")}
    for r in best_rows(sites, include_flagged=use_flagged):
        if not (r.get("valid") or use_flagged) or not r.get("job_id") or r.get("E_ads_eV") is None:
            continue
        row = rows[r["job_id"]] if r["job_id"] in rows else store.get(r["job_id"])
        if row is None or "adsorbate_indices" not in row.data:
            continue
        parents.append((r["job_id"], list(row.data["adsorbate_indices"]),
                        {"adsorbate": r["adsorbate"], "site": r.get("site"), "vib_kind": "adsorbate"}))
    for row in gas_rows:
        if row.get("status") != "failed":
            parents.append((row.get("job_id"), list(range(row.natoms)),
                            {"molecule": row.get("molecule"), "catalyst": "gas", "vib_kind": "gas"}))
    return plan_vib_jobs(store, parents, setting, rows)


def run_vibrations_for_db(db: str | Path, progress: bool = True, engine=None, use_flagged: bool = False) -> int:
    """Run the ``vib`` jobs of a screen database that are not stored yet (resumable)."""
    db = Path(db)
    if not db.is_file():
        raise ValueError(f"{db}: no such database; give the screen.db of a screen or a CSV file")
    if engine is None:
        store = Store(db)
        gas = next(iter(store.select(kind="gas")), None)
        if gas is None:
            raise ValueError(f"{db}: no gas references; is this a screen database?")
        cs = gas.data.get("calculator") or {}
        setting = CalculatorSetting(cs["name"], dict(cs.get("params", {})))  # the version installed here
        if cs.get("version") and cs["version"] != setting.version:
            print(f"note: {db} was computed with {cs['name']} {cs['version']}, vibrations now use {setting.version}",
                  file=sys.stderr)
        rs = gas.data.get("relax") or {}
        engine = Engine(store, setting, RelaxSettings(**rs) if rs else RelaxSettings(), workers=1, progress=progress)
    jobs = plan_screen_vibrations(engine.store, engine.setting, use_flagged)
    stored = engine.store.statuses()
    if all(j.id in stored for j in jobs):
        return len(jobs)  # all stored: read only, no lock taken
    # this writes to the store: one writer at a time (store/lock.py), and Ctrl-C records nothing cut short
    from descriptors.engine import interrupts
    from descriptors.store import StoreLock

    with interrupts(), StoreLock(engine.store.location, is_url=engine.store.is_url):
        engine.run(jobs, "vibrations")
    return len(jobs)


