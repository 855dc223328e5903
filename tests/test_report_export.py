"""The HTML report (also rendered by headless Chromium) and the exports (POSCAR/CIF/extxyz, CatMAP,
pandas DataFrames), each read back."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from conftest import require

from descriptors.cli import main
from descriptors.report.export import read_catmap, tables
from descriptors.store import Store, best_rows, site_rows

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "tests" / "fixtures" / "store_v0.1.0"
EXAMPLE = ROOT / "workflows" / "examples" / "emt_free_energies.csv"


@pytest.fixture
def screen_dir(tmp_path):
    d = tmp_path / "screen"
    shutil.copytree(OLD, d)
    return d


def test_poscar_cif_extxyz_read_back_equal_the_stored_structures(screen_dir, capsys):
    db = screen_dir / "screen.db"
    store = Store(db)
    for fmt in ("poscar", "cif", "extxyz"):
        dest = screen_dir / fmt
        assert main(["export", fmt, "--db", str(db), "--to", str(dest), "--catalyst", "Cu(111)"]) == 0
        files = sorted(dest.iterdir())
        rows = [r for r in store.select(kind="adsorbate", catalyst="Cu(111)") if r.get("status") != "failed"]
        assert len(files) == len(rows) > 0
        for row in rows:
            f = next(p for p in files if row.get("job_id")[:8] in p.name)
            a, b = row.toatoms(), read(f, format={"poscar": "vasp"}.get(fmt, fmt))
            assert a.get_chemical_symbols() == b.get_chemical_symbols()
            assert np.allclose(a.cell, b.cell, atol=1e-5)
            d = a.get_scaled_positions(wrap=False) - b.get_scaled_positions(wrap=False)
            d -= np.round(d)  # the same point of the lattice (CIF wraps into the cell)
            assert np.abs(d @ a.cell.array).max() < 1e-4
    assert main(["export", "poscar", "--db", str(db), "--to", str(screen_dir / "x"), "--catalyst", "Zz(111)"]) == 2
    assert main(["export", "cif", "--db", str(screen_dir / "nope.db"), "--to", "x"]) == 2


def _catmap_table_parser(path, species_definitions, surface_names):
    """What CatMAP's TableParser (catmap/parsers/table_parser.py at SUNCAT-Center/catmap ed04f91:
    ``parse``, ``parse_formation_energy``, the frequency part of ``parse_frequencies``) makes of an
    energies file, written out here because CatMAP itself (Python 2 era) does not install: the
    formation energy per species definition (a list over ``surface_names`` for adsorbates, a
    number for gases) and the frequencies in eV."""
    lines = [L for L in open(path).read().split("\n") if L]
    headers = [h.strip() for h in lines.pop(0).split("\t")]
    required = ["species_name", "surface_name", "site_name", "formation_energy", "frequencies", "reference"]
    assert set(required).issubset(set(headers)), "Required headers are missing!"
    linedicts = []
    for L in lines:
        linedict = dict(zip(headers, L.split("\t", len(headers))))
        assert len(linedict) == len(headers), f"CatMAP would ignore the line {L!r}"
        linedicts.append(linedict)
    out, freqs = {}, {}
    for adsdef, sd in species_definitions.items():
        if sd.get("type") == "site":
            continue
        infodict = {}
        sites = species_definitions[sd["site"]]["site_names"]
        for ld in linedicts:
            if ld["species_name"] == sd["name"] and ld["site_name"] in sites and \
                    ld["surface_name"] in list(surface_names) + ["None"]:
                infodict[ld["surface_name"]] = ld
        if sd["type"] != "gas":
            out[adsdef] = [float(infodict[s]["formation_energy"]) if s in infodict else None for s in surface_names]
        else:
            out[adsdef] = float(infodict["None"]["formation_energy"])  # CatMAP: ValueError if missing
        for ld in infodict.values():
            assert isinstance(ld["reference"].strip(), str)
    for ld in linedicts:
        if eval(ld["frequencies"]):  # noqa: S307  (as CatMAP reads them)
            freqs[ld["species_name"]] = [1.239842e-4 * f for f in eval(ld["frequencies"])]  # noqa: S307
    return out, freqs


def test_catmap_file_parsed_back_gives_the_energies(screen_dir):
    db = screen_dir / "screen.db"
    out = screen_dir / "energies.txt"
    assert main(["export", "catmap", "--db", str(db), "--to", str(out)]) == 0
    header = out.read_text().splitlines()[0].split("\t")
    # the column order of CatMAP's tutorial files (tutorials/2-creating_microkinetic_model/energies.txt)
    assert header == ["surface_name", "site_name", "species_name", "formation_energy", "bulk_structure",
                      "frequencies", "other_parameters", "reference"]
    rows = read_catmap(out)
    best = {r["adsorbate"]: r for r in best_rows(site_rows(Store(db))) if r["valid"]}
    ads = {r["species_name"]: r for r in rows if r["site_name"] != "gas"}
    assert set(ads) == set(best)
    gas = {r["species_name"]: r["formation_energy"] for r in rows if r["site_name"] == "gas"}
    assert all(r["surface_name"] == "None" for r in rows if r["site_name"] == "gas")
    assert gas["H2"] == gas["H2O"] == gas["NH3"] == 0.0  # the references of the convention
    assert gas["NO"] != 0.0
    # what CatMAP's own table parser would read, for a model with one site type over our site names
    species = {"s": {"type": "site", "site_names": sorted({r["site_name"] for r in ads.values()})}}
    species.update({f"{a}_s": {"type": "adsorbate", "name": a, "site": "s"} for a in ads})
    species.update({f"{g}_g": {"type": "gas", "name": g, "site": "g"} for g in gas})
    species["g"] = {"type": "site", "site_names": ["gas"]}
    energies, _ = _catmap_table_parser(out, species, ["Cu_111"])
    for a, r in best.items():
        assert energies[f"{a}_s"] == [pytest.approx(r["E_ads_eV"], abs=1e-4)]
    assert energies["NO_g"] == pytest.approx(gas["NO"]) and energies["H2_g"] == 0.0


def test_catmap_frequencies_and_fields_as_catmap_reads_them(tmp_path):
    """Frequencies are a list literal in cm^-1 that CatMAP's eval reads; no field holds a tab or a
    newline (CatMAP splits on them)."""
    from ase.build import fcc111, molecule

    from descriptors.report.export import write_catmap

    db = tmp_path / "s.db"
    s = Store(db)
    for name in ("H2", "H2O", "NH3", "NO"):
        s.write(molecule(name), {"job_id": f"g{name}", "kind": "gas", "molecule": name, "status": "ok", "calc": "emt"},
                energy={"H2": -1.0, "H2O": -3.0, "NH3": -5.0, "NO": -2.0}[name])
    s.write(molecule("NO"), {"job_id": "vNO", "kind": "vib", "vib_of": "gNO", "status": "ok", "calc": "emt"},
            data={"vib_energies_real": [0.0, 0.2387]})  # 0.2387 eV = 1925 cm^-1
    slab = fcc111("Cu", (2, 2, 3), vacuum=5.0)
    s.write(slab, {"job_id": "a1", "kind": "adsorbate", "catalyst": "Cu(111)", "adsorbate": "NO", "binding": "N",
                   "site": "fcc", "site_final": "fcc", "status": "ok", "e_ads": -1.5, "converged": True,
                   "max_force": 0.01, "anomaly": "", "calc": "emt\tweird\nname", "settings_hash": "abcd1234"},
            energy=-10.0)
    s.close()
    path, n = write_catmap(Store(db, readonly=True), tmp_path / "energies.txt")
    assert n == 1
    for line in path.read_text().split("\n")[1:]:
        assert line == "" or len(line.split("\t")) == 8
    species = {"s": {"type": "site", "site_names": ["fcc"]}, "NO_s": {"type": "adsorbate", "name": "NO", "site": "s"},
               "g": {"type": "site", "site_names": ["gas"]}, "NO_g": {"type": "gas", "name": "NO", "site": "g"}}
    energies, freqs = _catmap_table_parser(path, species, ["Cu_111"])
    assert energies["NO_s"] == [-1.5]
    assert energies["NO_g"] == pytest.approx(-2.0 - (-5.0 - 1.5 * -1.0) - (-3.0 - -1.0))  # E - mu_N - mu_O
    assert freqs["NO"] == [pytest.approx(0.2387, abs=1e-4)]  # 1925.2 cm^-1 back to eV


def test_tables_as_dataframes(screen_dir):
    t = tables(screen_dir)
    assert {"sites", "best"} <= set(t)
    assert "flag" in t["best"].columns and len(t["best"]) == 3
    assert (t["best"]["flag"] == "").sum() == 3  # without include_flagged the valid sites are chosen


def _analysis_dir(tmp_path):
    out = tmp_path / "an"
    assert main(["analyze", str(EXAMPLE), "--out", str(out), "--descriptor", "*N"]) == 0
    return out


def test_report_is_one_self_contained_page(tmp_path, capsys):
    out = _analysis_dir(tmp_path)
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "http://" not in page and "https://" not in page  # nothing loaded from the network
    assert page.count("<tr class='valid'>") == 6  # one summary row per catalyst
    n_png = len(list((out / "figures").glob("*.png")))
    assert page.count("data:image/png;base64,") == n_png > 3
    for word in ("Anomalies", "Calculator and settings", "Conventions", "Versions", "Nitrate reference"):
        assert word in page
    assert main(["report", str(tmp_path / "missing")]) == 2


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path, capsys):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    require(exe is not None, "headless Chromium", "apt-get install chromium (scripts/setup.sh --full)")
    out = _analysis_dir(tmp_path)
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").resolve()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=3000",
             f"--user-data-dir={tempfile.mkdtemp()}"]
    png = tmp_path / "page.png"
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([exe, *flags, f"--screenshot={png}", "--window-size=1280,2000", page.as_uri()],
                   check=True, capture_output=True, timeout=180, env=env)
    from PIL import Image

    im = np.asarray(Image.open(png).convert("L"))
    assert im.shape == (2000, 1280) and im.std() > 10  # rendered something, not a blank page
    # the DOM after scripts ran: the table rows, and every image decoded (naturalWidth > 0)
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace(
        "</body>", "<script>window.addEventListener('load',function(){var n=0;document.querySelectorAll('img')"
        ".forEach(function(i){if(i.naturalWidth>0)n++;});document.body.setAttribute('data-loaded',n);"
        "document.querySelector('#summary th').click();});</script></body>"))
    dom = subprocess.run([exe, *flags, "--dump-dom", probe.as_uri()], check=True, capture_output=True, text=True,
                         timeout=180, env=env).stdout
    n_img = page.read_text().count("<img ")
    assert f'data-loaded="{n_img}"' in dom
    assert len(re.findall(r"<tr class=\"valid\">", dom)) == 6
    # sorted by the click on 'Catalyst': first row is alphabetically first
    first = re.search(r"<tbody><tr class=\"valid\"><td data-v=\"([^\"]+)\"", dom).group(1)
    assert first == "Ag(100)"
