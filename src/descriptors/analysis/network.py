"""The NO3RR reaction network on one catalyst under the computational hydrogen electrode (CHE).

States and steps (n = electrons consumed; each reduction step takes n (H+ + e-) pairs):

    NO3-(aq) + *        -> *NO3 + e-                  n = -1   nitrate adsorption (oxidative)
    *NO3 + 2(H+ + e-)   -> *NO2 + H2O                 n = 2
    *NO2 + 2(H+ + e-)   -> *NO + H2O                  n = 2
    *NO  + (H+ + e-)    -> *NOH   |  *HNO             n = 1    the two *NO hydrogenation branches
    *NOH + (H+ + e-)    -> *N + H2O  |  *NHOH         n = 1
    *HNO + (H+ + e-)    -> *NHOH                      n = 1
    *NHOH + (H+ + e-)   -> *NH + H2O  |  *NH2OH       n = 1    hydroxylamine branch
    *NH2OH + (H+ + e-)  -> *NH2 + H2O                 n = 1
    *N -> *NH -> *NH2 -> *NH3                         n = 1 each
    *NH3                -> NH3(g) + *                 n = 0    desorption (chemical)

overall NO3- + 9 H+ + 8 e- -> NH3(g) + 3 H2O(l).  The 2-electron steps stand for two proton-
electron transfers whose intermediate (*NO3H, *NO2H) is not in the adsorbate library; their
limiting potential is counted per electron, -dG/2.

Free energies of the states are on one scale: 0 for * + NO3-(aq) + 9 (H+ + e-) at U = 0 V vs RHE.
With adsorption free energies G_ads referenced to mu_H = 1/2 G(H2), mu_O = G(H2O) - G(H2),
mu_N = G(NH3) - 3/2 G(H2) (convention.py), a state's free energy is G_ads - X, where
X = G(NO3-) - G(e-) - mu_N - 3 mu_O is the nitrate reference (``NitrateReference``); H2O(l) and
NH3(g) are 0 on the atomic scale, so the final state sits at -X.

CHE (Norskov et al., J. Phys. Chem. B 108, 17886 (2004)): G(H+ + e-) = 1/2 G(H2) - eU with U
vs RHE, so a step consuming n electrons has dG(U) = dG(0) + n e U; the limiting potential of a
path is U_L = min_i(-dG_i(0)/n_i) over its reduction steps (the most positive U at which every
reduction step is downhill, U_L = -max_i dG_i/e for one-electron steps) and the step attaining
it is the potential-determining step (PDS).  Of all paths the one with the highest U_L is taken
(both *NO branches are always evaluated).  The nitrate adsorption step releases an electron, so
it gets *easier* at positive U; it does not bound U_L from above and is reported separately
(its dG at U_L, flagged when uphill).  pH enters through the RHE scale: only the nitrate
reference carries it (-kT ln10 pH in X).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ase.units import kB

__all__ = [
    "Step", "STEPS", "INITIAL", "FINAL", "ADSORBATE_STATES", "PATHS", "NitrateReference", "PathwayResult",
    "analyze_pathway", "path_limiting_potential", "state_energies", "N2_FROM_NH3_eV", "branch_of",
]

INITIAL = "NO3-(aq)"
FINAL = "NH3(g)"
ADSORBATE_STATES = ("*NO3", "*NO2", "*NO", "*NOH", "*HNO", "*NHOH", "*NH2OH", "*N", "*NH", "*NH2", "*NH3")


@dataclass(frozen=True)
class Step:
    initial: str
    final: str
    n_e: int  # electrons consumed; -1 for the oxidative nitrate adsorption, 0 for chemical steps
    equation: str

    @property
    def label(self) -> str:
        return f"{self.initial}->{self.final}"

    @property
    def electrochemical(self) -> bool:
        return self.n_e != 0


STEPS: tuple[Step, ...] = (
    Step(INITIAL, "*NO3", -1, "NO3-(aq) + * -> *NO3 + e-"),
    Step("*NO3", "*NO2", 2, "*NO3 + 2(H+ + e-) -> *NO2 + H2O"),
    Step("*NO2", "*NO", 2, "*NO2 + 2(H+ + e-) -> *NO + H2O"),
    Step("*NO", "*NOH", 1, "*NO + H+ + e- -> *NOH"),
    Step("*NO", "*HNO", 1, "*NO + H+ + e- -> *HNO"),
    Step("*NOH", "*N", 1, "*NOH + H+ + e- -> *N + H2O"),
    Step("*NOH", "*NHOH", 1, "*NOH + H+ + e- -> *NHOH"),
    Step("*HNO", "*NHOH", 1, "*HNO + H+ + e- -> *NHOH"),
    Step("*NHOH", "*NH", 1, "*NHOH + H+ + e- -> *NH + H2O"),
    Step("*NHOH", "*NH2OH", 1, "*NHOH + H+ + e- -> *NH2OH"),
    Step("*NH2OH", "*NH2", 1, "*NH2OH + H+ + e- -> *NH2 + H2O"),
    Step("*N", "*NH", 1, "*N + H+ + e- -> *NH"),
    Step("*NH", "*NH2", 1, "*NH + H+ + e- -> *NH2"),
    Step("*NH2", "*NH3", 1, "*NH2 + H+ + e- -> *NH3"),
    Step("*NH3", FINAL, 0, "*NH3 -> NH3(g) + *"),
)
_BY_INITIAL: dict[str, list[Step]] = {}
for _s in STEPS:
    _BY_INITIAL.setdefault(_s.initial, []).append(_s)


def _paths(state: str = INITIAL) -> list[tuple[Step, ...]]:
    if state == FINAL:
        return [()]
    return [(s,) + rest for s in _BY_INITIAL.get(state, []) for rest in _paths(s.final)]


PATHS: tuple[tuple[Step, ...], ...] = tuple(_paths())

# Experimental N2 on the atomic scale (mu_N = NH3 - 3/2 H2): N2 + 3 H2 -> 2 NH3 has
# dG = 2 dG_f(NH3, g), so G(N2) - 2 mu_N = -2 dG_f(NH3, g); dG_f from the data file (CRC).


def _n2_from_nh3() -> float:
    from descriptors.analysis.thermo import formation_free_energy_eV

    return -2.0 * formation_free_energy_eV("NH3(g)")[0]


N2_FROM_NH3_eV = _n2_from_nh3()


def branch_of(path: tuple[Step, ...]) -> str:
    for s in path:
        if s.initial == "*NO":
            return s.final.lstrip("*")
    return ""


@dataclass(frozen=True)
class NitrateReference:
    """How NO3-(aq) enters the free-energy scale (X = G(NO3-) - G(e-) - mu_N - 3 mu_O at U_RHE = 0).

    ``equilibrium``: pinned to the experimental equilibrium potential of NO3- + 9 H+ + 8 e- ->
    NH3(g) + 3 H2O(l): E0 = -[dG_f(NH3,g) + 3 dG_f(H2O,l) - dG_f(NO3-,aq)] / 8F from the formation
    free energies in the data file (0.80 V vs SHE), E(pH) = E0 - (1/8) (kT ln10 / e) pH vs RHE
    (0.695 V at pH 14), and X = 8 e E(pH).  ``equilibrium_potential`` overrides E at pH 0.
    ``hno3``: gas-phase HNO3 with the experimental dissociation free energy
    HNO3(g) -> H+(aq) + NO3-(aq), dG = dG_f(NO3-,aq) - dG_f(HNO3,g) (-0.392 eV):
    X = G_ads(HNO3) + dG - kT ln10 pH, with G_ads(HNO3) = G(HNO3) - mu_H - mu_N - 3 mu_O from the
    calculator (the route of Liu et al., ACS Catal. 9, 7052 (2019)).
    """

    scheme: str = "equilibrium"
    equilibrium_potential: float | None = None  # V vs RHE at pH 0; None: from formation energies

    def __post_init__(self):
        if self.scheme not in ("equilibrium", "hno3"):
            raise ValueError(f"nitrate_reference: {self.scheme!r} unknown; use 'equilibrium' or 'hno3'")

    @staticmethod
    def standard_potential() -> float:
        from descriptors.analysis.thermo import formation_free_energy_eV

        g = {k: formation_free_energy_eV(k)[0] for k in ("NH3(g)", "H2O(l)", "NO3-(aq)")}
        return -(g["NH3(g)"] + 3 * g["H2O(l)"] - g["NO3-(aq)"]) / 8.0

    @staticmethod
    def dissociation_free_energy() -> float:
        from descriptors.analysis.thermo import formation_free_energy_eV

        return formation_free_energy_eV("NO3-(aq)")[0] - formation_free_energy_eV("HNO3(g)")[0]

    def x(self, pH: float = 0.0, temperature: float = 298.15, g_ads_hno3: float | None = None) -> float:
        ph_term = kB * temperature * math.log(10) * pH
        if self.scheme == "equilibrium":
            e0 = self.standard_potential() if self.equilibrium_potential is None else self.equilibrium_potential
            return 8.0 * e0 - ph_term
        if g_ads_hno3 is None:
            raise ValueError("nitrate_reference 'hno3' needs the free energy of gas-phase HNO3 from the calculator "
                             "(a screen's gas reference); for energies computed elsewhere use 'equilibrium'")
        return g_ads_hno3 + self.dissociation_free_energy() - ph_term

    def describe(self, pH: float, temperature: float, g_ads_hno3: float | None = None) -> str:
        x = self.x(pH, temperature, g_ads_hno3)
        if self.scheme == "equilibrium":
            e0 = self.standard_potential() if self.equilibrium_potential is None else self.equilibrium_potential
            return (f"NO3- pinned to the equilibrium potential of NO3-/NH3: E = {e0:.4f} V at pH 0, "
                    f"{x / 8:.4f} V vs RHE at pH {pH:g} (formation free energies: CRC Handbook); X = {x:.4f} eV "
                    "(X = G(NO3-) - G(e-) - mu_N - 3 mu_O: nitrate on the atomic-reference scale, = 8 e E)")
        return (f"NO3- via gas HNO3 + experimental dG(HNO3(g) -> H+ + NO3-) = {self.dissociation_free_energy():.4f} eV "
                f"(CRC Handbook); G_ads(HNO3) = {g_ads_hno3:.4f} eV; X = {x:.4f} eV "
                "(X = G(NO3-) - G(e-) - mu_N - 3 mu_O: nitrate on the atomic-reference scale)")


def state_energies(g_ads: dict[str, float], x: float) -> dict[str, float]:
    """Free energies (U = 0 V vs RHE) of the states on the common scale from G_ads (atomic scale)."""
    out = {INITIAL: 0.0}
    for s in ADSORBATE_STATES:
        if s in g_ads and g_ads[s] is not None:
            out[s] = float(g_ads[s]) - x
    out[FINAL] = -x
    return out


def path_limiting_potential(path, states: dict[str, float]) -> tuple[float, Step] | None:
    """(U_L, PDS) of one path, or None if a state of it is missing."""
    best = None
    for s in path:
        if s.initial not in states or s.final not in states:
            return None
        if s.n_e > 0:
            u = -(states[s.final] - states[s.initial]) / s.n_e
            if best is None or u < best[0]:
                best = (u, s)
    return best


@dataclass
class PathwayResult:
    catalyst: str
    potential: float
    states: dict[str, float]  # at U = 0
    steps: list[dict[str, Any]]  # every step whose states are known, dG at 0 and at U
    U_L: float | None
    PDS: str | None
    PDS_equation: str | None
    dG_PDS: float | None
    branch: str | None  # 'NOH' | 'HNO'
    path: list[str]
    paths: list[dict[str, Any]]
    dG_NO3_adsorption: float | None  # at U = 0
    dG_H: float | None
    U_L_HER: float | None
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dG_N_coupling: float | None = None  # 2 *N -> N2(g) + 2 *
    dG_N_hydrogenation_at_UL: float | None = None

    def step_dG(self, label: str, potential: float | None = None) -> float | None:
        for s in self.steps:
            if s["step"] == label:
                u = self.potential if potential is None else potential
                return s["dG_0"] + s["n_e"] * u
        return None

    def path_profile(self, potential: float) -> list[tuple[str, float]]:
        """(state, G at ``potential``) along the preferred path, for free-energy diagrams."""
        if not self.path:
            return []
        out, n = [], 0
        for i, name in enumerate(self.path):
            if i > 0:
                st = next(s for s in STEPS if s.initial == self.path[i - 1] and s.final == name)
                n += st.n_e
            out.append((name, self.states[name] + n * potential))
        return out

    def summary(self) -> dict[str, Any]:
        sel_her = None if (self.U_L is None or self.U_L_HER is None) else self.U_L - self.U_L_HER
        nn = None
        if self.dG_N_coupling is not None and self.dG_N_hydrogenation_at_UL is not None:
            nn = "N2" if self.dG_N_coupling / 2 < self.dG_N_hydrogenation_at_UL else "NH3"
        ads_ul = None if (self.dG_NO3_adsorption is None or self.U_L is None) else self.dG_NO3_adsorption - self.U_L
        return {
            "catalyst": self.catalyst,
            "U_L_V": _r(self.U_L),
            "PDS": self.PDS or "",
            "dG_PDS_eV": _r(self.dG_PDS),
            "branch": self.branch or "",
            "path": " -> ".join(self.path),
            "dG_NO3_ads_eV": _r(self.dG_NO3_adsorption),
            "dG_NO3_ads_at_UL_eV": _r(ads_ul),
            "dG_H_eV": _r(self.dG_H),
            "U_L_HER_V": _r(self.U_L_HER),
            "U_L_minus_U_L_HER_V": _r(sel_her),
            "favours": ("" if sel_her is None else ("NO3RR" if sel_her > 0 else "HER")),
            "dG_2N_to_N2_eV": _r(self.dG_N_coupling),
            "dG_N_to_NH_at_UL_eV": _r(self.dG_N_hydrogenation_at_UL),
            "N_product": nn or "",
            "missing": "; ".join(self.missing),
            "notes": "; ".join(self.notes),
        }


def _r(x, nd: int = 4):
    return None if x is None else round(float(x), nd)


def analyze_pathway(catalyst: str, states: dict[str, float], potential: float = 0.0, dG_H: float | None = None,
                    invalid: dict[str, str] | None = None) -> PathwayResult:
    """Everything the network says about one catalyst from its state free energies (U = 0).

    ``states`` holds INITIAL (0), FINAL and whichever adsorbate states are known; ``invalid``
    maps species that exist but were rejected (e.g. dissociated in the relaxation) to the reason,
    so that what is missing is reported with why.
    """
    invalid = invalid or {}
    states = dict(states)
    states.setdefault(INITIAL, 0.0)
    if FINAL not in states:
        raise ValueError(f"{catalyst}: the final state {FINAL} needs an energy (the nitrate reference)")
    missing = [f"{s} ({invalid[s]})" if s in invalid else s for s in ADSORBATE_STATES if s not in states]
    steps = []
    for s in STEPS:
        if s.initial in states and s.final in states:
            dg0 = states[s.final] - states[s.initial]
            steps.append({"step": s.label, "equation": s.equation, "n_e": s.n_e, "dG_0": dg0,
                          "dG_U": dg0 + s.n_e * potential})
    paths = []
    for p in PATHS:
        lp = path_limiting_potential(p, states)
        if lp is not None:
            paths.append({"path": [p[0].initial] + [s.final for s in p], "U_L": lp[0], "PDS": lp[1], "branch": branch_of(p)})
    notes = []
    if paths:
        # Highest U_L; ties broken by the lower free energy of the *NO hydrogenation product.
        best = max(paths, key=lambda d: (round(d["U_L"], 9), -states.get("*" + d["branch"], math.inf)))
        U_L, pds = best["U_L"], best["PDS"]
        dG_pds = states[pds.final] - states[pds.initial]
    else:
        best, U_L, pds, dG_pds = None, None, None, None
        notes.append("no complete NO3- -> NH3 path: " + (", ".join(missing) or "states missing"))
    dG_ads = (states["*NO3"] - states[INITIAL]) if "*NO3" in states else None
    if dG_ads is not None and U_L is not None and dG_ads - U_L > 0:
        notes.append(f"nitrate adsorption uphill at U_L ({dG_ads - U_L:+.2f} eV)")
    res = PathwayResult(
        catalyst=catalyst, potential=potential, states=states, steps=steps, U_L=U_L,
        PDS=pds.label if pds else None, PDS_equation=pds.equation if pds else None, dG_PDS=dG_pds,
        branch=best["branch"] if best else None, path=best["path"] if best else [],
        paths=[{**d, "PDS": d["PDS"].label} for d in paths], dG_NO3_adsorption=dG_ads, dG_H=dG_H,
        U_L_HER=None if dG_H is None else -abs(dG_H), missing=missing, notes=notes,
    )
    if "*N" in states:
        g_n = states["*N"] - states[FINAL]  # G_ads(*N) on the atomic scale
        res.dG_N_coupling = N2_FROM_NH3_eV - 2.0 * g_n
        if "*NH" in states and U_L is not None:
            res.dG_N_hydrogenation_at_UL = states["*NH"] - states["*N"] + U_L
    return res
