"""The analysis of a dataset: routes, limiting potentials and selectivity per catalyst on the
reaction network of the settings (routes.py on the data of netdata.py), scaling relations,
volcanoes and product maps (``run_analysis``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descriptors.analysis.dataset import Dataset
from descriptors.analysis.netdata import Network, load_network
from descriptors.analysis.netrecords import Conditions, NetworkResult
from descriptors.analysis.reactant import describe_reactant, reactant_g
from descriptors.analysis.routes import analyze
from descriptors.analysis.scaling import fit_all
from descriptors.analysis.volcano import volcano_1d, volcano_2d, weak_fits
from descriptors.specs.analysis import AnalysisSettings

__all__ = ["AnalysisResult", "run_analysis", "settings_network", "conditions"]


def settings_network(settings: AnalysisSettings) -> Network:
    """The network the settings name (``network`` in ``network_file``, or in the package's file)."""
    return load_network(settings.network, settings.network_file)


def conditions(settings: AnalysisSettings) -> Conditions:
    return Conditions(settings.pH, settings.potential, settings.temperature)


@dataclass
class AnalysisResult:
    settings: AnalysisSettings
    dataset: Dataset
    x_ref: float  # g of the reactant (atomic scale, U = 0 V_RHE, at the pH): the old nitrate X
    reference_text: str
    pathways: dict[str, NetworkResult]
    fits: dict[str, Any]
    fit_skipped: dict[str, str]
    volcanoes_1d: dict[str, Any]
    volcano_2d: Any
    volcano_errors: list[str]
    fits_2d: dict[str, Any] = field(default_factory=dict)
    network: Network | None = None
    product_maps: dict[str, Any] = field(default_factory=dict)  # productmap.ProductMap by name
    volcano_warnings: list[str] = field(default_factory=list)

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

    def route_rows(self) -> list[dict[str, Any]]:
        """Every route of every catalyst (routes.csv): U_L and PDS per route, not only the best."""
        return [r for pw in self.pathways.values() for r in pw.route_table()]


def _round(x, nd=4):
    return None if x is None else round(float(x), nd)


def run_analysis(ds: Dataset, settings: AnalysisSettings, net: Network | None = None, on_fits=None) -> AnalysisResult:
    """Everything of the analysis; ``on_fits(descriptor, fits)`` is called as soon as the scaling
    relations in one descriptor exist (a screen starts drawing their figure meanwhile)."""
    net = net or settings_network(settings)
    cond = conditions(settings)
    scheme = settings.nitrate_reference
    if scheme == "hno3" and ds.g_ads_hno3 is None:
        raise ValueError("nitrate_reference 'hno3' needs gas-phase HNO3 from the calculator (a screen database "
                         "with its HNO3 reference and its free-energy correction); use 'equilibrium' otherwise")
    x_ref = reactant_g(net, scheme, cond, settings.equilibrium_potential, ds.g_ads_hno3)
    text = describe_reactant(net, scheme, x_ref, cond, settings.equilibrium_potential, ds.g_ads_hno3)
    pathways = {}
    for cat, g in ds.g_ads.items():
        pathways[cat] = analyze(net, g, cond, catalyst=cat, reactant_G=ds.reactant_G.get(cat, x_ref),
                                invalid=ds.invalid.get(cat))
    targets = list(net.adsorbates())
    fits, skipped = {}, {}
    v1, errors, v2, fits2, warns = {}, [], None, {}, []
    for d in settings.descriptors:
        f, sk = fit_all(ds.g_ads, [d], targets, settings.confidence)
        fits[d], skipped[d] = f, sk
        if on_fits is not None:
            on_fits(d, f)
        xs = [g[d] for g in ds.g_ads.values() if d in g]
        if len(xs) < 3:
            errors.append(f"1D volcano in {d}: {len(xs)} catalyst(s) have {d}; need at least 3")
            continue
        lo, hi = min(xs), max(xs)
        pad = max(0.5, 0.25 * (hi - lo))
        try:
            lo, hi = lo - pad, hi + pad
            v1[d] = volcano_1d(f, d, x_ref, lo, hi, net=net, cond=cond)
            for _ in range(3):  # an apex on the range edge: widen that side (1 eV a time, 3 at most)
                if not v1[d].apex_on_edge:
                    break
                lo, hi = (lo - 1.0, hi) if abs(v1[d].apex_x - lo) < 1e-9 else (lo, hi + 1.0)
                v1[d] = volcano_1d(f, d, x_ref, lo, hi, net=net, cond=cond)
            weak = weak_fits(f, _route_species(v1[d].paths))
            if weak:
                warns.append(f"1D volcano in {d}: scaling relations with R^2 below 0.8 feed it: "
                             + ", ".join(f"{t} {r:.2f}" for t, r in sorted(weak.items())))
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
                v2 = volcano_2d(f2, settings.descriptors, x_ref, rng[0], rng[1], net=net, cond=cond)
                weak = weak_fits(f2, _route_species(v2.paths))
                if weak:
                    warns.append("2D volcano: scaling relations with R^2 below 0.8 feed it: "
                                 + ", ".join(f"{t} {r:.2f}" for t, r in sorted(weak.items())))
            except ValueError as err:
                errors.append(f"2D volcano: {err} ({'; '.join(f'{k}: {v}' for k, v in sk2.items())})")
        else:
            errors.append(f"2D volcano: {len(pts)} catalyst(s) have both descriptors; need at least 4")
    res = AnalysisResult(settings, ds, x_ref, text, pathways, fits, skipped, v1, v2, errors, fits2, net,
                         volcano_warnings=warns)
    from descriptors.analysis.productmap import product_maps

    res.product_maps, map_errors = product_maps(ds, net, cond, x_ref, settings.confidence)
    res.volcano_errors.extend(map_errors)
    return res


def _route_species(paths: list[str]) -> list[str]:
    """Adsorbates named in route texts ('*NO3->*NO2 | ...')."""
    out = set()
    for p in paths:
        for step in p.split(" | "):
            for side in step.split("->"):
                out.update(x for x in side.split("+") if x.startswith("*"))
    return sorted(out)
