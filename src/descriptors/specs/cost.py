"""Before a screen starts: an estimate of its cost, and the Gamma-only warning on small cells.

The estimate is jobs x calls per job x seconds per call, summed over the catalyst models:
- sites per adsorbate (3.9) and calls per relaxation (32): the EMT quick start, 652 adsorbate jobs on 12
  slabs x 14 adsorbates and 27 185 calculator calls for its 848 jobs (README, Benchmarks);
- seconds per call, best source first:
  1. the user's own runs: jobs of this calculator already in the store (``seconds`` / ``steps`` of
     each row), scaled to each model's atom count with the measured exponent;
  2. the measured table ``cost_calibration.json`` (``python -m benchmarks --only cost
     --write-cost-table``: EMT, GFN1-xTB, CHGNet, SevenNet on NO/Cu(111) slabs of 14-38 atoms, one
     thread), ``t = a * N_atoms ** b``, with the machine and date it was measured on;
  3. a stated value per fidelity class where nothing was measured (DFT: 300 s, a plane-wave SCF of
     a ~40-atom slab on a few cores; a calculator not in the table: its class' value).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["estimate_cost", "gamma_only_warnings", "SECONDS_PER_CALL", "calibration", "seconds_per_call",
           "JobCounts"]

SECONDS_PER_CALL = {"test-only": 0.005, "semi-empirical": 3.0, "ml": 0.7, "dft": 300.0}  # stated, per class
SITES_PER_ADSORBATE = 3.9
CALLS_PER_RELAXATION = 32
ADSORBATE_ATOMS = 3  # a typical intermediate (NO2, NH2, NOH ...) on top of the clean model
MIN_GAMMA_LENGTH = 10.0  # A: below this in-plane length, Gamma-only sampling of a metal is poor
CALIBRATION_FILE = Path(__file__).parent / "data" / "cost_calibration.json"  # package data (pyproject)


@dataclass(frozen=True)
class JobCounts:
    """The jobs a screen will plan, counted before anything runs (``workflows.stages.count_jobs``):
    bulk and gas jobs, one clean job per model, and the adsorbate jobs per model from the same sites,
    binding modes and site pairs the planner uses. ``vib_max`` is an upper bound: one vibration job
    per (catalyst, adsorbate) with an intact site, and one per gas molecule, when the analysis
    computes its free-energy corrections (flagged pairs get none, so the screen runs fewer)."""

    bulk: int
    gas: int
    adsorbate: tuple[int, ...]  # per catalyst model, in the order of the models
    vib_max: int = 0
    sampled: int | None = None  # models whose sites were found (None: all of them)

    @property
    def total(self) -> int:
        return self.bulk + self.gas + len(self.adsorbate) + sum(self.adsorbate)


def calibration() -> dict:
    """The measured table (empty dict if the file is missing or unreadable)."""
    try:
        return json.loads(CALIBRATION_FILE.read_text())
    except (OSError, ValueError):
        return {}


def _from_store(db, calc_name: str, b: float) -> tuple[float, int] | None:
    """(a, jobs) of t = a N^b fitted to the stored jobs of ``calc_name`` (median of the per-call
    seconds over N^b), or None if the store holds none."""
    if db is None or not Path(db).is_file():
        return None
    from descriptors.store.reader import SQLiteReader

    try:
        rows = list(SQLiteReader(db).select(include_data=False, calc=calc_name))
    except Exception:  # a damaged or foreign file: no calibration from it (the screen reports it)
        return None
    vals = [r.get("seconds") / (r.get("steps") + 1) / r.get("natoms") ** b for r in rows
            if isinstance(r.get("seconds"), (int, float)) and isinstance(r.get("steps"), int) and r.get("natoms")
            and r.get("seconds") > 0]
    if not vals:
        return None
    vals.sort()
    return vals[len(vals) // 2], len(vals)


def seconds_per_call(calc_name: str, fidelity: str, db=None):
    """(function N_atoms -> seconds per call, one line saying where the number comes from)."""
    table = calibration()
    entry = table.get("calculators", {}).get(calc_name, {})
    b = entry.get("b", 1.0) if "a" in entry else 1.0
    own = _from_store(db, calc_name, b)
    if own is not None:
        a, n = own
        return (lambda N: a * N ** b), (f"per-call time from your own {n} stored {calc_name} jobs in {db} "
                                        f"(t = {a:.3g} s x N_atoms^{b:g})")
    if "a" in entry:
        m = entry.get("machine") or table.get("machine", {})  # an entry re-measured alone has its own
        when = entry.get("measured") or table.get("measured", "?")
        return (lambda N: entry["a"] * N ** entry["b"]), (
            f"per-call time measured for {calc_name} on {m.get('cpu', '?')} (1 thread) on {when}"
            f" (t = {entry['a']:.3g} s x N_atoms^{entry['b']:g}; {CALIBRATION_FILE.name}); your machine differs")
    sec = SECONDS_PER_CALL[fidelity]
    why = entry.get("skipped") or "not in the measured table"
    return (lambda N: sec), (f"per-call time {sec:g} s is a stated value for the {fidelity} class, not measured "
                             f"for {calc_name} ({why})")


def _atoms(model) -> int | None:
    try:
        return len(model.build())
    except Exception:  # noqa: BLE001 - the screen reports build errors itself
        return None


def _human(t: float) -> str:
    """Seconds as a person reads a duration."""
    return f"{t:.0f} s" if t < 120 else f"{t / 60:.0f} min" if t < 7200 else f"{t / 3600:.1f} h"


def estimate_cost(spec, models, db=None, counts: JobCounts | None = None) -> tuple[int, float, str]:
    """(jobs, calculator seconds, one line) for a spec: an estimate, saying what it rests on.

    With ``counts`` (the jobs counted from the models' sites, ``workflows.stages.count_jobs``) the
    number of jobs is exact up to relaxations that fail or are flagged; without, it is
    SITES_PER_ADSORBATE placements per adsorbate and model."""
    info = spec.calculator.setting().info
    n_ads = len(spec.adsorbate_names())
    n_bulk = len({m.bulk for m in models if getattr(m, "bulk", None)}) or 0
    per_call, source = seconds_per_call(info.name, info.fidelity, db)
    n_small = (counts.bulk + counts.gas) if counts is not None else n_bulk + 4
    sec, jobs = 0.0, n_small  # bulk EOS and gas references: small, counted at 8 atoms
    sec += n_small * CALLS_PER_RELAXATION * per_call(8)
    for i, m in enumerate(models):
        n = _atoms(m) or 40
        j_ads = counts.adsorbate[i] if counts is not None else n_ads * SITES_PER_ADSORBATE
        jobs += 1 + j_ads
        sec += CALLS_PER_RELAXATION * (per_call(n) + j_ads * per_call(n + ADSORBATE_ATOMS))
    jobs = int(round(jobs))
    workers = max(1, int(getattr(getattr(spec, "execution", None), "workers", 1) or 1))
    calls = f"~{CALLS_PER_RELAXATION} calls each"
    if counts is not None and counts.vib_max:
        n_vib_calls = 2 * 3 * ADSORBATE_ATOMS + 1  # central differences (nfree 2) of the adsorbate's atoms
        sec += counts.vib_max * n_vib_calls * per_call(sum(_atoms(m) or 40 for m in models) / max(1, len(models)))
        calls += f", and up to {counts.vib_max} vibration jobs (one per intact catalyst-adsorbate pair and gas " \
                 f"molecule) of ~{n_vib_calls} calls"
    wall = sec / workers
    if counts is None:
        how = "jobs and calls per job from the EMT quick start"
    else:
        n_counted = len(models) if counts.sampled is None else counts.sampled
        which = "every model" if n_counted >= len(models) else \
            f"{n_counted} of {len(models)} models (the others: the mean of their catalyst type)"
        how = f"jobs counted from the sites of {which}, calls per job from the EMT quick start"
    line = (f"estimated cost: {'' if counts is not None else '~'}{jobs} jobs ({calls}) = ~{_human(sec)} of calculator "
            f"time, ~{_human(wall)} on {workers} worker(s) ({info.name}, {info.fidelity}); an estimate: {source}; {how}")
    verify = getattr(spec, "verify", None)
    if verify is not None:  # the expensive level: often most of the cost, so it is never left out
        v_jobs, v_sec, v_line = _verify_cost(verify, models, n_ads, db, workers, counts)
        jobs, sec = jobs + v_jobs, sec + v_sec
        ft = getattr(spec, "finetune", None)
        if ft is not None and getattr(ft, "path_every", 0):
            p_jobs, p_sec, p_line = _path_cost(verify, ft, models, n_ads, db, workers)
            jobs, sec, v_line = jobs + p_jobs, sec + p_sec, f"{v_line}\n{p_line}"
        line += f"\n{v_line}\nestimated total: ~{_human(sec)} of calculator time, ~{_human(sec / workers)} on " \
                f"{workers} worker(s)"
    return jobs, sec, line


def _path_cost(verify, ft, models, n_ads, db, workers):
    """(single points, seconds, line) of ``[finetune] path_every``: the verify level's single points
    on every n-th frame of the cheap relaxations (clean and adsorbate) of the training catalysts."""
    vinfo = verify.calculator.setting().info
    per_call, source = seconds_per_call(vinfo.name, vinfo.fidelity, db)
    n_train = len(ft.train) if ft.train else max(2, min(len(models) - 1, round(ft.train_fraction * len(models))))
    frames = -(-(CALLS_PER_RELAXATION - 1) // ft.path_every)  # per relaxation, the minimum left out
    train_models = models[:n_train] if not ft.train else [m for m in models if m.name in ft.train] or models[:n_train]
    calls, sec = 0, 0.0
    for m in train_models:
        n = _atoms(m) or 40
        calls += frames * (1 + n_ads * SITES_PER_ADSORBATE)
        sec += frames * (per_call(n) + n_ads * SITES_PER_ADSORBATE * per_call(n + ADSORBATE_ATOMS))
    calls = int(round(calls))
    return calls, sec, (f"fine-tuning labels (path_every = {ft.path_every}): ~{calls} {vinfo.name} single points "
                        f"on the cheap relaxation paths of {len(train_models)} training catalyst(s) = ~{_human(sec)} "
                        f"of calculator time, ~{_human(sec / workers)} on {workers} worker(s); {source}")


def _verify_cost(verify, models, n_ads, db, workers, counts: JobCounts | None = None):
    """(jobs, seconds, line) of the ``[verify]`` level: top_k (or, with ``all``, every) placement per
    (catalyst, adsorbate), a single point or a relaxation each, plus its clean models and gas
    references; a ``[finetune]`` screen verifies only its training catalysts, then top_k of the rest."""
    vinfo = verify.calculator.setting().info
    per_call, source = seconds_per_call(vinfo.name, vinfo.fidelity, db)
    calls = 1 if verify.mode == "single-point" else CALLS_PER_RELAXATION
    picks = SITES_PER_ADSORBATE if verify.all else min(verify.top_k, SITES_PER_ADSORBATE)
    jobs, sec = 4, 4 * calls * per_call(8)  # gas references
    for i, m in enumerate(models):
        n = _atoms(m) or 40
        if counts is not None and verify.all:  # every placement: the planner's own count
            picks = counts.adsorbate[i] / max(1, n_ads)
        jobs += 1 + n_ads * picks
        sec += calls * (per_call(n) + n_ads * picks * per_call(n + ADSORBATE_ATOMS))
    jobs = int(round(jobs))
    return jobs, sec, (f"verify level: ~{jobs} jobs x {calls} call(s) ({verify.mode}, "
                       f"{'every placement' if verify.all else f'top_k = {verify.top_k}'}) = ~{_human(sec)} of "
                       f"calculator time, ~{_human(sec / workers)} on {workers} worker(s) ({vinfo.name}, "
                       f"{vinfo.fidelity}); {source}")


def gamma_only_warnings(spec, models) -> list[str]:
    """A Gamma-only calculator ([calculator] or the [verify] level) on a periodic cell shorter than
    MIN_GAMMA_LENGTH in-plane."""
    out = []
    levels = [("", spec.calculator)] + ([("verify level: ", spec.verify.calculator)]
                                        if getattr(spec, "verify", None) is not None else [])
    for where, calc in levels:
        info = calc.setting().info
        if info.gamma_only:
            out += [where + w for w in _gamma(info, models)]
    return out


def _gamma(info, models) -> list[str]:
    """One line per calculator level: every catalyst model whose cell is too short in-plane."""
    small = []
    for m in models:
        try:
            atoms = m.build()
        except Exception:  # noqa: BLE001 - the screen reports build errors itself
            continue
        lengths = atoms.cell.lengths()[:2]
        if min(lengths) < MIN_GAMMA_LENGTH:
            small.append(f"{m.name} {lengths[0]:.1f} x {lengths[1]:.1f} A")
    if not small:
        return []
    return [f"calculator {info.name} uses the Gamma point only and {len(small)} of {len(models)} catalyst "
            f"model(s) are shorter than {MIN_GAMMA_LENGTH:g} A in-plane ({'; '.join(small)}): k-point error in "
            "the energies; raise catalysts.size (e.g. [4, 4] or more) or use a calculator with k-points"]
