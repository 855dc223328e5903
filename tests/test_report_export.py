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


def test_catmap_file_parsed_back_gives_the_energies(screen_dir):
    db = screen_dir / "screen.db"
    out = screen_dir / "energies.txt"
    assert main(["export", "catmap", "--db", str(db), "--to", str(out)]) == 0
    header = out.read_text().splitlines()[0].split("\t")
    assert header == ["surface_name", "site_name", "species_name", "formation_energy", "frequencies", "reference"]
    rows = read_catmap(out)
    best = {r["adsorbate"]: r for r in best_rows(site_rows(Store(db))) if r["valid"]}
    ads = {r["species_name"]: r for r in rows if r["site_name"] != "gas"}
    assert set(ads) == set(best)
    for name, r in ads.items():
        assert r["formation_energy"] == pytest.approx(best[name]["E_ads_eV"], abs=1e-4)
        assert r["surface_name"] == "Cu_111"
    gas = {r["species_name"]: r["formation_energy"] for r in rows if r["site_name"] == "gas"}
    assert gas["H2"] == gas["H2O"] == gas["NH3"] == 0.0  # the references of the convention
    assert gas["NO"] != 0.0


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
