"""Maps of the favoured product over two descriptors through the scaling relations.

Every adsorbate of the network is predicted from a linear scaling relation in the map's
descriptors (scaling.py), the network is analysed at each grid point (routes.analyze) and the
product favoured at that point's U_L (selectivity criterion of routes.py) is recorded; where no
route to the target exists the product at the analysis potential is used.  Two maps:

- ``N_O``: over (dG*N, dG*O), the picture of Liu, Richards, Singh, Goldsmith, ACS Catal. 9, 7052
  (2019) (their axes are the N and O binding energies; ours the free energies of *N and *O on the
  package's atomic scale, the same up to the species' corrections);
- ``NO3_H``: over (dG of the reactant's first adsorbate, dG*H): N/O adsorbates from relations in
  the first descriptor, *H itself on the second axis (no relation needed for it).

Descriptor species come from the network data: the tracked element's atom, the O atom, the
adsorbate made by the reactant's adsorption step and the H atom (``_axes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descriptors.analysis.mapgrid import favoured_groups
from descriptors.analysis.netdata import Network, parse_formula
from descriptors.analysis.netrecords import Conditions
from descriptors.analysis.routes import analyze
from descriptors.analysis.scaling import fit_all

__all__ = ["ProductMap", "product_maps", "product_map", "map_axes"]

GRID = 25  # points per axis; 625 network analyses per map


@dataclass
class ProductMap:
    name: str
    descriptors: tuple[str, str]
    x: np.ndarray
    y: np.ndarray
    product: np.ndarray  # (len(y), len(x)) product group favoured at U_L (object array of str)
    points: list[tuple[str, float, float, str]]  # catalyst, x, y, its computed product
    relations: dict[str, str]  # target -> equation
    weak: dict[str, float] = field(default_factory=dict)  # relations with R^2 < R2_WARN
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        groups, counts = np.unique(self.product.astype(str), return_counts=True)
        return {"name": self.name, "descriptors": list(self.descriptors),
                "range_eV": [[float(self.x[0]), float(self.x[-1])], [float(self.y[0]), float(self.y[-1])]],
                "area_fraction": {str(g): round(int(c) / self.product.size, 4) for g, c in zip(groups, counts)},
                "catalysts": [{"catalyst": c, "x_eV": x, "y_eV": y, "product": p} for c, x, y, p in self.points],
                "relations": self.relations, "weak_relations_R2": self.weak, "note": self.note}


def _atom(net: Network, formula: str) -> str | None:
    want = parse_formula(formula)
    return next((s for s, sp in net.species.items() if sp.adsorbate and dict(sp.formula) == want), None)


def map_axes(net: Network) -> dict[str, tuple[str, str]]:
    """The two maps' descriptor pairs, from the data: (*X, *O) with X the tracked element, and
    (first adsorbate of the reactant, *H)."""
    out: dict[str, tuple[str, str]] = {}
    if len(set(net.products) | set(net.competing)) < 2:
        return out  # one possible product: nothing to map
    a_x, a_o, a_h = _atom(net, net.tracked_element), _atom(net, "O"), _atom(net, "H")
    if a_x and a_o and a_x != a_o:
        out[f"{a_x.lstrip('*')}_{a_o.lstrip('*')}"] = (a_x, a_o)
    first = next((s for st in net.steps if net.reactant in st.initial for s in st.final
                  if net.species[s].adsorbate), None)
    if first and a_h and first != a_h:
        out[f"{first.lstrip('*')}_{a_h.lstrip('*')}"] = (first, a_h)
    return out


def product_map(ds, net: Network, cond: Conditions, x_ref: float, name: str, axes: tuple[str, str],
                confidence: float = 0.95, n: int = GRID) -> ProductMap:
    """Raises ValueError (with the reason) when the data cannot make the map."""
    from descriptors.analysis.volcano import weak_fits

    d1, d2 = axes
    free_second = net.species[d2].count(net.tracked_element) == 0 and net.species[d2].count("O") == 0
    fit_on = [d1] if free_second else [d1, d2]
    targets = [s for s in net.adsorbates() if s not in (d1, d2)]
    pts = [(c, g[d1], g[d2]) for c, g in ds.g_ads.items() if d1 in g and d2 in g]
    if len(pts) < 3:
        raise ValueError(f"{len(pts)} catalyst(s) have both {d1} and {d2}; need at least 3")
    fits, skipped = fit_all(ds.g_ads, fit_on, targets, confidence)
    fits = {t: f for t, f in fits.items() if not f.identity}
    if not fits:
        raise ValueError(f"no intermediate has a scaling relation in {', '.join(fit_on)} (a fit needs "
                         f"{len(fit_on) + 2} catalysts with it and the descriptors)")
    a = np.array([(p[1], p[2]) for p in pts])
    rng = []
    for j in range(2):
        lo, hi = a[:, j].min(), a[:, j].max()
        pad = max(0.5, 0.25 * (hi - lo))
        rng.append(np.linspace(lo - pad, hi + pad, n))
    xs, ys = rng
    grid = []
    for y in ys:
        for x in xs:
            dv = np.array([x] if free_second else [x, y])
            g = {t: float(f.predict(dv[None, :])[0]) for t, f in fits.items()}
            g[d1], g[d2] = float(x), float(y)
            grid.append(g)
    # the group routes.analyze favours at each point (at U_L, else at the analysis potential), the
    # network's structure worked out once for the whole grid (mapgrid.py)
    prod = np.empty((n, n), dtype=object)
    for k, grp in enumerate(favoured_groups(net, cond, x_ref, grid)):
        prod[k // n, k % n] = grp or "none"
    points = []
    for c, x, y in pts:
        r = analyze(net, ds.g_ads[c], cond, reactant_G=ds.reactant_G.get(c, x_ref), invalid=ds.invalid.get(c))
        sel = r.at_U_L or r.at_U
        points.append((c, float(x), float(y), sel.group or "none"))
    note = ("product favoured at each point's U_L (at the analysis potential where no route to "
            f"{net.target} exists); relations in {', '.join(fit_on)}")
    if skipped:
        note += "; no relation (steps through them absent from the map): " + ", ".join(sorted(skipped))
    return ProductMap(name, (d1, d2), xs, ys, prod, points, {t: f.equation() for t, f in fits.items()},
                      weak_fits(fits), note)


def product_maps(ds, net: Network, cond: Conditions, x_ref: float, confidence: float = 0.95
                 ) -> tuple[dict[str, ProductMap], list[str]]:
    maps, errors = {}, []
    for name, axes in map_axes(net).items():
        try:
            maps[name] = product_map(ds, net, cond, x_ref, name, axes, confidence)
        except ValueError as err:
            errors.append(f"product map over ({', '.join(axes)}): {err}")
    return maps, errors
