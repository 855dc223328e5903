"""pw.x as a child of the job: it dies with the job, an unconverged SCF is classified as such,
scratch directories of finished and killed jobs are removed, and the default pseudopotential
table is the one Debian ships."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from ase.build import molecule

from descriptors.calculators import CalculatorSetting, espresso, make_calculator
from descriptors.calculators.process import sweep_orphans
from descriptors.tasks.base import REASON_SCF, classify


def _fake_pw(tmp_path: Path, body: str) -> str:
    exe = tmp_path / "fake-pw.x"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)
    return str(exe)


def _setting(tmp_path, command):
    (tmp_path / "H.UPF").write_text('<PP_HEADER z_valence="1.0"/>')
    return CalculatorSetting("espresso", {"pseudopotentials": {"H": "H.UPF"}, "pseudo_dir": str(tmp_path),
                                          "command": command, "workdir": str(tmp_path / "scratch")})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    st = Path(f"/proc/{pid}/stat")
    return not (st.exists() and st.read_text().split()[2] == "Z")


def test_program_dies_with_a_killed_job(tmp_path):
    pidfile = tmp_path / "child.pid"
    cmd = _fake_pw(tmp_path, f"echo $$ > {pidfile}\nexec sleep 300\n")
    _setting(tmp_path, cmd)  # writes H.UPF
    driver = textwrap.dedent(f"""
        from ase.build import molecule
        from descriptors.calculators import CalculatorSetting, make_calculator
        s = CalculatorSetting("espresso", {{"pseudopotentials": {{"H": "H.UPF"}}, "pseudo_dir": {str(tmp_path)!r},
                              "command": {cmd!r}, "workdir": {str(tmp_path / 'scratch')!r}}})
        h2 = molecule("H2"); h2.center(vacuum=3.0); h2.pbc = True
        h2.calc = make_calculator(s, atoms=h2)
        h2.get_potential_energy()
    """)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    proc = subprocess.Popen([sys.executable, "-c", driver], env=env, start_new_session=True)
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.1)
    child = int(pidfile.read_text())
    assert _alive(child)
    os.kill(proc.pid, signal.SIGKILL)  # the worker dies (a wall-time kill); nobody cleans up
    proc.wait()
    for _ in range(50):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child), "pw.x survived its job"
    # its scratch directory is left behind, and removed by the next calculator on this host
    left = list((tmp_path / "scratch").glob("espresso-*"))
    assert len(left) == 1
    assert sweep_orphans(tmp_path / "scratch", "espresso-") == left and not left[0].exists()


def test_unconverged_scf_is_classified_and_scratch_removed(tmp_path):
    cmd = _fake_pw(tmp_path, "echo '     convergence NOT achieved after 100 iterations: stopping'\n")
    s = _setting(tmp_path, cmd)
    h2 = molecule("H2")
    h2.center(vacuum=3.0)
    h2.pbc = True
    calc = make_calculator(s, atoms=h2)
    h2.calc = calc
    directory = Path(calc.directory)
    with pytest.raises(espresso.SCFNotConvergedError) as err:
        h2.get_potential_energy()
    assert classify(err.value) == REASON_SCF
    assert directory.is_dir()
    h2.calc = None
    del calc, err
    import gc

    gc.collect()
    assert not directory.exists()  # a finished calculator removes its scratch directory


def test_default_pseudopotentials_are_debians_and_exist():
    s = CalculatorSetting("espresso", {})
    assert {"H", "N", "O", "Cu", "Ni", "Fe", "Pt"} <= s.elements
    assert s.params["pseudopotentials"]["Cu"] == "Cu.pbe-kjpaw.UPF"
    if not espresso.DEBIAN_PSEUDO_DIR.is_dir():
        pytest.skip("quantum-espresso-data not installed")
    for el, f in espresso.DEBIAN_PSEUDOPOTENTIALS.items():
        upf = espresso.DEBIAN_PSEUDO_DIR / f
        assert upf.is_file(), upf
        head = upf.read_text(errors="replace")[:6000]
        assert "PBX  PBC" in head or "PBE" in head  # generated with PBE
    assert espresso._z_valence(espresso.DEBIAN_PSEUDO_DIR / "Ni.pbe-spn-kjpaw_psl.1.0.0.UPF") == 18.0
    assert espresso._z_valence(espresso.DEBIAN_PSEUDO_DIR / "Pt.rel-pbe-n-rrkjus.UPF") == 10.0
