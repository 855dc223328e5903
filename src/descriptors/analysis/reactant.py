"""Where the reactant of a network sits on the free-energy scale (its ``g``, the old ``X``).

Three schemes (``AnalysisSettings.nitrate_reference`` / ``equilibrium_potential``), all generic
in the network data:

- ``equilibrium`` (default): the reactant's formation free energy from the network file (CRC
  Handbook, the same table as every other molecule), on the atomic scale at the pH.  For NO3RR this
  pins NO3-(aq) to the equilibrium potential of NO3- + 9 H+ + 8 e- -> NH3(g) + 3 H2O(l),
  E0 = 0.7986 V, i.e. g = 8 e E0 - kT ln10 pH (the former ``NitrateReference('equilibrium')``).
- ``equilibrium_potential`` given: the reactant is pinned to that potential (V vs RHE at pH 0) of
  reactant -> ``reference_product`` of the network (n electrons from the atom and charge balance).
- ``hno3``: a neutral proxy (``reference_proxy`` of the network, HNO3(g) for NO3RR) computed with
  the calculator plus the experimental difference of the two (Liu, Richards, Singh, Goldsmith,
  ACS Catal. 9, 7052 (2019) route): g = G_ads(HNO3) + dG(HNO3(g) -> H+ + NO3-) - kT ln10 pH.
"""

from __future__ import annotations

from descriptors.analysis.netdata import REFERENCE_SPECIES, Network, NetworkError
from descriptors.analysis.netrecords import Conditions
from descriptors.analysis.routes import reactant_via_proxy, species_free_energies

__all__ = ["electrons_to", "reactant_g", "describe_reactant"]


def electrons_to(net: Network, product: str) -> int:
    """Electrons consumed by reactant + p H+ + n e- -> product + k H2O (atom and charge balance)."""
    r, p = net.species[net.reactant], net.species[product]
    water = net.species[REFERENCE_SPECIES["O"]]
    el = net.tracked_element
    if r.count(el) != p.count(el) or p.count(el) == 0:
        raise NetworkError(f"network {net.name}: {net.reactant} -> {product} does not conserve {el}")
    k = (r.count("O") - p.count("O")) // water.count("O")
    protons = p.count("H") + k * water.count("H") - r.count("H")
    return r.charge + protons - p.charge


def reactant_g(net: Network, scheme: str, cond: Conditions, equilibrium_potential: float | None = None,
               g_proxy: float | None = None) -> float:
    """g of the reactant (eV, atomic scale, U = 0 V_RHE, at cond.pH) under ``scheme``."""
    g0, why = species_free_energies(net, {}, cond)
    if scheme == "hno3":
        if net.reference_proxy is None:
            raise ValueError(f"nitrate_reference 'hno3': network {net.name} names no reference_proxy molecule; use "
                             "'equilibrium'")
        if g_proxy is None:
            raise ValueError(f"nitrate_reference 'hno3' needs the free energy of gas-phase {net.reference_proxy} from "
                             "the calculator (a screen database with that gas reference and its free-energy "
                             "correction); for energies computed elsewhere use 'equilibrium'")
        return reactant_via_proxy(net, net.reference_proxy, g_proxy, cond)
    if scheme != "equilibrium":
        raise ValueError(f"nitrate_reference: {scheme!r} unknown; use 'equilibrium' or 'hno3'")
    if equilibrium_potential is None:
        if net.reactant not in g0:
            raise ValueError(f"network {net.name}: reactant {net.reactant} has no formation free energy "
                             f"({why.get(net.reactant, '')})")
        return g0[net.reactant]
    prod = net.reference_product
    if prod is None:
        raise ValueError(f"equilibrium_potential: network {net.name} names no reference_product to pin it to")
    n = electrons_to(net, prod)
    k = cond.kt_ln10 * cond.pH
    q_r, q_p = net.species[net.reactant].charge, net.species[prod].charge
    return g0[prod] - q_p * k + n * equilibrium_potential + q_r * k


def describe_reactant(net: Network, scheme: str, g: float, cond: Conditions,
                      equilibrium_potential: float | None = None, g_proxy: float | None = None) -> str:
    sp = net.species[net.reactant]
    if sp.phase == "site":
        return f"reactant: the free site {net.reactant} (0 by definition)"
    if scheme == "hno3":
        return (f"{net.reactant} via gas {net.reference_proxy} from the calculator (G_ads = {g_proxy:.4f} eV) + the "
                f"experimental free energy difference of the two (formation free energies: {sp.source.split(',')[0]}); "
                f"g({net.reactant}) = {g:.4f} eV at pH {cond.pH:g}")
    prod = net.reference_product
    txt = ""
    if prod is not None:
        n = electrons_to(net, prod)
        g0, _ = species_free_energies(net, {}, cond)
        e = (g - g0[prod]) / n
        txt = f" = {n} e x {e:.4f} V vs RHE (equilibrium potential of {net.reactant}/{prod} at pH {cond.pH:g})"
    how = (f"pinned to {equilibrium_potential:.4f} V vs RHE at pH 0" if equilibrium_potential is not None
           else f"formation free energy ({sp.source.split(',')[0]})")
    return (f"{net.reactant} {how}: g = {g:.4f} eV (its free energy on the atomic-reference scale, "
            f"G - sum_X n_X mu_X with the electrons at 0 V vs RHE){txt}")
