"""Fine-tuning data along the cheap relaxation paths ([finetune] path_every), the closeness
criterion of the re-ranking (within), frozen CHGNet layers, and their cost in `no3rr validate`."""

import numpy as np
import pytest
from conftest import require

from descriptors.calculators import base
from descriptors.calculators.base import CalculatorSetting, make_calculator
from descriptors.specs import FinetuneSpec, parse_spec
from descriptors.tasks.relax import read_trajectory
from descriptors.workflows.finetune_data import path_frames, path_indices

pytestmark = pytest.mark.filterwarnings("ignore")

SPEC = {
    "name": "paths", "adsorbates": ["H"],
    "catalysts": [{"type": "slab", "metals": ["Cu", "Ag"], "facets": ["111"], "size": [2, 2], "layers": 2,
                   "vacuum": 5.0, "fixed_layers": 1, "lattice_constant": "experimental"}],
    "calculator": {"name": "emt"}, "relax": {"fmax": 0.02, "steps": 12},
    "placement": {"site_kinds": ["hollow"]}, "execution": {"workers": 1},
}


def test_path_indices_leave_out_the_minimum():
    assert path_indices(10, 3) == [0, 3, 6]
    assert path_indices(10, 1) == list(range(9))
    assert path_indices(1, 2) == [] and path_indices(5, 0) == []


@pytest.fixture(scope="module")
def emt_screen(tmp_path_factory):
    from descriptors.store.db import Store
    from descriptors.workflows.screen import run_screen

    out = tmp_path_factory.mktemp("paths") / "out"
    run_screen(parse_spec(SPEC), out=out, workers=1, progress=False, quiet=True)
    return out, Store(out / "screen.db")


def test_path_labels_are_expensive_single_points_on_the_cheap_frames_and_cached(emt_screen, monkeypatch):
    require(base.REGISTRY["gfn1-xtb"].availability() is None, "tblite", "pip install tblite")
    import descriptors.workflows.finetune_data as fd

    out, store = emt_screen
    cheap = CalculatorSetting("emt").hash
    xtb = CalculatorSetting("gfn1-xtb", {"electronic_temperature": 1500.0, "max_iterations": 300})
    lines = []
    got = path_frames(store, out / "trajectories", cheap, xtb, ["Cu(111)"], 2, out / "labels", 1, lines.append)
    assert set(got) == {"Cu(111)"}  # Ag(111) is not a training catalyst: never labelled
    rows = [r for r in store.select(calc="emt") if r.get("catalyst") == "Cu(111)" and r.get("kind") in ("clean", "adsorbate")]
    want = sum(len(path_indices(len(read_trajectory(out / "trajectories" / f"{r.get('job_id')}.traj")), 2))
               for r in rows)
    assert want > len(rows) and len(got["Cu(111)"]) == want
    assert all(f.info["kind"] == "path" for f in got["Cu(111)"])
    # a label is the xTB single point of that frame of the EMT trajectory, computed here again
    f = got["Cu(111)"][-1]
    job, i = f.info["job_id"].split(":path")
    frame = read_trajectory(out / "trajectories" / f"{job}.traj")[int(i)]
    assert np.allclose(frame.positions, f.positions)
    frame.calc = make_calculator(xtb, frame)
    assert f.get_potential_energy() == pytest.approx(frame.get_potential_energy(), abs=1e-6)
    assert np.allclose(f.get_forces(apply_constraint=False), frame.get_forces(apply_constraint=False), atol=1e-5)
    # and not the cheap level's energy of the frame
    assert abs(f.get_potential_energy() - read_trajectory(out / "trajectories" / f"{job}.traj")[int(i)]
               .get_potential_energy()) > 1.0
    # a second call computes nothing (a killed run's temporary file is ignored, not read)
    (out / "labels" / "x.tmp123").write_text("garbage")
    monkeypatch.setattr(fd, "_label_path", lambda t: (_ for _ in ()).throw(AssertionError("recomputed")))
    again = path_frames(store, out / "trajectories", cheap, xtb, ["Cu(111)"], 2, out / "labels", 1, lines.append)
    assert [a.get_potential_energy() for a in again["Cu(111)"]] == [a.get_potential_energy() for a in got["Cu(111)"]]
    assert "0 xtb" not in lines[-1] and "already labelled" in lines[-1]


def test_within_sends_every_near_tie():
    from descriptors.workflows.verify import select_top_k

    rows = [{"job_id": "a", "e_ads": -1.00, "anomaly": "", "status": "ok"},
            {"job_id": "b", "e_ads": -0.95, "anomaly": "", "status": "ok"},
            {"job_id": "c", "e_ads": -0.80, "anomaly": "", "status": "ok"},
            {"job_id": "d", "e_ads": -0.98, "anomaly": "dissociated", "status": "ok"}]
    assert [r["job_id"] for r in select_top_k(rows, 1)] == ["a"]
    assert [r["job_id"] for r in select_top_k(rows, 1, within=0.1)] == ["a", "b"]
    assert [r["job_id"] for r in select_top_k(rows, 1, within=0.25)] == ["a", "b", "c"]
    assert [r["job_id"] for r in select_top_k(rows, 2, within=0.01)] == ["a", "b"]


def test_spec_options_and_validate_cost(tmp_path, capsys):
    from descriptors.cli import main

    assert FinetuneSpec(path_every=3, freeze="graph", within=0.2, verify_mode="relax").path_every == 3
    for bad in ({"path_every": -1}, {"freeze": "all"}, {"within": 0}, {"verify_mode": "rx"}):
        with pytest.raises(ValueError):
            FinetuneSpec(**bad)
    toml = (open("workflows/finetune_chgnet_xtb.toml").read()
            .replace("batch_size = 4", "batch_size = 4\npath_every = 4"))
    (tmp_path / "s.toml").write_text(toml)
    assert main(["validate", str(tmp_path / "s.toml")]) == 0
    out = capsys.readouterr().out
    assert "fine-tuning labels (path_every = 4)" in out and "4 training catalyst(s)" in out
    (tmp_path / "b.toml").write_text(toml.replace("path_every = 4", "path_every = -2"))
    assert main(["validate", str(tmp_path / "b.toml")]) == 2
    err = capsys.readouterr().err
    assert "finetune.path_every" in err


def test_frozen_layers_stay_fixed():
    require(base.REGISTRY["chgnet"].availability() is None, "chgnet", "pip install chgnet")
    from ase.build import add_adsorbate, fcc111
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    from descriptors.workflows.finetune import train_chgnet
    from descriptors.workflows.finetune_data import frozen_layers

    frames = []
    for site in ("fcc", "hcp", "ontop"):
        s = fcc111("Cu", (2, 2, 2), vacuum=5.0)
        add_adsorbate(s, "H", 1.2, site)
        s.calc = EMT()
        e, f = s.get_potential_energy(), s.get_forces()
        s.calc = SinglePointCalculator(s, energy=e, forces=f)
        frames.append(s)
    ft = FinetuneSpec(epochs=1, learning_rate=2e-3, batch_size=2, early_stop_fraction=0.0, freeze="graph",
                      train=["x"])
    model, rec = train_chgnet(frames, [], ft, "0.3.0", lambda m: None)
    from chgnet.model import CHGNet

    from descriptors.calculators.ml import shipped_checkpoint

    ref = CHGNet.from_file(str(shipped_checkpoint("chgnet", "0.3.0")), version="0.3.0")
    frozen = {id(p) for layer in frozen_layers(model, "graph") for p in layer.parameters()}
    rp = dict(ref.named_parameters())
    same = {n: bool((p.detach() == rp[n].detach()).all()) for n, p in model.named_parameters()}
    assert all(same[n] for n, p in model.named_parameters() if id(p) in frozen)
    assert frozen and any(not same[n] for n, p in model.named_parameters() if id(p) not in frozen)
    learned = {n.split(".")[0] for n, p in model.named_parameters() if not same[n]}
    assert "atom_embedding" not in learned and "mlp" in learned


class _Row(dict):
    """A stand-in for a store row: key-value pairs and a total energy."""

    def __init__(self, energy=None, **kv):
        super().__init__(status="ok", anomaly="", **kv)
        self.energy = energy


class _Store:
    def __init__(self, rows):
        self.rows = rows

    def select(self, kind=None):
        return [r for r in self.rows if kind is None or r.get("kind") == kind]


def test_direct_count_by_hand(tmp_path):
    """Two pairs, hand-worked: the truth is the lowest exhaustive relaxation; ML+SP costs one call per
    pick (the first frame of the expensive relaxation from the model's minimum), ML+RX its steps + 1."""
    import sys
    from pathlib import Path

    from ase.build import fcc111
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io.trajectory import Trajectory

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.finetune import direct_count, vs_truth

    (tmp_path / "trajectories").mkdir()

    def traj(job, e0):
        a = fcc111("Cu", (1, 1, 2))
        a.calc = SinglePointCalculator(a, energy=e0)
        with Trajectory(str(tmp_path / "trajectories" / f"{job}.traj"), "w") as t:
            t.write(a)

    ads = lambda **kv: _Row(kind="adsorbate", catalyst=kv.pop("cat", "Cu(100)"), **{"converged": True, **kv})  # noqa: E731
    # exhaustive: pair H 10 + 20 calls, min -5.0; pair O 30 calls, min -8.0
    exh = _Store([ads(adsorbate="H", site="a", binding="H", steps=9, energy=-5.0, e_ads=-0.5),
                  ads(adsorbate="H", site="b", binding="H", steps=19, energy=-4.5, e_ads=0.0),
                  ads(adsorbate="O", site="a", binding="O", steps=29, energy=-8.0, e_ads=-1.0)])
    # the model ranks H: b before a (wrong); O: a
    model = [ads(adsorbate="H", site="a", binding="H", job_id="ma", e_ads=-0.30),
             ads(adsorbate="H", site="b", binding="H", job_id="mb", e_ads=-0.35),
             ads(adsorbate="O", site="a", binding="O", job_id="mo", e_ads=-1.2)]
    rx = {"ma": ads(adsorbate="H", job_id="xa", steps=3, energy=-5.05, e_ads=0),
          "mb": ads(adsorbate="H", job_id="xb", steps=4, energy=-4.5, e_ads=0),
          "mo": ads(adsorbate="O", job_id="xo", steps=1, energy=-7.95, e_ads=0)}
    traj("xa", -4.8), traj("xb", -4.4), traj("xo", -7.85)
    d = direct_count(None, tmp_path, exh, ["Cu(100)"], model, rx, ks=(1, 2), within=(0.1,))
    assert d["pairs"] == 2 and d["exhaustive_calls"] == 60
    sp, rxm = d["modes"]["SP"], d["modes"]["RX"]
    # k=1: H picks b (SP -4.4, RX -4.5: both > -5.0 + 0.1), O picks a (SP -7.85 > -7.9 fails; RX -7.95 ok)
    assert sp["k=1"] == {"success": 0.0, "expensive_calls": 2, "saving_x": 30.0}
    assert rxm["k=1"] == {"success": 0.5, "expensive_calls": 5 + 2, "saving_x": 60 / 7}
    # k=2 and within 0.1 (a is 0.05 above b): H also a (RX -5.05 ok; SP -4.8 fails)
    assert rxm["k=2"]["success"] == 1.0 and rxm["k=2"]["expensive_calls"] == 4 + 5 + 2
    assert rxm["k=1+within 0.1 eV"] == rxm["k=2"] and sp["k=2"]["success"] == 0.0
    v = vs_truth(model, exh)
    assert v["n"] == 3 and v["mae_eV"] == pytest.approx((0.2 + 0.35 + 0.2) / 3)
    assert v["left_out_unconverged"] == {"model": 0, "truth": 0}
    # a relaxation stopped at its step cap is left out of the MAE, and counted
    exh.rows.append(ads(adsorbate="O", site="c", binding="O", steps=80, energy=-6.0, e_ads=1.0, converged=False))
    model.append(ads(adsorbate="O", site="c", binding="O", job_id="mc", e_ads=-2.0))
    v2 = vs_truth(model, exh)
    assert v2["n"] == 3 and v2["mae_eV"] == v["mae_eV"] and v2["left_out_unconverged"] == {"model": 0, "truth": 1}
    assert v["pair_min_mae_eV"] == pytest.approx((0.15 + 0.2) / 2)


def test_freeze_is_refused_for_a_family_without_those_layers():
    """[finetune] freeze names CHGNet's layers: with SevenNet it is an error naming the field, not ignored."""
    from descriptors.specs import parse_spec
    from descriptors.specs.base import SpecError

    base = {"name": "ft", "adsorbates": ["H"],
            "catalysts": [{"type": "slab", "metals": ["Cu", "Ag", "Pt"], "facets": ["111"], "size": [2, 2],
                           "layers": 3, "vacuum": 6.0, "lattice_constant": "experimental"}],
            "verify": {"calculator": {"name": "gfn1-xtb"}}}
    with pytest.raises(SpecError, match="finetune.freeze"):
        parse_spec({**base, "calculator": {"name": "sevenn"}, "finetune": {"freeze": "graph"}})
    parse_spec({**base, "calculator": {"name": "chgnet"}, "finetune": {"freeze": "graph"}})
