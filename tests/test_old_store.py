"""A screen database made before the reorganisation (v0.1.0, commit 5247da2) is resumed by today's
code with zero calculator calls and gives the same tables: job identities did not change."""

import importlib.metadata
import shutil
from pathlib import Path

import pytest

from descriptors.specs import load_spec
from descriptors.tasks import base as tasks_base
from descriptors.workflows.screen import run_screen

FIXTURE = Path(__file__).parent / "fixtures" / "store_v0.1.0"
TABLES = ("adsorption_energies.csv", "all_sites.csv", "references.csv")


def test_old_store_resumes_with_zero_calculator_calls(tmp_path, monkeypatch):
    if importlib.metadata.version("ase") != "3.29.0":  # EMT's version (ASE's) is part of every job id
        pytest.skip("the fixture was computed with EMT from ASE 3.29.0; another ASE version is another calculator")
    out = tmp_path / "old"
    shutil.copytree(FIXTURE, out)
    for name in TABLES:  # the screen rewrites them; compare against the committed copies
        (out / name).rename(out / f"{name}.orig")

    def no_calculation(atoms, ctx):
        raise AssertionError("a stored job was computed again")

    for kind in list(tasks_base.TASKS):
        monkeypatch.setitem(tasks_base.TASKS, kind, no_calculation)
    spec = load_spec(FIXTURE / "spec.toml")
    res = run_screen(spec, out=out, progress=False, quiet=True, engine="serial")
    assert res.stats["computed"] == 0 and res.stats["failed"] == 0
    assert res.stats["reused"] == 19  # 1 bulk + 5 gas + 1 clean + 12 adsorbate jobs
    import csv

    # columns added since the fixture (issue 13: the 'flag' of each value, lattice_a of bulk rows) are
    # new information; every column the fixture has must be unchanged, except a lattice_a it left empty
    for name in TABLES:
        new = list(csv.DictReader((out / name).open()))
        old = list(csv.DictReader((out / f"{name}.orig").open()))
        assert len(new) == len(old), name
        for a, b in zip(new, old):
            for k, v in b.items():
                if k == "lattice_a" and v == "" and a.get("kind") == "bulk":
                    assert float(a[k]) == pytest.approx(3.59, abs=0.01)  # EMT Cu, from the stored cell
                    continue
                assert a[k] == v, (name, k)


def test_old_store_made_with_the_old_default_optimizer_resumes_when_the_spec_names_none(tmp_path, monkeypatch,
                                                                                       capsys):
    """The default optimizer is now "auto" (issue 16); a spec that names none, on a store made with
    the earlier default (BFGS), keeps BFGS: zero calculator calls, and the log says so."""
    if importlib.metadata.version("ase") != "3.29.0":
        pytest.skip("the fixture was computed with EMT from ASE 3.29.0; another ASE version is another calculator")
    out = tmp_path / "old"
    shutil.copytree(FIXTURE, out)
    text = (FIXTURE / "spec.toml").read_text()
    assert 'optimizer = "BFGS"' in text
    (tmp_path / "spec.toml").write_text(text.replace('optimizer = "BFGS"\n', ""))

    def no_calculation(atoms, ctx):
        raise AssertionError("a stored job was computed again")

    for kind in list(tasks_base.TASKS):
        monkeypatch.setitem(tasks_base.TASKS, kind, no_calculation)
    spec = load_spec(tmp_path / "spec.toml")
    assert spec.relax.optimizer == tasks_base.DEFAULT_OPTIMIZER == "auto"
    res = run_screen(spec, out=out, progress=False, engine="serial")
    assert res.stats["computed"] == 0 and res.stats["failed"] == 0 and res.stats["reused"] == 19
    assert "earlier default optimizer BFGS" in capsys.readouterr().err
