"""Anomaly checks after relaxation: each anomaly built on purpose, its flag, and its exclusion.

The geometric tests need no calculator: the "relaxed" structures are built by hand from the ideal
models, so each flag is triggered by exactly the displacement it is meant to catch, and a smaller
displacement of the same kind must not trigger it.
"""

import csv

import numpy as np
import pytest

from descriptors.geometry import anomalies
from descriptors.geometry.adsorbates import place
from descriptors.geometry.anomalies import (
    EXCLUDING_FLAGS, INTERCALATION_DEPTH, check_relaxed, clean_reference, flags, is_excluded, too_close_pairs,
)
from descriptors.structures import build_model
from descriptors.report.tables import best_rows, site_rows
from descriptors.structures.sac import mn4_graphene
from descriptors.workflows.screen import run_screen
from descriptors.geometry.sites import find_sites, site_position
from descriptors.specs import parse_spec
from descriptors.store.db import Store

SLAB = {"kind": "slab", "metal": "Cu", "structure": "fcc", "facet": "111", "size": [2, 2], "layers": 3,
        "vacuum": 6.0, "fixed_layers": 1}


@pytest.fixture(scope="module")
def cu111():
    ideal = build_model(SLAB)
    sites = {s.label: s for s in find_sites(ideal)}
    return ideal, clean_reference(ideal, ideal), sites


def _check(atoms, ref, site):
    return check_relaxed(atoms, atoms.info, ref, site)


def test_intact_placement_is_not_flagged(cu111):
    ideal, ref, sites = cu111
    assert ref.anomaly == ""
    for label in ("top", "bridge", "fcc", "hcp"):
        a = place(ideal, "NO", sites[label])
        chk = _check(a, ref, label)
        assert chk["anomaly"] == "", (label, chk)
        assert chk["site_final"] == label
        assert chk["site_kind_final"] == sites[label].kind


def test_desorbed(cu111):
    ideal, ref, sites = cu111
    a = place(ideal, "NO", sites["fcc"])
    a.positions[a.info["adsorbate_indices"]] += [0, 0, 3.0]
    chk = _check(a, ref, "fcc")
    assert "desorbed" in flags(chk["anomaly"]) and is_excluded(chk["anomaly"])
    assert chk["site_final"] == ""


def test_dissociated(cu111):
    ideal, ref, sites = cu111
    a = place(ideal, "NO", sites["fcc"])
    n, o = a.info["adsorbate_indices"]
    a.positions[o] = a.positions[n] + [2.2, 0.3, 0.0]  # N...O 2.2 A: beyond 1.4 x (r_N + r_O) = 1.92 A
    chk = _check(a, ref, "fcc")
    assert "dissociated" in flags(chk["anomaly"])


def test_moved_top_to_hollow_records_final_site(cu111):
    ideal, ref, sites = cu111
    a = place(ideal, "O", sites["top"])
    o = a.info["adsorbate_indices"][0]
    target = site_position(ideal, sites["fcc"])
    a.positions[o] = target + [0, 0, 1.2]
    chk = _check(a, ref, "top")
    assert flags(chk["anomaly"]) == ["moved"]
    assert chk["site_final"] == "fcc" and chk["site_kind_final"] == "hollow"
    assert not is_excluded(chk["anomaly"])  # the energy belongs to the final site
    assert chk["details"]["moved"] == {"from": "top", "to": "fcc"}
    # hcp is a different hollow: the re-classification tells them apart
    a.positions[o] = site_position(ideal, sites["hcp"]) + [0, 0, 1.2]
    assert _check(a, ref, "top")["site_final"] == "hcp"


def test_intercalated_below_top_layer(cu111):
    ideal, ref, sites = cu111
    top_z = ideal.positions[:, 2].max()
    a = place(ideal, "H", sites["fcc"])
    h = a.info["adsorbate_indices"][0]
    a.positions[h, 2] = top_z - (INTERCALATION_DEPTH + 0.2)
    chk = _check(a, ref, "fcc")
    assert "intercalated" in flags(chk["anomaly"]) and is_excluded(chk["anomaly"])
    assert chk["details"]["intercalated"][0][0] == h
    a.positions[h, 2] = top_z - (INTERCALATION_DEPTH - 0.2)  # low, but not yet below the layer
    assert "intercalated" not in flags(_check(a, ref, "fcc")["anomaly"])


def test_reconstructed_surface_atom(cu111):
    ideal, ref, sites = cu111
    top = [i for i in range(len(ideal)) if ideal.positions[i, 2] > ideal.positions[:, 2].max() - 0.1]
    d = np.min([ideal.get_distance(top[0], j, mic=True) for j in range(len(ideal)) if j != top[0]])
    a = place(ideal, "O", sites["fcc"])
    a.positions[top[0]] += [0.35 * d, 0, 0]  # > RECONSTRUCTION_LATERAL (0.29 d)
    chk = _check(a, ref, "fcc")
    assert "reconstructed" in flags(chk["anomaly"]) and chk["details"]["reconstructed"] == [top[0]]
    b = place(ideal, "O", sites["fcc"])
    b.positions[top[1]] += [0, 0, 0.5 * d]  # vertical, > RECONSTRUCTION_VERTICAL (0.41 d)
    assert "reconstructed" in flags(_check(b, ref, "fcc")["anomaly"])
    c = place(ideal, "O", sites["fcc"])
    c.positions[top[0]] += [0.1 * d, 0, 0.15 * d]  # an ordinary adsorbate-induced relaxation
    assert "reconstructed" not in flags(_check(c, ref, "fcc")["anomaly"])


def test_too_close(cu111):
    ideal, ref, sites = cu111
    a = place(ideal, "NO", sites["top"])
    n, o = a.info["adsorbate_indices"]
    a.positions[o] = a.positions[n] + [0, 0, 0.5]
    chk = _check(a, ref, "top")
    assert "too-close" in flags(chk["anomaly"]) and is_excluded(chk["anomaly"])
    assert [tuple(x) for x in chk["details"]["too_close"]] == [(n, o, 0.5)]
    assert too_close_pairs(ideal) == []


def test_sac_metal_lifted_is_pulled_out():
    ideal = mn4_graphene("Fe")
    fe = ideal.info["active"][0]
    assert clean_reference(ideal, ideal).anomaly == ""
    lifted = ideal.copy()
    lifted.positions[fe, 2] += 2.0
    ref = clean_reference(ideal, lifted)
    assert ref.anomaly == "metal-pulled-out"
    m = ref.details["metals"][str(fe)]
    assert m["support_bonds"] == 0 and m["height"] == pytest.approx(2.0, abs=0.05)
    assert "Fe" in ref.reason() and "above the support plane" in ref.reason()
    # a small rise (Fe pulled up 0.4 A by an adsorbate) keeps it in its site
    up = ideal.copy()
    up.positions[fe, 2] += 0.4
    assert clean_reference(ideal, up).anomaly == ""
    # an adsorbate that drags the metal out is flagged on the adsorbate job too
    ref0 = clean_reference(ideal, ideal)
    site = next(s for s in find_sites(ideal) if s.label == "top-Fe")
    a = place(ideal, "NO", site)
    a.positions[[fe] + a.info["adsorbate_indices"]] += [0, 0, 2.0]
    chk = _check(a, ref0, "top-Fe")
    assert "metal-pulled-out" in flags(chk["anomaly"])
    assert chk["site_final"] == "top-Fe"  # still on the Fe: not 'moved'


def test_best_rows_exclude_flagged_rows():
    def row(site, e, anomaly=""):
        return {"catalyst": "Cu(111)", "adsorbate": "NO", "binding": "N", "site": site, "site_final": site,
                "E_ads_eV": e, "anomaly": anomaly, "converged": True, "calculator": "emt", "calc_version": "x",
                "settings_hash": "h", "reference": "atomic", "bound_to": "Cu", "job_id": site, "status": "ok"}

    rows = [row("top", -1.0), row("fcc", -3.0, "intercalated"), row("hcp", -2.0, "reconstructed,moved"),
            row("bridge", -1.5, "moved")]
    best = best_rows(rows)
    assert len(best) == 1 and best[0]["site"] == "bridge" and best[0]["valid"]  # 'moved' is kept
    inc = best_rows(rows, include_flagged=True)[0]
    assert inc["site"] == "fcc" and inc["valid"] is False
    for f in EXCLUDING_FLAGS:
        assert best_rows([row("top", -1.0), row("fcc", -2.0, f)])[0]["site"] == "top", f
    # rows of another calculator setting never compete with these
    other = dict(row("hcp", -9.0), settings_hash="other")
    assert {r["E_ads_eV"] for r in best_rows(rows + [other])} == {-1.5, -9.0}


@pytest.fixture(scope="module")
def emt_screen(tmp_path_factory):
    spec = parse_spec({
        "name": "anomaly-test", "adsorbates": ["NO3", "H"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["100"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "relaxed"}],
        "calculator": {"name": "emt"}, "relax": {"optimizer": "BFGS", "fmax": 0.05, "steps": 200},
    })
    out = tmp_path_factory.mktemp("anomaly_screen")
    res = run_screen(spec, out=out, workers=1, engine="serial", progress=False, quiet=True)
    return spec, out, res


def test_screen_stores_flags_and_excludes_them_from_the_best_table(emt_screen):
    spec, out, res = emt_screen
    store = Store(out / "screen.db")
    rows = list(store.select(kind="adsorbate"))
    assert rows and all(r.get("site_final") is not None and "anomaly_details" in r.data for r in rows)
    sites = site_rows(store, res.job_ids["adsorbate"])
    flagged = [s for s in sites if s["excluded"]]
    assert flagged, "EMT dissociates some NO3 placements and lets H float off: expected flagged rows"
    with open(out / "adsorption_energies.csv") as fh:
        best = {(r["catalyst"], r["adsorbate"]): r for r in csv.DictReader(fh)}
    differs = 0
    for (cat, ads), b in best.items():
        group = [s for s in sites if s["catalyst"] == cat and s["adsorbate"] == ads and s["E_ads_eV"] is not None]
        clean = [s for s in group if not is_excluded(s["anomaly"])]
        if clean:
            want = min(clean, key=lambda s: (not s["converged"], s["E_ads_eV"]))
            assert b["job_id"] == want["job_id"] and b["valid"] == "True"
            differs += min(s["E_ads_eV"] for s in group) < want["E_ads_eV"]
        else:
            assert b["valid"] == "False" and b["anomaly"].startswith("no intact bound site")
    assert differs >= 1  # some flagged row was lower than the reported minimum: the exclusion matters


def test_flagged_clean_model_gets_no_adsorbate_jobs(tmp_path, monkeypatch):
    """A relaxed clean model that fails its check is kept, flagged, and its adsorbate jobs skipped."""
    spec = parse_spec({
        "name": "flag-clean", "adsorbates": ["O"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": 3.6}],
        "calculator": {"name": "emt"}, "relax": {"optimizer": "BFGS", "fmax": 0.05, "steps": 50},
    })
    # every Cu-Cu pair (2.5 A) becomes 'too close': the clean model must be rejected
    monkeypatch.setattr(anomalies, "MIN_DISTANCE", 3.0)
    res = run_screen(spec, out=tmp_path, workers=1, engine="serial", progress=False, quiet=True)
    assert res.job_ids["adsorbate"] == []
    assert any("Cu(111): relaxed clean model flagged 'too-close'" in s and "adsorbate jobs are not run" in s
               for s in res.skipped), res.skipped
    store = Store(tmp_path / "screen.db")
    clean = next(store.select(kind="clean"))
    assert clean.anomaly == "too-close" and clean.data["anomaly_details"]["too_close"]
    assert store.count(kind="adsorbate") == 0
    with open(tmp_path / "adsorption_energies.csv") as fh:
        best = list(csv.DictReader(fh))
    assert best == [] or all(r["anomaly"].startswith("clean model flagged") and r["E_ads_eV"] == "" for r in best)
    assert len(best) == 1
    # with the normal threshold the same stored clean model passes and its jobs run
    monkeypatch.setattr(anomalies, "MIN_DISTANCE", 0.7)
    res2 = run_screen(spec, out=tmp_path, workers=1, engine="serial", progress=False, quiet=True)
    assert len(res2.job_ids["adsorbate"]) == 4 and not res2.skipped
    assert next(store.select(kind="clean")).anomaly == ""
