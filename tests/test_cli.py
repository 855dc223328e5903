import subprocess
import sys

import pytest
from ase.io import read

from descriptors.cli import build_parser, main


@pytest.mark.parametrize("cmd", [[], ["screen"], ["lookup"], ["validate"], ["build"], ["list"]])
def test_help_on_every_subcommand(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main(cmd + ["--help"])
    assert e.value.code == 0
    assert "usage: no3rr" in capsys.readouterr().out


def test_console_script_entry_point_declared():
    import tomllib
    from pathlib import Path
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["no3rr"] == "descriptors.cli:main"
    assert build_parser().prog == "no3rr"


def test_validate_and_list(capsys):
    from pathlib import Path
    qs = Path(__file__).parents[1] / "workflows" / "quickstart.toml"
    assert main(["validate", str(qs)]) == 0
    assert "12 catalyst models" in capsys.readouterr().out
    assert main(["list", "adsorbates"]) == 0
    out = capsys.readouterr().out
    assert "NO3" in out and "O,O" in out
    assert main(["list", "calculators"]) == 0
    assert "gfn1-xtb" in capsys.readouterr().out


def test_build_writes_extxyz_with_metadata(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "b"\nadsorbates = ["H"]\n[[catalysts]]\ntype = "saa"\nhost = "Cu"\nsolutes = ["Pd"]\n'
                    'facets = ["111"]\n[calculator]\nname = "emt"\n')
    assert main(["build", str(spec), "--out", str(tmp_path / "st")]) == 0
    files = list((tmp_path / "st").glob("*.extxyz"))
    assert len(files) == 1
    a = read(files[0])
    assert a.info["catalyst"] == "Pd1Cu(111)"
    assert a.get_chemical_symbols().count("Pd") == 1


def test_screen_cli_end_to_end(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(
        'name = "cli"\nadsorbates = ["H"]\n[[catalysts]]\ntype = "slab"\nmetals = ["Pt"]\nfacets = ["111"]\n'
        'size = [2, 2]\nlayers = 3\nfixed_layers = 1\nlattice_constant = "experimental"\n'
        '[calculator]\nname = "emt"\n'
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "descriptors.cli", "screen", str(spec), "--out", str(out), "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "computed 10 jobs" in r.stdout  # 5 gas + 1 clean + 4 H sites (no bulk: experimental lattice)
    assert "not chemistry" in r.stderr
    r2 = subprocess.run(cmd, capture_output=True, text=True)
    assert "computed 0 jobs" in r2.stdout
    assert (out / "adsorption_energies.csv").read_text().count("Pt(111)") == 1
