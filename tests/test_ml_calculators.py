"""CHGNet and SevenNet relax an adsorbate on Cu(111) offline, with the weights of their wheels."""

import socket

import pytest
from ase.build import add_adsorbate, fcc111
from ase.constraints import FixAtoms
from conftest import require

from descriptors.calculators import base, ml
from descriptors.calculators.base import CalculatorSetting, make_calculator
from descriptors.tasks.relax import RelaxSettings, relax


def _need(name):
    require(base.REGISTRY[name].availability() is None, name, ml.ML_INSTALL)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: the weights must come from the installed package."""
    def refuse(*a, **k):
        raise AssertionError(f"network access attempted: {a[1:] if len(a) > 1 else a}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(k, "1")


def _h_on_cu111():
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0, a=3.63)
    slab.pbc = True
    add_adsorbate(slab, "H", 1.6, "fcc")  # 0.6 A above the usual height: the relaxation must pull it in
    slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag > 1]))  # bottom two layers
    return slab


@pytest.mark.parametrize("name", ["chgnet", "sevenn"])
def test_ml_potential_relaxes_h_on_cu111_offline(name, no_network):
    _need(name)
    setting = CalculatorSetting(name)
    assert setting.version not in ("", "not-installed")
    slab = _h_on_cu111()
    start = slab.copy()
    start.calc = make_calculator(setting, atoms=start)
    e0 = start.get_potential_energy()
    res = relax(slab, setting, RelaxSettings("BFGS", fmax=0.05, steps=200))
    assert res.converged and res.fmax < 0.05
    assert res.energy < e0 - 0.05  # it moved downhill
    a = res.atoms
    h = len(a) - 1
    top = [i for i in range(len(a) - 1) if a[i].tag == 1]
    d = a.get_distances(h, top, mic=True)
    height = a.positions[h, 2] - a.positions[top, 2].mean()
    # still bound in the hollow: three Cu at ~1.7-1.9 A, about 1 A above the top layer
    assert 1.5 < d.min() < 2.1 and (d < 2.2).sum() == 3
    assert 0.6 < height < 1.4


def test_ml_element_lists_match_the_shipped_checkpoint():
    """The registry's element list (MPtrj) is the species list stored in SevenNet-0's checkpoint."""
    _need("sevenn")
    import torch

    cp = torch.load(ml.shipped_checkpoint("sevenn", "7net-0"), map_location="cpu", weights_only=False)
    species = set(cp["config"]["chemical_species"])
    assert species == base.REGISTRY["sevenn"].supported_elements() == base.REGISTRY["chgnet"].supported_elements()
    assert len(species) == 89


def test_ml_weights_ship_inside_the_package():
    for name, models in (("chgnet", ml.CHGNET_MODELS), ("sevenn", ml.SEVENN_MODELS)):
        _need(name)
        for model in models:
            path = ml.shipped_checkpoint(name, model)
            assert path.is_file() and path.stat().st_size > 1_000_000
            assert f"site-packages/{name}/" in str(path) or f"/{name}/" in str(path)


@pytest.mark.parametrize("name", ["chgnet", "sevenn"])
def test_ml_screen_with_a_relaxed_lattice_offline(name, no_network, tmp_path):
    """The whole pipeline on an ML potential with lattice_constant = 'relaxed' (EOS fit, clean slab,
    gas references, an adsorbate): every row stored as float64, which ase.db encodes; the EOS fit
    lands near the ML potential's own Cu lattice constant (PBE-like, 3.6-3.7 A)."""
    import numpy as np

    from descriptors.specs import parse_spec
    from descriptors.store.db import Store
    from descriptors.workflows.screen import run_screen

    _need(name)
    spec = parse_spec({
        "name": f"ml-relaxed-{name}", "adsorbates": ["H"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "relaxed"}],
        "placement": {"site_kinds": ["hollow"]},
        "calculator": {"name": name}, "relax": {"optimizer": "BFGS", "fmax": 0.1, "steps": 60},
        "execution": {"workers": 1},
    })
    run_screen(spec, out=tmp_path, progress=False, quiet=True, engine="serial")
    rows = list(Store(tmp_path / "screen.db").select())
    kinds = {r.kind for r in rows} if hasattr(rows[0], "kind") else None
    assert all(r.status in ("ok", "unconverged") for r in rows), [(r.status, r.error) for r in rows]
    bulk = [r for r in rows if r.data.get("eos_energies")]
    assert len(bulk) == 1 and len(bulk[0].data["eos_energies"]) == 7
    assert all(type(e) is float for e in bulk[0].data["eos_energies"])
    a = bulk[0].toatoms().cell.lengths()[0] * np.sqrt(2)  # primitive fcc cell: a/sqrt(2)
    assert 3.55 < a < 3.75, a
    assert len(rows) >= 4, kinds  # bulk, clean, gas (H2 at least), adsorbate(s)
    for r in rows:
        assert r.toatoms().get_forces().dtype == np.float64


def test_float32_results_become_float64_where_made():
    _need("chgnet")
    from ase.build import bulk

    cu = bulk("Cu", "fcc", a=3.6)
    cu.calc = make_calculator(CalculatorSetting("chgnet"), atoms=cu)
    assert type(cu.get_potential_energy()) is float
    assert cu.get_forces().dtype.name == "float64"


def test_sevenn_models_and_fidelity_channels(no_network):
    _need("sevenn")
    from ase.build import bulk

    with pytest.raises(ValueError, match=r"calculator.params.modal.*\['PBE', 'R2SCAN'\]"):
        CalculatorSetting("sevenn", {"model": "7net-MF-0"})
    with pytest.raises(ValueError, match="calculator.params.modal: '7net-0' has one fidelity"):
        CalculatorSetting("sevenn", {"modal": "PBE"})
    with pytest.raises(ValueError, match="calculator.params.model.*7net-l3i5"):
        CalculatorSetting("sevenn", {"model": "7net-omat"})
    e = {}
    for params in ({"model": "7net-MF-0", "modal": "PBE"}, {"model": "7net-MF-0", "modal": "R2SCAN"},
                   {"model": "7net-l3i5"}, {}):
        s = CalculatorSetting("sevenn", params)
        cu = bulk("Cu", "fcc", a=3.6)
        cu.calc = make_calculator(s, atoms=cu)
        e[s.hash] = cu.get_potential_energy()
    assert len(e) == 4 and len({round(v, 4) for v in e.values()}) == 4  # four models/channels, four numbers
    # the default setting's identity is unchanged by the new optional parameter
    assert "modal" not in CalculatorSetting("sevenn").as_dict()["params"]


def test_missing_checkpoint_lists_the_models_present(monkeypatch):
    _need("sevenn")
    monkeypatch.setitem(ml.SEVENN_MODELS, "7net-l3i5", "pretrained_potentials/nowhere/none.pth")
    with pytest.raises(base.CalculatorUnavailableError,
                       match=r"'7net-l3i5'.*models present here: \['7net-0', '7net-0_22may2024', '7net-MF-0'\]"):
        ml.shipped_checkpoint("sevenn", "7net-l3i5")


def test_chgnet_fast_path_matches_chgnets_calculator_and_a_fresh_graph(no_network):
    """CHGNetEF (tasks/batch.py's CHGNet path): the energy and forces of CHGNet's own ASE calculator;
    along a relaxation whose graph is reused between steps, those of a graph built afresh at every
    step, to 1e-5 (float32 round-off of another summation order); the graph is really reused."""
    _need("chgnet")
    import numpy as np

    from descriptors.calculators.ml import CHGNetEF, chgnet_ef
    from descriptors.tasks.batch import relax_batch

    ef = chgnet_ef({"model": "0.3.0"})
    slab = _h_on_cu111()
    ref = slab.copy()
    ref.calc = make_calculator(CalculatorSetting("chgnet"), atoms=ref)
    (e, f), = ef([slab])
    assert e == pytest.approx(ref.get_potential_energy(), abs=1e-5)
    assert np.abs(f - ref.get_forces(apply_constraint=False)).max() < 1e-4

    class Checked(CHGNetEF):
        worst = [0.0, 0.0]

        def __call__(self, structures, slots=None):
            out = super().__call__(structures, slots)
            fresh = CHGNetEF(self.model)(structures)
            for (e1, f1), (e2, f2) in zip(out, fresh):
                self.worst[0] = max(self.worst[0], abs(e1 - e2))
                self.worst[1] = max(self.worst[1], float(np.abs(f1 - f2).max()))
            return out

    checked = Checked(ef.model)
    other = slab.copy()
    other.positions[-1, :2] += 0.7  # a second placement in the same batch
    res = relax_batch([slab, other], CalculatorSetting("chgnet"), RelaxSettings("BFGS-soft", 0.05, 100),
                      predictor=checked)
    assert all(r.converged for r in res)
    assert checked.stats["graphs_reused"] > checked.stats["graphs_built"] > 0
    assert checked.worst[0] < 1e-5 and checked.worst[1] < 1e-4, checked.worst
    single = relax(slab, CalculatorSetting("chgnet"), RelaxSettings("BFGS-soft", 0.05, 100))
    assert res[0].energy == pytest.approx(single.energy, abs=1e-3)


def test_chgnet_screen_in_batch_mode_stores_what_single_jobs_store(no_network, tmp_path, monkeypatch):
    """A CHGNet screen runs its placements in the engine's batch mode (tasks.batch.run_jobs_batched,
    checked), and stores the rows single-job mode stores: same job ids, statuses and fields, the
    same minima (energies within 1e-3 eV: float32 inference in another order)."""
    _need("chgnet")
    import descriptors.engine.batch as eb
    from descriptors.specs import parse_spec
    from descriptors.store.db import Store
    from descriptors.workflows.screen import run_screen

    spec = parse_spec({
        "name": "ml-batch", "adsorbates": ["H"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
        "placement": {"site_kinds": ["hollow"]}, "calculator": {"name": "chgnet"},
        "relax": {"fmax": 0.05, "steps": 100},
    })
    rows = {}
    for mode in ("single", "batch"):
        calls = []
        entry = eb._entry
        monkeypatch.setattr(eb, "BATCH_SIZE", 8 if mode == "batch" else 1)
        monkeypatch.setattr(eb, "_entry", lambda items, *a: calls.append(len(items)) or entry(items, *a))
        run_screen(spec, out=tmp_path / mode, progress=False, quiet=True, engine="serial")
        monkeypatch.setattr(eb, "_entry", entry)
        rows[mode] = {r.job_id: r for r in Store(tmp_path / mode / "screen.db").select()}
        assert (sum(calls) > 0) == (mode == "batch")
    assert rows["single"].keys() == rows["batch"].keys()
    for jid, s in rows["single"].items():
        b = rows["batch"][jid]
        assert (b.status, b.kind) == (s.status, s.kind) and set(b.key_value_pairs) == set(s.key_value_pairs)
        assert b.energy == pytest.approx(s.energy, abs=1e-3), (s.kind, jid)
