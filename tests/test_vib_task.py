"""The vib task's finite differences (tasks/vib.py: ASE's Vibrations with its displacement cache in
memory, the fast state check) give ASE's Vibrations' numbers with its JSON file cache, bit for bit,
and write no file."""

import numpy as np
from ase.build import add_adsorbate, fcc111
from ase.constraints import FixAtoms
from ase.vibrations import Vibrations

from descriptors.calculators import CalculatorSetting, make_calculator
from descriptors.tasks.vib import vibrate


def test_vibrate_is_ase_vibrations_bit_for_bit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = fcc111("Cu", (2, 2, 3), vacuum=6.0)
    s.set_constraint(FixAtoms(indices=[a.index for a in s if a.tag == 3]))
    add_adsorbate(s, "O", 1.2, "fcc")
    add_adsorbate(s, "H", 1.9, "ontop")
    setting = CalculatorSetting("emt")
    energies, energy, forces = vibrate(s, [12, 13], setting)
    assert list(tmp_path.iterdir()) == []  # no cache files, no directory
    ref = s.copy()
    ref.calc = make_calculator(setting, atoms=ref)
    vib = Vibrations(ref, indices=[12, 13], name=str(tmp_path / "vib"))
    vib.run()
    expected = np.asarray(vib.get_energies(), dtype=complex)
    assert len(list((tmp_path / "vib").iterdir())) == 1 + 2 * 3 * 2  # ASE's: one file per displacement
    assert energies.tobytes() == expected.tobytes()
    ref.calc = make_calculator(setting, atoms=ref)
    assert energy == ref.get_potential_energy()
    assert forces.tobytes() == ref.get_forces(apply_constraint=False).tobytes()
    assert np.abs(energies.imag).max() > 0 or energies.real.min() > 0  # some modes, real or imaginary
