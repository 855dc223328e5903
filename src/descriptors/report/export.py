"""Exports where the field expects them: stored structures as POSCAR, CIF or extxyz (ase.io), the
energies as a CatMAP energies file, and the tables as pandas DataFrames for notebooks.

CatMAP reads a tab-separated text file with the header
``surface_name  site_name  species_name  formation_energy  frequencies  reference`` (CatMAP
tutorials, "Creating an input file"): gas rows have surface ``None`` and site ``gas``; adsorbate
rows name the surface and site.  Our formation energies are the adsorption energies on the
atomic-reference convention of convention.py (references H2, H2O, NH3 have formation energy 0),
so gases other than the references get E(gas) - sum n_X mu_X.  Frequencies are the stored
harmonic frequencies (cm^-1) when a vibration job exists, else ``[]``.
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

from ase.io import write

from descriptors.convention import atomic_potentials
from descriptors.store import Store, best_rows, row_dict, site_rows

__all__ = ["export_structures", "write_catmap", "read_catmap", "tables", "FORMATS", "CATMAP_HEADER"]

FORMATS = {"poscar": ("vasp", ".POSCAR"), "cif": ("cif", ".cif"), "extxyz": ("extxyz", ".extxyz")}
CATMAP_HEADER = ["surface_name", "site_name", "species_name", "formation_energy", "frequencies", "reference"]


def _safe(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(s)).strip("_")


def export_structures(store: Store, fmt: str, dest: str | Path, kind: str = "adsorbate", catalyst: str | None = None,
                      adsorbate: str | None = None, job_id: str | None = None) -> list[Path]:
    """Write every stored structure matching the query as one file each; return the paths."""
    if fmt not in FORMATS:
        raise ValueError(f"--format {fmt!r}: choose one of {sorted(FORMATS)}")
    aseformat, ext = FORMATS[fmt]
    q = {"kind": kind} if not job_id else {"job_id": job_id}
    if catalyst:
        q["catalyst"] = catalyst
    if adsorbate:
        q["adsorbate"] = adsorbate
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for row in store.select(**q):
        if row.get("status") == "failed":
            continue
        atoms = row.toatoms()
        name = "_".join(_safe(x) for x in (row.get("catalyst") or row.get("molecule") or row.get("metal") or row.get("kind"),
                                           row.get("adsorbate"), row.get("site"), row.get("job_id", "")[:8]) if x)
        p = dest / f"{name}{ext}"
        kw = {"direct": True, "sort": False} if fmt == "poscar" else {}
        write(p, atoms, format=aseformat, **kw)
        out.append(p)
    return out


def write_catmap(store: Store, dest: str | Path, include_flagged: bool = False) -> tuple[Path, int]:
    """CatMAP energies file of the best site per (catalyst, adsorbate) and the gas molecules."""
    gas = {r.get("molecule"): r for r in store.select(kind="gas") if r.get("status") != "failed"}
    mu = atomic_potentials({k: r.energy for k, r in gas.items() if k in ("H2", "H2O", "NH3")})
    freqs = {r.get("vib_of"): _cm1(r) for r in store.select(kind="vib") if r.get("status") != "failed"}
    lines = ["\t".join(CATMAP_HEADER)]
    from ase.formula import Formula

    for name, r in sorted(gas.items()):
        counts = Formula(name).count()
        if not set(counts) <= set(mu):
            continue
        e = r.energy - sum(n * mu[el] for el, n in counts.items())
        f = freqs.get(r.get("job_id"))
        lines.append("\t".join(["None", "gas", name, f"{e:.4f}", _freqs(f), f"no3rr {r.get('calc')}"]))
    n = 0
    for b in best_rows(site_rows(store), include_flagged=include_flagged):
        if b.get("E_ads_eV") is None or not (b.get("valid") or include_flagged):
            continue
        f = freqs.get(b.get("job_id"))
        ref = f"no3rr {b.get('calculator')} site {b.get('site')}" + (f"; {b['flag']}" if b.get("flag") else "")
        lines.append("\t".join([_safe(b["catalyst"]), _safe(b.get("site_final") or b.get("site") or "site"),
                                b["adsorbate"], f"{float(b['E_ads_eV']):.4f}", _freqs(f), ref]))
        n += 1
    dest = Path(dest)
    dest.write_text("\n".join(lines) + "\n")
    return dest, n


def _cm1(row):
    """Real mode energies of a vib row (eV) in cm^-1 (imaginary and zero modes dropped)."""
    from ase.units import invcm

    e = row.get("vib_energies_real", None)
    if e is None:
        e = row.data.get("vib_energies_real")
    return None if e is None else [x / invcm for x in e if x > 1e-4]


def _freqs(f) -> str:
    if f is None:
        return "[]"
    vals = [round(float(abs(x)), 1) for x in (f if isinstance(f, (list, tuple)) else list(f))]
    return "[" + ", ".join(f"{v}" for v in vals) + "]"


def read_catmap(path: str | Path) -> list[dict]:
    """Rows of a CatMAP energies file (formation_energy as float, frequencies as a list)."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for r in rows:
        r["formation_energy"] = float(r["formation_energy"])
        r["frequencies"] = ast.literal_eval(r["frequencies"])
    return rows


def tables(source: str | Path, include_flagged: bool = False) -> dict:
    """The tables of a screen as pandas DataFrames: ``sites``, ``best`` and, when an analysis exists
    next to the database, ``summary`` and ``free_energies``.  ``source``: screen.db or its directory.

    >>> from descriptors.report.export import tables
    >>> t = tables("results/quickstart"); t["best"].query("flag == ''")
    """
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - pandas is an optional extra
        raise ImportError("the DataFrame API needs pandas: pip install 'no3rr-descriptors[notebook]'") from e
    source = Path(source)
    db = source / "screen.db" if source.is_dir() else source
    store = Store(db)
    sites = [row_dict(r) for r in store.select(kind="adsorbate")]
    out = {"sites": pd.DataFrame(sites), "best": pd.DataFrame(best_rows(sites, include_flagged=include_flagged))}
    an = db.parent / "analysis"
    for key, name in (("summary", "analysis_summary.csv"), ("free_energies", "free_energies.csv")):
        if (an / name).is_file():
            out[key] = pd.read_csv(an / name, keep_default_na=False)
    return out
