"""Quantum ESPRESSO (pw.x) through the whole pipeline: a tiny `no3rr screen` of H on Cu(111),
the screen SIGKILLed mid-relaxation, resumed: no pw.x outlives its job, nothing stored is
recomputed, the killed relaxation restarts from its trajectory, no scratch directory is left.

The settings are deliberately cheap (1x1x3 Cu(111), 20/80 Ry, 2x2x1 k-points, fmax 0.2 eV/A, at
most 5 steps; the five gas references, which dominated the cost in the default 12 A boxes, sit in
7 A boxes: ``gas_box = 7.0``, 5x fewer plane waves): this
test checks that pw.x runs, that its numbers flow through the store and the E_ads arithmetic, and
that a kill/resume is clean - not converged chemistry.  The converged comparison of the same
system (2x2x3, 40/320 Ry, 4x4x1) with GPAW is in README.md ("Quantum ESPRESSO"); CI repeats it
through both backends in tests/test_espresso_gpaw.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import require

from descriptors.calculators import espresso
from descriptors.store.db import Store

SPEC = """
name = "qe-pipeline"
adsorbates = ["H"]
gas_box = 7.0
[[catalysts]]
type = "slab"
metals = ["Cu"]
facets = ["111"]
size = [1, 1]
layers = 3
fixed_layers = 2
vacuum = 5.0
lattice_constant = "experimental"
[placement]
site_kinds = ["hollow"]
[calculator]
name = "espresso"
params = {{ xc = "pbe", ecutwfc = 20.0, ecutrho = 80.0, kpts = [2, 2, 1], command = "{command}" }}
[relax]
fmax = 0.2
steps = 5
"""

WRAPPER = """#!/bin/sh
# counts pw.x runs: one line (the work directory) per run
echo "$PWD" >> {log}
exec pw.x "$@"
"""


def _pw_processes_under(root: Path) -> list[int]:
    """pw.x processes whose working directory lies under ``root``."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if b"pw.x" in cmd and str(root) in cwd:
            out.append(int(pid))
    return out


def _frames(path: Path) -> int:
    from descriptors.tasks.relax import read_trajectory

    return len(read_trajectory(path))


@pytest.mark.slow  # minutes: see the timing in README.md
def test_espresso_screen_killed_and_resumed(tmp_path):
    require(espresso._espresso_missing() is None and espresso._pseudo_dir({}) is not None, "pw.x",
            espresso.ESPRESSO_INSTALL)
    log = tmp_path / "pw-runs.log"
    wrapper = tmp_path / "pw-wrapper"
    wrapper.write_text(WRAPPER.format(log=log))
    wrapper.chmod(0o755)
    spec = tmp_path / "qe.toml"
    spec.write_text(SPEC.format(command=wrapper))
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    env = dict(os.environ, NO3RR_SCRATCH=str(scratch), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "descriptors.cli", "screen", str(spec), "--out", str(out), "--no-progress",
           "--engine", "serial"]
    p = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    db = out / "screen.db"
    traj_dir = out / "trajectories"
    t_end = time.time() + 900
    killed_in = None
    while time.time() < t_end and p.poll() is None:
        stored = {r.job_id for r in Store(db).select()} if db.exists() else set()
        for t in traj_dir.glob("*.traj") if traj_dir.exists() else []:
            if t.stem not in stored and _frames(t) >= 2:  # a relaxation that has taken a step
                killed_in = t.stem
                break
        if killed_in:
            break
        time.sleep(1.0)
    assert p.poll() is None and killed_in, "the screen ended before it could be killed:\n" + p.stdout.read().decode()
    os.kill(p.pid, signal.SIGKILL)  # the driver only: pw.x must follow by itself
    p.wait()
    p.stdout.close()
    for _ in range(100):
        if not _pw_processes_under(scratch):
            break
        time.sleep(0.1)
    assert not _pw_processes_under(scratch), "pw.x outlived the killed screen"
    assert list(scratch.glob("espresso-*")), "the killed job's scratch directory should still be there"

    before = {r.job_id: (r.id, r.mtime) for r in Store(db).select()}
    frames_before = _frames(traj_dir / f"{killed_in}.traj")
    runs_before = len(log.read_text().splitlines())
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    plan = json.loads((out / "plan.json").read_text())
    rows = list(Store(db).select())
    assert plan["complete"] and {x.job_id for x in rows} == set(plan["jobs"])
    assert all(x.status in ("ok", "unconverged") for x in rows), [(x.status, x.get("error")) for x in rows]
    after = {x.job_id: (x.id, x.mtime) for x in rows}
    assert all(after[j] == before[j] for j in before)  # stored rows untouched
    n_new = len(plan["jobs"]) - len(before)
    assert f"computed {n_new} jobs" in r.stdout + r.stderr  # nothing stored was recomputed
    resumed = Store(db).get(killed_in)
    assert resumed.data.get("restarted_from_step", 0) >= frames_before - 1 >= 1  # from its trajectory
    runs_after = len(log.read_text().splitlines())
    # the resumed run called pw.x only for the missing jobs: at most their remaining steps + 1 each
    assert 0 < runs_after - runs_before <= n_new * 6
    # nothing left behind: no pw.x, no scratch directory
    assert not _pw_processes_under(scratch) and not list(scratch.glob("espresso-*"))

    # the stored numbers: E_ads = E(slab+H) - E(slab) - 1/2 E(H2), pw.x energies of this store
    store = Store(db)
    h2 = next(x for x in store.select(kind="gas") if x.molecule == "H2")
    clean = next(store.select(kind="clean"))
    ads = list(store.select(kind="adsorbate"))
    assert len(ads) == 2  # fcc and hcp hollows
    for a in ads:
        assert a.e_ads == pytest.approx(a.energy - clean.energy - 0.5 * h2.energy, abs=1e-6)
        assert -0.8 < a.e_ads < 0.4  # H on Cu(111) binds weakly against 1/2 H2 (PBE about -0.2 eV)
    # the H2 energy equals a plain ASE + pw.x single point on the stored geometry, same input
    from ase.calculators.espresso import Espresso, EspressoProfile

    atoms = h2.toatoms()
    atoms.calc = Espresso(
        profile=EspressoProfile(command="pw.x", pseudo_dir=str(espresso._pseudo_dir({}))),
        pseudopotentials={"H": espresso.DEBIAN_PSEUDOPOTENTIALS["H"]}, kpts=(1, 1, 1),
        directory=str(tmp_path / "plain"),
        input_data={"control": {"calculation": "scf", "tprnfor": True},
                    "system": {"ecutwfc": 20.0, "ecutrho": 80.0, "occupations": "smearing", "smearing": "mv",
                               "degauss": 0.001, "input_dft": "pbe"},
                    "electrons": {"conv_thr": 1e-6, "mixing_beta": 0.3}})
    assert atoms.get_potential_energy() == pytest.approx(h2.energy, abs=2e-4)
    assert np.isfinite(clean.energy)
