"""Single- and dual-atom catalysts through the same screening pipeline, with GFN1-xTB."""

import json

import pytest

from descriptors.cli import main
from descriptors.workflows.screen import run_screen
from descriptors.specs import parse_spec
from descriptors.store.db import Store

pytest.importorskip("tblite")
XTB = {"name": "gfn1-xtb", "params": {"electronic_temperature": 1000.0, "max_iterations": 500}}


@pytest.mark.slow
def test_fe_n4_screen_binds_to_fe(tmp_path, capsys):
    spec = parse_spec({
        "name": "fe-n4-test", "adsorbates": ["NO3", "NO", "N", "H"],
        "catalysts": [{"type": "sac", "metals": ["Fe"], "coordination": "N4"}],
        "calculator": XTB, "relax": {"optimizer": "BFGS", "fmax": 0.1, "steps": 60},
        "execution": {"workers": 2},
    })
    res = run_screen(spec, out=tmp_path, progress=False, quiet=True)
    assert res.stats["failed"] == 0
    store = Store(tmp_path / "screen.db")
    clean = next(store.select(kind="clean"))
    assert clean.catalyst == "Fe-N4/graphene"
    fe = [i for i, s in enumerate(clean.toatoms().get_chemical_symbols()) if s == "Fe"]
    assert len(fe) == 1
    for ads in ("NO3", "NO", "N", "H"):
        rows = list(store.select(kind="adsorbate", adsorbate=ads))
        assert rows, ads
        # support C and N are never sites: every placement is on the Fe
        assert all(r.site.startswith("top-Fe") for r in rows), [r.site for r in rows]
        assert main(["lookup", "--db", str(tmp_path / "screen.db"), "--catalyst", "Fe-N4/graphene",
                     "--adsorbate", ads, "--json"]) == 0
        got = json.loads(capsys.readouterr().out)
        best = store.get(got["job_id"])
        assert got["E_ads_eV"] == pytest.approx(best.e_ads, abs=1e-4)
        # bound to Fe, judged from the relaxed geometry (not assumed from the placement)
        assert fe[0] in best.data["bound_to_indices"], (ads, best.bound_to, best.anomaly)
        assert best.bound_to_active
        assert "Fe" in best.bound_to.split(",")


@pytest.mark.slow
def test_dac_screen_of_two_pairs_end_to_end(tmp_path):
    spec = parse_spec({
        "name": "dac-test", "adsorbates": ["NO"],
        "catalysts": [{"type": "dac-gc3n4", "pairs": [["Fe", "Co"], ["Cu", "Cu"]]}],
        "calculator": XTB, "relax": {"optimizer": "BFGS", "fmax": 0.2, "steps": 12},
        "placement": {"site_kinds": ["top"]},
        "execution": {"workers": 2},
    })
    res = run_screen(spec, out=tmp_path, progress=False, quiet=True)
    assert res.stats["failed"] == 0
    store = Store(tmp_path / "screen.db")
    cats = {r.catalyst for r in store.select(kind="clean")}
    assert cats == {"FeCo/g-C3N4", "CuCu/g-C3N4"}
    sites = {(r.catalyst, r.site) for r in store.select(kind="adsorbate")}
    # hetero pair: one top per metal; homo pair related by symmetry or not, at least one top-Cu
    assert ("FeCo/g-C3N4", "top-Fe") in sites and ("FeCo/g-C3N4", "top-Co") in sites
    assert any(c == "CuCu/g-C3N4" and s.startswith("top-Cu") for c, s in sites)
    for r in store.select(kind="adsorbate"):
        assert r.status in ("ok", "unconverged")
        assert r.bound_to_active, (r.catalyst, r.site, r.bound_to)
    # resume: nothing recomputed
    res2 = run_screen(spec, out=tmp_path, progress=False, quiet=True)
    assert res2.stats["computed"] == 0
