"""The ``[finetune]`` table: fine-tune the cheap ML potential on the screen's expensive level.

Run by ``no3rr finetune SPEC`` (workflows/finetune.py).  The catalysts are split by name into a
training half, whose ``[verify]`` frames train the model (a part of them held out for early
stopping), and the remaining catalysts, which the fine-tuned model re-ranks and where the
expensive level runs only on its ``top_k`` placements.  The remaining catalysts are never trained
on, so the errors reported on them are honest.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from descriptors.calculators.finetuned import FINETUNABLE
from descriptors.specs.base import StrictModel

__all__ = ["FinetuneSpec", "FINETUNE_BACKENDS"]

#: cheap calculators that can be fine-tuned here, and the fine-tuned backend each one becomes
#: (registered by the calculators: chgnet -> chgnet-ft, sevenn -> sevennet-ft)
FINETUNE_BACKENDS = FINETUNABLE


class FinetuneSpec(StrictModel):
    train: list[str] | None = Field(None, description="catalyst names to train on; default: every other "
                                                      "catalyst by sorted name (half)")
    train_fraction: float = Field(0.5, gt=0, lt=1, description="share of catalysts trained on when train is not given")
    early_stop_fraction: float = Field(0.25, ge=0, lt=1, description="share of the training catalysts held out "
                                       "for early stopping; 0: none, every epoch is run and the last one kept")
    epochs: int = Field(30, ge=1, le=1000)
    patience: int = Field(8, ge=1, description="epochs without a better early-stop energy MAE before stopping")
    learning_rate: float = Field(1e-4, gt=0, le=1e-2)
    batch_size: int = Field(4, ge=1, le=256)
    force_weight: float = Field(1.0, ge=0, description="force loss weight (energy per atom weight 1)")
    seed: int = 0
    mode: Literal["single-point", "relax"] = Field("single-point", description="how the fine-tuned model scores "
                                                   "the remaining catalysts' placements: on the cheap geometry, "
                                                   "or relaxed from it")
    verify_mode: Literal["single-point", "relax"] | None = Field(
        None, description="how the expensive level checks the re-ranked picks: a single point on the fine-tuned "
        "geometry (AdsorbML's ML+SP) or a relaxation from it (ML+RX); default: verify.mode")
    top_k: int | None = Field(None, ge=1, description="placements per (catalyst, adsorbate) sent to the expensive "
                                                      "level after re-ranking; default: verify.top_k")
    within: float | None = Field(None, gt=0, le=5.0, description="eV; also send every placement whose fine-tuned "
                                 "E_ads is within this of the (catalyst, adsorbate)'s lowest (the model is unsure "
                                 "between them); default: verify.within")
    path_every: int = Field(0, ge=0, le=1000, description="also label every n-th frame of the cheap level's "
                            "relaxations of the training catalysts (the minimum left out: the verify level labels "
                            "it) with an expensive single point, so the model learns energies and forces along the "
                            "paths; 0: only the expensive level's own frames")
    freeze: Literal["none", "embeddings", "graph"] = Field(
        "none", description="CHGNet layers kept fixed: 'embeddings' (atom, bond, angle embeddings and basis "
        "expansions), 'graph' (also every interaction block but the last atom convolution: only the last "
        "convolution and the readout learn, CHGNet's own fine-tuning example)")

    @model_validator(mode="after")
    def _train(self):
        if self.train is not None:
            if len(self.train) < (2 if self.early_stop_fraction else 1):
                raise ValueError("train: give at least two catalyst names (one is held out for early stopping)")
            dup = sorted({n for n in self.train if self.train.count(n) > 1})
            if dup:
                raise ValueError(f"train: listed twice: {', '.join(dup)}; remove the duplicates")
        return self
