"""`no3rr validate` counts the jobs a screen will plan from the models' own sites (the planner's
sites, binding modes and site pairs), instead of a sites-per-adsorbate constant."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _planned(spec, model) -> int:
    from descriptors.engine.jobs import Job
    from descriptors.tasks.base import RelaxSettings
    from descriptors.workflows.stages import plan_adsorbate_jobs

    ideal = model.build()
    clean = Job("clean", {"kind": "clean", "model": model.name}, {"catalyst": model.name}, ideal, label=model.name)
    return len(plan_adsorbate_jobs(clean, ideal, ideal, spec.adsorbate_names(), spec, spec.calculator.setting(),
                                   RelaxSettings()))


@pytest.mark.parametrize("name, first", [("quickstart.toml", 4), ("dac_gc3n4.toml", 2)])
def test_counted_adsorbate_jobs_are_the_planners(name, first):
    """Per model, the count equals the jobs plan_adsorbate_jobs makes (monodentate and bidentate)."""
    from descriptors.specs import load_spec
    from descriptors.structures import expand_catalysts
    from descriptors.workflows.stages import count_jobs

    spec = load_spec(REPO / "workflows" / name)
    models = expand_catalysts(spec)[:first]
    counts = count_jobs(spec, models)
    assert counts.sampled == len(models)
    assert list(counts.adsorbate) == [_planned(spec, m) for m in models]
    assert min(counts.adsorbate) > len(spec.adsorbate_names())  # more than one site per adsorbate


def test_validate_count_equals_the_jobs_a_screen_runs(small_spec_dict, tmp_path):
    """The small EMT screen (no analysis, so no vibrations): validate's job count is the number of
    jobs the screen computes, and the estimate line says it was counted."""
    from descriptors.specs import parse_spec
    from descriptors.specs.cost import estimate_cost
    from descriptors.structures import expand_catalysts
    from descriptors.workflows.screen import run_screen
    from descriptors.workflows.stages import count_jobs

    d = {**small_spec_dict, "output": str(tmp_path / "out"), "relax": {"fmax": 0.1, "steps": 60}}
    spec = parse_spec(d)
    models = expand_catalysts(spec)
    counts = count_jobs(spec, models)
    jobs, _, line = estimate_cost(spec, models, counts=counts)
    res = run_screen(spec, out=tmp_path / "out", progress=False, quiet=True)
    ran = sum(res.stats["jobs"].values())
    assert jobs == counts.total == ran == res.stats["computed"]
    assert f"estimated cost: {ran} jobs" in line and "counted from the sites of every model" in line


def test_count_samples_large_screens(monkeypatch):
    """Beyond COUNT_MODELS_MAX models an even sample is counted; every other model takes the mean of
    its catalyst type, and the estimate says how many were counted."""
    from descriptors.specs import load_spec
    from descriptors.specs.cost import estimate_cost
    from descriptors.structures import expand_catalysts
    from descriptors.workflows import stages

    spec = load_spec(REPO / "workflows" / "quickstart.toml")
    models = expand_catalysts(spec)
    exact = stages.count_jobs(spec, models)
    monkeypatch.setattr(stages, "COUNT_MODELS_MAX", 4)
    sampled = stages.count_jobs(spec, models)
    assert sampled.sampled == 4 and len(sampled.adsorbate) == len(models)
    counted = [exact.adsorbate[i] for i in range(0, len(models), 3)]
    mean = round(sum(counted) / len(counted))
    assert [sampled.adsorbate[i] for i in range(len(models)) if i % 3] == [mean] * (len(models) - 4)
    assert "4 of 12 models" in estimate_cost(spec, models, counts=sampled)[2]
