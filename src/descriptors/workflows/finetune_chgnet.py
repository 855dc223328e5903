"""Fine-tuning backend for CHGNet (``[calculator] name = "chgnet"``): CHGNet's own trainer.

One module per ML family (workflows/finetune.py ``TRAINERS``); the generic part -- seeding, the
element shifts, early stopping on held-out adsorption energies with the base model as epoch 0,
the artefact -- is in workflows/finetune.py.  Here: load the shipped checkpoint, predict, and one
epoch of ``chgnet.trainer.Trainer`` (its ``_train``/``_validate`` passes; Adam, cosine learning
rate, MSE on energy per atom and forces, the composition model frozen)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from descriptors.calculators.ml import shipped_checkpoint
from descriptors.workflows.finetune_data import frozen_layers

FAMILY = "chgnet"
LABEL = "CHGNet"
CALCULATOR = "chgnet-ft"
VERSIONS = ("chgnet", "torch")


def base_id(params: dict[str, Any]) -> str:
    return params["model"]


def load(base: str):
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):
        return CHGNet.from_file(str(shipped_checkpoint("chgnet", base)), mlp_out_bias=base == "0.2.0", version=base)


def _structure(a):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(a)


def shift_energies(model, frames) -> list[float]:
    """Total energies (eV), one structure at a time (what the element shifts are fitted against)."""
    out = []
    for a in frames:
        with contextlib.redirect_stdout(io.StringIO()):
            out.append(float(model.predict_structure(_structure(a), task="e")["e"]) * len(a))
    return out


def energies(model, frames) -> list[float]:
    """The model's total energies of ``frames`` (eV)."""
    model.eval()
    with contextlib.redirect_stdout(io.StringIO()):
        preds = model.predict_structure([_structure(a) for a in frames], task="e", batch_size=16)
    preds = preds if isinstance(preds, list) else [preds]
    return [float(p["e"]) * len(a) for p, a in zip(preds, frames)]


def errors(model, frames) -> dict[str, float]:
    """MAE of energy (eV/atom and eV per structure) and forces (eV/A) on labelled ``frames``
    (their energies already shifted, workflows/finetune.py)."""
    model.eval()
    de, dea, df = [], [], []
    for a in frames:
        with contextlib.redirect_stdout(io.StringIO()):
            p = model.predict_structure(_structure(a), task="ef")
        ref = a.get_potential_energy()
        de.append(abs(float(p["e"]) * len(a) - ref))
        dea.append(de[-1] / len(a))
        df.append(np.abs(np.asarray(p["f"]) - a.get_forces(apply_constraint=False)).mean())
    return {"energy_mae_eV": float(np.mean(de)), "energy_mae_eV_per_atom": float(np.mean(dea)),
            "force_mae_eV_per_A": float(np.mean(df)), "frames": len(frames)}


def _dataset(frames):
    from chgnet.data.dataset import StructureData

    structures = [_structure(a) for a in frames]
    e = [a.get_potential_energy() / len(a) for a in frames]  # CHGNet: eV/atom
    f = [a.get_forces(apply_constraint=False).tolist() for a in frames]
    with contextlib.redirect_stdout(io.StringIO()):
        return StructureData(structures=structures, energies=e, forces=f)


class Trainer:
    """CHGNet's Trainer over the fitting frames, validated on the early-stop frames."""

    def __init__(self, model, fit, early, ft):
        from chgnet.data.dataset import get_loader  # shuffles (seeded by the Trainer)
        from chgnet.trainer import Trainer as CHGNetTrainer

        self.fit = get_loader(_dataset(fit), batch_size=ft.batch_size, num_workers=0,
                              pin_memory=False)
        self.early = (get_loader(_dataset(early), batch_size=ft.batch_size, num_workers=0,
                                 pin_memory=False) if early else None)
        for p in model.composition_model.parameters():  # the element shifts took the constants: AtomRef stays
            p.requires_grad = False
        for layer in frozen_layers(model, getattr(ft, "freeze", "none")):  # [finetune] freeze
            for p in layer.parameters():
                p.requires_grad = False
        with contextlib.redirect_stdout(io.StringIO()):
            self.trainer = CHGNetTrainer(model=model, targets="ef", energy_loss_ratio=1.0,
                                         force_loss_ratio=ft.force_weight, optimizer="Adam", scheduler="CosLR",
                                         criterion="MSE", epochs=ft.epochs, learning_rate=ft.learning_rate,
                                         use_device="cpu", torch_seed=ft.seed, data_seed=ft.seed, print_freq=10**9)

    def epoch(self, epoch: int) -> tuple[dict[str, float], dict[str, float] | None]:
        """One training epoch; (fitting MAE, early-stop MAE or None): energy eV/atom 'e', forces eV/A 'f'."""
        with contextlib.redirect_stdout(io.StringIO()):
            tr = self.trainer._train(self.fit, epoch)
            va = self.trainer._validate(self.early, is_test=False) if self.early is not None else None
        return ({"e": float(tr["e"]), "f": float(tr["f"])},
                {"e": float(va["e"]), "f": float(va["f"])} if va is not None else None)
