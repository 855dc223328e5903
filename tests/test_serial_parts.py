"""The driver's serial parts of a screen, made faster without changing what they give (issue 16):
reads of many rows by the sqlite3 reader on a writable store, the vibrations planned from two reads
instead of a query per parent, and the figures drawn by a process pool of the caller (a screen's
warm workers) byte for byte as the forked drawing processes draw them."""

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

import pytest

from descriptors.analysis import (
    load_store,
    run_analysis,
    settings_network,
    write_outputs,
)
from descriptors.specs import parse_spec
from descriptors.store import Store, row_dict, site_rows
from descriptors.workflows.screen import run_screen
from descriptors.workflows.vibrations import plan_screen_vibrations, plan_vib_jobs

SPEC = """
name = "serial-parts"
adsorbates = ["NO3", "NO2", "NO", "N", "NH", "NH2", "NH3", "H", "O"]
[[catalysts]]
type = "slab"
metals = ["Cu", "Pd", "Pt", "Ni"]
facets = ["100"]
size = [2, 2]
layers = 2
fixed_layers = 1
vacuum = 5.0
lattice_constant = "experimental"
[calculator]
name = "emt"
[relax]
fmax = 0.1
steps = 30
[placement]
site_kinds = ["top", "hollow"]
bidentate = false
[execution]
workers = 2
[analysis]
descriptors = ["*N"]
use_flagged = true
"""


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    import tomllib

    spec = parse_spec(tomllib.loads(SPEC))
    out = tmp_path_factory.mktemp("serial") / "out"
    res = run_screen(spec, out=out, progress=False, quiet=True)
    return spec, out, res


def _old_plan(store, setting, use_flagged):
    """plan_screen_vibrations as it was: ase.db rows, one query per parent."""
    from descriptors.analysis.dataset import level_rows
    from descriptors.store import best_rows

    parents = []
    sites, gas_rows, _ = level_rows(store, "screen", calc_hash=setting.hash)
    for r in best_rows(sites, include_flagged=use_flagged):
        if not (r.get("valid") or use_flagged) or not r.get("job_id") or r.get("E_ads_eV") is None:
            continue
        row = store.get(r["job_id"])
        if row is None or "adsorbate_indices" not in row.data:
            continue
        parents.append((r["job_id"], list(row.data["adsorbate_indices"]),
                        {"adsorbate": r["adsorbate"], "site": r.get("site"), "vib_kind": "adsorbate"}))
    for row in gas_rows:
        if row.get("status") != "failed":
            parents.append((row.get("job_id"), list(range(row.natoms)),
                            {"molecule": row.get("molecule"), "catalyst": "gas", "vib_kind": "gas"}))
    return plan_vib_jobs(store, parents, setting)


def test_batched_vibration_plan_picks_the_jobs_of_the_query_per_parent(screen):
    spec, out, _ = screen
    store = Store(out / "screen.db")
    setting = spec.calculator.setting()
    for flagged in (False, True):
        new = plan_screen_vibrations(store, setting, flagged)
        old = _old_plan(store, setting, flagged)
        assert len(new) >= 5 + 4  # gases and adsorbates of four catalysts
        assert [j.id for j in new] == [j.id for j in old]
        assert [j.meta for j in new] == [j.meta for j in old]
        for a, b in zip(new, old):
            assert (a.atoms.positions == b.atoms.positions).all() and a.atoms.info == b.atoms.info
    # every planned vibration is stored: the screen ran them, a second plan computes nothing new
    assert all(j.id in store.statuses() for j in plan_screen_vibrations(store, setting, True))


def test_reader_rows_of_a_writable_store_equal_ase_db_rows(screen):
    _, out, res = screen
    store = Store(out / "screen.db")  # writable: select goes through ase.db, rows through sqlite3
    assert store.reader is None
    ids = res.job_ids["adsorbate"]
    fast = site_rows(store, ids)
    slow = [row_dict(store.get(j)) for j in ids]
    assert fast == slow and len(fast) == len(ids)
    assert site_rows(store) == [row_dict(r) for r in store.select(kind="adsorbate")]
    for kind in ("gas", "vib"):
        a, b = list(store.rows(kind=kind)), list(store.select(kind=kind))
        assert [r.id for r in a] == [r.id for r in b] and [r.key_value_pairs for r in a] == [r.key_value_pairs for r in b]


def test_figures_drawn_in_a_pool_equal_the_forked_ones(screen, tmp_path):
    spec, out, _ = screen
    settings = spec.analysis.settings()
    res = run_analysis(load_store(out / "screen.db", settings), settings, settings_network(settings))
    forked = write_outputs(res, tmp_path / "forked")
    with ProcessPoolExecutor(2, mp_context=mp.get_context("forkserver")) as ex:
        pooled = write_outputs(res, tmp_path / "pooled", submit=ex.submit)
    figs = sorted(k for k in forked if k.endswith(".png"))
    assert len(figs) >= 3 and figs == sorted(k for k in pooled if k.endswith(".png"))
    for k in figs:  # and the screen's own (its pool's workers, the scaling grid started before the maps)
        assert forked[k].read_bytes() == pooled[k].read_bytes() == (out / "analysis" / "figures" / k).read_bytes(), k
    for k in ("summary_csv", "summary_json", "routes_csv", "free_energies_csv"):
        assert forked[k].read_bytes() == pooled[k].read_bytes()


def test_screen_driver_does_not_import_matplotlib(screen):
    import subprocess
    import sys

    code = ("import sys; import descriptors.workflows.screen, descriptors.cli.screen, descriptors.analysis.outputs; "
            "print('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_sites_found_by_pool_workers_plan_the_same_jobs():
    import tomllib

    from descriptors.geometry import site_finder, site_pairs
    from descriptors.structures import expand_catalysts
    from descriptors.tasks import RelaxSettings
    from descriptors.workflows.stages import (
        clean_jobs,
        find_sites_ahead,
        plan_adsorbate_jobs,
    )

    spec = parse_spec(tomllib.loads(SPEC.replace("bidentate = false", "bidentate = true")))
    setting, relax = spec.calculator.setting(), RelaxSettings()
    cjobs, ideal = clean_jobs(expand_catalysts(spec), None, {}, setting, relax, [])
    ads = spec.adsorbate_names()

    def plan():
        return [j for c in cjobs for j in plan_adsorbate_jobs(c, ideal[c.id], ideal[c.id], ads, spec, setting, relax)]

    site_finder._CACHE.clear()
    site_pairs._PAIRS.clear()
    with ProcessPoolExecutor(2, mp_context=mp.get_context("forkserver")) as ex:
        find_sites_ahead(list(ideal.values()), ads, spec, ex.submit).join()
    assert len(site_finder._CACHE) == len(ideal) and len(site_pairs._PAIRS) == len(ideal)
    calls = []
    real = site_finder.analyse_slab
    site_finder.analyse_slab = lambda *a: calls.append(1) or real(*a)
    try:
        pooled = plan()  # every analysis from the caches: half of them made by the workers
    finally:
        site_finder.analyse_slab = real
    assert calls == []
    site_finder._CACHE.clear()
    site_pairs._PAIRS.clear()
    here = plan()
    assert any("+" in j.meta["site"] for j in here)  # bidentate jobs on site pairs from the workers too
    assert [j.id for j in pooled] == [j.id for j in here] and len(here) > 20
    assert all((a.atoms.positions == b.atoms.positions).all() for a, b in zip(pooled, here))
