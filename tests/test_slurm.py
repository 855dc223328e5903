"""A small EMT screen through the Slurm engine (Parsl SlurmProvider) on a real Slurm cluster.

CI (scripts/setup.sh --full) runs a one-node cluster on the test machine; elsewhere the test is
skipped with the reason.  The jobs must run inside Slurm batch jobs (their rows carry the
SLURM_JOB_ID of the block) and their results land in the driver's database.
"""

import shutil
import subprocess

import pytest
from conftest import require

from descriptors.workflows.screen import run_screen
from descriptors.specs import parse_spec
from descriptors.report.status import summarize
from descriptors.store.db import Store


def _slurm_up() -> bool:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return False
    try:
        r = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and any(s.strip().rstrip("*") in ("idle", "mix", "alloc") for s in r.stdout.split())


def test_screen_on_slurm_lands_in_the_database(tmp_path):
    require(_slurm_up(), "a running Slurm cluster (sbatch, sinfo with an idle node)",
            "bash scripts/setup.sh --full starts a one-node cluster")
    spec = parse_spec({
        "name": "slurm-test", "adsorbates": ["H", "O"],
        "catalysts": [{"type": "slab", "metals": ["Pt"], "facets": ["111"], "size": [2, 2], "layers": 3,
                       "fixed_layers": 1, "lattice_constant": "experimental"}],
        "calculator": {"name": "emt"}, "relax": {"fmax": 0.05, "steps": 100},
        "engine": {"type": "slurm", "walltime": "00:10:00", "nodes": 1, "cores_per_job": 1, "max_blocks": 1,
                   "exclusive": False, "launcher": "srun",
                   "worker_init": ["echo worker_init ran on $(hostname)"]},
    })
    res = run_screen(spec, out=tmp_path, progress=False, quiet=True)
    store = Store(tmp_path / "screen.db")
    rows = list(store.select())
    n_jobs = sum(res.stats["jobs"].values())
    # 5 gas + 1 clean + H on 4 sites + O on 4 sites of Pt(111)
    assert n_jobs == len(rows) == 14 and res.stats["computed"] == 14 and res.stats["failed"] == 0
    assert all(r.engine == "slurm" and r.status in ("ok", "unconverged") for r in rows)
    batch_ids = {r.get("slurm_job_id") for r in rows}
    assert None not in batch_ids and len(batch_ids) == 1  # all ran in the one block Parsl submitted
    # Parsl wrote an sbatch script with our settings
    scripts = [f for f in (tmp_path / "parsl-runinfo").rglob("parsl.slurm.block-*")
               if not f.name.endswith((".sh", ".stdout", ".stderr"))]
    assert scripts and "#SBATCH --time=10\n" in scripts[0].read_text()  # Parsl writes minutes
    assert "worker_init ran on" in scripts[0].read_text()
    s = summarize(tmp_path)
    assert s["complete"] and len(s["done"]) + len(s["unconverged"]) == 14 and not s["pending"]
    # the numbers are the same as with the serial engine (same jobs, same calculator)
    ref = run_screen(spec, out=tmp_path / "serial", engine="serial", progress=False, quiet=True)
    ref_store = Store(ref.db)
    for r in rows:
        assert ref_store.get(r.job_id).energy == pytest.approx(r.energy, abs=1e-6)
