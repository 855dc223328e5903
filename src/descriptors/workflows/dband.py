"""d-band centre jobs of a screen: one per relaxed metal-surface clean model, when the
calculator gives a density of states; and the ``dband_centres.csv`` table."""

from __future__ import annotations

import csv
from pathlib import Path

from descriptors.calculators import CalculatorSetting
from descriptors.engine import Job, RowExtras
from descriptors.store import STATUS_FAILED
from descriptors.structures import is_metal_surface
from descriptors.tasks.dband import DOS_SETTINGS

__all__ = ["wants_dband", "dband_jobs", "dband_post", "write_dband_table", "DBAND_TABLE"]

DBAND_TABLE = "dband_centres.csv"


def wants_dband(setting: CalculatorSetting, model_kind: str | None) -> bool:
    """A d-band job for metal-surface models (slab, single-atom alloy) when the calculator gives a DOS."""
    return bool(setting.info.dos) and is_metal_surface(model_kind)


def dband_jobs(clean_jobs, store, setting: CalculatorSetting) -> list:
    """One d-band job per successfully relaxed metal-slab / SAA clean model (none unless the
    calculator gives a DOS)."""
    if not setting.info.dos:
        return []
    jobs = []
    for cj in clean_jobs:
        kind = cj.recipe.get("model", {}).get("kind") or cj.meta.get("model")
        if not wants_dband(setting, kind):
            continue
        row = store.get(cj.id)
        if row is None or row.get("status") == STATUS_FAILED:
            continue
        recipe = {"kind": "dband", "parent": cj.id, "dos": DOS_SETTINGS, "calculator": setting.as_dict()}
        meta = {k: v for k, v in cj.meta.items() if k in ("catalyst", "model", "facet", "metal", "host", "solute")}
        jobs.append(Job("dband", recipe, meta, row.toatoms(), parent=cj.id, label=f"d-band {cj.meta.get('catalyst')}"))
    return jobs


def dband_post(job, outcome) -> RowExtras:
    """Key-value pairs of a d-band row (``ase db screen.db kind=dband -c catalyst,dband_centre``)."""
    x = outcome.result.extra
    return RowExtras({"dband_centre": round(x["dband_centre"], 4), "dband_width": round(x["dband_width"], 4),
                      "dband_filling": round(x["dband_filling"], 4)})


def write_dband_table(store, out: str | Path, job_ids: list[str]) -> Path | None:
    """``dband_centres.csv``: one row per catalyst with the calculator that produced it."""
    rows = []
    for jid in job_ids:
        r = store.get(jid)
        if r is None or r.get("dband_centre") is None:
            continue
        calc = r.data.get("calculator", {})
        rows.append({
            "catalyst": r.get("catalyst"),
            "dband_centre_eV": r.get("dband_centre"),
            "dband_width_eV": r.get("dband_width"),
            "dband_filling": r.get("dband_filling"),
            "surface_atoms": len(r.data.get("dband_atoms", [])),
            "calculator": f"{calc.get('name')} {calc.get('version')}",
            "params": " ".join(f"{k}={v}" for k, v in sorted(calc.get("params", {}).items())),
            "job_id": jid,
        })
    if not rows:
        return None
    path = Path(out) / DBAND_TABLE
    with open(path, "w", newline="") as fh:
        fh.write("# d-band centre of the top-layer metal atoms relative to E_F (eV), first moment of the "
                 f"d-projected DOS over {DOS_SETTINGS['window']} eV, Gaussian width {DOS_SETTINGS['width']} eV\n")
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path
