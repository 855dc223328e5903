"""Limiting potentials, routes and selectivity on one catalyst for a network given as data (netdata.py).

Free energies
-------------
Every species has a free energy g on the package's atomic scale (references.py): adsorbates from
the calculation (``g_ads``: G(slab+A) - G(slab) - sum n_X mu_X), molecules and ions from their
formation free energies (networks.toml), with mu_H = 1/2 G(H2), mu_O = G(H2O) - G(H2),
mu_N = G(NH3,g) - 3/2 G(H2).  Computational hydrogen electrode (Norskov et al., J. Phys. Chem. B
108, 17886 (2004)): G(H+ + e-) = 1/2 G(H2) - eU with U vs RHE.  A bare electron or proton is
referred to the RHE through the pH: a species of charge q carries q kT ln10 pH, so that every step
has dG(U) = sum g(final) - sum g(initial) + n_e e U at any pH (NH3(aq) + H+ -> NH4+(aq) then
changes sign at pKa 9.25 and NO3-(aq) sits at X(pH) = X(0) - kT ln10 pH, the current
``NitrateReference``).  ``reactant_G`` overrides the reactant's g (X; e.g. the 'hno3' scheme,
``reactant_via_proxy``).  ``states`` puts a species on the old common scale, G_ads - (n_N/n_N of the
reactant) X: 0 for the reactant, -X for NH3(g).

Routes and limiting potential
-----------------------------
A route is a minimal set of steps that turns the reactant into one product with every adsorbate it
makes consumed again (so *O from N-O scission is removed to water inside the route).  U_L of a route
is min_i(-dG_i(0)/n_i) over its steps with n_i > 0 (-max dG_i/e for 1e steps), the step attaining
it the PDS.  Oxidative steps (nitrate adsorption, n = -1) do not bound U_L and are reported at U_L.
A route whose chemical N-O scission or coupling step is uphill is open at no potential: it is
listed, flagged ``closed``, and ranked after the open ones.  An averaged 2e step (``split_via``) is
used only when its protonated intermediate has no energy; the route is then flagged
``upper_bound`` (averaging bounds U_L from above: min(-dG1, -dG2) <= -(dG1 + dG2)/2).

Selectivity (criterion; ``Selectivity``)
----------------------------------------
Thermodynamic branching under the CHE at a potential U.  It generalises the two indicators of the
current package -- 2 *N -> N2 against *N -> *NH at U_L, and U_L - U_L(HER) with U_L(HER) =
-|dG(*H)|/e -- to every branching intermediate of the data: at each one the free energy of the next
reduction is compared with that of release or N-N coupling at the working potential.  The field
draws the outcome as maps of the favoured product over (dE_N, dE_O) (Liu, Richards, Singh,
Goldsmith, ACS Catal. 9, 7052 (2019), the paper whose HNO3 route the 'hno3' nitrate reference
follows); the rule below is this package's, not copied from that paper.
  1. Start at the reactant; at each intermediate take the exit (any step consuming it whose other
     adsorbate reactants have been visited, and that leads on to a product through evaluated steps
     while such an exit exists) with the lowest dG(U) per molecule of the intermediate
     consumed (2 *N -> N2: dG/2); the margin is the runner-up's dG minus the chosen one.  An
     optional kinetic barrier per step (``barriers``, eV) makes the comparison use max(dG(U), Ea).
  2. Follow the product richest in the tracked element (N) until a product leaves the surface;
     then speciate downhill (NH3(g) -> NH3(aq) -> NH4+(aq) below pKa 9.25).
  3. Hydrogen evolution (``competing``) is compared by limiting potential: H2 is favoured when
     U_L(HER) exceeds the U_L of the best route to the product group of step 2 (any mechanism);
     the margin is their difference (V).
This is a thermodynamic indicator: it ignores barriers unless given, coverage and mass transport.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from descriptors.analysis.netdata import Network, NetworkError, element_potentials_kJ
from descriptors.analysis.netrecords import TOL as _TOL
from descriptors.analysis.netrecords import (
    Conditions,
    Decision,
    NetworkResult,
    Route,
    Selectivity,
    StepResult,
)
from descriptors.analysis.routeshape import order_ids as _order_ids
from descriptors.analysis.routeshape import route_shape as _route_shape
from descriptors.analysis.routeshape import walk_shape as _walk_shape

__all__ = [
    "KJ_PER_MOL_EV",
    "Conditions",
    "Decision",
    "NetworkResult",
    "Route",
    "Selectivity",
    "StepResult",
    "analyze",
    "enumerate_routes",
    "reactant_via_proxy",
    "selectivity",
    "species_free_energies",
]

KJ_PER_MOL_EV = 96.485332  # kJ/mol per eV (F / 1000)


def species_free_energies(net: Network, g_ads: Mapping[str, float], cond: Conditions,
                          species_G: Mapping[str, float] | None = None, reactant_G: float | None = None
                          ) -> tuple[dict[str, float], dict[str, str]]:
    """g of every species that has one (atomic scale, U = 0 V_RHE, at cond.pH) and why the others lack it."""
    mu = element_potentials_kJ(net)
    g: dict[str, float] = {}
    why: dict[str, str] = {}
    for name, sp in net.species.items():
        if sp.phase == "site":
            g[name] = 0.0
        elif sp.phase != "ads":
            if sp.dGf_kJ_per_mol is None:
                why[name] = sp.missing or "no formation free energy"
                continue
            kj = sp.dGf_kJ_per_mol - sum(n * mu[el] for el, n in sp.formula.items())
            g[name] = kj / KJ_PER_MOL_EV + sp.charge * cond.kt_ln10 * cond.pH
    for raw, v in dict(g_ads).items():
        name = net.canonical(raw)
        if v is None or not math.isfinite(float(v)):
            why[name] = "no finite energy given"
            continue
        if net.species[name].phase != "ads":
            raise NetworkError(f"{raw!r} is not an adsorbate; give molecules through species_G")
        g[name] = float(v)
    for raw, v in dict(species_G or {}).items():
        name = net.canonical(raw)
        g[name] = float(v)
        why.pop(name, None)
    if reactant_G is not None:
        g[net.reactant] = float(reactant_G)
    return g, why


def reactant_via_proxy(net: Network, proxy: str, g_proxy: float, cond: Conditions) -> float:
    """Reactant g from a computed neutral proxy plus the experimental difference of the two
    (the 'hno3' nitrate scheme: X = G_ads(HNO3) + dG(HNO3(g) -> H+ + NO3-) - kT ln10 pH)."""
    g_exp, _ = species_free_energies(net, {}, cond)
    for s in (proxy, net.reactant):
        if s not in g_exp:
            raise NetworkError(f"{s} needs a formation free energy for the proxy reference")
    return g_proxy + g_exp[net.reactant] - g_exp[proxy]


def _step_results(net: Network, g: Mapping[str, float]) -> tuple[list[StepResult], list[str]]:
    out, skipped = [], []
    for st in net.steps:
        if st.split_via and st.split_via in g:
            continue  # the 1e steps through the protonated intermediate replace the averaged step
        if all(s in g for s in st.initial + st.final):
            dg = sum(g[s] for s in st.final) - sum(g[s] for s in st.initial)
            out.append(StepResult(st.id, net.step_labels[st.id], st.equation, st.kind, st.electrons, st.protons, dg))
        else:
            skipped.append(st.id)
    return out, skipped


_ROUTE_CACHE: dict[tuple, list[tuple[str, frozenset[str]]]] = {}


def enumerate_routes(net: Network, available: list[StepResult], limit: int = 20000) -> list[tuple[str, frozenset[str]]]:
    """(product species, step ids) of every minimal route over the available steps (cached per
    network and set of available steps: a screen or a product map repeats the same sets)."""
    key = (net.name, net.steps, net.reactant, net.products, net.competing, tuple(s.id for s in available))
    if key not in _ROUTE_CACHE:
        if len(_ROUTE_CACHE) > 256:
            _ROUTE_CACHE.clear()
        _ROUTE_CACHE[key] = _enumerate_routes(net, available, limit)
    return _ROUTE_CACHE[key]


def _enumerate_routes(net: Network, available: list[StepResult], limit: int) -> list[tuple[str, frozenset[str]]]:
    by_id = {s.id: s for s in net.steps}
    avail = [s.id for s in available]
    free = net.reservoir | {net.reactant}
    groups = set(net.products) | set(net.competing)
    found: list[tuple[str, frozenset[str]]] = []
    for sid in avail:
        st = by_id[sid]
        for prod in st.final:
            g = net.group_of(prod)
            if g not in groups or any(net.group_of(x) == g for x in st.initial):
                continue
            seen: set[frozenset[str]] = set()
            stack = [frozenset([sid])]
            while stack:
                S = stack.pop()
                if S in seen:
                    continue
                seen.add(S)
                if len(seen) > limit:
                    raise NetworkError(f"network {net.name}: more than {limit} partial routes to {prod}")
                made = {x for i in S for x in by_id[i].final}
                used = {x for i in S for x in by_id[i].initial}
                need = [x for i in sorted(S, key=avail.index) for x in by_id[i].initial if x not in made | free]
                dangling = [x for i in sorted(S, key=avail.index) for x in by_id[i].final
                            if x not in used and net.species[x].adsorbate]
                if not need and not dangling:
                    found.append((prod, S))
                    continue
                if need:
                    cands = [i for i in avail if i not in S and need[0] in by_id[i].final
                             and not any(net.group_of(x) in groups for x in by_id[i].final)]
                else:
                    cands = [i for i in avail if i not in S and dangling[0] in by_id[i].initial
                             and not any(net.group_of(x) in groups for x in by_id[i].final)]
                stack.extend(S | {i} for i in reversed(cands))
    minimal = [(p, S) for p, S in found if not any(q == p and T < S for q, T in found)]
    uniq: list[tuple[str, frozenset[str]]] = []
    for item in minimal:
        if item not in uniq:
            uniq.append(item)
    return uniq


def _order(net: Network, S: frozenset[str], steps: Mapping[str, StepResult]) -> tuple[StepResult, ...]:
    return tuple(steps[i] for i in _order_ids(net, tuple(i for i in steps if i in S)))


def _route(net: Network, prod: str, S: frozenset[str], steps: Mapping[str, StepResult]) -> Route:
    ids, branch, averaged, first_branch = _route_shape(net, S, steps)
    ordered = tuple(steps[i] for i in ids)
    red = [s for s in ordered if s.n_e > 0]
    pds = min(red, key=lambda s: -s.dG_0 / s.n_e) if red else None
    chem = [s.dG_0 for s in ordered if s.n_e == 0 and s.kind in ("chemical", "coupling")]
    return Route(prod, net.group_of(prod) or "", ordered, None if pds is None else -pds.dG_0 / pds.n_e, pds,
                 branch, averaged, max(chem) if chem else None,
                 steps[first_branch].dG_0 if first_branch is not None else 0.0)


def _best(routes: list[Route]) -> Route | None:
    """Highest U_L among open routes; ties: the more stable branch product (lower dG of the branch
    step, as the current package), then fewer steps, then data order."""
    ok = [r for r in routes if r.U_L is not None]
    return max(ok, key=lambda r: (not r.closed, round(r.U_L, 9), -r.branch_dG, -len(r.steps)), default=None)


def _speciate(net: Network, species: str, steps: list[StepResult], U: float) -> tuple[str, list[str]]:
    """Follow downhill steps that stay inside the product's group (e.g. NH3(g) -> NH3(aq) -> NH4+(aq))."""
    by_id = net.step_by_id
    grp, walk = net.group_of(species), [species]
    while True:
        nxt = [s for s in steps if species in by_id[s.id].initial and s.dG(U) < -_TOL
               and any(net.group_of(x) == grp and x != species for x in by_id[s.id].final)]
        if not nxt:
            return species, walk
        s = min(nxt, key=lambda s: s.dG(U))
        species = next(x for x in by_id[s.id].final if net.group_of(x) == grp)
        if species in walk:
            return species, walk
        walk.append(species)


def _follow(net: Network, step_id: str) -> str | None:
    """The species the walk follows after a step: its final species richest in the tracked element."""
    return net.followed[step_id]


def selectivity(net: Network, steps: list[StepResult], routes: list[Route], U: float,
                barriers: Mapping[str, float] | None = None) -> Selectivity:
    """The favoured product at potential U and the margins that decide it (criterion: module docstring)."""
    by_id = net.step_by_id
    free = net.reservoir
    el = net.tracked_element
    barriers = dict(barriers or {})
    node, walk, visited, decisions, notes = net.reactant, [net.reactant], {net.reactant}, [], []
    product = ""
    live, consumers = _walk_shape(net, steps)
    while True:
        sp = net.species[node]
        if sp.group and node != net.reactant:
            product, spec = _speciate(net, node, steps, U)
            walk.extend(spec[1:])
            break
        exits = []
        for k in consumers.get(node, ()):
            s = steps[k]
            st = by_id[s.id]
            others = [x for x in st.initial if x != node and x not in free]
            if any(x not in visited for x in others):
                continue
            per = s.dG(U) / st.initial.count(node)
            if s.id in barriers:
                per = max(per, barriers[s.id])
            exits.append((per, s))
        if not exits:
            notes.append(f"no exit from {node}: it accumulates")
            break
        onward = [e for e in exits if _follow(net, e[1].id) in live]
        for e in exits:
            if e not in onward and onward:
                notes.append(f"{e[1].label} not taken: {_follow(net, e[1].id)} has no evaluated way on")
        exits = onward or exits
        exits.sort(key=lambda e: e[0])
        per, s = exits[0]
        alts = tuple((e[1].label, e[0]) for e in exits[1:])
        decisions.append(Decision(node, s.label, per, alts, None if not alts else alts[0][1] - per))
        if per > _TOL and sp.adsorbate:
            notes.append(f"{node}: best exit {s.label} uphill by {per:+.3f} eV at {U:+.3f} V")
        nxt = [x for x in by_id[s.id].final if x not in free]
        nxt.sort(key=lambda x: -net.species[x].count(el))
        if not nxt or nxt[0] in visited:
            notes.append(f"walk stopped after {s.label}")
            break
        node = nxt[0]
        visited.add(node)
        walk.append(node)
    grp = net.group_of(product) if product else ""
    ul = {g: r.U_L for g in (grp,) + net.competing if (r := _best([x for x in routes if x.group == g])) is not None}
    ul_p = ul.get(grp) if grp else None
    comp = {g: ul[g] for g in net.competing if g in ul}
    margin = None
    if comp and ul_p is not None:
        g_best = max(comp, key=comp.get)
        margin = ul_p - comp[g_best]
        if margin < 0:
            notes.append(f"{grp} route (U_L {ul_p:+.3f} V) opens after {g_best} (U_L {comp[g_best]:+.3f} V)")
            r = _best([x for x in routes if x.group == g_best])
            product, grp = r.product, g_best
    return Selectivity(U, product, grp or "", tuple(walk), tuple(decisions), ul_p, comp, margin, tuple(notes))


def analyze(net: Network, g_ads: Mapping[str, float], conditions: Conditions | None = None, *, catalyst: str = "",
            species_G: Mapping[str, float] | None = None, reactant_G: float | None = None,
            dG_H: float | None = None, invalid: Mapping[str, str] | None = None,
            barriers: Mapping[str, float] | None = None) -> NetworkResult:
    """Everything the network says about one catalyst.

    ``g_ads``: adsorbate free energies on the atomic scale (eV; aliases such as '*HNO3' accepted);
    ``dG_H`` is used as g(*H) when ``g_ads`` has none; ``invalid`` names rejected species with why.
    """
    conditions = conditions or Conditions()
    g_ads = dict(g_ads)
    if dG_H is not None and "*H" in net.species:
        g_ads.setdefault("*H", dG_H)
    g, why = species_free_energies(net, g_ads, conditions, species_G, reactant_G)
    for k, v in dict(invalid or {}).items():
        why[net.canonical(k)] = v
        g.pop(net.canonical(k), None)
    steps, _ = _step_results(net, g)
    used = {x for st in net.steps for x in st.initial + st.final}
    missing = [f"{s} ({why[s]})" if s in why else s for s in net.species if s in used and s not in g]
    sm = {s.id: s for s in steps}
    routes = [_route(net, p, S, sm) for p, S in enumerate_routes(net, steps)]
    routes.sort(key=lambda r: (r.group, not r.closed, -(r.U_L if r.U_L is not None else -math.inf)))
    best = _best([r for r in routes if r.group == net.target])
    notes = []
    if abs(conditions.temperature - 298.15) > 1e-6:
        notes.append(f"formation free energies are for 298.15 K; only kT ln10 pH uses {conditions.temperature:g} K")
    if best is None:
        notes.append(f"no complete {net.reactant} -> {net.target} route: " + (", ".join(missing) or "states missing"))
    elif best.upper_bound:
        notes.append("U_L is an upper bound: averaged " + ", ".join(best.averaged) + " (protonated intermediate "
                     "not computed)")
    if best is not None and best.closed:
        notes.append(f"best {net.target} route has an uphill chemical step ({best.max_dG_chemical:+.2f} eV)")
    by_id = net.step_by_id
    ads = next((s for s in best.steps if net.reactant in by_id[s.id].initial), None) if best else None
    if ads is not None and best.U_L is not None and ads.dG(best.U_L) > _TOL:
        notes.append(f"{ads.label} uphill at U_L ({ads.dG(best.U_L):+.2f} eV)")
    for s in (best.steps if best is not None and best.U_L is not None else ()):
        if s.kind == "desorption" and s.dG(best.U_L) > _TOL:
            notes.append(f"{s.label} desorption uphill at U_L ({s.dG(best.U_L):+.2f} eV): the product stays on "
                         "the surface at U_L")
    her = _best([r for r in routes if r.group in net.competing])
    ref_n = net.species[net.reactant].count(net.tracked_element)
    xr = g.get(net.reactant, 0.0)
    states = {s: v - (net.species[s].count(net.tracked_element) / ref_n * xr if ref_n else 0.0) for s, v in g.items()}
    form = _speciate(net, best.product, steps, conditions.potential)[0] if best else ""
    at_ul = selectivity(net, steps, routes, best.U_L, barriers) if best and best.U_L is not None else None
    at_u = selectivity(net, steps, routes, conditions.potential, barriers)
    for tag, sel in (("at U_L", at_ul), ("at U", at_u)):
        if sel is not None and not sel.product:
            notes.extend(f"{tag}: {n}" for n in sel.notes if f"{tag}: {n}" not in notes)
    for sel in (at_ul, at_u):
        for sp in ([sel.product] if sel and sel.product else []) + [d.chosen.split("->")[-1] for d in
                                                                   (sel.decisions if sel else ())]:
            for x in sp.split("+") if sp not in net.species else [sp]:
                if x in net.species and not net.species[x].verified and species_note(x) not in notes:
                    notes.append(species_note(x))
    return NetworkResult(
        catalyst, net.name, conditions, g, states, steps, routes, best, form,
        best.U_L if best else None, best.PDS.label if best and best.PDS else None,
        best.dG_PDS if best else None, best.branch if best else None, ads.dG_0 if ads else None,
        g.get("*H"), None if her is None else her.U_L,
        at_ul, at_u, missing, notes)


def species_note(name: str) -> str:
    return f"the selectivity uses {name}, whose formation free energy is not verified (networks.toml)"
