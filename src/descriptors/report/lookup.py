"""Derived numbers of one catalyst (U_L, PDS, branch, dG(*H)) from an analysis summary, for
``no3rr lookup``."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["lookup_derived"]


def lookup_derived(db, catalyst: str, summary_path: str | Path | None = None) -> tuple[dict | None, str]:
    """U_L, PDS, branch, dG(*H) of ``catalyst`` from an analysis summary (``no3rr lookup``)."""
    if summary_path is None:
        if isinstance(db, str) and "://" in db:
            return None, "derived: no analysis summary for a database URL; pass --analysis FILE"
        summary_path = Path(db).parent / "analysis" / "analysis_summary.json"
    summary_path = Path(summary_path)
    if not summary_path.is_file():
        return None, (f"derived (U_L, PDS): no analysis at {summary_path}; run "
                      f"`no3rr analyze {db} --out {summary_path.parent}`")
    data = json.loads(summary_path.read_text())
    for row in data.get("catalysts", []):
        if row.get("catalyst") == catalyst:
            keep = ("U_L_V", "PDS", "dG_PDS_eV", "branch", "dG_H_eV", "U_L_minus_U_L_HER_V", "favours", "missing",
                    "flagged_used")
            d = {k: row.get(k) for k in keep}
            d.update({"corrections": data.get("corrections"), "nitrate_reference": data.get("nitrate_reference"),
                      "analysis": str(summary_path)})
            ul = f"{d['U_L_V']:+.3f} V vs RHE" if d["U_L_V"] is not None else _no_ul(row)
            used = (f"USES FLAGGED DATA ({d['flagged_used']}; analysis use_flagged = true)" if d.get("flagged_used")
                    else "from unflagged data only")
            unconv = row.get("unconverged_used")
            note = (f"{catalyst}: U_L = {ul}, PDS {d['PDS'] or '-'}, branch {d['branch'] or '-'}, "
                    f"dG(*H) = {d['dG_H_eV']} eV; {used}"
                    + (f"; unconverged: {unconv}" if unconv else "") + f" ({summary_path})")
            return d, note
    return None, f"derived: {catalyst} not in {summary_path}"


def _no_ul(row: dict) -> str:
    """'n/a' with the analysis' reason (the route it could not complete and the species missing)."""
    why = row.get("notes") or (f"missing {row['missing']}" if row.get("missing") else "")
    return f"n/a ({why})" if why else "n/a"


