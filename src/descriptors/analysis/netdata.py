"""Reaction networks as data: load and validate ``networks.toml`` (or a user file of that format).

The file format is documented at the top of ``networks.toml``.  Loading checks everything that can
be checked without energies and fails with a message naming the offending species, step or
network: unknown kind or phase, unknown species, atoms / charge / sites not balanced, averaged
steps whose 1e steps are missing, networks that reference unknown steps.

Formation free energies are turned into free energies on the package's atomic scale
(mu_H = 1/2 G(H2), mu_O = G(H2O) - G(H2), mu_N = G(NH3) - 3/2 G(H2), references.py): the element
potentials are solved from the reference species named in ``[references]`` (H2(g), H2O(l),
NH3(g)), so that those species sit at 0 and e.g. NO3-(aq) sits at X = 8 e E0(NO3-/NH3) at pH 0,
the ``equilibrium`` nitrate reference of the current package.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "DEFAULT_CORRECTIONS",
    "DEFAULT_FILE",
    "KINDS",
    "PHASES",
    "Network",
    "NetworkError",
    "Species",
    "Step",
    "element_potentials_kJ",
    "load_network",
    "load_networks",
    "missing_corrections",
    "parse_formula",
    "require_corrections",
]

DEFAULT_FILE = Path(__file__).parent / "data" / "networks.toml"
DEFAULT_CORRECTIONS = Path(__file__).parent / "data" / "free_energy_corrections.json"
KINDS = ("electrochemical", "chemical", "desorption", "coupling", "adsorption")
PHASES = ("ads", "site", "aq", "g", "l")
# Atomic-scale references (references.py): these species are 0 on the scale, which fixes mu_H, mu_O, mu_N.
REFERENCE_SPECIES = {"H": "H2(g)", "O": "H2O(l)", "N": "NH3(g)"}


class NetworkError(ValueError):
    """A network file that cannot be used; the message names what is wrong and where."""


def parse_formula(text: str) -> dict[str, int]:
    """'NH2OH' -> {'N': 1, 'H': 3, 'O': 1}; '' -> {} (the bare site)."""
    if text and not re.fullmatch(r"(?:[A-Z][a-z]?\d*)+", text):
        raise NetworkError(f"formula {text!r} is not of the form 'NH2OH'")
    out: dict[str, int] = {}
    for el, n in re.findall(r"([A-Z][a-z]?)(\d*)", text):
        out[el] = out.get(el, 0) + (int(n) if n else 1)
    return out


@dataclass(frozen=True)
class Species:
    name: str
    formula: Mapping[str, int]
    charge: int
    phase: str
    dGf_kJ_per_mol: float | None = None  # None: adsorbate, site, or a value not available (see `missing`)
    source: str = ""
    reservoir: bool = False
    group: str | None = None
    aliases: tuple[str, ...] = ()
    missing: str = ""
    note: str = ""
    verified: bool = True  # False: the formation free energy could not be checked against its source

    @property
    def adsorbate(self) -> bool:
        return self.phase == "ads"

    @property
    def sites(self) -> int:
        return 1 if self.phase in ("ads", "site") else 0

    def count(self, element: str) -> int:
        return self.formula.get(element, 0)


@dataclass(frozen=True)
class Step:
    id: str
    initial: tuple[str, ...]
    final: tuple[str, ...]
    electrons: int  # consumed; negative when released (e.g. NO3-(aq) + * -> *NO3 + e-)
    protons: int  # H+ consumed
    kind: str
    equation: str
    branch: str | None = None
    split_via: str | None = None

    def label_with(self, reservoir: set[str]) -> str:
        def side(xs):
            return "+".join(x for x in xs if x not in reservoir) or "*"
        return f"{side(self.initial)}->{side(self.final)}"


@dataclass(frozen=True)
class Network:
    name: str
    description: str
    reactant: str
    tracked_element: str
    target: str
    products: tuple[str, ...]
    competing: tuple[str, ...]
    steps: tuple[Step, ...]
    species: Mapping[str, Species]
    sources: Mapping[str, str]
    path: str = ""
    reference_product: str | None = None
    reference_proxy: str | None = None
    _alias: Mapping[str, str] = field(default_factory=dict, repr=False)

    def canonical(self, name: str) -> str:
        """Species name as the network spells it (aliases such as '*HNO3' -> '*NO3H')."""
        n = str(name).strip()
        for cand in (n, "*" + n) if not n.startswith("*") else (n,):
            if cand in self.species and (cand == n or self.species[cand].adsorbate):
                return cand
            if cand in self._alias:
                return self._alias[cand]
        raise NetworkError(f"network {self.name}: unknown species {name!r}; known adsorbates: "
                           + ", ".join(s for s, sp in self.species.items() if sp.adsorbate))

    @cached_property
    def reservoir(self) -> frozenset[str]:
        """The reservoir species (water ...): computed once, asked for in every step of every walk."""
        return frozenset(s for s, sp in self.species.items() if sp.reservoir)

    @cached_property
    def step_by_id(self) -> Mapping[str, Step]:
        return MappingProxyType({st.id: st for st in self.steps})

    @cached_property
    def followed(self) -> Mapping[str, str | None]:
        """Step id -> the species a walk follows after it: its final species (not reservoir) richest
        in the tracked element (None if it has none)."""
        out = {}
        for st in self.steps:
            nxt = sorted((x for x in st.final if x not in self.reservoir),
                         key=lambda x: -self.species[x].count(self.tracked_element))
            out.setdefault(st.id, nxt[0] if nxt else None)
        return MappingProxyType(out)

    @cached_property
    def step_labels(self) -> Mapping[str, str]:
        """Step id -> its label (reservoir species left out)."""
        return MappingProxyType({st.id: st.label_with(self.reservoir) for st in self.steps})

    @cached_property
    def memo(self) -> dict:
        """Scratch space for what routes.py derives from the network's structure alone (the order of
        a route's steps, the exits of an intermediate): a product map asks the same 625 times."""
        return {}

    def label(self, step: Step) -> str:
        return self.step_labels[step.id] if self.step_by_id.get(step.id) is step else step.label_with(self.reservoir)

    def group_of(self, species: str) -> str | None:
        return self.species[species].group

    def adsorbates(self) -> list[str]:
        used = {s for st in self.steps for s in st.initial + st.final}
        return [s for s, sp in self.species.items() if sp.adsorbate and s in used]


def _species(name: str, raw: dict, sources: Mapping[str, str]) -> Species:
    where = f"species {name!r}"
    phase = raw.get("phase")
    if phase not in PHASES:
        raise NetworkError(f"{where}: phase {phase!r} unknown; use one of {PHASES}")
    formula = parse_formula(str(raw.get("formula", "")))
    dgf = raw.get("dGf_kJ_per_mol")
    if phase not in ("ads", "site"):
        if dgf is None and not raw.get("missing"):
            raise NetworkError(f"{where}: needs dGf_kJ_per_mol with its source (or `missing` saying why not)")
        if dgf is not None and raw.get("source") not in sources:
            raise NetworkError(f"{where}: source {raw.get('source')!r} is not a key of [sources]")
    elif dgf is not None:
        raise NetworkError(f"{where}: an adsorbate's free energy comes from the calculation, not from the file")
    return Species(name, MappingProxyType(formula), int(raw.get("charge", 0)), phase,
                   None if dgf is None else float(dgf), sources.get(raw.get("source", ""), ""),
                   bool(raw.get("reservoir", False)), raw.get("group"), tuple(raw.get("aliases", ())),
                   str(raw.get("missing", "")), str(raw.get("note", "")), bool(raw.get("verified", True)))


def _step(sid: str, raw: dict, species: Mapping[str, Species]) -> Step:
    eq = raw.get("equation", "")
    where = f"step {sid!r} ({eq})" if eq else f"step {sid!r}"
    for key in ("initial", "final", "electrons", "protons", "kind", "equation"):
        if key not in raw:
            raise NetworkError(f"{where}: missing {key!r}")
    if raw["kind"] not in KINDS:
        raise NetworkError(f"{where}: kind {raw['kind']!r} unknown; use one of {', '.join(KINDS)}")
    ini, fin = tuple(raw["initial"]), tuple(raw["final"])
    for s in ini + fin:
        if s not in species:
            raise NetworkError(f"{where}: unknown species {s!r} (add it to [species])")
    ne, npr = raw["electrons"], raw["protons"]
    if not all(isinstance(v, int) for v in (ne, npr)):
        raise NetworkError(f"{where}: electrons and protons must be integers")
    if raw["kind"] == "electrochemical" and ne == 0:
        raise NetworkError(f"{where}: kind 'electrochemical' but no electron is transferred")

    def atoms(xs, extra_h=0):
        out: dict[str, int] = {}
        for s in xs:
            for el, n in species[s].formula.items():
                out[el] = out.get(el, 0) + n
        if extra_h:
            out["H"] = out.get("H", 0) + extra_h
        return {k: v for k, v in out.items() if v}

    a0, a1 = atoms(ini, npr), atoms(fin)
    if a0 != a1:
        raise NetworkError(f"{where}: atoms not balanced: initial + {npr} H+ gives {a0}, final gives {a1}")
    q0 = sum(species[s].charge for s in ini) + npr - ne
    q1 = sum(species[s].charge for s in fin)
    if q0 != q1:
        raise NetworkError(f"{where}: charge/electrons not balanced: initial + {npr} H+ - {ne} e- has charge {q0}, "
                           f"final has {q1}")
    s0, s1 = sum(species[s].sites for s in ini), sum(species[s].sites for s in fin)
    if s0 != s1:
        raise NetworkError(f"{where}: sites not balanced ({s0} -> {s1}); write the free site '*' explicitly")
    split = raw.get("split_via")
    if split is not None and (split not in species or not species[split].adsorbate):
        raise NetworkError(f"{where}: split_via {split!r} is not an adsorbate species")
    return Step(sid, ini, fin, ne, npr, raw["kind"], eq, raw.get("branch"), split)


def _network_steps(name: str, nets: dict, steps: Mapping[str, Step], stack: tuple[str, ...] = ()) -> list[str]:
    if name in stack:
        raise NetworkError(f"network {name!r}: 'extends' forms a cycle ({' -> '.join(stack + (name,))})")
    if name not in nets:
        raise NetworkError(f"network {name!r} unknown; defined: {', '.join(nets)}")
    raw = nets[name]
    if "steps" in raw:
        ids = list(raw["steps"])
    elif "extends" in raw:
        ids = _network_steps(raw["extends"], nets, steps, stack + (name,))
        for d in raw.get("drop", []):
            if d not in ids:
                raise NetworkError(f"network {name!r}: drop {d!r} is not a step of {raw['extends']}")
        ids = [i for i in ids if i not in set(raw.get("drop", []))] + list(raw.get("add", []))
    else:
        raise NetworkError(f"network {name!r}: give `steps` or `extends`")
    for i in ids:
        if i not in steps:
            raise NetworkError(f"network {name!r}: unknown step {i!r}")
    if len(set(ids)) != len(ids):
        raise NetworkError(f"network {name!r}: a step is listed twice")
    return ids


def _build(name: str, raw: dict, ids: list[str], steps: Mapping[str, Step], species: Mapping[str, Species],
           sources: Mapping[str, str], path: str) -> Network:
    where = f"network {name!r}"
    for key in ("reactant", "tracked_element", "target", "products"):
        if key not in raw:
            raise NetworkError(f"{where}: missing {key!r}")
    if raw["reactant"] not in species:
        raise NetworkError(f"{where}: reactant {raw['reactant']!r} is not a species")
    groups = {sp.group for sp in species.values() if sp.group}
    for g in list(raw["products"]) + list(raw.get("competing", [])) + [raw["target"]]:
        if g not in groups:
            raise NetworkError(f"{where}: product group {g!r} has no species (set `group` on a species)")
    chosen = tuple(steps[i] for i in ids)
    for st in chosen:
        if st.split_via:
            to = [s for s in chosen if st.initial[0] in s.initial and st.split_via in s.final]
            fro = [s for s in chosen if st.split_via in s.initial and set(st.final) <= set(s.final)]
            if not to or not fro:
                raise NetworkError(f"{where}: step {st.id!r} is split via {st.split_via} but the network lacks "
                                   f"the 1e steps into and out of it")
    for key in ("reference_product", "reference_proxy"):
        if key in raw and (raw[key] not in species or species[raw[key]].dGf_kJ_per_mol is None):
            raise NetworkError(f"{where}: {key} {raw[key]!r} is not a species with a formation free energy")
    alias = {a: s for s, sp in species.items() for a in sp.aliases}
    return Network(name, raw.get("description", ""), raw["reactant"], raw["tracked_element"], raw["target"],
                   tuple(raw["products"]), tuple(raw.get("competing", ())), chosen, species, sources, path,
                   raw.get("reference_product"), raw.get("reference_proxy"), MappingProxyType(alias))


def load_networks(path: str | Path | None = None) -> dict[str, Network]:
    """Every network of a network file (the package's ``networks.toml`` by default), validated."""
    path = Path(path) if path else DEFAULT_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise NetworkError(f"network file {str(path)!r} not found") from None
    except tomllib.TOMLDecodeError as err:
        raise NetworkError(f"network file {path}: not valid TOML ({err})") from None
    sources = MappingProxyType(dict(raw.get("sources", {})))
    species = MappingProxyType({n: _species(n, r, sources) for n, r in raw.get("species", {}).items()})
    for ref in REFERENCE_SPECIES.values():
        if ref not in species or species[ref].dGf_kJ_per_mol is None:
            raise NetworkError(f"network file {path}: reference species {ref!r} needs a formation free energy")
    steps = MappingProxyType({i: _step(i, r, species) for i, r in raw.get("steps", {}).items()})
    nets = raw.get("networks", {})
    if not nets:
        raise NetworkError(f"network file {path}: no [networks.<name>] table")
    return {n: _build(n, r, _network_steps(n, nets, steps), steps, species, sources, str(path))
            for n, r in nets.items()}


def load_network(name: str = "NO3RR", path: str | Path | None = None) -> Network:
    nets = load_networks(path)
    if name not in nets:
        raise NetworkError(f"network {name!r} not in {path or DEFAULT_FILE}; defined: {', '.join(nets)}")
    return nets[name]


def element_potentials_kJ(net: Network) -> dict[str, float]:
    """mu_H, mu_O, mu_N (kJ/mol, formation scale) that put the reference species at 0."""
    g = {el: net.species[s].dGf_kJ_per_mol for el, s in REFERENCE_SPECIES.items()}
    f = {el: net.species[s].formula for el, s in REFERENCE_SPECIES.items()}
    mu_h = g["H"] / f["H"]["H"]
    mu_o = (g["O"] - f["O"].get("H", 0) * mu_h) / f["O"]["O"]
    mu_n = (g["N"] - f["N"].get("H", 0) * mu_h - f["N"].get("O", 0) * mu_o) / f["N"]["N"]
    return {"H": mu_h, "O": mu_o, "N": mu_n}


# -- free-energy corrections: every species of a network needs one ---------------------------------

def missing_corrections(net: Network, table: str | Path | None = None) -> list[str]:
    """Species of ``net`` (adsorbates and gases) without a ZPE/TS entry in a corrections table
    (schema of data/free_energy_corrections.json); aqueous ions and liquid water enter through
    formation free energies and need none."""
    path = Path(table) if table else DEFAULT_CORRECTIONS
    entries = json.loads(path.read_text()).get("entries", {})
    used = [s for s in net.species if any(s in st.initial + st.final for st in net.steps)]
    need = [s for s in used if net.species[s].phase in ("ads", "g")]
    return [s for s in need if s not in entries]


def require_corrections(net: Network, table: str | Path | None = None) -> None:
    """Raise naming every species of ``net`` that has no free-energy correction in ``table``."""
    miss = missing_corrections(net, table)
    if miss:
        raise NetworkError(f"network {net.name}: no free-energy correction (zpe, ts, source) for "
                           f"{', '.join(miss)} in {table or DEFAULT_CORRECTIONS}; add them with their source or "
                           "use computed corrections")
