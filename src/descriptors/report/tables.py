"""Tables of a screen from the store: every site, the best site per (catalyst, adsorbate), references.

CSV columns are plain (no comment lines) so any tool reads them; the reference convention, the
calculator and its fidelity are columns and are repeated in ``README.txt`` next to the tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from descriptors.convention import CONVENTION_TEXT, REFERENCE_CONVENTION
from descriptors.geometry.flags import EXCLUDING_FLAGS
from descriptors.store.db import STATUS_FAILED, Store
from descriptors.store.rows import (
    BEST_COLUMNS,
    SITE_COLUMNS,
    best_rows,
    site_rows,
    write_csv,
)

__all__ = ["write_tables", "flagged_clean_rows", "format_matrix"]


def format_matrix(best: list[dict[str, Any]]) -> list[str]:
    """Lines of the end-of-screen table: E_ads of the best site per (catalyst, adsorbate), each
    value that is flagged ('!') or unconverged ('~') marked, a legend and every marked value's reason."""
    from descriptors.store.rows import FLAG_MARKERS, quality_flag

    cats = list(dict.fromkeys(r["catalyst"] for r in best))
    ads = list(dict.fromkeys(r["adsorbate"] for r in best))
    by = {(r["catalyst"], r["adsorbate"]): r for r in best}
    w = max([len(c) for c in cats] + [8])
    lines = ["E_ads / eV (lowest site)".ljust(w) + "".join(f"{a:>9s}" for a in ads)]
    reasons = []
    for c in cats:
        cells = []
        for a in ads:
            r = by.get((c, a))
            v = r.get("E_ads_eV") if r else None
            if not isinstance(v, (int, float)):
                cells.append(f"{'--':>8s} ")
                continue
            flag = r.get("flag") if "flag" in r else quality_flag(r)
            mark = "".join(m for k, m in FLAG_MARKERS.items() if k in (flag or ""))
            cells.append(f"{v:8.2f}" + (mark or " ").ljust(1)[:2])
            if mark:
                reasons.append(f"  {mark} {c} *{a}: {flag}")
        lines.append(c.ljust(w) + "".join(cells))
    if reasons:
        lines.append(f"legend: {FLAG_MARKERS['flagged']} flagged geometry (not a binding energy of the intact "
                     f"adsorbate), {FLAG_MARKERS['unconverged']} unconverged relaxation; -- no value")
        lines.extend(reasons)
    return lines


def flagged_clean_rows(store: Store, clean_ids: list[str], adsorbates: list[str]) -> list[dict[str, Any]]:
    """Best-table rows for the adsorbates of clean models whose relaxed geometry is flagged.

    Such a model gets no adsorbate jobs (workflows/stages.py); the table says so instead of leaving a gap.
    """
    out = []
    for jid in clean_ids:
        r = store.get(jid)
        if r is None or r.get("status") == STATUS_FAILED or not r.get("anomaly"):
            continue
        for a in adsorbates:
            out.append({"catalyst": r.get("catalyst"), "adsorbate": a, "site": "", "binding": "", "E_ads_eV": None,
                        "calculator": r.get("calc"), "calc_version": r.get("calc_version"),
                        "settings_hash": r.get("settings_hash"), "reference": "", "bound_to": "",
                        "anomaly": f"clean model flagged: {r.get('anomaly')}", "converged": False, "valid": False,
                        "n_sites": 0, "job_id": ""})
    return out


def _lattice(row) -> str:
    """Lattice constant of a bulk row: the stored value, else from its cell (a cubic primitive or
    conventional cell: a = sqrt(2) x the fcc primitive vector length; left empty when not cubic)."""
    for key in ("a", "lattice", "a_eos"):
        v = row.get(key)
        if isinstance(v, (int, float)):
            return round(float(v), 5)
    try:
        cell = row.toatoms().cell
        lengths, angles = cell.lengths(), cell.angles()
    except Exception:
        return ""
    import numpy as np

    if np.allclose(angles, 90, atol=0.5) and np.allclose(lengths, lengths[0], rtol=1e-3):
        return round(float(lengths[0]), 5)
    if np.allclose(angles, 60, atol=0.5) and np.allclose(lengths, lengths[0], rtol=1e-3):  # fcc primitive
        return round(float(lengths[0] * np.sqrt(2)), 5)
    return ""


def write_tables(store: Store, out: Path, spec, setting, relax, job_ids: dict[str, list[str]],
                 include_flagged: bool = False) -> dict[str, Path]:
    out = Path(out)
    sites = site_rows(store, job_ids["adsorbate"])
    best = best_rows(sites, include_flagged=include_flagged)
    best += flagged_clean_rows(store, job_ids["clean"], spec.adsorbate_names())
    paths = {
        "adsorption_energies": out / "adsorption_energies.csv",
        "all_sites": out / "all_sites.csv",
        "references": out / "references.csv",
        "readme": out / "README.txt",
    }
    write_csv(paths["adsorption_energies"], BEST_COLUMNS, best)
    write_csv(paths["all_sites"], SITE_COLUMNS, sites)
    refs = []
    for kind in ("bulk", "gas", "clean"):
        for jid in job_ids[kind]:
            r = store.get(jid)
            if r is None:
                continue
            refs.append({
                "kind": kind,
                "name": r.get("molecule") or r.get("catalyst") or r.get("metal"),
                "status": r.get("status"),
                "E_total_eV": "" if r.get("status") == STATUS_FAILED else round(float(r.energy), 6),
                "lattice_a": r.get("lattice_a", "") if r.get("lattice_a") not in (None, "") else (_lattice(r) if kind == "bulk" else ""),
                "calculator": r.get("calc"),
                "settings_hash": r.get("settings_hash"),
                "job_id": jid,
                "error": r.get("error", ""),
                "anomaly": r.get("anomaly", ""),
            })
    write_csv(paths["references"], ["kind", "name", "status", "E_total_eV", "lattice_a", "calculator",
                                     "settings_hash", "job_id", "error", "anomaly"], refs)
    lines = [
        f"Screen: {spec.name}",
        f"Calculator: {setting.label()} [{setting.info.fidelity}]",
        f"Relaxation: {relax.optimizer}, fmax {relax.fmax} eV/A, at most {relax.steps} steps",
        f"Reference convention ({REFERENCE_CONVENTION}):",
        f"  {CONVENTION_TEXT}.",
        "",
        "adsorption_energies.csv  lowest-energy site per (catalyst, adsorbate), E_ads_eV in eV; "
        + ("flagged rows INCLUDED (--include-flagged)" if include_flagged
           else f"rows flagged {', '.join(EXCLUDING_FLAGS)} excluded"),
        "                         (anomaly: flags after relaxation; site_final: site the adsorbate ended on)",
        "all_sites.csv            every (catalyst, adsorbate, binding mode, site) job",
        "references.csv           bulk, gas-phase and clean-model total energies",
        "screen.db                ASE database with every structure: `ase db screen.db kind=adsorbate`",
        "flag column              '' = converged and unflagged; 'flagged: <why>' / 'unconverged (max force)' otherwise",
        "analysis/                free energies, U_L, PDS, scaling relations, volcanoes and figures (when the spec has",
        "                         an [analysis] table; or `no3rr analyze screen.db --out analysis`)",
        "report.html              one self-contained page: summary table, figures, anomalies, settings (`no3rr report`)",
    ]
    if setting.info.fidelity == "test-only":
        lines.insert(0, f"WARNING: {setting.info.note} Do not use these numbers as chemistry.\n")
    paths["readme"].write_text("\n".join(lines) + "\n")
    return paths
