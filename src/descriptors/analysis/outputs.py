"""The files of an analysis: ``analysis_summary.csv``/``.json``, ``routes.csv``, ``free_energies.csv``,
``scaling_relations.csv``, ``volcano.json`` and the figures (plots.py), each naming the
calculator, the corrections and the nitrate reference that produced it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from pathlib import Path

import numpy as np

from descriptors.analysis.compute import AnalysisResult
from descriptors.analysis.figlist import figure_jobs
from descriptors.analysis.figtext import catalyst_quality
from descriptors.analysis.volcano import apex_extrapolated
from descriptors.store import write_csv

__all__ = ["write_outputs", "SUMMARY_COLUMNS", "draw_task", "warm_drawing", "start_scaling_figure"]

SUMMARY_COLUMNS = [
    "catalyst", "U_L_V", "PDS", "dG_PDS_eV", "branch", "PDS_n_e", "dG_PDS_per_e_eV", "U_L_upper_bound", "path",
    "product", "dG_H_eV", "U_L_HER_V", "U_L_minus_U_L_HER_V", "favours", "data_quality", "flagged_used", "unconverged_used",
    "dG_ads_reactant_eV",
    "dG_ads_reactant_at_UL_eV", "target_form", "product_at_U_L", "decisive_step_at_U_L", "decisive_margin_at_U_L_eV",
    "competing_margin_at_U_L_V", "product_at_U", "decisive_step_at_U", "decisive_margin_at_U_eV",
    "competing_margin_at_U_V", "potential_V_RHE", "dG_PDS_at_U_eV", "missing", "notes", "network", "calculator",
    "corrections", "nitrate_reference", "pH", "temperature_K",
]
ROUTE_COLUMNS = ["catalyst", "product", "group", "U_L_V", "PDS", "PDS_n_e", "dG_PDS_eV", "dG_PDS_per_e_eV", "branch",
                 "upper_bound", "averaged_steps", "closed", "max_dG_chemical_eV", "route"]


def write_outputs(res: AnalysisResult, out: str | Path, plots: bool = True, submit=None,
                  started: dict | None = None) -> dict[str, Path]:
    """The files of the analysis; the figures by plots.plot_all, or one task per figure with
    ``submit`` (``_draw``; ``started``: figures already submitted, :func:`start_scaling_figure`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = res.settings
    paths: dict[str, Path] = {}
    rows = res.summary_rows()
    for row in rows:  # every catalyst says what quality of data its numbers rest on
        prov = res.dataset.provenance.get(row["catalyst"], {})
        row["unconverged_used"] = " ".join(sp for sp, p in prov.items() if p.get("converged") is False)
        row["data_quality"] = catalyst_quality(res, row["catalyst"])[0]
    cols = SUMMARY_COLUMNS[:5] + [f"G_{d}_eV" for d in s.descriptors] + SUMMARY_COLUMNS[5:]
    paths["summary_csv"] = out / "analysis_summary.csv"
    write_csv(paths["summary_csv"], cols, rows)
    # every state and step
    fe = []
    for cat, pw in res.pathways.items():
        for name, g in _states(res, pw):
            prov = res.dataset.provenance.get(cat, {}).get(name, {})
            corr = prov.get("correction")
            fe.append({"catalyst": cat, "kind": "state", "name": name, "n_e": "", "G_or_dG_0_eV": round(g, 4),
                       "dG_U_eV": "", "E_ads_eV": prov.get("E_ads_eV", ""),
                       "site": prov.get("site_final") or prov.get("site", ""), "site_start": prov.get("site", ""),
                       "flag": ("flagged: " + prov["flagged"]) if prov.get("flagged") else
                       ("unconverged" if prov.get("converged") is False else ""),
                       "correction": (corr.get("method") if isinstance(corr, dict) else corr) or "",
                       "correction_dG_eV": round(corr["dG"], 4) if isinstance(corr, dict) else ""})
        for st in pw.step_rows():
            fe.append({"catalyst": cat, "kind": "step", "name": st["equation"], "n_e": st["n_e"],
                       "G_or_dG_0_eV": round(st["dG_0"], 4), "dG_U_eV": round(st["dG_U"], 4)})
    paths["free_energies_csv"] = out / "free_energies.csv"
    write_csv(paths["free_energies_csv"], ["catalyst", "kind", "name", "n_e", "G_or_dG_0_eV", "dG_U_eV", "E_ads_eV",
                                            "site", "site_start", "flag", "correction", "correction_dG_eV"], fe)
    paths.update(write_routes(res, out))
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
        "network": None if res.network is None else {"name": res.network.name, "file": res.network.path,
                                                      "reactant": res.network.reactant, "target": res.network.target},
        "convention": ("states relative to * + the reactant + the needed (H+ + e-) at 0 V vs RHE (a species with n N "
                       "atoms: n reactants); CHE: a step consuming n electrons shifts by n e U; U_L of a route = min "
                       "over its reduction steps of -dG/n; the best route to the target gives U_L"),
        "notes": res.dataset.notes,
    }
    summary = {**meta, "catalysts": rows, "volcano_errors": res.volcano_errors,
               "volcanoes_1d": {d: {**v.as_dict(), "apex_extrapolated": apex_extrapolated(res, d)}
                                for d, v in res.volcanoes_1d.items()},
               "volcano_2d": ({**res.volcano_2d.as_dict(), "apex_extrapolated":
                               apex_extrapolated(res, tuple(res.volcano_2d.descriptors))}
                              if res.volcano_2d is not None else None),
               "scaling_skipped": res.fit_skipped,
               "pathways": {c: {"states_eV": dict(_states(res, pw)), "routes": pw.route_table(),
                                "steps": pw.step_rows()} for c, pw in res.pathways.items()},
               "product_maps": {k: m.as_dict() for k, m in res.product_maps.items()},
               "volcano_warnings": res.volcano_warnings}
    paths["summary_json"] = out / "analysis_summary.json"
    paths["summary_json"].write_text(json.dumps(summary, indent=2, default=_json_default))
    paths["volcano_json"] = out / "volcano.json"
    paths["volcano_json"].write_text(json.dumps({**meta, "volcanoes_1d": summary["volcanoes_1d"],
                                                 "volcano_2d": summary["volcano_2d"],
                                                 "errors": res.volcano_errors}, indent=2, default=_json_default))
    if plots:
        paths.update(_plots_once(res, out, paths["summary_json"].read_text(), submit, started))
    return paths


def _plots_once(res: AnalysisResult, out: Path, summary_text: str, submit=None, started=None) -> dict[str, Path]:
    """Draw the figures, unless those of exactly this summary are already on disk.

    Drawing is most of the analysis' time (seconds per figure); a resumed screen whose numbers
    did not change keeps its figures instead of redrawing them.  The key is the SHA-256 of the
    summary JSON, which holds every number and setting the figures show.
    """
    key = hashlib.sha256(summary_text.encode()).hexdigest()
    index = out / "figures" / "index.json"
    if index.is_file():
        try:
            old = json.loads(index.read_text())
        except ValueError:
            old = {}
        kept = {k: Path(v) for k, v in old.get("figures", {}).items()}
        if old.get("summary_sha256") == key and kept and all(p.is_file() for p in kept.values()):
            _remove_stale(out / "figures", kept)
            return kept
    drawn = _draw(res, out, submit, started)
    _remove_stale(out / "figures", drawn)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"summary_sha256": key, "figures": {k: str(v) for k, v in drawn.items()}}, indent=1))
    return drawn


def start_scaling_figure(submit, settings, dataset, descriptor: str, fits, out: Path):
    """Submit the scaling figure of ``descriptor`` as soon as its relations exist (run_analysis'
    ``on_fits``), before the volcanoes and product maps are computed; it needs nothing else of the
    analysis (the settings, the data and these fits).  Returns the figure job and its Future."""
    from types import SimpleNamespace

    part = SimpleNamespace(settings=settings, dataset=dataset, fits={descriptor: fits}, network=None)
    fig_dir = Path(out) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    job = ("scaling", descriptor, fig_dir, settings.svg)
    blob = pickle.dumps(part)
    return job, submit(draw_task, (hashlib.sha256(blob).hexdigest(), False), blob, job)


def _draw(res: AnalysisResult, out: Path, submit=None, started: dict | None = None) -> dict[str, Path]:
    """The figures: by plots.plot_all (forked processes; matplotlib imported here, on first use), or
    with ``submit(fn, *args) -> Future`` one task per figure in the caller's pool (a screen's warm
    workers, workflows/analyze.py: the driver then never imports matplotlib)."""
    if submit is None:
        from descriptors.analysis.plots import plot_all

        return plot_all(res, out, svg=res.settings.svg)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    # pickled here, once (an error is raised here, not in the pool's feeder thread); the network, whose
    # mappings are read-only views that do not pickle, is read again from the settings in the worker
    blob = pickle.dumps(dataclasses.replace(res, network=None))
    key = (hashlib.sha256(blob).hexdigest(), res.network is not None)
    started = started or {}
    futs = [started[job] if job in started else submit(draw_task, key, blob, job)
            for job in figure_jobs(res, fig_dir, res.settings.svg)]
    paths: dict[str, Path] = {}
    for fut in futs:
        paths.update(fut.result())
    return paths


_DRAWING: dict[tuple, AnalysisResult] = {}  # in a pool worker: the analysis it draws (unpickled once)


def draw_task(key: tuple, blob: bytes, job: tuple) -> dict[str, Path]:
    """One figure (a figlist job) of the analysis pickled in ``blob``, in a pool worker."""
    from descriptors.analysis.compute import settings_network
    from descriptors.analysis.plots import draw_in_worker

    res = _DRAWING.get(key)
    if res is None:
        res = pickle.loads(blob)
        if key[1]:
            res.network = settings_network(res.settings)
        _DRAWING.clear()
        _DRAWING[key] = res
    return draw_in_worker(res, job)


def warm_drawing() -> int:
    """A pool worker gets ready to draw (matplotlib, fonts) while the driver computes the analysis."""
    from descriptors.analysis.plots import warm_worker

    return warm_worker()


def _states(res: AnalysisResult, pw) -> list[tuple[str, float]]:
    """(species, G on the common scale at U = 0) of the species that carry information: the
    adsorbates and molecules of the network, not the site or the reservoir (water)."""
    net = res.network
    keep = [] if net is None else [s for s in net.species if s in pw.states and s not in net.reservoir]
    return [(s, pw.states[s]) for s in keep]


def write_routes(res: AnalysisResult, out: Path) -> dict[str, Path]:
    """routes.csv: every route of every catalyst with its U_L and PDS (not only the best)."""
    p = out / "routes.csv"
    write_csv(p, ROUTE_COLUMNS, res.route_rows())
    return {"routes_csv": p}


def _remove_stale(fig_dir: Path, current: dict[str, Path]) -> None:
    """A figure of an earlier analysis that this one does not draw (e.g. a volcano that needed flagged
    data) must not stay next to the current ones, looking current."""
    for f in list(fig_dir.glob("*.png")) + list(fig_dir.glob("*.svg")):
        if f.name not in current:
            f.unlink()


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


