"""Activity volcanoes: every step's dG through the scaling relations as a function of one or two
descriptors, U_L(d) = max over the open routes to the network's target (routes.enumerate_routes on the network
data) of min over reduction steps of -dG_i(d)/n_i, i.e. U_L = -max_i dG_i/e along the best route
for one-electron steps; a route through a chemical step (N-O scission, coupling) that is uphill at d
is closed there.

In 1D every -dG_i/n_i is a straight line in the descriptor, so U_L(d) is piecewise linear and
its maximum (the apex) lies on an end of the range or where two lines cross: the apex is found
exactly among those crossings.  In 2D the apex is the grid maximum refined by Nelder-Mead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descriptors.analysis.netdata import Network, load_network
from descriptors.analysis.netrecords import TOL, Conditions
from descriptors.analysis.routes import (
    _step_results,
    enumerate_routes,
    species_free_energies,
)
from descriptors.analysis.scaling import ScalingFit

__all__ = ["Volcano1D", "Volcano2D", "volcano_1d", "volcano_2d", "usable_routes", "R2_WARN", "weak_fits",
           "apex_extrapolated", "apex_note"]

# Scaling relations below this R^2 leave more than 20 % of the variance of an intermediate across the
# catalysts unexplained (residual std > 0.45 of its spread), comparable to the 0.2-0.3 eV differences
# between the limiting lines that decide the apex; published NO3RR/NRR relations on transition
# metals sit at R^2 >= 0.9.  Below 0.8 the volcano is drawn but marked and warned about.
R2_WARN = 0.8


def weak_fits(fits: dict[str, ScalingFit], used: list[str] | None = None) -> dict[str, float]:
    """{target: R^2} of the non-identity relations (of ``used`` if given) with R^2 < R2_WARN."""
    return {t: float(f.r2) for t, f in fits.items() if not f.identity and f.r2 < R2_WARN
            and (used is None or t in used)}


def _net(net: Network | None) -> Network:
    return net if net is not None else load_network()


def usable_routes(net: Network, fits: dict[str, ScalingFit], cond: Conditions | None = None):
    """Routes to the target whose every adsorbate has a scaling relation: (labels of steps, route ids)."""
    cond = cond or Conditions()
    g0, _ = species_free_energies(net, {}, cond)
    dummy = dict(g0, **{s: 0.0 for s in fits})
    dummy.setdefault(net.reactant, 0.0)
    steps, _ = _step_results(net, dummy)
    by = {s.id: s for s in steps}
    routes = [(p, S) for p, S in enumerate_routes(net, steps) if net.group_of(p) == net.target]
    return routes, by


def _species_g(net, fits, d, x_ref, cond):
    g0, _ = species_free_energies(net, {}, cond)
    shape = np.asarray(d, float)[..., 0].shape
    out = {k: np.full(shape, v) for k, v in g0.items()}
    for s, f in fits.items():
        out[s] = np.asarray(f.predict(d), float).reshape(shape)
    out[net.reactant] = np.full(shape, float(x_ref))
    return out


def _ul_stack(net, fits, d, x_ref, routes, by, cond):
    """U_L of every route at descriptor points d (..., k) -> (n_routes, ...), the limiting step
    index, and the reduction steps of each route (open routes only: an uphill chemical step closes one)."""
    g = _species_g(net, fits, d, x_ref, cond)
    defs = {st.id: st for st in net.steps}

    def dg(sid):
        st = defs[sid]
        return sum(g[x] for x in st.final) - sum(g[x] for x in st.initial)

    uls, which, reds = [], [], []
    for _, S in routes:
        ids = [i for i in by if i in S]
        red = [i for i in ids if by[i].n_e > 0]
        lines = np.array([-dg(i) / by[i].n_e for i in red])
        ul = lines.min(axis=0)
        for i in ids:
            if by[i].n_e == 0 and by[i].kind in ("chemical", "coupling"):
                ul = np.where(dg(i) > TOL, -np.inf, ul)
        uls.append(ul)
        which.append(lines.argmin(axis=0))
        reds.append([by[i].label for i in red])
    return np.array(uls), np.array(which), reds


def _route_text(by, S):
    return " | ".join(by[i].label for i in by if i in S)


def _missing(net, fits):
    return sorted(s for s in net.adsorbates() if s not in fits)


@dataclass
class Volcano1D:
    descriptor: str
    x: np.ndarray
    U_L: np.ndarray
    lines: dict[str, np.ndarray]  # step label -> -dG/n along x
    limiting: list[str]  # limiting step along x
    apex_x: float
    apex_U_L: float
    apex_steps: list[str]
    paths: list[str]
    missing: list[str] = field(default_factory=list)

    @property
    def apex_on_edge(self) -> bool:
        """The maximum sits on an end of the descriptor range: not a true apex within it."""
        return bool(min(abs(self.apex_x - self.x[0]), abs(self.apex_x - self.x[-1])) < 1e-9)

    def as_dict(self) -> dict[str, Any]:
        return {"descriptor": self.descriptor, "apex": {"descriptor_eV": self.apex_x, "U_L_V": self.apex_U_L,
                "limiting_steps": self.apex_steps, "on_range_edge": self.apex_on_edge}, "range_eV": [float(self.x[0]), float(self.x[-1])],
                "paths": self.paths, "missing_relations": self.missing}


def volcano_1d(fits: dict[str, ScalingFit], descriptor: str, x_ref: float, lo: float, hi: float,
               n: int = 601, *, net: Network | None = None, cond: Conditions | None = None) -> Volcano1D:
    net, cond = _net(net), cond or Conditions()
    routes, by = usable_routes(net, fits, cond)
    if not routes:
        raise ValueError(f"no complete route to {net.target} has scaling relations for all its adsorbates; "
                         f"missing: {', '.join(_missing(net, fits))}")
    xs = np.linspace(lo, hi, n)
    uls, which, reds = _ul_stack(net, fits, xs[:, None], x_ref, routes, by, cond)
    best = uls.argmax(axis=0)
    U_L = uls.max(axis=0)
    limiting = [reds[best[j]][which[best[j], j]] for j in range(n)]
    # every reduction step (and every chemical step) of the routes is a straight line in the descriptor
    defs = {st.id: st for st in net.steps}
    ids = sorted({i for _, S in routes for i in S if by[i].n_e > 0 or by[i].kind in ("chemical", "coupling")},
                 key=list(by).index)

    def at(x, i):
        g = _species_g(net, fits, np.array([[x]]), x_ref, cond)
        d = sum(g[s] for s in defs[i].final) - sum(g[s] for s in defs[i].initial)
        return float(d[0]) if by[i].n_e == 0 else float(-d[0] / by[i].n_e)

    step_lines = {by[i].label: (at(1.0, i) - at(0.0, i), at(0.0, i)) for i in ids if by[i].n_e > 0}
    chem_lines = [(at(1.0, i) - at(0.0, i), at(0.0, i)) for i in ids if by[i].n_e == 0]
    cand = [lo, hi]
    for (a1, b1), (a2, b2) in itertools.combinations(step_lines.values(), 2):
        if abs(a1 - a2) > 1e-12:
            xc = (b2 - b1) / (a1 - a2)
            if lo <= xc <= hi:
                cand.append(xc)
    for a, b in chem_lines:  # a chemical step turning uphill closes a route: the envelope may jump there
        if abs(a) > 1e-12 and lo <= -b / a <= hi:
            cand.append(-b / a)
    cand = np.array(cand)
    cu = _ul_stack(net, fits, cand[:, None], x_ref, routes, by, cond)[0].max(axis=0)
    j = int(cu.argmax())
    ax, au = float(cand[j]), float(cu[j])
    at_apex = [lab for lab, (a, b) in step_lines.items() if abs(a * ax + b - au) < 1e-9]
    lines = {lab: a * xs + b for lab, (a, b) in step_lines.items()}
    return Volcano1D(descriptor, xs, U_L, lines, limiting, ax, au, at_apex,
                     [_route_text(by, S) for _, S in routes], _missing(net, fits))


@dataclass
class Volcano2D:
    descriptors: tuple[str, str]
    x: np.ndarray
    y: np.ndarray
    U_L: np.ndarray  # (len(y), len(x))
    apex: tuple[float, float]
    apex_U_L: float
    apex_step: str
    paths: list[str]
    missing: list[str] = field(default_factory=list)

    @property
    def apex_on_edge(self) -> bool:
        tol = 1e-6
        return bool(min(abs(self.apex[0] - self.x[0]), abs(self.apex[0] - self.x[-1]),
                        abs(self.apex[1] - self.y[0]), abs(self.apex[1] - self.y[-1])) < tol)

    def as_dict(self) -> dict[str, Any]:
        return {"descriptors": list(self.descriptors), "apex": {"descriptors_eV": list(self.apex),
                "U_L_V": self.apex_U_L, "limiting_step": self.apex_step, "on_range_edge": self.apex_on_edge},
                "range_eV": [[float(self.x[0]), float(self.x[-1])], [float(self.y[0]), float(self.y[-1])]],
                "paths": self.paths, "missing_relations": self.missing}


def volcano_2d(fits: dict[str, ScalingFit], descriptors: tuple[str, str], x_ref: float,
               xr: tuple[float, float], yr: tuple[float, float], n: int = 201, *, net: Network | None = None,
               cond: Conditions | None = None) -> Volcano2D:
    from scipy.optimize import minimize

    net, cond = _net(net), cond or Conditions()
    routes, by = usable_routes(net, fits, cond)
    if not routes:
        raise ValueError(f"no complete route to {net.target} has scaling relations for all its adsorbates; "
                         f"missing: {', '.join(_missing(net, fits))}")
    xs, ys = np.linspace(*xr, n), np.linspace(*yr, n)
    gx, gy = np.meshgrid(xs, ys)
    d = np.stack([gx, gy], axis=-1)
    U_L = _ul_stack(net, fits, d, x_ref, routes, by, cond)[0].max(axis=0)
    iy, ix = np.unravel_index(int(U_L.argmax()), U_L.shape)

    def f(p):
        p = np.clip(p, [xr[0], yr[0]], [xr[1], yr[1]])
        return -float(_ul_stack(net, fits, p[None, :], x_ref, routes, by, cond)[0].max())

    r = minimize(f, np.array([xs[ix], ys[iy]]), method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9})
    apex = np.clip(r.x, [xr[0], yr[0]], [xr[1], yr[1]])
    if -f(apex) < U_L[iy, ix]:
        apex = np.array([xs[ix], ys[iy]])
    uls, which, reds = _ul_stack(net, fits, apex[None, :], x_ref, routes, by, cond)
    bp = int(uls[:, 0].argmax())
    return Volcano2D(tuple(descriptors), xs, ys, U_L, (float(apex[0]), float(apex[1])), float(uls[bp, 0]),
                     reds[bp][int(which[bp, 0])], [_route_text(by, S) for _, S in routes], _missing(net, fits))


def apex_extrapolated(res, descriptors) -> bool:
    """The apex lies outside the range of the computed catalysts in a descriptor (1D or 2D)."""
    if isinstance(descriptors, str):
        v = res.volcanoes_1d.get(descriptors)
        apex, descriptors = ((v.apex_x,) if v else None), (descriptors,)
    else:
        v = res.volcano_2d
        apex = v.apex if v else None
    if apex is None:
        return False
    for d, a in zip(descriptors, apex):
        xs = [g[d] for g in res.dataset.g_ads.values() if d in g]
        if xs and not (min(xs) - 1e-9 <= a <= max(xs) + 1e-9):
            return True
    return False


def apex_note(res, descriptors) -> str:
    """What a one-line report of a volcano's apex must say besides its numbers: extrapolated beyond
    the computed catalysts (a property of the fitted lines, not of any catalyst), on the edge of the
    scanned range."""
    v = res.volcanoes_1d.get(descriptors) if isinstance(descriptors, str) else res.volcano_2d
    notes = []
    if apex_extrapolated(res, descriptors):
        notes.append("EXTRAPOLATED beyond the computed catalysts")
    if v is not None and getattr(v, "apex_on_edge", False):
        notes.append("on the edge of the scanned range")
    return f" ({'; '.join(notes)})" if notes else ""
