"""The NO3RR network under the CHE: potential shifts, a hand-worked pathway, branch choice,
nitrate references, HER and N-N coupling indicators (on the network data, analysis/routes.py)."""

import math

import pytest
from ase.units import kB

from descriptors.analysis.netdata import load_network
from descriptors.analysis.netrecords import Conditions
from descriptors.analysis.reactant import reactant_g
from descriptors.analysis.routes import analyze

NET = load_network("NO3RR")
INITIAL, FINAL = "NO3-(aq)", "NH3(g)"
# N2 on the atomic scale (mu_N = NH3 - 3/2 H2): N2 + 3 H2 -> 2 NH3 has dG = 2 dG_f(NH3, g)
N2_FROM_NH3_eV = 2 * 16.4 / 96.485332

# Hand-worked states (eV, U = 0 V vs RHE, common scale).  Limiting potentials per step, -dG/n:
#   *NO3->*NO2 0.40 (2 e), *NO2->*NO 0.35 (2 e), *NO->*NOH -0.55, *NO->*HNO -0.80, *NOH->*N 0.65,
#   *N->*NH 0.20, *NH->*NH2 0.30, *NH2->*NH3 0.30, *NOH->*NHOH 0.05, *HNO->*NHOH 0.30,
#   *NHOH->*NH 0.80, *NHOH->*NH2OH -0.10, *NH2OH->*NH2 1.20
# Every path through *NOH is limited by *NO->*NOH (U_L = -0.55 V); through *HNO by *NO->*HNO (-0.80 V).
HAND = {INITIAL: 0.0, "*NO3": -0.5, "*NO2": -1.3, "*NO": -2.0, "*NOH": -1.45, "*HNO": -1.2, "*N": -2.1,
        "*NH": -2.3, "*NH2": -2.6, "*NH3": -2.9, "*NHOH": -1.5, "*NH2OH": -1.4, FINAL: -3.2}


def analyze_pathway(cat, states, potential=0.0, dG_H=None, invalid=None):
    """The hand-worked states (common scale, X = -G(NH3(g))) through the network analysis."""
    x = -states[FINAL]
    g = {k: v + x for k, v in states.items() if k.startswith("*")}  # one N each
    if dG_H is not None:
        g["*H"] = dG_H
    return analyze(NET, g, Conditions(potential=potential), catalyst=cat, reactant_G=x, invalid=invalid)


def _paths(r):
    return [x for x in r.routes_of("NH3") if x.product == FINAL]


def test_hand_worked_pathway_gives_known_UL_and_PDS():
    r = analyze_pathway("hand", HAND, dG_H=0.2)
    assert r.U_L == pytest.approx(-0.55, abs=1e-12)
    assert r.PDS == "*NO->*NOH"
    assert r.dG_PDS == pytest.approx(0.55)
    assert r.branch == "NOH"
    assert len(_paths(r)) == 5  # both *NO branches and the hydroxylamine branch are all evaluated
    by_branch = {}
    for p in _paths(r):
        by_branch.setdefault(p.branch, []).append(p.U_L)
    assert max(by_branch["HNO"]) == pytest.approx(-0.80)
    assert r.dG_H == 0.2 and r.U_L_HER == pytest.approx(-0.2)
    s = r.summary()
    assert s["U_L_minus_U_L_HER_V"] == pytest.approx(-0.35) and s["favours"] == "HER"
    # at U = U_L the PDS is exactly thermoneutral and no reduction step of the path is uphill
    prof = r.best.profile(r.U_L)
    labels = [lab for lab, _ in prof]
    g = dict(prof)
    assert g["*NO->*NOH"] - g[labels[labels.index("*NO->*NOH") - 1]] == pytest.approx(0.0, abs=1e-12)
    for st in r.best.steps:
        if st.n_e > 0:
            assert st.dG(r.U_L) <= 1e-12
    # the states come back on the common scale
    for k, v in HAND.items():
        assert r.states[k] == pytest.approx(v, abs=1e-12)


def test_branch_flips_when_NOH_and_HNO_energies_are_swapped():
    swapped = dict(HAND, **{"*NOH": HAND["*HNO"], "*HNO": HAND["*NOH"]})
    r = analyze_pathway("swapped", swapped)
    assert r.branch == "HNO" and r.PDS == "*NO->*HNO"
    assert r.U_L == pytest.approx(-0.55)
    assert analyze_pathway("hand", HAND).branch == "NOH"


@pytest.mark.parametrize("U", [-1.3, -0.4, 0.25, 0.9])
def test_every_step_shifts_by_n_e_U(U):
    """CHE: a step consuming n electrons shifts by n e U (reductions +eU per electron, the oxidative
    nitrate adsorption -eU, the chemical NH3 desorption not at all)."""
    r0 = analyze_pathway("hand", HAND, potential=0.0)
    rU = analyze_pathway("hand", HAND, potential=U)
    old = ("NO3-(aq)->*NO3", "*NO3->*NO2", "*NO2->*NO", "*NO->*NOH", "*NO->*HNO", "*NOH->*N", "*NOH->*NHOH",
           "*HNO->*NHOH", "*NHOH->*NH", "*NHOH->*NH2OH", "*NH2OH->*NH2", "*N->*NH", "*NH->*NH2", "*NH2->*NH3",
           "*NH3->NH3(g)")
    assert {s["step"] for s in rU.step_rows()} >= set(old)  # the 15 steps of the former fixed network
    for s0, sU in zip(r0.step_rows(), rU.step_rows()):
        assert sU["dG_U"] - s0["dG_U"] == pytest.approx(s0["n_e"] * U, abs=1e-12)
    n = {s["step"]: s["n_e"] for s in r0.step_rows()}
    assert n["NO3-(aq)->*NO3"] == -1 and n["*NH3->NH3(g)"] == 0 and n["*NO->*NOH"] == 1 and n["*NO3->*NO2"] == 2
    # U_L does not depend on the potential the steps are reported at
    assert rU.U_L == pytest.approx(r0.U_L)


def test_missing_species_are_reported_not_dropped():
    partial = {k: v for k, v in HAND.items() if k not in ("*NOH", "*HNO")}
    r = analyze_pathway("partial", partial, invalid={"*NOH": "dissociated"})
    assert r.U_L is None and r.PDS is None and _paths(r) == []
    assert "*NOH (dissociated)" in r.missing and "*HNO" in r.missing
    assert "no complete" in r.summary()["notes"]


def test_equilibrium_reference_from_formation_energies():
    # NO3- + 9 H+ + 8 e- -> NH3(g) + 3 H2O(l) from dG_f (kJ/mol): NO3- -111.3, NH3 -16.4, H2O -237.1 (CRC)
    e0 = -(-16.4 + 3 * (-237.1) - (-111.3)) / (8 * 96.485332)
    x0 = reactant_g(NET, "equilibrium", Conditions(pH=0.0))
    assert x0 == pytest.approx(8 * e0, abs=1e-6)
    assert e0 == pytest.approx(0.7986, abs=1e-4)
    # RHE scale: E = E0 - (1/8) kT ln10 pH; at pH 14 about 0.69 V vs RHE
    x14 = reactant_g(NET, "equilibrium", Conditions(pH=14.0))
    assert x14 / 8 == pytest.approx(e0 - kB * 298.15 * math.log(10) * 14 / 8)
    assert x14 / 8 == pytest.approx(0.695, abs=2e-3)
    # an override pins the same thing to another potential
    assert reactant_g(NET, "equilibrium", Conditions(pH=14.0), 0.9) == pytest.approx(
        8 * 0.9 - kB * 298.15 * math.log(10) * 14)
    # the whole pathway then releases 8 e E_eq: the final state sits at -X
    st = analyze(NET, {"*N": -1.0}, Conditions(), reactant_G=x0).states
    assert st[FINAL] == pytest.approx(-8 * e0) and st["*N"] == pytest.approx(-1.0 - 8 * e0)


def test_hno3_reference_agrees_with_equilibrium_for_experimental_hno3():
    """With the experimental HNO3(g) on the atomic scale the two nitrate schemes coincide at any pH."""
    kjmol = 1 / 96.485332
    g_hno3 = (-73.5 - (-16.4) - 3 * (-237.1)) * kjmol  # HNO3 vs NH3 - 3/2 H2, 3 (H2O - H2), 1/2 H2
    for pH in (0.0, 7.0, 13.0):
        assert reactant_g(NET, "hno3", Conditions(pH=pH), g_proxy=g_hno3) == pytest.approx(
            reactant_g(NET, "equilibrium", Conditions(pH=pH)), abs=1e-6)
    with pytest.raises(ValueError, match="HNO3"):
        reactant_g(NET, "hno3", Conditions())
    with pytest.raises(ValueError, match="nitrate_reference"):
        reactant_g(NET, "aqueous", Conditions())


def test_N_coupling_indicator():
    r = analyze_pathway("hand", HAND)
    g_n = HAND["*N"] - HAND[FINAL]  # *N on the atomic scale
    assert N2_FROM_NH3_eV == pytest.approx(2 * 16.4 / 96.485332)
    assert r.step("N_N_N2").dG_0 == pytest.approx(N2_FROM_NH3_eV - 2 * g_n)
    assert r.step("N_NH").dG(r.U_L) == pytest.approx(HAND["*NH"] - HAND["*N"] + r.U_L)
    # at U_L the walk compares 2 *N -> N2 per *N with *N -> *NH: here ammonia
    d = next(d for d in r.at_U_L.decisions if d.intermediate == "*N")
    n2 = (N2_FROM_NH3_eV - 2 * g_n) / 2
    nh = HAND["*NH"] - HAND["*N"] + r.U_L
    assert d.chosen == ("*N+*N->N2(g)" if n2 < nh else "*N->*NH")
    assert r.at_U_L.group == ("N2" if n2 < nh else "NH3")
