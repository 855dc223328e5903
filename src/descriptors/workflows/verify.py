"""Pre-screen then verify: a cheap calculator ranks every placement, an expensive one checks the best.

AdsorbML (Lan et al., "AdsorbML: a leap in efficiency for adsorption energy calculations using
generalizable machine learning potentials", npj Comput. Mater. 9, 172 (2023)) relaxes every
placement with a cheap model and sends only the k lowest-energy ones per (catalyst, adsorbate)
to DFT, as a single point on the cheap geometry ("SP") or a relaxation from it ("RX").  Success is
"the best of the top k is within 0.1 eV of (or below) the minimum over every placement at the
expensive level"; AdsorbML reports the success rate together with the speed-up in DFT calls.

Here both levels are named calculators of the registry (any pair: emt -> gfn1-xtb, chgnet ->
gpaw, ...).  The expensive level is just another :class:`~descriptors.engine.Engine` with the
other ``CalculatorSetting``, writing into the same store:

* gas references (H2, H2O, NH3, ...) relaxed with the expensive calculator from the textbook
  geometry (the cheap geometry of a molecule can be far off, e.g. EMT stretches O-H);
* every unflagged relaxed clean model, recomputed in the verify mode (single point on the cheap
  geometry, or relaxed from it), so that the substrate geometry is treated like the adsorbate's
  and the cheap level's lattice constant is kept;
* the top-k adsorbate structures per (catalyst, adsorbate) -- the lowest cheap E_ads among rows
  without an excluding anomaly flag -- and, with ``all``, every placement that has a cheap
  geometry.  Each job's recipe holds its cheap parent's job id (so it is resumable and never
  recomputed) and its row the parent's E_ads and rank.

Expensive adsorption energies use the same atomic-reference convention (convention.py) with the
expensive gas and clean energies, and get the same anomaly checks against the expensive clean
model.  The clean energy is the level's: where the store holds several relaxed clean models of a
catalyst at this calculator (one relaxed from each cheap level's geometry) that differ by more
than ``CLEAN_REF_TOLERANCE``, every E_ads of it uses the lowest (analysis/clean_refs.py), rows
stored earlier against another one are re-referenced, and each row records ``clean_ref_job`` and
``clean_ref_shift``; the summary lists those catalysts.
Outputs: ``verify_sites.csv``, ``verify_best.csv`` and ``verify_summary.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from descriptors.analysis.clean_refs import (
    CLEAN_REF_TOLERANCE,
    clean_groups,
    format_groups,
    reference_of,
    row_reference,
)
from descriptors.convention import CONVENTION_TEXT
from descriptors.engine import Job, RowExtras
from descriptors.geometry.anomalies import clean_reference, is_excluded
from descriptors.store import STATUS_FAILED, write_csv
from descriptors.tasks import JobOutcome, RelaxSettings
from descriptors.workflows.stages import (
    adsorbate_label,
    adsorption_record,
    record_clean_check,
    run_gas_references,
)

__all__ = ["run_verify", "select_top_k", "VerifyResult", "success_rate", "format_summary", "SITES_CSV", "BEST_CSV",
           "SUMMARY_JSON"]

SITES_CSV = "verify_sites.csv"
BEST_CSV = "verify_best.csv"
SUMMARY_JSON = "verify_summary.json"
LEVEL = "verify"


@dataclass
class VerifyResult:
    summary: dict[str, Any]
    stats: dict[str, Any]
    job_ids: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    tables: dict[str, Path] = field(default_factory=dict)
    jobs: dict[str, list[Job]] = field(default_factory=dict)  # the level's clean and adsorbate jobs


def _has_energy(row) -> bool:
    return row is not None and row.get("status") != STATUS_FAILED and row.get("e_ads") is not None


def select_top_k(rows: list, k: int, within: float | None = None) -> list:
    """The ``k`` rows with the lowest E_ads among those with an energy and no excluding flag, and
    with ``within`` (eV) also every further row whose E_ads lies within ``within`` of the lowest:
    where the cheap level cannot tell placements apart, the expensive one decides.

    Ties are broken by job id, so the choice is deterministic.
    """
    ok = sorted((r for r in rows if _has_energy(r) and not is_excluded(r.get("anomaly", ""))),
                key=lambda r: (float(r.get("e_ads")), r.get("job_id")))
    if within is None or not ok:
        return ok[:k]
    e0 = float(ok[0].get("e_ads"))
    return ok[:k] + [r for r in ok[k:] if float(r.get("e_ads")) <= e0 + within]


def success_rate(pairs: list[dict[str, Any]]) -> float | None:
    """Fraction of evaluated pairs whose top-k found the expensive minimum within the tolerance."""
    ev = [p for p in pairs if p.get("success") is not None]
    return None if not ev else sum(bool(p["success"]) for p in ev) / len(ev)


def _engine_stats(*engines) -> dict[str, Any]:
    tot: dict[str, Any] = {"computed": 0, "reused": 0, "failed": 0, "failed_reused": 0, "seconds": 0.0}
    for e in engines:
        d = e.stats.as_dict()
        for k in tot:
            tot[k] += d.get(k, 0)
    tot["seconds"] = round(tot["seconds"], 2)
    return tot


def run_verify(spec, store, out: Path, clean_jobs: list[Job], ads_jobs: list[Job], ideal: dict,
               make_engine: Callable[[Any, RelaxSettings], Any],
               log: Callable[[str], None] | None = None, level: str = LEVEL,
               meta: dict[str, Any] | None = None) -> VerifyResult:
    """Run the expensive level of ``spec.verify`` on a finished cheap screen (see module doc).

    ``clean_jobs``/``ads_jobs``: the cheap screen's jobs (their rows are in ``store``);
    ``ideal``: clean job id -> ideal (unrelaxed) model, for the site list of the anomaly checks;
    ``make_engine(setting, relax_settings)`` builds an Engine on the same store (``Engine.derive``);
    ``log`` receives progress lines; ``level`` names the level in the recipes (the default
    keeps the verify level's job ids); ``meta`` is stored with every clean and adsorbate row of the
    level (e.g. the fine-tuned model and its training catalysts, workflows/finetune.py).
    """
    v = spec.verify
    log = log or (lambda msg: None)
    setting = v.calculator.setting()
    base_relax = v.relax or spec.relax
    rx = RelaxSettings(base_relax.optimizer, base_relax.fmax, base_relax.steps)
    level_relax = rx if v.mode == "relax" else RelaxSettings(rx.optimizer, rx.fmax, 0)
    engine = make_engine(setting, level_relax)
    gas_engine = make_engine(setting, rx)
    skipped: list[str] = []
    log(f"verify: {v.mode} with {setting.label()}, top {v.top_k} per (catalyst, adsorbate)"
        + (f" and every placement within {v.within} eV of its lowest" if getattr(v, "within", None) else "")
        + (", and every placement (validation)" if v.all else ""))

    # gas references, relaxed at the expensive level
    mu, gjobs = run_gas_references(gas_engine, setting, rx, "verify: gas references", box=spec.gas_box)

    common = {"calculator": setting.as_dict(), "relax": level_relax.as_dict(), "mode": v.mode, "level": level,
              "code": "descriptors"}
    extra = dict(meta or {})

    # clean models at the expensive level, from the relaxed cheap geometry
    cheap_clean_rows = {cj.id: store.get(cj.id) for cj in clean_jobs}
    vclean: dict[str, Job] = {}
    for cj in clean_jobs:
        row = cheap_clean_rows[cj.id]
        if row is None or row.get("status") == STATUS_FAILED or row.get("anomaly"):
            continue  # the cheap screen already reported it as skipped
        recipe = {"kind": "clean", "parent": cj.id, **common}
        cmeta = {**cj.meta, **extra, "level": level, "cheap_job": cj.id}
        vclean[cj.id] = Job("clean", recipe, cmeta, row.toatoms(), parent=cj.id, label=f"clean {cj.meta['catalyst']}")
    engine.run(list(vclean.values()), "verify: clean models")
    clean_energy: dict[str, float] = {}
    clean_refs: dict[str, Any] = {}
    for cid, vj in vclean.items():
        row = store.get(vj.id)
        if row is None or row.get("status") == STATUS_FAILED:
            skipped.append(f"{vj.meta['catalyst']}: clean model at the verify level failed "
                           f"({row.get('error') if row else 'missing'})")
            continue
        ref = clean_reference(ideal[cid], row.toatoms())
        if record_clean_check(store, row, ref):
            skipped.append(f"{vj.meta['catalyst']}: clean model at the verify level flagged {ref.anomaly!r} "
                           f"({ref.reason()}); not verified")
            continue
        clean_energy[vj.id] = row.energy
        clean_refs[vj.id] = ref
    # one clean reference per catalyst at this level: the lowest relaxed clean model in the store
    cgroups, key_of = clean_groups(store.select(kind="clean", calc=setting.name))
    ref_of = {cid: reference_of(cid, cgroups, key_of) for cid in clean_energy}  # -> (job, E(own) - E(job))

    # which cheap placements go up
    groups: dict[tuple[str, str], list[Job]] = {}
    for aj in ads_jobs:
        groups.setdefault((aj.meta["catalyst"], aj.meta["adsorbate"]), []).append(aj)
    planned: list[Job] = []
    pairs: list[dict[str, Any]] = []
    for (cat, ads), jobs in groups.items():
        rows = {aj.id: store.get(aj.id) for aj in jobs}
        vc = vclean.get(jobs[0].parent)
        top = select_top_k([r for r in rows.values() if r is not None], v.top_k, getattr(v, "within", None))
        rank = {r.get("job_id"): k + 1 for k, r in enumerate(
            sorted((r for r in rows.values() if _has_energy(r) and not is_excluded(r.get("anomaly", ""))),
                   key=lambda r: (float(r.get("e_ads")), r.get("job_id"))))}
        top_ids = [r.get("job_id") for r in top]
        pair = {"catalyst": cat, "adsorbate": ads, "placements": len(jobs), "cheap_valid": len(rank),
                "top_k": top_ids, "verified": vc is not None and vc.id in clean_energy, "vjobs": {}}
        pairs.append(pair)
        if not pair["verified"]:
            continue
        send = [aj for aj in jobs if _has_energy(rows[aj.id])] if v.all else [aj for aj in jobs if aj.id in top_ids]
        for aj in send:
            row = rows[aj.id]
            atoms = row.toatoms()
            atoms.info = dict(aj.atoms.info)
            recipe = {"kind": "adsorbate", "parent": aj.id, "clean": vc.id, **common}
            ameta = {**aj.meta, **extra, "level": level, "cheap_job": aj.id, "clean_job": vc.id,
                    "cheap_e_ads": float(row.get("e_ads")), "cheap_rank": rank.get(aj.id, 0),
                    "top_k": aj.id in top_ids}
            job = Job("adsorbate", recipe, ameta, atoms, parent=aj.id, label=adsorbate_label(ameta))
            pair["vjobs"][aj.id] = job.id
            planned.append(job)

    def post(job: Job, outcome: JobOutcome) -> RowExtras:
        cid = job.meta["clean_job"]
        ref, shift = ref_of[cid]
        ex = adsorption_record(job, outcome, clean_energy[cid] - shift, mu, clean_refs[cid])
        ex.fields.update(clean_ref_job=ref, clean_ref_shift=round(shift, 6))
        return ex

    n_top = sum(len(p["top_k"]) for p in pairs if p["verified"])
    log(f"verify: {len(planned)} expensive adsorbate jobs ({n_top} top-{v.top_k}"
        + (f", {len(planned) - n_top} more for validation)" if v.all else ")"))
    engine.run(planned, "verify: adsorbates", postprocess=post)
    clean_notes = _rereference(store, setting.name, cgroups, key_of, {vj.meta["catalyst"] for vj in vclean.values()})
    for line in format_groups(clean_notes):
        log(f"verify: {line}")

    # evaluate
    site_table, best_table = [], []
    for p in pairs:
        vrows = {cid: store.get(vid) for cid, vid in p.pop("vjobs").items()}
        for cid, r in vrows.items():
            if r is None:
                continue
            failed = r.get("status") == STATUS_FAILED
            site_table.append({
                "catalyst": p["catalyst"], "adsorbate": p["adsorbate"], "binding": r.get("binding"),
                "site": r.get("site"), "site_final": r.get("site_final", ""), "cheap_job": cid,
                "cheap_E_ads_eV": round(float(r.get("cheap_e_ads")), 4), "cheap_rank": r.get("cheap_rank"),
                "top_k": bool(r.get("top_k")), "status": r.get("status"), "converged": r.get("converged"),
                "E_ads_eV": None if failed else round(float(r.get("e_ads")), 4),
                "clean_ref_job": r.get("clean_ref_job") or r.get("clean_job"),
                "clean_ref_shift_eV": r.get("clean_ref_shift"),
                "anomaly": r.get("error", "") if failed else r.get("anomaly", ""),
                "excluded": (not failed) and is_excluded(r.get("anomaly", "")),
                "calculator": r.get("calc"), "settings_hash": r.get("settings_hash"), "job_id": r.get("job_id"),
            })
        good = {cid: float(r.get("e_ads")) for cid, r in vrows.items()
                if _has_energy(r) and not is_excluded(r.get("anomaly", ""))}
        top_good = {cid: e for cid, e in good.items() if cid in p["top_k"]}
        best_id = min(top_good, key=top_good.get) if top_good else None
        p["calls_top_k"] = len(p["top_k"]) if p["verified"] else 0
        p["E_ads_top_k_eV"] = round(top_good[best_id], 4) if best_id else None
        p["site_top_k"] = (vrows[best_id].get("site_final") or vrows[best_id].get("site")) if best_id else ""
        p["job_top_k"] = vrows[best_id].get("job_id") if best_id else ""
        all_run = v.all and p["verified"] and all(
            cid in vrows for cid in (aj.id for aj in groups[(p["catalyst"], p["adsorbate"])]
                                     if _has_energy(store.get(aj.id))))
        p["E_ads_min_all_eV"] = None
        p["success"] = None
        if all_run and good:
            emin_id = min(good, key=good.get)
            p["E_ads_min_all_eV"] = round(good[emin_id], 4)
            p["site_min_all"] = vrows[emin_id].get("site_final") or vrows[emin_id].get("site")
            p["success"] = best_id is not None and top_good[best_id] <= good[emin_id] + v.tolerance
            p["delta_eV"] = round(top_good[best_id] - good[emin_id], 4) if best_id else None
        best_table.append({k: p.get(k) for k in (
            "catalyst", "adsorbate", "placements", "cheap_valid", "calls_top_k", "E_ads_top_k_eV", "site_top_k",
            "E_ads_min_all_eV", "site_min_all", "delta_eV", "success", "job_top_k")})
    placements = sum(p["placements"] for p in pairs)
    calls = sum(p["calls_top_k"] for p in pairs)
    verified_pairs = [p for p in pairs if p["verified"]]
    placements_verified = sum(p["placements"] for p in verified_pairs)
    rate = success_rate(pairs)
    n_eval = sum(p["success"] is not None for p in pairs)
    summary = {
        "method": "pre-screen then verify (AdsorbML: Lan et al., npj Comput. Mater. 9, 172 (2023))",
        "cheap_calculator": spec.calculator.setting().as_dict(),
        "expensive_calculator": setting.as_dict(),
        "expensive_label": setting.label(),
        "mode": v.mode,
        "relax": level_relax.as_dict(),
        "gas_relax": rx.as_dict(),
        "top_k": v.top_k,
        "within_eV": getattr(v, "within", None),
        "all": v.all,
        "tolerance_eV": v.tolerance,
        "pairs": len(pairs),
        "pairs_verified": len(verified_pairs),
        "placements": placements,
        "expensive_adsorbate_calls_top_k": calls,
        "expensive_adsorbate_calls_all_placements": placements_verified,
        "saving": None if not placements_verified else round(1 - calls / placements_verified, 4),
        "expensive_adsorbate_jobs_run": len(planned),
        "expensive_reference_jobs": {"gas": len(gjobs), "clean": len(vclean)},
        "success_rate": None if rate is None else round(rate, 4),
        "pairs_evaluated": n_eval,
        "pairs_success": sum(bool(p["success"]) for p in pairs if p["success"] is not None),
        "convention": CONVENTION_TEXT,
        "clean_ref_tolerance_eV": CLEAN_REF_TOLERANCE,
        "clean_references": clean_notes,  # catalysts whose relaxed clean models at this level differ
        "skipped": skipped,
        "per_pair": best_table,
    }
    out = Path(out)
    tables = {"verify_sites": out / SITES_CSV, "verify_best": out / BEST_CSV, "verify_summary": out / SUMMARY_JSON}
    _write_csv(tables["verify_sites"], site_table)
    _write_csv(tables["verify_best"], best_table)
    tables["verify_summary"].write_text(json.dumps(summary, indent=2, default=str))
    stats = _engine_stats(engine, gas_engine)
    job_ids = {"gas": [j.id for j in gjobs], "clean": [j.id for j in vclean.values()],
               "adsorbate": [j.id for j in planned]}
    return VerifyResult(summary, stats, job_ids, skipped, tables, {"clean": list(vclean.values()), "adsorbate": planned})


def _rereference(store, calc: str, groups, key_of, catalysts: set[str]) -> list[dict[str, Any]]:
    """Re-reference the stored adsorbate rows of ``calc`` on ``catalysts`` whose clean energy is not
    the level's chosen one (rows stored before a lower relaxed clean model came into the store,
    e.g. by another cheap level's verify run); return the groups of those catalysts whose relaxed
    clean models differ by more than the tolerance (analysis/clean_refs.py), as dicts."""
    wide = [g for g in groups.values() if g.catalyst in catalysts and g.spread > CLEAN_REF_TOLERANCE]
    if not wide:
        return []
    names = {g.catalyst for g in wide}
    energies = {j: e for g in groups.values() for j, e in g.energies.items()}
    for r in [r for r in store.select(kind="adsorbate", calc=calc) if r.get("catalyst") in names]:
        if r.get("e_ads") is None or r.get("status") == STATUS_FAILED:
            continue
        e, ref, shift = row_reference(r, groups, key_of, energies)
        if r.get("clean_ref_job") != ref or abs(e - float(r.get("e_ads"))) > 1e-9:
            store.db.update(r.id, e_ads=e, clean_ref_job=ref, clean_ref_shift=round(shift, 6))
    return [g.as_dict() for g in wide]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """The columns are every key of the rows, in first-seen order."""
    cols = list(dict.fromkeys(k for r in rows for k in r)) if rows else ["catalyst", "adsorbate"]
    write_csv(path, cols, rows)


def format_summary(summary: dict[str, Any]) -> list[str]:
    """Lines for the end of a screen: calls made vs needed, saving, success rate."""
    s = summary
    lines = [f"verify ({s['mode']}, {s['expensive_label']}): {s['expensive_adsorbate_calls_top_k']} expensive "
             f"adsorbate calls for the top {s['top_k']} vs {s['expensive_adsorbate_calls_all_placements']} for every "
             f"placement" + (f" (saving {100 * s['saving']:.0f}%)" if s["saving"] is not None else "")
             + f"; plus {s['expensive_reference_jobs']['gas']} gas and {s['expensive_reference_jobs']['clean']} "
             f"clean reference jobs"
             + (f"; 'all' validation ran {s['expensive_adsorbate_jobs_run']} expensive adsorbate jobs"
                if s["all"] else "")]
    if s["success_rate"] is not None:
        lines.append(f"verify: top-{s['top_k']} found the expensive minimum within {s['tolerance_eV']} eV in "
                     f"{s['pairs_success']}/{s['pairs_evaluated']} (catalyst, adsorbate) pairs "
                     f"(success rate {100 * s['success_rate']:.0f}%)")
    elif s["all"]:
        lines.append("verify: no pair had every placement verified; no success rate")
    lines += [f"verify: {x}" for x in format_groups(s.get("clean_references") or [],
                                                     s.get("clean_ref_tolerance_eV", CLEAN_REF_TOLERANCE))]
    return lines
