"""A frozen slab (``fixed_layers = layers``): every slab atom fixed, only adsorbates relax.

The protocol that makes a Gamma-point GFN1-xTB level on small metal cells well-posed (README,
"Issue 15"): the clean reference is the built slab, so every placement at every level shares it.
"""

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.optimize import BFGS

from descriptors.cli import main
from descriptors.specs import SpecError, parse_spec
from descriptors.store.db import Store
from descriptors.structures.slabs import metal_slab
from descriptors.workflows.screen import run_screen


def _spec(fixed, layers=3):
    return {"name": "frozen", "adsorbates": ["H"],
            "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["100"], "size": [2, 2], "layers": layers,
                           "fixed_layers": fixed, "vacuum": 6.0, "lattice_constant": "experimental"}],
            "calculator": {"name": "emt"}, "relax": {"optimizer": "BFGS", "fmax": 0.02, "steps": 200}}


def test_fixed_layers_may_equal_layers_but_not_exceed_them(tmp_path, capsys):
    assert parse_spec(_spec(3)).catalysts[0].fixed_layers == 3
    with pytest.raises(SpecError, match=r"fixed_layers \(4\) must be at most layers \(3\)"):
        parse_spec(_spec(4))
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nadsorbates = ["H"]\n[calculator]\nname = "emt"\n[[catalysts]]\ntype = "slab"\n'
                   'metals = ["Cu"]\nfacets = ["100"]\nlayers = 3\nfixed_layers = 5\n')
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "fixed_layers" in err and "Traceback" not in err
    for facet in ("100", "111", "210"):  # tagged and generic (stepped) builders: every atom fixed
        slab = metal_slab("Cu", facet, size=(2, 2), layers=3, fixed_layers=3)
        assert sorted(slab.constraints[0].index) == list(range(len(slab)))
    with pytest.raises(ValueError, match="between 0 and layers"):
        metal_slab("Cu", "100", layers=3, fixed_layers=4)


def test_frozen_slab_screen_relaxes_only_the_adsorbate(tmp_path):
    out = tmp_path / "s"
    run_screen(parse_spec(_spec(3)), out=out, workers=1, engine="serial", progress=False, quiet=True)
    st = Store(out / "screen.db")
    clean = list(st.select(kind="clean"))[0]
    built = metal_slab("Cu", "100", size=(2, 2), layers=3, vacuum=6.0, fixed_layers=3)
    assert int(clean.get("steps")) == 0 and np.allclose(clean.positions, built.positions)
    mu_h = 0.5 * list(st.select(kind="gas", molecule="H2"))[0].energy
    rows = list(st.select(kind="adsorbate"))
    assert len(rows) == 3  # top, bridge, hollow
    for r in rows:
        a = r.toatoms()
        assert np.allclose(a.positions[:len(built)], built.positions, atol=1e-8)  # the slab never moved
        # E_ads by hand: the stored geometry relaxed on with plain ASE (slab fixed) keeps its energy
        a.calc = EMT()
        BFGS(a, logfile=None).run(fmax=0.02, steps=50)
        e_hand = a.get_potential_energy() - clean.energy - mu_h
        assert abs(float(r.get("e_ads")) - e_hand) < 2e-3
