"""Fine-tuned ML potentials (``no3rr finetune``) as calculators of their own: the shared part.

A fine-tuned model is an artefact on disk, ``<models_dir>/<hash>/`` (written by
workflows/finetune.py): ``weights.pt`` (the model's state dict) and ``model.json`` (family, base
model, training-set hash, the catalysts trained on, errors, versions).  ``hash`` is the SHA-256 of
the weights and of the family and base model (:func:`content_hash`); it is the calculator's
identity parameter, so every job computed with the model names exactly these weights and a store
resumes exactly.  ``models_dir`` says where the artefacts are on this machine and is not part of
the identity (a moved output directory keeps its job ids).  A missing, altered or foreign
artefact is a one-line error.

Each ML family is one module of this folder that registers its fine-tuned calculator with
:func:`register_finetuned` (chgnet_ft.py: ``chgnet-ft``, sevennet_ft.py: ``sevennet-ft``);
:data:`FINETUNABLE` maps the cheap calculator to it (spec validation reads it).

Energies are those of the fine-tuned model: the training targets were the expensive level's
energies minus a per-element constant fitted against the base model (workflows/finetune.py), so
totals stay on the base model's scale and adsorption energies (composition-balanced) are
unaffected by the constants.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from descriptors.calculators import base
from descriptors.calculators.base import (
    CalculatorInfo,
    CalculatorUnavailableError,
    register,
)
from descriptors.calculators.ml import (
    ML_INSTALL,
    MPTRJ_ELEMENTS,
    _offline,
    _torch_threads,
)

__all__ = ["content_hash", "load_artefact", "register_finetuned", "FINETUNABLE", "WEIGHTS", "MANIFEST",
           "FT_INSTALL"]

WEIGHTS = "weights.pt"
MANIFEST = "model.json"
FT_INSTALL = "run `no3rr finetune SPEC` to make it (a fine-tuned model is an artefact of its screen)"

#: cheap calculator name -> the calculator its fine-tuned models become (filled by register_finetuned)
FINETUNABLE: dict[str, str] = {}


def content_hash(weights: Path, base_model: str, family: str = "chgnet", key: str | None = None) -> str:
    """16 hex characters of the SHA-256 of the weights file, the family, the base model's name and
    (artefacts written since 2026-12-02) the training key: two training sets whose early stopping both
    kept the base weights (epoch 0) are two artefacts, each with its own training catalysts."""
    h = hashlib.sha256(Path(weights).read_bytes())
    h.update(f"{family}:{base_model}".encode())
    if key is not None:
        h.update(f":{key}".encode())
    return h.hexdigest()[:16]


def load_artefact(models_dir: str | Path, model_hash: str, calculator: str | None = None) -> dict[str, Any]:
    """The manifest of artefact ``model_hash``, after checking that its weights are the ones hashed
    (and, given ``calculator``, that the artefact was made for it)."""
    d = Path(models_dir) / model_hash
    if not (d / MANIFEST).is_file() or not (d / WEIGHTS).is_file():
        raise CalculatorUnavailableError(
            f"calculator.params.model: fine-tuned model {model_hash} not found in {d.parent} "
            f"(need {MANIFEST} and {WEIGHTS}); {FT_INSTALL}, or give models_dir where it is")
    manifest = json.loads((d / MANIFEST).read_text())
    made_for = manifest.get("calculator", "chgnet-ft")  # artefacts from before SevenNet: CHGNet
    if calculator is not None and made_for != calculator:
        raise CalculatorUnavailableError(
            f"calculator.name: fine-tuned model {model_hash} in {d} is a {made_for!r} model, not {calculator!r}; "
            f"set calculator.name = '{made_for}'")
    got = content_hash(d / WEIGHTS, manifest.get("base_model", ""), manifest.get("family", "chgnet"),
                       manifest.get("key") if manifest.get("hash_includes_key") else None)
    if got != model_hash:
        raise CalculatorUnavailableError(
            f"calculator.params.model: fine-tuned model {model_hash} in {d} was altered (its weights hash to "
            f"{got}); delete {d} and run `no3rr finetune SPEC` again")
    return manifest


def _validate(p: dict[str, Any]) -> None:
    m = p.get("model")
    if m is None:
        raise ValueError("calculator.params.model: give the fine-tuned model's hash (`no3rr finetune` prints it; "
                         "the artefacts are in OUT/models/<hash>/)")
    if not p.get("models_dir"):
        raise ValueError("calculator.params.models_dir: give the directory holding the fine-tuned models, "
                         "e.g. 'results/my-screen/models'")
    if not (isinstance(m, str) and len(m) == 16 and all(c in "0123456789abcdefx" for c in m)):
        raise ValueError(f"calculator.params.model: {m!r} is not a fine-tuned model hash (16 hex characters, "
                         "as `no3rr finetune` prints)")


def register_finetuned(name: str, finetunes: str, label: str, package: str,
                       load: Callable[[dict[str, Any], Path], Callable[[], Any]]) -> None:
    """Register ``name``, the fine-tuned form of the cheap calculator ``finetunes``.  ``load(manifest,
    weights)`` loads the model of an artefact already checked by :func:`load_artefact` (once per
    artefact and process) and returns a function that makes a new ASE calculator around it."""
    cache: dict[tuple[str, str], Any] = {}

    def factory(params: dict[str, Any], atoms=None):
        if not params.get("model"):
            raise CalculatorUnavailableError("calculator.params.model: give the fine-tuned model's hash; " + FT_INSTALL)
        if not params.get("models_dir"):
            raise CalculatorUnavailableError("calculator.params.models_dir: give the directory holding the "
                                             "fine-tuned models (OUT/models)")
        _offline()
        _torch_threads()
        manifest = load_artefact(params["models_dir"], params["model"], name)
        key = (str(Path(params["models_dir"]).resolve()), params["model"])
        if key not in cache:
            cache[key] = load(manifest, Path(params["models_dir"]) / params["model"] / WEIGHTS)
        return cache[key]()

    def missing() -> str | None:
        for mod in ("torch", package):
            if not base.has_module(mod):
                return f"python package {mod!r} not installed; {ML_INSTALL}"
        return None

    FINETUNABLE[finetunes] = name
    register(CalculatorInfo(
        name=name,
        description=f"{label} fine-tuned on the screen's own expensive level (no3rr finetune)",
        elements=MPTRJ_ELEMENTS,
        defaults={"model": None, "models_dir": None},
        allowed=frozenset({"model", "models_dir"}),
        package=package,
        factory=factory,
        fidelity="ml",
        note=f"{label} fine-tuned on this screen's expensive level: trusted only on catalysts like those it "
             "was trained on; its error is reported on catalysts it never saw (no3rr fidelity).",
        install=FT_INSTALL,
        local=frozenset({"models_dir"}),
        validate=_validate,
        missing=missing,
        required=True,
    ))
