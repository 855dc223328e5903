"""EMT per call: the vectorised implementation behind ``emt`` against ASE's, and its Verlet skin.

    python -m benchmarks --only emt [--quick]
    python -m benchmarks.emtcalls [--quick]      # the same, alone

Per call: one energy+forces calculation (``get_potential_energy`` then ``get_forces``, as the
relaxations ask) on displaced copies (nothing cached), median over many calls, one thread, on
(a) the 37-atom Cu(111) 3x3x4 slab with N at the fcc hollow and (b) a quick-start placement (NO3
placed by the screen's own site finder on the EMT-relaxed Cu(111) 3x3x4 slab).  The same
structures give the largest difference between the two (energy, forces).

Per relaxation: the quick start's placements on Cu(100)/(111) (``--quick``: H and NO3 on Cu(111))
relaxed with the default settings, once with ASE's EMT and once with the vectorised one for each
Verlet skin: calls, pair-list builds, CPU seconds inside the calculator, and the largest energy
difference from ASE's relaxation (the same steps, the same minima).
"""

from __future__ import annotations

import os
import sys
import time
from statistics import median
from typing import Any

SKINS = (0.0, 0.2, 0.5, 1.0)
GOAL = "quick start < 2 min on 2 idle cores (issue 16); EMT was ~250 ms of each job (ASE's loop, ~9 ms a call)"


def _slab_n():
    from ase.build import add_adsorbate, fcc111

    s = fcc111("Cu", (3, 3, 4), vacuum=7.5)
    add_adsorbate(s, "N", 1.5, "fcc")
    return s


def _per_call(atoms, cls, calls: int, seed: int = 0) -> float:
    import numpy as np

    rng = np.random.default_rng(seed)
    calc = cls()
    a = atoms.copy()
    a.calc = calc
    a.get_forces()  # set-up (parameters, first pair list) not counted
    times = []
    for _ in range(calls):
        a.positions = atoms.positions + rng.normal(0.0, 0.01, atoms.positions.shape)
        t = time.perf_counter()
        a.get_potential_energy()
        a.get_forces()
        times.append(time.perf_counter() - t)
    return median(times)


def _difference(atoms) -> dict[str, float]:
    import numpy as np
    from ase.calculators.emt import EMT

    from descriptors.calculators.emt import VectorEMT

    a, b = atoms.copy(), atoms.copy()
    a.calc, b.calc = EMT(), VectorEMT()
    return {"dE_eV": float(abs(a.get_potential_energy() - b.get_potential_energy())),
            "dF_eV_per_A": float(np.abs(a.get_forces() - b.get_forces()).max())}


def _relax_all(geoms, implementation: str, skin: float | None) -> dict[str, Any]:
    from descriptors.calculators import CalculatorSetting
    from descriptors.calculators import emt as emt_mod
    from descriptors.specs import RelaxSpec
    from descriptors.tasks.relax import RelaxSettings, relax

    cls = emt_mod.VectorEMT if implementation == "numpy" else emt_mod.EMT
    stats = {"calls": 0, "cpu_s": 0.0, "builds": 0}
    original = cls.__dict__["calculate"]
    original_build = emt_mod.VectorEMT._build_pairs

    def calculate(self, *a, **k):
        c = time.process_time()
        try:
            return original(self, *a, **k)
        finally:
            stats["calls"] += 1
            stats["cpu_s"] += time.process_time() - c

    def build(self, atoms):
        stats["builds"] += 1
        return original_build(self, atoms)

    old_skin = emt_mod.SKIN
    cls.calculate = calculate
    emt_mod.VectorEMT._build_pairs = build
    if skin is not None:
        emt_mod.SKIN = skin
    try:
        setting = CalculatorSetting("emt", {"implementation": implementation})
        d = RelaxSpec()
        rs = RelaxSettings(d.optimizer, d.fmax, d.steps)
        energies = [float(relax(g["atoms"], setting, rs).energy) for g in geoms]
    finally:
        cls.calculate = original
        emt_mod.VectorEMT._build_pairs = original_build
        emt_mod.SKIN = old_skin
    n = len(geoms)
    return {"implementation": implementation, "skin": skin, "relaxations": n, "calls": stats["calls"],
            "builds": stats["builds"], "calc_cpu_s": round(stats["cpu_s"], 3),
            "calc_ms_per_call": round(1e3 * stats["cpu_s"] / max(stats["calls"], 1), 3),
            "calc_ms_per_relaxation": round(1e3 * stats["cpu_s"] / max(n, 1), 2), "energies": energies}


def run_emtcalls(quick: bool = False, log=print) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # informational: the thread count is recorded either way
        pass
    from ase.calculators.emt import EMT

    from descriptors.calculators.emt import SKIN, VectorEMT

    from .cases import relax_structures
    from .optimizers import initial_geometries

    s = relax_structures(quick)
    log(f"emt: placing {', '.join(s['adsorbates'])} on {', '.join(s['metals'])} {', '.join(s['facets'])} ...")
    geoms = initial_geometries(s["metals"], s["facets"], s["adsorbates"])
    placement = next(g for g in geoms if g["atoms"].info.get("adsorbate") == "NO3" and "111" in g["label"])
    structures = {"Cu(111) 3x3x4 + N": _slab_n(), f"placement {placement['label']}": placement["atoms"]}
    calls_ase, calls_np = (10, 100) if quick else (40, 400)
    per_call = []
    for name, atoms in structures.items():
        t_ase = _per_call(atoms, EMT, calls_ase)
        t_np = _per_call(atoms, VectorEMT, calls_np)
        row = {"structure": name, "atoms": len(atoms), "ase_ms": round(1e3 * t_ase, 3),
               "numpy_ms": round(1e3 * t_np, 3), "speedup": round(t_ase / t_np, 1), **_difference(atoms)}
        per_call.append(row)
        log(f"emt: {name} ({len(atoms)} atoms): ASE {row['ase_ms']} ms, numpy {row['numpy_ms']} ms per call")
    log(f"emt: relaxing {len(geoms)} placements with ASE's EMT ...")
    ref = _relax_all(geoms, "ase", None)
    relax_rows = [ref]
    for skin in SKINS:
        log(f"emt: relaxing {len(geoms)} placements with the vectorised EMT, skin {skin} A ...")
        r = _relax_all(geoms, "numpy", skin)
        r["max_dE_vs_ase_eV"] = max(abs(a - b) for a, b in zip(r["energies"], ref["energies"]))
        relax_rows.append(r)
    for r in relax_rows:
        r.pop("energies")
    return {"per_call": per_call, "relax": relax_rows, "skin": SKIN, "goal": GOAL,
            "load": [round(x, 2) for x in os.getloadavg()]}


def render_emtcalls(e: dict[str, Any]) -> list[str]:
    from .cli import _table

    out = [f"EMT per energy+forces call, ASE's loop against the vectorised implementation behind 'emt' "
           f"(median, one thread, load {e['load']})",
           _table(["structure", "atoms", "ASE ms", "numpy ms", "speed-up", "max|dE| eV", "max|dF| eV/A"],
                  [[r["structure"], r["atoms"], r["ase_ms"], r["numpy_ms"], r["speedup"], f"{r['dE_eV']:.1e}",
                    f"{r['dF_eV_per_A']:.1e}"] for r in e["per_call"]]),
           f"goal: {e['goal']}; baseline: ASE's EMT (the first column)",
           "", f"EMT inside the quick start's relaxations (default settings; skin in use: {e['skin']} A)",
           _table(["implementation", "skin A", "relaxations", "calls", "list builds", "calc CPU s", "ms/call",
                   "ms/relaxation", "max|dE| vs ASE eV"],
                  [[r["implementation"], r["skin"], r["relaxations"], r["calls"], r["builds"] or "-", r["calc_cpu_s"],
                    r["calc_ms_per_call"], r["calc_ms_per_relaxation"],
                    f"{r['max_dE_vs_ase_eV']:.1e}" if "max_dE_vs_ase_eV" in r else "-"] for r in e["relax"]])]
    return out


if __name__ == "__main__":
    res = run_emtcalls("--quick" in sys.argv[1:], log=lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(render_emtcalls(res)))
