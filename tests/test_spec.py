"""Spec validation: bad input fails before any work with the field and the fix."""

import subprocess
import sys

import pytest

from descriptors.specs import SpecError, load_spec, parse_spec


def test_valid_spec_parses(small_spec_dict):
    spec = parse_spec(small_spec_dict)
    assert spec.adsorbate_names() == ["O", "NO", "NO3"]
    assert spec.calculator.setting().name == "emt"


@pytest.mark.parametrize(
    "mutate, field, fix",
    [
        (lambda d: d.update(colour="red"), "colour", "unknown key"),
        (lambda d: d["relax"].update(fmaxx=0.1), "relax.fmaxx", "unknown key"),
        (lambda d: d["catalysts"][0].update(metals=["Qq"]), "catalysts.0.metals", "not a chemical element"),
        (lambda d: d.update(adsorbates=["NO3", "XYZ"]), "adsorbates", "unknown adsorbate 'XYZ'"),
        (lambda d: d["calculator"].update(name="vasp5"), "calculator.name", "choose one of"),
        (lambda d: d["catalysts"][0].update(type="cluster"), "catalysts.0", "unknown catalyst type"),
        (lambda d: d["catalysts"][0].update(fixed_layers=3), "catalysts.0", "must be smaller than layers"),
        (lambda d: d["relax"].update(optimizer="SteepestDescentX"), "relax.optimizer", "choose one of"),
        (lambda d: d["calculator"].update(params={"electronic_temperature": 1000}), "calculator.params",
         "not understood by 'emt'"),
    ],
)
def test_bad_spec_names_field_and_fix(small_spec_dict, mutate, field, fix):
    mutate(small_spec_dict)
    with pytest.raises(SpecError) as exc:
        parse_spec(small_spec_dict, "t.toml")
    msg = str(exc.value)
    assert field in msg
    assert fix in msg


def test_emt_cannot_treat_iron(small_spec_dict):
    small_spec_dict["catalysts"][0]["metals"] = ["Cu", "Fe"]
    with pytest.raises(SpecError) as exc:
        parse_spec(small_spec_dict)
    msg = str(exc.value)
    assert "catalysts[0]" in msg and "Fe" in msg and "gfn1-xtb" in msg


def test_xtb_treats_iron(small_spec_dict):
    small_spec_dict["catalysts"][0]["metals"] = ["Fe"]
    small_spec_dict["catalysts"][0]["facets"] = ["110"]
    small_spec_dict["calculator"] = {"name": "gfn1-xtb", "params": {"electronic_temperature": 1000.0}}
    spec = parse_spec(small_spec_dict)
    assert spec.calculator.setting().params["electronic_temperature"] == 1000.0


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)


def test_cli_bad_spec_exit_code_2_and_nothing_computed(tmp_path):
    spec = tmp_path / "s.toml"
    out = tmp_path / "out"
    spec.write_text(
        'name = "x"\nadsorbates = ["NO3"]\n[[catalysts]]\ntype = "slab"\nmetals = ["Fe"]\n'
        '[calculator]\nname = "emt"\n'
    )
    r = subprocess.run([sys.executable, "-m", "descriptors.cli", "screen", str(spec), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Fe" in r.stderr and "calculator" in r.stderr
    assert not out.exists()
