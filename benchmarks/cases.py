"""The screens and structures the benchmarks run, in the full and the --quick mode.

Everything derives from the repository's own workflows (``workflows/quickstart.toml`` and
``workflows/cu_xtb.toml``) so the figures describe what users run.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "workflows" / "quickstart.toml"
CU_XTB = REPO / "workflows" / "cu_xtb.toml"

#: quick-mode EMT adsorbates: an atom and a bidentate
QUICK_ADSORBATES = ["H", "NO3"]


def load_toml(path: str | Path) -> dict[str, Any]:
    return tomllib.loads(Path(path).read_text())


def emt_main(quick: bool, spec_path: str | Path | None = None) -> dict[str, Any]:
    """The EMT screen whose overhead, resume cost and memory are measured.

    Full: the quick start itself (12 facets x 14 intermediates).  Quick: its Cu(111) with two
    intermediates.  ``spec_path`` replaces it with any spec file.
    """
    if spec_path is not None:
        return load_toml(spec_path)
    spec = load_toml(QUICKSTART)
    if quick:
        spec["catalysts"][0]["metals"] = ["Cu"]
        spec["catalysts"][0]["facets"] = ["111"]
        spec["adsorbates"] = list(QUICK_ADSORBATES)
        spec["name"] = "quickstart-quick"
    return spec


def emt_parallel(quick: bool, spec_path: str | Path | None = None) -> dict[str, Any]:
    """The EMT screen run with 1 and 2 workers: the whole quick start (full; its 2-worker run is
    the overhead benchmark's), as emt_main (quick: Cu(111) with two intermediates), or the spec
    given.  Issue 16 measured the parallel efficiency on Cu(111) alone before: one clean model,
    so its clean stage and the analysis ran on one core and weighed on a 20 s screen far more
    than on the quick start users run."""
    return emt_main(quick, spec_path)


def xtb_small(quick: bool) -> dict[str, Any]:
    """A small GFN1-xTB screen with the settings of workflows/cu_xtb.toml on Cu(111) 2x2x3.

    Relaxations are capped (steps) to keep the benchmark within minutes: the figures are per call
    and per job, not energies.  The lattice constant is the experimental one, because the
    relaxed one needs a >= 10 A bulk supercell (hundreds of xtb calls).
    """
    base = load_toml(CU_XTB)
    spec = {
        "name": "xtb-Cu111-small",
        "description": "Cu(111) 2x2x3 with GFN1-xTB (settings of workflows/cu_xtb.toml), capped relaxations",
        "adsorbates": ["H"] if quick else ["H", "O"],
        "catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
        "calculator": copy.deepcopy(base["calculator"]),
        "relax": {"optimizer": base["relax"].get("optimizer", "BFGS"), "fmax": base["relax"].get("fmax", 0.1),
                  "steps": 10 if quick else 15},
        "placement": {"site_kinds": ["hollow"] if quick else ["top", "hollow"]},
    }
    return spec


def relax_structures(quick: bool) -> dict[str, Any]:
    """Slabs and adsorbates of the calls-per-relaxation comparison (EMT, quick-start slab settings)."""
    if quick:
        return {"metals": ["Cu"], "facets": ["111"], "adsorbates": ["H", "NO3"]}
    return {"metals": ["Cu"], "facets": ["100", "111"], "adsorbates": ["H", "O", "NO", "NO3"]}


def site_slabs(quick: bool) -> dict[str, Any]:
    """Slabs of the site-finding comparison: the quick start's twelve (full) or Cu's two (quick)."""
    qs = load_toml(QUICKSTART)
    block = dict(qs["catalysts"][0])
    if quick:
        block["metals"] = ["Cu"]
    block["lattice_constant"] = "experimental"  # sites need the geometry, not a relaxed lattice
    return {"catalysts": [block], "adsorbates": qs["adsorbates"], "placement": qs.get("placement", {})}
