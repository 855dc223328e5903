"""Benchmarks (python -m benchmarks): the figures exist, the counts agree with an independent count,
resume makes zero calculator calls, and the site comparison with pymatgen agrees on geometry."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ase.db import connect
from conftest import require

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import callcount  # noqa: E402
from benchmarks.cli import main  # noqa: E402

TINY = textwrap.dedent("""
    name = "bench-tiny"
    adsorbates = ["H"]
    [[catalysts]]
    type = "slab"
    metals = ["Cu"]
    facets = ["111"]
    size = [2, 2]
    layers = 3
    fixed_layers = 1
    vacuum = 6.0
    lattice_constant = "experimental"
    [calculator]
    name = "emt"
    [relax]
    optimizer = "BFGS"
    fmax = 0.05
    steps = 100
""")


def test_callcount_counts_calls_in_spawned_worker_processes(tmp_path):
    """Calls made in fresh interpreters (spawn pool, as Parsl workers) are counted, cache hits are not."""
    script = tmp_path / "work.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        def f(i):
            from ase.build import fcc111
            from ase.calculators.emt import EMT
            a = fcc111("Cu", (2, 2, 3), vacuum=5.0)
            a.calc = EMT()
            a.get_potential_energy(); a.get_forces(); a.get_potential_energy()   # one real call
            a.positions[0, 2] += 0.1
            a.get_forces()                                                          # a second one
            return 2

        if __name__ == "__main__":
            with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
                print(sum(pool.map(f, range(3))))
    """))
    calls = tmp_path / "calls"
    proc = subprocess.run([sys.executable, str(script)], env=callcount.subprocess_env(calls), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = callcount.read(calls)
    assert got["calls"] == int(proc.stdout.split()[-1]) == 6
    assert set(got["by_class"]) == {"EMT"} and got["seconds"] > 0


def test_quick_resume_and_overhead_json(tmp_path):
    """A tiny screen, then its re-run: the JSON carries the figures and the resume makes no call."""
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "bench.json"
    work = tmp_path / "work"
    assert main(["--quick", "--only", "resume,memory", "--spec", str(spec), "--workers", "1",
                 "--out", str(out), "--workdir", str(work), "--quiet"]) == 0
    res = json.loads(out.read_text())
    assert res["meta"]["mode"] == "quick" and len(res["meta"]["load_start"]) == 3
    r = res["benchmarks"]["resume"]
    assert r["resume_calls"] == 0 and r["resume_jobs_computed"] == 0
    first = next(v for k, v in res["runs"].items() if not k.endswith("resume"))
    assert r["resume_jobs_reused"] == first["jobs_computed"] > 0
    # calls counted from outside == an independent count from the store: BFGS evaluates the start
    # geometry and once per step (the final energy is a cache hit)
    rows = list(connect(Path(first["out"]) / "screen.db").select())
    assert len(rows) == first["jobs_computed"]
    assert first["calls"] == sum(row.steps + 1 for row in rows)
    # serial run: the calculator is inside the jobs, the jobs inside the wall time
    assert 0 < first["calc_s"] <= first["job_s"] <= first["wall_s"]
    assert first["wall_over_calc"] >= 1.0 and first["overhead_ms_per_job"] > 0
    mem = res["benchmarks"]["memory"]["runs"]
    assert all(m["driver_peak_mb"] > 10 for m in mem)


def test_default_relaxation_adds_no_call_and_reaches_ase_bfgs_minima_with_fewer():
    """The package's relax() with the default ("auto": BFGS-model on one-atom placements, BFGS-soft on
    molecules) adds no calculator call to that optimizer run bare (ASE's loop) from the same geometry,
    and ends where ASE's BFGS ends, with fewer calls."""
    from benchmarks.optimizers import run_relax

    for ads, auto in (("H", "BFGS-model"), ("NO", "BFGS-soft")):
        res = run_relax(["Cu"], ["111"], [ads], optimizers=["BFGS", auto], naive=False)
        assert res["relaxations"] >= 4  # top, bridge, fcc, hcp (and NO's other binding modes)
        for row in res["rows"]:
            d, same, b = row["default"], row[f"ASE {auto}"], row["ASE BFGS"]
            assert d["calls"] == same["calls"] == d["steps"] + 1, (ads, auto)
            assert d["energy"] == pytest.approx(same["energy"], abs=1e-8)
            assert d["energy"] == pytest.approx(b["energy"], abs=0.01)
        s = res["summary"]
        assert s["default"]["other_minimum"] == 0 and s["default"]["calls_vs_ase_bfgs"] < 1.0


def test_sites_agree_with_pymatgen_by_geometry():
    from benchmarks.sitefinding import pymatgen_available, run_sites

    require(pymatgen_available(), "pymatgen", "pip install -e '.[bench]'")
    block = {"catalysts": [{"type": "slab", "metals": ["Cu"], "facets": ["100", "111"], "size": [2, 2],
                            "layers": 3, "fixed_layers": 1, "vacuum": 6.0, "lattice_constant": "experimental"}],
             "adsorbates": ["H", "NO"]}
    res = run_sites(block, repeats=1)
    geo = {r["catalyst"]: r["ours"]["site_geometry"] for r in res["slabs"]}
    # top (1 atom), bridge (2), four-fold hollow on (100); fcc and hcp three-fold hollows on (111)
    assert geo == {"Cu(100)": {"1": 1, "2": 1, "4": 1}, "Cu(111)": {"1": 1, "2": 1, "3": 2}}
    for r in res["slabs"]:
        assert r["same_sites_by_geometry"], r
        assert r["pymatgen"]["configurations"] == r["pymatgen"]["sites"] * 2
        assert r["ours"]["configurations"] == 2 * r["ours"]["sites"]  # H and NO go on every site kind


def test_emt_benchmark_compares_the_two_implementations(monkeypatch):
    """benchmarks/emtcalls.py: the vectorised EMT is faster per call and inside relaxations, which take the
    same calls and reach the same energies as with ASE's; a larger skin rebuilds the pair list less often."""
    from benchmarks import cases, emtcalls

    monkeypatch.setattr(cases, "relax_structures",
                        lambda quick: {"metals": ["Cu"], "facets": ["111"], "adsorbates": ["NO3"]})
    monkeypatch.setattr(emtcalls, "SKINS", (0.0, 0.5))
    res = emtcalls.run_emtcalls(quick=True, log=lambda m: None)
    assert [r["structure"].split()[0] for r in res["per_call"]] == ["Cu(111)", "placement"]
    for r in res["per_call"]:
        assert r["dE_eV"] < 1e-9 and r["dF_eV_per_A"] < 1e-9 and r["numpy_ms"] < r["ase_ms"]
    ase, skin0, skin5 = res["relax"]
    assert ase["implementation"] == "ase" and ase["builds"] == 0
    assert ase["calls"] == skin0["calls"] == skin5["calls"] > ase["relaxations"]
    assert skin0["builds"] == skin0["calls"] and 0 < skin5["builds"] < skin0["builds"]
    assert skin5["max_dE_vs_ase_eV"] < 1e-9
    text = "\n".join(emtcalls.render_emtcalls(res))
    assert "quick start < 2 min" in text and "ms/relaxation" in text
