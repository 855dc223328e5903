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


def test_finetune_end_to_end_reuses_model_and_store(tmp_path, capsys, monkeypatch):
    _chgnet()
    import descriptors.workflows.finetune as wf
    from descriptors.analysis.fidelity import fidelity_report, level_rows
    from descriptors.store.db import Store

    (tmp_path / "spec.toml").write_text(SPEC)
    real = wf.train_chgnet

    def killed(*a, **k):  # training cut short: nothing may be stored as a model
        raise KeyboardInterrupt

    monkeypatch.setattr(wf, "train_chgnet", killed)
    code, _ = _run(tmp_path, capsys)
    assert code == 130
    assert not any((tmp_path / "out" / "models").glob("*/model.json"))
    monkeypatch.setattr(wf, "train_chgnet", real)
    code, cap = _run(tmp_path, capsys)
    assert code == 0, cap.err
    models = list((tmp_path / "out" / "models").glob("*/model.json"))
    assert len(models) == 1
    man = json.loads(models[0].read_text())
    h = models[0].parent.name
    assert man["hash"] == h and man["trained_on"] == ["Ag(111)"] and man["early_stop_on"] == ["Au(111)"]
    assert man["training_set"]["sha256"] and man["versions"]["chgnet"]
    assert f"fine-tuned model {h}" in cap.out

    # a re-run: the same data gives the same model, reused, and no job is computed again
    calls = []
    monkeypatch.setattr(wf, "train_chgnet", lambda *a, **k: calls.append(1))
    from descriptors.workflows.screen import run_screen

    spec = parse_spec(__import__("tomllib").loads(SPEC))
    res = run_screen(spec, out=tmp_path / "out", workers=1, progress=False, quiet=True, finetune=True)
    assert not calls and res.finetune["model"] == h and res.stats["computed"] == 0

    # the fine-tuned level carries the hash in its identity and never reports on its training catalysts
    store = Store(tmp_path / "out" / "screen.db")
    ft_rows = [r for r in store.select(calc="chgnet-ft") if r.get("kind") != "gas"]
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
    monkeypatch.setattr(wf, "train_chgnet", real)
    res = run_screen(spec, out=tmp_path / "out", workers=1, progress=False, quiet=True, finetune=True)
    assert res.finetune["model"] == h and res.stats["computed"] == 0


@pytest.mark.parametrize("edit, msg", [
    (lambda s: s.split("[finetune]")[0], "no [finetune] table"),
    (lambda s: s.replace('calculator = { name = "emt" }', 'calculator = { name = "emt" }').replace(
        "[verify]\ncalculator = { name = \"emt\" }\ntop_k = 1\nall = true\n", ""), "needs a [verify] table"),
    (lambda s: s.replace('[calculator]\nname = "chgnet"', '[calculator]\nname = "sevenn"'), "not yet"),
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
    monkeypatch.setattr(wf, "train_chgnet", lambda *a, **k: pytest.fail("retrained"))
    assert wf.ensure_model(ts, ft, "0.3.0", tmp_path / "models", lambda m: None)[0] == h
    # other settings are another model
    with pytest.raises(BaseException, match="retrained"):
        wf.ensure_model(ts, ft.model_copy(update={"epochs": 2}), "0.3.0", tmp_path / "models", lambda m: None)
