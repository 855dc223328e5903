"""A resumed screen does not plan again the catalysts whose adsorbate jobs are all stored
(workflows/plancache.py): the same jobs, the same tables, no site finding, no placement."""

from __future__ import annotations

import json

import pytest


@pytest.fixture()
def spec(small_spec_dict, tmp_path):
    from descriptors.specs import parse_spec

    d = {**small_spec_dict, "output": str(tmp_path / "out"), "relax": {"fmax": 0.1, "steps": 60}}
    return parse_spec(d)


def _run(spec, out):
    from descriptors.workflows.screen import run_screen

    return run_screen(spec, out=out, progress=False, quiet=True)


def _count_planning(monkeypatch):
    from descriptors.workflows import screen

    calls = {"plan": 0}
    real = screen.plan_adsorbate_jobs

    def counted(*a, **k):
        calls["plan"] += 1
        return real(*a, **k)

    monkeypatch.setattr(screen, "plan_adsorbate_jobs", counted)
    return calls


def test_resume_uses_the_remembered_plans_and_gives_the_same_tables(spec, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = _run(spec, out)
    plans = sorted((out / "plans").glob("*.json"))
    assert len(plans) == 2  # Cu(100), Cu(111)
    sites = (out / "all_sites.csv").read_text()
    jobs = json.loads((out / "plan.json").read_text())["jobs"]
    calls = _count_planning(monkeypatch)
    second = _run(spec, out)
    assert calls["plan"] == 0 and second.stats["computed"] == 0
    assert second.stats["reused"] == first.stats["computed"]
    assert second.job_ids == first.job_ids  # the same ids, in the planner's order
    assert (out / "all_sites.csv").read_text() == sites
    # `no3rr status` reads the plan file: every job, its label and stage, as after the first run
    assert json.loads((out / "plan.json").read_text())["jobs"] == jobs


def test_a_missing_job_or_a_damaged_plan_plans_that_catalyst_again(spec, tmp_path, monkeypatch):
    from descriptors.store import Store

    out = tmp_path / "out"
    first = _run(spec, out)
    victim = first.job_ids["adsorbate"][3]
    st = Store(out / "screen.db")
    st.db.delete([st.get(victim).id])
    st.close()
    calls = _count_planning(monkeypatch)
    second = _run(spec, out)
    assert calls["plan"] == 1 and second.stats["computed"] == 1  # only the catalyst with the missing job
    assert second.job_ids == first.job_ids
    for f in (out / "plans").glob("*.json"):
        f.write_text("{not json")
    third = _run(spec, out)
    assert calls["plan"] == 3 and third.stats["computed"] == 0 and third.job_ids == first.job_ids


def test_other_placement_settings_are_another_plan(spec, tmp_path):
    from descriptors.workflows.plancache import plan_key
    from descriptors.workflows.screen import _run_screen  # noqa: F401  (the module the key is used in)

    out = tmp_path / "out"
    first = _run(spec, out)
    keys = {p.stem for p in (out / "plans").glob("*.json")}
    other = spec.model_copy(update={"placement": spec.placement.model_copy(update={"bidentate": False})})
    second = _run(other, out)
    assert {p.stem for p in (out / "plans").glob("*.json")} > keys  # new plans beside the old
    assert len(second.job_ids["adsorbate"]) < len(first.job_ids["adsorbate"])  # no bidentate NO3
    assert plan_key  # imported: the key function the screen uses
