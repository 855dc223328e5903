"""How far is a cheap level from an expensive one, and what did it save?  The fidelity report.

A store can hold several calculator levels of the same placements: the screen's own level and a
``[verify]`` level whose adsorbate rows name their cheap parent (``cheap_job``).  Every row is
traced down its ``cheap_job`` links to the placement it started from, so any two levels are
compared on exactly the same placements.  A derived level is its calculator, its mode and the level
it started from: the expensive level relaxed from the base model's minima and from a fine-tuned
model's minima are two levels (two numbers for one placement).  For each pair (cheap, expensive):

- per adsorbate and over all: n, MAE, max |error|, mean signed error, Pearson and Spearman
  correlation of E_ads (unflagged, non-failed rows of both levels only; flagged ones counted);
- the AdsorbML success rate at k = 1..5 (Lan et al., npj Comput. Mater. 9, 172 (2023)): for each
  (catalyst, adsorbate) whose every valid cheap placement was also computed at the expensive level,
  the lowest expensive E_ads among the cheap level's top-k is within ``tolerance`` (0.1 eV, as
  AdsorbML) of the lowest expensive E_ads over all placements; with the expensive calls that the
  top-k saves against computing every placement;
- a parity plot.

Clean references: where a level holds several relaxed clean models of one catalyst that differ
by more than ``CLEAN_REF_TOLERANCE`` (analysis/clean_refs.py), every E_ads of that catalyst at that
level is taken against the lowest (rows stored against another one are re-referenced on read) and
the report lists those catalysts.

An external reference table (catalyst, adsorbate, energy) is compared with each level's best
(lowest unflagged) E_ads per (catalyst, adsorbate) after removing each adsorbate's mean offset:
the trend (slope, Pearson r, MAE after the offset) is what a screen ranks by.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from descriptors.analysis.clean_refs import (
    CLEAN_REF_TOLERANCE,
    clean_groups,
    format_groups,
    row_reference,
)
from descriptors.analysis.fidelity_reference import compare_reference, read_reference
from descriptors.calculators.base import FIDELITY_ORDER, REGISTRY
from descriptors.geometry.anomalies import is_excluded
from descriptors.store.db import STATUS_FAILED, Store

__all__ = ["Level", "PairStats", "level_rows", "compare_levels", "compare_reference", "fidelity_report",
           "read_reference", "TOLERANCE", "KS"]

TOLERANCE = 0.1  # eV, AdsorbML's success threshold
KS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Level:
    calc_hash: str
    name: str
    version: str
    fidelity: str
    label: str
    finetuned: bool = False  # a model fine-tuned on this screen's own expensive level (no3rr finetune)
    excluded_catalysts: tuple[str, ...] = ()  # its training catalysts: never used to report its error


@dataclass
class Placement:
    origin: str  # job id of the placement at the bottom of the cheap_job chain
    catalyst: str
    adsorbate: str
    e_ads: float | None  # None: failed
    flagged: bool  # an excluding anomaly: not a binding energy of this adsorbate
    job_id: str
    converged: bool = True  # False: a relaxation stopped at its step cap (kept, counted)


@dataclass
class PairStats:
    cheap: str
    expensive: str
    shared: int  # placements computed at both levels
    compared: int  # of those, valid at both levels
    flagged: int  # shared but flagged or failed at either level
    per_adsorbate: dict[str, dict[str, Any]] = field(default_factory=dict)
    overall: dict[str, Any] = field(default_factory=dict)
    success: dict[str, Any] = field(default_factory=dict)  # k -> rate, calls, saving
    pairs_evaluated: int = 0
    parity_png: str | None = None
    unconverged: int = 0  # compared placements whose relaxation stopped at its step cap at either level


def _fidelity(name: str) -> str:
    info = REGISTRY.get(name)
    return info.fidelity if info else "dft"


def _ft(r) -> str:
    """The short hash of a fine-tuned model's own row ('' for other rows, e.g. the expensive level
    that verified a fine-tuned model's minima, which carries the model's hash as provenance)."""
    return str(r.get("ft_model_hash"))[:8] if r.get("ft_model_hash") and r.get("level") == "finetuned" else ""


def level_rows(store: Store, clean: dict[str, Any] | None = None
               ) -> tuple[dict[str, Level], dict[str, dict[str, Placement]]]:
    """Levels of a store (by calculator hash) and their adsorbate placements keyed by origin.

    E_ads are taken against each level's chosen clean reference (analysis/clean_refs.py); pass a
    dict as ``clean`` to receive the catalysts whose relaxed clean models differ by more than the
    tolerance (``groups``) and how many rows were re-referenced on read (``rereferenced``)."""
    rows = list(store.select(kind="adsorbate"))
    by_job = {r.get("job_id"): r for r in rows}
    groups, key_of = clean_groups(store.select(kind="clean"))
    energies = {j: e for g in groups.values() for j, e in g.energies.items()}
    rereferenced = 0

    def origin(r) -> str:
        seen = set()
        while r.get("cheap_job") and r.get("cheap_job") in by_job and r.get("job_id") not in seen:
            seen.add(r.get("job_id"))
            r = by_job[r.get("cheap_job")]
        return r.get("job_id")

    levels: dict[str, Level] = {}
    places: dict[str, dict[str, Placement]] = {}
    for r in rows:
        # a level is a calculator setting and, for a verify level, its mode (single points on the
        # cheap geometry and relaxations from it are different numbers) and the level it started
        # from (from the base model's minimum and from a fine-tuned model's: two numbers per placement)
        parent = by_job.get(r.get("cheap_job")) if r.get("cheap_job") else None
        mode = ((r.data or {}).get("recipe") or {}).get("mode", "") if r.get("cheap_job") else ""
        h = f"{r.get('calc_hash')}:{mode}:{parent.get('calc_hash') if parent is not None else ''}"
        ft_train = tuple(sorted(c for c in str(r.get("ft_train") or "").split(",") if c))
        if h not in levels:
            name, version = r.get("calc"), str(r.get("calc_version", ""))
            label = f"{name} {version}".strip() + (f" fine-tuned {_ft(r)}" if _ft(r) else "")
            if mode:
                src = f" from {parent.get('calc')}" + (f" {_ft(parent)}" if _ft(parent) else "") if parent else ""
                label += f" ({mode}{src})"
            levels[h] = Level(r.get("calc_hash"), name, version, _fidelity(name), label,
                              bool(_ft(r)), ft_train if _ft(r) else ())
        if ft_train and r.get("catalyst") in ft_train:
            continue  # a fine-tuned model's error is never measured on the catalysts it learnt from
        failed = r.get("status") == STATUS_FAILED or r.get("e_ads") is None
        e = None if failed else row_reference(r, groups, key_of, energies)[0]
        if e is not None and abs(e - float(r.get("e_ads"))) > 1e-9:
            rereferenced += 1
        if e is not None and not math.isfinite(e):
            e = None
        places.setdefault(h, {})[origin(r)] = Placement(
            origin(r), r.get("catalyst"), r.get("adsorbate"), e,
            (not failed) and is_excluded(r.get("anomaly", "")), r.get("job_id"), r.get("converged") is not False)
    for h in levels:
        places.setdefault(h, {})
    if clean is not None:
        clean["groups"] = [g.as_dict() for g in groups.values() if g.spread > CLEAN_REF_TOLERANCE]
        clean["rereferenced"] = rereferenced
    # the same calculator name at two settings: tell them apart by the hash
    names = [lv.label for lv in levels.values()]
    for h, lv in list(levels.items()):
        if names.count(lv.label) > 1:
            levels[h] = Level(lv.calc_hash, lv.name, lv.version, lv.fidelity, f"{lv.label} [{h[:8]}]",
                              lv.finetuned, lv.excluded_catalysts)
    return levels, places


def _stats(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from scipy.stats import pearsonr, spearmanr

    d = y - x
    out: dict[str, Any] = {"n": int(len(x))}
    if len(x) == 0:
        return out
    out.update(mae=float(np.abs(d).mean()), max_error=float(np.abs(d).max()), mean_error=float(d.mean()))
    const = len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0
    out["pearson"] = None if const else float(pearsonr(x, y)[0])
    out["spearman"] = None if const else float(spearmanr(x, y)[0])
    return out


def _order(levels: dict[str, Level], places) -> list[tuple[str, str]]:
    """(cheap, expensive) pairs: the level whose placements are the origins is the cheap one;
    otherwise the fidelity ladder decides."""
    pairs = []
    for a, b in itertools.combinations(levels, 2):
        own_a = sum(p.job_id == p.origin for p in places[a].values())
        own_b = sum(p.job_id == p.origin for p in places[b].values())
        rank = (FIDELITY_ORDER.index(levels[a].fidelity), -own_a), (FIDELITY_ORDER.index(levels[b].fidelity), -own_b)
        if own_a != own_b:
            pairs.append((a, b) if own_a > own_b else (b, a))
        elif levels[a].finetuned != levels[b].finetuned:  # a fine-tuned model pre-screens for the level above it
            pairs.append((a, b) if levels[a].finetuned else (b, a))
        else:
            pairs.append((a, b) if rank[0] <= rank[1] else (b, a))
    return pairs


def compare_levels(cheap: dict[str, Placement], expensive: dict[str, Placement], cheap_label: str,
                   expensive_label: str, tolerance: float = TOLERANCE) -> PairStats:
    shared = sorted(set(cheap) & set(expensive))
    valid = [o for o in shared if cheap[o].e_ads is not None and expensive[o].e_ads is not None
             and not cheap[o].flagged and not expensive[o].flagged]
    st = PairStats(cheap_label, expensive_label, len(shared), len(valid), len(shared) - len(valid))
    st.unconverged = sum(not (cheap[o].converged and expensive[o].converged) for o in valid)
    x = np.array([cheap[o].e_ads for o in valid])
    y = np.array([expensive[o].e_ads for o in valid])
    st.overall = _stats(x, y)
    for ads in sorted({cheap[o].adsorbate for o in valid}):
        idx = [i for i, o in enumerate(valid) if cheap[o].adsorbate == ads]
        st.per_adsorbate[ads] = _stats(x[idx], y[idx])
    # AdsorbML success at k: groups whose every valid cheap placement has an expensive number
    # (every placement of a group, flagged or failed at the cheap level too, is what computing
    # all placements at the expensive level would cost)
    groups: dict[tuple[str, str], list[str]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for o, p in cheap.items():
        key = (p.catalyst, p.adsorbate)
        sizes[key] = sizes.get(key, 0) + 1
        if p.e_ads is not None and not p.flagged:
            groups.setdefault(key, []).append(o)
    evaluated = {g: os_ for g, os_ in groups.items() if all(o in expensive for o in os_)}
    st.pairs_evaluated = len(evaluated)
    total = sum(sizes[g] for g in evaluated)
    for k in KS:
        ok, calls, n = 0, 0, 0
        for os_ in evaluated.values():
            ranked = sorted(os_, key=lambda o: (cheap[o].e_ads, o))
            good = [o for o in os_ if expensive[o].e_ads is not None and not expensive[o].flagged]
            if not good:
                continue
            n += 1
            calls += min(k, len(ranked))
            best_all = min(expensive[o].e_ads for o in good)
            top = [expensive[o].e_ads for o in ranked[:k] if o in good]
            ok += bool(top) and min(top) <= best_all + tolerance
        st.success[str(k)] = {"rate": None if n == 0 else ok / n, "groups": n, "success": ok,
                              "expensive_calls": calls, "all_placements": total,
                              "saving": None if not total else 1 - calls / total,
                              "speedup": None if not calls else total / calls}
    return st


def parity_plot(cheap: dict[str, Placement], expensive: dict[str, Placement], st: PairStats, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shared = sorted(set(cheap) & set(expensive))
    fig, ax = plt.subplots(figsize=(5.2, 5.0), dpi=120)
    ads_all = sorted({cheap[o].adsorbate for o in shared})
    colors = dict(zip(ads_all, plt.cm.tab10.colors * 3))
    lo, hi = math.inf, -math.inf
    for ads in ads_all:
        for flagged in (False, True):
            pts = [(cheap[o].e_ads, expensive[o].e_ads) for o in shared if cheap[o].adsorbate == ads
                   and cheap[o].e_ads is not None and expensive[o].e_ads is not None
                   and (cheap[o].flagged or expensive[o].flagged) == flagged]
            if not pts:
                continue
            a = np.array(pts)
            lo, hi = min(lo, a.min()), max(hi, a.max())
            ax.scatter(a[:, 0], a[:, 1], s=22, color=colors[ads], marker="x" if flagged else "o",
                       label=f"{ads} (flagged, not in stats)" if flagged else ads, alpha=0.85)
    if math.isfinite(lo):
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k-", lw=0.8)
        for s in (-TOLERANCE, TOLERANCE):
            ax.plot([lo - pad, hi + pad], [lo - pad + s, hi + pad + s], "k:", lw=0.6)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad)
    o = st.overall
    title = f"{st.expensive} vs {st.cheap}"
    if len(title) > 60:  # long labels (a fine-tuned level's hash): one per line
        title = f"{st.expensive}\nvs {st.cheap}"
    if o.get("n"):
        title += f"\nMAE {o['mae']:.3f} eV, max {o['max_error']:.3f} eV, n = {o['n']}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"E_ads {st.cheap} (eV)", fontsize=9 if len(st.cheap) < 40 else 7)
    ax.set_ylabel(f"E_ads {st.expensive} (eV)", fontsize=9 if len(st.expensive) < 40 else 7)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def best_per_pair(places: dict[str, Placement]) -> dict[tuple[str, str], float]:
    best: dict[tuple[str, str], float] = {}
    for p in places.values():
        if p.e_ads is not None and not p.flagged:
            key = (p.catalyst, p.adsorbate)
            best[key] = min(best.get(key, math.inf), p.e_ads)
    return best


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in s).strip("_")


def fidelity_report(store: Store, out: str | Path, reference: str | Path | None = None,
                    tolerance: float = TOLERANCE) -> dict[str, Any]:
    """Compare every pair of levels in ``store``; write fidelity.json, fidelity_pairs.csv and one
    parity PNG per pair into ``out``; return the report."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean: dict[str, Any] = {}
    levels, places = level_rows(store, clean)
    report: dict[str, Any] = {
        "levels": [asdict(lv) | {"placements": len(places[h])} for h, lv in levels.items()],
        "tolerance_eV": tolerance,
        "clean_ref_tolerance_eV": CLEAN_REF_TOLERANCE,
        "clean_references": clean["groups"],  # catalysts whose relaxed clean models at one level differ
        "rereferenced_on_read": clean["rereferenced"],
        "method": "AdsorbML success rate: Lan et al., npj Comput. Mater. 9, 172 (2023)",
        "pairs": [],
    }
    table = []
    for a, b in _order(levels, places):
        st = compare_levels(places[a], places[b], levels[a].label, levels[b].label, tolerance)
        if st.shared == 0:
            continue
        png = out / f"parity_{_slug(levels[a].label)}__{_slug(levels[b].label)}.png"
        st.parity_png = str(parity_plot(places[a], places[b], st, png))
        report["pairs"].append(asdict(st))
        for ads, s in [*st.per_adsorbate.items(), ("all", st.overall)]:
            table.append({"cheap": st.cheap, "expensive": st.expensive, "adsorbate": ads, **s})
    if reference is not None:
        ref = read_reference(reference)
        report["reference"] = {"file": str(reference), "levels": {
            levels[h].label: compare_reference(best_per_pair(places[h]), ref) for h in levels}}
    cols = ["cheap", "expensive", "adsorbate", "n", "mae", "max_error", "mean_error", "pearson", "spearman"]
    with open(out / "fidelity_pairs.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in table:
            w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    (out / "fidelity.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def _f(v, fmt=".3f") -> str:
    return "-" if v is None else format(v, fmt)


def format_report(report: dict[str, Any]) -> list[str]:
    lines = ["levels: " + "; ".join(f"{lv['label']} ({lv['fidelity']}, {lv['placements']} placements)"
                                     for lv in report["levels"])]
    for lv in report["levels"]:
        if lv.get("finetuned"):
            lines.append(f"fine-tuned level {lv['label']}: trained on {', '.join(lv['excluded_catalysts'])}; "
                         "those catalysts are left out of its comparisons")
    lines += format_groups(report.get("clean_references") or [],
                           report.get("clean_ref_tolerance_eV", CLEAN_REF_TOLERANCE))
    if report.get("rereferenced_on_read"):
        lines.append(f"clean reference: {report['rereferenced_on_read']} stored E_ads were against another clean "
                     "model and are re-referenced to the lowest here (the store keeps them until the level is "
                     "verified again)")
    if not report["pairs"]:
        lines.append("no two levels share a placement: nothing to compare (run a [verify] level first)")
    for p in report["pairs"]:
        lines.append(f"\n{p['expensive']} vs {p['cheap']}: {p['compared']} placements compared "
                     f"({p['flagged']} flagged or failed at either level, left out"
                     + (f"; {p['unconverged']} compared stopped at the step cap at either level: unconverged, kept"
                        if p.get("unconverged") else "") + ")")
        lines.append(f"  {'adsorbate':<10}{'n':>4}{'MAE':>8}{'max':>8}{'mean':>8}{'Pearson':>9}{'Spearman':>9}")
        for ads, s in [*p["per_adsorbate"].items(), ("all", p["overall"])]:
            lines.append(f"  {ads:<10}{s['n']:>4}{_f(s.get('mae')):>8}{_f(s.get('max_error')):>8}"
                         f"{_f(s.get('mean_error')):>8}{_f(s.get('pearson'), '.2f'):>9}{_f(s.get('spearman'), '.2f'):>9}")
        lines.append(f"  AdsorbML success within {report['tolerance_eV']} eV over {p['pairs_evaluated']} "
                     "(catalyst, adsorbate) with every placement at both levels:")
        for k, s in p["success"].items():
            rate = "-" if s["rate"] is None else f"{100 * s['rate']:.0f} %"
            saving = "-" if s["saving"] is None else f"{100 * s['saving']:.0f} %"
            lines.append(f"    k = {k}: {rate:>6} ({s['success']}/{s['groups']}), expensive calls "
                         f"{s['expensive_calls']}/{s['all_placements']} (saves {saving})")
        lines.append(f"  parity plot: {p['parity_png']}")
    if "reference" in report:
        lines.append(f"\nagainst the reference {report['reference']['file']} (each adsorbate's mean offset removed):")
        for label, r in report["reference"]["levels"].items():
            lines.append(f"  {label}: n = {r['n']}, MAE {_f(r.get('mae_after_offset'))} eV, slope "
                         f"{_f(r.get('slope'), '.2f')}, Pearson {_f(r.get('pearson'), '.2f')}")
            for ads, s in r["per_adsorbate"].items():
                lines.append(f"    {ads:<8} n = {s['n']}, offset {s['offset']:+.3f} eV, MAE after offset "
                             f"{s['mae_after_offset']:.3f} eV, slope {_f(s.get('slope'), '.2f')}")
    return lines
