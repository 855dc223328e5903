"""The analysis stage: missing vibrations through the engine (when corrections are computed),
then the analysis of analysis/ on the stored energies."""

from __future__ import annotations

from pathlib import Path

from descriptors.analysis import (
    load_csv,
    load_store,
    run_analysis,
    settings_network,
    write_outputs,
)
from descriptors.analysis.compute import AnalysisResult
from descriptors.analysis.outputs import start_scaling_figure, warm_drawing
from descriptors.analysis.volcano import apex_note
from descriptors.specs.analysis import AnalysisSettings
from descriptors.workflows.vibrations import (
    plan_screen_vibrations,
    run_vibrations_for_db,
)

__all__ = ["analyze", "analyze_screen"]


def analyze(source: str | Path, settings: AnalysisSettings, out: str | Path, corrections_given: bool = True,
            plots: bool = True, progress: bool = True) -> tuple[AnalysisResult, dict[str, Path]]:
    """Load (db or CSV), compute missing vibrations for a db with computed corrections, analyse, write."""
    source = Path(source)
    net = settings_network(settings)  # a bad network file fails here, before any vibration
    if source.suffix.lower() == ".csv":
        ds = load_csv(source, settings, corrections_given, net=net)
    else:
        if settings.correction_mode == "computed":
            run_vibrations_for_db(source, progress=progress, use_flagged=settings.use_flagged)
        ds = load_store(source, settings)
    res = run_analysis(ds, settings, net)
    return res, write_outputs(res, out, plots=plots)


def _figure_pool(engine):
    """``submit(fn, *args) -> Future`` of the screen's local pool when it has as many workers as
    plots.plot_all would fork (the CPUs, at most 4): the figures are drawn by the warm workers, and
    the driver never imports matplotlib.  None otherwise (Slurm, serial, fewer workers): forked."""
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    pool = getattr(engine, "executor", None)
    if engine.kind != "local" or not hasattr(pool, "call") or engine.workers < min(4, cpus):
        return None
    return pool.call


def analyze_screen(spec, store, engine, out: str | Path, log=print) -> dict[str, Path]:
    """The analysis stage of a screen (``[analysis]`` table): vibrations if computed, then everything.

    Writes into ``<out>/analysis``; returns the written paths.  Species without a valid site or a
    correction are reported per catalyst (``missing`` column), not dropped silently.
    """
    settings = spec.analysis.settings()
    net = settings_network(settings)
    if settings.correction_mode == "computed":
        jobs = plan_screen_vibrations(store, engine.setting, settings.use_flagged)
        engine.run(jobs, "vibrations")
    submit = _figure_pool(engine)
    early = submit is not None and not (Path(out) / "analysis" / "figures" / "index.json").is_file()
    if early:  # (not when an earlier run's figures are there: a resumed screen whose numbers did not change keeps them)
        for _ in range(engine.workers):  # the workers get matplotlib and its fonts ready meanwhile
            submit(warm_drawing)
    ds = load_store(store, settings)
    started: dict = {}

    def on_fits(d, fits):  # the largest figures start while the volcanoes and maps are computed
        job, fut = start_scaling_figure(submit, settings, ds, d, fits, Path(out) / "analysis")
        started[job] = fut

    try:
        res = run_analysis(ds, settings, net, on_fits=on_fits if early else None)
    except BaseException:  # no figure of an analysis that did not finish
        for fut in started.values():
            if not fut.cancel() and fut.exception() is None:
                for f in fut.result().values():
                    f.unlink(missing_ok=True)
        raise
    paths = write_outputs(res, Path(out) / "analysis", submit=submit, started=started)
    ok = [pw for pw in res.pathways.values() if pw.U_L is not None]
    log(f"analysis: U_L for {len(ok)} of {len(res.pathways)} catalysts ({res.dataset.corrections}; "
        f"{res.reference_text})")
    for d, v in res.volcanoes_1d.items():
        log(f"  volcano in {d}: apex at {v.apex_x:.2f} eV, U_L = {v.apex_U_L:.2f} V vs RHE{apex_note(res, d)}")
    if res.volcano_2d is not None:
        v = res.volcano_2d
        log(f"  2D volcano in {', '.join(v.descriptors)}: apex at ({v.apex[0]:.2f}, {v.apex[1]:.2f}) eV, "
            f"U_L = {v.apex_U_L:.2f} V vs RHE{apex_note(res, tuple(v.descriptors))}")
    for e in res.volcano_errors:
        log(f"  {e}")
    return {f"analysis_{k}": v for k, v in paths.items()}


