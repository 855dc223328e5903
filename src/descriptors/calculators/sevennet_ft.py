"""``sevennet-ft``: SevenNet fine-tuned on the screen's expensive level (calculators/finetuned.py
has the artefact, its hash and the checks; workflows/finetune_sevenn.py trains it).

The base model is a checkpoint shipped in the sevenn wheel (calculators/ml.py SEVENN_MODELS);
for a multi-fidelity checkpoint the fine-tuned channel is part of the base model's name,
``7net-MF-0@PBE``, so the same weights read through another channel are another model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from descriptors.calculators.finetuned import register_finetuned
from descriptors.calculators.ml import _float64, shipped_checkpoint

__all__ = ["base_id", "split_base", "build_base"]


def base_id(params: dict[str, Any]) -> str:
    """The base model of a ``sevenn`` setting: its checkpoint, and its channel if multi-fidelity."""
    return params["model"] + (f"@{params['modal']}" if params.get("modal") else "")


def split_base(base: str) -> tuple[str, str | None]:
    model, _, modal = base.partition("@")
    return model, (modal or None)


def build_base(base: str):
    """(model, config, modal) of the shipped checkpoint ``base``, on CPU, never downloaded."""
    from sevenn.util import load_checkpoint

    model_name, modal = split_base(base)
    cp = load_checkpoint(str(shipped_checkpoint("sevenn", model_name)))
    return cp.build_model(), cp.config, modal


def _load(manifest: dict[str, Any], weights: Path):
    import torch
    from sevenn.calculator import SevenNetCalculator

    model, _, modal = build_base(manifest["base_model"])
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()

    def make():
        return _float64(SevenNetCalculator(model=model, file_type="model_instance", device="cpu", modal=modal))

    return make


register_finetuned("sevennet-ft", "sevenn", "SevenNet", "sevenn", _load)
