"""Pre-screen then verify (AdsorbML-style): EMT ranks every placement, GFN1-xTB checks the best.

One chain of runs in one output directory: top-1 only (counts every expensive call), then the
'all' validation mode (computes only the missing placements), then a rerun through the CLI
(zero calls), then top-2 (already stored: zero calls).
"""

import csv
import json

import numpy as np
import pytest

from conftest import require
from descriptors.cli import main
from descriptors.workflows.screen import run_screen
from descriptors.specs import SpecError, parse_spec
from descriptors.store.db import Store
from descriptors.workflows.verify import select_top_k

try:
    import tblite.ase  # noqa: F401

    HAVE_TBLITE = True
except ImportError:  # pragma: no cover
    HAVE_TBLITE = False

XTB = {"name": "gfn1-xtb", "params": {"electronic_temperature": 1500.0, "max_iterations": 300}}
ADS = ["O", "NO", "OH"]


def _spec(top_k=1, all_=False, mode="single-point"):
    return {
        "name": "verify-test", "adsorbates": ADS,
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "relaxed"}],
        "calculator": {"name": "emt"}, "relax": {"optimizer": "BFGS", "fmax": 0.05, "steps": 200},
        "verify": {"calculator": XTB, "top_k": top_k, "mode": mode, "all": all_},
    }


def test_verify_table_is_validated():
    base = _spec()
    for bad, field in [({"calculator": {"name": "emt"}}, "verify.calculator: same calculator"),
                       ({"calculator": XTB, "top_k": 0}, "verify.top_k"),
                       ({"calculator": XTB, "mode": "sp"}, "verify.mode"),
                       ({"calculator": XTB, "relax": {"fmax": 0.1}}, "relax only applies to mode = 'relax'"),
                       ({"calculator": {"name": "gfn1-xtb", "params": {"smearing": 1}}}, "verify.calculator.params"),
                       ({"calculator": XTB, "topk": 2}, "verify.topk: unknown key")]:
        with pytest.raises(SpecError, match=field.replace(".", r"\.").replace("(", r"\(")):
            parse_spec({**base, "verify": bad})
    assert parse_spec(_spec(mode="relax")).verify.relax is None


def test_select_top_k_skips_flagged_and_failed_rows():
    rows = [{"job_id": "a", "e_ads": -1.0, "anomaly": "", "status": "ok"},
            {"job_id": "b", "e_ads": -3.0, "anomaly": "dissociated", "status": "ok"},
            {"job_id": "c", "e_ads": -2.0, "anomaly": "moved", "status": "ok"},
            {"job_id": "d", "status": "failed"},
            {"job_id": "e", "e_ads": -0.5, "anomaly": "", "status": "unconverged"}]
    assert [r["job_id"] for r in select_top_k(rows, 2)] == ["c", "a"]
    assert [r["job_id"] for r in select_top_k(rows, 9)] == ["c", "a", "e"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    require(HAVE_TBLITE, "tblite (GFN-xTB)", "pip install tblite")
    out = tmp_path_factory.mktemp("verify")
    r1 = run_screen(parse_spec(_spec(top_k=1)), out=out, workers=1, engine="serial", progress=False, quiet=True)
    r2 = run_screen(parse_spec(_spec(top_k=1, all_=True)), out=out, workers=1, engine="serial", progress=False,
                    quiet=True)
    return out, r1, r2


def _rows(store, calc, kind="adsorbate"):
    return list(store.select(kind=kind, calc=calc))


@pytest.mark.slow
def test_top_k_jobs_are_linked_to_their_cheap_parent(chain):
    out, r1, r2 = chain
    store = Store(out / "screen.db")
    placements = len(r1.job_ids["adsorbate"])
    # top-1 run: 3 adsorbate single points + 5 gas references + 1 clean model at the xtb level
    assert r1.stats["verify"]["computed"] == len(ADS) + 5 + 1
    assert r1.verify["expensive_adsorbate_calls_top_k"] == len(ADS)
    assert r1.verify["expensive_adsorbate_calls_all_placements"] == placements
    assert r1.verify["saving"] == pytest.approx(1 - len(ADS) / placements, abs=1e-4)
    assert r1.verify["success_rate"] is None  # not measurable without the 'all' level
    cheap = {r.job_id: r for r in _rows(store, "emt")}
    top = [r for r in _rows(store, "gfn1-xtb") if r.get("top_k")]
    assert len(top) == len(ADS)
    for v in top:
        parent = cheap[v.parent]
        assert v.cheap_job == parent.job_id == v.data["recipe"]["parent"]
        assert (v.catalyst, v.adsorbate, v.site) == (parent.catalyst, parent.adsorbate, parent.site)
        # the parent is the lowest unflagged cheap placement of its pair
        group = [r for r in cheap.values() if r.adsorbate == v.adsorbate and not r.get("excluded")]
        assert parent.e_ads == min(r.e_ads for r in group) and v.cheap_rank == 1
        # single point on the cheap geometry
        assert np.allclose(v.toatoms().positions, parent.toatoms().positions)
        assert v.steps == 0 and v.data["relax"]["steps"] == 0
        # its clean reference is the xtb-level clean model derived from the cheap clean model
        clean = store.get(v.clean_job)
        assert clean.calc == "gfn1-xtb" and clean.parent == parent.parent
        # E_ads from the xtb energies of this db, in the atomic convention
        gas = {r.molecule: r.energy for r in store.select(kind="gas", calc="gfn1-xtb")}
        mu = {"H": gas["H2"] / 2, "O": gas["H2O"] - gas["H2"], "N": gas["NH3"] - 1.5 * gas["H2"]}
        n = {s: v.toatoms()[v.data["adsorbate_indices"]].get_chemical_symbols().count(s) for s in mu}
        assert v.e_ads == pytest.approx(v.energy - clean.energy - sum(n[s] * mu[s] for s in mu), abs=1e-6)


@pytest.mark.slow
def test_stored_xtb_energy_matches_plain_tblite(chain):
    from tblite.ase import TBLite

    out, r1, r2 = chain
    store = Store(out / "screen.db")
    v = next(r for r in _rows(store, "gfn1-xtb") if r.get("top_k"))
    atoms = store.get(v.cheap_job).toatoms()
    atoms.calc = TBLite(method="GFN1-xTB", electronic_temperature=1500.0, max_iterations=300, verbosity=0)
    assert atoms.get_potential_energy() == pytest.approx(v.energy, abs=1e-5)


@pytest.mark.slow
def test_all_mode_measures_the_success_rate(chain):
    out, r1, r2 = chain
    store = Store(out / "screen.db")
    placements = len(r2.job_ids["adsorbate"])
    # only the placements not verified before are computed; references are reused
    assert r2.stats["verify"]["computed"] == placements - len(ADS)
    assert r2.stats["computed"] == placements - len(ADS)
    xtb = _rows(store, "gfn1-xtb")
    assert len(xtb) == placements
    # success rate recomputed from the stored rows
    ok = 0
    for ads in ADS:
        rows = [r for r in xtb if r.adsorbate == ads and not r.get("excluded")]
        emin = min(r.e_ads for r in rows)
        top = [r.e_ads for r in rows if r.top_k]
        ok += bool(top) and min(top) <= emin + 0.1
    s = json.loads((out / "verify_summary.json").read_text())
    assert s["pairs_evaluated"] == len(ADS) and s["pairs_success"] == ok
    assert s["success_rate"] == pytest.approx(ok / len(ADS), abs=1e-4)
    assert s["expensive_adsorbate_calls_top_k"] == len(ADS) and s["saving"] == pytest.approx(1 - len(ADS) / placements,
                                                                                           abs=1e-4)
    with open(out / "verify_best.csv") as fh:
        best = list(csv.DictReader(fh))
    assert len(best) == len(ADS) and all(b["success"] in ("True", "False") for b in best)
    with open(out / "verify_sites.csv") as fh:
        assert len(list(csv.DictReader(fh))) == placements


@pytest.mark.slow
def test_rerun_makes_zero_calls_and_prints_the_summary(chain, tmp_path, capsys):
    out, r1, r2 = chain
    toml = tmp_path / "verify.toml"
    toml.write_text(f'''name = "verify-test"
adsorbates = {json.dumps(ADS)}
[[catalysts]]
type = "slab"
metals = ["Cu"]
facets = ["111"]
size = [2, 2]
layers = 3
fixed_layers = 1
vacuum = 6.0
lattice_constant = "relaxed"
[calculator]
name = "emt"
[relax]
optimizer = "BFGS"
fmax = 0.05
steps = 200
[verify]
calculator = {{ name = "gfn1-xtb", params = {{ electronic_temperature = 1500.0, max_iterations = 300 }} }}
top_k = 1
all = true
''')
    code = main(["screen", str(toml), "--out", str(out), "--no-progress", "--quiet", "--workers", "1",
                 "--engine", "serial"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "computed 0 jobs" in text
    assert "verify (single-point, gfn1-xtb" in text and "saving 75%" in text and "success rate" in text
    # top-2 without 'all': every job it needs is stored already
    r3 = run_screen(parse_spec(_spec(top_k=2)), out=out, workers=1, engine="serial", progress=False, quiet=True)
    assert r3.stats["computed"] == 0
    assert r3.verify["expensive_adsorbate_calls_top_k"] == 2 * len(ADS)


@pytest.mark.slow
def test_relax_mode_relaxes_from_the_cheap_geometry(chain):
    out, r1, r2 = chain
    spec = _spec(top_k=1, mode="relax")
    spec["adsorbates"] = ["O"]  # its EMT jobs are stored already: only the xTB level runs
    spec["verify"]["relax"] = {"optimizer": "BFGS", "fmax": 0.1, "steps": 4}
    res = run_screen(parse_spec(spec), out=out, workers=1, engine="serial", progress=False, quiet=True)
    # 1 adsorbate relaxation, 1 clean relaxation, 5 gas relaxations with the new relax settings
    assert res.stats["computed"] == res.stats["verify"]["computed"] == 1 + 1 + 5
    store = Store(out / "screen.db")
    rows = [r for r in _rows(store, "gfn1-xtb") if r.data["recipe"]["mode"] == "relax"]
    assert len(rows) == 1
    v = rows[0]
    parent = store.get(v.cheap_job)
    assert v.data["relax"]["steps"] == 4 and 0 < v.steps <= 4
    assert np.abs(v.toatoms().positions - parent.toatoms().positions).max() > 1e-3  # moved off the EMT geometry
    clean = store.get(v.clean_job)
    assert clean.data["recipe"]["mode"] == "relax" and clean.parent == parent.parent
    assert v.get("site_final") is not None and "anomaly_details" in v.data
