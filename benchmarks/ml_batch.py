"""ML-potential throughput: relaxed placements per core-hour, one relaxation per job against
many per model call (``descriptors.tasks.batch.relax_batch``).

Baseline: one ``relax`` per placement with ASE BFGS (the tool before issue 16; CHGNet's ASE
calculator, which also computes stress and magnetic moments on every call).  New: ``relax_batch``
with the default optimizer (BFGS-soft), energies and forces only, all placements per model call.

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


def run_ml_batch(quick: bool, setting_name: str = "chgnet", optimizer: str | None = None,
                 baseline_optimizer: str = "BFGS") -> dict[str, Any]:
    """``baseline_optimizer`` one relaxation per job (the tool before issue 16: ASE BFGS) against
    ``relax_batch`` with ``optimizer`` (default: the spec's default, BFGS-soft)."""
    from threadpoolctl import threadpool_limits

    from descriptors.calculators import CalculatorSetting
    from descriptors.specs import RelaxSpec
    from descriptors.tasks.base import RelaxSettings
    from descriptors.tasks.batch import relax_batch
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
    try:
        relax(geoms[0][1], setting, RelaxSettings(rs.optimizer, rs.fmax, 0))  # load the model once, untimed
        c0, t0 = time.process_time(), time.perf_counter()
        base = RelaxSettings(baseline_optimizer, rs.fmax, rs.steps)
        single = [relax(a, setting, base) for _, a in geoms]
        c1, t1 = time.process_time(), time.perf_counter()
        batched = relax_batch([a for _, a in geoms], setting, rs, batch_size=len(geoms))
        c2, t2 = time.process_time(), time.perf_counter()
    finally:
        limits.restore_original_limits()
    rows, equal = [], 0
    for (label, _), s, b in zip(geoms, single, batched):
        de = b.energy - s.energy
        dx = float(np.abs(b.atoms.positions - s.atoms.positions).max())
        same = abs(de) <= 0.01 and dx <= 0.1
        equal += same
        rows.append({"label": label, "steps_single": s.steps, "steps_batched": b.steps, "dE_eV": round(de, 5),
                     "max_dx_A": round(dx, 4), "converged": [s.converged, b.converged], "equal_minimum": same})
    n = len(geoms)
    single_cpu, batch_cpu = c1 - c0, c2 - c1
    per_h = lambda cpu: round(3600 * n / cpu, 1) if cpu > 0 else None  # noqa: E731
    return {
        "calculator": setting.label(), "optimizer": rs.optimizer, "baseline_optimizer": baseline_optimizer,
        "fmax": rs.fmax, "placements": n,
        "atoms_per_structure": int(np.mean([len(a) for _, a in geoms])),
        "single": {"cpu_s": round(single_cpu, 2), "wall_s": round(t1 - t0, 2), "placements_per_core_hour": per_h(single_cpu),
                   "force_calls": int(sum(r.steps + 1 for r in single))},
        "batched": {"cpu_s": round(batch_cpu, 2), "wall_s": round(t2 - t1, 2), "placements_per_core_hour": per_h(batch_cpu),
                    "model_calls": batched[0].extra.get("batch_calls") if batched else 0,
                    "force_evaluations": int(sum(r.steps + 1 for r in batched))},
        "force_evaluations_ratio": round(sum(r.steps + 1 for r in batched) / max(1, sum(r.steps + 1 for r in single)), 3),
        "speedup_core_hours": round(single_cpu / batch_cpu, 2) if batch_cpu > 0 else None,
        "equal_minima": equal, "goal_speedup": 5.0, "rows": rows,
    }
