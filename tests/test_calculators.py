import pytest

from descriptors.calculators.base import CalculatorSetting, UnsupportedElementsError, check_elements, make_calculator


def test_hash_is_deterministic_and_sensitive_to_params():
    a = CalculatorSetting("gfn1-xtb", {"electronic_temperature": 1000.0})
    b = CalculatorSetting("gfn1-xtb", {"electronic_temperature": 1000.0})
    c = CalculatorSetting("gfn1-xtb", {"electronic_temperature": 1500.0})
    d = CalculatorSetting("gfn2-xtb", {"electronic_temperature": 1000.0})
    assert a.hash == b.hash
    assert len({a.hash, c.hash, d.hash}) == 3
    # defaults are part of the identity, so spelling them out changes nothing
    assert CalculatorSetting("gfn1-xtb").hash == CalculatorSetting("gfn1-xtb", {"electronic_temperature": 300.0}).hash


def test_version_and_label_name_the_code():
    s = CalculatorSetting("emt")
    assert s.version not in ("", "not-installed")
    assert s.label().startswith("emt ")


def test_unknown_parameter_rejected():
    with pytest.raises(ValueError, match="calculator.params"):
        CalculatorSetting("emt", {"kpts": 3})


def test_element_coverage():
    check_elements(CalculatorSetting("emt"), {"Cu", "N", "O", "H"})
    with pytest.raises(UnsupportedElementsError, match="Fe"):
        check_elements(CalculatorSetting("emt"), {"Cu", "Fe"})
    check_elements(CalculatorSetting("gfn2-xtb"), {"Fe", "Rn", "W"})
    with pytest.raises(UnsupportedElementsError):
        check_elements(CalculatorSetting("gfn2-xtb"), {"U"})


def test_make_calculator_returns_working_ase_calculator():
    from ase.build import molecule

    m = molecule("H2")
    m.calc = make_calculator(CalculatorSetting("emt"))
    assert m.get_potential_energy() == pytest.approx(1.1588, abs=1e-3)  # ASE EMT H2 reference value
