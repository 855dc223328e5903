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
from pathlib import Path

from ase.io import write

from descriptors.convention import atomic_potentials
from descriptors.store import Store, best_rows, row_dict, site_rows

__all__ = ["export_structures", "write_catmap", "read_catmap", "tables", "FORMATS", "CATMAP_HEADER"]

FORMATS = {"poscar": ("vasp", ".POSCAR"), "cif": ("cif", ".cif"), "extxyz": ("extxyz", ".extxyz")}
# CatMAP's energies file (catmap/parsers/table_parser.py, TableParser; SUNCAT-Center/catmap,
# tutorials/*/energies.txt): tab-separated, one header line; required columns species_name,
# surface_name, site_name, formation_energy, frequencies (a Python list literal in cm^-1, read with
# eval and scaled by frequency_unit_conversion = 1.239842e-4 eV/cm^-1), reference; gas rows have
# surface_name 'None' and site_name 'gas'.  The column order of the tutorials' files (bulk_structure
# and other_parameters are not read by the default parse_headers; written as 'None' and '[]'):
CATMAP_HEADER = ["surface_name", "site_name", "species_name", "formation_energy", "bulk_structure", "frequencies",
                 "other_parameters", "reference"]


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
        f = _gas_modes(r, freqs.get(r.get("job_id")))
        lines.append(_catmap_line(["None", "gas", name, f"{e:.4f}", "None", _freqs(f), "[]",
                                   f"no3rr {r.get('calc')} job {r.get('job_id')}"]))
    n = 0
    for b in best_rows(site_rows(store), include_flagged=include_flagged):
        if b.get("E_ads_eV") is None or not (b.get("valid") or include_flagged):
            continue
        f = freqs.get(b.get("job_id"))
        ref = (f"no3rr {b.get('calculator')} site {b.get('site')} job {b.get('job_id')}"
               + (f"; {b['flag']}" if b.get("flag") else ""))
        lines.append(_catmap_line([_safe(b["catalyst"]), _safe(b.get("site_final") or b.get("site") or "site"),
                                   b["adsorbate"], f"{float(b['E_ads_eV']):.4f}", "None", _freqs(f), "[]", ref]))
        n += 1
    dest = Path(dest)
    dest.write_text("\n".join(lines) + "\n")
    return dest, n


def _gas_modes(row, f):
    """The 3N-6 (linear: 3N-5) vibrations of a gas molecule, the highest of its harmonic modes:
    CatMAP's ideal-gas thermochemistry takes the vibrations only (the near-zero translations and
    rotations of a finite-difference calculation are not vibrations)."""
    if f is None:
        return None
    import numpy as np

    atoms = row.toatoms()
    n = len(atoms)
    if n == 1:
        return []
    x = atoms.positions - atoms.positions.mean(axis=0)
    linear = n == 2 or np.linalg.svd(x, compute_uv=False)[1] < 1e-3
    k = 3 * n - (5 if linear else 6)
    return sorted(f)[-k:] if k > 0 else []


def _catmap_line(fields: list[str]) -> str:
    """One line of the file: CatMAP splits on tabs and lines on newlines, so neither may be in a field."""
    return "\t".join(" ".join(str(f).split()) for f in fields)


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
    """Rows of a CatMAP energies file as CatMAP's TableParser reads them: lines split on '\n' (empty
    ones dropped), the header on tabs (stripped), each line on tabs into at most as many fields as
    headers (a line with fewer is skipped, as CatMAP does); formation_energy as float, frequencies
    as a list (ast.literal_eval where CatMAP uses eval)."""
    lines = [line for line in Path(path).read_text().split("\n") if line]
    headers = [h.strip() for h in lines.pop(0).split("\t")]
    missing = [h for h in ("species_name", "surface_name", "site_name", "formation_energy", "frequencies", "reference")
               if h not in headers]
    if missing:
        raise ValueError(f"{path}: not a CatMAP energies file (missing columns {missing})")
    rows = []
    for line in lines:
        row = dict(zip(headers, line.split("\t", len(headers))))
        if len(row) != len(headers):
            continue
        row["formation_energy"] = float(row["formation_energy"])
        row["frequencies"] = ast.literal_eval(row["frequencies"])
        rows.append(row)
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
