"""`no3rr finetune`: CHGNet fine-tuned on the screen's expensive level (here EMT, for speed), the
model artefact and its hash, a re-run that reuses it, the fine-tuned level in the fidelity report
without its training catalysts, and the one-line errors."""

import json
import shutil

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from conftest import require

from descriptors.calculators import (
    CalculatorSetting,
    CalculatorUnavailableError,
    base,
    ml,
)
from descriptors.calculators.finetuned import content_hash, load_artefact
from descriptors.cli import main
from descriptors.specs import FinetuneSpec, parse_spec

pytestmark = pytest.mark.filterwarnings("ignore")


def _chgnet():
    require(base.REGISTRY["chgnet"].availability() is None, "chgnet", ml.ML_INSTALL)


SPEC = """
name = "ft-test"
adsorbates = ["H"]
[[catalysts]]
type = "slab"
metals = ["Cu", "Ag", "Au"]
facets = ["111"]
size = [2, 2]
layers = 3
vacuum = 6.0
fixed_layers = 1
lattice_constant = "experimental"
[calculator]
name = "chgnet"
[relax]
fmax = 0.2
steps = 4
[placement]
site_kinds = ["hollow"]
[execution]
workers = 1
[verify]
calculator = { name = "emt" }
top_k = 1
all = true
[finetune]
epochs = 2
patience = 2
learning_rate = 1e-3
"""


def _labelled(a):
    a = a.copy()
    a.calc = EMT()
    e, f = a.get_potential_energy(), a.get_forces(apply_constraint=False)
    a.calc = SinglePointCalculator(a, energy=e, forces=f)
    return a


def test_artefact_hash_is_the_identity(tmp_path):
    d = tmp_path / "models"
    (d / "x").mkdir(parents=True)
    w = d / "x" / "weights.pt"
    w.write_bytes(b"weights-1")
    h1 = content_hash(w, "0.3.0")
    assert h1 != content_hash(w, "0.2.0")  # the base model is part of it
    w.write_bytes(b"weights-2")
    assert content_hash(w, "0.3.0") != h1
    # the hash is the identity; where the models live is not
    a = CalculatorSetting("chgnet-ft", {"model": h1, "models_dir": "/a"})
    b = CalculatorSetting("chgnet-ft", {"model": h1, "models_dir": "/elsewhere"})
    c = CalculatorSetting("chgnet-ft", {"model": "0" * 15 + "1", "models_dir": "/a"})
    assert a.hash == b.hash != c.hash
    assert "models_dir" not in a.as_dict()["params"]
    with pytest.raises(ValueError, match="not a fine-tuned model hash"):
        CalculatorSetting("chgnet-ft", {"model": "latest", "models_dir": "/a"})
    with pytest.raises(ValueError, match="params.models_dir"):
        CalculatorSetting("chgnet-ft", {"model": h1})
    # missing, then altered: one line each, naming the fix
    with pytest.raises(CalculatorUnavailableError, match="not found") as e:
        load_artefact(d, h1)
    assert "\n" not in str(e.value)
    (d / h1).mkdir()
    (d / h1 / "weights.pt").write_bytes(b"weights-1")
    (d / h1 / "model.json").write_text(json.dumps({"base_model": "0.3.0"}))
    assert load_artefact(d, h1)["base_model"] == "0.3.0"
    (d / h1 / "weights.pt").write_bytes(b"weights-1 tampered")
    with pytest.raises(CalculatorUnavailableError, match="altered"):
        load_artefact(d, h1)


def test_element_shifts_recover_per_element_constants():
    from descriptors.workflows.finetune import element_shifts

    frames = []
    for m in ("Cu", "Ag"):
        for n in (2, 3):
            s = fcc111(m, (1, 1, n), vacuum=5.0)
            add_adsorbate(s, "H", 1.0, "fcc")
            frames.append(s)
    shifts = {"Cu": -3.0, "Ag": 1.5, "H": 0.25}
    ml_e = np.array([1.0, 2.0, -1.0, 0.5])
    for a, e in zip(frames, ml_e):
        a.calc = SinglePointCalculator(a, energy=e + sum(shifts[s] for s in a.get_chemical_symbols()),
                                       forces=np.zeros((len(a), 3)))
    got = element_shifts(frames, ml_e)
    assert got == pytest.approx(shifts, abs=1e-9)


def test_tiny_chgnet_finetune_lowers_the_training_error():
    _chgnet()
    from descriptors.workflows.finetune import train_chgnet

    rng = np.random.default_rng(0)
    frames = []
    for site in ("fcc", "hcp", "ontop", "bridge"):
        s = fcc111("Cu", (2, 2, 2), vacuum=5.0)
        add_adsorbate(s, "H", 1.2, site)
        s.rattle(0.05, seed=int(rng.integers(100)))
        frames.append(_labelled(s))
    ft = FinetuneSpec(epochs=2, patience=2, learning_rate=2e-3, batch_size=2)
    model, rec = train_chgnet(frames, frames[:2], ft, "0.3.0", lambda m: None)
    b, a = rec["errors_before"]["fit"], rec["errors_after"]["fit"]
    assert a["energy_mae_eV"] + a["force_mae_eV_per_A"] < b["energy_mae_eV"] + b["force_mae_eV_per_A"]
    assert set(rec["element_shifts_eV"]) == {"Cu", "H"}
    assert len(rec["history"]) == 2
    # without held-out catalysts: every epoch runs, the last is kept, and it still learns
    _, rec0 = train_chgnet(frames, [], ft, "0.3.0", lambda m: None)
    assert rec0["best_epoch"] == 2 and "early_stop" not in rec0["errors_after"]
    assert rec0["errors_after"]["fit"]["force_mae_eV_per_A"] < rec0["errors_before"]["fit"]["force_mae_eV_per_A"]


def _run(tmp_path, capsys, *extra):
    code = main(["finetune", str(tmp_path / "spec.toml"), "--out", str(tmp_path / "out"), "--no-progress", *extra])
    return code, capsys.readouterr()


SEVENN_SPEC = SPEC.replace('[calculator]\nname = "chgnet"', '[calculator]\nname = "sevenn"')


@pytest.mark.parametrize("cheap, ftcalc", [("chgnet", "chgnet-ft"),
                                           pytest.param("sevenn", "sevennet-ft", marks=pytest.mark.slow)])
def test_finetune_end_to_end_reuses_model_and_store(tmp_path, capsys, monkeypatch, cheap, ftcalc):
    _chgnet() if cheap == "chgnet" else _sevenn()
    import descriptors.workflows.finetune as wf
    from descriptors.analysis.fidelity import fidelity_report, level_rows
    from descriptors.store.db import Store

    text = SPEC if cheap == "chgnet" else SEVENN_SPEC
    (tmp_path / "spec.toml").write_text(text)
    real = wf.train_model

    def killed(*a, **k):  # training cut short: nothing may be stored as a model
        raise KeyboardInterrupt

    monkeypatch.setattr(wf, "train_model", killed)
    code, _ = _run(tmp_path, capsys)
    assert code == 130
    assert not any((tmp_path / "out" / "models").glob("*/model.json"))
    monkeypatch.setattr(wf, "train_model", real)
    code, cap = _run(tmp_path, capsys)
    assert code == 0, cap.err
    models = list((tmp_path / "out" / "models").glob("*/model.json"))
    assert len(models) == 1
    man = json.loads(models[0].read_text())
    h = models[0].parent.name
    assert man["hash"] == h and man["trained_on"] == ["Ag(111)"] and man["early_stop_on"] == ["Au(111)"]
    assert man["training_set"]["sha256"] and man["versions"][cheap] and man["calculator"] == ftcalc
    assert man["errors_before"]["early_stop"]["e_ads_mae_eV"] is not None
    assert man["errors_after"]["early_stop"]["e_ads_mae_eV"] <= man["errors_before"]["early_stop"]["e_ads_mae_eV"]
    assert f"fine-tuned model {h}" in cap.out

    # a re-run: the same data gives the same model, reused, and no job is computed again
    calls = []
    monkeypatch.setattr(wf, "train_model", lambda *a, **k: calls.append(1))
    from descriptors.workflows.screen import run_screen

    spec = parse_spec(__import__("tomllib").loads(text))
    res = run_screen(spec, out=tmp_path / "out", workers=1, progress=False, quiet=True, finetune=True)
    assert not calls and res.finetune["model"] == h and res.stats["computed"] == 0

    # the fine-tuned level carries the hash in its identity and never reports on its training catalysts
    store = Store(tmp_path / "out" / "screen.db")
    ft_rows = [r for r in store.select(calc=ftcalc) if r.get("kind") != "gas"]
    assert ft_rows and {r.get("catalyst") for r in ft_rows if r.get("catalyst")} == {"Cu(111)"}
    assert all(r.get("ft_model_hash") == h for r in ft_rows)
    assert all(r.data["calculator"]["params"]["model"] == h for r in ft_rows)
    levels, places = level_rows(store)
    (ftl,) = [k for k, lv in levels.items() if lv.finetuned]
    assert set(levels[ftl].excluded_catalysts) == {"Ag(111)", "Au(111)"}
    assert {p.catalyst for p in places[ftl].values()} == {"Cu(111)"}
    rep = fidelity_report(store, tmp_path / "fid")
    pair = [p for p in rep["pairs"] if "fine-tuned" in p["cheap"] and p["expensive"].startswith("emt")]
    assert pair and pair[0]["compared"] == 2  # the two hollow sites of Cu(111)

    # an altered artefact: one line, exit 2, nothing computed
    w = tmp_path / "out" / "models" / h / "weights.pt"
    w.write_bytes(w.read_bytes() + b"\0")
    code, cap = _run(tmp_path, capsys, "--quiet")
    assert code == 2 and "altered" in cap.err and len(cap.err.strip().splitlines()) == 1
    # the artefact deleted: retrained from the same data (seeded, one thread) into the same weights,
    # so every fine-tuned job of the store is still valid and reused
    shutil.rmtree(tmp_path / "out" / "models" / h)
    monkeypatch.setattr(wf, "train_model", real)
    res = run_screen(spec, out=tmp_path / "out", workers=1, progress=False, quiet=True, finetune=True)
    assert res.finetune["model"] == h and res.stats["computed"] == 0


@pytest.mark.parametrize("edit, msg", [
    (lambda s: s.split("[finetune]")[0], "no [finetune] table"),
    (lambda s: s.replace('calculator = { name = "emt" }', 'calculator = { name = "emt" }').replace(
        "[verify]\ncalculator = { name = \"emt\" }\ntop_k = 1\nall = true\n", ""), "needs a [verify] table"),
    (lambda s: s.replace('[calculator]\nname = "chgnet"', '[calculator]\nname = "emt"'), "cannot be fine-tuned"),
    (lambda s: s.replace('[calculator]\nname = "chgnet"', '[calculator]\nname = "sevenn"\nparams = { model = '
                         '"7net-MF-0" }'), "calculator.params.modal"),
    (lambda s: s + 'train = ["Cu(111)", "Zn(111)"]\n', "'Zn(111)' not among"),
    (lambda s: s + 'train = ["Cu(111)", "Ag(111)", "Au(111)"]\n', "leave at least one"),
    (lambda s: s.replace("epochs = 2", "epochs = 0"), "finetune.epochs"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, edit, msg):
    _chgnet()
    (tmp_path / "spec.toml").write_text(edit(SPEC))
    code, cap = _run(tmp_path, capsys)
    assert code == 2, cap.err
    assert msg in cap.err
    assert not (tmp_path / "out").exists()


def test_early_stop_adsorption_error_is_free_of_element_constants():
    from ase import Atoms

    from descriptors.workflows.finetune import adsorption_mae, adsorption_set

    def sp(a, e, **info):
        a.calc = SinglePointCalculator(a, energy=e, forces=np.zeros((len(a), 3)))
        a.info = info
        return a

    clean = sp(Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]]), -7.0, kind="clean", catalyst="Cu", job_id="c")
    h = sp(Atoms("Cu2H", positions=[[0, 0, 0], [2.5, 0, 0], [1.2, 0, 1.5]]), -10.5, kind="adsorbate",
           catalyst="Cu", job_id="h")
    o = sp(Atoms("Cu2O", positions=[[0, 0, 0], [2.5, 0, 0], [1.2, 0, 1.5]]), -12.0, kind="adsorbate",
           catalyst="Cu", job_id="o")
    frames = [clean, h, o]
    pairs = adsorption_set(frames)
    assert [(i, j, n) for i, j, n in pairs] == [(1, 0, {"H": 1}), (2, 0, {"O": 1})]
    gas = {"H2": -6.8, "H2O": -14.2, "NH3": -19.5}
    d = {"Cu": 3.0, "H": -1.0, "O": 2.0, "N": 0.5}  # per-element constants: they cancel in E_ads
    shift = {"H2": 2 * d["H"], "H2O": 2 * d["H"] + d["O"], "NH3": d["N"] + 3 * d["H"]}
    model = [a.get_potential_energy() + sum(d[s] for s in a.get_chemical_symbols()) for a in frames]
    g = {k: (v, v + shift[k]) for k, v in gas.items()}
    assert adsorption_mae(model, (frames, pairs), g) == pytest.approx(0.0, abs=1e-12)
    model[2] += 0.3  # O bound 0.3 eV weaker: (0 + 0.3) / 2
    assert adsorption_mae(model, (frames, pairs), g) == pytest.approx(0.15)


def test_ensure_model_without_early_stop_catalysts_then_reused(tmp_path, monkeypatch):
    _chgnet()
    from ase.io import write

    import descriptors.workflows.finetune as wf
    from descriptors.workflows.finetune_data import TrainingSet

    frames = []
    for site in ("fcc", "hcp"):
        s = fcc111("Cu", (2, 2, 2), vacuum=5.0)
        add_adsorbate(s, "H", 1.2, site)
        frames.append(_labelled(s))
    write(tmp_path / "train.extxyz", frames, format="extxyz")
    (tmp_path / "validation.extxyz").write_text("")
    ts = TrainingSet("h", ["Cu(111)"], [], 2, 0, "ab" * 32,
                     {"train": str(tmp_path / "train.extxyz"), "validation": str(tmp_path / "validation.extxyz")})
    ft = FinetuneSpec(epochs=1, early_stop_fraction=0.0, train=["Cu(111)"])
    h, man = wf.ensure_model(ts, ft, "0.3.0", tmp_path / "models", lambda m: None)
    assert man["early_stop_on"] == [] and man["best_epoch"] == 1
    assert load_artefact(tmp_path / "models", h)["hash"] == h
    monkeypatch.setattr(wf, "train_model", lambda *a, **k: pytest.fail("retrained"))
    assert wf.ensure_model(ts, ft, "0.3.0", tmp_path / "models", lambda m: None)[0] == h
    # other settings are another model
    with pytest.raises(BaseException, match="retrained"):
        wf.ensure_model(ts, ft.model_copy(update={"epochs": 2}), "0.3.0", tmp_path / "models", lambda m: None)


def test_two_training_sets_that_keep_the_same_weights_are_two_artefacts(tmp_path, monkeypatch):
    """Early stopping that keeps the base weights (epoch 0) for two different training sets: each gets
    its own artefact (its own training catalysts in model.json), and each is reused on a re-run
    instead of retrained every time."""
    _chgnet()
    import torch

    import descriptors.workflows.finetune as wf
    from descriptors.workflows.finetune_data import TrainingSet

    base = torch.nn.Linear(2, 1)
    torch.nn.init.constant_(base.weight, 0.5)
    torch.nn.init.constant_(base.bias, 0.0)
    monkeypatch.setattr(wf, "train_model", lambda *a, **k: (base, {"best_epoch": 0, "history": []}))
    monkeypatch.setattr("ase.io.read", lambda *a, **k: [])
    d = tmp_path / "models"
    ft = FinetuneSpec(epochs=1, train=["Cu(111)", "Ag(111)"])
    tsa = TrainingSet("h", ["Cu(111)"], ["Ag(111)"], 2, 1, "ab" * 32, {"train": "a", "validation": "b"})
    tsb = TrainingSet("h", ["Pt(111)"], ["Ag(111)"], 2, 1, "cd" * 32, {"train": "a", "validation": "b"})
    ha, ma = wf.ensure_model(tsa, ft, "0.3.0", d, lambda m: None)
    hb, mb = wf.ensure_model(tsb, ft, "0.3.0", d, lambda m: None)
    assert ha != hb and ma["trained_on"] == ["Cu(111)"] and mb["trained_on"] == ["Pt(111)"]
    assert load_artefact(d, ha)["key"] == ma["key"] and load_artefact(d, hb)["key"] == mb["key"]
    monkeypatch.setattr(wf, "train_model", lambda *a, **k: pytest.fail("retrained"))
    assert wf.ensure_model(tsb, ft, "0.3.0", d, lambda m: None)[0] == hb
    assert wf.ensure_model(tsa, ft, "0.3.0", d, lambda m: None)[0] == ha


# --- SevenNet: the same contract through sevenn's own training code ---------------------------

def _sevenn():
    require(base.REGISTRY["sevenn"].availability() is None, "sevenn", ml.ML_INSTALL)


def test_every_finetunable_calculator_has_a_trainer_and_a_finetuned_calculator():
    from descriptors.calculators.finetuned import FINETUNABLE
    from descriptors.workflows.finetune import TRAINERS, trainer_backend

    assert set(FINETUNABLE) == set(TRAINERS) == {"chgnet", "sevenn"}
    for cheap, ftname in FINETUNABLE.items():
        b = trainer_backend(cheap)
        assert b.CALCULATOR == ftname and ftname in base.REGISTRY and b.FAMILY == cheap
    with pytest.raises(ValueError, match="cannot be fine-tuned"):
        trainer_backend("emt")


def _ads_frames():
    """Labelled (EMT) frames with what early stopping needs: a clean slab and H, O, N adsorbates
    of two catalysts (held out), and gas references (H2, H2O, NH3) among the fitting frames."""
    from ase.build import molecule

    def slab(metal, ads=None, site="fcc", seed=0):
        s = fcc111(metal, (2, 2, 2), vacuum=5.0, a={"Cu": 3.61, "Ni": 3.52}[metal])
        if ads:
            add_adsorbate(s, ads, 1.1 if ads == "H" else 1.3, site)
        s.rattle(0.03, seed=seed)
        a = _labelled(s)
        a.info = {"job_id": f"{metal}-{ads}-{site}", "kind": "adsorbate" if ads else "clean", "catalyst": metal}
        return a

    fit = [slab("Cu", a, site, k) for k, (a, site) in enumerate([("H", "fcc"), ("H", "hcp"), ("O", "fcc"),
                                                                   ("N", "hcp"), (None, "fcc")])]
    for k, name in enumerate(("H2", "H2O", "NH3")):
        m = molecule(name)
        m.center(vacuum=4.0)
        a = _labelled(m)
        a.info = {"job_id": f"gas-{name}", "kind": "gas", "catalyst": "gas"}
        fit.append(a)
    early = [slab("Ni", a, site, 10 + k) for k, (a, site) in enumerate([(None, "fcc"), ("H", "fcc"), ("O", "hcp"),
                                                                         ("N", "fcc")])]
    return fit, early


def _weights_digest(model) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()


@pytest.mark.slow  # three trainings of SevenNet (~80 s on 2 cores); runs in CI
def test_tiny_sevenn_finetune_is_deterministic_learns_and_never_worse_than_epoch_0():
    _sevenn()
    from descriptors.workflows.finetune import train_model, trainer_backend

    fit, early = _ads_frames()
    ft = FinetuneSpec(epochs=2, patience=2, learning_rate=2e-3, batch_size=4)
    b = trainer_backend("sevenn")
    logs = []
    model, rec = train_model(b, fit, early, ft, "7net-0", logs.append)
    before, after = rec["errors_before"], rec["errors_after"]
    # the held-out catalysts' adsorption energies: the kept epoch is never worse than the base model
    e0 = before["early_stop"]["e_ads_mae_eV"]
    assert e0 is not None and after["early_stop"]["e_ads_mae_eV"] <= e0 + 1e-9
    scores = [e0] + [h["early_e_ads"] for h in rec["history"]]
    assert after["early_stop"]["e_ads_mae_eV"] == pytest.approx(min(scores), abs=1e-6)
    assert rec["best_epoch"] == int(np.argmin(scores))
    assert set(rec["element_shifts_eV"]) == {"Cu", "Ni", "H", "N", "O"}
    assert len(rec["history"]) == 2 and any("epoch 2/2" in m for m in logs)
    # the same data trains into the same weights (seeded, one thread)
    model2, rec2 = train_model(b, fit, early, ft, "7net-0", lambda m: None)
    assert _weights_digest(model2) == _weights_digest(model)
    assert rec2["history"] == rec["history"]
    # without held-out catalysts every epoch runs, the last is kept, and the fitting error falls
    _, rec0 = train_model(b, fit, [], ft, "7net-0", lambda m: None)
    f0, f1 = rec0["errors_before"]["fit"], rec0["errors_after"]["fit"]
    assert rec0["best_epoch"] == 2 and "early_stop" not in rec0["errors_after"]
    assert f1["energy_mae_eV_per_atom"] + f1["force_mae_eV_per_A"] < f0["energy_mae_eV_per_atom"] + f0["force_mae_eV_per_A"]


def test_sevenn_backend_reads_the_chosen_multi_fidelity_channel():
    _sevenn()
    from sevenn.calculator import SevenNetCalculator

    from descriptors.workflows.finetune import trainer_backend

    b = trainer_backend("sevenn")
    fit, _ = _ads_frames()
    frames = fit[:2] + fit[-1:]
    path = str(ml.shipped_checkpoint("sevenn", "7net-MF-0"))
    got = {}
    for modal in ("PBE", "R2SCAN"):
        e = b.energies(b.load(f"7net-MF-0@{modal}"), frames)
        calc = SevenNetCalculator(model=path, device="cpu", modal=modal)  # sevenn's own reading, one by one
        ref = [calc.get_potential_energy(a.copy()) for a in frames]
        assert e == pytest.approx(ref, abs=2e-4)
        got[modal] = e
    assert abs(got["PBE"][0] - got["R2SCAN"][0]) > 0.1  # the channel matters
    assert b.base_id({"model": "7net-MF-0", "modal": "PBE"}) == "7net-MF-0@PBE"
    assert b.base_id({"model": "7net-0", "modal": None}) == "7net-0"


def test_sevenn_artefact_calculator_identity_and_one_line_errors(tmp_path, monkeypatch):
    _sevenn()
    from ase.io import write

    import descriptors.workflows.finetune as wf
    from descriptors.calculators import make_calculator
    from descriptors.workflows.finetune_data import TrainingSet

    fit, _ = _ads_frames()
    write(tmp_path / "train.extxyz", fit[:3], format="extxyz")
    (tmp_path / "validation.extxyz").write_text("")
    ts = TrainingSet("h", ["Cu(111)"], [], 3, 0, "cd" * 32,
                     {"train": str(tmp_path / "train.extxyz"), "validation": str(tmp_path / "validation.extxyz")})
    ft = FinetuneSpec(epochs=1, early_stop_fraction=0.0, train=["Cu(111)"], learning_rate=2e-3)
    d = tmp_path / "models"
    h, man = wf.ensure_model(ts, ft, "7net-0", d, lambda m: None, calculator="sevenn")
    assert sorted(p.name for p in d.iterdir()) == [h]  # nothing else left behind (written, then renamed)
    assert man["calculator"] == "sevennet-ft" and man["family"] == "sevenn" and man["base_model"] == "7net-0"
    assert man["versions"]["sevenn"] and man["training_set"]["sha256"] == "cd" * 32
    assert set(man["element_shifts_eV"]) == {"Cu", "H", "O"} and man["best_epoch"] == 1  # no early stop: the last
    assert "early_stop" not in man["errors_after"] and len(man["history"]) == 1
    assert man["errors_before"]["fit"]["frames"] == 3 and "errors_after" in man
    assert load_artefact(d, h, "sevennet-ft")["hash"] == h == content_hash(d / h / "weights.pt", "7net-0", "sevenn",
                                                                             man["key"])
    # the same training data and settings: reused, not retrained; other settings: another model
    monkeypatch.setattr(wf, "train_model", lambda *a, **k: pytest.fail("retrained"))
    assert wf.ensure_model(ts, ft, "7net-0", d, lambda m: None, calculator="sevenn")[0] == h
    assert wf.train_key(ts, "7net-0", ft, "sevenn") != wf.train_key(ts, "7net-0", ft, "chgnet")
    assert wf.train_key(ts, "7net-0", ft, "sevenn") != wf.train_key(ts, "7net-MF-0@PBE", ft, "sevenn")
    # the calculator: identity = the model hash (not where it lives), its energies are the trained model's
    s = wf.finetuned_setting(h, d, "sevennet-ft")
    assert s.hash == CalculatorSetting("sevennet-ft", {"model": h, "models_dir": "/elsewhere"}).hash
    assert s.hash != CalculatorSetting("chgnet-ft", {"model": h, "models_dir": str(d)}).hash
    a = fit[0].copy()
    a.calc = make_calculator(s)
    e_ft = a.get_potential_energy()
    b = wf.trainer_backend("sevenn")
    base_model = b.load("7net-0")
    assert abs(e_ft - b.energies(base_model, [fit[0]])[0]) > 1e-3  # not the base model
    import torch

    base_model.load_state_dict(torch.load(d / h / "weights.pt", weights_only=True))
    assert e_ft == pytest.approx(b.energies(base_model, [fit[0]])[0], abs=1e-4)
    assert isinstance(e_ft, float) and a.get_forces().dtype == np.float64
    # a SevenNet model named as CHGNet's, then altered, then missing: one line each
    with pytest.raises(CalculatorUnavailableError, match="is a 'sevennet-ft' model") as e:
        make_calculator(CalculatorSetting("chgnet-ft", {"model": h, "models_dir": str(d)}))
    assert "\n" not in str(e.value)
    w = d / h / "weights.pt"
    w.write_bytes(w.read_bytes() + b"\0")
    with pytest.raises(CalculatorUnavailableError, match="altered"):
        make_calculator(CalculatorSetting("sevennet-ft", {"model": h, "models_dir": str(d)}))
    shutil.rmtree(d / h)
    with pytest.raises(CalculatorUnavailableError, match="not found"):
        make_calculator(CalculatorSetting("sevennet-ft", {"model": h, "models_dir": str(d)}))
