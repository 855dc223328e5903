"""``chgnet-ft``: CHGNet fine-tuned on the screen's expensive level (calculators/finetuned.py has
the artefact, its hash and the checks; workflows/finetune_chgnet.py trains it)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from descriptors.calculators.finetuned import register_finetuned
from descriptors.calculators.ml import _float64, shipped_checkpoint


def _load(manifest: dict[str, Any], weights: Path):
    import torch
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    base_model = manifest["base_model"]
    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet's banner, "CHGNet will run on cpu"
        model = CHGNet.from_file(str(shipped_checkpoint("chgnet", base_model)), mlp_out_bias=base_model == "0.2.0",
                                 version=base_model)
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        model.eval()

    def make():
        with contextlib.redirect_stdout(io.StringIO()):
            return _float64(CHGNetCalculator(model=model, use_device="cpu", on_isolated_atoms="ignore"))

    return make


register_finetuned("chgnet-ft", "chgnet", "CHGNet", "chgnet", _load)
