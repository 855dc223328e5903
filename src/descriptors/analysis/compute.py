"""The analysis of a dataset: free-energy pathways and limiting potentials per catalyst,
scaling relations and volcanoes (``run_analysis``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descriptors.analysis.dataset import Dataset
from descriptors.analysis.network import (
    ADSORBATE_STATES,
    FINAL,
    NitrateReference,
    PathwayResult,
    analyze_pathway,
    state_energies,
)
from descriptors.analysis.scaling import fit_all
from descriptors.analysis.volcano import volcano_1d, volcano_2d
from descriptors.specs.analysis import AnalysisSettings

__all__ = ["AnalysisResult", "run_analysis"]


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
    ref = NitrateReference(settings.nitrate_reference, settings.equilibrium_potential)
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


