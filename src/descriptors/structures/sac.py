"""Single-atom catalysts (SAC): a metal atom in N-doped graphene.

The classic model is M-N4: a metal atom in a graphene divacancy, bound in plane
to the four pyridinic N atoms that border the vacancy (the FeN4C10-type site;
Zitolo et al., Nat. Mater. 14, 937 (2015), doi:10.1038/nmat4367; Kattel & Wang,
J. Phys. Chem. Lett. 5, 452 (2014), doi:10.1021/jz402717r).  Variants: M-N3C1,
mixed first shells (N/O/S/P/B/C), and an axial ligand (Cl, OH, O) on the -z side.

Sheet conventions and the shared helpers are in :mod:`descriptors.structures.graphene`.
All geometries are *starting* geometries built from bond lengths; relax them with the
calculator you use for the screen before computing adsorption energies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from descriptors.structures.graphene import (
    GRAPHENE_A,
    _check_element,
    _check_no_overlap,
    _finish_cell,
    _neighbours,
    _sized,
    _TooSmall,
    graphene_sheet,
    metal_image_distance,
)

__all__ = [
    "GRAPHENE_A",
    "LIGANDS",
    "M_N_START",
    "graphene_sheet",
    "mn4_graphene",
    "metal_image_distance",
    "parse_coordination",
]

# --------------------------------------------------------------------------------------
# Literature numbers (starting geometry only)
# --------------------------------------------------------------------------------------

#: Initial M-N distance (A) of the in-plane MN4 site.  The unrelaxed divacancy puts
#: the four N at 1.88 A from the vacancy centre; EXAFS of FeN4 sites gives Fe-N close
#: to 2.0 A (Zitolo et al., Nat. Mater. 14, 937 (2015)).  1.93 A sits in between; the
#: N atoms are moved radially outward by at most _MAX_RADIAL_SHIFT to reach it.
M_N_START = 1.93
_MAX_RADIAL_SHIFT = 0.07

#: Cap on the initial metal-first-shell distance (A) for large heteroatoms (S, P).
_MAX_FIRST_SHELL = 2.25

#: Axial ligands: bond length from Fe (A) and the source.  Other metals are shifted by
#: the difference of covalent radii r(M) - r(Fe) (Cordero et al., Dalton Trans. 2008,
#: 2832, doi:10.1039/b801115j; the table in ase.data.covalent_radii).
#:   Cl: Fe(III)-Cl in five-coordinate chloro-iron porphyrins is 2.2-2.3 A, e.g.
#:       alpha-chlorohemin ~2.22 A (Koenig, Acta Cryst. 18, 663 (1965)); 2.25 A used.
#:   O:  Fe(IV)=O 1.646 A by X-ray crystallography of [Fe(O)(TMC)(NCCH3)]2+
#:       (Rohde et al., Science 299, 1037 (2003)).
#:   OH: Fe(III)-OH; starting value 1.85 A, the middle of the 1.8-1.9 A range of
#:       hydroxo-iron sites (no single reference adopted: a start value only).
#:       O-H 0.96 A and Fe-O-H 120 deg are generic starting values (gas-phase water
#:       r(OH) = 0.958 A, NIST CCCBDB).
LIGANDS: dict[str, dict] = {
    "Cl": {"bond": 2.25},
    "OH": {"bond": 1.85, "oh": 0.96, "angle": 120.0},
    "O": {"bond": 1.646},
}

_FIRST_SHELL_ALLOWED = ("B", "C", "N", "O", "F", "P", "S", "Si", "Se", "Cl")


# --------------------------------------------------------------------------------------
# Coordination shell
# --------------------------------------------------------------------------------------


def parse_coordination(coordination) -> list[str]:
    """First-shell element list (length 4) from the ``coordination`` argument.

    Accepted forms:

    * ``None`` or ``'N4'``: four N;
    * a formula string such as ``'N3C1'``, ``'N3C'``, ``'N2O1S1'`` (counts must add up
      to 4; elements are placed in the order written);
    * a sequence of four symbols, e.g. ``['N', 'N', 'O', 'S']``, one per first-shell
      position;
    * a mapping element -> count, e.g. ``{'N': 3, 'C': 1}``, or position -> element,
      e.g. ``{0: 'N', 1: 'N', 2: 'N', 3: 'P'}``.

    The four positions are ordered by polar angle around the metal, so neighbouring
    list entries are neighbouring atoms; entries 0 and 1 (and 2 and 3) border the same
    six-membered ring, entries 1 and 2 (and 3 and 0) the same five-membered ring, and
    entries 0 and 2 are trans to each other.
    """
    example = "'N4', 'N3C1' or ['N', 'N', 'O', 'S']"
    if coordination is None:
        shell = ["N"] * 4
    elif isinstance(coordination, str):
        parts = re.findall(r"([A-Z][a-z]?)(\d*)", coordination)
        if not parts or "".join(s + c for s, c in parts) != coordination:
            raise ValueError(
                f"coordination={coordination!r} is not a first-shell formula; use {example}"
            )
        shell = []
        for sym, count in parts:
            shell += [sym] * (int(count) if count else 1)
    elif isinstance(coordination, Mapping):
        keys = list(coordination)
        if all(isinstance(k, (int, np.integer)) for k in keys):
            if sorted(keys) != [0, 1, 2, 3]:
                raise ValueError(
                    f"coordination={coordination!r}: a position mapping needs keys 0..3"
                )
            shell = [coordination[k] for k in range(4)]
        else:
            shell = []
            for sym, count in coordination.items():
                if not isinstance(count, (int, np.integer)) or count < 0:
                    raise ValueError(
                        f"coordination={coordination!r}: counts must be non-negative integers"
                    )
                shell += [sym] * int(count)
    elif isinstance(coordination, Sequence):
        shell = list(coordination)
    else:
        raise ValueError(f"coordination={coordination!r} is not understood; use {example}")

    for sym in shell:
        _check_element(sym, "coordination", "N")
        if sym not in _FIRST_SHELL_ALLOWED:
            raise ValueError(
                f"coordination={coordination!r}: {sym!r} is not a supported first-shell "
                f"atom; use one of {', '.join(_FIRST_SHELL_ALLOWED)}"
            )
    if len(shell) != 4:
        raise ValueError(
            f"coordination={coordination!r} describes {len(shell)} first-shell atoms; "
            f"the divacancy site has 4 (e.g. 'N3C1' for M-N3 with one C)"
        )
    return shell


def _coordination_label(shell: Sequence[str]) -> str:
    """'N3C1', 'N2O1S1', ...: N first, then other elements in order of appearance."""
    order = sorted(dict.fromkeys(shell), key=lambda s: (s != "N", shell.index(s)))
    return "".join(f"{s}{shell.count(s)}" for s in order)


def _first_shell_distance(metal: str, sym: str) -> float:
    """Initial metal - first-shell distance: M_N_START shifted by covalent radii."""
    r = covalent_radii
    d = M_N_START + r[atomic_numbers[sym]] - r[atomic_numbers["N"]]
    return min(d, _MAX_FIRST_SHELL)


def _ligand_distance(metal: str, ligand: str) -> float:
    r = covalent_radii
    return LIGANDS[ligand]["bond"] + r[atomic_numbers[metal]] - r[atomic_numbers["Fe"]]


def _add_ligand(atoms: Atoms, metal_index: int, ligand: str) -> list[int]:
    """Append an axial ligand below (-z) the metal; return its atom indices."""
    metal = atoms[metal_index].symbol
    p = atoms.positions[metal_index]
    d = _ligand_distance(metal, ligand)
    start = len(atoms)
    if ligand == "Cl":
        atoms += Atoms("Cl", positions=[p - [0, 0, d]])
    elif ligand == "O":
        atoms += Atoms("O", positions=[p - [0, 0, d]])
    elif ligand == "OH":
        o = p - [0, 0, d]
        ang = math.radians(180.0 - LIGANDS["OH"]["angle"])
        doh = LIGANDS["OH"]["oh"]
        h = o + doh * np.array([math.sin(ang), 0.0, -math.cos(ang)])
        atoms += Atoms("OH", positions=[o, h])
    return list(range(start, len(atoms)))


def _check_ligand(ligand):
    if ligand is None:
        return None
    if ligand not in LIGANDS:
        raise ValueError(
            f"ligand={ligand!r} is not supported; use None or one of {sorted(LIGANDS)}"
        )
    return ligand


# --------------------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------------------


def _mn4_at(metal, shell, ligand, size, cell, vacuum) -> tuple[Atoms, dict]:
    sheet = graphene_sheet(size, cell=cell, vacuum=vacuum)
    nbrs, vec = _neighbours(sheet)
    # divacancy: the C-C bond whose midpoint is closest to the cell centre
    centre = sheet.cell[0] / 2 + sheet.cell[1] / 2
    pos = sheet.positions

    def mid(a, b):
        return pos[a] + vec[(a, b)] / 2

    A, B = min(
        ((a, b) for a in nbrs for b in nbrs[a] if a < b),
        key=lambda ab: (np.linalg.norm((mid(*ab) - centre)[:2]), ab),
    )
    m = mid(A, B)
    border = sorted({c for c in nbrs[A] + nbrs[B] if c not in (A, B)})
    if len(border) != 4:
        raise _TooSmall
    # vector metal -> border atom (minimum image through A or B)
    rel = {}
    for c in border:
        via = A if c in nbrs[A] else B
        rel[c] = pos[via] + vec[(via, c)] - m
    border.sort(key=lambda c: math.atan2(rel[c][1], rel[c][0]) % (2 * math.pi))

    new_pos = pos.copy()
    puckered = []
    for c, sym in zip(border, shell):
        u = rel[c] / np.linalg.norm(rel[c])
        r0 = float(np.linalg.norm(rel[c]))
        target = max(r0, _first_shell_distance(metal, sym))
        r_ip = min(target, r0 + _MAX_RADIAL_SHIFT)
        dz = 0.0
        if target - r_ip > 0.1:
            # large atoms (S, P, B) pucker out of the plane, on the +z side (the side
            # the axial ligand is not on), as in relaxed M-N3S/M-N3P sites.
            dz = math.sqrt(target**2 - r_ip**2)
            puckered.append(c)
        new_pos[c] = m + u * r_ip + [0, 0, dz]
    sheet.positions[:] = new_pos
    symbols = sheet.get_chemical_symbols()
    for c, sym in zip(border, shell):
        symbols[c] = sym
    sheet.set_chemical_symbols(symbols)
    shell_idx = [c for c in border]
    # remove the two vacancy atoms, then renumber
    keep = [k for k in range(len(sheet)) if k not in (A, B)]
    renum = {old: new for new, old in enumerate(keep)}
    atoms = sheet[keep]
    shell_idx = [renum[c] for c in shell_idx]
    puckered = [renum[c] for c in puckered]
    atoms += Atoms(metal, positions=[m])
    im = len(atoms) - 1
    lig_idx = _add_ligand(atoms, im, ligand) if ligand else []
    _finish_cell(atoms, vacuum)
    return atoms, {"im": im, "shell_idx": shell_idx, "ligand_idx": lig_idx,
                   "size": [int(size[0]), int(size[1])]}


def mn4_graphene(
    metal: str = "Fe",
    size: Sequence[int] | None = None,
    *,
    coordination=None,
    ligand: str | None = None,
    vacuum: float = 15.0,
    min_image_distance: float = 9.8,
    cell: str = "hexagonal",
) -> Atoms:
    """Metal in a graphene divacancy bound to four first-shell atoms (M-N4 and variants).

    Parameters
    ----------
    metal:
        Element symbol of the single atom.
    size:
        Graphene supercell ``(n, m)`` in units of the ``cell`` lattice (see
        :func:`graphene_sheet`).  Default ``None``: the smallest supercell (fewest
        atoms) whose metal-metal distance between periodic images is at least
        ``min_image_distance``; for the hexagonal cell and 9.8 A that is 4x4
        (image distance 9.84 A, MN4C26, 31 atoms).  A hexagonal ``(n, n)`` cell
        holds 2n^2 C sites; the MN4 model has formula M N4 C(2n^2 - 6).
    coordination:
        First shell, default ``'N4'``; ``'N3C1'`` (M-N3), mixed shells like
        ``'N2O1S1'`` or ``['N', 'N', 'O', 'S']`` (see :func:`parse_coordination`
        for the position order).  Stored in ``info['coordination']`` as a formula
        such as ``'N3C1'``.
    ligand:
        ``None``, ``'Cl'``, ``'OH'`` or ``'O'``: an axial ligand on the -z side of the
        metal (the +z side stays free for adsorbates).  Ligand atoms are part of the
        model; their indices are ``info['ligand']``.
    vacuum:
        Total vacuum (A) added to the model's thickness along z; the model is centred.
    min_image_distance:
        Only used when ``size`` is None.
    cell:
        ``'hexagonal'`` (default) or ``'rectangular'`` graphene supercell.

    Geometry: the four atoms that bordered the divacancy are moved radially outward
    (by at most 0.07 A) to an initial M-N of 1.93 A; first-shell atoms larger than N
    (S, P, B) that cannot reach their bond length in plane pucker towards +z.  The
    metal sits at the divacancy centre in the plane.  Relax before use.
    """
    _check_element(metal, "metal", "Fe")
    shell = parse_coordination(coordination)
    ligand = _check_ligand(ligand)
    extra: dict = {}

    def build(sz):
        atoms, meta = _mn4_at(metal, shell, ligand, sz, cell, vacuum)
        atoms.info["active"] = [meta["im"]]
        extra["meta"] = meta
        return atoms

    atoms = _sized(build, size, min_image_distance, cell,
                   "a divacancy site; use at least (3, 3) (hexagonal) or (2, 2) (rectangular)")
    meta = extra["meta"]
    _check_no_overlap(atoms)
    label = _coordination_label(shell)
    name = f"{metal}-{label}" + (f"({ligand})" if ligand else "") + "/graphene"
    atoms.info = {
        "catalyst": name,
        "model": "sac",
        "active": [int(meta["im"])],
        "metals": [metal],
        "support": "graphene",
        "coordination": label,
        "first_shell": list(shell),
        "first_shell_indices": [int(k) for k in meta["shell_idx"]],
        "ligand": [int(k) for k in meta["ligand_idx"]],
        "ligand_species": ligand,
        "size": meta["size"],
        "cell_type": cell,
        "lattice_a": GRAPHENE_A,
        "vacuum": float(vacuum),
        "min_image_distance": float(min_image_distance),
        "image_distance": round(metal_image_distance(atoms, [meta["im"]]), 4),
        "builder": "descriptors.sac.mn4_graphene",
    }
    return atoms
