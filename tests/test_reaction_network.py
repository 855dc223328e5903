"""Reaction networks as data: loading/validation, the new selectivity channels on hand-worked
free-energy diagrams, and the hand-worked diagrams of the current tests/test_network.py re-expressed.

Diagrams are written on the common scale of the current package (eV, U = 0 V vs RHE, pH 0: the
reactant NO3-(aq) + * at 0, NH3(g) at -X) and turned into adsorbate free energies on the atomic
scale with G_ads = G_common + n_N X (``ads``).  Molecules then sit where their formation free
energies put them (CRC, kJ/mol): on the common scale at pH 0
    NO2-(aq): (-32.2 + 16.4 + 2*237.1)/F - X = -1.63755 eV     NO(g):  (87.6 + 16.4 + 237.1)/F - X = -2.85328 eV
    N2(g):    (2*16.4)/F - 2X = -12.43712 eV                    N2O(g): (103.7 + 2*16.4 + 237.1)/F - 2X = -8.90498 eV
with F = 96.485332 kJ/mol/eV and X = (-111.3 + 16.4 + 3*237.1)/F = 6.38854 eV.
"""

import json
import math

import pytest

from descriptors.analysis.netdata import (
    DEFAULT_CORRECTIONS,
    NetworkError,
    load_network,
    load_networks,
    missing_corrections,
    require_corrections,
)
from descriptors.analysis.routes import (
    Conditions,
    analyze,
    reactant_via_proxy,
    species_free_energies,
)

F = 96.485332
X = (-111.3 + 16.4 + 3 * 237.1) / F  # nitrate reference at pH 0 (equilibrium scheme), 8 e E0
KTLN10 = 8.617333262e-5 * 298.15 * math.log(10)
NO2M = (-32.2 + 16.4 + 2 * 237.1) / F - X
NOG = (87.6 + 16.4 + 237.1) / F - X
N2G = 2 * 16.4 / F - 2 * X
N2OG = (103.7 + 2 * 16.4 + 237.1) / F - 2 * X

NET = load_network("NO3RR")


def ads(common, x=X):
    return {k: v + NET.species[NET.canonical(k)].count("N") * x for k, v in common.items()}


def test_common_scale_constants_by_hand():
    assert X == pytest.approx(6.38854, abs=1e-5) and X / 8 == pytest.approx(0.7986, abs=1e-4)
    assert NO2M == pytest.approx(-1.63755, abs=1e-5) and NOG == pytest.approx(-2.85328, abs=1e-5)
    st = analyze(NET, {}, Conditions()).states
    assert st["NO3-(aq)"] == pytest.approx(0.0) and st["NH3(g)"] == pytest.approx(-X)
    assert st["NO2-(aq)"] == pytest.approx(NO2M) and st["NO(g)"] == pytest.approx(NOG)
    assert st["N2(g)"] == pytest.approx(N2G) and st["N2O(g)"] == pytest.approx(N2OG)


# -- data file: shipped networks, validation ---------------------------------------------------------

def test_shipped_networks_load_with_every_channel():
    nets = load_networks()
    assert set(nets) == {"NO3RR", "NO2RR", "NORR", "HER"}
    labels = {NET.label(s) for s in NET.steps}
    for lab in ("NO3-(aq)->*NO3", "*NO3->*NO2", "*NO3->*NO3H", "*NO3H->*NO2", "*NO2->*NO2H", "*NO2H->*NO",
                "*NO->*NOH", "*NO->*HNO", "*HNO->*H2NO", "*H2NO->*NH2OH", "*NO2->NO2-(aq)", "*NO->NO(g)",
                "*NH2OH->NH2OH(aq)", "NH3(aq)->NH4+(aq)", "*N+*N->N2(g)", "*N+*NO->*N2O", "*NO+*NO->*N2O+*O",
                "*N2O->N2O(g)", "*N2O->*N2+*O", "*NO3->*NO2+*O", "*NO->*N+*O", "*O->*OH", "*OH->*",
                "*NH3->NH3(g)"):
        assert lab in labels, lab
    assert nets["NO2RR"].reactant == "NO2-(aq)" and nets["NORR"].reactant == "NO(g)"
    assert not any(s.id == "NO2_rel" for s in nets["NO2RR"].steps)
    assert NET.canonical("*HNO3") == "*NO3H" and NET.canonical("*HNO2") == "*NO2H" and NET.canonical("NHO") == "*HNO"


USER = """
[sources]
crc = "CRC Handbook"
[species."*"]
formula = ""
phase = "site"
reservoir = true
[species."H2(g)"]
formula = "H2"
phase = "g"
dGf_kJ_per_mol = 0.0
source = "crc"
group = "H2"
[species."H2O(l)"]
formula = "H2O"
phase = "l"
dGf_kJ_per_mol = -237.1
source = "crc"
reservoir = true
[species."NH3(g)"]
formula = "NH3"
phase = "g"
dGf_kJ_per_mol = -16.4
source = "crc"
[species."*H"]
formula = "H"
phase = "ads"
[steps.volmer]
initial = ["*"]
final = ["*H"]
electrons = 1
protons = 1
kind = "KIND"
equation = "* + H+ + e- -> *H"
[steps.heyrovsky]
initial = ["*H"]
final = FINAL
electrons = NE
protons = 1
kind = "electrochemical"
equation = "*H + H+ + e- -> H2(g) + *"
[networks.mine]
reactant = "*"
tracked_element = "H"
target = "H2"
products = ["H2"]
steps = ["volmer", "heyrovsky"]
"""


def _user(tmp_path, kind="electrochemical", final='["H2(g)", "*"]', ne="1"):
    p = tmp_path / "net.toml"
    p.write_text(USER.replace("KIND", kind).replace("FINAL", final).replace("NE", ne))
    return p


def test_user_network_file_and_validation_errors_name_the_step(tmp_path):
    net = load_network("mine", _user(tmp_path))
    r = analyze(net, {"*H": 0.3})
    assert r.U_L == pytest.approx(-0.3) and r.PDS == "*->*H"
    with pytest.raises(NetworkError, match="step 'volmer'.*kind 'catalytic' unknown"):
        load_networks(_user(tmp_path, kind="catalytic"))
    with pytest.raises(NetworkError, match="step 'heyrovsky'.*atoms not balanced"):
        load_networks(_user(tmp_path, final='["*"]'))
    with pytest.raises(NetworkError, match="step 'heyrovsky'.*charge/electrons not balanced"):
        load_networks(_user(tmp_path, ne="2"))
    with pytest.raises(NetworkError, match="step 'heyrovsky'.*sites not balanced"):
        load_networks(_user(tmp_path, final='["H2(g)"]'))
    with pytest.raises(NetworkError, match=r"step 'heyrovsky'.*unknown species 'H3\(g\)'"):
        load_networks(_user(tmp_path, final='["H3(g)", "*"]'))
    with pytest.raises(NetworkError, match="unknown species '\\*NO4'"):
        analyze(net, {"*NO4": 0.1})


def test_formation_data_pka_and_the_package_table_agree():
    g0, _ = species_free_energies(NET, {}, Conditions(pH=0.0))
    # NH3(aq) + H+ -> NH4+(aq): dG = (-79.3 + 26.5)/F + kT ln10 pH changes sign at pKa 9.25
    pka = -(g0["NH4+(aq)"] - g0["NH3(aq)"]) / KTLN10
    assert pka == pytest.approx(9.25, abs=0.01)
    assert g0["NO3-(aq)"] == pytest.approx(X)
    assert species_free_energies(NET, {}, Conditions(pH=14))[0]["NO3-(aq)"] == pytest.approx(X - 14 * KTLN10)
    table = json.loads(DEFAULT_CORRECTIONS.read_text())["formation_free_energies_kJ_per_mol"]
    for name, sp in NET.species.items():
        if sp.dGf_kJ_per_mol is not None:
            assert table[name]["value"] == pytest.approx(sp.dGf_kJ_per_mol), name


def test_species_without_correction_fail_with_their_names(tmp_path):
    assert "*NO3H" in missing_corrections(NET) and "NO(g)" in missing_corrections(NET)
    with pytest.raises(NetworkError, match=r"\*NO3H.*NO\(g\)|NO\(g\).*\*NO3H"):
        require_corrections(NET)
    full = tmp_path / "t.json"
    full.write_text(json.dumps({"entries": {"*H": {"zpe": 0.1, "ts": 0.0, "source": "test"},
                                            "H2(g)": {"zpe": 0.27, "ts": 0.41, "source": "test"}}}))
    require_corrections(load_network("HER"), full)  # complete: no error


# -- new channels, hand-worked ---------------------------------------------------------------------

def _decision(sel, node):
    return next(d for d in sel.decisions if d.intermediate == node)


# Nitrite leaves.  Steps (-dG/n): *NO3->*NO2 -0.5 (2e, 0.25), *NO2->*NO -0.2 (2e, 0.10), *NO->*NOH -0.4,
# *NO->*HNO -0.3, *NOH->*N -1.0, *N->*NH -1.0, *NH->*NH2 -1.0, *NH2->*NH3 -1.2: NH3 U_L = 0.10 V,
# PDS the averaged *NO2->*NO.  At U_L, at *NO2: release NO2M + 1.0 + 0.10 = -0.53755 eV against
# reduction -0.2 + 2*0.10 = 0.0 eV: nitrite wins by 0.53755 eV.  U_L(NO2-) = min(0.25, -(NO2M + 1.0)) = 0.25 V
# > U_L(HER) = -0.3 V: NO2-(aq) is the product, HER margin 0.55 V.
NIT = {"*NO3": -0.5, "*NO2": -1.0, "*NO": -1.2, "*NOH": -1.6, "*HNO": -1.5, "*NHOH": -2.4, "*N": -2.6,
       "*NH": -3.6, "*NH2": -4.6, "*NH3": -5.8}


def test_nitrite_release_wins():
    r = analyze(NET, ads(NIT), dG_H=0.3)
    assert r.U_L == pytest.approx(0.10) and r.PDS == "*NO2->*NO" and r.dG_PDS == pytest.approx(-0.2)
    assert r.best.upper_bound and "upper bound" in " ".join(r.notes)
    s = r.at_U_L
    assert s.product == "NO2-(aq)" and s.group == "NO2-"
    d = _decision(s, "*NO2")
    assert d.chosen == "*NO2->NO2-(aq)" and d.dG_chosen == pytest.approx(NO2M + 1.0 + 0.10)
    assert d.margin == pytest.approx(0.0 - (NO2M + 1.0 + 0.10))
    assert s.U_L_product == pytest.approx(0.25) and s.competing_margin == pytest.approx(0.25 + 0.3)


# NO leaves.  NH3 routes: *NO->*HNO +0.1 (-0.1 V) beats *NO->*NOH +0.2 (-0.2 V); the rest is downhill
# (*NO3->*NO2 -1.4/2, *NO2->*NO -0.6/2, *HNO->*NHOH -0.8, *NHOH->*NH -1.1, *NH->*NH2 -1.0, *NH2->*NH3 -0.9):
# U_L = -0.10 V, PDS *NO->*HNO.  At U_L, at *NO: *NO->*HNO 0.0, *NO->*NOH +0.1, *NO->NO(g) NOG + 2.5 =
# -0.35328 eV: NO leaves, margin 0.35328 eV.  U_L(NO) = min(0.7, 0.3) = 0.30 V > U_L(HER) = -0.4 V.
NOR = {"*NO3": -0.5, "*NO2": -1.9, "*NO": -2.5, "*NOH": -2.3, "*HNO": -2.4, "*NHOH": -3.2, "*N": -3.3,
       "*NH": -4.3, "*NH2": -5.3, "*NH3": -6.2}


def test_NO_release_wins():
    r = analyze(NET, ads(NOR), dG_H=-0.4)
    assert r.U_L == pytest.approx(-0.10) and r.PDS == "*NO->*HNO" and r.branch == "HNO"
    s = r.at_U_L
    assert s.product == "NO(g)"
    d = _decision(s, "*NO")
    assert d.chosen == "*NO->NO(g)" and d.dG_chosen == pytest.approx(NOG + 2.5)
    assert d.margin == pytest.approx(0.0 - (NOG + 2.5))
    assert _decision(s, "*NO2").chosen == "*NO2->*NO"  # -0.6 - 0.2 = -0.8 against NO2M + 1.9 - 0.1 = 0.163
    assert s.U_L_product == pytest.approx(0.30) and s.competing_margin == pytest.approx(0.70)


# N2 through *N + *NO, at U = -0.5 V.  NH3: *NO->*NOH -0.3 (0.3 V) is the PDS (U_L = 0.30 V; the
# dissociations *NO3->*NO2+*O (+0.3) and *NO->*N+*O (+0.4) are uphill, closed).  At -0.5 V:
#   *NO:  *NO->*NOH -0.8; *NO+*NO->*N2O+*O (-10.0 + 2.0 + 7.2)/2 = -0.4; *NO->*HNO -0.6  -> *NOH (margin 0.2)
#   *NOH: *NOH->*N -1.3 - 0.5 = -1.8; *NOH->*NHOH -0.6 - 0.5 = -1.1                      -> *N
#   *N:   *N+*NO->*N2O -10.0 + 5.2 + 3.6 = -1.2; *N+*N->N2(g) (N2G + 10.4)/2 = -1.01856;
#         *N->*NH -0.35 - 0.5 = -0.85                                                     -> *N2O (margin 0.18144)
#   *N2O: *N2O->*N2+*O -12.3 + 2.0 + 10.0 = -0.3; *N2O->N2O(g) N2OG + 10.0 = +1.09503    -> *N2 -> N2(g)
# The walk's route to N2 is limited by *NO->*NOH (0.30 V), but the best N2 route avoids it: *NO + *NO ->
# *N2O + *O (-0.8, chemical), *N2O->*N2+*O, *O->*OH -1.6, *OH->* -0.4: U_L(N2) = 0.40 V > U_L(HER) = -0.5 V
# (U_L_product is the best route to the product group, whatever its mechanism).
NN = {"*NO3": -0.5, "*NO2": -2.2, "*NO": -3.6, "*NOH": -3.9, "*HNO": -3.7, "*NHOH": -4.5, "*N": -5.2,
      "*NH": -5.55, "*NH2": -5.9, "*NH3": -6.25, "*N2O": -10.0, "*N2": -12.3, "*O": 2.0, "*OH": 0.4}


def test_N2_wins_through_N_plus_NO():
    r = analyze(NET, ads(NN), Conditions(potential=-0.5), dG_H=0.5)
    assert r.U_L == pytest.approx(0.30) and r.PDS == "*NO->*NOH"
    s = r.at_U
    assert s.product == "N2(g)" and s.walk[-4:] == ("*N", "*N2O", "*N2", "N2(g)")
    d = _decision(s, "*N")
    assert d.chosen == "*N+*NO->*N2O" and d.dG_chosen == pytest.approx(-1.2)
    assert dict(d.alternatives)["*N+*N->N2(g)"] == pytest.approx((N2G + 10.4) / 2)
    assert d.margin == pytest.approx((N2G + 10.4) / 2 + 1.2)
    assert _decision(s, "*NO").margin == pytest.approx(0.2)
    assert _decision(s, "*N2O").chosen == "*N2O->*N2+*O"
    assert s.U_L_product == pytest.approx(0.40) and s.competing_margin == pytest.approx(0.90)
    assert r.routes_of("N2")[0].PDS.label == "*OH->*"
    closed = [x for x in r.routes_of("NH3") if x.closed]
    assert closed and all(x.max_dG_chemical > 0 for x in closed)
    # a kinetic barrier on the coupling (given by the user) hands *N to the next smallest exit
    s2 = analyze(NET, ads(NN), Conditions(potential=-0.5), barriers={"N_NO_N2O": 0.5, "N_N_N2": 0.6}).at_U
    assert _decision(s2, "*N").chosen == "*N->*NH" and s2.group == "NH3"


# Ammonia as NH4+ in acid, NH3 in base (the same adsorbate energies; only the charged species move).
# NH3 route: *NO->*NOH -0.3 is the PDS, U_L = 0.30 V (*NO3->*NO2 -1.7/2, *NO2->*NO -1.4/2, *NOH->*N -1.7,
# *N->*NH -1.0, *NH->*NH2 -0.35, *NH2->*NH3 -0.35); at *N, *N->*NH -0.7 beats 2*N->N2 (N2G + 11.2)/2 = -0.61856.
# Then NH3(g) -> NH3(aq) (-10.1/F = -0.10468 eV) and NH3(aq) + H+ -> NH4+(aq): -52.8/F + kT ln10 pH =
# -0.54723 eV at pH 0 (NH4+), +0.28101 eV at pH 14 (stays NH3(aq)).
B = {"*NO3": -0.5, "*NO2": -2.2, "*NO": -3.6, "*NOH": -3.9, "*HNO": -3.7, "*NHOH": -4.6, "*N": -5.6,
     "*NH": -6.6, "*NH2": -6.95, "*NH3": -7.3}


@pytest.mark.parametrize("pH,form", [(0.0, "NH4+(aq)"), (14.0, "NH3(aq)")])
def test_NH4_in_acid_NH3_in_base(pH, form):
    r = analyze(NET, ads(B), Conditions(pH=pH), dG_H=0.25)
    assert r.U_L == pytest.approx(0.30) and r.PDS == "*NO->*NOH" and r.branch == "NOH"
    assert r.product_form == form and r.at_U_L.product == form and r.at_U_L.group == "NH3"
    step = r.step("NH3_protonate")
    assert step.dG_0 == pytest.approx(-52.8 / F + KTLN10 * pH)
    assert _decision(r.at_U_L, "*N").margin == pytest.approx((N2G + 11.2) / 2 + 0.7)
    # nitrate adsorption is the only other step that moves with pH (RHE scale): -0.5 at pH 0
    assert r.dG_adsorption == pytest.approx(-0.5 + KTLN10 * pH)
    assert ("NO3-(aq)->*NO3 uphill at U_L" in " ".join(r.notes)) == (pH == 14.0)  # -0.5 + 0.828 - 0.30 > 0
    # *NH3 (-7.3) lies below NH3(g) (-X = -6.38854): its desorption is uphill by 0.91146 eV and flagged
    assert r.step("NH3_des").dG_0 == pytest.approx(-X + 7.3)
    assert "*NH3->NH3(g) desorption uphill at U_L (+0.91 eV)" in " ".join(r.notes)


# A split 2e step becomes the PDS.  B with *NO2H at -1.9: *NO2->*NO2H +0.3 (-0.3 V), *NO2H->*NO -1.7;
# the averaged -1.4/2 (0.7 V) disappears and U_L drops from 0.30 to -0.30 V, PDS *NO2->*NO2H.
# *NO3->*NO2 is still averaged (no *NO3H): upper bound.  With *HNO3 (alias of *NO3H) at -0.4
# (*NO3->*NO3H +0.1, *NO3H->*NO2 -1.8) nothing is averaged.  HER with dG(*H) = 0.1: U_L(HER) = -0.1 V
# > -0.3 V: H2 is favoured by 0.2 V.
def test_split_two_electron_step_becomes_PDS():
    r0 = analyze(NET, ads(B))
    assert r0.U_L == pytest.approx(0.30) and set(r0.best.averaged) == {"*NO3->*NO2", "*NO2->*NO"}
    r = analyze(NET, ads(dict(B, **{"*HNO2": -1.9})), dG_H=0.1)
    assert r.U_L == pytest.approx(-0.30) and r.PDS == "*NO2->*NO2H" and r.dG_PDS == pytest.approx(0.30)
    assert r.best.PDS.n_e == 1 and r.best.averaged == ("*NO3->*NO2",) and r.best.upper_bound
    assert r.step("NO2_NO") is None and r.step("*NO2H->*NO").dG_0 == pytest.approx(-1.7)
    assert r.U_L_HER == pytest.approx(-0.1)
    assert r.at_U_L.product == "H2(g)" and r.at_U_L.competing_margin == pytest.approx(-0.2)
    r2 = analyze(NET, ads(dict(B, **{"*HNO2": -1.9, "*HNO3": -0.4})))
    assert r2.U_L == pytest.approx(-0.30) and not r2.best.upper_bound
    assert not any("upper bound" in n for n in r2.notes)


def test_hydroxylamine_release_needs_its_formation_energy():
    r = analyze(NET, ads(B))
    assert any(m.startswith("NH2OH(aq) (no verified formation free energy") for m in r.missing)
    assert not r.routes_of("NH2OH")
    r = analyze(NET, ads(dict(B, **{"*NH2OH": -4.0})), species_G={"NH2OH(aq)": X - 4.5})  # user value
    assert r.step("NH2OH_rel").dG_0 == pytest.approx(-0.5) and r.routes_of("NH2OH")


def test_other_networks():
    nets = load_networks()
    no = {k: v for k, v in B.items() if k not in ("*NO3", "*NO2")}
    assert analyze(nets["NORR"], ads(no)).U_L == pytest.approx(0.30)
    assert analyze(nets["NO2RR"], ads(dict(no, **{"*NO2": -2.2}))).U_L == pytest.approx(0.30)
    for dgh in (-0.3, 0.2):
        assert analyze(nets["HER"], {"*H": dgh}).U_L == pytest.approx(-abs(dgh))


# -- the hand-worked diagrams of tests/test_network.py, re-expressed --------------------------------
# States (eV, U = 0, common scale with X = 3.2).  -dG/n: *NO3->*NO2 0.40 (2e), *NO2->*NO 0.35 (2e),
# *NO->*NOH -0.55, *NO->*HNO -0.80, *NOH->*N 0.65, *N->*NH 0.20, *NH->*NH2 0.30, *NH2->*NH3 0.30,
# *NOH->*NHOH 0.05, *HNO->*NHOH 0.30, *NHOH->*NH 0.80, *NHOH->*NH2OH -0.10, *NH2OH->*NH2 1.20.
HAND = {"*NO3": -0.5, "*NO2": -1.3, "*NO": -2.0, "*NOH": -1.45, "*HNO": -1.2, "*N": -2.1, "*NH": -2.3,
        "*NH2": -2.6, "*NH3": -2.9, "*NHOH": -1.5, "*NH2OH": -1.4}


def _hand(states=HAND, **kw):
    return analyze(NET, ads(states, 3.2), reactant_G=3.2, **kw)


def test_hand_worked_pathway_gives_known_UL_and_PDS():
    r = _hand(dG_H=0.2)
    assert r.U_L == pytest.approx(-0.55, abs=1e-12) and r.PDS == "*NO->*NOH" and r.dG_PDS == pytest.approx(0.55)
    assert r.branch == "NOH" and r.states["NH3(g)"] == pytest.approx(-3.2)
    nh3 = r.routes_of("NH3")
    assert len(nh3) == 5  # both *NO branches and the hydroxylamine branch
    assert max(x.U_L for x in nh3 if x.branch == "HNO") == pytest.approx(-0.80)
    assert r.dG_H == 0.2 and r.U_L_HER == pytest.approx(-0.2)
    assert r.at_U_L.competing_margin == pytest.approx(-0.35) and r.at_U_L.group == "H2"
    prof = r.best.profile(r.U_L)
    g = dict(prof)
    labels = [lab for lab, _ in prof]
    i = labels.index("*NO->*NOH")
    assert prof[i][1] - prof[i - 1][1] == pytest.approx(0.0, abs=1e-12)
    assert all(s.dG(r.U_L) <= 1e-12 for s in r.best.steps if s.n_e > 0)
    assert g["*NH3->NH3(g)"] == pytest.approx(-3.2 + 8 * r.U_L)  # 8 electrons net along the route


def test_branch_flips_when_NOH_and_HNO_energies_are_swapped():
    r = _hand(dict(HAND, **{"*NOH": HAND["*HNO"], "*HNO": HAND["*NOH"]}))
    assert r.branch == "HNO" and r.PDS == "*NO->*HNO" and r.U_L == pytest.approx(-0.55)


@pytest.mark.parametrize("U", [-1.3, -0.4, 0.25, 0.9])
def test_every_step_shifts_by_n_e_U(U):
    r0, rU = _hand(), _hand(conditions=Conditions(potential=U))
    for s0, sU in zip(r0.steps, rU.steps):
        assert sU.dG(U) - s0.dG(0.0) == pytest.approx(s0.n_e * U, abs=1e-12)
    n = {s.label: s.n_e for s in r0.steps}
    assert n["NO3-(aq)->*NO3"] == -1 and n["*NH3->NH3(g)"] == 0 and n["*NO->*NOH"] == 1 and n["*NO3->*NO2"] == 2
    assert rU.U_L == pytest.approx(r0.U_L)


def test_missing_species_are_reported_not_dropped():
    partial = {k: v for k, v in HAND.items() if k not in ("*NOH", "*HNO")}
    r = _hand(partial, invalid={"*NOH": "dissociated"})
    assert r.U_L is None and r.PDS is None and not r.routes_of("NH3")
    assert "*NOH (dissociated)" in r.missing and "*HNO" in r.missing
    assert any("no complete" in n for n in r.notes)


def test_equilibrium_and_hno3_nitrate_references():
    e0 = -(-16.4 + 3 * (-237.1) - (-111.3)) / (8 * F)
    assert e0 == pytest.approx(0.7986, abs=1e-4)
    for pH in (0.0, 7.0, 14.0):
        g, _ = species_free_energies(NET, {}, Conditions(pH=pH))
        assert g["NO3-(aq)"] == pytest.approx(8 * e0 - KTLN10 * pH)
        # the hno3 scheme with the experimental HNO3(g) on the atomic scale gives the same X
        g_hno3 = (-73.5 - (-16.4) - 3 * (-237.1)) / F
        assert reactant_via_proxy(NET, "HNO3(g)", g_hno3, Conditions(pH=pH)) == pytest.approx(g["NO3-(aq)"])
    assert (X - 14 * KTLN10) / 8 == pytest.approx(0.695, abs=2e-3)


def test_N_coupling_indicator():
    r = _hand()
    g_n = HAND["*N"] + 3.2
    assert r.step("N_N_N2").dG_0 == pytest.approx(2 * 16.4 / F - 2 * g_n)
    assert r.step("N_NH").dG(r.U_L) == pytest.approx(HAND["*NH"] - HAND["*N"] + r.U_L)
    d = _decision(r.at_U_L, "*N")
    assert d.chosen == ("*N+*N->N2(g)" if (2 * 16.4 / F - 2 * g_n) / 2 < HAND["*NH"] - HAND["*N"] + r.U_L
                        else "*N->*NH")


def test_summary_and_route_table_rows():
    r = analyze(NET, ads(NIT), catalyst="nit", dG_H=0.3)
    s = r.summary()
    assert s["U_L_V"] == pytest.approx(0.10) and s["PDS"] == "*NO2->*NO" and s["PDS_n_e"] == 2
    assert s["dG_PDS_eV"] == pytest.approx(-0.2) and s["dG_PDS_per_e_eV"] == pytest.approx(-0.1)
    assert s["U_L_upper_bound"] is True
    assert s["product_at_U_L"] == "NO2-(aq)" and s["decisive_step_at_U_L"] == "*NO2->NO2-(aq)"
    assert s["favours"] == "NO3RR" and s["target_form"] == "NH4+(aq)" and s["U_L_minus_U_L_HER_V"] == pytest.approx(0.4)
    rows = r.route_table()
    assert {x["group"] for x in rows} >= {"NH3", "NO2-", "NO", "N2", "H2"}
    top = next(x for x in rows if x["group"] == "NH3")
    assert top["U_L_V"] == pytest.approx(0.10) and top["PDS"] == "*NO2->*NO" and top["upper_bound"]


def test_walk_does_not_enter_a_dead_end():
    """NOR at -0.5 V: *NO -> *HNO (-0.4 eV) beats NO release (-0.35328 eV).  A computed *H2NO at -4.0 makes
    *HNO -> *H2NO the lowest exit (-4.0 + 2.4 - 0.5 = -2.1 eV against *HNO -> *NHOH -1.3 eV), but *NH2OH is
    not computed, so *H2NO leads nowhere: the walk takes *HNO -> *NHOH and says why."""
    r = analyze(NET, ads(dict(NOR, **{"*H2NO": -4.0})), Conditions(potential=-0.5))
    d = _decision(r.at_U, "*HNO")
    assert d.chosen == "*HNO->*NHOH" and d.dG_chosen == pytest.approx(-1.3)
    assert "*HNO->*H2NO not taken: *H2NO has no evaluated way on" in r.at_U.notes
    assert r.at_U.group == "NH3"
    # with *NH2OH computed the branch is open and taken
    r2 = analyze(NET, ads(dict(NOR, **{"*H2NO": -4.0, "*NH2OH": -4.5})), Conditions(potential=-0.5))
    assert _decision(r2.at_U, "*HNO").chosen == "*HNO->*H2NO"
