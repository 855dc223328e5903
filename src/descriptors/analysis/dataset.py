"""From adsorption energies to free energies, limiting potentials, scaling relations and volcanoes.

Input: a screen database (``screen.db``) or a CSV of energies computed elsewhere, one row per
(catalyst, species), with the columns

    catalyst,species,E_ads_eV   adsorption energies on the atomic-reference convention of
                                convention.py, converted with the configured corrections;
    catalyst,species,G_eV       free energies of the states on the common scale (relative to the
                                clean site + the reactant (NO3-(aq)) + the needed (H+ + e-) pairs at
                                0 V vs RHE); *H, *O, *OH relative to the clean site + H+/e- pairs
                                (+ H2O).  A species with n atoms of the tracked element (N) sits
                                n times the reactant's free energy below its atomic-scale value.

Species are those of the network (``analysis/data/networks.toml``: *NO3, *NO3H (= *HNO3), *NO2,
*NO2H (= *HNO2), *NO, *NOH, *HNO, *H2NO, *NHOH, *NH2OH, *N, *NH, *NH2, *NH3, *N2O, *N2, *O, *OH,
*H for NO3RR).  In a ``G_eV`` file a molecule row (e.g. ``NH3(g)``) gives the state of that
molecule and so fixes where the reactant sits for that catalyst (otherwise the reactant comes from
the nitrate reference of the settings); in an ``E_ads_eV`` file molecules are refused (they sit at
their formation free energies on that scale; NH3(g) is the mu_N reference, 0 by definition).
An optional ``pH`` column says at which pH the ``G_eV`` values are meant (default: the analysis
pH); they are converted to adsorbate free energies at that pH and then analysed at the analysis pH
like ``E_ads_eV`` input, so the same file gives the same adsorbates at any ``--pH``.

Output (``write_outputs``): ``analysis_summary.csv``/``.json`` (catalyst, U_L, PDS, branch, dG(*H),
product and selectivity margins, what is missing), ``routes.csv`` (every route), ``free_energies.csv``
(every state and every step), ``scaling_relations.csv``, ``volcano.json`` and the figures of plots.py.
Every file names the calculator, the corrections and the nitrate reference that produced it.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from descriptors.analysis.netdata import Network, NetworkError, load_network
from descriptors.analysis.netrecords import Conditions
from descriptors.analysis.reactant import reactant_g
from descriptors.analysis.routes import species_free_energies
from descriptors.analysis.thermo import (
    NO_CORRECTION,
    Correction,
    correction_from_vib_row,
    free_energy_potentials,
    load_table,
)
from descriptors.convention import atomic_potentials
from descriptors.geometry.adsorbates import ADSORBATES, adsorbate_formula_counts
from descriptors.specs.analysis import AnalysisSettings
from descriptors.store import Store, best_rows, site_rows

__all__ = ["Dataset", "load_csv", "load_store", "level_rows", "GASES_NEEDED"]

GASES_NEEDED = ("H2", "H2O", "NH3")


@dataclass
class Dataset:
    """Adsorption free energies per catalyst on the atomic-reference scale, with provenance."""

    source: str
    kind: str  # 'store' | 'E_ads' | 'G'
    g_ads: dict[str, dict[str, float]]
    provenance: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    invalid: dict[str, dict[str, str]] = field(default_factory=dict)
    g_ads_hno3: float | None = None
    reactant_G: dict[str, float] = field(default_factory=dict)  # catalyst -> reactant g fixed by the CSV
    calculator: str = "unknown (user-supplied energies)"
    flagged: dict[str, list[str]] = field(default_factory=dict)  # species used although geometry-flagged
    corrections: str = ""
    notes: list[str] = field(default_factory=list)
    G_input_pH: dict[str, float] = field(default_factory=dict)  # G_eV input: pH the values are meant at


# -- loading -----------------------------------------------------------------------------------

MAX_ABS_EV = 100.0  # no adsorption or reaction free energy is near this; a larger one is a unit or typing error


def load_csv(path: str | Path, settings: AnalysisSettings, corrections_given: bool = True,
             net: Network | None = None) -> Dataset:
    """Read ``catalyst,species,E_ads_eV`` or ``catalyst,species,G_eV`` (see the module docstring)."""
    path = Path(path)
    net = net or load_network(settings.network, settings.network_file)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = set(rows[0]) if rows else set()
    if not rows or not {"catalyst", "species"} <= cols or not ({"E_ads_eV", "G_eV"} & cols):
        raise ValueError(f"{path}: need a header 'catalyst,species,E_ads_eV' or 'catalyst,species,G_eV' and rows")
    if {"E_ads_eV", "G_eV"} <= cols:
        raise ValueError(f"{path}: give either E_ads_eV or G_eV, not both")
    kind = "G" if "G_eV" in cols else "E_ads"
    col = "G_eV" if kind == "G" else "E_ads_eV"
    if "pH" in cols and kind != "G":
        raise ValueError(f"{path}: a pH column belongs to G_eV input (E_ads_eV values do not depend on pH)")
    values: dict[str, dict[str, float]] = {}
    molecules: dict[str, tuple[str, float, int]] = {}
    row_pH: dict[str, float] = {}
    for i, r in enumerate(rows, start=2):
        cat = (r.get("catalyst") or "").strip()
        if not cat:
            raise ValueError(f"{path} line {i}: empty catalyst")
        try:
            sp = net.canonical(r["species"])
        except NetworkError as err:
            raise ValueError(f"{path} line {i}: {err}") from None
        try:
            v = float(r[col])
        except (TypeError, ValueError):
            raise ValueError(f"{path} line {i}: {col} {r.get(col)!r} is not a number") from None
        if not math.isfinite(v):
            raise ValueError(f"{path} line {i}: {col} is not finite")
        if abs(v) > MAX_ABS_EV:
            raise ValueError(f"{path} line {i}: {col} = {v:g} eV is not a plausible {kind} of an intermediate "
                             f"(|value| > {MAX_ABS_EV:g} eV; it looks like a total energy per cell or another "
                             f"unit); check the units and the row")
        if "pH" in cols and (r.get("pH") or "").strip():
            try:
                ph = float(r["pH"])
            except ValueError:
                raise ValueError(f"{path} line {i}: pH {r['pH']!r} is not a number") from None
            if row_pH.setdefault(cat, ph) != ph:
                raise ValueError(f"{path} line {i}: {cat} has rows at pH {row_pH[cat]:g} and {ph:g}; one pH per catalyst")
        if not net.species[sp].adsorbate:
            if kind == "E_ads":
                raise ValueError(f"{path} line {i}: {sp} is a molecule; on the E_ads_eV scale molecules sit at their "
                                 f"formation free energies (the mu_X references at 0 by definition), so the row "
                                 f"cannot be used: remove it, or give every species as G_eV")
            if cat in molecules:
                raise ValueError(f"{path} line {i}: {cat} has two molecule rows ({molecules[cat][0]}, {sp}); give one")
            molecules[cat] = (sp, v, i)
            continue
        if sp in values.setdefault(cat, {}):
            raise ValueError(f"{path} line {i}: {cat} {sp} given twice")
        values[cat][sp] = v
    ds = Dataset(str(path), kind, {}, calculator="unknown (user-supplied energies in CSV)")
    if kind == "G":
        _g_rows(ds, path, net, settings, values, molecules, row_pH)
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
    if table is not None:
        _require_table(table, {sp for vals in values.values() for sp in vals})
    for cat, vals in values.items():
        ds.g_ads[cat], ds.provenance[cat] = {}, {}
        for sp, e in vals.items():
            corr = NO_CORRECTION if table is None else table.get(sp)
            g = e + corr.dg - _ref_shift(sp, dmu, net)
            ds.g_ads[cat][sp] = g
            ds.provenance[cat][sp] = {"input": "E_ads_eV", "E_ads_eV": e, "correction": corr.as_dict()}
    ds.corrections = "none (electronic energies)" if table is None else f"table {table.path} ({gas_src})"
    return ds


def _require_table(table, given) -> None:
    """corrections='table': every species used needs a tabulated ZPE/TS; fail naming those without."""
    miss = sorted({s for s in given if table.get(s) is None})
    if miss:
        raise ValueError(f"corrections table {table.path}: no ZPE/TS entry (zpe, ts, source) for {', '.join(miss)}; "
                         "add them with their source, or use corrections='none' (electronic energies) or "
                         "'computed' (a screen database)")


def _g_rows(ds: Dataset, path: Path, net: Network, settings: AnalysisSettings, values, molecules, row_pH) -> None:
    """G_eV rows -> adsorbate free energies (atomic scale) and the reactant's g per catalyst."""
    el, r_sp = net.tracked_element, net.species[net.reactant]
    n_r = r_sp.count(el) or 1
    for cat, vals in values.items():
        ph = row_pH.get(cat, settings.pH)
        cond_row = Conditions(ph, 0.0, settings.temperature)
        if cat in molecules:
            sp, v, line = molecules[cat]
            n_sp = net.species[sp].count(el)
            g_f, why = species_free_energies(net, {}, cond_row)
            if n_sp == 0 or sp not in g_f:
                raise ValueError(f"{path} line {line}: {sp} cannot fix the reactant's free energy "
                                 + (f"(it has no {el})" if n_sp == 0 else f"({why.get(sp, 'no formation free energy')})"))
            x_row = (g_f[sp] - v) * n_r / n_sp
            how = f"from the {sp} row"
        else:
            x_row = reactant_g(net, settings.nitrate_reference, cond_row, settings.equilibrium_potential)
            how = "from the nitrate reference"
        ds.g_ads[cat] = {sp: v + net.species[sp].count(el) / n_r * x_row for sp, v in vals.items()}
        ds.reactant_G[cat] = x_row + r_sp.charge * cond_row.kt_ln10 * (settings.pH - ph)
        ds.G_input_pH[cat] = ph
        ds.provenance[cat] = {sp: {"input": "G_eV", "value": v, "correction": "given (free energy)"}
                              for sp, v in vals.items()}
        ds.notes.append(f"{cat}: G_eV values taken at pH {ph:g}"
                        + (" (the analysis pH; add a pH column to say otherwise)" if cat not in row_pH else "")
                        + f"; {net.reactant} at {x_row:.4f} eV {how}")
    ds.corrections = "free energies given in the CSV"


def _ref_shift(species: str, dmu: dict[str, float], net: Network | None = None) -> float:
    if net is not None and species in net.species:
        counts = dict(net.species[species].formula)
    else:
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


def level_rows(store, level: str = "screen", calc_hash: str | None = None) -> tuple[list[dict], list, str]:
    """Adsorbate site rows and gas rows of one calculator level of a screen database.

    A database can hold two levels (a cheap screen and its ``[verify]`` level, see verify.py);
    energies of different calculators never enter one analysis.  ``level`` picks the screen's own
    rows or the verifying ones; within a level every row must come from one calculator setting
    (``calc_hash``), and the gas references are taken from that same setting.
    """
    if level not in ("screen", "verify"):
        raise ValueError(f"level: {level!r} is not one of ('screen', 'verify')")
    meta = {r.get("job_id"): r for r in store.rows(kind="adsorbate")}

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
    gas = [g for g in store.rows(kind="gas") if chash is None or g.get("calc_hash") in (chash, None)]
    return rows, gas, chash or ""


def _vib_rows(store) -> dict[str, Any]:
    return {r.get("vib_of"): r for r in store.rows(kind="vib")}


def load_store(db, settings: AnalysisSettings) -> Dataset:
    """Best valid site per (catalyst, adsorbate) from a screen database, corrected to free energies."""
    if isinstance(db, Store):
        store, db = db, db.location
    else:
        db = Path(db)
        if not db.is_file():
            raise ValueError(f"{db}: no such database; give the screen.db of a screen or a CSV file")
        store = Store(db, readonly=True)
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
        _require_table(table, {"*" + r["adsorbate"] for r in best if r.get("E_ads_eV") is not None})
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
        else:
            v = vibs.get(r["job_id"])
            if v is None or v.get("status") == "failed":
                ds.invalid.setdefault(cat, {})[ads] = ("vibration job failed: " + str(v.get("error"))) if v is not None \
                    else "no vibration job (not computed yet)"
                continue
            corr = correction_from_vib_row(v, T)
        ds.g_ads[cat][ads] = float(r["E_ads_eV"]) + corr.dg - _ref_shift(ads, dmu)
        ds.provenance[cat][ads] = {"E_ads_eV": r["E_ads_eV"], "site": r.get("site"), "binding": r.get("binding"),
                                   "site_final": r.get("site_final") or r.get("site"),
                                   "job_id": r.get("job_id"), "calculator": r.get("calculator"),
                                   "correction": corr.as_dict(), "converged": bool(r.get("converged")),
                                   "flagged": "" if r.get("valid") else
                                   (r.get("anomaly") or "flagged")}
        if not r.get("valid"):
            ds.flagged.setdefault(cat, []).append(ads)
    # HNO3 on the atomic free-energy scale, for the 'hno3' nitrate reference.
    if "HNO3" in gas_rows:
        mu_e = atomic_potentials({k: v.energy for k, v in gas_rows.items()})
        c = gas_corr("HNO3")
        if c is not None:
            ds.g_ads_hno3 = (gas_rows["HNO3"].energy + c.dg - (mu_e["H"] + dmu["H"]) - (mu_e["N"] + dmu["N"])
                             - 3 * (mu_e["O"] + dmu["O"]))
    ds.notes.append("gas corrections: " + "; ".join(f"{g}: {c.method} dG={c.dg:+.3f} eV" for g, c in gcorr.items()))
    return ds


