"""The training set for fine-tuning a cheap ML potential on a screen's expensive level.

Every structure the expensive (``[verify]``) level computed is a labelled frame: a single point is
one frame, a relaxation is every frame of its trajectory (``trajectories/<job_id>.traj``, which
holds the energy and forces of each step), not only the minimum.  Catalysts are split into a
training half and a validation half *by catalyst* (never by frame), so the error reported on the
validation half is measured on catalysts the model has never seen.  Gas references go to training.

The frames are written as one extxyz file (energy and forces per frame) with a manifest holding
its SHA-256: the hash is the identity of the training set (a fine-tuned model's identity is meant
to include it).

The training itself, the model artefact and the re-ranking are in workflows/finetune.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.store.db import STATUS_FAILED, Store
from descriptors.tasks.relax import read_trajectory

__all__ = ["TrainingSet", "expensive_level", "training_frames", "write_training_set"]


@dataclass
class TrainingSet:
    calc_hash: str
    train_catalysts: list[str]
    validation_catalysts: list[str]
    n_train: int = 0
    n_validation: int = 0
    sha256: str = ""
    files: dict[str, str] = field(default_factory=dict)


def expensive_level(store: Store) -> str:
    """calc_hash of the level whose rows name a cheap parent (the verify level)."""
    hashes = {r.get("calc_hash") for r in store.select() if r.get("cheap_job")}
    if len(hashes) != 1:
        raise ValueError(f"the store holds {len(hashes)} verify levels; fine-tuning needs exactly one "
                         "(run a screen with a [verify] table first)")
    return hashes.pop()


def _labelled(atoms: Atoms, energy: float, forces) -> Atoms:
    a = atoms.copy()
    a.calc = SinglePointCalculator(a, energy=float(energy), forces=np.asarray(forces, dtype=np.float64))
    return a


def training_frames(store: Store, traj_dir: Path | None, calc_hash: str) -> dict[str, list[Atoms]]:
    """Labelled frames of the level ``calc_hash``, grouped by catalyst ('gas' for molecules)."""
    out: dict[str, list[Atoms]] = {}
    for r in store.select():
        if r.get("calc_hash") != calc_hash or r.get("status") == STATUS_FAILED:
            continue
        frames = []
        traj = traj_dir / f"{r.get('job_id')}.traj" if traj_dir else None
        if traj is not None and traj.is_file():
            for f in read_trajectory(traj):
                try:
                    frames.append(_labelled(f, f.get_potential_energy(), f.get_forces(apply_constraint=False)))
                except Exception:  # a frame without results (cut short by a kill)
                    continue
        if not frames:  # a single point: the row itself
            a = r.toatoms()
            frames.append(_labelled(a, r.energy, a.get_forces(apply_constraint=False)))
        for f in frames:
            f.info = {"job_id": r.get("job_id"), "kind": r.get("kind"), "catalyst": r.get("catalyst") or "gas"}
        out.setdefault(r.get("catalyst") or "gas", []).extend(frames)
    return out


def write_training_set(store: Store, out: Path, traj_dir: Path | None = None,
                       validation_fraction: float = 0.5, calc_hash: str | None = None,
                       catalysts: list[str] | None = None) -> TrainingSet:
    """Split by catalyst (sorted names, every other one to validation for 0.5) and write
    ``train.extxyz``, ``validation.extxyz`` and ``training_set.json``.  ``calc_hash``: the
    expensive level (default: the only level with cheap parents); ``catalysts``: only these
    catalysts' frames are used (the others are never seen)."""
    from ase.io import write

    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction {validation_fraction}: must lie in [0, 1) (0: no validation part)")
    h = calc_hash or expensive_level(store)
    frames = training_frames(store, traj_dir, h)
    cats = sorted(c for c in frames if c != "gas" and (catalysts is None or c in catalysts))
    if len(cats) < (2 if validation_fraction else 1):
        raise ValueError(f"the verify level computed {len(cats)} catalyst(s); a split needs at least 2")
    n_val = 0 if validation_fraction == 0 else max(1, min(len(cats) - 1, round(validation_fraction * len(cats))))
    step = len(cats) / max(n_val, 1)
    val = sorted({cats[int(i * step + step / 2) % len(cats)] for i in range(n_val)})
    train = [c for c in cats if c not in val]
    ts = TrainingSet(h, train, val)
    out.mkdir(parents=True, exist_ok=True)
    sets = {"train": [f for c in train + ["gas"] for f in frames.get(c, [])],
            "validation": [f for c in val for f in frames[c]]}
    digest = hashlib.sha256()
    for name, fr in sets.items():
        path = out / f"{name}.extxyz"
        write(path, fr, format="extxyz")
        digest.update(path.read_bytes())
        ts.files[name] = str(path)
    ts.n_train, ts.n_validation = len(sets["train"]), len(sets["validation"])
    ts.sha256 = digest.hexdigest()
    (out / "training_set.json").write_text(json.dumps(asdict(ts), indent=2))
    return ts
