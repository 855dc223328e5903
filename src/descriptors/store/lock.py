"""One writer per store: a screen holds the store's lock for as long as it runs.

* SQLite: ``<db>.writer`` beside the database (``<db>.lock`` is ase.db's own per-write lock), held with ``fcntl.flock`` and naming the holder
  (``host``, ``pid``, start time).  The kernel drops a flock when its process dies, so a lock
  file left by a dead (SIGKILLed) screen is taken over without asking; the file's text is only
  what the refusal message quotes.
* PostgreSQL: ``pg_try_advisory_lock`` keyed on the database URL (without the password), held by
  a dedicated connection for the life of the screen; the server releases it when that connection
  dies.  The holder is found in ``pg_locks`` / ``pg_stat_activity``.

A second screen on a locked store stops at once (``StoreLocked``, exit 2 on the command line)
naming the host and process that hold it, or waits for it (``wait=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

__all__ = ["StoreLock", "StoreLocked", "lock_path", "holder"]


class StoreLocked(RuntimeError):
    """Another process is writing to this store."""


def lock_path(db_path: str | Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".writer")


def _holder_text() -> str:
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S")})


def _describe(info: dict) -> str:
    return f"host {info.get('host', '?')}, pid {info.get('pid', '?')}" + (
        f", since {info['started']}" if info.get("started") else "")


def holder(db_path: str | Path) -> dict | None:
    """Host and pid of the screen writing to a SQLite store now, or None (read-only: creates nothing)."""
    import fcntl

    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 4096, 0).decode(errors="replace"))
            except ValueError:
                return {"host": "?", "pid": "?"}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class StoreLock:
    """The write lock of one store; ``acquire`` / ``release`` or a context manager."""

    def __init__(self, location: str | Path, is_url: bool = False, wait: bool = False, poll: float = 1.0,
                 timeout: float | None = None):
        self.location = str(location)
        self.is_url = is_url
        self.wait = wait
        self.poll = poll
        self.timeout = timeout
        self._fd: int | None = None
        self._conn = None
        self.taken_over: dict | None = None  # holder text of a dead process's lock we took over

    # -- SQLite ------------------------------------------------------------------
    def _try_file(self) -> dict | None:
        """Take the flock; return None on success, else the holder's info."""
        import fcntl

        path = lock_path(self.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 4096, 0).decode(errors="replace")
            os.close(fd)
            try:
                return json.loads(text)
            except ValueError:
                return {"host": "?", "pid": "?"}
        old = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        if old:
            try:
                self.taken_over = json.loads(old)
            except ValueError:
                self.taken_over = {"text": old}
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder_text().encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return None

    # -- PostgreSQL --------------------------------------------------------------
    def _key(self) -> int:
        from descriptors.store.db import redact

        digest = hashlib.sha256(("no3rr-store:" + redact(self.location, strip=True)).encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _try_pg(self) -> dict | None:
        import psycopg2

        from descriptors.store.db import pg_dsn

        if self._conn is None:
            self._conn = psycopg2.connect(pg_dsn(self.location))
            self._conn.autocommit = True
        with self._conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (self._key(),))
            if cur.fetchone()[0]:
                cur.execute("SET application_name = %s", (f"no3rr {socket.gethostname()}:{os.getpid()}",))
                return None
            key = self._key()
            cur.execute(
                "SELECT a.application_name, a.client_addr, a.pid FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND "
                "((l.classid::bigint << 32) | l.objid::bigint) = %s", (key & 0xFFFFFFFFFFFFFFFF,))
            row = cur.fetchone()
        if row and row[0] and row[0].startswith("no3rr "):
            host, _, pid = row[0][6:].rpartition(":")
            return {"host": host, "pid": pid}
        return {"host": str(row[1]) if row else "?", "pid": f"server backend {row[2]}" if row else "?"}

    # -- both --------------------------------------------------------------------
    def acquire(self) -> "StoreLock":
        t0 = time.monotonic()
        announced = False
        while True:
            holder = self._try_pg() if self.is_url else self._try_file()
            if holder is None:
                return self
            if not self.wait or (self.timeout is not None and time.monotonic() - t0 > self.timeout):
                raise StoreLocked(
                    f"store {self.display()} is in use by another screen ({_describe(holder)}); wait for it to "
                    "finish, stop it, or run again with --wait to start when it is done")
            if not announced:
                import sys

                print(f"waiting for the screen that holds {self.display()} ({_describe(holder)}) to finish ...",
                      file=sys.stderr, flush=True)
                announced = True
            time.sleep(self.poll)

    def display(self) -> str:
        from descriptors.store.db import redact

        return redact(self.location) if self.is_url else str(self.location)

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        if self._conn is not None:
            try:
                self._conn.close()  # the server drops the advisory lock with the session
            finally:
                self._conn = None

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
