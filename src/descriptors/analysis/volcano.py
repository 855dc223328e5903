"""Activity volcanoes: every step's dG through the scaling relations as a function of one or two
descriptors, U_L(d) = max over paths of min over reduction steps of -dG_i(d)/n_i (network.py),
i.e. U_L = -max_i dG_i/e along the best path for one-electron steps.

In 1D every -dG_i/n_i is a straight line in the descriptor, so U_L(d) is piecewise linear and
its maximum (the apex) lies on an end of the range or where two lines cross: the apex is found
exactly among those crossings.  In 2D the apex is the grid maximum refined by Nelder-Mead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from descriptors.analysis.network import FINAL, INITIAL, PATHS
from descriptors.analysis.scaling import ScalingFit

__all__ = ["Volcano1D", "Volcano2D", "volcano_1d", "volcano_2d", "usable_paths"]


def usable_paths(fits: dict[str, ScalingFit]):
    """Paths whose every adsorbate state has a scaling relation."""
    return [p for p in PATHS if all(s.final in fits or s.final == FINAL for s in p)]


def _state_g(name: str, fits: dict[str, ScalingFit], d, x_ref: float):
    if name == FINAL:
        return -x_ref + 0.0 * np.asarray(d, float)[..., 0]
    if name == INITIAL:
        return 0.0 * np.asarray(d, float)[..., 0]
    return fits[name].predict(d) - x_ref


def _ul_stack(fits, d, x_ref, paths):
    """U_L of every path at descriptor points d (..., k) -> (n_paths, ...), and the argmin step."""
    uls, which = [], []
    for p in paths:
        lines = []
        for s in p:
            if s.n_e > 0:
                dg = _state_g(s.final, fits, d, x_ref) - _state_g(s.initial, fits, d, x_ref)
                lines.append(-dg / s.n_e)
        lines = np.array(lines)
        uls.append(lines.min(axis=0))
        which.append(lines.argmin(axis=0))
    return np.array(uls), np.array(which)


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
               n: int = 601) -> Volcano1D:
    paths = usable_paths(fits)
    if not paths:
        missing = sorted({s.final for p in PATHS for s in p if s.final not in fits and s.final != FINAL})
        raise ValueError(f"no complete path has scaling relations for all its states; missing: {', '.join(missing)}")
    xs = np.linspace(lo, hi, n)
    d = xs[:, None]
    uls, which = _ul_stack(fits, d, x_ref, paths)
    best = uls.argmax(axis=0)
    U_L = uls.max(axis=0)
    red = [[s for s in p if s.n_e > 0] for p in paths]
    limiting = [red[best[j]][which[best[j], j]].label for j in range(n)]
    # Every reduction step as a line a*d + b of -dG/n.
    step_lines: dict[str, tuple[float, float]] = {}
    for p in red:
        for s in p:
            f0 = -(_state_g(s.final, fits, np.array([[0.0]]), x_ref) - _state_g(s.initial, fits, np.array([[0.0]]),
                                                                                   x_ref)) / s.n_e
            f1 = -(_state_g(s.final, fits, np.array([[1.0]]), x_ref) - _state_g(s.initial, fits, np.array([[1.0]]),
                                                                                   x_ref)) / s.n_e
            step_lines[s.label] = (float(f1[0] - f0[0]), float(f0[0]))
    cand = [lo, hi]
    for (a1, b1), (a2, b2) in itertools.combinations(step_lines.values(), 2):
        if abs(a1 - a2) > 1e-12:
            xc = (b2 - b1) / (a1 - a2)
            if lo <= xc <= hi:
                cand.append(xc)
    cand = np.array(cand)
    cu = _ul_stack(fits, cand[:, None], x_ref, paths)[0].max(axis=0)
    j = int(cu.argmax())
    ax, au = float(cand[j]), float(cu[j])
    at = [lab for lab, (a, b) in step_lines.items() if abs(a * ax + b - au) < 1e-9]
    lines = {lab: a * xs + b for lab, (a, b) in step_lines.items()}
    missing = sorted({s.final for p in PATHS for s in p if s.final not in fits and s.final != FINAL})
    return Volcano1D(descriptor, xs, U_L, lines, limiting, ax, au, at,
                     [" -> ".join([p[0].initial] + [s.final for s in p]) for p in paths], missing)


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
               xr: tuple[float, float], yr: tuple[float, float], n: int = 201) -> Volcano2D:
    from scipy.optimize import minimize

    paths = usable_paths(fits)
    if not paths:
        raise ValueError("no complete path has scaling relations for all its states")
    xs, ys = np.linspace(*xr, n), np.linspace(*yr, n)
    gx, gy = np.meshgrid(xs, ys)
    d = np.stack([gx, gy], axis=-1)
    U_L = _ul_stack(fits, d, x_ref, paths)[0].max(axis=0)
    iy, ix = np.unravel_index(int(U_L.argmax()), U_L.shape)

    def f(p):
        p = np.clip(p, [xr[0], yr[0]], [xr[1], yr[1]])
        return -float(_ul_stack(fits, p[None, :], x_ref, paths)[0].max())

    r = minimize(f, np.array([xs[ix], ys[iy]]), method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9})
    apex = np.clip(r.x, [xr[0], yr[0]], [xr[1], yr[1]])
    if -f(apex) < U_L[iy, ix]:
        apex = np.array([xs[ix], ys[iy]])
    uls, which = _ul_stack(fits, apex[None, :], x_ref, paths)
    bp = int(uls[:, 0].argmax())
    red = [s for s in paths[bp] if s.n_e > 0]
    missing = sorted({s.final for p in PATHS for s in p if s.final not in fits and s.final != FINAL})
    return Volcano2D(tuple(descriptors), xs, ys, U_L, (float(apex[0]), float(apex[1])), float(uls[bp, 0]),
                     red[int(which[bp, 0])].label,
                     [" -> ".join([p[0].initial] + [s.final for s in p]) for p in paths], missing)
