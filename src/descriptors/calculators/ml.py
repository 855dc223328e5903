"""Universal ML potentials (CHGNet, SevenNet): weights ship inside the wheels, never downloaded."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from pathlib import Path
from typing import Any, Callable

from ase.data import chemical_symbols

from descriptors.calculators import base
from descriptors.calculators.base import (
    CalculatorInfo,
    CalculatorUnavailableError,
    choice,
    register,
)

# Both are trained on the Materials Project trajectory set MPtrj (Deng et al., Nat. Mach. Intell.
# 5, 1031 (2023)), which covers Z = 1-83 and 89-94: 89 elements.  tests/test_ml_calculators.py
# checks this list against the species stored in the shipped checkpoints.
MPTRJ_ELEMENTS = frozenset(
    chemical_symbols[z] for z in list(range(1, 84)) + list(range(89, 95))
)
ML_INSTALL = "pip install torch==2.13.0 first (the CPU build), then pip install 'no3rr-descriptors[ml]'"

# the checkpoints that ship inside the wheels (relative to the package directory)
CHGNET_MODELS = {
    "0.3.0": "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
    "0.2.0": "pretrained/0.2.0/chgnet_0.2.0_e30f77s348m32.pth.tar",
}
SEVENN_MODELS = {
    "7net-0": "pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
    "7net-0_22may2024": "pretrained_potentials/SevenNet_0__22May2024/checkpoint_sevennet_0.pth",
    "7net-l3i5": "pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth",
    # multi-fidelity SevenNet-MF-0 (Kim et al., JCTC 21, 2025): one model, one output channel per
    # training fidelity, chosen with calculator.params.modal
    "7net-MF-0": "pretrained_potentials/SevenNet_MF_0/checkpoint_sevennet_mf_0.pth",
}
# the fidelity channels of the multi-fidelity checkpoints (their config's modal_list)
SEVENN_MODALS = {"7net-MF-0": ("PBE", "R2SCAN")}


def _offline() -> None:
    """No hub, no download: whatever a library would fetch must already be on disk."""
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[k] = "1"


def _torch_threads() -> None:
    """One torch thread per job unless OMP_NUM_THREADS says otherwise: jobs run side by side
    (one per core), and torch's spinning OpenMP threads were measured 10x slower per force call
    on a loaded 2-core machine (0.3 s with one thread, 2.7 s with two)."""
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS") or 1)))


def shipped_checkpoint(package: str, model: str) -> Path:
    """Path of a checkpoint inside an installed package; a clear error, never a download."""
    table = {"chgnet": CHGNET_MODELS, "sevenn": SEVENN_MODELS}[package]
    if model not in table:
        raise ValueError(f"calculator.params.model: {model!r} is not shipped with {package}; "
                         f"choose one of {sorted(table)}")
    spec = importlib.util.find_spec(package) if base.has_module(package) else None
    if spec is None or not spec.origin:
        raise CalculatorUnavailableError(f"python package {package!r} not installed; {ML_INSTALL}")
    root = Path(spec.origin).parent
    path = root / table[model]
    if not path.is_file():
        present = sorted(m for m, rel in table.items() if (root / rel).is_file())
        raise CalculatorUnavailableError(
            f"calculator.params.model: {package} model {model!r}: weights {path} missing from the "
            f"installed package (they are not downloaded); models present here: {present or 'none'}; "
            f"reinstall with {ML_INSTALL}")
    return path


def _float64(calc):
    """Make the calculator's results float64 where they are made.  CHGNet and SevenNet return
    numpy.float32 energies and float32 force arrays; those leak into everything a task stores
    (EOS energies, trajectories, row data) and ase.db cannot encode a numpy.float32."""
    import numpy as np

    inner = calc.calculate

    def calculate(*args, **kwargs):
        inner(*args, **kwargs)
        for k, v in list(calc.results.items()):
            if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                calc.results[k] = v.astype(np.float64)
            elif isinstance(v, np.floating):
                calc.results[k] = float(v)

    calc.calculate = calculate
    return calc


def _ml_missing(package: str) -> Callable[[], str | None]:
    def check() -> str | None:
        if not base.has_module("torch"):
            return f"python package 'torch' not installed; {ML_INSTALL}"
        if not base.has_module(package):
            return f"python package {package!r} not installed; {ML_INSTALL}"
        try:
            shipped_checkpoint(package, base.REGISTRY[package].defaults["model"])
        except (CalculatorUnavailableError, ValueError) as err:
            return str(err)
        return None

    return check


_MODEL_CACHE: dict[tuple[str, str], Any] = {}


def _chgnet_factory(params: dict[str, Any], atoms=None):
    _offline()
    _torch_threads()
    path = shipped_checkpoint("chgnet", params["model"])
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    key = ("chgnet", params["model"])
    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints its banner to stdout
        if key not in _MODEL_CACHE:
            # as CHGNet.load, but from the checked path (mlp_out_bias only for the 0.2.0 weights)
            _MODEL_CACHE[key] = CHGNet.from_file(str(path), mlp_out_bias=params["model"] == "0.2.0",
                                                 version=params["model"])
        return _float64(CHGNetCalculator(model=_MODEL_CACHE[key], use_device="cpu", on_isolated_atoms="ignore"))


def _sevenn_factory(params: dict[str, Any], atoms=None):
    _offline()
    _torch_threads()
    path = shipped_checkpoint("sevenn", params["model"])
    from sevenn.calculator import SevenNetCalculator

    return _float64(SevenNetCalculator(model=str(path), device="cpu", modal=params.get("modal")))


def _ml_validate(package: str) -> Callable[[dict[str, Any]], None]:
    def validate(p: dict[str, Any]) -> None:
        table = {"chgnet": CHGNET_MODELS, "sevenn": SEVENN_MODELS}[package]
        choice("model", p["model"], sorted(table))
        modals = SEVENN_MODALS.get(p["model"]) if package == "sevenn" else None
        if modals and p.get("modal") not in modals:
            raise ValueError(f"calculator.params.modal: {p['model']!r} is multi-fidelity; choose its "
                             f"channel, one of {list(modals)}" + (f" (got {p['modal']!r})" if p.get("modal") else ""))
        if not modals and p.get("modal") is not None:
            raise ValueError(f"calculator.params.modal: {p['model']!r} has one fidelity; drop modal "
                             f"(multi-fidelity models: {sorted(SEVENN_MODALS)})")

    return validate



register(*(
    CalculatorInfo(
        name=name,
        description=f"{model_name} universal ML potential (MPtrj, PBE/PBE+U)",
        elements=MPTRJ_ELEMENTS,
        defaults={"model": model},
        allowed=frozenset({"model", "modal"} if name == "sevenn" else {"model"}),
        package=name,
        factory=factory,
        fidelity="ml",
        note="universal ML potential trained on bulk PBE data: a pre-screening level, not DFT.",
        install=ML_INSTALL,
        validate=_ml_validate(name),
        missing=_ml_missing(name),
        required=True,
    )
    for name, model_name, model, factory in (
        ("chgnet", "CHGNet", "0.3.0", _chgnet_factory),  # Deng et al., Nat. Mach. Intell. 5, 1031 (2023)
        ("sevenn", "SevenNet-0", "7net-0", _sevenn_factory),  # Park et al., JCTC 20, 4857 (2024)
    )
))
