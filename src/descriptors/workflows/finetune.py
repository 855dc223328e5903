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
3. training with the ML family's own training code, one module per family (:data:`TRAINERS`):
   CHGNet's ``chgnet.trainer.Trainer`` (workflows/finetune_chgnet.py) or SevenNet's
   ``sevenn.train.trainer.Trainer`` (workflows/finetune_sevenn.py), continuing from the shipped
   checkpoint the cheap level names (for SevenNet's multi-fidelity checkpoints, its channel);
   Adam, cosine learning rate, MSE on energy per atom and forces, the per-element energy
   references of the model fixed; on CPU with one thread, seeded.  Early stopping: after every
   epoch the adsorption energies of the held-out training catalysts are computed with the model
   (against its own gas references, so the element constants cancel) and compared with the
   expensive level's; the epoch with the lowest MAE is kept -- the base model (epoch 0) included,
   so fine-tuning never makes the held-out error worse -- and training stops after ``patience``
   epochs without improvement.  With ``early_stop_fraction = 0`` every epoch runs and the last
   one is kept;
4. the artefact ``OUT/models/<hash>/`` (calculators/finetuned.py): weights, and ``model.json``
   with the family, base model, training-set hash, the catalysts trained on and held out, the
   element shifts, the errors before and after and the versions.  Its key (training-set hash +
   family and its version + base model + training settings) makes a re-run reuse it: the same
   data never trains twice.  It is written to a temporary directory and renamed, so a killed
   training leaves nothing half-written;
5. the fine-tuned level (calculator ``chgnet-ft`` or ``sevennet-ft`` with the artefact's hash)
   scores every placement of the remaining catalysts (``mode``: single point on the cheap geometry, or relaxed from it),
   and the expensive level runs on its ``top_k`` per (catalyst, adsorbate) -- both through
   workflows/verify.py.  With ``verify.all`` every placement also runs at the expensive level, to
   measure the success rate.
"""

from __future__ import annotations

import copy
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
from descriptors.workflows.finetune_data import (
    TrainingSet,
    path_frames,
    write_training_set,
)
from descriptors.workflows.verify import VerifyResult, run_verify

__all__ = ["train_key", "find_model", "train_model", "train_chgnet", "trainer_backend", "ensure_model",
           "finetuned_setting", "run_finetune", "element_shifts", "MODELS_DIR", "FT_LEVEL", "TRAINERS"]

MODELS_DIR = "models"
FT_LEVEL = "finetuned"
#: cheap calculator -> the module that trains its fine-tuned form, one per ML family.  A module
#: gives FAMILY, LABEL, CALCULATOR (the registered fine-tuned calculator, calculators/finetuned.py),
#: VERSIONS, base_id(params), load(base), shift_energies/energies(model, frames), errors(model,
#: frames) and Trainer(model, fit, early, ft).epoch(i); the rest (shifts, early stopping, the
#: artefact, re-ranking) is here and the same for every family.
TRAINERS = {"chgnet": "descriptors.workflows.finetune_chgnet", "sevenn": "descriptors.workflows.finetune_sevenn"}
_TRAIN_PARAMS = ("epochs", "patience", "learning_rate", "batch_size", "force_weight", "seed",
                 "early_stop_fraction")


def train_key(ts: TrainingSet, base_model: str, ft: FinetuneSpec, family: str = "chgnet") -> str:
    """What decides the trained weights: the training set's hash, the family's code version, the
    base model, the settings."""
    from descriptors.calculators.base import _version

    train = {k: getattr(ft, k) for k in _TRAIN_PARAMS}
    if getattr(ft, "freeze", "none") != "none":  # in the key only when used: older models keep theirs
        train["freeze"] = ft.freeze
    return settings_digest({"training_set": ts.sha256, "base_model": base_model, family: _version(family),
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


def _shifted(frames, shifts) -> list:
    """Copies of ``frames`` labelled with E - sum_Z n_Z d_Z (what the model is trained on)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    out = []
    for a in frames:
        b = a.copy()
        b.calc = SinglePointCalculator(b, energy=a.get_potential_energy() - _shift(a, shifts),
                                       forces=a.get_forces(apply_constraint=False))
        out.append(b)
    return out


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


def _ads_error(backend, model, frames, pairs, gas_frames, gas_idx) -> float | None:
    if not pairs or len(gas_idx) < 3:
        return None
    names = sorted(gas_idx)
    e = backend.energies(model, list(frames) + [gas_frames[gas_idx[k]] for k in names])
    gas = {k: (gas_frames[gas_idx[k]].get_potential_energy(), e[len(frames) + m]) for m, k in enumerate(names)}
    return adsorption_mae(e[:len(frames)], (frames, pairs), gas)


def trainer_backend(calculator: str):
    """The training module of the ML family of cheap calculator ``calculator`` (:data:`TRAINERS`)."""
    import importlib

    if calculator not in TRAINERS:
        raise ValueError(f"finetune: calculator {calculator!r} cannot be fine-tuned; fine-tunable: {sorted(TRAINERS)}")
    return importlib.import_module(TRAINERS[calculator])


def train_model(backend, fit, early, ft: FinetuneSpec, base_model: str,
                log: Callable[[str], None]) -> tuple[Any, dict]:
    """Fine-tune ``base_model`` of ``backend`` (a module of :data:`TRAINERS`) on the labelled frames
    ``fit`` with early stopping on ``early``; return (model, record of shifts, errors and history)."""
    import random

    import torch

    from descriptors.calculators.ml import _offline

    _offline()
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS") or 1)))
    random.seed(ft.seed)  # the data loaders shuffle with random or torch: seeded, the same data
    np.random.seed(ft.seed)  # trains into the same weights (one thread, CPU)
    torch.manual_seed(ft.seed)
    model = backend.load(base_model)
    shifts = element_shifts(list(fit) + list(early), backend.shift_energies(model, list(fit) + list(early)))
    pairs, gas_idx = adsorption_set(early), _gas_index(fit)  # (both parts are training catalysts)
    fit_s, early_s = _shifted(fit, shifts), _shifted(early, shifts)

    def ads_err():
        return _ads_error(backend, model, early, pairs, fit, gas_idx)

    def errors() -> dict[str, Any]:
        e = {"fit": backend.errors(model, fit_s)}
        if early:
            e["early_stop"] = backend.errors(model, early_s)
            e["early_stop"]["e_ads_mae_eV"] = ads_err()
        return e

    def line(e: dict[str, Any]) -> str:
        part = e.get("early_stop") or e["fit"]
        return (f"{'early-stop' if early else 'fit'} MAE {part['energy_mae_eV']:.3f} eV/structure, forces "
                f"{part['force_mae_eV_per_A']:.3f} eV/A" + (f", E_ads {part['e_ads_mae_eV']:.3f} eV ({len(pairs)} "
                                                            "placements)" if part.get("e_ads_mae_eV") is not None else ""))

    before = errors()
    log(f"finetune: before training, {line(before)}")
    trainer = backend.Trainer(model, fit_s, early_s, ft)
    # early stopping on the adsorption energies of the held-out training catalysts when they have
    # any (what a screen ranks by), else on their energy per atom; the base model (epoch 0) competes.
    # Without held-out catalysts (early_stop_fraction = 0) every epoch runs and the last is kept.
    best, best_epoch, history = None, 0, []
    if early:
        s0 = before["early_stop"]["e_ads_mae_eV"]
        best = (s0 if s0 is not None else before["early_stop"]["energy_mae_eV_per_atom"], copy.deepcopy(model.state_dict()))
    for epoch in range(ft.epochs):
        tr, va = trainer.epoch(epoch)
        h = {"epoch": epoch + 1, "fit_e": tr["e"], "fit_f": tr["f"]}
        msg = f"finetune: epoch {epoch + 1}/{ft.epochs}: fit MAE {1e3 * tr['e']:.1f} meV/atom, {tr['f']:.3f} eV/A"
        if early:
            ads = ads_err()
            sc = ads if ads is not None else va["e"]
            h.update(early_e=va["e"], early_f=va["f"], early_e_ads=ads)
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


def train_chgnet(fit, early, ft: FinetuneSpec, base_model: str, log: Callable[[str], None]) -> tuple[Any, dict]:
    """:func:`train_model` with CHGNet (kept for callers from before SevenNet)."""
    return train_model(trainer_backend("chgnet"), fit, early, ft, base_model, log)


def ensure_model(ts: TrainingSet, ft: FinetuneSpec, base_model: str, models_dir: Path,
                 log: Callable[[str], None], calculator: str = "chgnet") -> tuple[str, dict]:
    """The artefact for ``ts`` and ``ft`` fine-tuning ``base_model`` of the cheap level ``calculator``:
    reused when stored (no retraining), else trained and written atomically.  Returns (hash, manifest)."""
    import torch
    from ase.io import read

    from descriptors.calculators.base import _version

    backend = trainer_backend(calculator)
    key = train_key(ts, base_model, ft, backend.FAMILY)
    found = find_model(models_dir, key)
    if found:
        log(f"finetune: model {found} reused (training set {ts.sha256[:12]}, nothing retrained)")
        return found, load_artefact(models_dir, found)
    fit = read(ts.files["train"], index=":")
    early = read(ts.files["validation"], index=":") if ts.n_validation else []
    log(f"finetune: training {backend.LABEL} {base_model} on {len(fit)} frames of {', '.join(ts.train_catalysts)} "
        + (f"(+ gas), early stop on {len(early)} frames of {', '.join(ts.validation_catalysts)}" if early
           else f"(+ gas), {ft.epochs} epochs, no early stopping"))
    model, record = train_model(backend, fit, early, ft, base_model, log)
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(model.state_dict(), tmp / WEIGHTS)
    h = content_hash(tmp / WEIGHTS, base_model, backend.FAMILY, key)
    manifest = {"hash": h, "key": key, "hash_includes_key": True, "family": backend.FAMILY, "base_model": base_model,
                "calculator": backend.CALCULATOR,
                "training_set": {**asdict(ts), "files": {k: Path(v).name for k, v in ts.files.items()}},
                "trained_on": ts.train_catalysts, "early_stop_on": ts.validation_catalysts,
                "settings": ft.model_dump(), **record,
                "energy_reference": "trained on E_expensive - sum_Z n_Z d_Z (element_shifts_eV, least squares "
                                    "against the base model); totals on the base model's scale",
                "versions": {d: _version(d) for d in (*backend.VERSIONS, "no3rr-descriptors", "ase")}}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    final = models_dir / h
    if final.exists():  # the same weights already stored (a concurrent or earlier identical run)
        shutil.rmtree(tmp)
    else:
        os.replace(tmp, final)
    log(f"finetune: model {h} written to {final}")
    return h, manifest


def finetuned_setting(model_hash: str, models_dir: Path, calculator: str = "chgnet-ft") -> CalculatorSetting:
    return CalculatorSetting(calculator, {"model": model_hash, "models_dir": str(Path(models_dir).resolve())})


def run_finetune(spec, store, out: Path, clean_jobs, ads_jobs, ideal: dict, make_engine,
                 train: list[str], rest: list[str], log: Callable[[str], None]) -> dict[str, Any]:
    """Steps 1-5 of the module doc after the verify level ran on the ``train`` catalysts."""
    ft = spec.finetune
    backend = trainer_backend(spec.calculator.name)
    base_model = backend.base_id(spec.calculator.setting().params)
    fdir = Path(out) / "finetune"
    vsetting = spec.verify.calculator.setting()
    extra = path_frames(store, Path(out) / "trajectories", spec.calculator.setting().hash, vsetting, train,
                        getattr(ft, "path_every", 0), fdir / "path_labels", spec.execution.workers, log)
    ts = write_training_set(store, fdir / "data", Path(out) / "trajectories", ft.early_stop_fraction,
                            calc_hash=vsetting.hash, catalysts=train, extra=extra)
    log(f"finetune: training set {ts.sha256[:12]}: {ts.n_train} frames to fit, {ts.n_validation} for early stopping")
    models_dir = Path(out) / MODELS_DIR
    h, manifest = ensure_model(ts, ft, base_model, models_dir, log, spec.calculator.name)
    setting = finetuned_setting(h, models_dir, backend.CALCULATOR)
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
