"""CHGNet and SevenNet relax an adsorbate on Cu(111) offline, with the weights of their wheels."""

import socket

import pytest
from ase.build import add_adsorbate, fcc111
from ase.constraints import FixAtoms

from descriptors.calculators import base, ml
from conftest import require
from descriptors.calculators.base import CalculatorSetting, make_calculator
from descriptors.tasks.relax import RelaxSettings, relax


def _need(name):
    require(base.REGISTRY[name].availability() is None, name, ml.ML_INSTALL)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: the weights must come from the installed package."""
    def refuse(*a, **k):
        raise AssertionError(f"network access attempted: {a[1:] if len(a) > 1 else a}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(k, "1")


def _h_on_cu111():
    slab = fcc111("Cu", (2, 2, 3), vacuum=6.0, a=3.63)
    slab.pbc = True
    add_adsorbate(slab, "H", 1.6, "fcc")  # 0.6 A above the usual height: the relaxation must pull it in
    slab.set_constraint(FixAtoms(indices=[a.index for a in slab if a.tag > 1]))  # bottom two layers
    return slab


@pytest.mark.parametrize("name", ["chgnet", "sevenn"])
def test_ml_potential_relaxes_h_on_cu111_offline(name, no_network):
    _need(name)
    setting = CalculatorSetting(name)
    assert setting.version not in ("", "not-installed")
    slab = _h_on_cu111()
    start = slab.copy()
    start.calc = make_calculator(setting, atoms=start)
    e0 = start.get_potential_energy()
    res = relax(slab, setting, RelaxSettings("BFGS", fmax=0.05, steps=200))
    assert res.converged and res.fmax < 0.05
    assert res.energy < e0 - 0.05  # it moved downhill
    a = res.atoms
    h = len(a) - 1
    top = [i for i in range(len(a) - 1) if a[i].tag == 1]
    d = a.get_distances(h, top, mic=True)
    height = a.positions[h, 2] - a.positions[top, 2].mean()
    # still bound in the hollow: three Cu at ~1.7-1.9 A, about 1 A above the top layer
    assert 1.5 < d.min() < 2.1 and (d < 2.2).sum() == 3
    assert 0.6 < height < 1.4


def test_ml_element_lists_match_the_shipped_checkpoint():
    """The registry's element list (MPtrj) is the species list stored in SevenNet-0's checkpoint."""
    _need("sevenn")
    import torch

    cp = torch.load(ml.shipped_checkpoint("sevenn", "7net-0"), map_location="cpu", weights_only=False)
    species = set(cp["config"]["chemical_species"])
    assert species == base.REGISTRY["sevenn"].supported_elements() == base.REGISTRY["chgnet"].supported_elements()
    assert len(species) == 89


def test_ml_weights_ship_inside_the_package():
    for name, models in (("chgnet", ml.CHGNET_MODELS), ("sevenn", ml.SEVENN_MODELS)):
        _need(name)
        for model in models:
            path = ml.shipped_checkpoint(name, model)
            assert path.is_file() and path.stat().st_size > 1_000_000
            assert f"site-packages/{name}/" in str(path) or f"/{name}/" in str(path)
