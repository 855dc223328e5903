"""The [engine] table and --engine/--db: validated before anything runs; Parsl configured as asked."""

import os
import subprocess
import sys

import pytest

from descriptors.cli import main
from descriptors.engine.executors import parsl_config
from descriptors.specs import SpecError, parse_spec


def _spec(**extra):
    d = {"name": "e", "adsorbates": ["H"],
         "catalysts": [{"type": "slab", "metals": ["Pt"], "facets": ["111"], "size": [2, 2], "layers": 3,
                        "fixed_layers": 1, "lattice_constant": "experimental"}],
         "calculator": {"name": "emt"}}
    d.update(extra)
    return d


@pytest.mark.parametrize("engine, field", [
    ({"type": "local", "partition": "x"}, "partition only apply to type = 'slurm'"),
    ({"type": "slurm"}, "needs walltime"),
    ({"type": "slurm", "walltime": "1h"}, "walltime '1h': write HH:MM:SS"),
    ({"type": "pbs"}, "engine.type"),
    ({"type": "slurm", "walltime": "01:00:00", "launcher": "aprun"}, "engine.launcher"),
    ({"type": "slurm", "walltime": "01:00:00", "nodes": 0}, "engine.nodes"),
])
def test_bad_engine_tables_name_the_field(engine, field):
    with pytest.raises(SpecError) as e:
        parse_spec(_spec(engine=engine))
    assert field in str(e.value) and "engine" in str(e.value)


def test_bad_db_url():
    with pytest.raises(SpecError, match="db: .*postgresql://"):
        parse_spec(_spec(db="mysql://u@h/d"))


def test_slurm_config_carries_the_settings(tmp_path):
    from parsl.launchers import SrunLauncher

    spec = parse_spec(_spec(engine={
        "type": "slurm", "partition": "short", "account": "proj1", "walltime": "1-02:00:00", "nodes": 2,
        "cores_per_job": 4, "max_blocks": 3, "worker_init": ["module load vasp/6"], "launcher": "srun",
        "scheduler_options": ["#SBATCH --mem=4G"], "retries": 2}))
    cfg = parsl_config(spec.engine, tmp_path, workers=1)
    ex = cfg.executors[0]
    p = ex.provider
    assert (p.partition, p.account, p.walltime, p.nodes_per_block, p.max_blocks) == ("short", "proj1", "1-02:00:00", 2, 3)
    assert isinstance(p.launcher, SrunLauncher) and "module load vasp/6" in p.worker_init
    assert "OMP_NUM_THREADS=4" in p.worker_init and "#SBATCH --mem=4G" in p.scheduler_options
    assert ex.cores_per_worker == 4 and cfg.retries == 0  # the engine resubmits lost jobs itself


def test_cli_engine_and_status_errors_exit_2(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "x"\nadsorbates = ["H"]\n[[catalysts]]\ntype = "slab"\nmetals = ["Pt"]\nfacets = ["111"]\n'
                    'lattice_constant = "experimental"\n[calculator]\nname = "emt"\n')
    assert main(["screen", str(spec), "--out", str(tmp_path / "o"), "--engine", "slurm"]) == 2
    assert "no Slurm settings" in capsys.readouterr().err
    assert main(["status", str(tmp_path / "nothing")]) == 2
    assert "plan.json" in capsys.readouterr().err
    assert main(["screen", str(spec), "--out", str(tmp_path / "o"), "--db", "mysql://a@b/c"]) == 2


def test_slurm_engine_without_sbatch_fails_before_computing(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "x"\nadsorbates = ["H"]\n[[catalysts]]\ntype = "slab"\nmetals = ["Pt"]\nfacets = ["111"]\n'
                    'lattice_constant = "experimental"\n[calculator]\nname = "emt"\n[engine]\ntype = "slurm"\nwalltime = "00:05:00"\n')
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))  # no sbatch on this PATH
    r = subprocess.run([sys.executable, "-m", "descriptors.cli", "screen", str(spec), "--out", str(tmp_path / "o"),
                        "--no-progress"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "sbatch" in r.stderr and "--engine local" in r.stderr
    db = tmp_path / "o" / "screen.db"
    if db.exists():  # nothing was computed
        from descriptors.store.db import Store
        assert Store(db).count() == 0
