"""Rows of the store as table rows: every site of a screen, and the best site per
(catalyst, adsorbate) with the anomaly flags that keep a structure out of the minima.

CSV columns are plain (no comment lines) so any tool reads them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from descriptors.geometry.flags import EXCLUDING_FLAGS, is_excluded
from descriptors.store.db import STATUS_FAILED, Store

__all__ = ["site_rows", "best_rows", "row_dict", "write_csv", "BEST_COLUMNS", "SITE_COLUMNS", "HARD_ANOMALIES",
           "quality_flag", "FLAG_MARKERS"]

# A structure that desorbed, fell apart, sank into or rebuilt the surface, lost its metal, or has
# fused atoms is not a binding energy of that adsorbate (geometry/anomalies.py says why for each flag).
HARD_ANOMALIES = EXCLUDING_FLAGS

SITE_COLUMNS = [
    "catalyst", "facet", "adsorbate", "binding", "site", "site_final", "status", "E_ads_eV", "E_total_eV",
    "bound_to", "anomaly", "excluded", "converged", "max_force", "flag", "steps", "calculator", "calc_version",
    "settings_hash", "reference",
    "job_id", "db_id",
]
BEST_COLUMNS = [
    "catalyst", "adsorbate", "site", "site_final", "binding", "E_ads_eV", "calculator", "calc_version", "settings_hash",
    "reference", "bound_to", "anomaly", "valid", "converged", "flag", "n_sites", "job_id",
]

# Console markers of a value that is not a clean number (legend printed under every table).
FLAG_MARKERS = {"flagged": "!", "unconverged": "~"}


def quality_flag(row: dict[str, Any]) -> str:
    """'' for a converged, unflagged energy; else 'flagged: <why>' and/or 'unconverged (max force ...)'."""
    if row.get("E_ads_eV") is None:
        return ""
    parts = []
    if row.get("valid") is False or row.get("excluded") or is_excluded(row.get("anomaly") or ""):
        parts.append(f"flagged: {row.get('anomaly') or 'no intact bound site'}")
    if not row.get("converged"):
        mf = row.get("max_force")
        parts.append("unconverged" + (f" (max force {mf:.2f} eV/A)" if isinstance(mf, (int, float)) else ""))
    return "; ".join(parts)


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
    } | ({} if failed else {"flag": quality_flag({"E_ads_eV": 0.0, "anomaly": row.get("anomaly", ""),
                                                    "converged": row.get("converged", False),
                                                    "max_force": float(row.get("max_force", float("nan")))})})


def latest_rows(store: Store, **query) -> dict[str, Any]:
    """job_id -> its newest row among ``store.rows(**query)`` (the row ``Store.get`` returns), in one read."""
    return {r.get("job_id"): r for r in sorted(store.rows(**query), key=lambda r: r.id)}


def site_rows(store: Store, job_ids: list[str] | None = None) -> list[dict[str, Any]]:
    if job_ids is None:
        rows = list(store.rows(kind="adsorbate"))
    else:  # the asked rows in a few queries (no data blobs), not a query per job
        found = store.get_many(job_ids, include_data=False)
        rows = [found[jid] for jid in dict.fromkeys(job_ids) if jid in found]
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
            row["flag"] = quality_flag({**row, "max_force": best.get("max_force")})
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
