"""The results journal: results written to an append-only file first, folded into the database in
batches.

A screen's driver receives results one by one; committing each to the database costs a
transaction (and with SQLite's write-ahead log, the pages of every index it touches) per result.
With a journal, ``Store.write`` appends the finished row to this file -- one ``write`` system
call, in the operating system's hands when it returns, so a SIGKILL of the driver loses nothing
-- and ``Store.fold`` writes the rows collected so far to the database in one transaction, then
empties the file.  The engine folds at most every ``FOLD_SECONDS`` (or every ``FOLD_ROWS``
results), at the end of every stage, before any read of the store and when it closes; a run that
was killed leaves its last results in the journal, and the next run on the store folds them
before it asks which jobs are done (``Store.use_journal``).

A record is ``<length><crc32><pickle>``; a record cut short (a machine crash mid-write) fails its
checksum and is dropped with everything after it -- it was never reported written.  Folding a
record twice (a kill between the database commit and emptying the file) writes the same row
again in place of the first (rows are keyed by job id), so nothing is duplicated.

Only the process holding the store's writer lock (store/lock.py) opens the journal: beside a
SQLite database (``<db>.journal``), in the output directory for PostgreSQL.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

__all__ = ["Journal", "journal_path", "FOLD_SECONDS", "FOLD_ROWS", "pending_records"]

FOLD_SECONDS = 0.5
FOLD_ROWS = 1000
_HEAD = struct.Struct("<II")


def journal_path(location: str | Path, workdir: str | Path | None, is_url: bool) -> Path | None:
    """Where the journal of a store lives: beside a SQLite file, in the output directory for a URL."""
    if not is_url:
        p = Path(location)
        return p.with_name(p.name + ".journal")
    return Path(workdir) / "results.journal" if workdir is not None else None


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, record: Any) -> None:
        payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        buf = memoryview(_HEAD.pack(len(payload), zlib.crc32(payload)) + payload)
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while buf:
                buf = buf[os.write(self._fd, buf):]
        except BaseException:  # interrupted mid-record: no half record for later ones to follow
            os.ftruncate(self._fd, end)
            raise

    def records(self) -> list[Any]:
        return _read(self.path)

    def clear(self) -> None:
        os.ftruncate(self._fd, 0)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            try:
                if self.path.stat().st_size == 0:
                    self.path.unlink()
            except OSError:
                pass


def _read(path: Path) -> list[Any]:
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return []
    out, pos = [], 0
    while pos + _HEAD.size <= len(blob):
        n, crc = _HEAD.unpack_from(blob, pos)
        payload = blob[pos + _HEAD.size: pos + _HEAD.size + n]
        if len(payload) < n or zlib.crc32(payload) != crc:
            break  # cut short by a crash mid-write: never reported written
        out.append(pickle.loads(payload))
        pos += _HEAD.size + n
    return out


def pending_records(path: str | Path | None) -> int:
    """How many results a journal holds that are not in the database yet (``no3rr status``)."""
    return len(_read(Path(path))) if path is not None else 0


def pending_jobs(path: str | Path | None) -> set[str]:
    """The job ids of the results a journal holds that are not in the database yet."""
    return {rec[0] for rec in _read(Path(path))} if path is not None else set()
