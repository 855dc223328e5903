"""The external reference table of the fidelity report (``no3rr fidelity --reference``): a CSV of
(catalyst, adsorbate, energy) compared with a level's best E_ads per pair after removing each
adsorbate's mean offset -- the trend a screen ranks by."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_reference", "compare_reference"]


def read_reference(path: str | Path) -> dict[tuple[str, str], float]:
    """A reference table: CSV with columns catalyst, adsorbate, energy (eV); '#' lines ignored."""
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.lstrip().startswith("#")))
    need = {"catalyst", "adsorbate", "energy"}
    if not rows or not need <= set(rows[0]):
        raise ValueError(f"--reference {path}: needs the columns {sorted(need)}, found "
                         f"{sorted(rows[0]) if rows else 'no rows'}")
    out = {}
    for i, r in enumerate(rows, start=2):
        try:
            out[(r["catalyst"].strip(), r["adsorbate"].strip())] = float(r["energy"])
        except (TypeError, ValueError):
            raise ValueError(f"--reference {path}, line {i}: energy {r.get('energy')!r} is not a number") from None
    return out



def compare_reference(best: dict[tuple[str, str], float], ref: dict[tuple[str, str], float]) -> dict[str, Any]:
    """Trend against a reference after removing each adsorbate's mean offset (level - reference)."""
    from scipy.stats import linregress, pearsonr

    shared = sorted(set(best) & set(ref))
    out: dict[str, Any] = {"n": len(shared), "per_adsorbate": {}}
    xs, ys = [], []
    for ads in sorted({a for _, a in shared}):
        keys = [k for k in shared if k[1] == ads]
        r = np.array([ref[k] for k in keys])
        y = np.array([best[k] for k in keys])
        offset = float((y - r).mean())
        d = y - offset - r
        st: dict[str, Any] = {"n": len(keys), "offset": offset, "mae_after_offset": float(np.abs(d).mean()),
                              "max_after_offset": float(np.abs(d).max()), "mae_raw": float(np.abs(y - r).mean())}
        if len(keys) >= 3 and np.ptp(r) > 0 and np.ptp(y) > 0:
            st["slope"] = float(linregress(r, y).slope)
            st["pearson"] = float(pearsonr(r, y)[0])
        out["per_adsorbate"][ads] = st
        xs += list(r)
        ys += list(y - offset)
    if len(xs) >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0:
        x, y = np.array(xs), np.array(ys)
        out.update(mae_after_offset=float(np.abs(y - x).mean()), slope=float(linregress(x, y).slope),
                   pearson=float(pearsonr(x, y)[0]))
    out["missing"] = sorted(f"{c}/{a}" for c, a in set(ref) - set(best))
    return out
