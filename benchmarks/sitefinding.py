"""Site finding and placement: descriptors.geometry.sites/adsorbates against pymatgen's AdsorbateSiteFinder.

On the same slabs (the quick start's, built by the package and converted with
``pymatgen.io.ase.AseAtomsAdaptor``):

* ours: ``find_sites`` + ``find_site_pairs`` (the sites), and ``screen.plan_adsorbate_jobs`` (what
  the screen does: sites, pairs, every adsorbate configuration placed and hashed into a job);
* pymatgen: ``AdsorbateSiteFinder(structure).find_adsorption_sites()`` (the sites),
  ``generate_adsorption_structures(molecule, repeat=[1, 1, 1])`` once per adsorbate (the documented
  route, which finds the sites again each time), and ``add_adsorbate`` on the sites found once.

Times are the best of ``repeats`` runs.  Besides the counts each tool reports per label, every site
is classified by geometry, independently of either tool: the number of top-layer atoms at the
smallest lateral distance from the site (1 top, 2 bridge, 3 three-fold hollow, 4 four-fold hollow).
On fcc(100) pymatgen drops the right-angled Delaunay triangles as "obtuse" and returns the
four-fold hollow as a second "bridge" (the square's diagonal): the geometric classification shows it.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from typing import Any

import numpy as np

__all__ = ["run_sites", "geometric_kind", "pymatgen_available"]


def pymatgen_available() -> bool:
    try:
        import pymatgen.analysis.adsorption  # noqa: F401
        import pymatgen.io.ase  # noqa: F401
    except ImportError:
        return False
    return True


def geometric_kind(atoms, xy: np.ndarray, top_tol: float = 0.5, rel_tol: float = 0.05) -> int:
    """Number of top-layer atoms at the smallest lateral (minimum-image) distance from ``xy``."""
    z = atoms.positions[:, 2]
    top = atoms.positions[z > z.max() - top_tol]
    cell = atoms.cell.array
    v = np.asarray(xy, float)[None, :2] - top[:, :2]
    # minimum image in the surface plane (a1, a2)
    inv = np.linalg.inv(cell[:2, :2])
    f = v @ inv
    f -= np.round(f)
    best = None
    for i in (-1, 0, 1):
        for j in (-1, 0, 1):
            d = np.linalg.norm((f + [i, j]) @ cell[:2, :2], axis=1)
            best = d if best is None else np.minimum(best, d)
    dmin = best.min()
    if dmin < 0.3:  # on top of an atom
        return 1
    return int(np.sum(best <= dmin * (1 + rel_tol) + 1e-6))


def _best(fn, repeats: int):
    out, best = None, float("inf")
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def _ours(job, atoms, spec, setting, relax, repeats: int) -> dict[str, Any]:
    from descriptors.geometry.sites import find_site_pairs, find_sites, site_position
    from descriptors.workflows.stages import plan_adsorbate_jobs

    def sites():
        return find_sites(atoms), find_site_pairs(atoms, max_distance=spec.placement.max_pair_distance)

    (s, pairs), t_sites = _best(sites, repeats)
    jobs, t_plan = _best(lambda: plan_adsorbate_jobs(job, atoms, atoms, spec.adsorbate_names(), spec, setting, relax),
                         repeats)
    geo = Counter(geometric_kind(atoms, site_position(atoms, x)[:2]) for x in s)
    labels = Counter(x.kind if x.kind != "hollow" else x.label for x in s)
    return {
        "sites": len(s),
        "site_labels": dict(labels),
        "site_geometry": {str(k): v for k, v in sorted(geo.items())},
        "site_pairs": len(pairs),
        "configurations": len(jobs),
        "bidentate_configurations": sum(1 for j in jobs if "," in j.meta.get("binding", "")),
        "sites_s": round(t_sites, 4),
        "sites_and_configurations_s": round(t_plan, 4),
    }


def _molecule(ads):
    from pymatgen.core import Molecule

    a = ads.atoms(ads.modes[0])
    return Molecule(list(a.get_chemical_symbols()), a.positions)


def _pymatgen(atoms, adsorbate_names: list[str], repeats: int) -> dict[str, Any]:
    from pymatgen.analysis.adsorption import AdsorbateSiteFinder
    from pymatgen.io.ase import AseAtomsAdaptor

    from descriptors.geometry.adsorbates import ADSORBATES

    clean = atoms.copy()
    clean.set_constraint()  # the adaptor turns FixAtoms into selective dynamics; the sites do not need it
    t = time.perf_counter()
    structure = AseAtomsAdaptor.get_structure(clean)
    t_convert = time.perf_counter() - t
    mols = [_molecule(ADSORBATES[n]) for n in adsorbate_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        def sites():
            asf = AdsorbateSiteFinder(structure)
            return asf, asf.find_adsorption_sites()

        (asf, found), t_sites = _best(sites, repeats)

        def generate():
            return [s for m in mols for s in asf.generate_adsorption_structures(m, repeat=[1, 1, 1])]

        structures, t_gen = _best(generate, 1)

        def add():
            return [asf.add_adsorbate(m, c, repeat=None) for m in mols for c in found["all"]]

        added, t_add = _best(add, repeats)
    kinds = ("ontop", "bridge", "hollow")
    geo = Counter(geometric_kind(atoms, np.asarray(c)[:2]) for k in kinds for c in found.get(k, []))
    return {
        "sites": len(found["all"]),
        "site_labels": {k: len(found.get(k, [])) for k in kinds},
        "site_geometry": {str(k): v for k, v in sorted(geo.items())},
        "configurations": len(structures),
        "atoms_per_configuration": len(structures[0]) if structures else None,
        "convert_s": round(t_convert, 4),
        "sites_s": round(t_sites, 4),
        "generate_adsorption_structures_s": round(t_gen, 4),
        "add_adsorbate_s": round(t_add, 4),
        "added_configurations": len(added),
    }


def run_sites(block: dict[str, Any], repeats: int = 3, progress=None) -> dict[str, Any]:
    """Both tools on every slab of ``block`` (catalysts, adsorbates, placement of a spec)."""
    from descriptors.specs import parse_spec
    from descriptors.tasks.relax import RelaxSettings
    from descriptors.workflows.stages import clean_jobs

    spec = parse_spec({"name": "bench-sites", **block, "calculator": {"name": "emt"}}, "<benchmark sites>")
    setting = spec.calculator.setting()
    relax = RelaxSettings()
    from descriptors.structures import expand_catalysts

    skipped: list[str] = []
    cjobs, ideal = clean_jobs(expand_catalysts(spec), None, {}, setting, relax, skipped)
    names = spec.adsorbate_names()
    have_pmg = pymatgen_available()
    rows = []
    for job in cjobs:
        atoms = ideal[job.id]
        row: dict[str, Any] = {"catalyst": job.meta["catalyst"], "atoms": len(atoms),
                               "ours": _ours(job, atoms, spec, setting, relax, repeats)}
        if have_pmg:
            row["pymatgen"] = _pymatgen(atoms, names, repeats)
            row["same_sites_by_geometry"] = row["ours"]["site_geometry"] == row["pymatgen"]["site_geometry"]
        rows.append(row)
        if progress:
            progress(f"sites {row['catalyst']}")
    out: dict[str, Any] = {"slabs": rows, "adsorbates": names, "repeats": repeats, "pymatgen": have_pmg}
    tot = lambda tool, key: round(sum(r[tool][key] for r in rows if tool in r), 4)  # noqa: E731
    out["ours_total"] = {k: tot("ours", k) for k in ("sites", "configurations", "sites_s", "sites_and_configurations_s")}
    if have_pmg:
        import pymatgen.core

        out["pymatgen_version"] = getattr(pymatgen.core, "__version__", "?")
        out["pymatgen_total"] = {k: tot("pymatgen", k) for k in
                                 ("sites", "configurations", "sites_s", "generate_adsorption_structures_s",
                                  "add_adsorbate_s", "convert_s")}
        o, p = out["ours_total"], out["pymatgen_total"]
        out["sites_time_ratio_pymatgen_over_ours"] = round(p["sites_s"] / o["sites_s"], 2) if o["sites_s"] else None
        out["configs_time_ratio_pymatgen_over_ours"] = (
            round(p["generate_adsorption_structures_s"] / o["sites_and_configurations_s"], 2)
            if o["sites_and_configurations_s"] else None)
        out["slabs_with_same_sites_by_geometry"] = sum(bool(r.get("same_sites_by_geometry")) for r in rows)
    else:
        out["note"] = "pymatgen not installed: pip install -e '.[bench]' for the comparison"
    return out
