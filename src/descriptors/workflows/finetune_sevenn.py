"""Fine-tuning backend for SevenNet (``[calculator] name = "sevenn"``): SevenNet's own trainer.

One module per ML family (workflows/finetune.py ``TRAINERS``); the generic part -- seeding, the
element shifts, early stopping on held-out adsorption energies with the base model as epoch 0,
the artefact -- is in workflows/finetune.py.  Here, with sevenn's own training code:

- the base model continues from the checkpoint shipped in the wheel
  (``sevenn.util.load_checkpoint(...).build_model()``, as ``sevenn.scripts.processing_continue``
  does for ``continue``), the one chosen by the cheap level's ``model`` parameter; for a
  multi-fidelity checkpoint (7net-MF-0) every graph carries the chosen channel (``modal``), so
  that channel is what is fine-tuned and what the calculator reads;
- graphs: ``sevenn.train.dataload.atoms_to_graph`` at the checkpoint's cutoff, batched by
  torch_geometric's ``DataLoader`` (shuffled by a generator seeded with ``finetune.seed``);
- training: ``sevenn.train.trainer.Trainer.run_one_epoch`` with sevenn's ``PerAtomEnergyLoss``
  (weight 1) and ``ForceLoss`` (weight ``force_weight``), MSE, Adam, cosine learning rate over
  ``epochs``; the per-element shift and scale of the checkpoint (``rescale_atomic_energy``) stay
  fixed, as sevenn's ``train_shift_scale = False`` default; errors per epoch by sevenn's
  ``ErrorRecorder`` (MAE of energy per atom and forces).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descriptors.calculators.sevennet_ft import base_id as _base_id
from descriptors.calculators.sevennet_ft import build_base

FAMILY = "sevenn"
LABEL = "SevenNet"
CALCULATOR = "sevennet-ft"
VERSIONS = ("sevenn", "torch", "e3nn")
_BATCH_EVAL = 8


def base_id(params: dict[str, Any]) -> str:
    return _base_id(params)


def load(base: str):
    model, config, modal = build_base(base)
    model.sevenn_cutoff, model.sevenn_modal = float(config["cutoff"]), modal  # what graphs need
    return model


def _graphs(model, frames, labelled: bool = True):
    import sevenn._keys as KEY
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import atoms_to_graph, unlabeled_atoms_to_graph

    out = []
    for a in frames:
        if labelled:  # energy and forces from the frame's calculator (stress: none, unlabelled)
            g = atoms_to_graph(a, model.sevenn_cutoff, transfer_info=False, y_from_calc=True)
        else:
            g = unlabeled_atoms_to_graph(a, model.sevenn_cutoff)
        g = AtomGraphData.from_numpy_dict(g)
        if model.sevenn_modal:
            g[KEY.DATA_MODALITY] = model.sevenn_modal
        out.append(g)
    return out


def _predict(model, frames, forces: bool):
    """[(total energy eV, forces or None)] of ``frames``, in batches, eval mode."""
    import sevenn._keys as KEY
    from torch_geometric.loader import DataLoader

    model.eval()
    model.set_is_batch_data(True)
    out = []
    for batch in DataLoader(_graphs(model, frames, labelled=False), batch_size=_BATCH_EVAL, shuffle=False):
        res = model(batch)
        e = res[KEY.PRED_TOTAL_ENERGY].detach().double().numpy().reshape(-1)
        f = res[KEY.PRED_FORCE].detach().double().numpy() if forces else None
        idx = res[KEY.BATCH].numpy()
        for k in range(len(e)):
            out.append((float(e[k]), f[idx == k] if forces else None))
    return out


def energies(model, frames) -> list[float]:
    """The model's total energies of ``frames`` (eV)."""
    return [e for e, _ in _predict(model, frames, forces=False)]


shift_energies = energies


def errors(model, frames) -> dict[str, float]:
    """MAE of energy (eV/atom and eV per structure) and forces (eV/A) on labelled ``frames``
    (their energies already shifted, workflows/finetune.py)."""
    de, dea, df = [], [], []
    for a, (e, f) in zip(frames, _predict(model, frames, forces=True)):
        de.append(abs(e - a.get_potential_energy()))
        dea.append(de[-1] / len(a))
        df.append(np.abs(f - a.get_forces(apply_constraint=False)).mean())
    return {"energy_mae_eV": float(np.mean(de)), "energy_mae_eV_per_atom": float(np.mean(dea)),
            "force_mae_eV_per_A": float(np.mean(df)), "frames": len(frames)}


def _recorder():
    import sevenn._keys as KEY
    from sevenn.error_recorder import ErrorRecorder, MAError

    return ErrorRecorder([
        MAError(name="Energy", ref_key=KEY.ENERGY, pred_key=KEY.PRED_TOTAL_ENERGY, unit="eV/atom", per_atom=True),
        MAError(name="Force", ref_key=KEY.FORCE, pred_key=KEY.PRED_FORCE, unit="eV/A"),
    ])


class Trainer:
    """sevenn's Trainer over the fitting frames, validated on the early-stop frames."""

    def __init__(self, model, fit, early, ft):
        import torch
        from sevenn.train.loss import ForceLoss, PerAtomEnergyLoss
        from sevenn.train.trainer import Trainer as SevenNetTrainer
        from torch_geometric.loader import DataLoader

        gen = torch.Generator().manual_seed(ft.seed)
        self.fit = DataLoader(_graphs(model, fit), batch_size=ft.batch_size, shuffle=True, generator=gen)
        self.early = DataLoader(_graphs(model, early), batch_size=ft.batch_size, shuffle=False) if early else None
        losses = [(PerAtomEnergyLoss(criterion=torch.nn.MSELoss()), 1.0),
                  (ForceLoss(criterion=torch.nn.MSELoss()), ft.force_weight)]
        self.trainer = SevenNetTrainer(model, losses, optimizer_cls=torch.optim.Adam,
                                       optimizer_args={"lr": ft.learning_rate},
                                       scheduler_cls=torch.optim.lr_scheduler.CosineAnnealingLR,
                                       scheduler_args={"T_max": ft.epochs}, device="cpu")

    def epoch(self, epoch: int) -> tuple[dict[str, float], dict[str, float] | None]:
        """One training epoch; (fitting MAE, early-stop MAE or None): energy eV/atom 'e', forces eV/A 'f'."""
        def run(loader, train):
            rec = _recorder()
            self.trainer.run_one_epoch(loader, is_train=train, error_recorder=rec)
            m = {x.name: x.get() for x in rec.metrics}
            return {"e": float(m["Energy"]), "f": float(m["Force"])}

        tr = run(self.fit, True)
        self.trainer.scheduler_step()
        return tr, (run(self.early, False) if self.early is not None else None)
