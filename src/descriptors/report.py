"""Tables of a screen from the store: every site, the best site per (catalyst, adsorbate), references.

CSV columns are plain (no comment lines) so any tool reads them; the reference convention, the
calculator and its fidelity are columns and are repeated in ``README.txt`` next to the tables.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .anomalies import EXCLUDING_FLAGS, is_excluded
from .references import CONVENTION_TEXT, REFERENCE_CONVENTION
from .store import STATUS_FAILED, Store

__all__ = ["write_tables", "site_rows", "best_rows", "row_dict", "BEST_COLUMNS", "SITE_COLUMNS", "HARD_ANOMALIES",
           "flagged_clean_rows"]

# A structure that desorbed, fell apart, sank into or rebuilt the surface, lost its metal, or has
# fused atoms is not a binding energy of that adsorbate (anomalies.py says why for each flag).
HARD_ANOMALIES = EXCLUDING_FLAGS

SITE_COLUMNS = [
    "catalyst", "facet", "adsorbate", "binding", "site", "site_final", "status", "E_ads_eV", "E_total_eV",
    "bound_to", "anomaly", "excluded", "converged", "max_force", "steps", "calculator", "calc_version",
    "settings_hash", "reference",
    "job_id", "db_id",
]
BEST_COLUMNS = [
    "catalyst", "adsorbate", "site", "site_final", "binding", "E_ads_eV", "calculator", "calc_version", "settings_hash",
    "reference", "bound_to", "anomaly", "valid", "converged", "n_sites", "job_id",
]


def row_dict(row) -> dict[str, Any]:
    failed = row.get("status") == STATUS_FAILED
    return {
        "catalyst": row.get("catalyst"),
        "facet": row.get("facet", ""),
        "adsorbate": row.get("adsorbate"),
        "binding": row.get("binding"),
        "site": row.get("site"),
        "site_final": row.get("site_final", ""),
        "status": row.get("status"),
        "E_ads_eV": None if failed else round(float(row.get("e_ads")), 4),
        "E_total_eV": None if failed else round(float(row.energy), 6),
        "bound_to": row.get("bound_to", ""),
        "anomaly": row.get("anomaly", "") if not failed else row.get("error", ""),
        "excluded": (not failed) and is_excluded(row.get("anomaly", "")),
        "converged": row.get("converged", False),
        "max_force": round(float(row.get("max_force", float("nan"))), 4) if not failed else None,
        "steps": row.get("steps"),
        "calculator": row.get("calc"),
        "calc_version": row.get("calc_version"),
        "settings_hash": row.get("settings_hash"),
        "reference": "atomic" if not failed else "",
        "job_id": row.get("job_id"),
        "db_id": row.id,
    }


def site_rows(store: Store, job_ids: list[str] | None = None) -> list[dict[str, Any]]:
    if job_ids is None:
        rows = list(store.select(kind="adsorbate"))
    else:
        rows = [r for jid in job_ids if (r := store.get(jid)) is not None]
    return [row_dict(r) for r in rows]


def best_rows(sites: list[dict[str, Any]], include_flagged: bool = False) -> list[dict[str, Any]]:
    """Lowest-energy site per (catalyst, adsorbate) and calculator setting.

    Candidates: converged or unconverged relaxations without an excluding anomaly flag
    (``anomalies.EXCLUDING_FLAGS``; 'moved' and the other informative flags are kept, with the
    final site in ``site_final``).  If every site of a pair is flagged, the lowest of them is
    reported with ``valid`` False and the anomaly spelled out (it is not a binding energy of
    the intact adsorbate on an intact site); if every job failed, the pair is reported with no
    energy and the errors.  ``include_flagged`` makes flagged rows candidates too (``valid``
    then says whether the chosen row is unflagged).  Rows of different calculator settings
    (``settings_hash``, e.g. a cheap and a verifying level in one database) never compete.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in sites:
        groups.setdefault((r["catalyst"], r["adsorbate"], r.get("settings_hash")), []).append(r)
    out = []
    for key, rs in groups.items():
        with_energy = [r for r in rs if r["E_ads_eV"] is not None]
        valid = [r for r in with_energy if not is_excluded(r["anomaly"])]
        pool = with_energy if include_flagged else (valid or with_energy)
        if pool:
            # converged first, then lowest energy
            best = min(pool, key=lambda r: (not r["converged"], r["E_ads_eV"]))
            ok = not is_excluded(best["anomaly"])
            row = {c: best.get(c) for c in BEST_COLUMNS if c in best}
            row.update({"n_sites": len(rs), "valid": ok})
            if not valid:
                row["anomaly"] = f"no intact bound site ({best['anomaly']})"
            out.append(row)
        else:
            reasons = sorted({r["anomaly"] or r["status"] for r in rs})
            out.append({"catalyst": key[0], "adsorbate": key[1], "site": "", "binding": "", "E_ads_eV": None,
                        "calculator": rs[0]["calculator"], "calc_version": rs[0]["calc_version"],
                        "settings_hash": rs[0]["settings_hash"], "reference": "", "bound_to": "",
                        "anomaly": "all jobs failed: " + "; ".join(reasons), "converged": False,
                        "valid": False, "n_sites": len(rs), "job_id": ""})
    return out


def write_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Rows as CSV with exactly ``columns`` (missing or None values written empty)."""
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in columns})


def flagged_clean_rows(store: Store, clean_ids: list[str], adsorbates: list[str]) -> list[dict[str, Any]]:
    """Best-table rows for the adsorbates of clean models whose relaxed geometry is flagged.

    Such a model gets no adsorbate jobs (screen.py); the table says so instead of leaving a gap.
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
                "lattice_a": r.get("lattice_a", ""),
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
    ]
    if setting.info.fidelity == "test-only":
        lines.insert(0, f"WARNING: {setting.info.note} Do not use these numbers as chemistry.\n")
    paths["readme"].write_text("\n".join(lines) + "\n")
    return paths
