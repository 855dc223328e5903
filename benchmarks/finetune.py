"""Fine-tuning CHGNet on the screen's own expensive level (GFN1-xTB): before and after, on
catalysts the model never saw (``no3rr finetune``, workflows/finetune.py).

The screen: the (111) facets of Cu, Ag, Au, Ni, Pd, Pt, Rh and Ir (2x2x3 slabs, one fixed layer,
6 A vacuum, experimental lattice constants) with H, N, O and NO at every site the screen finds;
CHGNet 0.3.0 relaxes every placement (fmax 0.1 eV/A, at most ``steps``).  The expensive level is
GFN1-xTB (tblite, 1500 K electronic temperature) as single points on CHGNet's geometries: cheap
enough for a benchmark (about one second per call), and the single point on the cheap geometry is
AdsorbML's "SP" mode.  ``verify.all`` runs every placement at the expensive level, so success
rates can be measured.  The training catalysts are the default split (every other by name: Ag, Cu,
Ni, Pt; Ni held out for early stopping); the errors are measured on Au, Ir, Pd and Rh only.

Expensive calls: the placement count (AdsorbML's "calls" when the expensive level is a single
point per placement), and a relaxation proxy: exhaustively relaxing every placement at the
expensive level would take about as many expensive calls as CHGNet's relaxations took steps
(their ``steps`` + 1), against ``k`` single points per (catalyst, adsorbate).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

METALS = ["Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Rh", "Ir"]
ADSORBATES = ["H", "N", "O", "NO"]

__all__ = ["finetune_spec", "run_finetune_bench"]


#: the "facets" case: four metals, two facets each; trained on one facet of every metal
FACET_METALS = ["Cu", "Ag", "Pd", "Pt"]


def finetune_spec(quick: bool, case: str = "facets") -> dict[str, Any]:
    """``metals``: the (111) facets of eight metals, trained on four (cross-metal transfer), early
    stopping on one of them.  ``facets``: (111) and (100) of Cu, Ag, Pd, Pt, trained on the (111)
    facets, measured on the (100) ones (transfer across facets of metals seen in training), a fixed
    number of epochs (no catalyst left to early-stop on)."""
    slab = {"type": "slab", "size": [2, 2], "layers": 3, "fixed_layers": 1, "vacuum": 6.0,
            "lattice_constant": "experimental"}
    if case == "metals":
        cats = [{**slab, "metals": ["Cu", "Ag", "Pt", "Pd"] if quick else METALS, "facets": ["111"]}]
        finetune = {"epochs": 3 if quick else 40, "patience": 8, "learning_rate": 1e-3, "force_weight": 0.05}
    else:
        metals = FACET_METALS[:2] if quick else FACET_METALS
        cats = [{**slab, "metals": metals, "facets": ["111", "100"]}]
        finetune = {"train": [f"{m}(111)" for m in metals], "early_stop_fraction": 0.0,
                    "epochs": 2 if quick else 15, "learning_rate": 1e-3, "force_weight": 0.05}
    return {
        "name": f"bench-finetune-{case}" + ("-quick" if quick else ""),
        "description": "CHGNet -> GFN1-xTB single points; CHGNet fine-tuned on half of the catalysts",
        "catalysts": cats,
        "adsorbates": ["H", "O"] if quick else ADSORBATES,
        "calculator": {"name": "chgnet"},
        "relax": {"fmax": 0.1, "steps": 15 if quick else 40},
        "execution": {"workers": 2},
        "verify": {"calculator": {"name": "gfn1-xtb", "params": {"electronic_temperature": 1500.0,
                                                                  "max_iterations": 300}},
                   "mode": "single-point", "top_k": 1, "all": True},
        "finetune": {"batch_size": 4, **finetune},
    }


def _pick(levels, name: str, label_part: str = ""):
    for h, lv in levels.items():
        if lv.name == name and label_part in lv.label:
            return h
    raise RuntimeError(f"level {name} missing from the store")


def _summ(st) -> dict[str, Any]:
    o = st.overall
    return {"n": o.get("n"), "mae_eV": o.get("mae"), "max_error_eV": o.get("max_error"),
            "mean_error_eV": o.get("mean_error"), "pearson": o.get("pearson"), "spearman": o.get("spearman"),
            "per_adsorbate_mae_eV": {a: s.get("mae") for a, s in st.per_adsorbate.items()},
            "success": {k: {"rate": s["rate"], "expensive_calls": s["expensive_calls"],
                            "all_placements": s["all_placements"], "speedup": s["speedup"]}
                        for k, s in st.success.items()}}


def run_finetune_bench(workdir: Path, quick: bool, log, workers: int = 2, case: str = "facets") -> dict[str, Any]:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from descriptors.analysis.fidelity import compare_levels, level_rows
    from descriptors.specs import parse_spec
    from descriptors.store.db import Store
    from descriptors.workflows.screen import run_screen

    spec = parse_spec(finetune_spec(quick, case), "<benchmark finetune>")
    out = Path(workdir) / f"finetune-{case}"
    t0 = time.perf_counter()
    res = run_screen(spec, out=out, workers=workers, progress=False, quiet=False, finetune=True)
    wall = time.perf_counter() - t0
    store = Store(out / "screen.db")
    levels, places = level_rows(store)
    # the fine-tuned level of this run's model (a store may hold earlier models' levels too)
    cheap, exp = _pick(levels, "chgnet"), _pick(levels, "gfn1-xtb")
    ft = _pick(levels, "chgnet-ft", f"fine-tuned {res.finetune['model'][:8]}")
    rest = set(res.finetune["re_ranked"])

    def only(pl):
        return {o: p for o, p in pl.items() if p.catalyst in rest}

    before = compare_levels(only(places[cheap]), only(places[exp]), levels[cheap].label, levels[exp].label)
    after = compare_levels(only(places[ft]), only(places[exp]), levels[ft].label, levels[exp].label)
    # relaxation proxy: CHGNet's relaxation steps of the remaining catalysts' placements
    steps = sum(int(r.get("steps") or 0) + 1 for r in store.select(kind="adsorbate", calc="chgnet")
                if r.get("catalyst") in rest)
    groups = after.pairs_evaluated
    b, a = _summ(before), _summ(after)
    result = {
        "spec": spec.name, "case": case, "wall_s": round(wall, 1), "trained_on": res.finetune["trained_on"],
        "early_stop_on": res.finetune["early_stop_on"], "measured_on": sorted(rest),
        "model": res.finetune["model"], "best_epoch": res.finetune["best_epoch"],
        "training_errors": {"before": res.finetune["errors_before"], "after": res.finetune["errors_after"]},
        "element_shifts_eV": res.finetune["element_shifts_eV"],
        "before": b, "after": a,
        "mae_ratio_after_over_before": (a["mae_eV"] / b["mae_eV"]) if b.get("mae_eV") else None,
        "relaxation_proxy": {"expensive_calls_exhaustive_relax": steps, "groups": groups,
                             "speedup_k": {k: (steps / (int(k) * groups) if groups else None) for k in a["success"]}},
        "stats": res.stats,
    }
    log(f"finetune: MAE vs GFN1-xTB on {sorted(rest)}: {b['mae_eV']:.3f} -> {a['mae_eV']:.3f} eV; success k=1 "
        f"{b['success']['1']['rate']} -> {a['success']['1']['rate']}")
    return result


def render_finetune(r: dict[str, Any]) -> list[str]:
    """The benchmark as lines: errors and success before and after, on the catalysts never trained on."""
    b, a = r["before"], r["after"]

    def f(v, fmt=".3f"):
        return "-" if v is None else format(v, fmt)

    out = [f"Fine-tuning ({r['spec']}, {r['wall_s']:.0f} s): trained on {', '.join(r['trained_on'])} "
           + (f"(early stop on {', '.join(r['early_stop_on'])})" if r["early_stop_on"] else "(no early stopping)")
           + f"; measured on {', '.join(r['measured_on'])}",
           f"  MAE vs GFN1-xTB: {f(b['mae_eV'])} -> {f(a['mae_eV'])} eV (x{f(r['mae_ratio_after_over_before'], '.2f')}), "
           f"max {f(b['max_error_eV'])} -> {f(a['max_error_eV'])} eV, Spearman {f(b['spearman'], '.2f')} -> "
           f"{f(a['spearman'], '.2f')}, n = {a['n']}",
           "  per adsorbate MAE: " + ", ".join(f"{ads} {f(b['per_adsorbate_mae_eV'].get(ads))} -> {f(v)}"
                                               for ads, v in a["per_adsorbate_mae_eV"].items())]
    for k, s in a["success"].items():
        sb = b["success"][k]
        px = r["relaxation_proxy"]["speedup_k"].get(k)
        out.append(f"  k = {k}: success {f(sb['rate'] and 100 * sb['rate'], '.0f')} % -> "
                   f"{f(s['rate'] and 100 * s['rate'], '.0f')} %, expensive calls {s['expensive_calls']}/"
                   f"{s['all_placements']} placements (x{f(s['speedup'], '.1f')}; x{f(px, '.0f')} against relaxing "
                   "every placement at the expensive level, proxy)")
    return out
