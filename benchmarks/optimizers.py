"""Calculator calls per relaxation: the package's default against ASE optimizers, same geometries.

The initial geometries are exactly what a screen relaxes: the quick start's slab settings
(3x3, 4 layers, 2 fixed, 7.5 A vacuum; experimental lattice constant), the clean slab relaxed with
the default settings, then every (adsorbate, binding mode, site) configuration from
``screen.plan_adsorbate_jobs`` (the default placement).  Each is relaxed with

* ``default``: ``descriptors.tasks.relax.relax`` with the spec's default ``[relax]`` (optimizer, fmax,
  steps) as a screen runs it;
* ``ASE <name>``: the ASE optimizer on the same Atoms, same fmax and step limit;
* ``add_adsorbate 2.0 A + BFGS``: the placement a user would write by hand,
  ``ase.build.add_adsorbate(slab, molecule, height=2.0, position=site)`` (monodentate only; 2.0 A is
  also pymatgen's default ``distance``), relaxed with BFGS: what the default placement saves.

Calls are real calculator evaluations counted from outside (``callcount``).  Energies are compared
with ASE BFGS from the same geometry: ``|dE| > 0.02 eV`` means the optimizer ended in another
local minimum (or did not converge).
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from statistics import median
from typing import Any, Callable

import numpy as np

from . import callcount

__all__ = ["run_relax", "initial_geometries", "OPTIMIZERS"]

#: ASE optimizers compared with the default (name -> factory(atoms) -> optimizer)
def _ase(name: str) -> Callable:
    def make(atoms):
        import ase.optimize as opt

        if name == "PreconLBFGS(Exp)":
            from ase.optimize.precon import Exp, PreconLBFGS

            return PreconLBFGS(atoms, precon=Exp(A=3), use_armijo=True, logfile=None)
        if name in ("BFGS-soft", "BFGS-model"):  # ours (tasks/optimizers.py), selectable in [relax]
            from descriptors.tasks.relax import make_optimizer

            return make_optimizer(name, atoms)
        return getattr(opt, name)(atoms, logfile=None)

    return make


OPTIMIZERS = ["BFGS", "BFGS-soft", "LBFGS", "FIRE", "BFGSLineSearch", "PreconLBFGS(Exp)"]
DIFFERENT_MINIMUM_EV = 0.01  # issue 16: equal minima = energy within 0.01 eV and the same site
DIFFERENT_SITE_A = 0.3  # an adsorbate atom further than this from where ASE BFGS put it: another site


def initial_geometries(metals, facets, adsorbates, setting_name: str = "emt") -> list[dict[str, Any]]:
    """Placed adsorbate configurations on the default-relaxed quick-start slabs."""
    from descriptors.specs import RelaxSpec, parse_spec
    from descriptors.structures import expand_catalysts
    from descriptors.tasks.relax import RelaxSettings, relax
    from descriptors.workflows.stages import clean_jobs, plan_adsorbate_jobs

    from .cases import QUICKSTART, load_toml

    qs = load_toml(QUICKSTART)
    block = dict(qs["catalysts"][0], metals=list(metals), facets=list(facets), lattice_constant="experimental")
    spec = parse_spec({"name": "bench-relax", "catalysts": [block], "adsorbates": list(adsorbates),
                       "calculator": {"name": setting_name}}, "<benchmark relax>")
    setting = spec.calculator.setting()
    d = RelaxSpec()
    rs = RelaxSettings(d.optimizer, d.fmax, d.steps)
    cjobs, ideal = clean_jobs(expand_catalysts(spec), None, {}, setting, rs, [])
    out = []
    for cj in cjobs:
        clean = relax(cj.atoms, setting, rs, kind="clean").atoms
        for job in plan_adsorbate_jobs(cj, ideal[cj.id], clean, spec.adsorbate_names(), spec, setting, rs):
            out.append({"label": job.label, "atoms": job.atoms, "clean": clean, "meta": job.meta})
    return out


def _naive_placement(geom: dict[str, Any]):
    """The same adsorbate and site with ase.build.add_adsorbate at 2.0 A (monodentate only)."""
    from ase.build import add_adsorbate

    from descriptors.geometry.adsorbates import ADSORBATES

    atoms = geom["atoms"]
    info = atoms.info
    if len(info["binding_indices"]) != 1:
        return None
    ads = ADSORBATES[info["adsorbate"]]
    mode = ads.mode(info["binding"])
    local = ads.atoms(mode)
    slab = geom["clean"].copy()
    # the default placement puts the binding atom straight above the site (slab normal = +z)
    xy = atoms.positions[info["binding_indices"][0], :2]
    add_adsorbate(slab, local, height=2.0, position=(float(xy[0]), float(xy[1])), mol_index=mode.binding[0])
    return slab


def _run(atoms, setting, make_opt, fmax: float, steps: int) -> dict[str, Any]:
    from descriptors.calculators import make_calculator

    work = atoms.copy()
    work.calc = make_calculator(setting, atoms=work)
    c0, s0 = callcount.snapshot()
    t = time.perf_counter()
    dyn = make_opt(work)
    # ASE's line searches print and warn when they restart; keep the table clean, count them
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            converged = bool(dyn.run(fmax=fmax, steps=steps))
            error = None
        except Exception as err:  # an optimizer that breaks is a result, not a crash of the benchmark
            converged, error = False, f"{type(err).__name__}: {err}"[:200]
    energy = float(work.get_potential_energy())
    dt = time.perf_counter() - t
    c1, s1 = callcount.snapshot()
    return {"calls": c1 - c0, "energy": energy, "converged": converged, "steps": int(getattr(dyn, "nsteps", -1)),
            "seconds": dt, "calc_seconds": s1 - s0, "error": error, "warnings": len(caught),
            "positions": work.positions.copy()}


def _run_default(atoms, setting, rs) -> dict[str, Any]:
    from descriptors.tasks.relax import relax

    c0, s0 = callcount.snapshot()
    t = time.perf_counter()
    res = relax(atoms, setting, rs)
    dt = time.perf_counter() - t
    c1, s1 = callcount.snapshot()
    return {"calls": c1 - c0, "energy": float(res.energy), "converged": bool(res.converged), "steps": res.steps,
            "seconds": dt, "calc_seconds": s1 - s0, "error": None, "positions": res.atoms.positions.copy()}


def _summary(rows: list[dict[str, Any]], method: str, ref: str, default: str) -> dict[str, Any]:
    got = [r for r in rows if method in r["methods"]]
    calls = [r["methods"][method]["calls"] for r in got]
    out: dict[str, Any] = {
        "relaxations": len(got),
        "calls_total": int(sum(calls)),
        "calls_mean": round(float(np.mean(calls)), 1) if calls else None,
        "calls_median": float(median(calls)) if calls else None,
        "converged": sum(r["methods"][method]["converged"] for r in got),
        "errors": sum(r["methods"][method]["error"] is not None for r in got),
        "seconds_total": round(sum(r["methods"][method]["seconds"] for r in got), 2),
    }
    # time per call outside the calculator: the optimizer's own work (BFGS: a 3N x 3N eigh per step)
    opt_s = sum(r["methods"][method]["seconds"] - r["methods"][method]["calc_seconds"] for r in got)
    out["optimizer_ms_per_call"] = round(1e3 * opt_s / sum(calls), 2) if sum(calls) else None
    base = [r["methods"][default]["calls"] for r in got]
    out["calls_vs_default"] = round(sum(calls) / sum(base), 3) if sum(base) else None
    ref_calls = [r["methods"][ref]["calls"] for r in got]
    out["calls_vs_ase_bfgs"] = round(sum(calls) / sum(ref_calls), 3) if sum(ref_calls) else None
    de = np.array([r["methods"][method]["energy"] - r["methods"][ref]["energy"] for r in got])
    # the adsorbate's largest displacement from where ASE BFGS put it (same start, same atoms)
    dx = np.array([np.linalg.norm(r["methods"][method]["positions"][r["nslab"]:]
                                  - r["methods"][ref]["positions"][r["nslab"]:], axis=1).max()
                   if r["methods"][method].get("positions") is not None and len(r["methods"][method]["positions"]) ==
                   len(r["methods"][ref]["positions"]) else 0.0 for r in got])
    if len(de):
        out["dE_vs_ase_bfgs_mean_eV"] = round(float(de.mean()), 4)
        out["dE_vs_ase_bfgs_max_abs_eV"] = round(float(np.abs(de).max()), 4)
        out["other_minimum"] = int(np.sum((np.abs(de) > DIFFERENT_MINIMUM_EV) | (dx > DIFFERENT_SITE_A)))
        out["lower_energy"] = int(np.sum(de < -DIFFERENT_MINIMUM_EV))
        out["other_minimum_labels"] = [r["label"] for r, e, x in zip(got, de, dx)
                                       if abs(e) > DIFFERENT_MINIMUM_EV or x > DIFFERENT_SITE_A]
        out["other_minimum_rows"] = [r["index"] for r, e, x in zip(got, de, dx)
                                     if abs(e) > DIFFERENT_MINIMUM_EV or x > DIFFERENT_SITE_A]
    return out


def _tighten(rows, geoms, method: str, ref: str, setting) -> list[dict[str, Any]]:
    """The flagged rows of ``method``: its end point and ASE BFGS's, each relaxed on with BFGS to
    fmax 0.005 -- the same tight minimum means a flat valley, not another minimum."""
    out = []
    flagged = _flagged(rows, method, ref)
    for r in rows:
        if r["index"] not in flagged:
            continue
        ends = []
        for m in (method, ref):
            a = geoms[r["index"]]["atoms"].copy()
            a.positions = r["methods"][m]["positions"]
            ends.append(_run(a, setting, _ase("BFGS"), 0.005, 1000))
        de = ends[0]["energy"] - ends[1]["energy"]
        dx = float(np.linalg.norm(ends[0]["positions"] - ends[1]["positions"], axis=1).max())
        out.append({"label": r["label"], "row": r["index"], "dE_tight_eV": round(de, 5), "max_dx_tight_A": round(dx, 3),
                    "same_minimum": abs(de) <= DIFFERENT_MINIMUM_EV and dx < DIFFERENT_SITE_A})
    return out


def _flagged(rows, method: str, ref: str) -> set[int]:
    out = set()
    for r in rows:
        a, b = r["methods"].get(method), r["methods"].get(ref)
        if a is None or b is None or a.get("positions") is None:
            continue
        dx = np.linalg.norm(a["positions"][r["nslab"]:] - b["positions"][r["nslab"]:], axis=1).max()
        if abs(a["energy"] - b["energy"]) > DIFFERENT_MINIMUM_EV or dx > DIFFERENT_SITE_A:
            out.add(r["index"])
    return out


def run_relax(metals, facets, adsorbates, optimizers: list[str] | None = None, naive: bool = True,
              progress=None) -> dict[str, Any]:
    from descriptors.specs import RelaxSpec
    from descriptors.tasks.relax import RelaxSettings

    callcount.install()  # in-process counter (idempotent)
    from descriptors.calculators import CalculatorSetting

    setting = CalculatorSetting("emt")
    d = RelaxSpec()
    rs = RelaxSettings(d.optimizer, d.fmax, d.steps)
    optimizers = list(optimizers or OPTIMIZERS)
    from threadpoolctl import threadpool_limits

    # one BLAS thread, as in the screen's worker processes (BFGS diagonalises a 3N x 3N Hessian
    # every step; multithreaded BLAS on a loaded machine would time the thread contention instead)
    limits = threadpool_limits(1, user_api="blas")
    try:
        return _run_relax(metals, facets, adsorbates, optimizers, naive, progress, setting, rs)
    finally:
        limits.restore_original_limits()


def _run_relax(metals, facets, adsorbates, optimizers, naive, progress, setting, rs) -> dict[str, Any]:
    t0 = time.perf_counter()
    geoms = initial_geometries(metals, facets, adsorbates)
    t_geoms = time.perf_counter() - t0
    rows = []
    for g in geoms:
        methods = {"default": _run_default(g["atoms"], setting, rs)}
        for name in optimizers:
            methods[f"ASE {name}"] = _run(g["atoms"], setting, _ase(name), rs.fmax, rs.steps)
        if naive:
            start = _naive_placement(g)
            if start is not None:
                methods["add_adsorbate 2.0 A + BFGS"] = _run(start, setting, _ase("BFGS"), rs.fmax, rs.steps)
                methods["add_adsorbate 2.0 A + BFGS"]["positions"] = None  # another start: compared by energy only
        rows.append({"label": g["label"], "methods": methods, "nslab": len(g["clean"]), "index": len(rows)})
        if progress:
            progress(f"relax {g['label']}")
    ref, default = "ASE BFGS", "default"
    names = ["default"] + [f"ASE {n}" for n in optimizers] + (["add_adsorbate 2.0 A + BFGS"] if naive else [])
    summary = {m: _summary(rows, m, ref, default) for m in names}
    # flagged default / BFGS-soft: relax it and ASE BFGS's end point on to fmax 0.005 (BFGS, both); the
    # same tight minimum means the 0.01 eV was where on a flat valley each stopped, not another minimum
    for checked in [m for m in (default, "ASE BFGS-soft") if m in summary]:
        summary[checked]["flagged_tightened"] = _tighten(rows, geoms, checked, ref, setting)

    # the naive placement is compared on its own subset against the default on that subset
    best = min((m for m in names[1:] if m.startswith("ASE") and summary[m]["other_minimum"] <= summary[ref]["other_minimum"]
                and summary[m]["converged"] >= summary[default]["converged"]),
               key=lambda m: summary[m]["calls_total"], default=None)
    return {
        "calculator": setting.label(),
        "default": rs.as_dict(),
        "structures": {"metals": list(metals), "facets": list(facets), "adsorbates": list(adsorbates)},
        "relaxations": len(rows),
        "setup_s": round(t_geoms, 2),
        "summary": summary,
        "fewest_calls_same_minima": best,
        "default_vs_ase_bfgs": summary[default].get("calls_vs_ase_bfgs"),
        "rows": [{"label": r["label"], **{m: {k: (round(v, 5) if isinstance(v, float) else v) for k, v in x.items()
                                              if k != "positions"}
                                          for m, x in r["methods"].items()}} for r in rows],
    }
