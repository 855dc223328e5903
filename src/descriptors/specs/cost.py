"""Before a screen starts: a rough estimate of its cost, and the Gamma-only warning on small cells.

The estimate is jobs x calls per job x seconds per call for the calculator's fidelity class.  Every
factor is rough and stated as such:
- sites per adsorbate (3.9) and calls per relaxation (32): the EMT quick start, 652 adsorbate jobs on 12
  slabs x 14 adsorbates and 27 185 calculator calls for its 848 jobs (README, Benchmarks);
- seconds per call: EMT milliseconds; CHGNet ~0.7 s per force call on ~40 atoms on one core
  (DOMAIN.md); GFN-xTB seconds on a metal slab (DOMAIN.md: "seconds"; 3 s taken); DFT minutes
  (300 s taken: a plane-wave SCF of a ~40-atom slab on a few cores).
"""

from __future__ import annotations

__all__ = ["estimate_cost", "gamma_only_warnings", "SECONDS_PER_CALL"]

SECONDS_PER_CALL = {"test-only": 0.005, "semi-empirical": 3.0, "ml": 0.7, "dft": 300.0}
SITES_PER_ADSORBATE = 3.9
CALLS_PER_RELAXATION = 32
MIN_GAMMA_LENGTH = 10.0  # A: below this in-plane length, Gamma-only sampling of a metal is poor


def estimate_cost(spec, models) -> tuple[int, float, str]:
    """(jobs, seconds, one line) for a spec; rough by construction."""
    info = spec.calculator.setting().info
    n_ads = len(spec.adsorbate_names())
    n_bulk = len({m.bulk for m in models if getattr(m, "bulk", None)}) or 0
    jobs = int(round(n_bulk + 4 + len(models) * (1 + n_ads * SITES_PER_ADSORBATE)))
    calls = jobs * CALLS_PER_RELAXATION
    sec = calls * SECONDS_PER_CALL[info.fidelity]
    workers = max(1, int(getattr(getattr(spec, "execution", None), "workers", 1) or 1))
    wall = sec / workers

    def human(t):
        return f"{t:.0f} s" if t < 120 else f"{t / 60:.0f} min" if t < 7200 else f"{t / 3600:.1f} h"

    line = (f"rough cost: ~{jobs} jobs x ~{CALLS_PER_RELAXATION} calls x ~{SECONDS_PER_CALL[info.fidelity]:g} s per "
            f"call ({info.name}, {info.fidelity}) = ~{human(sec)} of calculator time, ~{human(wall)} on {workers} "
            "worker(s); an order of magnitude, not a promise")
    return jobs, sec, line


def gamma_only_warnings(spec, models) -> list[str]:
    """A Gamma-only calculator on a periodic cell shorter than MIN_GAMMA_LENGTH in-plane."""
    info = spec.calculator.setting().info
    if not info.gamma_only:
        return []
    out = []
    for m in models:
        try:
            atoms = m.build()
        except Exception:  # noqa: BLE001 - the screen reports build errors itself
            continue
        lengths = atoms.cell.lengths()[:2]
        if min(lengths) < MIN_GAMMA_LENGTH:
            out.append(f"{m.name}: calculator {info.name} uses the Gamma point only and the cell is "
                       f"{lengths[0]:.1f} x {lengths[1]:.1f} A in-plane (< {MIN_GAMMA_LENGTH:g} A): k-point error in "
                       "the energies; raise catalysts.size (e.g. [4, 4] or more) or use a calculator with k-points")
    return out
