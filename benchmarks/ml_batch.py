"""ML-potential throughput: relaxed placements per core-hour, one relaxation per job against
many per model call (``descriptors.tasks.batch.relax_batch``, the engine's batch mode).

Baseline: one ``relax`` per placement with ASE BFGS (the tool before issue 16; CHGNet's ASE
calculator, which also computes stress and magnetic moments on every call).  Now: ``relax_batch``
with the default optimizer ("auto": BFGS-model for one-atom adsorbates, BFGS-soft for molecules)
and CHGNet through ``calculators.ml.CHGNetEF`` (graph reused while atoms move less than a skin,
energy and forces only, forces without a double-backward graph), 8 placements per model call as
the engine's batch mode runs them.  Also in the same run: the third round's batch path (CHGNet's
``predict_structure``, BFGS-soft, all placements per call), the fourth round's (``CHGNetEF``,
BFGS-soft for every placement), and the breakdown of one call on a 37-atom slab (``call_breakdown``).

Placements: the screen's own (``plan_adsorbate_jobs``, default placement) of H, O, N and NO on a
Cu(111) 2x2x3 slab (1 fixed layer, 6 A vacuum, experimental lattice constant; the clean slab is
the built one, not relaxed, to keep the benchmark short).  Both paths use the same calculator
setting, optimizer and fmax; one torch thread; CPU seconds (``process_time``) so that a loaded
machine does not distort the ratio.  Equal minima: |dE| <= 0.01 eV and every atom within 0.1 A.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

__all__ = ["run_ml_batch", "placements"]


def placements(adsorbates, setting_name: str = "chgnet", size=(2, 2), layers: int = 3) -> list[Any]:
    from descriptors.specs import RelaxSpec, parse_spec
    from descriptors.structures import expand_catalysts
    from descriptors.workflows.stages import clean_jobs, plan_adsorbate_jobs

    block = {"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": list(size), "layers": layers,
             "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}
    spec = parse_spec({"name": "bench-ml", "catalysts": [block], "adsorbates": list(adsorbates),
                       "calculator": {"name": setting_name}}, "<benchmark ml>")
    setting = spec.calculator.setting()
    rs = RelaxSpec().settings()
    cjobs, ideal = clean_jobs(expand_catalysts(spec), None, {}, setting, rs, [])
    out = []
    for cj in cjobs:
        for job in plan_adsorbate_jobs(cj, ideal[cj.id], cj.atoms, spec.adsorbate_names(), spec, setting, rs):
            out.append((job.label, job.atoms))
    return out


def _predict_structure_predictor(model, batch_size: int):
    """The batch path before this round (for the "before" column): pymatgen Structures, CHGNet's
    ``predict_structure`` (graph converter, ``create_graph=True`` forces), all structures per call."""
    from pymatgen.io.ase import AseAtomsAdaptor

    def predict(structures, slots=None):
        pmg = [AseAtomsAdaptor.get_structure(a) for a in structures]
        preds = model.predict_structure(pmg, task="ef", batch_size=batch_size)
        preds = [preds] if isinstance(preds, dict) else preds
        factor = lambda a: len(a) if model.is_intensive else 1  # noqa: E731
        return [(float(p["e"]) * factor(a), np.asarray(p["f"], dtype=float)) for a, p in zip(structures, preds)]

    return predict


def _compare(single, batched) -> tuple[int, list[dict[str, Any]]]:
    rows, equal = [], 0
    for s, b in zip(single, batched):
        de = b.energy - s.energy
        dx = float(np.abs(b.atoms.positions - s.atoms.positions).max())
        same = abs(de) <= 0.01 and dx <= 0.1
        equal += same
        rows.append({"steps_single": s.steps, "steps_batched": b.steps, "dE_eV": round(de, 5),
                     "max_dx_A": round(dx, 4), "converged": [s.converged, b.converged], "equal_minimum": same})
    return equal, rows


def run_ml_batch(quick: bool, setting_name: str = "chgnet", optimizer: str | None = None,
                 baseline_optimizer: str = "BFGS", batch_size: int = 8) -> dict[str, Any]:
    """``baseline_optimizer`` one relaxation per job with the calculator's ASE calculator (the tool
    before issue 16: ASE BFGS) against ``relax_batch`` with ``optimizer`` (default: the spec default, "auto") in
    batches of ``batch_size`` (the engine's batch mode), and against the batch path of the previous
    round (CHGNet's ``predict_structure``, all per call): one run, side by side."""
    from threadpoolctl import threadpool_limits

    from descriptors.calculators import CalculatorSetting
    from descriptors.specs import RelaxSpec
    from descriptors.tasks.base import RelaxSettings
    from descriptors.tasks.batch import batch_predictor, relax_batch
    from descriptors.tasks.relax import relax

    d = RelaxSpec()
    rs = RelaxSettings(optimizer or d.optimizer, d.fmax, 150)
    setting = CalculatorSetting(setting_name)
    ads = ["H", "O"] if quick else ["H", "O", "N", "NO"]
    geoms = placements(ads, setting_name)
    if quick:
        geoms = geoms[:6]
    import torch

    torch.set_num_threads(1)
    limits = threadpool_limits(1)
    n = len(geoms)
    structures = [a for _, a in geoms]
    try:
        relax(geoms[0][1], setting, RelaxSettings(rs.optimizer, rs.fmax, 0))  # load the model once, untimed
        predictor, fast = batch_predictor(setting, batch_size)
        c0, t0 = time.process_time(), time.perf_counter()
        base = RelaxSettings(baseline_optimizer, rs.fmax, rs.steps)
        single = [relax(a, setting, base) for a in structures]
        c1, t1 = time.process_time(), time.perf_counter()
        new_stats: dict[str, Any] = {}
        batched = relax_batch(structures, setting, rs, predictor=predictor, batch_size=batch_size, stats=new_stats)
        c2, t2 = time.process_time(), time.perf_counter()
        graphs = {k: predictor.stats[k] for k in ("graphs_built", "graphs_reused")} if fast else None
        paths = {"single": (c1 - c0, t1 - t0, single, {"force_evaluations": sum(r.steps + 1 for r in single)}),
                 "batched": (c2 - c1, t2 - t1, batched, new_stats)}
        if setting_name == "chgnet":
            old_stats: dict[str, Any] = {}
            soft = RelaxSettings("BFGS-soft", rs.fmax, rs.steps)
            old = relax_batch(structures, setting, soft, predictor=_predict_structure_predictor(predictor.model, n),
                              batch_size=n, stats=old_stats)
            c3, t3 = time.process_time(), time.perf_counter()
            paths["previous"] = (c3 - c2, t3 - t2, old, old_stats)
            if rs.optimizer != "BFGS-soft":
                fourth_stats: dict[str, Any] = {}
                fourth = relax_batch(structures, setting, soft, predictor=predictor, batch_size=batch_size,
                                     stats=fourth_stats)
                c4, t4 = time.process_time(), time.perf_counter()
                paths["fourth"] = (c4 - c3, t4 - t3, fourth, fourth_stats)
    finally:
        limits.restore_original_limits()
    per_h = lambda cpu: round(3600 * n / cpu, 1) if cpu > 0 else None  # noqa: E731
    out: dict[str, Any] = {
        "calculator": setting.label(), "optimizer": rs.optimizer, "baseline_optimizer": baseline_optimizer,
        "fmax": rs.fmax, "placements": n, "batch_size": batch_size, "fast_predictor": fast,
        "atoms_per_structure": int(np.mean([len(a) for a in structures])), "goal_speedup": 5.0,
    }
    single_cpu = paths["single"][0]
    for name, (cpu, wall, results, st) in paths.items():
        equal, rows = _compare(single, results)
        out[name] = {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "placements_per_core_hour": per_h(cpu),
                     "model_calls": st.get("model_calls", st.get("force_evaluations")),
                     "force_evaluations": st.get("force_evaluations"),
                     "speedup_core_hours": round(single_cpu / cpu, 2) if cpu > 0 else None,
                     "equal_minima": equal, "rows": [{"label": lab, **r} for (lab, _), r in zip(geoms, rows)]}
    if fast:
        out["batched"]["graphs"] = graphs  # the engine batch-mode path's own (the predictor is shared)
    out["single"]["force_calls"] = out["single"]["force_evaluations"]
    out["speedup_core_hours"] = out["batched"]["speedup_core_hours"]
    out["equal_minima"] = out["batched"]["equal_minima"]
    out["force_evaluations_ratio"] = round(out["batched"]["force_evaluations"] / max(1, out["single"]["force_evaluations"]), 3)
    if setting_name == "chgnet":
        out["call_breakdown_ms"] = call_breakdown()
    return out


def call_breakdown(repeats: int = 5) -> dict[str, Any]:
    """CPU ms of one CHGNet energy+force call on a 37-atom Cu(111) 3x3x4 slab with H (one thread):
    CHGNet's ASE calculator (what a job called before issue 16) part by part, and ``CHGNetEF``."""
    import torch
    from ase.build import add_adsorbate, fcc111
    from chgnet.model.model import BatchedGraph
    from pymatgen.io.ase import AseAtomsAdaptor

    from descriptors.calculators import CalculatorSetting, make_calculator
    from descriptors.calculators.ml import CHGNetEF

    slab = fcc111("Cu", size=(3, 3, 4), vacuum=6.0, a=3.615)
    add_adsorbate(slab, "H", 1.0, "fcc")
    slab.pbc = True
    calc = make_calculator(CalculatorSetting("chgnet"), atoms=slab)
    model, conv = calc.model, calc.model.graph_converter
    ef = CHGNetEF(model)

    def ms(fn):
        fn()
        t = time.process_time()
        for _ in range(repeats):
            fn()
        return round((time.process_time() - t) / repeats * 1000, 1)

    st = AseAtomsAdaptor.get_structure(slab)
    g = conv(st)

    def forward():
        bg = BatchedGraph.from_graphs([g], model.bond_basis_expansion, model.angle_basis_expansion)
        return bg, model._compute(bg)

    def forward_forces(create_graph: bool):
        bg, p = forward()
        return torch.autograd.grad((p["e"] * p["atoms_per_graph"]).sum(), bg.atom_positions, create_graph=create_graph)

    def full_call():
        slab.calc = calc
        calc.results = {}
        slab.positions[-1, 2] += 1e-7
        return slab.get_forces()

    def ef_fresh():
        ef.cache.clear()
        return ef([slab], ["x"])

    before = {"ase_to_pymatgen": ms(lambda: AseAtomsAdaptor.get_structure(slab)),
              "graph_construction_fast": ms(lambda: conv(st))}
    conv.algorithm, conv.create_graph = "legacy", conv._create_graph_legacy
    before["graph_construction_legacy"] = ms(lambda: conv(st))
    conv.algorithm, conv.create_graph = "fast", conv._create_graph_fast
    before.update({"basis_expansion": ms(lambda: BatchedGraph.from_graphs([g], model.bond_basis_expansion,
                                                                         model.angle_basis_expansion)),
                   "forward_energy_incl_basis": ms(forward),
                   "forward_plus_forces_create_graph": ms(lambda: forward_forces(True)),
                   "forward_plus_forces_no_create_graph": ms(lambda: forward_forces(False)),
                   "stress_and_magmoms_extra": None,
                   "whole_ase_call_efsm": ms(full_call)})
    before["stress_and_magmoms_extra"] = round(before["whole_ase_call_efsm"] - before["ase_to_pymatgen"]
                                               - before["graph_construction_fast"]
                                               - before["forward_plus_forces_create_graph"], 1)
    after = {"ef_fresh_graph": ms(ef_fresh), "ef_graph_reused": ms(lambda: ef([slab], ["x"]))}
    return {"atoms": len(slab), "directed_edges": int(g.atom_graph.shape[0]), "angles": int(g.bond_graph.shape[0]),
            "before": before, "after": after}


def render(m: dict[str, Any]) -> list[str]:
    """The benchmark's lines: each path beside the goal and the baseline."""
    from .cli import _fmt, _table

    if "skipped" in m:
        return [f"ML throughput: {m['skipped']}"]
    names = {"single": f"one relaxation per job ({m.get('baseline_optimizer', 'BFGS')}, ASE calculator) = baseline",
             "previous": "third round: relax_batch, predict_structure, BFGS-soft, all per call",
             "fourth": f"fourth round: relax_batch + CHGNetEF, BFGS-soft, {m.get('batch_size')} per call",
             "batched": f"now: relax_batch + CHGNetEF, {m['optimizer']}, {m.get('batch_size')} per call (engine batch mode)"}
    rows = [[names.get(k, k), m[k]["cpu_s"], m[k]["wall_s"], m[k]["placements_per_core_hour"],
             m[k].get("force_evaluations"), m[k].get("model_calls"), _fmt(m[k].get("speedup_core_hours")),
             f"{m[k].get('equal_minima', m['placements'])}/{m['placements']}"]
            for k in ("single", "previous", "fourth", "batched") if k in m]
    out = [f"ML throughput ({m['calculator']}, {m['placements']} placements of ~{m['atoms_per_structure']} atoms, "
           f"fmax {m['fmax']}, one thread): relaxed placements per core-hour (goal >= {m['goal_speedup']:.0f}x the baseline)",
           _table(["path", "cpu s", "wall s", "placements/core-h", "force evals", "model calls", "x baseline",
                   "equal minima"], rows),
           f"now: {_fmt(m['speedup_core_hours'])}x (goal >= {m['goal_speedup']:.0f}x; baseline 1.0); equal minima: "
           f"|dE| <= 0.01 eV and atoms within 0.1 A of the baseline's"]
    if m.get("batched", {}).get("graphs"):
        out.append(f"  graphs built {m['batched']['graphs']['graphs_built']}, reused {m['batched']['graphs']['graphs_reused']}")
    b = m.get("call_breakdown_ms")
    if b:
        out.append(f"  one call, {b['atoms']} atoms ({b['directed_edges']} edges, {b['angles']} angles), CPU ms: before "
                   + ", ".join(f"{k} {v}" for k, v in b["before"].items()) + "; now "
                   + ", ".join(f"{k} {v}" for k, v in b["after"].items()))
    return out


def per_call(n: int = 8, repeats: int = 2) -> dict[str, float]:
    """CPU ms per structure of one energy+force call on ``n`` of the benchmark's placements (H, O,
    N, NO on Cu(111) 2x2x3), one thread: CHGNet's ASE calculator (the baseline's call), the
    previous round's ``predict_structure`` with all per call, ``CHGNetEF`` one and all per call
    (graphs reused).  Under a minute of CPU: ``python -m benchmarks.ml_batch``."""
    import torch

    from descriptors.calculators import CalculatorSetting, make_calculator
    from descriptors.calculators.ml import CHGNetEF

    torch.set_num_threads(1)
    geoms = [a for _, a in placements(["H", "O", "N", "NO"])][:n]
    calc = make_calculator(CalculatorSetting("chgnet"), atoms=geoms[0])
    ef, old = CHGNetEF(calc.model), _predict_structure_predictor(calc.model, n)

    def per(fn):
        fn()
        t = time.process_time()
        for _ in range(repeats):
            fn()
        return round((time.process_time() - t) / repeats / len(geoms) * 1000, 1)

    def ase_calls():
        for a in geoms:
            a.calc = calc
            calc.results = {}
            a.positions[-1, 2] += 1e-7
            a.get_forces()

    return {"atoms": int(np.mean([len(a) for a in geoms])), "ase_calculator_efsm": per(ase_calls),
            "previous_predict_structure_all_per_call": per(lambda: old(geoms)),
            "chgnet_ef_one_per_call": per(lambda: [ef([a], [i]) for i, a in enumerate(geoms)]),
            "chgnet_ef_all_per_call": per(lambda: ef(geoms, list(range(len(geoms)))))}


if __name__ == "__main__":
    import json

    print(json.dumps({"per_call_ms": per_call(), "call_breakdown_ms": call_breakdown()}, indent=1))
