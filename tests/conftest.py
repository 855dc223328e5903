import pytest


@pytest.fixture
def small_spec_dict():
    """Cu(100) and Cu(111), a few adsorbates, EMT, tight relaxation: seconds to run."""
    return {
        "name": "test-small",
        "output": "unused",
        "adsorbates": ["O", "NO", "NO3"],
        "catalysts": [
            {"type": "slab", "metals": ["Cu"], "facets": ["100", "111"], "size": [2, 2], "layers": 3,
             "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "relaxed"}
        ],
        "calculator": {"name": "emt"},
        "relax": {"optimizer": "BFGS", "fmax": 0.01, "steps": 400},
        "execution": {"workers": 1},
    }
