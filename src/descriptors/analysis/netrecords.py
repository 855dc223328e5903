"""Typed records of the network analysis (network.py): conditions, steps, routes, selectivity, result."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["KB_EV", "TOL", "Conditions", "Decision", "NetworkResult", "Route", "Selectivity", "StepResult"]

KB_EV = 8.617333262e-5  # eV/K (CODATA 2018)
TOL = 1e-9


@dataclass(frozen=True)
class Conditions:
    pH: float = 0.0
    potential: float = 0.0  # V vs RHE, for dG(U) and the selectivity "at U"
    temperature: float = 298.15

    @property
    def kt_ln10(self) -> float:
        return KB_EV * self.temperature * math.log(10)


@dataclass(frozen=True)
class StepResult:
    id: str
    label: str
    equation: str
    kind: str
    n_e: int
    n_H: int
    dG_0: float  # eV at U = 0 V vs RHE

    def dG(self, U: float) -> float:
        return self.dG_0 + self.n_e * U


@dataclass(frozen=True)
class Route:
    product: str  # the species that leaves (e.g. NH3(g), N2(g))
    group: str  # product group (e.g. NH3)
    steps: tuple[StepResult, ...]  # in reaction order
    U_L: float | None  # V vs RHE; None if the route has no reduction step
    PDS: StepResult | None
    branch: str  # e.g. 'NOH' / 'HNO' (labels from the data), '' if none
    averaged: tuple[str, ...]  # averaged multi-electron steps used (labels)
    max_dG_chemical: float | None  # largest dG of a chemical N-O scission / coupling step (U-independent)
    branch_dG: float = 0.0  # dG(0) of the branch-labelled step, for tie-breaks

    @property
    def upper_bound(self) -> bool:
        return bool(self.averaged)

    @property
    def closed(self) -> bool:
        return self.max_dG_chemical is not None and self.max_dG_chemical > TOL

    @property
    def dG_PDS(self) -> float | None:
        return None if self.PDS is None else self.PDS.dG_0

    @property
    def path(self) -> str:
        return " | ".join(s.label for s in self.steps)

    def profile(self, U: float) -> list[tuple[str, float]]:
        """(step label, cumulative G after it at U), starting from the reactant at 0."""
        g, out = 0.0, []
        for s in self.steps:
            g += s.dG(U)
            out.append((s.label, g))
        return out

    def row(self) -> dict:
        r = lambda x: None if x is None else round(x, 4)
        return {"product": self.product, "group": self.group, "route": self.path, "branch": self.branch,
                "U_L_V": r(self.U_L), "PDS": self.PDS.label if self.PDS else "", "PDS_n_e": self.PDS.n_e if self.PDS else None,
                "dG_PDS_eV": r(self.dG_PDS),
                "dG_PDS_per_e_eV": r(self.dG_PDS / self.PDS.n_e) if self.PDS else None, "upper_bound": self.upper_bound, "averaged_steps": "; ".join(self.averaged),
                "closed": self.closed, "max_dG_chemical_eV": r(self.max_dG_chemical)}


@dataclass(frozen=True)
class Decision:
    intermediate: str
    chosen: str  # step label
    dG_chosen: float  # eV per intermediate consumed, at the potential (barrier-corrected if given)
    alternatives: tuple[tuple[str, float], ...]  # (step label, dG) of the other exits, lowest first
    margin: float | None  # runner-up minus chosen (eV); None if only one exit


@dataclass(frozen=True)
class Selectivity:
    potential: float
    product: str  # the species made (e.g. 'NH4+(aq)', 'NO2-(aq)', 'H2(g)'), '' if the walk got stuck
    group: str  # e.g. 'NH3', 'NO2-', 'H2'
    walk: tuple[str, ...]
    decisions: tuple[Decision, ...]
    U_L_product: float | None  # best route U_L to the walk's product group
    U_L_competing: Mapping[str, float]  # e.g. {'H2': -0.2}
    competing_margin: float | None  # U_L_product - max competing U_L (V); < 0: the competitor wins
    notes: tuple[str, ...] = ()


@dataclass
class NetworkResult:
    catalyst: str
    network: str
    conditions: Conditions
    g: dict[str, float]  # species free energies, atomic scale, U = 0 V_RHE, at the pH
    states: dict[str, float]  # the same on the common scale (reactant 0)
    steps: list[StepResult]  # every step that can be evaluated
    routes: list[Route]  # every route, best first within each group
    best: Route | None  # best route to the target group
    product_form: str  # target species after speciation at the pH (e.g. NH4+(aq) at pH 0)
    U_L: float | None
    PDS: str | None
    dG_PDS: float | None
    branch: str | None
    dG_adsorption: float | None  # reactant adsorption step of the best route, at U = 0
    dG_H: float | None
    U_L_HER: float | None
    at_U_L: Selectivity | None
    at_U: Selectivity
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """One flat row per catalyst: limiting potential, PDS (full step dG and per electron), the
        favoured product at U_L and at the user's potential with the margins that decide it."""
        r = lambda x: None if x is None else round(float(x), 4)
        her = None if self.U_L is None or self.U_L_HER is None else self.U_L - self.U_L_HER
        n_e = self.best.PDS.n_e if self.best and self.best.PDS else None
        ads_ul = None if self.dG_adsorption is None or self.U_L is None else self.dG_adsorption - self.U_L

        def sel(s: Selectivity | None, tag: str) -> dict:
            if s is None:
                return {f"product_{tag}": "", f"decisive_step_{tag}": "", f"decisive_margin_{tag}_eV": None,
                        f"competing_margin_{tag}_V": None}
            close = min((d for d in s.decisions if d.margin is not None), key=lambda d: d.margin, default=None)
            return {f"product_{tag}": s.product, f"decisive_step_{tag}": close.chosen if close else "",
                    f"decisive_margin_{tag}_eV": r(close.margin) if close else None,
                    f"competing_margin_{tag}_V": r(s.competing_margin)}

        at_ul = sel(self.at_U_L, "at_U_L")
        return {"catalyst": self.catalyst, "network": self.network, "U_L_V": r(self.U_L), "PDS": self.PDS or "",
                "dG_PDS_eV": r(self.dG_PDS), "PDS_n_e": n_e,
                "dG_PDS_per_e_eV": None if n_e is None or self.dG_PDS is None else r(self.dG_PDS / n_e),
                "U_L_upper_bound": bool(self.best and self.best.upper_bound), "branch": self.branch or "",
                "path": self.best.path if self.best else "", "product": at_ul["product_at_U_L"],
                "target_form": self.product_form, "dG_ads_reactant_eV": r(self.dG_adsorption),
                "dG_ads_reactant_at_UL_eV": r(ads_ul), "dG_H_eV": r(self.dG_H),
                "U_L_HER_V": r(self.U_L_HER), "U_L_minus_U_L_HER_V": r(her),
                "favours": "" if her is None else (self.network if her > 0 else "HER"),
                **at_ul, **sel(self.at_U, "at_U"), "potential_V_RHE": self.conditions.potential,
                "pH": self.conditions.pH, "missing": "; ".join(self.missing), "notes": "; ".join(self.notes)}

    def step_rows(self, U: float | None = None) -> list[dict]:
        """Every evaluated step: id, equation, electrons, dG at 0 V and at U (default: the conditions')."""
        U = self.conditions.potential if U is None else U
        return [{"step": s.label, "id": s.id, "equation": s.equation, "kind": s.kind, "n_e": s.n_e,
                 "dG_0": s.dG_0, "dG_U": s.dG(U)} for s in self.steps]

    def step_dG(self, label: str, potential: float | None = None) -> float | None:
        s = self.step(label)
        return None if s is None else s.dG(self.conditions.potential if potential is None else potential)

    def route_table(self) -> list[dict]:
        """Every route (U_L, PDS, dG of the full PDS, its electrons), best first within each product group."""
        return [{"catalyst": self.catalyst, **x.row()} for x in self.routes]

    def routes_of(self, group: str) -> list[Route]:
        return [r for r in self.routes if r.group == group]

    def step(self, label_or_id: str) -> StepResult | None:
        return next((s for s in self.steps if label_or_id in (s.id, s.label)), None)
