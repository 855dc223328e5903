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


class CHGNetEF:
    """CHGNet energies and forces for many structures per model call, without CHGNet's ASE
    calculator and its per-call overheads (profile in README "Benchmarks", issue 16):

    * no pymatgen Structure: the neighbour list comes from pymatgen's own ``find_points_in_spheres``
      on the Atoms' positions, and the graph from CHGNet's own ``create_graph`` (its 'fast' C code);
    * the graph is reused while the atoms move: the neighbour list is built out to the cutoff plus a
      skin, and at each call the pair distances are recomputed from the current positions; while no
      atom has moved more than half the skin and the same pairs lie within the atom-graph and
      bond-graph cutoffs, the graph (which holds only indices and periodic images) is the fresh graph,
      so only the coordinates are replaced: the same energies and forces as a fresh graph, up to the
      round-off of summing in another edge order (tests/test_ml_calculators.py);
    * energy and forces only (no stress, no magnetic moments, no crystal features), and the forces
      from ``autograd.grad`` without ``create_graph`` (CHGNet's ``_compute`` keeps the graph of the
      forces for training).

    ``slot`` names a structure across calls (the optimizer of one placement): its graph is kept
    under that key."""

    def __init__(self, model, skin: float = 1.0):
        self.model = model
        self.conv = model.graph_converter
        self.skin = float(skin)
        self.cache: dict[Any, dict[str, Any]] = {}
        self.stats = {"calls": 0, "structures": 0, "graphs_built": 0, "graphs_reused": 0}

    def _pairs(self, atoms, r: float):
        import numpy as np
        from pymatgen.optimization.neighbors import find_points_in_spheres

        pos = np.ascontiguousarray(atoms.positions, dtype=float)
        c, n, img, d = find_points_in_spheres(pos, pos, r=float(r), pbc=np.ascontiguousarray(atoms.pbc, dtype=np.int64),
                                              lattice=np.ascontiguousarray(atoms.cell.array, dtype=float), tol=1e-8)
        keep = ~((c == n) & (d <= 1e-8))  # as Structure.get_neighbor_list(exclude_self=True)
        return c[keep], n[keep], np.ascontiguousarray(img[keep]), d[keep]

    def _distances(self, entry, pos):
        import numpy as np

        c, n, shift = entry["c"], entry["n"], entry["shift"]
        return np.linalg.norm(pos[n] + shift - pos[c], axis=1)

    def graph(self, atoms, slot=None):
        """CHGNet's CrystalGraph of ``atoms`` (as ``graph_converter(structure)``), reused for ``slot``."""
        import numpy as np
        import torch
        from chgnet.graph.crystalgraph import CrystalGraph

        pos = np.asarray(atoms.positions, dtype=float)
        cell = np.asarray(atoms.cell.array, dtype=float)
        rc, rb = self.conv.atom_graph_cutoff, self.conv.bond_graph_cutoff
        entry = self.cache.get(slot) if slot is not None else None
        if entry is not None and (len(pos) != len(entry["pos0"]) or not np.array_equal(cell, entry["cell"])
                                  or not np.array_equal(atoms.numbers, entry["numbers"])
                                  or np.linalg.norm(pos - entry["pos0"], axis=1).max() >= self.skin / 2):
            entry = None  # moved too far (or another structure): a new neighbour list
        if entry is None:
            c, n, img, _ = self._pairs(atoms, rc + self.skin)
            entry = {"pos0": pos.copy(), "cell": cell.copy(), "numbers": atoms.numbers.copy(), "c": c, "n": n,
                     "img": img, "shift": img @ cell, "key": None, "graph": None}
        d = self._distances(entry, pos)
        inside = (d < rc) & (d > 1e-8)
        key = (inside, d[inside] < rb)
        g = entry["graph"]
        if g is not None and np.array_equal(key[0], entry["key"][0]) and np.array_equal(key[1], entry["key"][1]):
            self.stats["graphs_reused"] += 1
            frac = torch.tensor(np.linalg.solve(cell.T, pos.T).T, dtype=torch.float32, requires_grad=True)
            g = CrystalGraph(**{**{k: getattr(g, k) for k in _GRAPH_FIELDS}, "atom_frac_coord": frac})
        else:
            self.stats["graphs_built"] += 1
            g = self._build(atoms, pos, cell, entry["c"][inside], entry["n"][inside], entry["img"][inside], d[inside])
            entry["key"], entry["graph"] = key, g
        if slot is not None:
            self.cache[slot] = entry
        return g

    def _build(self, atoms, pos, cell, c, n, img, d):
        import numpy as np
        import torch
        from chgnet.graph.crystalgraph import CrystalGraph

        conv = self.conv
        graph = conv.create_graph(len(atoms), np.ascontiguousarray(c), np.ascontiguousarray(n),
                                  np.ascontiguousarray(img), np.ascontiguousarray(d))
        atom_graph, d2u = graph.adjacency_list()
        bond_graph, u2d = graph.line_graph_adjacency_list(cutoff=conv.bond_graph_cutoff)
        return CrystalGraph(
            atomic_number=torch.tensor(atoms.numbers, dtype=torch.int32),
            atom_frac_coord=torch.tensor(np.linalg.solve(cell.T, pos.T).T, dtype=torch.float32, requires_grad=True),
            atom_graph=torch.tensor(atom_graph, dtype=torch.int32),
            neighbor_image=torch.tensor(img, dtype=torch.float32),
            directed2undirected=torch.tensor(d2u, dtype=torch.int32),
            undirected2directed=torch.tensor(u2d, dtype=torch.int32),
            bond_graph=torch.tensor(bond_graph, dtype=torch.int32),
            lattice=torch.tensor(cell, dtype=torch.float32),
            graph_id=None, mp_id=None, composition=atoms.get_chemical_formula(),
            atom_graph_cutoff=conv.atom_graph_cutoff, bond_graph_cutoff=conv.bond_graph_cutoff,
        )

    def __call__(self, structures, slots=None):
        """[(energy eV, forces eV/A (n, 3) float64)] for the structures, in one model call."""
        import torch
        from chgnet.model.model import BatchedGraph

        model = self.model
        model.eval()
        slots = list(slots) if slots is not None else [None] * len(structures)
        graphs = [self.graph(a, s) for a, s in zip(structures, slots)]
        with torch.enable_grad():
            comp = 0 if model.composition_model is None else model.composition_model(graphs).detach()
            bg = BatchedGraph.from_graphs(graphs, bond_basis_expansion=model.bond_basis_expansion,
                                          angle_basis_expansion=model.angle_basis_expansion, compute_stress=False)
            pred = model._compute(bg, compute_force=False)
            n_atoms = pred["atoms_per_graph"]
            total = pred["e"] * n_atoms if model.is_intensive else pred["e"]
            grads = torch.autograd.grad(total.sum(), bg.atom_positions)
        e = ((pred["e"].detach() + comp) * (n_atoms if model.is_intensive else 1)).double().numpy()
        self.stats["calls"] += 1
        self.stats["structures"] += len(structures)
        return [(float(ei), -g.detach().double().numpy()) for ei, g in zip(e, grads)]

    def forget(self, slot) -> None:
        self.cache.pop(slot, None)


_GRAPH_FIELDS = ("atomic_number", "atom_frac_coord", "atom_graph", "neighbor_image", "directed2undirected",
                 "undirected2directed", "bond_graph", "lattice", "graph_id", "mp_id", "composition",
                 "atom_graph_cutoff", "bond_graph_cutoff")


def chgnet_ef(setting_params: dict[str, Any], skin: float = 1.0) -> CHGNetEF:
    """The fast energy-and-force path of the CHGNet model of ``setting_params`` (the shipped weights)."""
    calc = _chgnet_factory(setting_params)
    return CHGNetEF(calc.model, skin)
