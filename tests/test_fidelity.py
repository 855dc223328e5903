"""The fidelity report: hand-worked statistics and AdsorbML success rates, the trend against a
reference table, and the command on a real EMT -> GFN1-xTB verify store (checked against the
verify workflow's own tables)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import require

from descriptors.analysis.fidelity import Placement, compare_levels, compare_reference
from descriptors.cli import main


def _levels():
    # (origin, catalyst, adsorbate, cheap E, expensive E, flagged at the expensive level)
    data = [("a", "Cu", "O", -1.0, -0.7, False), ("b", "Cu", "O", -0.8, -0.9, False),
            ("c", "Cu", "O", -0.5, -0.95, False), ("d", "Cu", "H", -0.2, -0.3, False),
            ("e", "Cu", "H", -0.1, -0.1, False), ("f", "Cu", "H", -0.15, -2.0, True)]
    cheap = {o: Placement(o, c, a, x, False, o) for o, c, a, x, _, _ in data}
    exp = {o: Placement(o, c, a, y, fl, "v" + o) for o, c, a, _, y, fl in data}
    return cheap, exp


def test_pair_statistics_and_success_rates_by_hand():
    cheap, exp = _levels()
    st = compare_levels(cheap, exp, "emt", "xtb")
    assert (st.shared, st.compared, st.flagged) == (6, 5, 1)
    # errors (expensive - cheap): +0.3, -0.1, -0.45, -0.1, 0.0
    assert st.overall["mae"] == pytest.approx(0.19)
    assert st.overall["max_error"] == pytest.approx(0.45)
    assert st.overall["mean_error"] == pytest.approx(-0.07)
    assert st.per_adsorbate["O"]["mae"] == pytest.approx((0.3 + 0.1 + 0.45) / 3)
    assert st.per_adsorbate["O"]["spearman"] == pytest.approx(-1.0)  # the cheap order is exactly reversed
    # O: cheap top-1 is a (-0.7 at the expensive level) but the minimum is c (-0.95): fails at k = 1,
    # top-2 holds b (-0.9, within 0.1 eV); H: top-1 is d (the minimum; f is flagged expensive)
    assert st.success["1"]["rate"] == pytest.approx(0.5) and st.success["2"]["rate"] == 1.0
    assert st.success["1"]["expensive_calls"] == 2 and st.success["1"]["all_placements"] == 6  # f too
    assert st.success["1"]["saving"] == pytest.approx(1 - 2 / 6)
    assert st.success["3"]["expensive_calls"] == 6 and st.success["5"]["saving"] == 0.0
    # a stricter tolerance fails O at k = 2 too
    assert compare_levels(cheap, exp, "emt", "xtb", tolerance=0.01).success["2"]["rate"] == 0.5


def test_reference_trends_after_removing_the_mean_offset():
    ref = {("Cu", "O"): -1.0, ("Ag", "O"): -0.2, ("Pt", "O"): -1.5, ("Cu", "H"): -0.2, ("Ag", "H"): 0.1,
           ("Au", "H"): 0.3}
    # a level that follows half of the O trend, shifted by +1 eV, and H exactly, shifted by -0.3
    best = {k: (0.5 * v + 1.0 if k[1] == "O" else v - 0.3) for k, v in ref.items() if k != ("Au", "H")}
    r = compare_reference(best, ref)
    o, h = r["per_adsorbate"]["O"], r["per_adsorbate"]["H"]
    assert o["slope"] == pytest.approx(0.5) and o["pearson"] == pytest.approx(1.0)
    assert o["offset"] == pytest.approx(np.mean([0.5 * v + 1.0 - v for v in (-1.0, -0.2, -1.5)]))
    assert h["offset"] == pytest.approx(-0.3) and h["mae_after_offset"] == pytest.approx(0.0, abs=1e-12)
    assert r["missing"] == ["Au/H"] and r["n"] == 5


def test_fidelity_command_bad_input(tmp_path, capsys):
    assert main(["fidelity", str(tmp_path / "nowhere.db")]) == 2
    e = capsys.readouterr().err
    assert e.count("\n") == 1 and "STORE" in e
    (tmp_path / "screen.db").write_text("")
    assert main(["fidelity", str(tmp_path), "--reference", str(tmp_path / "no.csv")]) == 2
    assert "--reference" in capsys.readouterr().err


@pytest.fixture(scope="module")
def verify_store(tmp_path_factory):
    try:
        import tblite.ase  # noqa: F401
        have = True
    except ImportError:  # pragma: no cover
        have = False
    require(have, "tblite (GFN-xTB)", "pip install tblite")
    from descriptors.specs import parse_spec
    from descriptors.workflows.screen import run_screen

    spec = parse_spec({
        "name": "fidelity-test", "adsorbates": ["O", "H"],
        "catalysts": [{"type": "slab", "metals": ["Cu", "Ag"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
        "calculator": {"name": "emt"}, "relax": {"optimizer": "BFGS", "fmax": 0.05, "steps": 200},
        "verify": {"calculator": {"name": "gfn1-xtb", "params": {"electronic_temperature": 1500.0,
                                                                 "max_iterations": 300}},
                   "top_k": 1, "mode": "single-point", "all": True},
    })
    tmp_path = tmp_path_factory.mktemp("fidelity")
    res = run_screen(spec, out=tmp_path, workers=1, engine="serial", progress=False, quiet=True)
    return tmp_path, res


@pytest.mark.slow
def test_fidelity_report_on_an_emt_to_xtb_verify_store(verify_store, capsys):
    tmp_path, res = verify_store
    ref = tmp_path / "ref.csv"
    ref.write_text("# made-up reference to exercise the table\ncatalyst,adsorbate,energy\n"
                   "Cu(111),O,-1.2\nAg(111),O,-0.4\nCu(111),H,-0.2\nAg(111),H,0.1\n")
    assert main(["fidelity", str(tmp_path), "--reference", str(ref)]) == 0
    text = capsys.readouterr().out
    report = json.loads((tmp_path / "fidelity" / "fidelity.json").read_text())
    assert len(report["levels"]) == 2 and len(report["pairs"]) == 1
    p = report["pairs"][0]
    assert p["cheap"].startswith("emt") and p["expensive"].startswith("gfn1-xtb")
    # the same numbers from the verify workflow's own site table
    with open(tmp_path / "verify_sites.csv") as fh:
        sites = [r for r in csv.DictReader(fh) if r["status"] != "failed" and r["excluded"] == "False"]
    with open(tmp_path / "all_sites.csv") as fh:  # the cheap level's sites
        cheap_flagged = {r["job_id"] for r in csv.DictReader(fh) if r["excluded"] == "True"}
    d = np.array([float(r["E_ads_eV"]) - float(r["cheap_E_ads_eV"]) for r in sites
                  if r["cheap_job"] not in cheap_flagged])
    assert p["compared"] == len(d)
    assert p["overall"]["mae"] == pytest.approx(np.abs(d).mean(), abs=2e-4)  # the CSV rounds to 1e-4
    assert p["overall"]["max_error"] == pytest.approx(np.abs(d).max(), abs=2e-4)
    # AdsorbML success at k = 1 and the saving equal the verify summary's (same tolerance)
    assert p["success"]["1"]["rate"] == pytest.approx(res.verify["success_rate"], abs=1e-4)
    assert p["success"]["1"]["expensive_calls"] == res.verify["expensive_adsorbate_calls_top_k"]
    assert p["success"]["1"]["saving"] == pytest.approx(res.verify["saving"], abs=1e-4)
    rates = [p["success"][str(k)]["rate"] for k in range(1, 6)]
    assert rates == sorted(rates) and rates[-1] == 1.0 or p["pairs_evaluated"] == 0  # more calls never hurt
    assert (tmp_path / "fidelity" / "fidelity_pairs.csv").is_file()
    png = p["parity_png"]
    assert png.endswith(".png") and (tmp_path / "fidelity" / png.split("/")[-1]).stat().st_size > 10_000
    assert "AdsorbML success" in text and "against the reference" in text
    assert set(report["reference"]["levels"]) == {p["cheap"], p["expensive"]}


@pytest.mark.slow
def test_training_set_is_every_expensive_frame_split_by_catalyst(verify_store, tmp_path):
    from descriptors.store.db import Store
    from descriptors.workflows.finetune_data import write_training_set

    out, _ = verify_store
    store = Store(out / "screen.db")
    ts = write_training_set(store, tmp_path / "ft", out / "trajectories")
    assert ts.train_catalysts and ts.validation_catalysts
    assert not set(ts.train_catalysts) & set(ts.validation_catalysts)
    from ase.io import read

    train = read(ts.files["train"], index=":")
    val = read(ts.files["validation"], index=":")
    rows = {r.get("job_id"): r for r in store.select() if r.get("calc_hash") == ts.calc_hash and r.status != "failed"}
    from descriptors.tasks.relax import read_trajectory

    def n_frames(jid):
        t = out / "trajectories" / f"{jid}.traj"
        return max(1, len(read_trajectory(t))) if t.is_file() else 1

    # one frame per single point, every step of a relaxation (the gas references relax)
    assert len(train) + len(val) == sum(n_frames(j) for j in rows)
    assert {f.info["catalyst"] for f in val} == set(ts.validation_catalysts)  # never a training catalyst
    assert "gas" in {f.info["catalyst"] for f in train}
    last = {}
    for f in train + val:
        last[f.info["job_id"]] = f
        r = rows[f.info["job_id"]]
        if r.steps == 0:
            assert f.get_potential_energy() == pytest.approx(r.energy, abs=1e-6)
            assert np.allclose(f.get_forces(apply_constraint=False), r.toatoms().get_forces(apply_constraint=False),
                               atol=1e-6)  # raw forces: those on fixed atoms are labels too
    for jid, f in last.items():  # the last frame of a relaxation is its stored result
        assert f.get_potential_energy() == pytest.approx(rows[jid].energy, abs=1e-6)
    # the set's hash is reproducible
    assert write_training_set(store, tmp_path / "ft2", out / "trajectories").sha256 == ts.sha256


def test_relaxations_from_two_cheap_levels_are_two_levels(tmp_path):
    """The expensive level relaxed from the base model's minimum and from a fine-tuned model's minimum
    gives two numbers for one placement: two levels, each compared with the level it started from
    (before, the second silently replaced the first under one label)."""
    from ase.build import fcc111

    from descriptors.analysis.fidelity import fidelity_report, level_rows
    from descriptors.store.db import Store

    st = Store(tmp_path / "screen.db")

    def row(job, calc, e, cheap=None, mode="relax", **kv):
        key = {"kind": "adsorbate", "job_id": job, "calc": calc, "calc_hash": f"h-{calc}", "catalyst": "Cu(100)",
               "adsorbate": "H", "e_ads": e, "status": "ok", **kv}
        if cheap:
            key["cheap_job"] = cheap
        st.db.write(fcc111("Cu", (1, 1, 2)), key_value_pairs=key, data={"recipe": {"mode": mode} if cheap else {}})

    for site, e in (("a", -0.5), ("b", -0.2)):
        row(f"c{site}", "chgnet", e)  # the base model
        row(f"f{site}", "chgnet-ft", e - 0.3, f"c{site}", level="finetuned", ft_model_hash="abcdef123456")
        # relaxed from the base minimum (on site b stopped at its step cap)
        row(f"xb{site}", "gfn1-xtb", e + 1.0, f"c{site}", level="verify", converged=site == "a")
        row(f"xa{site}", "gfn1-xtb", e - 0.25, f"f{site}", level="verify", ft_model_hash="abcdef123456")
    levels, places = level_rows(st)
    labels = sorted(lv.label for lv in levels.values())
    assert labels == ["chgnet", "chgnet-ft fine-tuned abcdef12 (relax from chgnet)",
                      "gfn1-xtb (relax from chgnet)", "gfn1-xtb (relax from chgnet-ft abcdef12)"]
    assert [lv.finetuned for lv in levels.values() if lv.name == "gfn1-xtb"] == [False, False]
    rep = fidelity_report(st, tmp_path / "fid")
    pairs = {(p["cheap"], p["expensive"]): p for p in rep["pairs"]}
    before = pairs[("chgnet", "gfn1-xtb (relax from chgnet)")]["overall"]
    after = pairs[("chgnet-ft fine-tuned abcdef12 (relax from chgnet)", "gfn1-xtb (relax from chgnet-ft abcdef12)")]
    assert before["mean_error"] == pytest.approx(1.0) and after["overall"]["mean_error"] == pytest.approx(0.05)
    # the relaxation stopped at its step cap is compared, counted and said so
    assert pairs[("chgnet", "gfn1-xtb (relax from chgnet)")]["unconverged"] == 1 and after["unconverged"] == 0
    from descriptors.analysis.fidelity import format_report

    assert "1 compared stopped at the step cap at either level: unconverged, kept" in "\n".join(format_report(rep))
