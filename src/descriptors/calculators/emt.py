"""EMT: milliseconds per call, for tests and the quick start only; not chemistry.

Two implementations of ASE's effective medium theory (``ase.calculators.emt``), the same numbers:

* ``implementation = "numpy"`` (the default): :class:`VectorEMT`, every pair term of ASE's
  ``EMT.calculate`` at once in numpy over a Verlet pair list with a skin, rebuilt only when an atom
  has moved more than half the skin or the cell, the periodicity or the elements changed.
* ``implementation = "ase"``: ASE's own class, which loops over the atoms in Python (about 20x
  slower on the quick start's slabs); kept for comparison.

``VectorEMT`` is a subclass of ASE's ``EMT``: the parameters (``ase.calculators.emt.parameters``,
Jacobsen, Stoltze and Norskov, Surf. Sci. 366, 394 (1996) for Al, Cu, Ag, Au, Ni, Pd, Pt; H, C, N,
O from ASE's own fit), the cutoff and its smoothing function, the gammas and the per-element
arrays all come from ASE's ``initialize``, so nothing is copied here; an element without
parameters fails as in ASE (``NotImplementedError: No EMT-potential for Fe``).  Only the sums are
reorganised: each unordered pair once (ASE visits it from both atoms; the two visits give equal
energy shares and opposite forces), so the results agree with ASE's to rounding (~1e-12 eV,
tests/test_emt_fast.py).  The implementation is not part of the calculator's identity: a store
computed with either is resumed by the other with no new calculation.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from ase.calculators.calculator import (
    PropertyNotImplementedError,
    all_changes,
)
from ase.calculators.emt import EMT, beta
from ase.cell import Cell
from ase.neighborlist import primitive_neighbor_list

from descriptors.calculators.base import CalculatorInfo, choice, register

EMT_ELEMENTS = frozenset({"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"})
IMPLEMENTATIONS = ("numpy", "ase")
# Verlet skin (A) added to ASE's list cutoff: the pair list is rebuilt when an atom has moved more than
# half of it.  Chosen by measurement on the quick start's relaxations (benchmarks/emtcalls.py).
SKIN = 0.5


# above this many atoms the pairs are searched with ASE's binned (O(N)) primitive_neighbor_list; below, all
# atom pairs over the needed cell images at once, which is 50-200x faster for the quick start's small cells
BRUTE_FORCE_MAX_ATOMS = 1000


@functools.lru_cache(maxsize=64)
def _images(cell: bytes, pbc: bytes, cutoff: float):
    """The cell's images to search (cached per cell: a relaxation rebuilds its list in the same cell)."""
    pbc_ = np.frombuffer(pbc, dtype=bool)
    full = Cell(np.frombuffer(cell).reshape(3, 3)).complete().array  # zero non-periodic vectors replaced
    inverse = np.linalg.inv(full)  # columns: reciprocal vectors; 1 / |column a| = height of the cell along a
    # images needed along a periodic axis: |frac difference + T| * height < cutoff with |frac difference| < 1
    reach = [int(cutoff * np.sqrt(inverse[:, a] @ inverse[:, a])) + 1 if pbc_[a] else 0 for a in range(3)]
    grid = np.array(np.meshgrid(*[np.arange(-m, m + 1) for m in reach], indexing="ij")).reshape(3, -1).T
    positive = (grid[:, 0] > 0) | ((grid[:, 0] == 0) & ((grid[:, 1] > 0) | ((grid[:, 1] == 0) & (grid[:, 2] > 0))))
    shifts = np.vstack([np.zeros((1, 3)), grid[positive]])  # T = 0 first: there only i < j
    out = (full, inverse, shifts, shifts @ full)
    for a in out:
        a.flags.writeable = False  # shared between calls
    return out


def half_pairs(pbc, cell, positions, cutoff: float, brute_force_max_atoms: int | None = None):
    """Every unordered pair of atoms (periodic images included) closer than ``cutoff``, once.

    Returns ``i, j, S`` with the distance vector ``positions[j] - positions[i] + S @ cell``; a
    pair of an atom with its own image (``i == j``) appears with one of its two shifts.
    """
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    pbc = np.asarray(pbc, dtype=bool)
    limit = BRUTE_FORCE_MAX_ATOMS if brute_force_max_atoms is None else brute_force_max_atoms
    if n > limit:
        i, j, s = primitive_neighbor_list("ijS", pbc, cell, positions, cutoff, self_interaction=False)
        keep = (i < j) | ((i == j) & ((s[:, 0] > 0) | ((s[:, 0] == 0) & ((s[:, 1] > 0) |
                                                                           ((s[:, 1] == 0) & (s[:, 2] > 0))))))
        return i[keep], j[keep], s[keep]
    full, inverse, shifts, images = _images(np.asarray(cell, dtype=float).tobytes(), pbc.tobytes(), float(cutoff))
    k = np.zeros((n, 3))
    if pbc.any():  # wrap into the cell along the periodic directions; S corrects for it
        k[:, pbc] = np.floor(positions @ inverse[:, pbc])
    wrapped = positions - k @ full
    out_t, out_i, out_j = [], [], []
    c2 = cutoff * cutoff
    per_chunk = max(1, 2_000_000 // max(n * n, 1))
    diff = wrapped[None, :, :] - wrapped[:, None, :]  # [i, j] = wrapped_j - wrapped_i
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    for start in range(0, len(shifts), per_chunk):
        d = diff[None, :, :, :] + images[start:start + per_chunk, None, None, :]
        close = np.einsum("tijk,tijk->tij", d, d) < c2
        if start == 0:
            close[0] &= upper
        ti, ii, jj = np.nonzero(close)
        out_t.append(ti + start)
        out_i.append(ii)
        out_j.append(jj)
    t_idx, i, j = np.concatenate(out_t), np.concatenate(out_i), np.concatenate(out_j)
    s = (shifts[t_idx] + k[i] - k[j]).astype(int)
    return i, j, s


class VectorEMT(EMT):
    """ASE's EMT with the pair sums vectorised in numpy; same parameters, cutoff and results."""

    def __init__(self, skin: float | None = None, **kwargs):
        self.skin = SKIN if skin is None else float(skin)
        self._pairs = None
        self._state = None  # this calculator's copy of the Atoms last computed (self.atoms)
        self.builds = 0  # pair-list builds (for the skin's benchmark)
        EMT.__init__(self, **kwargs)

    def _get_name(self) -> str:
        return "emt"  # what trajectories and ase.db rows record, as for ASE's class

    def initialize(self, atoms):
        EMT.initialize(self, atoms)  # ASE's parameters, cutoff (rc, rc_list, acut) and per-element arrays
        p = self.par
        self._e0 = p["E0"][self.ia2iz]
        self._pairs = None

    # -- the pair list ---------------------------------------------------------------------------
    def _build_pairs(self, atoms) -> None:
        i, j, s = half_pairs(atoms.pbc, atoms.cell.array, atoms.positions, self.rc_list + self.skin)
        p, zi, zj = self.par, self.ia2iz[i], self.ia2iz[j]
        chi = self.chi[zi, zj]  # n0_j / n0_i
        eta, s0, kappa, nh = p["eta2"], p["s0"], p["kappa"], p["neghalfv0overgamma2"]
        cell = atoms.cell
        self._pairs = {
            "i": i, "j": j, "n": len(atoms),
            "offset": s @ cell.array,
            "positions": atoms.positions.copy(), "cell": cell.array.tobytes(), "pbc": atoms.pbc.tobytes(),
            "volume": cell.volume if cell.rank == 3 else None,
            # sigma1 of i gets chi_ij exp(-eta_j (r - beta s0_j)) w: exp(log chi_ij + eta_j beta s0_j - eta_j r) w
            "eta_i": eta[zi], "eta_j": eta[zj],
            "c1_i": np.log(chi) + eta[zj] * beta * s0[zj], "c1_j": -np.log(chi) + eta[zi] * beta * s0[zi],
            # the pair energy: nh_i chi_ij exp(-kappa_j (r / beta - s0_j)) w, and the same from j's side
            "kb_i": kappa[zi] / beta, "kb_j": kappa[zj] / beta,
            "c2_i": kappa[zj] * s0[zj], "c2_j": kappa[zi] * s0[zi],
            "nh_i": nh[zi] * chi, "nh_j": nh[zj] / chi,
        }
        self.builds += 1

    def _pairs_valid(self, atoms) -> bool:
        q = self._pairs
        if (q is None or q["n"] != len(atoms) or q["cell"] != atoms.cell.array.tobytes()
                or q["pbc"] != atoms.pbc.tobytes()):
            return False
        if len(atoms) == 0:
            return True
        moved = atoms.positions - q["positions"]
        return float(np.einsum("ij,ij->i", moved, moved).max()) <= (0.5 * self.skin) ** 2

    # -- the calculation ---------------------------------------------------------------------------
    def _take(self, atoms, system_changes) -> None:
        """``self.atoms``: the state computed, as ASE's ``Calculator.calculate`` keeps it (a copy of
        ``atoms``).  When only the positions changed (an optimizer step), the previous copy takes the
        new positions instead of a full ``atoms.copy()`` (its constraints and ``info`` deep-copied:
        ~0.1-0.4 ms a call); ``check_state`` compares exactly the same arrays either way."""
        if atoms is None:
            return
        prev = self._state
        if prev is not None and len(prev) == len(atoms) and set(system_changes) <= {"positions"}:
            prev.positions = atoms.positions  # in place
            self.atoms = prev
        else:
            self.atoms = self._state = atoms.copy()

    def calculate(self, atoms=None, properties=['energy'], system_changes=all_changes):  # noqa: B006 (ASE's signature)
        self._take(atoms, system_changes)
        atoms = self.atoms
        if "numbers" in system_changes:
            self.initialize(atoms)
        if not self._pairs_valid(atoms):
            self._build_pairs(atoms)
        q = self._pairs
        n = len(atoms)
        i, j = q["i"], q["j"]
        pos = atoms.positions
        d = pos[j] - pos[i] + q["offset"]
        r = np.sqrt(np.einsum("ij,ij->i", d, d))
        inside = r < self.rc_list  # ASE's mask: the skin's extra pairs contribute exactly nothing
        w = 1.0 / (1.0 + np.exp(self.acut * (r - self.rc)))
        w *= inside
        dw = self.acut * (w - 1.0)  # (dw/dr) / w
        # sigma1: ASE's dsigma1s of i (s1_i, the density of j at i) and of j (s1_j)
        s1_i = np.exp(q["c1_i"] - q["eta_j"] * r) * w
        s1_j = np.exp(q["c1_j"] - q["eta_i"] * r) * w
        sigma1 = np.bincount(i, s1_i, n) + np.bincount(j, s1_j, n)
        counted = np.bincount(i, inside, n) + np.bincount(j, inside, n)
        energies = np.zeros(n)
        deds = np.zeros(n)
        has = counted > 0  # ASE skips atoms without neighbours
        z = self.ia2iz[has]
        p = self.par
        e0, v0, eta, lmd, kap = p["E0"][z], p["V0"][z], p["eta2"][z], p["lambda"][z], p["kappa"][z]
        sg = sigma1[has]
        ds = -np.log(sg * p["inv12gamma1"][z]) / (beta * eta)
        lds = lmd * ds
        el = np.exp(-lds)
        sixv = 6.0 * v0 * np.exp(-kap * ds)
        energies[has] = e0 * (1.0 + lds) * el + sixv
        deds[has] = (-e0 * lmd * lds * el - kap * sixv) / (-beta * eta * sg)
        # sigma2, the pair part of the atomic-sphere correction (ASE's es, eo): each atom gets half of both
        es = q["nh_i"] * np.exp(q["c2_i"] - q["kb_j"] * r) * w
        eo = q["nh_j"] * np.exp(q["c2_j"] - q["kb_i"] * r) * w
        half = 0.5 * (es + eo)
        energies += np.bincount(i, half, n) + np.bincount(j, half, n)
        energies -= self._e0  # ASE (ASAP) convention: energy relative to the isolated atoms
        # (dE/dr) / r of the pair: force on i along d = r_j - r_i, the opposite on j
        x = deds[i] * s1_i
        y = deds[j] * s1_j
        g = dw * (es + eo + x + y) - (es * q["kb_j"] + eo * q["kb_i"] + x * q["eta_j"] + y * q["eta_i"])
        g *= inside
        g /= np.where(inside, r, 1.0)
        f = g[:, None] * d
        forces = np.empty((n, 3))
        for k in range(3):
            forces[:, k] = np.bincount(i, f[:, k], n) - np.bincount(j, f[:, k], n)
        energy = np.add.reduce(energies, axis=0)
        self.energies, self.forces, self.deds = energies, forces, deds
        self.results["energy"] = self.results["free_energy"] = energy
        self.results["energies"] = energies
        self.results["forces"] = forces
        if q["volume"] is not None:
            stress = d.T @ f  # ASE's sum of 0.5 d (x) f over both visits of each pair
            stress = (stress + stress.T) * (0.5 / q["volume"])
            self.stress = stress
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
        elif "stress" in properties:
            raise PropertyNotImplementedError


def emt_calculator(params: dict[str, Any], atoms=None):
    params = dict(params)
    implementation = params.pop("implementation", "numpy")
    if implementation == "ase":
        return EMT(**params)
    return VectorEMT(**params)


def _validate(params: dict[str, Any]) -> None:
    choice("implementation", params.get("implementation", "numpy"), IMPLEMENTATIONS)


register(CalculatorInfo(
    name="emt",
    description="Effective medium theory (ASE's, vectorised)",
    elements=EMT_ELEMENTS,
    defaults={},
    allowed=frozenset({"asap_cutoff", "implementation"}),
    package="ase",
    factory=emt_calculator,
    fidelity="test-only",
    note="EMT numbers test the pipeline; they are not chemistry.",
    install="part of ASE",
    # the same numbers either way: not part of the identity, so stores made with ASE's class resume
    local=frozenset({"implementation"}),
    validate=_validate,
))
