"""From adsorption energies to free energies, limiting potentials, scaling relations and volcanoes.

Input: a screen database (``screen.db``) or a CSV of energies computed elsewhere, one row per
(catalyst, species), with the columns

    catalyst,species,E_ads_eV   adsorption energies on the atomic-reference convention of
                                references.py, converted with the configured corrections;
    catalyst,species,G_eV       free energies of the states on the common scale (relative to the
                                clean site + NO3-(aq) + the needed (H+ + e-) pairs at 0 V vs RHE);
                                *H, *O, *OH relative to the clean site + H+/e- pairs (+ H2O).

Species are spelled ``*NO3``, ``*NO2``, ``*NO``, ``*NOH``, ``*HNO``, ``*NHOH``, ``*NH2OH``, ``*N``,
``*NH``, ``*NH2``, ``*NH3``, ``*H``, ``*O``, ``*OH`` (``NH3(g)`` optionally gives the final state).

Output (``write_outputs``): ``analysis_summary.csv``/``.json`` (catalyst, U_L, PDS, branch, dG(*H),
selectivity indicators, what is missing), ``free_energies.csv`` (every state and every step),
``scaling_relations.csv``, ``volcano.json`` and the figures of plots.py.  Every file names the
calculator, the corrections and the nitrate reference that produced it.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .adsorbates import ADSORBATES, adsorbate_formula_counts
from .network import ADSORBATE_STATES, FINAL, NitrateReference, PathwayResult, analyze_pathway, state_energies
from .report import write_csv
from .thermo import (NO_CORRECTION, Correction, correction_from_vib_row, free_energy_potentials, load_table,
                     plan_vib_jobs)

__all__ = ["AnalysisSettings", "Dataset", "AnalysisResult", "load_csv", "load_store", "run_analysis",
           "write_outputs", "analyze", "plan_screen_vibrations", "SPECIES", "CORRECTION_MODES"]

SPECIES = tuple(f"*{n}" for n in ADSORBATES)  # the package's intermediates, '*'-prefixed
CORRECTION_MODES = ("computed", "table", "none")
GASES_NEEDED = ("H2", "H2O", "NH3")


@dataclass
class AnalysisSettings:
    potential: float = 0.0  # V vs RHE, for the dG(U) columns
    pH: float = 0.0
    temperature: float = 298.15  # K
    corrections: str = "computed"  # computed | table | none | path to a table JSON
    nitrate_reference: str = "equilibrium"  # equilibrium | hno3
    equilibrium_potential: float | None = None  # V vs RHE at pH 0; None: from formation energies
    descriptors: tuple[str, ...] = ("*N", "*NO3")  # each gives a 1D volcano; two give the 2D one too
    use_flagged: bool = False  # db input: also use sites flagged by the geometry checks (marked in every output)
    confidence: float = 0.95
    level: str = "screen"  # db input: the screen's own energies, or those of its [verify] level

    def __post_init__(self):
        self.descriptors = tuple(_species(d, "descriptors") for d in self.descriptors)
        if not 1 <= len(self.descriptors) <= 2:
            raise ValueError("descriptors: give one or two species, e.g. ['*N'] or ['*N', '*NO3']")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0 K")
        if self.level not in LEVELS:
            raise ValueError(f"level: {self.level!r} is not one of {LEVELS}")
        self.reference  # validates the scheme

    @property
    def reference(self) -> NitrateReference:
        return NitrateReference(self.nitrate_reference, self.equilibrium_potential)

    @property
    def correction_mode(self) -> str:
        return self.corrections if self.corrections in CORRECTION_MODES else "table"

    def as_dict(self) -> dict[str, Any]:
        return {"potential_V_RHE": self.potential, "pH": self.pH, "temperature_K": self.temperature,
                "corrections": self.corrections, "nitrate_reference": self.nitrate_reference,
                "equilibrium_potential": self.equilibrium_potential, "descriptors": list(self.descriptors),
                "use_flagged": self.use_flagged, "level": self.level}


def _species(name: str, where: str) -> str:
    s = str(name).strip()
    if s == FINAL:
        return s
    key = s if s.startswith("*") else "*" + s
    alias = {"*NHO": "*HNO", "*NO3-": "*NO3"}
    key = alias.get(key, key)
    if key not in SPECIES:
        raise ValueError(f"{where}: unknown species {name!r}; use one of {', '.join(SPECIES)}")
    return key


@dataclass
class Dataset:
    """Adsorption free energies per catalyst on the atomic-reference scale, with provenance."""

    source: str
    kind: str  # 'store' | 'E_ads' | 'G'
    g_ads: dict[str, dict[str, float]]
    provenance: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    invalid: dict[str, dict[str, str]] = field(default_factory=dict)
    g_ads_hno3: float | None = None
    final: dict[str, float] = field(default_factory=dict)  # catalyst -> G of NH3(g) state when given
    calculator: str = "unknown (user-supplied energies)"
    flagged: dict[str, list[str]] = field(default_factory=dict)  # species used although geometry-flagged
    corrections: str = ""
    notes: list[str] = field(default_factory=list)


# -- loading -----------------------------------------------------------------------------------

def load_csv(path: str | Path, settings: AnalysisSettings, corrections_given: bool = True) -> Dataset:
    """Read ``catalyst,species,E_ads_eV`` or ``catalyst,species,G_eV`` (see the module docstring)."""
    path = Path(path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = set(rows[0]) if rows else set()
    if not rows or not {"catalyst", "species"} <= cols or not ({"E_ads_eV", "G_eV"} & cols):
        raise ValueError(f"{path}: need a header 'catalyst,species,E_ads_eV' or 'catalyst,species,G_eV' and rows")
    if {"E_ads_eV", "G_eV"} <= cols:
        raise ValueError(f"{path}: give either E_ads_eV or G_eV, not both")
    kind = "G" if "G_eV" in cols else "E_ads"
    col = "G_eV" if kind == "G" else "E_ads_eV"
    values: dict[str, dict[str, float]] = {}
    final: dict[str, float] = {}
    for i, r in enumerate(rows, start=2):
        cat = (r.get("catalyst") or "").strip()
        if not cat:
            raise ValueError(f"{path} line {i}: empty catalyst")
        try:
            sp = _species(r["species"], f"{path} line {i}")
        except ValueError as err:
            raise ValueError(str(err)) from None
        try:
            v = float(r[col])
        except (TypeError, ValueError):
            raise ValueError(f"{path} line {i}: {col} {r.get(col)!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{path} line {i}: {col} is not finite")
        if sp == FINAL:
            final[cat] = v
            continue
        if sp in values.setdefault(cat, {}):
            raise ValueError(f"{path} line {i}: {cat} {sp} given twice")
        values[cat][sp] = v
    ds = Dataset(str(path), kind, {}, calculator="unknown (user-supplied energies in CSV)")
    if kind == "G":
        x = None
        for cat, vals in values.items():
            if cat in final:
                xc = -final[cat]
            else:
                if x is None:
                    x = settings.reference.x(settings.pH, settings.temperature)
                xc = x
            ds.g_ads[cat] = {sp: (v + xc if sp in ADSORBATE_STATES else v) for sp, v in vals.items()}
            ds.provenance[cat] = {sp: {"input": "G_eV", "value": v, "correction": "given (free energy)"}
                                  for sp, v in vals.items()}
        ds.final = final
        ds.corrections = "free energies given in the CSV"
        return ds
    if not corrections_given:
        raise ValueError(f"{path}: E_ads_eV input needs the free-energy corrections named: --corrections none "
                         "(electronic energies only), table (the package table), or a table file of your own")
    mode = settings.correction_mode
    if mode == "computed":
        raise ValueError("corrections 'computed' needs structures (a screen database); for a CSV use 'none', "
                         "'table' or a table file")
    table = load_table(None if settings.corrections == "table" else settings.corrections) if mode == "table" else None
    dmu, gas_src = _gas_corrections_table(table, settings) if table else ({"H": 0.0, "O": 0.0, "N": 0.0}, "none")
    for cat, vals in values.items():
        ds.g_ads[cat], ds.provenance[cat] = {}, {}
        for sp, e in vals.items():
            corr = NO_CORRECTION if table is None else table.get(sp)
            if corr is None:
                ds.invalid.setdefault(cat, {})[sp] = f"no tabulated correction for {sp} in {table.path.name}"
                continue
            g = e + corr.dg - _ref_shift(sp, dmu)
            ds.g_ads[cat][sp] = g
            ds.provenance[cat][sp] = {"input": "E_ads_eV", "E_ads_eV": e, "correction": corr.as_dict()}
    ds.final = final
    ds.corrections = "none (electronic energies)" if table is None else f"table {table.path} ({gas_src})"
    return ds


def _ref_shift(species: str, dmu: dict[str, float]) -> float:
    counts = adsorbate_formula_counts(ADSORBATES[species.lstrip("*")].symbols)
    return sum(n * dmu[el] for el, n in counts.items())


def _gas_corrections_table(table, settings: AnalysisSettings) -> tuple[dict[str, float], str]:
    if abs(table.temperature - settings.temperature) > 1e-6:
        raise ValueError(f"corrections table {table.path} is for {table.temperature} K but the analysis asks for "
                         f"{settings.temperature} K; use corrections='computed' or a table at that temperature")
    corr = {}
    for g in GASES_NEEDED:
        c = table.get(f"{g}(g)")
        if c is None:
            raise ValueError(f"corrections table {table.path}: no entry '{g}(g)'; the atomic references "
                             f"(mu_H, mu_O, mu_N) need H2(g), H2O(g) and NH3(g). Add it with its source, or use "
                             f"corrections='computed' (screen) or 'none'")
        corr[g] = c
    return free_energy_potentials(corr), "gas references from the table"


LEVELS = ("screen", "verify")


def level_rows(store, level: str = "screen", calc_hash: str | None = None) -> tuple[list[dict], list, str]:
    """Adsorbate site rows and gas rows of one calculator level of a screen database.

    A database can hold two levels (a cheap screen and its ``[verify]`` level, see verify.py);
    energies of different calculators never enter one analysis.  ``level`` picks the screen's own
    rows or the verifying ones; within a level every row must come from one calculator setting
    (``calc_hash``), and the gas references are taken from that same setting.
    """
    from .report import site_rows

    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {LEVELS}")
    meta = {r.get("job_id"): r for r in store.select(kind="adsorbate")}

    def lvl(jid):
        r = meta.get(jid)
        return (r.get("level") or "screen") if r is not None else "screen"

    rows = [r for r in site_rows(store) if lvl(r.get("job_id")) == level]
    if calc_hash is not None:
        rows = [r for r in rows if meta[r["job_id"]].get("calc_hash") == calc_hash]
    hashes = sorted({meta[r["job_id"]].get("calc_hash") for r in rows if r.get("job_id") in meta} - {None})
    if len(hashes) > 1:
        names = sorted({f"{r['calculator']} ({meta[r['job_id']].get('calc_hash')})" for r in rows})
        raise ValueError(f"{store.location}: the {level} level holds adsorbate energies of {len(hashes)} calculator "
                         f"settings ({', '.join(names)}); analyse one screen per database, or give its "
                         f"calculator hash")
    chash = hashes[0] if hashes else calc_hash
    gas = [g for g in store.select(kind="gas") if chash is None or g.get("calc_hash") in (chash, None)]
    return rows, gas, chash or ""


def plan_screen_vibrations(store, setting, use_flagged: bool = False) -> list:
    """``vib`` jobs for the best site of every (catalyst, adsorbate) used by the analysis (valid
    ones, or also flagged ones with ``use_flagged``) and every gas reference, all computed with
    ``setting`` on the rows of that same calculator setting."""
    from .report import best_rows

    parents = []
    sites, gas_rows, _ = level_rows(store, "screen", calc_hash=setting.hash)
    for r in best_rows(sites, include_flagged=use_flagged):
        if not (r.get("valid") or use_flagged) or not r.get("job_id") or r.get("E_ads_eV") is None:
            continue
        row = store.get(r["job_id"])
        if row is None or "adsorbate_indices" not in row.data:
            continue
        parents.append((r["job_id"], list(row.data["adsorbate_indices"]),
                        {"adsorbate": r["adsorbate"], "site": r.get("site"), "vib_kind": "adsorbate"}))
    for row in gas_rows:
        if row.get("status") != "failed":
            parents.append((row.get("job_id"), list(range(row.natoms)),
                            {"molecule": row.get("molecule"), "catalyst": "gas", "vib_kind": "gas"}))
    return plan_vib_jobs(store, parents, setting)


def _vib_rows(store) -> dict[str, Any]:
    return {r.get("vib_of"): r for r in store.select(kind="vib")}


def load_store(db, settings: AnalysisSettings) -> Dataset:
    """Best valid site per (catalyst, adsorbate) from a screen database, corrected to free energies."""
    from .report import best_rows
    from .store import Store

    if isinstance(db, Store):
        store, db = db, db.location
    else:
        db = Path(db)
        if not db.is_file():
            raise ValueError(f"{db}: no such database; give the screen.db of a screen or a CSV file")
        store = Store(db)
    sites, gas_list, _ = level_rows(store, settings.level)
    best = best_rows(sites, include_flagged=settings.use_flagged)
    if not best:
        raise ValueError(f"{db}: no adsorbate rows at the {settings.level} level; run `no3rr screen SPEC` first"
                         + (" with a [verify] table" if settings.level == "verify" else ""))
    calcs = sorted({r["calculator"] for r in best if r.get("calculator")})
    gas_rows = {r.get("molecule"): r for r in gas_list if r.get("status") != "failed"}
    missing_gas = [g for g in GASES_NEEDED if g not in gas_rows]
    if missing_gas:
        raise ValueError(f"{db}: gas references {missing_gas} missing or failed; see `ase db {db} kind=gas`")
    mode = settings.correction_mode
    vibs = _vib_rows(store) if mode == "computed" else {}
    table = load_table(None if settings.corrections == "table" else settings.corrections) if mode == "table" else None
    T = settings.temperature

    def gas_corr(name: str) -> Correction | None:
        if mode == "none":
            return NO_CORRECTION
        if mode == "table":
            return table.get(f"{name}(g)")
        v = vibs.get(gas_rows[name].get("job_id"))
        if v is None or v.get("status") == "failed":
            return None
        return correction_from_vib_row(v, T, gas=name)

    gcorr = {}
    for g in GASES_NEEDED:
        c = gas_corr(g)
        if c is None:
            how = ("run the vibrations: `no3rr analyze` on the db does it, or a screen with [analysis] "
                   "corrections='computed'") if mode == "computed" else f"add '{g}(g)' to {table.path}"
            raise ValueError(f"{db}: no free-energy correction for gas {g}; {how}")
        gcorr[g] = c
    dmu = free_energy_potentials(gcorr)
    ds = Dataset(str(db), "store", {}, calculator=", ".join(calcs) or "unknown")
    ds.corrections = {"none": "none (electronic energies)", "table": f"table {table.path if table else ''}",
                      "computed": "computed: harmonic adsorbate vibrations, ideal-gas molecules"}[mode]
    if table is not None:
        _gas_corrections_table(table, settings)  # temperature check
    for r in best:
        cat, ads = r["catalyst"], "*" + r["adsorbate"]
        ds.g_ads.setdefault(cat, {})
        ds.provenance.setdefault(cat, {})
        if r.get("E_ads_eV") is None or not (r.get("valid") or settings.use_flagged):
            ds.invalid.setdefault(cat, {})[ads] = r.get("anomaly") or "no valid site"
            continue
        if mode == "none":
            corr = NO_CORRECTION
        elif mode == "table":
            corr = table.get(ads)
            if corr is None:
                ds.invalid.setdefault(cat, {})[ads] = f"no tabulated correction in {table.path.name}"
                continue
        else:
            v = vibs.get(r["job_id"])
            if v is None or v.get("status") == "failed":
                ds.invalid.setdefault(cat, {})[ads] = ("vibration job failed: " + str(v.get("error"))) if v is not None \
                    else "no vibration job (not computed yet)"
                continue
            corr = correction_from_vib_row(v, T)
        ds.g_ads[cat][ads] = float(r["E_ads_eV"]) + corr.dg - _ref_shift(ads, dmu)
        ds.provenance[cat][ads] = {"E_ads_eV": r["E_ads_eV"], "site": r.get("site"), "binding": r.get("binding"),
                                   "job_id": r.get("job_id"), "calculator": r.get("calculator"),
                                   "correction": corr.as_dict(), "flagged": "" if r.get("valid") else
                                   (r.get("anomaly") or "flagged")}
        if not r.get("valid"):
            ds.flagged.setdefault(cat, []).append(ads)
    # HNO3 on the atomic free-energy scale, for the 'hno3' nitrate reference.
    if "HNO3" in gas_rows:
        from .references import atomic_potentials

        mu_e = atomic_potentials({k: v.energy for k, v in gas_rows.items()})
        c = gas_corr("HNO3")
        if c is not None:
            ds.g_ads_hno3 = (gas_rows["HNO3"].energy + c.dg - (mu_e["H"] + dmu["H"]) - (mu_e["N"] + dmu["N"])
                             - 3 * (mu_e["O"] + dmu["O"]))
    ds.notes.append("gas corrections: " + "; ".join(f"{g}: {c.method} dG={c.dg:+.3f} eV" for g, c in gcorr.items()))
    return ds


# -- the analysis --------------------------------------------------------------------------------

@dataclass
class AnalysisResult:
    settings: AnalysisSettings
    dataset: Dataset
    x_ref: float
    reference_text: str
    pathways: dict[str, PathwayResult]
    fits: dict[str, Any]
    fit_skipped: dict[str, str]
    volcanoes_1d: dict[str, Any]
    volcano_2d: Any
    volcano_errors: list[str]
    fits_2d: dict[str, Any] = field(default_factory=dict)

    def summary_rows(self) -> list[dict[str, Any]]:
        rows = []
        for cat, pw in self.pathways.items():
            row = pw.summary()
            row.update({f"G_{d}_eV": _round(self.dataset.g_ads.get(cat, {}).get(d)) for d in self.settings.descriptors})
            row.update({"flagged_used": " ".join(self.dataset.flagged.get(cat, [])),
                        "potential_V_RHE": self.settings.potential,
                        "dG_PDS_at_U_eV": _round(pw.step_dG(pw.PDS) if pw.PDS else None),
                        "calculator": self.dataset.calculator, "corrections": self.dataset.corrections,
                        "nitrate_reference": self.settings.nitrate_reference, "pH": self.settings.pH,
                        "temperature_K": self.settings.temperature})
            rows.append(row)
        return rows


def _round(x, nd=4):
    return None if x is None else round(float(x), nd)


def run_analysis(ds: Dataset, settings: AnalysisSettings) -> AnalysisResult:
    from .scaling import fit_all
    from .volcano import volcano_1d, volcano_2d

    ref = settings.reference
    if ref.scheme == "hno3" and ds.g_ads_hno3 is None:
        raise ValueError("nitrate_reference 'hno3' needs gas-phase HNO3 from the calculator (a screen database "
                         "with its HNO3 reference and its free-energy correction); use 'equilibrium' otherwise")
    x_ref = ref.x(settings.pH, settings.temperature, ds.g_ads_hno3)
    text = ref.describe(settings.pH, settings.temperature, ds.g_ads_hno3)
    pathways = {}
    for cat, g in ds.g_ads.items():
        states = state_energies(g, x_ref)
        if cat in ds.final:
            states[FINAL] = ds.final[cat]
        pathways[cat] = analyze_pathway(cat, states, settings.potential, g.get("*H"), ds.invalid.get(cat))
    targets = [s for s in ADSORBATE_STATES]
    fits, skipped = {}, {}
    v1, errors, v2, fits2 = {}, [], None, {}
    for d in settings.descriptors:
        f, sk = fit_all(ds.g_ads, [d], targets, settings.confidence)
        fits[d], skipped[d] = f, sk
        xs = [g[d] for g in ds.g_ads.values() if d in g]
        if len(xs) < 3:
            errors.append(f"1D volcano in {d}: {len(xs)} catalyst(s) have {d}; need at least 3")
            continue
        lo, hi = min(xs), max(xs)
        pad = max(0.5, 0.25 * (hi - lo))
        try:
            lo, hi = lo - pad, hi + pad
            v1[d] = volcano_1d(f, d, x_ref, lo, hi)
            for _ in range(3):  # an apex on the range edge: widen that side (1 eV a time, 3 at most)
                if not v1[d].apex_on_edge:
                    break
                lo, hi = (lo - 1.0, hi) if abs(v1[d].apex_x - lo) < 1e-9 else (lo, hi + 1.0)
                v1[d] = volcano_1d(f, d, x_ref, lo, hi)
        except ValueError as err:
            errors.append(f"1D volcano in {d}: {err} ({'; '.join(f'{k}: {v}' for k, v in sk.items())})")
    if len(settings.descriptors) == 2:
        f2, sk2 = fit_all(ds.g_ads, list(settings.descriptors), targets, settings.confidence)
        fits2 = f2
        skipped["2D"] = sk2
        pts = [(g[settings.descriptors[0]], g[settings.descriptors[1]]) for g in ds.g_ads.values()
               if all(d in g for d in settings.descriptors)]
        if len(pts) >= 4:
            a = np.array(pts)
            rng = []
            for j in range(2):
                lo, hi = a[:, j].min(), a[:, j].max()
                pad = max(0.5, 0.25 * (hi - lo))
                rng.append((lo - pad, hi + pad))
            try:
                v2 = volcano_2d(f2, settings.descriptors, x_ref, rng[0], rng[1])
            except ValueError as err:
                errors.append(f"2D volcano: {err} ({'; '.join(f'{k}: {v}' for k, v in sk2.items())})")
        else:
            errors.append(f"2D volcano: {len(pts)} catalyst(s) have both descriptors; need at least 4")
    return AnalysisResult(settings, ds, x_ref, text, pathways, fits, skipped, v1, v2, errors, fits2)


# -- outputs -------------------------------------------------------------------------------------

SUMMARY_COLUMNS = [
    "catalyst", "U_L_V", "PDS", "dG_PDS_eV", "branch", "path", "dG_H_eV", "U_L_HER_V", "U_L_minus_U_L_HER_V",
    "favours", "flagged_used", "dG_NO3_ads_eV", "dG_NO3_ads_at_UL_eV", "dG_2N_to_N2_eV", "dG_N_to_NH_at_UL_eV", "N_product",
    "potential_V_RHE", "dG_PDS_at_U_eV", "missing", "notes", "calculator", "corrections", "nitrate_reference", "pH",
    "temperature_K",
]


def write_outputs(res: AnalysisResult, out: str | Path, plots: bool = True) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = res.settings
    paths: dict[str, Path] = {}
    rows = res.summary_rows()
    cols = SUMMARY_COLUMNS[:5] + [f"G_{d}_eV" for d in s.descriptors] + SUMMARY_COLUMNS[5:]
    paths["summary_csv"] = out / "analysis_summary.csv"
    write_csv(paths["summary_csv"], cols, rows)
    # every state and step
    fe = []
    for cat, pw in res.pathways.items():
        for name, g in pw.states.items():
            prov = res.dataset.provenance.get(cat, {}).get(name, {})
            corr = prov.get("correction")
            fe.append({"catalyst": cat, "kind": "state", "name": name, "n_e": "", "G_or_dG_0_eV": round(g, 4),
                       "dG_U_eV": "", "E_ads_eV": prov.get("E_ads_eV", ""), "site": prov.get("site", ""),
                       "correction": (corr.get("method") if isinstance(corr, dict) else corr) or "",
                       "correction_dG_eV": round(corr["dG"], 4) if isinstance(corr, dict) else ""})
        for st in pw.steps:
            fe.append({"catalyst": cat, "kind": "step", "name": st["equation"], "n_e": st["n_e"],
                       "G_or_dG_0_eV": round(st["dG_0"], 4), "dG_U_eV": round(st["dG_U"], 4)})
    paths["free_energies_csv"] = out / "free_energies.csv"
    write_csv(paths["free_energies_csv"], ["catalyst", "kind", "name", "n_e", "G_or_dG_0_eV", "dG_U_eV", "E_ads_eV",
                                            "site", "correction", "correction_dG_eV"], fe)
    fit_rows = []
    for d, fits in list(res.fits.items()) + ([("2D", res.fits_2d)] if res.fits_2d else []):
        for t, f in fits.items():
            if f.identity:
                continue
            r = f.as_dict()
            r["descriptor_set"] = d
            for k in list(r):
                if isinstance(r[k], list):
                    r[k] = " ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r[k])
            fit_rows.append(r)
    fcols = sorted({k for r in fit_rows for k in r}, key=lambda k: (k not in ("descriptor_set", "target", "equation"), k))
    paths["scaling_csv"] = out / "scaling_relations.csv"
    write_csv(paths["scaling_csv"], fcols or ["descriptor_set", "target"], fit_rows)
    meta = {
        "calculator": res.dataset.calculator,
        "source": res.dataset.source,
        "input": res.dataset.kind,
        "corrections": res.dataset.corrections,
        "settings": s.as_dict(),
        "nitrate_reference": res.reference_text,
        "convention": ("states relative to * + NO3-(aq) + 9 (H+ + e-) at 0 V vs RHE; CHE: a step consuming n "
                       "electrons shifts by n e U; U_L = min over reduction steps of -dG/n on the best path"),
        "notes": res.dataset.notes,
    }
    summary = {**meta, "catalysts": rows, "volcano_errors": res.volcano_errors,
               "volcanoes_1d": {d: v.as_dict() for d, v in res.volcanoes_1d.items()},
               "volcano_2d": res.volcano_2d.as_dict() if res.volcano_2d is not None else None,
               "scaling_skipped": res.fit_skipped,
               "pathways": {c: {"states_eV": pw.states, "paths": pw.paths, "steps": pw.steps}
                            for c, pw in res.pathways.items()}}
    paths["summary_json"] = out / "analysis_summary.json"
    paths["summary_json"].write_text(json.dumps(summary, indent=2, default=_json_default))
    paths["volcano_json"] = out / "volcano.json"
    paths["volcano_json"].write_text(json.dumps({**meta, "volcanoes_1d": summary["volcanoes_1d"],
                                                 "volcano_2d": summary["volcano_2d"],
                                                 "errors": res.volcano_errors}, indent=2, default=_json_default))
    if plots:
        paths.update(_plots_once(res, out, paths["summary_json"].read_text()))
    return paths


def _plots_once(res: AnalysisResult, out: Path, summary_text: str) -> dict[str, Path]:
    """Draw the figures, unless those of exactly this summary are already on disk.

    Drawing is most of the analysis' time (seconds per figure); a resumed screen whose numbers
    did not change keeps its figures instead of redrawing them.  The key is the SHA-256 of the
    summary JSON, which holds every number and setting the figures show.
    """
    import hashlib

    from . import plots as P

    key = hashlib.sha256(summary_text.encode()).hexdigest()
    index = out / "figures" / "index.json"
    if index.is_file():
        try:
            old = json.loads(index.read_text())
        except ValueError:
            old = {}
        kept = {k: Path(v) for k, v in old.get("figures", {}).items()}
        if old.get("summary_sha256") == key and kept and all(p.is_file() for p in kept.values()):
            return kept
    drawn = P.plot_all(res, out)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"summary_sha256": key, "figures": {k: str(v) for k, v in drawn.items()}}, indent=1))
    return drawn


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def analyze(source: str | Path, settings: AnalysisSettings, out: str | Path, corrections_given: bool = True,
            plots: bool = True, progress: bool = True) -> tuple[AnalysisResult, dict[str, Path]]:
    """Load (db or CSV), compute missing vibrations for a db with computed corrections, analyse, write."""
    source = Path(source)
    if source.suffix.lower() == ".csv":
        ds = load_csv(source, settings, corrections_given)
    else:
        if settings.correction_mode == "computed":
            run_vibrations_for_db(source, progress=progress, use_flagged=settings.use_flagged)
        ds = load_store(source, settings)
    res = run_analysis(ds, settings)
    return res, write_outputs(res, out, plots=plots)


def run_vibrations_for_db(db: str | Path, progress: bool = True, engine=None, use_flagged: bool = False) -> int:
    """Run the ``vib`` jobs of a screen database that are not stored yet (resumable)."""
    from .calculators import CalculatorSetting
    from .engine import Engine
    from .relax import RelaxSettings
    from .store import Store

    db = Path(db)
    if not db.is_file():
        raise ValueError(f"{db}: no such database; give the screen.db of a screen or a CSV file")
    if engine is None:
        store = Store(db)
        gas = next(iter(store.select(kind="gas")), None)
        if gas is None:
            raise ValueError(f"{db}: no gas references; is this a screen database?")
        cs = gas.data.get("calculator") or {}
        setting = CalculatorSetting(cs["name"], dict(cs.get("params", {})))
        if cs.get("version") and cs["version"] != setting.version:
            print(f"note: {db} was computed with {cs['name']} {cs['version']}, vibrations now use {setting.version}",
                  file=sys.stderr)
        rs = gas.data.get("relax") or {}
        engine = Engine(store, setting, RelaxSettings(**rs) if rs else RelaxSettings(), workers=1, progress=progress)
    jobs = plan_screen_vibrations(engine.store, engine.setting, use_flagged)
    engine.run(jobs, "vibrations")
    return len(jobs)


def analyze_screen(spec, store, engine, out: str | Path, log=print) -> dict[str, Path]:
    """The analysis stage of a screen (``[analysis]`` table): vibrations if computed, then everything.

    Writes into ``<out>/analysis``; returns the written paths.  Species without a valid site or a
    correction are reported per catalyst (``missing`` column), not dropped silently.
    """
    settings = spec.analysis.settings()
    if settings.correction_mode == "computed":
        jobs = plan_screen_vibrations(store, engine.setting, settings.use_flagged)
        engine.run(jobs, "vibrations")
    ds = load_store(store, settings)
    res = run_analysis(ds, settings)
    paths = write_outputs(res, Path(out) / "analysis")
    ok = [pw for pw in res.pathways.values() if pw.U_L is not None]
    log(f"analysis: U_L for {len(ok)} of {len(res.pathways)} catalysts ({res.dataset.corrections}; "
        f"{res.reference_text})")
    for d, v in res.volcanoes_1d.items():
        log(f"  volcano in {d}: apex at {v.apex_x:.2f} eV, U_L = {v.apex_U_L:.2f} V vs RHE")
    for e in res.volcano_errors:
        log(f"  {e}")
    return {f"analysis_{k}": v for k, v in paths.items()}


# -- command line --------------------------------------------------------------------------------

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
            ul = "n/a" if d["U_L_V"] is None else f"{d['U_L_V']:+.3f} V vs RHE"
            note = (f"{catalyst}: U_L = {ul}, PDS {d['PDS'] or '-'}, branch {d['branch'] or '-'}, "
                    f"dG(*H) = {d['dG_H_eV']} eV ({summary_path})")
            return d, note
    return None, f"derived: {catalyst} not in {summary_path}"


def cli_analyze(args, err) -> int:
    """``no3rr analyze``: exit 2 on bad input, 1 if no catalyst got a limiting potential, else 0."""
    src = Path(args.input)
    if not src.is_file():
        return err(f"{args.input}: no such file; give a screen.db or a CSV (catalyst,species,E_ads_eV|G_eV)")
    is_csv = src.suffix.lower() == ".csv"
    corr = args.corrections or ("computed" if not is_csv else "none")
    try:
        settings = AnalysisSettings(args.potential, args.pH, args.temperature, corr, args.nitrate_reference, None,
                                    tuple(args.descriptor or ("*N", "*NO3")), args.use_flagged,
                                    level=args.level)
        if corr not in CORRECTION_MODES and not Path(corr).is_file():
            raise ValueError(f"--corrections {corr!r}: use computed, table, none or the path of a table JSON")
        res, paths = analyze(src, settings, args.out, corrections_given=args.corrections is not None or not is_csv,
                             plots=not args.no_plots)
    except ValueError as e:
        return err(str(e))
    rows = res.summary_rows()
    w = max([len(r["catalyst"]) for r in rows] + [8])
    print(f"{'catalyst'.ljust(w)}  {'U_L/V':>7s}  {'PDS':18s} {'branch':6s} {'dG_H/eV':>8s} favours  missing")
    for r in rows:
        ul = "--" if r["U_L_V"] is None else f"{r['U_L_V']:+.3f}"
        gh = "--" if r["dG_H_eV"] is None else f"{r['dG_H_eV']:+.3f}"
        print(f"{r['catalyst'].ljust(w)}  {ul:>7s}  {r['PDS'] or '--':18s} {r['branch'] or '--':6s} {gh:>8s} "
              f"{r['favours'] or '--':8s} {r['missing'] or '-'}")
    for d, v in res.volcanoes_1d.items():
        edge = " (on the range edge)" if v.apex_on_edge else ""
        print(f"volcano in {d}: apex at {v.apex_x:+.3f} eV, U_L = {v.apex_U_L:+.3f} V vs RHE{edge}, "
              f"limited by {', '.join(v.apex_steps)}")
    if res.volcano_2d is not None:
        v = res.volcano_2d
        print(f"2D volcano in {', '.join(v.descriptors)}: apex at ({v.apex[0]:+.3f}, {v.apex[1]:+.3f}) eV, "
              f"U_L = {v.apex_U_L:+.3f} V vs RHE")
    for e in res.volcano_errors:
        print(f"note: {e}")
    print(f"calculator: {res.dataset.calculator}; corrections: {res.dataset.corrections}")
    print(f"nitrate reference: {res.reference_text}")
    print(f"summary: {paths['summary_csv']}  figures: {Path(args.out) / 'figures'}")
    return 0 if any(pw.U_L is not None for pw in res.pathways.values()) else 1
