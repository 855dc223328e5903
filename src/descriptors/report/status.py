"""Status of a screen: what is done, what failed (and why), what is still pending.

The engine persists the plan of a screen (``plan.json`` in the output directory): every job it
was asked to run, stage by stage, with the database it writes to.  A job is *pending* when it is
in the plan but not in the store.  Adsorbate jobs are planned only once their clean model is
relaxed, so a screen stopped early says so (``complete`` is false) instead of guessing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from descriptors.store.db import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_UNCONVERGED,
    Store,
    redact,
)
from descriptors.store.journal import journal_path, pending_records
from descriptors.store.plan import PLAN_NAME, Plan, plan_db

__all__ = ["summarize", "format_status"]

def summarize(out: str | Path, db: str | None = None) -> dict[str, Any]:
    """Done / failed (grouped by reason) / pending jobs of the screen in ``out``."""
    out = Path(out)
    plan_file = out / PLAN_NAME
    if not plan_file.is_file():
        raise FileNotFoundError(f"{out}: no {PLAN_NAME}; give the output directory of a screen "
                                "(the plan is written when `no3rr screen` starts)")
    try:
        plan = Plan.load(plan_file)
    except (ValueError, UnicodeDecodeError) as err:
        raise FileNotFoundError(f"{plan_file}: not a readable plan ({err}); re-run `no3rr screen SPEC --out {out}`")
    db = db or plan_db(out, plan["db"])
    store = Store(db, readonly=True)  # status never creates a file
    rows = {}
    for r in store.select(include_data=False):
        jid = r.get("job_id")
        if jid in plan["jobs"]:
            rows[jid] = r
    done, unconverged, failed, pending = [], [], {}, []
    for jid, info in plan["jobs"].items():
        r = rows.get(jid)
        entry = {"job_id": jid, **info}
        if r is None:
            pending.append(entry)
            continue
        entry.update({k: r.get(k) for k in ("reason", "error", "steps", "seconds", "max_force", "last_energy",
                                             "last_fmax", "restarted_from_step") if r.get(k) is not None})
        st = r.get("status")
        if st == STATUS_OK:
            done.append(entry)
        elif st == STATUS_UNCONVERGED:
            unconverged.append(entry)
        elif st == STATUS_FAILED:
            failed.setdefault(r.get("reason") or "unknown", []).append(entry)
        else:
            pending.append(entry)
    from descriptors.store.lock import holder

    lock = None if store.is_url else holder(db)  # the screen holding the write lock now, if any
    running = (f"pid {lock.get('pid')} on {lock.get('host')}" + (f", since {lock['started']}" if lock.get("started")
                                                                  else "")) if lock else _running(plan)
    return {
        "running": running,  # '' when no screen is writing to this store
        "name": plan.get("name"),
        "db": redact(db),
        "calculator": plan.get("calculator"),
        "complete": bool(plan.get("complete")),
        "stages": plan.get("stages", []),
        "planned": len(plan["jobs"]),
        "done": done,
        "unconverged": unconverged,
        "failed": failed,
        "pending": pending,
        # results of a killed screen still in its journal: in the database once the next run folds them
        "journal": pending_records(journal_path(db, out, store.is_url)),
    }


def _running(plan: dict[str, Any]) -> str:
    """'pid N on HOST' when the screen that wrote the plan is alive on this host, else ''."""
    import os
    import socket

    pid, host = plan.get("pid"), plan.get("host")
    if plan.get("complete") or not isinstance(pid, int) or host != socket.gethostname():
        return ""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ""
    except PermissionError:  # alive, another user's
        pass
    try:  # a recycled pid of another program is not the screen
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        if "no3rr" not in cmd and "descriptors" not in cmd:
            return ""
    except OSError:
        pass
    return f"pid {pid} on {host}"


def _fmt(e: dict[str, Any]) -> str:
    bits = []
    if e.get("last_energy") is not None:
        bits.append(f"last E {e['last_energy']:.4f} eV")
    fmax = e.get("last_fmax", e.get("max_force"))
    if fmax is not None:
        bits.append(f"fmax {fmax:.3f} eV/A")
    if e.get("steps") is not None:
        bits.append(f"{e['steps']} steps")
    if e.get("seconds") is not None:
        bits.append(f"{e['seconds']:.1f} s")
    return ", ".join(bits)


def format_status(s: dict[str, Any], show: int = 10) -> str:
    n_failed = sum(len(v) for v in s["failed"].values())
    lines = [
        f"screen {s['name']!r}  db: {s['db']}  calculator: {s['calculator']}",
        f"planned {s['planned']} jobs: {len(s['done']) + len(s['unconverged'])} done "
        f"({len(s['done'])} ok, {len(s['unconverged'])} unconverged), {n_failed} failed, "
        f"{len(s['pending'])} pending",
    ]
    if s["unconverged"]:
        lines.append(f"unconverged (optimizer hit its step limit; energy kept, flagged): {len(s['unconverged'])}")
        for e in s["unconverged"][:show]:
            lines.append(f"  {e['label']}  [{_fmt(e)}]")
    if n_failed:
        lines.append("failed, by reason (retry with `no3rr screen SPEC --retry-failed`):")
        for reason, entries in sorted(s["failed"].items(), key=lambda kv: -len(kv[1])):
            lines.append(f"  {reason}: {len(entries)}")
            for e in entries[:show]:
                lines.append(f"    {e['label']}: {e.get('error', '')[:160]}  [{_fmt(e)}]  job {e['job_id']}")
            if len(entries) > show:
                lines.append(f"    ... and {len(entries) - show} more")
    if s.get("journal"):
        lines.append(f"{s['journal']} finished results are in the store's journal, not yet in the database (a "
                     "stopped screen): the next `no3rr screen` on this store writes them, without computing them again")
    if s["pending"]:
        by_kind: dict[str, int] = {}
        for e in s["pending"]:
            by_kind[e["kind"]] = by_kind.get(e["kind"], 0) + 1
        lines.append("pending (planned, not in the database): "
                     + ", ".join(f"{k} {n}" for k, n in by_kind.items()))
        for e in s["pending"][:show]:
            lines.append(f"  {e['label']}  job {e['job_id']}")
        if len(s["pending"]) > show:
            lines.append(f"  ... and {len(s['pending']) - show} more")
    if s.get("running"):
        lines.append(f"the screen is RUNNING ({s['running']}, stage {s['stages'][-1] if s['stages'] else 'start'!r}); "
                     "pending jobs are being computed: run `no3rr status` again later")
    elif not s["complete"]:
        lines.append("the screen has not finished planning (it stopped at stage "
                     f"{s['stages'][-1] if s['stages'] else 'start'!r}); later stages are planned when it "
                     "continues: re-run `no3rr screen SPEC` (stored jobs are not recomputed)")
    return "\n".join(lines)
