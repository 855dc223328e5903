"""A fine-tuned ML potential (``no3rr finetune``) as a calculator of its own: ``chgnet-ft``.

The model is an artefact on disk, ``<models_dir>/<hash>/`` (written by workflows/finetune.py):
``weights.pt`` (the CHGNet state dict) and ``model.json`` (base model, training-set hash, the
catalysts trained on, validation errors, versions).  ``hash`` is the SHA-256 of the weights and
of the base model name (:func:`content_hash`); it is the calculator's identity parameter, so
every job computed with the model names exactly these weights and a store resumes exactly.
``models_dir`` says where the artefacts are on this machine and is not part of the identity (a
moved output directory keeps its job ids).  A missing or altered artefact is a one-line error.

Energies are those of the fine-tuned model: the training targets were the expensive level's
energies minus a per-element constant fitted against the base model (workflows/finetune.py), so
totals stay on the base model's scale and adsorption energies (composition-balanced) are
unaffected by the constants.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from descriptors.calculators import base
from descriptors.calculators.base import (
    CalculatorInfo,
    CalculatorUnavailableError,
    register,
)
from descriptors.calculators.ml import (
    ML_INSTALL,
    MPTRJ_ELEMENTS,
    _float64,
    _offline,
    _torch_threads,
    shipped_checkpoint,
)

__all__ = ["content_hash", "load_artefact", "WEIGHTS", "MANIFEST", "FT_INSTALL"]

WEIGHTS = "weights.pt"
MANIFEST = "model.json"
FT_INSTALL = "run `no3rr finetune SPEC` to make it (a fine-tuned model is an artefact of its screen)"


def content_hash(weights: Path, base_model: str) -> str:
    """16 hex characters of the SHA-256 of the weights file and the base model's name."""
    h = hashlib.sha256(Path(weights).read_bytes())
    h.update(f"chgnet:{base_model}".encode())
    return h.hexdigest()[:16]


def load_artefact(models_dir: str | Path, model_hash: str) -> dict[str, Any]:
    """The manifest of artefact ``model_hash``, after checking that its weights are the ones hashed."""
    d = Path(models_dir) / model_hash
    if not (d / MANIFEST).is_file() or not (d / WEIGHTS).is_file():
        raise CalculatorUnavailableError(
            f"calculator.params.model: fine-tuned model {model_hash} not found in {d.parent} "
            f"(need {MANIFEST} and {WEIGHTS}); {FT_INSTALL}, or give models_dir where it is")
    manifest = json.loads((d / MANIFEST).read_text())
    got = content_hash(d / WEIGHTS, manifest.get("base_model", ""))
    if got != model_hash:
        raise CalculatorUnavailableError(
            f"calculator.params.model: fine-tuned model {model_hash} in {d} was altered (its weights hash to "
            f"{got}); delete {d} and run `no3rr finetune SPEC` again")
    return manifest


_CACHE: dict[tuple[str, str], Any] = {}


def _factory(params: dict[str, Any], atoms=None):
    if not params.get("model"):
        raise CalculatorUnavailableError("calculator.params.model: give the fine-tuned model's hash; " + FT_INSTALL)
    if not params.get("models_dir"):
        raise CalculatorUnavailableError("calculator.params.models_dir: give the directory holding the "
                                         "fine-tuned models (OUT/models)")
    _offline()
    _torch_threads()
    manifest = load_artefact(params["models_dir"], params["model"])
    key = (str(Path(params["models_dir"]).resolve()), params["model"])
    if key not in _CACHE:
        import contextlib
        import io

        import torch
        from chgnet.model import CHGNet

        path = shipped_checkpoint("chgnet", manifest["base_model"])
        with contextlib.redirect_stdout(io.StringIO()):
            model = CHGNet.from_file(str(path), mlp_out_bias=manifest["base_model"] == "0.2.0",
                                     version=manifest["base_model"])
        state = torch.load(Path(params["models_dir"]) / params["model"] / WEIGHTS, map_location="cpu",
                           weights_only=True)
        model.load_state_dict(state)
        model.eval()
        _CACHE[key] = model
    import contextlib
    import io

    from chgnet.model.dynamics import CHGNetCalculator

    with contextlib.redirect_stdout(io.StringIO()):  # "CHGNet will run on cpu"
        return _float64(CHGNetCalculator(model=_CACHE[key], use_device="cpu", on_isolated_atoms="ignore"))


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


def _missing() -> str | None:
    for mod in ("torch", "chgnet"):
        if not base.has_module(mod):
            return f"python package {mod!r} not installed; {ML_INSTALL}"
    return None


register(CalculatorInfo(
    name="chgnet-ft",
    description="CHGNet fine-tuned on the screen's own expensive level (no3rr finetune)",
    elements=MPTRJ_ELEMENTS,
    defaults={"model": None, "models_dir": None},
    allowed=frozenset({"model", "models_dir"}),
    package="chgnet",
    factory=_factory,
    fidelity="ml",
    note="CHGNet fine-tuned on this screen's expensive level: trusted only on catalysts like those it "
         "was trained on; its error is reported on catalysts it never saw (no3rr fidelity).",
    install=FT_INSTALL,
    local=frozenset({"models_dir"}),
    validate=_validate,
    missing=_missing,
    required=True,
))
