"""The adsorption-energy reference convention, in one place.

Convention (stated in every output): adsorption energies are referenced to atomic chemical
potentials built from closed-shell gas molecules computed with the same calculator,

    E_ads = E(slab+A) - E(slab) - sum_X n_X mu_X,
    mu_H = 1/2 E(H2),  mu_O = E(H2O) - E(H2),  mu_N = E(NH3) - 3/2 E(H2),

the hydrogen and oxygen references of the computational hydrogen electrode (Norskov et al.,
J. Phys. Chem. B 108, 17886 (2004)) with nitrogen referenced to ammonia, the NO3RR product, so
that *N, *NH, *NH2 and *NH3 energies read directly against the final state.
NO and HNO3 are computed too: NO for *NO against gas NO, and HNO3 as the anchor of the
nitrate reference in the free-energy analysis.
"""

from __future__ import annotations

__all__ = ["REFERENCE_CONVENTION", "CONVENTION_TEXT", "atomic_potentials"]

REFERENCE_CONVENTION = "atomic: mu_H=1/2 E(H2), mu_O=E(H2O)-E(H2), mu_N=E(NH3)-3/2 E(H2)"
CONVENTION_TEXT = (
    "E_ads = E(slab+adsorbate) - E(slab) - sum_X n_X mu_X with mu_H = 1/2 E(H2), "
    "mu_O = E(H2O) - E(H2), mu_N = E(NH3) - 3/2 E(H2); all energies from the same calculator "
    "and settings, gas molecules relaxed in a box"
)


def atomic_potentials(gas: dict[str, float]) -> dict[str, float]:
    """mu_H, mu_O, mu_N from gas-phase energies {name: value}: total energies E for adsorption
    energies, or free energies G (or free-energy corrections) for the free-energy scale."""
    missing = [k for k in ("H2", "H2O", "NH3") if k not in gas]
    if missing:
        raise KeyError(f"gas references missing: {missing}")
    return {
        "H": 0.5 * gas["H2"],
        "O": gas["H2O"] - gas["H2"],
        "N": gas["NH3"] - 1.5 * gas["H2"],
    }
