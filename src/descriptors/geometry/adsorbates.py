"""Adsorbate library of the NO3RR network (every surface species of analysis/data/networks.toml) and
placement on sites.

Each adsorbate is a small ``Atoms`` in a local frame: the binding atom(s) at z = 0 and the rest of
the molecule pointing up (+z).  A *binding mode* names the binding atoms ('N', 'O', 'O,O') and the
site kinds it makes chemical sense on; bidentate modes (two binding atoms) go on a pair of sites.

Initial geometries are textbook gas-phase bond lengths and angles (NIST CCCBDB experimental
geometries, https://cccbdb.nist.gov, rounded to 0.01 A); relaxation refines them.  The initial
adsorbate-surface distance is the sum of covalent radii (Cordero et al., Dalton Trans. 2008,
2832, as tabulated in ``ase.data.covalent_radii``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii

from descriptors.geometry.site_model import Site, SitePair, site_position

__all__ = [
    "BindingMode",
    "Adsorbate",
    "ADSORBATES",
    "ALIASES",
    "get_adsorbate",
    "place",
    "place_bidentate",
    "adsorbate_formula_counts",
]

MONO_ALL = ("top", "bridge", "hollow")


@dataclass(frozen=True)
class BindingMode:
    name: str  # e.g. 'N', 'O', 'O,O'
    binding: tuple[int, ...]  # indices of the binding atoms in the adsorbate
    sites: tuple[str, ...]  # site kinds ('top', 'bridge', 'hollow'); bidentate modes use pairs

    @property
    def bidentate(self) -> bool:
        return len(self.binding) == 2


@dataclass(frozen=True)
class Adsorbate:
    name: str
    symbols: str
    positions: tuple[tuple[float, float, float], ...]
    modes: tuple[BindingMode, ...]
    description: str = ""

    def atoms(self, mode: BindingMode | str | None = None) -> Atoms:
        """The adsorbate in its local frame for ``mode`` (binding atoms at z=0)."""
        mode = self.mode(mode)
        pos = np.array(self.positions, float)
        if mode.bidentate:
            pos = _bidentate_frame(pos, mode.binding)
        else:
            pos = pos - pos[mode.binding[0]]
        return Atoms(self.symbols, positions=pos)

    def mode(self, mode: BindingMode | str | None = None) -> BindingMode:
        if isinstance(mode, BindingMode):
            return mode
        if mode is None:
            return self.modes[0]
        for m in self.modes:
            if m.name == mode:
                return m
        raise ValueError(f"{self.name}: no binding mode {mode!r}; modes are {[m.name for m in self.modes]}")

    def binding_distance(self, mode: BindingMode | str) -> float:
        """Distance between the two binding atoms of a bidentate mode."""
        m = self.mode(mode)
        pos = np.array(self.positions)
        return float(np.linalg.norm(pos[m.binding[0]] - pos[m.binding[1]]))

    @property
    def formula_counts(self) -> dict[str, int]:
        return adsorbate_formula_counts(self.symbols)


def adsorbate_formula_counts(symbols: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in Atoms(symbols).get_chemical_symbols():
        counts[s] = counts.get(s, 0) + 1
    return counts


def _bidentate_frame(pos: np.ndarray, binding: tuple[int, int]) -> np.ndarray:
    """Put the two binding atoms on the x axis at +-d/2 (z=0) and the rest above."""
    a, b = pos[binding[0]], pos[binding[1]]
    mid = 0.5 * (a + b)
    x = (b - a) / np.linalg.norm(b - a)
    rest = [i for i in range(len(pos)) if i not in binding]
    up = pos[rest].mean(axis=0) - mid if rest else np.array([0.0, 0.0, 1.0])
    up = up - np.dot(up, x) * x
    if np.linalg.norm(up) < 1e-6:
        up = np.cross(x, [0.0, 1.0, 0.0])
    z = up / np.linalg.norm(up)
    y = np.cross(z, x)
    R = np.array([x, y, z])
    return (pos - mid) @ R.T


def _d(deg: float) -> float:
    return np.radians(deg)


def _build_library() -> dict[str, Adsorbate]:
    lib: dict[str, Adsorbate] = {}

    def add(name, symbols, positions, modes, description=""):
        lib[name] = Adsorbate(name, symbols, tuple(tuple(map(float, p)) for p in positions), tuple(modes), description)

    # Atoms
    add("H", "H", [(0, 0, 0)], [BindingMode("H", (0,), MONO_ALL)], "hydrogen (HER competitor)")
    add("N", "N", [(0, 0, 0)], [BindingMode("N", (0,), MONO_ALL)], "atomic nitrogen")
    add("O", "O", [(0, 0, 0)], [BindingMode("O", (0,), MONO_ALL)], "atomic oxygen")
    # Diatomics, upright
    add("OH", "OH", [(0, 0, 0), (0, 0, 0.97)], [BindingMode("O", (0,), MONO_ALL)], "hydroxyl")
    add("NH", "NH", [(0, 0, 0), (0, 0, 1.04)], [BindingMode("N", (0,), MONO_ALL)], "imide")
    add("NO", "NO", [(0, 0, 0), (0, 0, 1.15)], [BindingMode("N", (0,), MONO_ALL)], "nitric oxide, N-down")
    # NH2: H-N-H 103 deg, N-H 1.02
    t = _d(103 / 2)
    add("NH2", "NH2", [(0, 0, 0), (1.02 * np.sin(t), 0, 1.02 * np.cos(t)), (-1.02 * np.sin(t), 0, 1.02 * np.cos(t))],
        [BindingMode("N", (0,), ("top", "bridge", "hollow"))], "amide")
    # NH3: N-H 1.01, H-N-H 106.7 deg -> N-H makes 112.2 deg with the C3 axis; lone pair to the surface
    th = _d(180 - 112.2)
    add("NH3", "NH3", [(0, 0, 0)] + [(1.01 * np.sin(th) * np.cos(p), 1.01 * np.sin(th) * np.sin(p), 1.01 * np.cos(th))
                                    for p in (0, 2 * np.pi / 3, 4 * np.pi / 3)],
        [BindingMode("N", (0,), ("top",))], "ammonia, N-down on top")
    # NOH: N-bound, N-O 1.36, O-H 0.97, N-O-H 105 deg
    add("NOH", "NOH", [(0, 0, 0), (0, 0, 1.36), (0.97 * np.sin(_d(75)), 0, 1.36 + 0.97 * np.cos(_d(75)))],
        [BindingMode("N", (0,), MONO_ALL)], "N-bound NOH (hydrogenated at O)")
    # HNO (= NHO): N-bound, N=O 1.21, N-H 1.06, H-N-O 108.6 deg (CCCBDB HNO)
    add("HNO", "NOH", [(0, 0, 0), (1.21 * np.sin(_d(55)), 0, 1.21 * np.cos(_d(55))),
                       (-1.06 * np.sin(_d(53.6)), 0, 1.06 * np.cos(_d(53.6)))],
        [BindingMode("N", (0,), MONO_ALL)], "N-bound HNO (NHO, hydrogenated at N)")
    # NHOH: N-bound, N-O 1.42, N-H 1.02, O-H 0.97
    o = np.array([1.42 * np.sin(_d(55)), 0, 1.42 * np.cos(_d(55))])
    add("NHOH", "NOHH", [(0, 0, 0), o, o + 0.97 * np.array([0, 0.8, 0.6]),
                         (-1.02 * np.sin(_d(55)), 0, 1.02 * np.cos(_d(55)))],
        [BindingMode("N", (0,), ("top", "bridge"))], "N-bound NHOH (hydroxylamine branch)")
    # NH2OH: N-bound; N-O 1.45, N-H 1.02 (tetrahedral N, lone pair to the surface), O-H 0.96
    tn = _d(180 - 109.5)
    o = np.array([1.45 * np.sin(tn), 0, 1.45 * np.cos(tn)])
    hs = [1.02 * np.array([np.sin(tn) * np.cos(p), np.sin(tn) * np.sin(p), np.cos(tn)]) for p in (2 * np.pi / 3, 4 * np.pi / 3)]
    add("NH2OH", "NOHHH", [(0, 0, 0), o, o + 0.96 * np.array([-0.113, 0, 0.994]), hs[0], hs[1]],
        [BindingMode("N", (0,), ("top",))], "hydroxylamine, N-bound on top")
    # NO2: N-O 1.19, O-N-O 134 deg (CCCBDB NO2)
    h = _d(134 / 2)
    add("NO2", "NO2", [(0, 0, 0), (1.19 * np.sin(h), 0, 1.19 * np.cos(h)), (-1.19 * np.sin(h), 0, 1.19 * np.cos(h))],
        [BindingMode("N", (0,), MONO_ALL), BindingMode("O,O", (1, 2), ("pair",))],
        "nitrite/NO2: N-bound or O,O-bidentate")
    # NO3: planar D3h, N-O 1.25; modes: bidentate through two O, monodentate through one O
    r = 1.25
    add("NO3", "NO3", [(0, 0, 1.30), (0, 0, 0),
                       (r * np.sin(_d(60)), 0, 1.30 + r * np.cos(_d(60))),
                       (-r * np.sin(_d(60)), 0, 1.30 + r * np.cos(_d(60)))],
        [BindingMode("O,O", (2, 3), ("pair",)), BindingMode("O", (1,), ("top", "bridge"))],
        "nitrate: O,O-bidentate or O-monodentate")
    # NO3H (= HNO3 on the surface): the nitrate frame with H on the third O (O-H 0.96 A, N-O-H 102 deg,
    # CCCBDB HNO3); binds through a free O, or O,O-bidentate through the two free O
    n_, o3 = np.array([0, 0, 1.30]), np.array([-r * np.sin(_d(60)), 0, 1.30 + r * np.cos(_d(60))])
    u = (n_ - o3) / np.linalg.norm(n_ - o3)
    rot = _d(102)
    h3 = o3 + 0.96 * np.array([u[0] * np.cos(rot) + u[2] * np.sin(rot), 0, -u[0] * np.sin(rot) + u[2] * np.cos(rot)])
    add("NO3H", "NO3H", [tuple(n_), (0, 0, 0), (r * np.sin(_d(60)), 0, 1.30 + r * np.cos(_d(60))), tuple(o3),
                         tuple(h3)],
        [BindingMode("O", (1,), ("top", "bridge")), BindingMode("O,O", (1, 2), ("pair",))],
        "protonated nitrate (*HNO3), intermediate of *NO3 -> *NO2 split into 1e steps; O- or O,O-bound")
    # NO2H (= HNO2, HONO on the surface): N-bound; N=O 1.17, N-O(H) 1.43, O-N-O 111 deg, O-H 0.98 (CCCBDB HONO)
    h = _d(111 / 2)
    oh = np.array([-1.43 * np.sin(h), 0, 1.43 * np.cos(h)])
    add("NO2H", "NO2H", [(0, 0, 0), (1.17 * np.sin(h), 0, 1.17 * np.cos(h)), tuple(oh), tuple(oh + [0, 0, 0.98])],
        [BindingMode("N", (0,), MONO_ALL)], "protonated nitrite (*HNO2), intermediate of *NO2 -> *NO in 1e steps; N-bound")
    # H2NO (NH2O): O-bound; N-O 1.28, N-H 1.01 (H2NO radical), H on N pointing up and out
    add("H2NO", "ONHH", [(0, 0, 0), (0, 0, 1.28), (0.87, 0, 1.28 + 0.505), (-0.87, 0, 1.28 + 0.505)],
        [BindingMode("O", (0,), MONO_ALL)], "NH2O, O-bound (the *HNO -> *H2NO -> *NH2OH branch)")
    # N2O: linear N-N-O, N-N 1.13, N-O 1.19 (CCCBDB), terminal-N down
    add("N2O", "NNO", [(0, 0, 0), (0, 0, 1.13), (0, 0, 2.32)], [BindingMode("N", (0,), MONO_ALL)],
        "nitrous oxide, terminal N down (N-N coupling product)")
    # N2: N-N 1.10 (CCCBDB), upright
    add("N2", "NN", [(0, 0, 0), (0, 0, 1.10)], [BindingMode("N", (0,), MONO_ALL)], "dinitrogen, end-on")
    return lib


ADSORBATES: dict[str, Adsorbate] = _build_library()
# Other spellings of the same adsorbate only (never another species: NH4+ is not *NH3).
ALIASES = {"NHO": "HNO", "NO3-": "NO3", "NO2-": "NO2", "HNO3": "NO3H", "HNO2": "NO2H", "NH2O": "H2NO"}


def get_adsorbate(name: str) -> Adsorbate:
    key = ALIASES.get(name.lstrip("*"), name.lstrip("*"))
    try:
        return ADSORBATES[key]
    except KeyError:
        raise ValueError(f"unknown adsorbate {name!r}; known: {', '.join(ADSORBATES)}") from None


def _bond_length(x: str, m: str) -> float:
    return float(covalent_radii[atomic_numbers[x]] + covalent_radii[atomic_numbers[m]])


def _height(site_atoms_xyz: np.ndarray, site_symbols: list[str], xy: np.ndarray, binder: str) -> float:
    """Height above the site plane that puts the binding atom at a covalent bond length."""
    lateral = np.linalg.norm(site_atoms_xyz[:, :2] - xy[None, :2], axis=1)
    j = int(np.argmin(lateral))
    d = _bond_length(binder, site_symbols[j])
    return float(np.sqrt(max(d * d - lateral[j] ** 2, 0.9**2)))


def _site_atoms(slab: Atoms, site: Site) -> tuple[np.ndarray, list[str]]:
    xyz = np.array([slab.positions[i] + np.dot(off, slab.cell) for i, off in zip(site.indices, site.offsets)])
    return xyz, [slab[i].symbol for i in site.indices]


def _frame(normal, xdir) -> np.ndarray:
    z = np.asarray(normal, float)
    z = z / np.linalg.norm(z)
    x = np.asarray(xdir, float) - np.dot(xdir, z) * z
    if np.linalg.norm(x) < 1e-8:
        x = np.cross(z, [0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.cross(z, [1.0, 0.0, 0.0])
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.array([x, y, z])


def _finish(slab: Atoms, ads_atoms: Atoms, adsorbate: Adsorbate, mode: BindingMode, site_label: str,
            site_indices) -> Atoms:
    out = slab.copy()
    n0 = len(out)
    out += ads_atoms
    out.info = dict(slab.info)
    out.info.update(
        {
            "adsorbate": adsorbate.name,
            "binding": mode.name,
            "site": site_label,
            "site_indices": [int(i) for i in site_indices],
            "adsorbate_indices": list(range(n0, len(out))),
            "binding_indices": [n0 + i for i in mode.binding],
        }
    )
    return out


def place(slab: Atoms, adsorbate: Adsorbate | str, site: Site, mode: BindingMode | str | None = None) -> Atoms:
    """Put a monodentate adsorbate on ``site`` of ``slab`` (site recomputed on this slab)."""
    ads = get_adsorbate(adsorbate) if isinstance(adsorbate, str) else adsorbate
    mode = ads.mode(mode)
    if mode.bidentate:
        raise ValueError(f"{ads.name} mode {mode.name!r} is bidentate: use place_bidentate with a SitePair")
    pos = site_position(slab, site)
    xyz, syms = _site_atoms(slab, site)
    local = ads.atoms(mode)
    h = _height(xyz, syms, pos, local[mode.binding[0]].symbol)
    R = _frame(site.normal, slab.cell[0])
    local.positions = local.positions @ R + pos + h * R[2]
    return _finish(slab, local, ads, mode, site.label, site.indices)


def place_bidentate(slab: Atoms, adsorbate: Adsorbate | str, pair: SitePair, mode: BindingMode | str | None = None) -> Atoms:
    """Put a bidentate adsorbate (e.g. NO3 through O,O) across a pair of sites.

    The binding atoms straddle the midpoint of the two sites along the line joining them; for a
    chelating pair (both entries the same site) they straddle the one site.
    """
    ads = get_adsorbate(adsorbate) if isinstance(adsorbate, str) else adsorbate
    mode = ads.mode(mode)
    if not mode.bidentate:
        raise ValueError(f"{ads.name} mode {mode.name!r} is not bidentate: use place")
    p1 = site_position(slab, pair.first)
    p2 = site_position(slab, pair.second)
    mid = 0.5 * (p1 + p2)
    normal = np.asarray(pair.first.normal, float)
    xdir = p2 - p1 if np.linalg.norm(p2 - p1) > 0.3 else slab.cell[0]
    R = _frame(normal, xdir)
    local = ads.atoms(mode)
    x1, s1 = _site_atoms(slab, pair.first)
    x2, s2 = _site_atoms(slab, pair.second)
    xyz = np.vstack([x1, x2])
    syms = s1 + s2
    hs = []
    for b in mode.binding:
        lateral_target = mid + local.positions[b] @ R
        hs.append(_height(xyz, syms, lateral_target, local[b].symbol))
    local.positions = local.positions @ R + mid + max(hs) * R[2]
    indices = tuple(dict.fromkeys(pair.first.indices + pair.second.indices))
    return _finish(slab, local, ads, mode, pair.label, indices)
