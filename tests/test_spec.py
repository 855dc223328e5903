"""Spec validation: bad input fails before any work with the field and the fix."""

import subprocess
import sys
from pathlib import Path

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
        (lambda d: d["catalysts"][0].update(fixed_layers=4), "catalysts.0", "must be at most layers"),
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


def test_gas_box_sets_the_gas_reference_cell_and_keeps_the_default_ids(small_spec_dict):
    from descriptors.tasks import RelaxSettings
    from descriptors.workflows.stages import gas_jobs

    spec = parse_spec(small_spec_dict)
    assert spec.gas_box == 12.0
    setting, rx = spec.calculator.setting(), RelaxSettings("BFGS", 0.05, 100)
    default = gas_jobs(setting, rx)
    assert [j.id for j in gas_jobs(setting, rx, spec.gas_box)] == [j.id for j in default]
    small = gas_jobs(setting, rx, parse_spec({**small_spec_dict, "gas_box": 7.0}).gas_box)
    assert all(j.atoms.cell.lengths() == pytest.approx([7.0] * 3) for j in small)
    assert not {j.id for j in small} & {j.id for j in default}
    with pytest.raises(SpecError, match="gas_box"):
        parse_spec({**small_spec_dict, "gas_box": 3.0})


WORKFLOWS = Path(__file__).parents[1] / "workflows"


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.toml")))
def test_every_shipped_workflow_spec_validates(name):
    """The ready-to-run specs in workflows/ stay valid as the spec grows (`no3rr validate`: exit 0)."""
    from descriptors.cli import main

    assert main(["validate", str(WORKFLOWS / name)]) == 0
