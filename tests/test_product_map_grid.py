"""The product maps' grid (analysis/mapgrid.py) gives, point by point, the group routes.analyze
favours (at U_L, else at the analysis potential): on every shipped network with more than one
product, at random and at tied energies, with species missing, and through productmap.product_map
against the loop over analyze that it replaces."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from descriptors.analysis.mapgrid import favoured_groups
from descriptors.analysis.netdata import load_network, load_networks
from descriptors.analysis.netrecords import Conditions
from descriptors.analysis.productmap import map_axes, product_map
from descriptors.analysis.routes import analyze

NETS = {k: n for k, n in load_networks().items() if len(set(n.products) | set(n.competing)) >= 2}


def _by_analyze(net, g, cond, x_ref):
    r = analyze(net, g, cond, reactant_G=x_ref)
    return (r.at_U_L or r.at_U).group


def _points(net, rng, n, step=None, drop=()):
    ads = [s for s in net.adsorbates() if s not in drop]
    pts = []
    for _ in range(n):
        v = rng.normal(-1.5, 1.2, len(ads))
        if step:  # energies on a coarse grid: many steps and routes tie exactly
            v = np.round(v / step) * step
        pts.append({s: float(x) for s, x in zip(ads, v)})
    return pts


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("cond", [Conditions(0.0, 0.0), Conditions(14.0, -0.3), Conditions(7.0, 0.2)])
def test_grid_groups_equal_analyze(name, cond):
    net = NETS[name]
    rng = np.random.default_rng(16)
    x_ref = 6.4 if net.name == "NO3RR" else 0.5
    for pts in (_points(net, rng, 150), _points(net, rng, 150, step=0.25),
                _points(net, rng, 60, drop=net.adsorbates()[1::3])):
        want = [_by_analyze(net, p, cond, x_ref) for p in pts]
        assert favoured_groups(net, cond, x_ref, pts) == want
    assert len(set(want)) >= 1


def test_grid_groups_vary_and_fall_back_on_missing_values():
    net = load_network("NO3RR")
    cond = Conditions()
    rng = np.random.default_rng(3)
    pts = _points(net, rng, 300)
    got = favoured_groups(net, cond, 6.4, pts)
    assert len(set(got)) >= 3  # the comparison above is not between constant answers
    odd = dict(pts[0])
    odd["*NO"] = math.nan  # not evaluated, as analyze does: the point goes through analyze
    del odd["*N"]
    mixed = [pts[1], odd, pts[2]]
    assert favoured_groups(net, cond, 6.4, mixed) == [_by_analyze(net, p, cond, 6.4) for p in mixed]


def _linear_dataset(net, rng):
    """Eight catalysts whose adsorbates lie near linear relations in (*N, *O)."""
    ads = net.adsorbates()
    a, b, c = rng.uniform(0.2, 1.0, len(ads)), rng.uniform(0.0, 0.6, len(ads)), rng.uniform(-1.5, 0.5, len(ads))
    g_ads = {}
    for k in range(8):
        n_, o_ = -1.2 + 0.2 * k + rng.normal(0, 0.05), -0.9 + 0.15 * ((k * 3) % 8) + rng.normal(0, 0.05)
        g = {s: float(a[i] * n_ + b[i] * o_ + c[i] + rng.normal(0, 0.08)) for i, s in enumerate(ads)}
        g["*N"], g["*O"] = float(n_), float(o_)
        g_ads[f"M{k}"] = g
    return SimpleNamespace(g_ads=g_ads, reactant_G={}, invalid={})


def test_product_map_equals_the_loop_over_analyze():
    net = load_network("NO3RR")
    cond = Conditions(0.0, -0.2)
    ds = _linear_dataset(net, np.random.default_rng(7))
    for name, axes in map_axes(net).items():
        m = product_map(ds, net, cond, 6.3885, name, axes, n=15)
        from descriptors.analysis.scaling import fit_all

        d1, d2 = axes
        free_second = net.species[d2].count(net.tracked_element) == 0 and net.species[d2].count("O") == 0
        fits, _ = fit_all(ds.g_ads, [d1] if free_second else [d1, d2],
                          [s for s in net.adsorbates() if s not in axes], 0.95)
        fits = {t: f for t, f in fits.items() if not f.identity}
        want = np.empty((15, 15), dtype=object)
        for iy, y in enumerate(m.y):  # the loop product_map ran before mapgrid.py
            for ix, x in enumerate(m.x):
                dv = np.array([x] if free_second else [x, y])
                g = {t: float(f.predict(dv[None, :])[0]) for t, f in fits.items()}
                g[d1], g[d2] = float(x), float(y)
                r = analyze(net, g, cond, reactant_G=6.3885)
                want[iy, ix] = (r.at_U_L or r.at_U).group or "none"
        assert (m.product == want).all(), name
