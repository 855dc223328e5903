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


def require(available: bool, what: str, install: str):
    """Skip a test when an optional backend or service is missing, with the reason and the fix.

    In CI (``NO3RR_CI=1``, set by ``.ci/run``) a missing backend is a failure, not a skip: the CI
    machine is set up by ``scripts/setup.sh --full`` and must be able to run every test.
    """
    import os

    if available:
        return
    msg = f"{what} is not available on this machine ({install})"
    if os.environ.get("NO3RR_CI") == "1":
        pytest.fail(f"NO3RR_CI=1 but {msg}", pytrace=False)
    pytest.skip(msg)
