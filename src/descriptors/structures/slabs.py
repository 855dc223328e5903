"""Metal bulk and slab models: any fcc/bcc/hcp metal, any Miller index, single-atom alloys.

Small functions that take parameters and return plain ``ase.Atoms`` with their recipe in
``atoms.info`` (the style of ``ase.build``).  Tags follow ase.build: 1 is the top layer.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, reference_states

__all__ = [
    "crystal_structure",
    "reference_lattice",
    "bulk_cell",
    "metal_slab",
    "single_atom_alloy",
    "parse_facet",
    "facet_label",
]

# ase.build's functions by name: ase.build (with ase.neighborlist and scipy.sparse, ~1 s) is imported
# when a slab is built, not with the catalyst types' registry that every spec-reading command loads
_NAMED = {
    "fcc": {(1, 0, 0): "fcc100", (1, 1, 0): "fcc110", (1, 1, 1): "fcc111", (2, 1, 1): "fcc211"},
    "bcc": {(1, 0, 0): "bcc100", (1, 1, 0): "bcc110", (1, 1, 1): "bcc111"},
    "hcp": {(0, 0, 0, 1): "hcp0001", (1, 0, -1, 0): "hcp10m10"},
}


def bulk(*args, **kwargs) -> Atoms:
    from ase.build import bulk as _bulk

    return _bulk(*args, **kwargs)


def crystal_structure(metal: str) -> str:
    """Ground-state structure of an element from ASE's reference states (fcc, bcc or hcp)."""
    if metal not in atomic_numbers:
        raise ValueError(f"unknown element {metal!r}")
    state = reference_states[atomic_numbers[metal]]
    sym = state.get("symmetry") if state else None
    if sym not in ("fcc", "bcc", "hcp"):
        raise ValueError(
            f"{metal} is not an fcc/bcc/hcp metal in ASE's reference states (it is {sym!r}); "
            "give 'structure' explicitly in the spec"
        )
    return sym


def reference_lattice(metal: str, structure: str | None = None) -> tuple[float, float | None]:
    """Experimental lattice constant(s) (a, c) from ASE's reference states.

    ASE's ``reference_states`` table takes these from C. Kittel, Introduction to Solid State
    Physics, 7th ed. (Wiley, 1996).  For hcp the c/a ratio of that table is used.
    """
    structure = structure or crystal_structure(metal)
    state = reference_states[atomic_numbers[metal]]
    if state.get("symmetry") != structure:
        raise ValueError(f"no reference {structure} lattice for {metal}; give lattice_constant")
    a = float(state["a"])
    c = float(state["c/a"]) * a if structure == "hcp" else None
    return a, c


def bulk_cell(metal: str, structure: str, a: float, c: float | None = None, min_length: float = 0.0) -> Atoms:
    """Bulk cell: primitive, or a cubic/orthorhombic supercell at least ``min_length`` wide.

    ``min_length`` > 0 is for Gamma-point-only calculators (xtb), which need a supercell in
    place of k-points.
    """
    if min_length <= 0:
        return bulk(metal, structure, a=a, c=c)
    if structure in ("fcc", "bcc"):
        cell = bulk(metal, structure, a=a, cubic=True)
    else:
        cell = bulk(metal, structure, a=a, c=c, orthorhombic=True)
    lengths = cell.cell.lengths()
    reps = [max(1, int(np.ceil(min_length / L))) for L in lengths]
    return cell.repeat(reps)


def parse_facet(facet, structure: str) -> tuple[int, ...]:
    """'111' -> (1,1,1); '0001' -> (0,0,0,1); '10-10' -> (1,0,-1,0); also lists/tuples."""
    if isinstance(facet, (list, tuple)):
        idx = tuple(int(i) for i in facet)
    else:
        s = str(facet).strip().strip("()")
        digits: list[int] = []
        i = 0
        while i < len(s):
            if s[i] == "-":
                digits.append(-int(s[i + 1]))
                i += 2
            elif s[i].isdigit():
                digits.append(int(s[i]))
                i += 1
            elif s[i] in ", ":
                i += 1
            else:
                raise ValueError(f"cannot read facet {facet!r}; write e.g. '111', '100', '0001', '10-10'")
        idx = tuple(digits)
    if structure == "hcp":
        if len(idx) == 3:  # three-index (h k l) -> four-index (h k -(h+k) l)
            h, k, l = idx
            idx = (h, k, -(h + k), l)
        if len(idx) != 4 or idx[0] + idx[1] + idx[2] != 0:
            raise ValueError(f"hcp facet {facet!r}: give four Miller-Bravais indices with h+k+i=0, e.g. '0001'")
    elif len(idx) != 3:
        raise ValueError(f"{structure} facet {facet!r}: give three Miller indices, e.g. '111'")
    if not any(idx):
        raise ValueError(f"facet {facet!r}: Miller indices cannot all be zero")
    return idx


def facet_label(idx: tuple[int, ...]) -> str:
    return "".join(str(i) if i >= 0 else f"-{abs(i)}" for i in idx)


def _tag_layers(atoms: Atoms, tol: float = 0.3) -> int:
    """Tag atoms by layer from the top (1 = top) by clustering z; return the number of layers."""
    z = atoms.positions[:, 2]
    order = np.argsort(-z)
    tags = np.zeros(len(atoms), int)
    layer, zref = 0, None
    for i in order:
        if zref is None or zref - z[i] > tol:
            layer += 1
            zref = z[i]
        tags[i] = layer
    atoms.set_tags(tags)
    return layer


def metal_slab(
    metal: str,
    facet="111",
    size=(3, 3),
    layers: int = 4,
    vacuum: float = 7.5,
    a: float | None = None,
    c: float | None = None,
    fixed_layers: int = 2,
    structure: str | None = None,
) -> Atoms:
    """Slab of an fcc/bcc/hcp metal with the top surface along +z.

    ``vacuum`` is on each side (ase.build convention), ``fixed_layers`` bottom layers are fixed
    with ``FixAtoms`` (``fixed_layers == layers``: every slab atom, a frozen slab on which only
    adsorbates relax); lattice constants default to the experimental reference.
    """
    structure = structure or crystal_structure(metal)
    if structure not in _NAMED:
        raise ValueError(f"structure {structure!r}: use fcc, bcc or hcp")
    idx = parse_facet(facet, structure)
    if a is None:
        a, c_ref = reference_lattice(metal, structure)
        c = c if c is not None else c_ref
    if structure == "hcp" and c is None:
        c = a * float(reference_states[atomic_numbers[metal]].get("c/a", np.sqrt(8 / 3)))
    if layers < 2:
        raise ValueError("layers: a slab needs at least 2 layers")
    if not 0 <= fixed_layers <= layers:
        raise ValueError(f"fixed_layers={fixed_layers}: must be between 0 and layers ({layers}; = layers freezes "
                         "the whole slab)")
    size = tuple(int(n) for n in size)
    import ase.build

    name = _NAMED[structure].get(idx)
    if name is not None:
        kw = dict(size=(size[0], size[1], layers), a=a, vacuum=vacuum)
        if structure == "hcp":
            kw["c"] = c
        if name in ("fcc111", "hcp0001"):
            kw["orthogonal"] = False
        slab = getattr(ase.build, name)(metal, **kw)
    else:
        from ase.build import surface

        hkl = idx if structure != "hcp" else (idx[0], idx[1], idx[3])
        b = bulk(metal, structure, a=a, c=c)
        slab = surface(b, hkl, layers, vacuum=vacuum, periodic=True)
        slab = slab.repeat((size[0], size[1], 1))
    slab.info.pop("adsorbate_info", None)
    slab.pbc = (True, True, True)
    tags = slab.get_tags()
    if tags.min() >= 1 and tags.max() == layers:
        n_layers = layers
        fixed = tags > layers - fixed_layers
    else:
        # Stepped or high-index facets: atomic planes are closely spaced, so "layers" means
        # repeat units of the builder; fix the bottom fixed_layers/layers of the thickness.
        n_layers = _tag_layers(slab)
        z = slab.positions[:, 2]
        cut = z.min() + (z.max() - z.min()) * fixed_layers / layers
        fixed = z < cut - 1e-6 if fixed_layers else np.zeros(len(slab), bool)
        if fixed_layers == layers:
            fixed[:] = True
    if fixed_layers:
        from ase.constraints import FixAtoms  # (with ase.spacegroup: ~1 s of imports)

        slab.set_constraint(FixAtoms(mask=fixed))
    slab.info.update(
        {
            "catalyst": f"{metal}({facet_label(idx)})",
            "model": "slab",
            "metal": metal,
            "structure": structure,
            "facet": facet_label(idx),
            "size": list(size),
            "layers": int(n_layers),
            "vacuum": float(vacuum),
            "lattice_a": float(a),
            "fixed_layers": int(fixed_layers),
        }
    )
    if c is not None and structure == "hcp":
        slab.info["lattice_c"] = float(c)
    return slab


def single_atom_alloy(slab: Atoms, solute: str, index: int | None = None) -> Atoms:
    """Replace one top-layer atom of ``slab`` by ``solute`` (a single-atom alloy, e.g. Pd1Cu(111)).

    By default the top-layer atom closest to the in-plane centre of the cell is replaced.
    """
    if solute not in atomic_numbers or solute == "X":
        raise ValueError(f"solute: unknown element {solute!r}")
    out = slab.copy()
    tags = out.get_tags()
    top = np.flatnonzero(tags == 1)
    if index is None:
        centre = out.cell.cartesian_positions([0.5, 0.5, 0])[:2]
        d = np.linalg.norm(out.positions[top, :2] - centre, axis=1)
        index = int(top[np.argmin(d)])
    elif index not in set(top.tolist()):
        raise ValueError(f"index {index} is not a top-layer atom of the slab")
    host = out[index].symbol
    out[index].symbol = solute
    out.info = dict(slab.info)
    out.info.update(
        {
            "catalyst": f"{solute}1{host}({slab.info.get('facet', '')})",
            "model": "saa",
            "host": host,
            "solute": solute,
            "solute_index": int(index),
        }
    )
    return out
