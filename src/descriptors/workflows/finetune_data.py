"""The training set for fine-tuning a cheap ML potential on a screen's expensive level.

Every structure the expensive (``[verify]``) level computed is a labelled frame: a single point is
one frame, a relaxation is every frame of its trajectory (``trajectories/<job_id>.traj``, which
holds the energy and forces of each step), not only the minimum.  Catalysts are split into a
training half and a validation half *by catalyst* (never by frame), so the error reported on the
validation half is measured on catalysts the model has never seen.  Gas references go to training.

The cheap level's relaxation paths can be labelled too (``[finetune] path_every = n``,
:func:`path_frames`): every n-th frame of the cheap relaxations of the training catalysts (the
first frame included, the last one left out: it is the minimum the verify level already labels)
gets an expensive single point, so the model sees energies and forces along the paths, away from
the minima, where it must steer a relaxation.  The labels are kept per relaxation in
``<cache>/<job id>.<level hash>.every<n>.extxyz`` (written whole, then renamed): a second run, or
one resumed after a kill, recomputes only the relaxations without a finished file.

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

__all__ = ["TrainingSet", "expensive_level", "training_frames", "write_training_set", "path_frames",
           "path_indices", "frozen_layers"]


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


def path_indices(n_frames: int, every: int) -> list[int]:
    """Frames of an ``n_frames``-long cheap relaxation labelled with ``every``: 0, every, 2 every, ...
    before the last frame (the minimum, labelled by the verify level itself)."""
    return list(range(0, n_frames - 1, every)) if every > 0 else []


def _label_path(task: tuple) -> tuple[str, int, int]:
    """Worker: expensive single points on the chosen frames of one trajectory, written to ``cache``
    as one extxyz file (temporary name, then renamed).  Returns (cache, frames labelled, failed)."""
    import os

    from ase.io import write

    from descriptors.calculators.base import CalculatorSetting, make_calculator

    traj, every, name, params, version, cache, info = task
    setting = CalculatorSetting(name, params, version)
    frames = read_trajectory(traj)
    idx = path_indices(len(frames), every)
    out, failed = [], 0
    for i in idx:
        if i >= len(frames):
            continue
        a = frames[i].copy()
        a.calc = make_calculator(setting, a)
        try:
            e, f = a.get_potential_energy(), a.get_forces(apply_constraint=False)
        except Exception:  # an SCF that does not converge on a strained frame: counted, not used
            failed += 1
            continue
        lab = _labelled(frames[i], e, f)
        lab.info = {**info, "job_id": f"{info['job_id']}:path{i}", "path_frame": i}
        out.append(lab)
    tmp = f"{cache}.tmp{os.getpid()}"
    write(tmp, out, format="extxyz")
    os.replace(tmp, cache)
    return cache, len(out), failed


def path_frames(store: Store, traj_dir: Path, cheap_hash: str, setting, catalysts: list[str], every: int,
                cache_dir: Path, workers: int = 1, log=None) -> dict[str, list[Atoms]]:
    """Expensive single points (``setting``) on every ``every``-th frame of the cheap level's
    (``cheap_hash``) clean and adsorbate relaxations of ``catalysts`` (see the module doc), grouped
    by catalyst; kind 'path', so they never count as a minimum.  Cached per relaxation: stored
    labels are read back, never recomputed.  ``workers`` processes compute the missing ones."""
    from ase.io import read

    log = log or (lambda m: None)
    if every <= 0:
        return {}
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    todo, done, n_est = [], [], 0
    for r in store.select():
        if (r.get("calc_hash") != cheap_hash or r.get("kind") not in ("clean", "adsorbate")
                or r.get("status") == STATUS_FAILED or r.get("catalyst") not in catalysts):
            continue
        traj = Path(traj_dir) / f"{r.get('job_id')}.traj"
        if not traj.is_file():
            continue
        cache = cache_dir / f"{r.get('job_id')}.{setting.hash[:16]}.every{every}.extxyz"
        if cache.is_file():
            done.append(cache)
            continue
        n_est += len(path_indices(int(r.get("steps") or 0) + 1, every))  # the start and one frame per step
        info = {"job_id": r.get("job_id"), "kind": "path", "catalyst": r.get("catalyst")}
        todo.append((str(traj), every, setting.name, dict(setting.params), setting.version,
                     str(cache), info))
    log(f"finetune: labelling the cheap relaxation paths (every {every}. frame, the minimum left out): "
        f"about {n_est} {setting.name} single points on {len(todo)} relaxations ({len(done)} relaxations already "
        "labelled)")
    failed = 0
    if todo:
        if workers > 1 and len(todo) > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=mp.get_context("spawn")) as ex:
                results = list(ex.map(_label_path, todo))
        else:
            results = [_label_path(t) for t in todo]
        for cache, _, nf in results:  # (cache, frames labelled, frames failed)
            done.append(Path(cache))
            failed += nf
    if failed:
        log(f"finetune: {failed} path frame(s) whose {setting.name} single point failed are not used")
    out: dict[str, list[Atoms]] = {}
    for cache in sorted(done):
        if cache.stat().st_size == 0:  # a relaxation too short to have a frame before its minimum
            continue
        for f in read(cache, index=":"):
            f.info.setdefault("kind", "path")
            out.setdefault(str(f.info.get("catalyst")), []).append(f)
    return out


def write_training_set(store: Store, out: Path, traj_dir: Path | None = None,
                       validation_fraction: float = 0.5, calc_hash: str | None = None,
                       catalysts: list[str] | None = None,
                       extra: dict[str, list[Atoms]] | None = None) -> TrainingSet:
    """Split by catalyst (sorted names, every other one to validation for 0.5) and write
    ``train.extxyz``, ``validation.extxyz`` and ``training_set.json``.  ``calc_hash``: the
    expensive level (default: the only level with cheap parents); ``catalysts``: only these
    catalysts' frames are used (the others are never seen); ``extra``: more labelled frames per
    catalyst (the labelled cheap paths, :func:`path_frames`), split with their catalyst."""
    from ase.io import write

    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction {validation_fraction}: must lie in [0, 1) (0: no validation part)")
    h = calc_hash or expensive_level(store)
    frames = training_frames(store, traj_dir, h)
    for c, fr in (extra or {}).items():
        if c in frames:  # only catalysts the expensive level computed (the split is over those)
            frames[c] = frames[c] + list(fr)
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


def frozen_layers(model, freeze: str) -> list:
    """CHGNet modules kept fixed while fine-tuning, for ``[finetune] freeze`` (specs/finetune.py)."""
    if freeze == "none":
        return []
    layers = [model.atom_embedding, model.bond_embedding, model.angle_embedding, model.bond_basis_expansion,
              model.angle_basis_expansion]
    if freeze == "graph":  # CHGNet's fine-tuning example: the last atom convolution and the readout learn
        layers += list(model.atom_conv_layers[:-1]) + [m for m in model.bond_conv_layers if m is not None] + [
            m for m in model.angle_layers if m is not None]
    return layers
