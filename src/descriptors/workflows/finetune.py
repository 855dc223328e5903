"""Fine-tune the cheap ML potential on the screen's expensive level, then re-rank with it.

``no3rr finetune SPEC`` (``[finetune]``, specs/finetune.py) runs the screen (stored jobs are
reused) with its ``[verify]`` level on the *training* catalysts only, then:

1. the training set (workflows/finetune_data.py): every labelled frame of the expensive level on
   the training catalysts (plus its gas references), split by catalyst into a fitting part and a
   part held out for early stopping, with its SHA-256;
2. per-element reference shifts: the expensive level's total energies differ from the ML's by
   per-element constants (other Hamiltonians, pseudopotentials, reference states).  They are fitted
   by linear least squares on composition, ``E_exp - E_ml ~ sum_Z n_Z d_Z``, over the training
   frames, and the model is trained on ``E_exp - sum_Z n_Z d_Z``: it learns the physics, not the
   constants, and adsorption energies (composition-balanced) do not depend on them;
3. training with CHGNet's own trainer (``chgnet.trainer.Trainer``: its per-epoch training and
   validation passes; Adam, cosine learning rate, energy per atom and forces, composition model
   frozen), on CPU with one thread, seeded.  Early stopping: after every epoch the adsorption
   energies of the held-out training catalysts are computed with the model (against its own gas
   references, so the element constants cancel) and compared with the expensive level's; the epoch
   with the lowest MAE is kept -- the base model (epoch 0) included, so fine-tuning never makes the
   held-out error worse -- and training stops after ``patience`` epochs without improvement.  With
   ``early_stop_fraction = 0`` every epoch runs and the last one is kept;
4. the artefact ``OUT/models/<hash>/`` (calculators/finetuned.py): weights, and ``model.json``
   with the training-set hash, the catalysts trained on and held out, the errors before and after
   and the versions.  Its key (training-set hash + base model + training settings) makes a re-run
   reuse it: the same data never trains twice.  It is written to a temporary directory and renamed,
   so a killed training leaves nothing half-written;
5. the fine-tuned level (calculator ``chgnet-ft`` with the artefact's hash) scores every placement
   of the remaining catalysts (``mode``: single point on the cheap geometry, or relaxed from it),
   and the expensive level runs on its ``top_k`` per (catalyst, adsorbate) -- both through
   workflows/verify.py.  With ``verify.all`` every placement also runs at the expensive level, to
   measure the success rate.

SevenNet is not fine-tuned yet (spec validation says so).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from descriptors.calculators.base import CalculatorSetting
from descriptors.calculators.finetuned import (
    MANIFEST,
    WEIGHTS,
    content_hash,
    load_artefact,
)
from descriptors.identity import settings_digest
from descriptors.specs import CalculatorSpec, FinetuneSpec, VerifySpec
from descriptors.specs.finetune import FINETUNE_BACKENDS
from descriptors.workflows.finetune_data import (
    TrainingSet,
    frozen_layers,
    path_frames,
    write_training_set,
)
from descriptors.workflows.verify import VerifyResult, run_verify

__all__ = ["train_key", "find_model", "train_chgnet", "ensure_model", "finetuned_setting", "run_finetune",
           "element_shifts", "MODELS_DIR", "FT_LEVEL"]

MODELS_DIR = "models"
FT_LEVEL = "finetuned"
_TRAIN_PARAMS = ("epochs", "patience", "learning_rate", "batch_size", "force_weight", "seed",
                 "early_stop_fraction")


def train_key(ts: TrainingSet, base_model: str, ft: FinetuneSpec) -> str:
    """What decides the trained weights: the training set's hash, the base model, the settings."""
    from descriptors.calculators.base import _version

    train = {k: getattr(ft, k) for k in _TRAIN_PARAMS}
    if getattr(ft, "freeze", "none") != "none":  # in the key only when used: older models keep theirs
        train["freeze"] = ft.freeze
    return settings_digest({"training_set": ts.sha256, "base_model": base_model, "chgnet": _version("chgnet"),
                            "train": train})


def find_model(models_dir: Path, key: str) -> str | None:
    """Hash of a stored artefact trained with ``key`` (checked intact), or None."""
    if not models_dir.is_dir():
        return None
    for m in sorted(models_dir.glob(f"*/{MANIFEST}")):
        if m.parent.name.startswith("."):  # a model being written (or left by a kill mid-write)
            continue
        try:
            man = json.loads(m.read_text())
        except (OSError, ValueError):
            continue
        if man.get("key") == key:
            load_artefact(models_dir, m.parent.name)  # one clear line if its weights were altered
            return m.parent.name
    return None


def element_shifts(frames, ml_energies) -> dict[str, float]:
    """Per-element constants d_Z minimising |E_exp - E_ml - sum_Z n_Z d_Z| (least squares; the
    minimum-norm solution where compositions do not separate two elements)."""
    els = sorted({s for a in frames for s in a.get_chemical_symbols()})
    A = np.array([[a.get_chemical_symbols().count(e) for e in els] for a in frames], dtype=float)
    y = np.array([a.get_potential_energy() for a in frames]) - np.asarray(ml_energies, dtype=float)
    d, *_ = np.linalg.lstsq(A, y, rcond=None)
    return {e: float(v) for e, v in zip(els, d)}


def _shift(a, shifts: dict[str, float]) -> float:
    return sum(shifts.get(s, 0.0) for s in a.get_chemical_symbols())


def _dataset(frames, shifts):
    from chgnet.data.dataset import StructureData
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [AseAtomsAdaptor.get_structure(a) for a in frames]
    e = [(a.get_potential_energy() - _shift(a, shifts)) / len(a) for a in frames]  # CHGNet: eV/atom
    f = [a.get_forces(apply_constraint=False).tolist() for a in frames]
    with contextlib.redirect_stdout(io.StringIO()):
        return StructureData(structures=structures, energies=e, forces=f)


def _errors(model, frames, shifts) -> dict[str, float]:
    """MAE of energy (eV/atom and eV per structure) and forces (eV/A) on labelled ``frames``."""
    from pymatgen.io.ase import AseAtomsAdaptor

    model.eval()
    de, dea, df = [], [], []
    for a in frames:
        with contextlib.redirect_stdout(io.StringIO()):
            p = model.predict_structure(AseAtomsAdaptor.get_structure(a), task="ef")
        ref = a.get_potential_energy() - _shift(a, shifts)
        de.append(abs(float(p["e"]) * len(a) - ref))
        dea.append(de[-1] / len(a))
        df.append(np.abs(np.asarray(p["f"]) - a.get_forces(apply_constraint=False)).mean())
    return {"energy_mae_eV": float(np.mean(de)), "energy_mae_eV_per_atom": float(np.mean(dea)),
            "force_mae_eV_per_A": float(np.mean(df)), "frames": len(frames)}


def _predict(model, frames) -> list[float]:
    """The model's total energies of ``frames`` (eV)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    model.eval()
    with contextlib.redirect_stdout(io.StringIO()):
        preds = model.predict_structure([AseAtomsAdaptor.get_structure(a) for a in frames], task="e",
                                        batch_size=16)
    preds = preds if isinstance(preds, list) else [preds]
    return [float(p["e"]) * len(a) for p, a in zip(preds, frames)]


def adsorption_set(frames) -> list[tuple[int, int, dict[str, int]]]:
    """(adsorbate frame, clean frame, adsorbate atoms) for every adsorbate job of ``frames`` (its
    last frame: the minimum of a relaxation, or the single point) whose catalyst has a clean frame."""
    from collections import Counter

    last: dict[str, int] = {}
    for i, a in enumerate(frames):
        last[str(a.info.get("job_id"))] = i
    clean = {frames[i].info.get("catalyst"): i for i in last.values() if frames[i].info.get("kind") == "clean"}
    out = []
    for i in sorted(last.values()):
        a = frames[i]
        if a.info.get("kind") != "adsorbate" or a.info.get("catalyst") not in clean:
            continue
        c = frames[clean[a.info["catalyst"]]]
        n = Counter(a.get_chemical_symbols())
        n.subtract(Counter(c.get_chemical_symbols()))
        counts = {k: v for k, v in n.items() if v}
        if set(counts) <= {"H", "N", "O"} and all(v > 0 for v in counts.values()):
            out.append((i, clean[a.info["catalyst"]], counts))
    return out


def _gas_index(gas_frames) -> dict[str, int]:
    from collections import Counter

    want = {"H2": Counter(H=2), "H2O": Counter(H=2, O=1), "NH3": Counter(N=1, H=3)}
    last: dict[str, int] = {}
    for i, a in enumerate(gas_frames):
        if a.info.get("kind") == "gas":
            last[str(a.info.get("job_id"))] = i
    out = {}
    for i in last.values():
        comp = Counter(gas_frames[i].get_chemical_symbols())
        for name, c in want.items():
            if comp == c:
                out[name] = i
    return out


def adsorption_mae(energies: list[float], frames_pairs, gas_energies: dict[str, float]) -> float | None:
    """MAE of the adsorption energies from ``energies`` (one per frame) against the labels, both in
    the convention of convention.py (atomic references from H2, H2O, NH3)."""
    from descriptors.convention import atomic_potentials

    frames, pairs = frames_pairs
    if not pairs or len(gas_energies) < 3:
        return None
    label_gas = {k: v[0] for k, v in gas_energies.items()}
    model_gas = {k: v[1] for k, v in gas_energies.items()}
    mu_l, mu_m = atomic_potentials(label_gas), atomic_potentials(model_gas)
    err = []
    for i, j, n in pairs:
        el = frames[i].get_potential_energy() - frames[j].get_potential_energy() - sum(v * mu_l[k] for k, v in n.items())
        em = energies[i] - energies[j] - sum(v * mu_m[k] for k, v in n.items())
        err.append(abs(em - el))
    return float(np.mean(err))


def _ads_error(model, frames, pairs, gas_frames, gas_idx) -> float | None:
    if not pairs or len(gas_idx) < 3:
        return None
    names = sorted(gas_idx)
    e = _predict(model, list(frames) + [gas_frames[gas_idx[k]] for k in names])
    gas = {k: (gas_frames[gas_idx[k]].get_potential_energy(), e[len(frames) + m]) for m, k in enumerate(names)}
    return adsorption_mae(e[:len(frames)], (frames, pairs), gas)


def train_chgnet(fit, early, ft: FinetuneSpec, base_model: str, log: Callable[[str], None]) -> tuple[Any, dict]:
    """Fine-tune CHGNet ``base_model`` on the labelled frames ``fit`` with early stopping on
    ``early``; return (model, record of shifts, errors and history)."""
    import torch
    from chgnet.data.dataset import get_loader  # shuffles (seeded by the Trainer)
    from chgnet.model import CHGNet
    from chgnet.trainer import Trainer

    from descriptors.calculators.ml import _offline, shipped_checkpoint

    _offline()
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS") or 1)))
    import random

    random.seed(ft.seed)  # StructureData shuffles with random, the loaders with torch: seeded, the same
    np.random.seed(ft.seed)  # data trains into the same weights (one thread, CPU)
    torch.manual_seed(ft.seed)
    with contextlib.redirect_stdout(io.StringIO()):
        model = CHGNet.from_file(str(shipped_checkpoint("chgnet", base_model)),
                                 mlp_out_bias=base_model == "0.2.0", version=base_model)
    ml = []
    for a in list(fit) + list(early):
        from pymatgen.io.ase import AseAtomsAdaptor

        with contextlib.redirect_stdout(io.StringIO()):
            ml.append(float(model.predict_structure(AseAtomsAdaptor.get_structure(a), task="e")["e"]) * len(a))
    shifts = element_shifts(list(fit) + list(early), ml)  # both parts are training catalysts
    pairs, gas_idx = adsorption_set(early), _gas_index(fit)

    def ads_err():
        return _ads_error(model, early, pairs, fit, gas_idx)

    def errors() -> dict[str, Any]:
        e = {"fit": _errors(model, fit, shifts)}
        if early:
            e["early_stop"] = _errors(model, early, shifts)
            e["early_stop"]["e_ads_mae_eV"] = ads_err()
        return e

    def line(e: dict[str, Any]) -> str:
        part = e.get("early_stop") or e["fit"]
        return (f"{'early-stop' if early else 'fit'} MAE {part['energy_mae_eV']:.3f} eV/structure, forces "
                f"{part['force_mae_eV_per_A']:.3f} eV/A" + (f", E_ads {part['e_ads_mae_eV']:.3f} eV ({len(pairs)} "
                                                            "placements)" if part.get("e_ads_mae_eV") is not None else ""))

    before = errors()
    log(f"finetune: before training, {line(before)}")
    fit_loader = get_loader(_dataset(fit, shifts), batch_size=ft.batch_size, num_workers=0, pin_memory=False)
    early_loader = (get_loader(_dataset(early, shifts), batch_size=ft.batch_size, num_workers=0, pin_memory=False)
                    if early else None)
    for p in model.composition_model.parameters():  # the shifts took the constants: AtomRef stays
        p.requires_grad = False
    for layer in frozen_layers(model, getattr(ft, "freeze", "none")):
        for p in layer.parameters():
            p.requires_grad = False
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = Trainer(model=model, targets="ef", energy_loss_ratio=1.0, force_loss_ratio=ft.force_weight,
                          optimizer="Adam", scheduler="CosLR", criterion="MSE", epochs=ft.epochs,
                          learning_rate=ft.learning_rate, use_device="cpu", torch_seed=ft.seed,
                          data_seed=ft.seed, print_freq=10**9)
    # early stopping on the adsorption energies of the held-out training catalysts when they have
    # any (what a screen ranks by), else on their energy per atom; the base model (epoch 0) competes.
    # Without held-out catalysts (early_stop_fraction = 0) every epoch runs and the last is kept.
    best, best_epoch, history = None, 0, []
    if early:
        s0 = before["early_stop"]["e_ads_mae_eV"]
        best = (s0 if s0 is not None else before["early_stop"]["energy_mae_eV_per_atom"], copy.deepcopy(model.state_dict()))
    for epoch in range(ft.epochs):
        with contextlib.redirect_stdout(io.StringIO()):
            tr = trainer._train(fit_loader, epoch)
            va = trainer._validate(early_loader, is_test=False) if early else {}
        h = {"epoch": epoch + 1, "fit_e": float(tr["e"]), "fit_f": float(tr["f"])}
        msg = f"finetune: epoch {epoch + 1}/{ft.epochs}: fit MAE {1e3 * tr['e']:.1f} meV/atom, {tr['f']:.3f} eV/A"
        if early:
            ads = ads_err()
            sc = ads if ads is not None else float(va["e"])
            h.update(early_e=float(va["e"]), early_f=float(va["f"]), early_e_ads=ads)
            msg += f"; early-stop {1e3 * va['e']:.1f} meV/atom, {va['f']:.3f} eV/A" + (
                f", E_ads {ads:.3f} eV" if ads is not None else "")
        history.append(h)
        log(msg)
        if not early:
            best_epoch = epoch + 1
        elif sc < best[0]:
            best, best_epoch = (sc, copy.deepcopy(model.state_dict())), epoch + 1
        elif epoch + 1 - best_epoch >= ft.patience:
            log(f"finetune: early stop after epoch {epoch + 1} (best {best_epoch})")
            break
    if best is not None:
        model.load_state_dict(best[1])
    after = errors()
    log(f"finetune: kept epoch {best_epoch}: {line(after)}")
    return model, {"element_shifts_eV": shifts, "errors_before": before, "errors_after": after,
                   "best_epoch": best_epoch, "history": history}


def ensure_model(ts: TrainingSet, ft: FinetuneSpec, base_model: str, models_dir: Path,
                 log: Callable[[str], None]) -> tuple[str, dict]:
    """The artefact for ``ts`` and ``ft``: reused when stored (no retraining), else trained and
    written atomically.  Returns (hash, manifest)."""
    from ase.io import read

    from descriptors.calculators.base import _version

    key = train_key(ts, base_model, ft)
    found = find_model(models_dir, key)
    if found:
        log(f"finetune: model {found} reused (training set {ts.sha256[:12]}, nothing retrained)")
        return found, load_artefact(models_dir, found)
    fit = read(ts.files["train"], index=":")
    early = read(ts.files["validation"], index=":") if ts.n_validation else []
    log(f"finetune: training CHGNet {base_model} on {len(fit)} frames of {', '.join(ts.train_catalysts)} "
        + (f"(+ gas), early stop on {len(early)} frames of {', '.join(ts.validation_catalysts)}" if early
           else f"(+ gas), {ft.epochs} epochs, no early stopping"))
    model, record = train_chgnet(fit, early, ft, base_model, log)
    import torch

    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(model.state_dict(), tmp / WEIGHTS)
    h = content_hash(tmp / WEIGHTS, base_model)
    manifest = {"hash": h, "key": key, "base_model": base_model, "calculator": "chgnet-ft",
                "training_set": {**asdict(ts), "files": {k: Path(v).name for k, v in ts.files.items()}},
                "trained_on": ts.train_catalysts, "early_stop_on": ts.validation_catalysts,
                "settings": ft.model_dump(), **record,
                "energy_reference": "trained on E_expensive - sum_Z n_Z d_Z (element_shifts_eV, least squares "
                                    "against the base model); totals on the base model's scale",
                "versions": {d: _version(d) for d in ("chgnet", "torch", "no3rr-descriptors", "ase")}}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    final = models_dir / h
    if final.exists():  # the same weights already stored (a concurrent or earlier identical run)
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, final)
    log(f"finetune: model {h} written to {final}")
    return h, manifest


def finetuned_setting(model_hash: str, models_dir: Path) -> CalculatorSetting:
    return CalculatorSetting("chgnet-ft", {"model": model_hash, "models_dir": str(Path(models_dir).resolve())})


def run_finetune(spec, store, out: Path, clean_jobs, ads_jobs, ideal: dict, make_engine,
                 train: list[str], rest: list[str], log: Callable[[str], None]) -> dict[str, Any]:
    """Steps 1-5 of the module doc after the verify level ran on the ``train`` catalysts."""
    ft = spec.finetune
    if spec.calculator.name not in FINETUNE_BACKENDS:
        raise ValueError(f"finetune: calculator {spec.calculator.name!r} cannot be fine-tuned yet")
    base_model = spec.calculator.setting().params["model"]
    fdir = Path(out) / "finetune"
    vsetting = spec.verify.calculator.setting()
    extra = path_frames(store, Path(out) / "trajectories", spec.calculator.setting().hash, vsetting, train,
                        getattr(ft, "path_every", 0), fdir / "path_labels", spec.execution.workers, log)
    ts = write_training_set(store, fdir / "data", Path(out) / "trajectories", ft.early_stop_fraction,
                            calc_hash=vsetting.hash, catalysts=train, extra=extra)
    log(f"finetune: training set {ts.sha256[:12]}: {ts.n_train} frames to fit, {ts.n_validation} for early stopping")
    models_dir = Path(out) / MODELS_DIR
    h, manifest = ensure_model(ts, ft, base_model, models_dir, log)
    setting = finetuned_setting(h, models_dir)
    in_rest = [j for j in clean_jobs if j.meta["catalyst"] in rest]
    rest_ads = [j for j in ads_jobs if j.meta["catalyst"] in rest]
    meta = {"ft_model_hash": h, "ft_train": ",".join(manifest["trained_on"] + manifest["early_stop_on"])}
    # the fine-tuned level: every placement of the remaining catalysts
    ft_spec = spec.model_copy(update={"verify": VerifySpec(
        calculator=CalculatorSpec(name=setting.name, params=dict(setting.params)), top_k=1, mode=ft.mode,
        all=True, relax=spec.relax if ft.mode == "relax" else None)})
    (fdir / "level").mkdir(parents=True, exist_ok=True)
    lvl: VerifyResult = run_verify(ft_spec, store, fdir / "level", in_rest, rest_ads, ideal, make_engine,
                                   log=lambda m: log(m.replace("verify:", "fine-tuned:").replace("expensive ", "")), level=FT_LEVEL, meta=meta)
    # the expensive level on the fine-tuned top-k
    v = spec.verify
    ex_spec = spec.model_copy(update={"verify": v.model_copy(update={
        "top_k": ft.top_k or v.top_k, "within": ft.within if getattr(ft, "within", None) is not None else v.within,
        "mode": getattr(ft, "verify_mode", None) or v.mode})})
    fclean = lvl.jobs["clean"]
    fideal = {j.id: ideal[j.parent] for j in fclean}
    fads = [type(j)(j.kind, j.recipe, j.meta, j.atoms, parent=j.meta["clean_job"], label=j.label)
            for j in lvl.jobs["adsorbate"]]
    ver = run_verify(ex_spec, store, fdir, fclean, fads, fideal, make_engine, log=log)
    summary = {"model": h, "models_dir": str(models_dir), "calculator": setting.as_dict(),
               "trained_on": manifest["trained_on"], "early_stop_on": manifest["early_stop_on"], "re_ranked": rest,
               "training_set_sha256": ts.sha256, "errors_before": manifest["errors_before"],
               "errors_after": manifest["errors_after"], "best_epoch": manifest["best_epoch"],
               "element_shifts_eV": manifest["element_shifts_eV"], "mode": ft.mode,
               "finetuned_level": {k: lvl.summary[k] for k in ("pairs", "placements", "skipped")},
               "verify": ver.summary, "skipped": lvl.skipped + ver.skipped}
    (fdir / "finetune_summary.json").write_text(json.dumps(summary, indent=2, default=str))
    summary["stats"] = {k: lvl.stats[k] + ver.stats[k] for k in ("computed", "reused", "failed", "failed_reused")}
    return summary
