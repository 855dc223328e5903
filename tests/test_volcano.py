"""Volcanoes: the 1D apex of synthetic relations sits where the two limiting lines cross."""

import numpy as np
import pytest
from test_network import NET

from descriptors.analysis.netrecords import Conditions
from descriptors.analysis.routes import analyze
from descriptors.analysis.scaling import fit_all
from descriptors.analysis.volcano import volcano_1d, volcano_2d

# Synthetic relations in d = G(*N): every step is 2 eV downhill except *NO->*NOH,
# dG = 0.5 d + 0.1 (U line -0.5 d - 0.1), and *NH2->*NH3, dG = -0.8 d - 0.6 (U line 0.8 d + 0.6);
# the *HNO branch is 5 eV uphill.  Apex: -0.5 d - 0.1 = 0.8 d + 0.6 -> d* = -7/13, U* = 0.5*7/13 - 0.1.
REL = {"*N": (1.0, 0.0), "*NOH": (1.0, 2.0), "*NO": (0.5, 1.9), "*NO2": (0.5, 5.9), "*NO3": (0.5, 9.9),
       "*HNO": (0.5, 6.9), "*NH": (1.0, -2.0), "*NH2": (1.0, -4.0), "*NH3": (0.2, -4.6), "*NHOH": (1.0, 0.0),
       "*NH2OH": (1.0, -2.0)}
D_STAR, U_STAR = -7 / 13, 0.5 * 7 / 13 - 0.1


def _g(d):
    return {s: a * d + b for s, (a, b) in REL.items()}


@pytest.fixture(scope="module")
def fits():
    data = {f"c{i}": _g(d) for i, d in enumerate(np.linspace(-2.0, 1.0, 6))}
    f, skipped = fit_all(data, ["*N"], list(REL))
    assert not skipped
    return f


def test_1d_apex_where_limiting_lines_cross(fits):
    v = volcano_1d(fits, "*N", x_ref=0.0, lo=-2.0, hi=1.0)
    assert v.apex_x == pytest.approx(D_STAR, abs=1e-9)
    assert v.apex_U_L == pytest.approx(U_STAR, abs=1e-9)
    assert set(v.apex_steps) == {"*NO->*NOH", "*NH2->*NH3"}
    assert not v.apex_on_edge
    # the envelope is the lower of the two lines everywhere
    expect = np.minimum(-0.5 * v.x - 0.1, 0.8 * v.x + 0.6)
    np.testing.assert_allclose(v.U_L, expect, atol=1e-9)
    assert v.limiting[0] == "*NH2->*NH3" and v.limiting[-1] == "*NO->*NOH"


@pytest.mark.parametrize("d", [-1.7, -0.3, 0.6])
def test_volcano_agrees_with_the_network_on_the_relations(fits, d):
    v = volcano_1d(fits, "*N", x_ref=0.7, lo=-2.0, hi=1.0, n=3001)
    j = int(np.argmin(np.abs(v.x - d)))
    r = analyze(NET, _g(v.x[j]), Conditions(), reactant_G=0.7)
    assert v.U_L[j] == pytest.approx(r.U_L, abs=1e-9)


def test_2d_volcano_reduces_to_1d_when_second_descriptor_is_inert(fits):
    rng = np.random.default_rng(3)
    data = {}
    for i, d in enumerate(np.linspace(-2.0, 1.0, 7)):
        g = _g(d)
        g["*O"] = rng.uniform(-1, 1)  # unrelated second descriptor
        data[f"c{i}"] = g
    f2, _ = fit_all(data, ["*N", "*O"], list(REL))
    v = volcano_2d(f2, ("*N", "*O"), 0.0, (-2.0, 1.0), (-1.0, 1.0), n=81)
    assert v.apex_U_L == pytest.approx(U_STAR, abs=1e-5)
    assert v.apex[0] == pytest.approx(D_STAR, abs=1e-3)
