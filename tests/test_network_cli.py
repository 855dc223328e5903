"""The new channels through `no3rr analyze` on a CSV: hand-worked diagrams (numbers derived in
tests/test_reaction_network.py, common scale at pH 0, X = 6.38854 eV), the G_eV round trip,
molecule rows, the pH column, --network and bad input."""

import csv
import math

import pytest
from test_reaction_network import NIT, NN, NO2M, NOG, NOR, B, X

from descriptors.cli import main

KTLN10 = 8.617333262e-5 * 298.15 * math.log(10)


def _csv(path, rows, ph=None):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["catalyst", "species", "G_eV"] + (["pH"] if ph is not None else []))
        for cat, sp, g in rows:
            w.writerow([cat, sp, g] + ([ph] if ph is not None else []))
    return path


def _run(tmp_path, name, rows, *extra, ph=None):
    p = _csv(tmp_path / f"{name}.csv", [(name, s, g) for s, g in rows.items()], ph)
    out = tmp_path / f"out_{name}"
    rc = main(["analyze", str(p), "--out", str(out), "--descriptor", "*N", "--no-plots", *extra])
    summary = list(csv.DictReader((out / "analysis_summary.csv").open())) if rc in (0, 1) else None
    return rc, out, summary


def _f(x):
    return float(x)


def test_nitrite_release_wins(tmp_path):
    rc, out, [s] = _run(tmp_path, "nit", dict(NIT, **{"*H": 0.3}))
    assert rc == 0
    assert _f(s["U_L_V"]) == pytest.approx(0.10) and s["PDS"] == "*NO2->*NO" and s["PDS_n_e"] == "2"
    assert _f(s["dG_PDS_eV"]) == pytest.approx(-0.2) and _f(s["dG_PDS_per_e_eV"]) == pytest.approx(-0.1)
    assert s["U_L_upper_bound"] == "True"
    assert s["product"] == s["product_at_U_L"] == "NO2-(aq)"
    assert s["decisive_step_at_U_L"] == "*NO2->NO2-(aq)"
    assert _f(s["decisive_margin_at_U_L_eV"]) == pytest.approx(-(NO2M + 1.0 + 0.10), abs=1e-4)
    assert _f(s["competing_margin_at_U_L_V"]) == pytest.approx(0.55)
    assert "uses NO2-(aq), whose formation free energy is not verified" in s["notes"]  # marked where it is used
    routes = list(csv.DictReader((out / "routes.csv").open()))
    nit = [r for r in routes if r["group"] == "NO2-"]
    assert max(_f(r["U_L_V"]) for r in nit) == pytest.approx(0.25)


def test_NO_release_wins(tmp_path):
    rc, out, [s] = _run(tmp_path, "nor", dict(NOR, **{"*H": -0.4}))
    assert _f(s["U_L_V"]) == pytest.approx(-0.10) and s["PDS"] == "*NO->*HNO" and s["branch"] == "HNO"
    assert s["product_at_U_L"] == "NO(g)" and s["decisive_step_at_U_L"] == "*NO->NO(g)"
    assert _f(s["decisive_margin_at_U_L_eV"]) == pytest.approx(-(NOG + 2.5), abs=1e-4)
    assert _f(s["competing_margin_at_U_L_V"]) == pytest.approx(0.70)


def test_N2_wins_through_N_plus_NO(tmp_path):
    rc, out, [s] = _run(tmp_path, "nn", dict(NN, **{"*H": 0.5}), "--potential", "-0.5")
    assert _f(s["U_L_V"]) == pytest.approx(0.30) and s["PDS"] == "*NO->*NOH"
    assert s["product_at_U"] == "N2(g)"
    # the closest decision of the walk: at *N, *N + *NO -> *N2O (-1.2 eV) against 2 *N -> N2(g)
    # ((N2G + 10.4)/2 = -1.01856 eV per *N): margin 0.18144 eV (at *NO the margin is 0.2 eV)
    assert s["decisive_step_at_U"] == "*N+*NO->*N2O"
    assert _f(s["decisive_margin_at_U_eV"]) == pytest.approx(0.18144, abs=1e-4)
    assert _f(s["competing_margin_at_U_V"]) == pytest.approx(0.90)
    routes = list(csv.DictReader((out / "routes.csv").open()))
    n2 = [r for r in routes if r["group"] == "N2"]
    best = max(n2, key=lambda r: _f(r["U_L_V"]) if r["U_L_V"] else -9)
    assert _f(best["U_L_V"]) == pytest.approx(0.40) and best["PDS"] == "*OH->*"
    assert any(r["closed"] == "True" for r in routes if r["group"] == "NH3")


@pytest.mark.parametrize("pH,form", [(0.0, "NH4+(aq)"), (14.0, "NH3(aq)")])
def test_NH4_in_acid_NH3_in_base(tmp_path, pH, form):
    """The same adsorbates (G_eV meant at pH 0: the pH column) analysed at pH 0 and 14."""
    rc, out, [s] = _run(tmp_path, "b", dict(B, **{"*H": 0.25}), "--pH", str(pH), ph=0.0)
    assert _f(s["U_L_V"]) == pytest.approx(0.30) and s["PDS"] == "*NO->*NOH"
    assert s["product_at_U_L"] == form and s["target_form"] == form
    fe = {r["name"]: r for r in csv.DictReader((out / "free_energies.csv").open())}
    prot = next(r for n, r in fe.items() if n.startswith("NH3(aq) + H+ -> NH4+(aq)"))
    assert _f(prot["G_or_dG_0_eV"]) == pytest.approx(-52.8 / 96.485332 + KTLN10 * pH, abs=1e-4)
    des = fe["*NH3 -> NH3(g) + *"]
    assert _f(des["G_or_dG_0_eV"]) == pytest.approx(-X + 7.3, abs=1e-4)  # pH-independent, and flagged:
    assert "*NH3->NH3(g) desorption uphill at U_L" in s["notes"]


def test_split_two_electron_step_becomes_PDS(tmp_path):
    rc, out, [s] = _run(tmp_path, "split", dict(B, **{"*HNO2": -1.9, "*H": 0.1}))
    assert _f(s["U_L_V"]) == pytest.approx(-0.30) and s["PDS"] == "*NO2->*NO2H" and s["PDS_n_e"] == "1"
    assert _f(s["dG_PDS_eV"]) == pytest.approx(0.30) and s["U_L_upper_bound"] == "True"  # *NO3->*NO2 averaged
    assert s["product_at_U_L"] == "H2(g)" and _f(s["competing_margin_at_U_L_V"]) == pytest.approx(-0.2)
    rc, out, [s] = _run(tmp_path, "split2", dict(B, **{"*HNO2": -1.9, "*HNO3": -0.4}))
    assert _f(s["U_L_V"]) == pytest.approx(-0.30) and s["U_L_upper_bound"] == "False"


ROUND = {"*NO3": -0.40, "*NO2": -1.30, "*NO": -2.0, "*NOH": -1.45, "*N": -2.1, "*NH": -2.3, "*NH2": -2.6,
         "*NH3": -5.90, "*H": 0.12, "*O": 0.3, "*N2": -4.1}


@pytest.mark.parametrize("pH", [0.0, 14.0])
@pytest.mark.parametrize("with_nh3", [False, True])
def test_G_eV_round_trip(tmp_path, pH, with_nh3):
    """Free energies given as G_eV come back unchanged in free_energies.csv at U = 0 (states), with
    and without an NH3(g) row, at pH 0 and 14; the steps are their differences."""
    rows = dict(ROUND, **({"NH3(g)": -6.00} if with_nh3 else {}))
    rc, out, [s] = _run(tmp_path, "rt", rows, "--pH", str(pH))
    fe = list(csv.DictReader((out / "free_energies.csv").open()))
    states = {r["name"]: _f(r["G_or_dG_0_eV"]) for r in fe if r["kind"] == "state"}
    steps = {r["name"]: _f(r["G_or_dG_0_eV"]) for r in fe if r["kind"] == "step"}
    for sp, g in rows.items():
        assert states[sp] == pytest.approx(g, abs=1e-4), sp
    x = 6.00 if with_nh3 else X - KTLN10 * pH
    assert states["NH3(g)"] == pytest.approx(-x, abs=1e-4) and states["NO3-(aq)"] == pytest.approx(0.0, abs=1e-4)
    assert steps["*NH3 -> NH3(g) + *"] == pytest.approx(-x + 5.90, abs=1e-4)
    assert steps["NO3-(aq) + * -> *NO3 + e-"] == pytest.approx(-0.40, abs=1e-4)
    if with_nh3:
        assert steps["*NH3 -> NH3(g) + *"] == pytest.approx(-0.10, abs=1e-4)
    assert _f(s["dG_ads_reactant_eV"]) == pytest.approx(-0.40, abs=1e-4)


def test_molecule_rows_in_E_ads_refused_and_bad_network(tmp_path, capsys):
    p = tmp_path / "e.csv"
    p.write_text("catalyst,species,E_ads_eV\nX,*NO3,-1.0\nX,NH3(g),0.0\n")
    assert main(["analyze", str(p), "--out", str(tmp_path / "o"), "--corrections", "none"]) == 2
    assert "NH3(g) is a molecule" in capsys.readouterr().err
    g = _csv(tmp_path / "g.csv", [("X", "*NO3", -0.4)])
    assert main(["analyze", str(g), "--out", str(tmp_path / "o"), "--network", str(tmp_path / "nope.toml")]) == 2
    assert "network_file" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[networks.X]\nreactant = "A"\n')
    assert main(["analyze", str(g), "--out", str(tmp_path / "o"), "--network", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "network" in err
    assert main(["analyze", str(g), "--out", str(tmp_path / "o"), "--reaction", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err


def test_other_network_from_the_command_line(tmp_path):
    """--reaction NO2RR: nitrite as the reactant (from its formation free energy)."""
    no2 = {k: v for k, v in B.items() if k != "*NO3"}
    shift = X - (-32.2 + 16.4 + 2 * 237.1) / 96.485332  # common scale of NO3RR -> that of NO2RR
    rows = {k: v + shift for k, v in no2.items()}
    rc, out, [s] = _run(tmp_path, "no2", rows, "--reaction", "NO2RR")
    assert s["network"] == "NO2RR" and _f(s["U_L_V"]) == pytest.approx(0.30) and s["PDS"] == "*NO->*NOH"



def test_table_corrections_fail_naming_the_species_without_an_entry(tmp_path, capsys):
    import json

    table = tmp_path / "t.json"
    entries = {g: {"zpe": 0.0, "ts": 0.0, "source": "test"} for g in ("H2(g)", "H2O(g)", "NH3(g)", "*NO3")}
    table.write_text(json.dumps({"entries": entries}))
    p = tmp_path / "e.csv"
    p.write_text("catalyst,species,E_ads_eV\nX,*NO3,-1.0\nX,*HNO3,-1.2\nX,*N2O,0.3\n")
    assert main(["analyze", str(p), "--out", str(tmp_path / "o"), "--corrections", str(table), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "*N2O, *NO3H" in err and err.count("\n") == 1  # the package's spelling of *HNO3, one line
    entries.update({s: {"zpe": 0.1, "ts": 0.05, "source": "test"} for s in ("*NO3H", "*N2O")})
    table.write_text(json.dumps({"entries": entries}))
    assert main(["analyze", str(p), "--out", str(tmp_path / "o"), "--corrections", str(table), "--no-plots"]) in (0, 1)


def test_spec_network_option_and_HER(tmp_path):
    from descriptors.specs.analysis import AnalysisSettings

    with pytest.raises(ValueError, match="network_file"):
        AnalysisSettings(network_file=str(tmp_path / "missing.toml"))
    assert AnalysisSettings(network="NORR").network == "NORR"
    rc, out, rows = _run(tmp_path, "her", {"*H": 0.2}, "--reaction", "HER")
    assert rows[0]["network"] == "HER" and _f(rows[0]["U_L_V"]) == pytest.approx(-0.2)
    assert rows[0]["PDS"] == "*->*H" and rows[0]["product_at_U_L"] == "H2(g)"


SCREEN = """
name = "network-screen"
adsorbates = ["NO3", "NO3H", "NO2", "NO2H", "NO", "NOH", "HNO", "H2NO", "N", "NH", "NH2", "NH3", "N2O", "N2",
              "O", "OH", "H"]
[[catalysts]]
type = "slab"
metals = ["Cu", "Pd", "Pt", "Ag", "Ni"]
facets = ["100"]
size = [2, 2]
layers = 2
fixed_layers = 1
vacuum = 5.0
lattice_constant = "experimental"
[calculator]
name = "emt"
[relax]
fmax = 0.1
steps = 25
[placement]
site_kinds = ["top", "hollow"]
bidentate = false
[execution]
workers = 1
[analysis]
descriptors = ["*N", "*O"]
use_flagged = true
corrections = "none"
potential = -0.3
"""


@pytest.mark.slow  # an EMT screen of 5 slabs x 17 adsorbates: 3-5 min wall on a shared 2-core machine
def test_emt_screen_with_the_new_species_has_products_routes_and_maps(tmp_path):
    import json

    spec = tmp_path / "net.toml"
    spec.write_text(SCREEN)
    out = tmp_path / "out"
    main(["screen", str(spec), "--out", str(out), "--no-progress", "--quiet"])
    an = out / "analysis"
    rows = list(csv.DictReader((an / "analysis_summary.csv").open()))
    assert {r["catalyst"] for r in rows} == {"Cu(100)", "Pd(100)", "Pt(100)", "Ag(100)", "Ni(100)"}
    groups = {"NH3", "NO2-", "NO", "N2O", "N2", "NH2OH", "H2"}
    forms = {"NH3(g)", "NH3(aq)", "NH4+(aq)", "NO2-(aq)", "NO(g)", "N2O(g)", "N2(g)", "NH2OH(aq)", "H2(g)"}
    for r in rows:
        assert r["network"] == "NO3RR"
        assert r["product_at_U"] in forms or "accumulates" in r["notes"]  # a stuck walk is said, not hidden
        assert r["product"] == r["product_at_U_L"] and (r["product"] in forms or not r["U_L_V"])
    routes = list(csv.DictReader((an / "routes.csv").open()))
    assert {r["group"] for r in routes} <= groups and {"NH3", "H2"} <= {r["group"] for r in routes}
    # the new species were computed and entered the analysis
    assert all(s not in r["missing"] for r in rows for s in ("*N2O", "*N2", "*H2NO", "*NO2H"))
    assert any(r["U_L_V"] and r["product_at_U_L"] in forms for r in rows)
    summary = json.loads((an / "analysis_summary.json").read_text())
    assert set(summary["product_maps"]) == {"N_O", "NO3_H"}
    for name in ("N_O", "NO3_H"):
        m = summary["product_maps"][name]
        assert abs(sum(m["area_fraction"].values()) - 1.0) < 1e-3
        assert set(m["area_fraction"]) <= groups | {"none"}
        assert (an / "figures" / f"product_map_{name}.png").stat().st_size > 5000
