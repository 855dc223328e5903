"""The product group favoured at many points of one network: what ``routes.analyze(...).at_U_L or
.at_U`` says about the group, without the rest of the analysis (notes, states, the second walk,
the records), for the grids of the product maps (productmap.py: 625 points a map).

Every point of a grid has the same species (the scaling relations predict all of them), so the
evaluated steps, the routes and the shapes of routes and walk are worked out once; per point only
the numbers change.  The arithmetic is that of routes.py, operation for operation (the same sums
in the same order, ``round(U_L, 9)`` in the tie-break, stable sorts), so the group is the one
``analyze`` gives at that point (tests/test_product_map_grid.py compares them point by point).  A
point whose species differ from the first one's (a missing or non-finite value) goes through
``analyze`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from descriptors.analysis.netdata import Network
from descriptors.analysis.netrecords import TOL, Conditions
from descriptors.analysis.routes import (
    _step_results,
    analyze,
    enumerate_routes,
    species_free_energies,
)
from descriptors.analysis.routeshape import route_shape, walk_shape

__all__ = ["favoured_groups"]


def _group_by_analyze(net: Network, g_ads: Mapping[str, float], cond: Conditions, reactant_G: float) -> str:
    r = analyze(net, g_ads, cond, reactant_G=reactant_G)
    return (r.at_U_L or r.at_U).group


def favoured_groups(net: Network, cond: Conditions, reactant_G: float, points: Sequence[Mapping[str, float]]
                    ) -> list[str]:
    """The product group of the selectivity walk (routes.selectivity, '' if it gets stuck) at the best
    target route's U_L, or at ``cond.potential`` where no route reaches the target, for each point
    (adsorbate free energies by canonical species name, as ``analyze``'s ``g_ads``)."""
    if not points:
        return []
    keys = frozenset(points[0])
    if any(net.canonical(k) != k or not net.species[k].adsorbate for k in keys):  # aliases, errors: analyze's
        return [_group_by_analyze(net, p, cond, reactant_G) for p in points]
    base, _ = species_free_energies(net, {}, cond, reactant_G=reactant_G)
    template = dict(base)
    template.update({k: 0.0 for k in keys})
    template[net.reactant] = float(reactant_G)
    steps, _ = _step_results(net, template)  # which steps (their ids, labels, kinds): the same at every point
    shape = _Shape(net, steps, cond)
    out = []
    for p in points:
        if frozenset(p) != keys or not all(v is not None and math.isfinite(float(v)) for v in p.values()):
            out.append(_group_by_analyze(net, p, cond, reactant_G))
            continue
        g = dict(base)
        for k, v in p.items():
            g[k] = float(v)
        g[net.reactant] = float(reactant_G)
        out.append(shape.group(g))
    return out


class _Shape:
    """The evaluated steps, routes and walk of a network over one set of species."""

    def __init__(self, net: Network, steps, cond: Conditions):
        self.net, self.cond = net, cond
        by_id = net.step_by_id
        self.ids = [s.id for s in steps]
        self.sides = [(by_id[s.id].final, by_id[s.id].initial) for s in steps]
        self.n_e = [s.n_e for s in steps]
        pos = {s.id: k for k, s in enumerate(steps)}
        sm = {s.id: s for s in steps}
        self.routes = []  # per route in enumeration order: product, group, reduction steps, chemical steps, ...
        for prod, S in enumerate_routes(net, steps):
            ids, _, _, first_branch = route_shape(net, S, sm)
            red = [pos[i] for i in ids if sm[i].n_e > 0]
            chem = [pos[i] for i in ids if sm[i].n_e == 0 and sm[i].kind in ("chemical", "coupling")]
            self.routes.append((prod, net.group_of(prod) or "", red, chem,
                                None if first_branch is None else pos[first_branch], len(ids)))
        self.live, self.consumers = walk_shape(net, steps)
        self.exits = {}  # node -> [(step position, other adsorbates needed, how many of node it takes)]
        for node, ks in self.consumers.items():
            self.exits[node] = [(k, [x for x in by_id[self.ids[k]].initial if x != node and x not in net.reservoir],
                                 by_id[self.ids[k]].initial.count(node)) for k in ks]

    def group(self, g: Mapping[str, float]) -> str:
        net = self.net
        dG = [sum(g[s] for s in final) - sum(g[s] for s in initial) for final, initial in self.sides]
        routes = []
        for prod, grp, red, chem, branch, nsteps in self.routes:
            pds = min(red, key=lambda k: -dG[k] / self.n_e[k]) if red else None
            chem_dG = [dG[k] for k in chem]
            mx = max(chem_dG) if chem_dG else None
            routes.append((grp, mx is not None and mx > TOL, None if pds is None else -dG[pds] / self.n_e[pds],
                           dG[branch] if branch is not None else 0.0, nsteps, prod))
        routes.sort(key=lambda r: (r[0], not r[1], -(r[2] if r[2] is not None else -math.inf)))
        best = _best([r for r in routes if r[0] == net.target])
        U = best[2] if best is not None else self.cond.potential
        return self._walk(dG, routes, U)

    def _walk(self, dG: list[float], routes: list[tuple], U: float) -> str:
        """routes.selectivity's product group at U (its decisions, margins and notes left out)."""
        net = self.net
        node, visited, grp = net.reactant, {net.reactant}, ""
        while True:
            sp = net.species[node]
            if sp.group and node != net.reactant:
                grp = sp.group  # the speciation (routes._speciate) stays inside the group
                break
            exits = []
            for k, others, count in self.exits.get(node, ()):
                if any(x not in visited for x in others):
                    continue
                exits.append(((dG[k] + self.n_e[k] * U) / count, k))
            if not exits:
                break
            onward = [e for e in exits if net.followed[self.ids[e[1]]] in self.live]
            exits = onward or exits
            exits.sort(key=lambda e: e[0])
            final = net.step_by_id[self.ids[exits[0][1]]].final
            nxt = [x for x in final if x not in net.reservoir]
            nxt.sort(key=lambda x: -net.species[x].count(net.tracked_element))
            if not nxt or nxt[0] in visited:
                break
            node = nxt[0]
            visited.add(node)
        ul = {g: r[2] for g in (grp,) + net.competing if (r := _best([x for x in routes if x[0] == g])) is not None}
        ul_p = ul.get(grp) if grp else None
        comp = {g: ul[g] for g in net.competing if g in ul}
        if comp and ul_p is not None:
            g_best = max(comp, key=comp.get)
            if ul_p - comp[g_best] < 0:
                grp = g_best
        return grp


def _best(routes: list[tuple]):
    """routes._best on (group, closed, U_L, branch dG, number of steps, product) tuples."""
    ok = [r for r in routes if r[2] is not None]
    return max(ok, key=lambda r: (not r[1], round(r[2], 9), -r[3], -r[4]), default=None)
