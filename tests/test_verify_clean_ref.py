"""One clean reference per catalyst at a calculator level (analysis/clean_refs.py).

A verify level relaxes the clean slab once per cheap parent (base ML model, each fine-tuned
model); when those relaxations end in different minima, every E_ads of that catalyst at that
level must use the lowest one, say so in its row, and the verify summary and the fidelity report
must name the catalyst.  The store here is a real EMT -> EMT(asap cutoff) verify screen (fast);
the second relaxed clean model of Cu(111) at the verify level, 0.3 eV lower, stands for what
another cheap parent's verify run leaves behind (its own geometry, its own job id, same level).
"""

from __future__ import annotations

import csv
import json

import pytest
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.analysis.clean_refs import (
    CLEAN_REF_TOLERANCE,
    CleanGroup,
    reference_of,
)
from descriptors.cli import main
from descriptors.specs import parse_spec
from descriptors.store.db import Store
from descriptors.workflows.screen import run_screen
from descriptors.workflows.verify import format_summary

GAP = 0.3  # eV, the second clean model below the first


def _spec():
    return {"name": "clean-ref", "adsorbates": ["O", "H"],
            "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                           "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
            "calculator": {"name": "emt"}, "relax": {"optimizer": "BFGS", "fmax": 0.05, "steps": 200},
            "verify": {"calculator": {"name": "emt", "params": {"asap_cutoff": True}}, "top_k": 1,
                       "mode": "relax", "all": True}}


def _verify_rows(store, kind="adsorbate"):
    return [r for r in store.select(kind=kind, calc="emt") if r.get("level") == "verify"]


def _fidelity(out, capsys):
    assert main(["fidelity", str(out)]) == 0
    text = capsys.readouterr().out
    return json.loads((out / "fidelity" / "fidelity.json").read_text()), text


def test_reference_is_the_lowest_only_beyond_the_tolerance():
    g = CleanGroup("Cu(111)", "x", "h", {"a": -10.0, "b": -10.0 - 0.6 * CLEAN_REF_TOLERANCE, "c": -9.0})
    groups, key_of = {"k": g}, {"a": "k", "b": "k", "c": "k", "sp": "other"}
    assert reference_of("c", groups, key_of) == ("b", pytest.approx(1.0 + 0.6 * CLEAN_REF_TOLERANCE))
    assert reference_of("a", groups, key_of) == ("a", 0.0)  # within the tolerance of the lowest: its own
    assert reference_of("sp", groups, key_of) == ("sp", 0.0)  # a single point: not in any group
    tight = {"k": CleanGroup("Cu(111)", "x", "h", {"a": -10.0, "c": -10.0 + 0.5 * CLEAN_REF_TOLERANCE})}
    assert reference_of("c", tight, key_of) == ("c", 0.0)


def test_verify_level_uses_the_lowest_relaxed_clean_model(tmp_path, capsys):
    out = tmp_path / "s"
    run_screen(parse_spec(_spec()), out=out, workers=1, engine="serial", progress=False, quiet=True)
    store = Store(out / "screen.db")
    (clean,) = _verify_rows(store, "clean")
    before = {r.get("job_id"): float(r.get("e_ads")) for r in _verify_rows(store)}
    assert before and all(r.get("clean_ref_job") == clean.get("job_id") and r.get("clean_ref_shift") == 0
                          for r in _verify_rows(store))
    rep0, text0 = _fidelity(out, capsys)
    assert rep0["clean_references"] == [] and "clean reference" not in text0
    mean0 = rep0["pairs"][0]["overall"]["mean_error"]

    # a second relaxed clean model of Cu(111) at the verify level, GAP lower
    kv = dict(clean.key_value_pairs, job_id="f" * 64, cheap_job="another-cheap-parent")
    atoms = clean.toatoms()
    atoms.positions[4:, 2] += 0.01  # another geometry
    atoms.calc = SinglePointCalculator(atoms, energy=clean.energy - GAP, forces=clean.forces)
    store.db.write(atoms, key_value_pairs=kv, data=clean.data)

    # the fidelity report re-references on read and says so
    rep1, text1 = _fidelity(out, capsys)
    (g,) = rep1["clean_references"]
    assert g["catalyst"] == "Cu(111)" and g["clean_models"] == 2 and g["spread_eV"] == pytest.approx(GAP)
    assert g["reference_job"] == "f" * 64 and rep1["rereferenced_on_read"] == len(before)
    assert rep1["pairs"][0]["overall"]["mean_error"] == pytest.approx(mean0 + GAP, abs=1e-9)
    assert "clean reference: Cu(111) has 2 relaxed clean models" in text1 and "re-referenced" in text1

    # the verify level run again: nothing recomputed, every stored row re-referenced, and said so
    res = run_screen(parse_spec(_spec()), out=out, workers=1, engine="serial", progress=False, quiet=True)
    assert res.stats["computed"] == 0
    for r in _verify_rows(Store(out / "screen.db")):
        assert float(r.get("e_ads")) == pytest.approx(before[r.get("job_id")] + GAP, abs=1e-9)
        assert r.get("clean_ref_job") == "f" * 64 and r.get("clean_ref_shift") == pytest.approx(GAP)
    assert res.verify["clean_references"][0]["catalyst"] == "Cu(111)"
    assert any("clean reference: Cu(111)" in line and "uses the lowest" in line for line in format_summary(res.verify))
    with open(out / "verify_sites.csv") as fh:
        sites = list(csv.DictReader(fh))
    assert sites and all(s["clean_ref_job"] == "f" * 64 and float(s["clean_ref_shift_eV"]) == pytest.approx(GAP)
                         for s in sites)
    rep2, _ = _fidelity(out, capsys)
    assert rep2["rereferenced_on_read"] == 0
    assert rep2["pairs"][0]["overall"]["mean_error"] == pytest.approx(mean0 + GAP, abs=1e-9)
    page = (out / "report.html").read_text()
    assert "Cu(111): 2 relaxed clean models at emt" in page and "differ by 0.300 eV" in page
