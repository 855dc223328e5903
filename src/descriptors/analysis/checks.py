"""Input that looks like another convention, recognised by its magnitude (``convention_warnings``).

Energies computed elsewhere arrive in many conventions.  On ours (convention.py: atomic references
mu_N = E(NH3) - 3/2 E(H2), mu_O = E(H2O) - E(H2); nitrate pinned by X, network.py) the nitrate
adsorption step is dG = G(*NO3) - X: anion chemisorption is at most a few eV either way, so a
G(*NO3) far from X (outside X +- 2.5 eV) points to another reference (e.g. gas-phase NO3 or HNO3
molecules).  Values of tens of units are kJ/mol (1 eV = 96.485 kJ/mol), hundreds of eV are total
energies per cell, not adsorption energies.
"""

from __future__ import annotations

__all__ = ["convention_warnings", "NO3_WINDOW_EV"]

NO3_WINDOW_EV = 2.5  # |dG(NO3-(aq) -> *NO3)| beyond this is not an adsorption energy on our scale
KJ_PER_EV = 96.485


def convention_warnings(ds, x_ref: float) -> list[str]:
    """One line per suspicious value or catalyst, with the expected range on our scale."""
    out = []
    for cat, g in ds.g_ads.items():
        vals = list(g.values())
        big = [v for v in vals if abs(v) > 50]
        if big and max(abs(v) for v in big) > 150:
            out.append(f"{cat}: values up to {max(big, key=abs):.1f} look like total energies per cell, not "
                       "adsorption energies (E_ads = E(slab+ads) - E(slab) - sum n_X mu_X, a few eV)")
            continue
        if big:
            out.append(f"{cat}: values up to {max(big, key=abs):.1f} look like kJ/mol; give eV "
                       f"(divide by {KJ_PER_EV})")
            continue
        if "*NO3" in g and abs(g["*NO3"] - x_ref) > NO3_WINDOW_EV:
            lo, hi = x_ref - NO3_WINDOW_EV, x_ref + NO3_WINDOW_EV
            out.append(f"{cat}: G(*NO3) = {g['*NO3']:+.2f} eV makes NO3-(aq) -> *NO3 a step of "
                       f"{g['*NO3'] - x_ref:+.2f} eV; on this convention (atomic references from H2, H2O, NH3; "
                       f"X = {x_ref:.2f} eV) expect {lo:+.1f} to {hi:+.1f} eV. Gas-phase NO3/HNO3 references "
                       "give values near 0: convert them (README, reference convention)")
    return out
