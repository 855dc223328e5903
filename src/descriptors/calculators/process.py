"""External programs (pw.x, ...) that live and die with the job that started them.

ASE starts a program with ``subprocess.check_call`` and forgets it: when the Python worker is
killed (Ctrl-C, SIGTERM, a wall-time SIGKILL) the program is re-parented to init and keeps running,
burning the core the resumed screen needs.  Here the child asks the kernel for a death signal
(``prctl(PR_SET_PDEATHSIG, SIGTERM)``, Linux): whatever kills its parent, the child gets SIGTERM
(``mpirun`` forwards it to its ranks).  An exception in the parent (KeyboardInterrupt, a task
timeout) terminates the child before it propagates.

Each run's scratch directory is named ``<prefix><host>-<pid>-…``: a directory whose owner
process is gone (a killed job) is removed by the next calculator made on the same host, and a
finished calculator removes its own (``weakref.finalize``), so nothing piles up in $NO3RR_SCRATCH.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import weakref
from pathlib import Path
from typing import Any

__all__ = ["run_tied", "scratch_dir", "remove_with", "sweep_orphans"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)
    except OSError:  # not Linux: only the exception path below protects the child
        pass


def run_tied(argv: list[str], cwd: Path, stdout, stderr=None) -> int:
    """Run ``argv`` in ``cwd``; the child dies with this process.  Returns the exit code."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=stdout, stderr=stderr, env=os.environ,
                            preexec_fn=_die_with_parent)
    try:
        return proc.wait()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise


def _host() -> str:
    return socket.gethostname().split(".")[0].replace("-", "_")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(base: Path, prefix: str) -> list[Path]:
    """Remove ``base/<prefix><this host>-<pid>-*`` directories whose process is gone."""
    removed = []
    head = f"{prefix}{_host()}-"
    for d in base.glob(f"{head}*"):
        try:
            pid = int(d.name[len(head):].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def scratch_dir(params: dict[str, Any], prefix: str) -> str:
    """A fresh scratch directory for one calculator; leftovers of killed jobs on this host are
    swept first.  Pass it to :func:`remove_with` once the calculator exists."""
    base = Path(params.get("workdir") or os.environ.get("NO3RR_SCRATCH") or "no3rr-scratch")
    base.mkdir(parents=True, exist_ok=True)
    sweep_orphans(base, prefix)
    path = tempfile.mkdtemp(prefix=f"{prefix}{_host()}-{os.getpid()}-", dir=base)
    return path


def remove_with(owner: Any, path: str) -> None:
    """Remove ``path`` when ``owner`` (the calculator) is garbage-collected, or at exit."""
    weakref.finalize(owner, shutil.rmtree, path, True)
