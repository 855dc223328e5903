"""Result store: an ASE database (SQLite by default, PostgreSQL by URL) keyed by job identity.

Every row is a relaxed (or, for failures, the initial) structure with key-value pairs so that
``ase db`` works on it, e.g. ``ase db results/quickstart/screen.db kind=adsorbate,catalyst=Cu(100)``.
Only the process that runs the screen writes; workers return results to it.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from descriptors.store.fsinfo import _network_filesystem
from descriptors.store.journal import FOLD_ROWS, FOLD_SECONDS, Journal
from descriptors.store.reader import SQLiteReader

if TYPE_CHECKING:
    from ase import Atoms

_ROWDATA = ("_checked", "_kvp", "_row")  # store/rowdata.py imports ase.db: loaded on first write


def __getattr__(name: str):
    if name in _ROWDATA:  # ``from descriptors.store.db import _kvp`` (benchmarks, tests)
        from descriptors.store import rowdata

        return getattr(rowdata, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Store", "StoreError", "STATUS_OK", "STATUS_FAILED", "STATUS_UNCONVERGED", "is_url", "redact", "pg_dsn"]

STATUS_OK = "ok"
STATUS_UNCONVERGED = "unconverged"  # optimizer hit its step limit; energy kept, flagged
STATUS_FAILED = "failed"  # exception: no energy

# two searches of the key index; job rows in id order, so that the newest row of a job wins
_STATUS_SQL = "SELECT id, value FROM text_key_values WHERE key = 'status'"
_JOB_SQL = "SELECT id, value FROM text_key_values WHERE key = 'job_id' ORDER BY id"
_INDEX_SQL = "CREATE INDEX IF NOT EXISTS no3rr_text_key_value ON text_key_values(key, value)"
# ase.db select options the SQLite reader leaves to ase.db
_ASE_ONLY_OPTIONS = {"limit", "offset", "sort", "columns", "explain", "verbosity", "filter"}


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


class StoreError(RuntimeError):
    """The store cannot be opened (missing, damaged, unreachable): one line for the user."""


def pg_dsn(location: str) -> str:
    """The URL given to psycopg2: as written, except a masked password (``***``, as plan.json
    stores it) is dropped so that libpq takes it from PGPASSWORD or ~/.pgpass."""
    url = "postgresql://" + str(location).split("://", 1)[1]
    return redact(url, strip=True) if _password(url) == "***" else url


def _password(url: str) -> str | None:
    rest = url.split("://", 1)[1]
    if "@" not in rest:
        return None
    cred = rest.rsplit("@", 1)[0]
    return cred.split(":", 1)[1] if ":" in cred else None


def connect(location: str | Path, readonly: bool = False):
    """``ase.db.connect`` for a SQLite path or a PostgreSQL URL, with a clear error if the driver is
    missing, the server unreachable or the file damaged.  ``readonly``: never create anything (a
    missing SQLite file is a ``StoreError``)."""
    import ase.db

    if is_url(location):
        url = pg_dsn(str(location))
        try:
            import ase_db_backends  # noqa: F401  (ASE >= 3.24 finds its PostgreSQL backend here)
            import psycopg2
        except ImportError as err:
            raise StoreError(
                f"db {redact(url)}: PostgreSQL needs the ase-db-backends and psycopg2-binary packages "
                f"({err}); install them with: pip install 'no3rr-descriptors[postgres]'") from None
        try:
            psycopg2.connect(url, connect_timeout=10).close()
        except psycopg2.Error as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StoreError(f"db {redact(url)}: cannot connect to the PostgreSQL server ({first}); check host, "
                             "port and database, and give the password in PGPASSWORD or ~/.pgpass") from None
        return ase.db.connect(url)
    path = Path(location)
    if readonly:
        _check_readable(path)
        return ase.db.connect(str(path), append=True)
    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(f"database {path}: {path.parent} is a file, not a directory")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"database {path}: cannot create its directory ({err.strerror})") from None
    db = ase.db.connect(str(path), append=True)
    if path.is_file() and path.stat().st_size > 0:
        _check_sqlite(path)
    return db


def _check_readable(path: Path) -> None:
    """A read-only store's SQLite file exists and is one (``StoreError`` otherwise)."""
    if not path.is_file():
        raise StoreError(f"database {path} not found; give the output directory of a screen or --db PATH")
    if path.stat().st_size > 0:
        _check_sqlite(path)


def _check_sqlite(path: Path) -> None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as err:
        raise StoreError(f"database {path} is not a readable SQLite database ({err}); it is damaged or "
                         "not a screen's store: restore it, or give another --out / --db") from None


def redact(location: str | Path, strip: bool = False) -> str:
    """A db location fit for logs and files: the password of a URL replaced by *** (or removed, ``strip``)."""
    text = str(location)
    if is_url(text) and "@" in text:
        scheme, rest = text.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        if ":" in cred:
            cred = cred.split(":", 1)[0] + ("" if strip else ":***")
        return f"{scheme}://{cred}@{host}"
    return text


class Store:
    """Thin wrapper over ``ase.db`` with job-identity lookups (SQLite file or PostgreSQL URL).

    A read-only SQLite store (``status``, ``lookup``, ``analyze``) is read by the ``sqlite3``
    reader of ``store/reader.py`` (no ase.db import, no ase.db row objects); ase.db is opened
    only when a structure is asked for.  Writable stores and PostgreSQL go through ase.db.
    """

    def __init__(self, path: str | Path, readonly: bool = False):
        self.location = str(path)
        self.is_url = is_url(path)
        self.path = None if self.is_url else Path(path)
        self.readonly = readonly
        self.reader = None
        self._fast: SQLiteReader | None = None  # rows() of a writable SQLite store
        self._db = None
        if readonly and not self.is_url:
            _check_readable(self.path)
            self.reader = SQLiteReader(self.path)
        else:
            self._db = connect(path, readonly=readonly)
        self._con = None
        self._bulk = False
        self._journal: Journal | None = None  # results journal (use_journal)
        self._pending: list = []
        self._folded = time.monotonic()
        self.journal = None  # SQLite journal mode once a write has opened the connection

    @property
    def db(self):
        """The ase.db database (opened on first use for a read-only SQLite store)."""
        if self._db is None:
            self._db = connect(self.location if self.is_url else self.path, readonly=self.readonly)
        return self._db

    def __str__(self) -> str:
        return redact(self.location)

    def statuses(self) -> dict[str, str]:
        """job_id -> status of every stored job: one SQL query over ase.db's key-value table
        (no row objects, no blobs); the newest row of a job wins, as in :meth:`get`."""
        if self.reader is not None and self.reader._empty():
            return {}
        self.fold()
        con = self._connection()
        cur = con.cursor()
        cur.execute(_STATUS_SQL)
        status = dict(cur.fetchall())
        cur.execute(_JOB_SQL)
        return {jid: status.get(row_id) for row_id, jid in cur.fetchall()}

    # -- the connection writes go through -----------------------------------------
    def _connection(self):
        """One connection kept open for this store's own SQL and writes (tables created if new).

        SQLite on a local filesystem: write-ahead log with ``synchronous=NORMAL``, so a commit is
        a write to the OS, not an fsync: a killed process (SIGKILL, out of memory, wall time) loses
        nothing committed; only a crash of the machine itself can lose the last commits (never
        corrupt the file).  On a network filesystem (NFS, Lustre, GPFS, ...), where SQLite's WAL
        is unsafe, the rollback journal with a full sync per commit stays.  PostgreSQL:
        ``synchronous_commit=off`` (a killed client never loses a commit; a server crash may lose
        the last fraction of a second).  Both get an index on (key, value) of the text key-value
        table, so a job-id lookup is not a scan of every row.
        """
        if self._con is not None:
            return self._con
        if self.is_url:
            con = self.db._connect()
            self.db._initialize(con)
            cur = con.cursor()
            cur.execute("SET synchronous_commit TO OFF")
        else:
            import sqlite3

            if self.readonly:  # status, lookup, analyze: read as it is, change nothing
                self._con = self.reader._connection()
                return self._con
            con = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
            self.db._initialize(con)
            cur = con.cursor()
            self.journal = "rollback"
            if not _network_filesystem(self.path):
                try:
                    mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    cur.execute("PRAGMA synchronous=NORMAL")
                    self.journal = str(mode).lower()
                except sqlite3.OperationalError:  # read-only file or directory: keep what it has
                    pass
        try:
            cur.execute(_INDEX_SQL)
            con.commit()
        except Exception:  # read-only store: lookups scan the (key) index instead
            con.rollback()
        self._con = con
        return con

    def _ids_many(self, job_ids) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        ids = sorted(job_ids)
        cur = self._connection().cursor()
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            cur.execute("SELECT id, value FROM text_key_values WHERE key = 'job_id' AND value IN "
                        f"({', '.join('?' * len(chunk))})", tuple(chunk))
            for row_id, value in cur.fetchall():
                out.setdefault(value, []).append(int(row_id))
        return out

    def close(self) -> None:
        """Fold the results journal; close the store's connection (SQLite folds its write-ahead
        log back into the file)."""
        self.close_journal()
        if self.reader is not None:
            self.reader.close()
        self._fast = self._fast and self._fast.close()
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None

    # -- lookups -----------------------------------------------------------------
    def get(self, job_id: str):
        rows = list(self.select(job_id=job_id))  # select folds the journal first
        if not rows:
            return None
        return max(rows, key=lambda r: r.id)

    def get_many(self, job_ids, include_data: bool = True) -> dict:
        """job_id -> its newest row (as :meth:`get`) for every stored job of ``job_ids``, read in a few
        queries: on SQLite by the ``sqlite3`` reader :meth:`rows` uses (rows with the key-value
        pairs, the scalar columns and ``data``; ``toatoms()`` through ase.db), elsewhere row by row
        through ase.db."""
        job_ids = list(dict.fromkeys(job_ids))
        if self.is_url:
            return {j: r for j in job_ids if (r := self.get(j)) is not None}
        if self.reader is not None and self.reader._empty():
            return {}
        self.fold()
        newest = {jid: max(ids) for jid, ids in self._ids_many(job_ids).items()}
        if self.reader is None:
            self._fast = self._fast or SQLiteReader(self.path)
        rows = (self.reader or self._fast).by_ids(newest.values(), include_data=include_data)
        return {jid: rows[rid] for jid, rid in newest.items() if rid in rows}

    def status(self, job_id: str) -> str | None:
        row = self.get(job_id)
        return None if row is None else row.get("status")

    def atoms(self, job_id: str) -> Atoms:
        row = self.get(job_id)
        if row is None:
            raise KeyError(job_id)
        return row.toatoms(add_additional_information=True)

    def _by_reader(self, query: dict[str, Any]) -> bool:
        return self.reader is not None and all(k == "include_data" or v is not None for k, v in query.items()) \
            and not set(query) & _ASE_ONLY_OPTIONS

    def select(self, **query) -> Iterator:
        """Rows whose key-value pairs equal ``query`` (ase.db's keyword selection)."""
        self.fold()
        return self.reader.select(**query) if self._by_reader(query) else self.db.select(**query)

    def rows(self, **query) -> Iterator:
        """:meth:`select` for reading many rows: on SQLite by the reader of store/reader.py (its own
        connection, no ase.db row objects: ~1 ms a row less), writable stores too, after the fold."""
        self.fold()
        if self.is_url or self.reader is not None or set(query) & _ASE_ONLY_OPTIONS \
                or any(v is None for k, v in query.items() if k != "include_data"):
            return self.select(**query)
        self._fast = self._fast or SQLiteReader(self.path)
        return self._fast.select(**query)

    def count(self, **query) -> int:
        self.fold()
        return self.reader.count(**query) if self._by_reader(query) else self.db.count(**query)

    # -- writes ------------------------------------------------------------------
    def write(
        self,
        atoms: Atoms,
        meta: dict[str, Any],
        data: dict[str, Any] | None = None,
        energy: float | None = None,
        forces=None,
        calculator: str | None = None,
        calculator_parameters: dict[str, Any] | None = None,
    ) -> int | None:
        """Write one job row, replacing an earlier row of the same job (e.g. a retried failure).

        The row is handed to the backend's own row writer (``_write`` of ase.db's SQLite class,
        which its PostgreSQL class inherits) as a prepared ``AtomsRow``: no copy of the Atoms, no
        calculator comparing them again, no lock file per row and no ``VACUUM`` after replacing a
        row (ase.db's ``write``/``delete`` wrappers); the keys are checked as ase.db checks them
        (:func:`_checked`).  The same columns are written as by ``ase.db``'s ``write``.
        With a journal (:meth:`use_journal`) the row is appended to it and folded into the
        database with others (the row id, unknown until then, is returned as None)."""
        from descriptors.store.rowdata import _checked, _kvp, _row

        row = _row(atoms, _checked(_kvp(meta)), energy, forces, calculator, calculator_parameters)
        if self._journal is not None and not self._bulk:  # durable in the journal, folded in batches
            self._journal.append((meta["job_id"], row, data or {}))
            self._pending.append((meta["job_id"], row, data or {}))
            if len(self._pending) >= FOLD_ROWS or time.monotonic() - self._folded >= FOLD_SECONDS:
                self.fold()
            return None
        con = self._connection()
        try:
            row_id = self._insert(con, [(meta["job_id"], row, data or {})])[0]
            if not self._bulk:
                con.commit()
        except BaseException:
            con.rollback()
            raise
        return row_id

    def _insert(self, con, batch: list[tuple[str, Any, Any]], old: dict[str, list[int]] | None = None) -> list[int]:
        """The new rows of ``batch`` (``(job_id, AtomsRow, data)``) and the removal of their jobs'
        earlier rows (``old``: looked up if not given), in the open transaction, one statement per
        table for the whole batch (store/rowwrite.py).  A job twice in a batch (a retried failure)
        keeps its last row only.  Returns the new row ids, in order."""
        from descriptors.store.rowwrite import write_rows

        last = {job_id: k for k, (job_id, _, _) in enumerate(batch)}
        batch = [b for k, b in enumerate(batch) if last[b[0]] == k]
        old = self._ids_many(last) if old is None else old
        stale = [i for job_id in last for i in old.get(job_id, [])]
        return write_rows(self.db, con, [(row, data) for _, row, data in batch], stale, self.is_url)

    # -- the results journal (journal.py) ------------------------------------------------
    def use_journal(self, path: str | Path) -> int:
        """Write results through the journal at ``path``; fold what a killed run left in it
        first (returned: how many results that was)."""
        self._journal = Journal(path)
        self._connection()  # the database exists (tables made) before any result waits in the journal
        self._pending = self._journal.records()
        left = len(self._pending)
        self.fold()
        return left

    def close_journal(self) -> None:
        """Fold the journal and stop writing through it (its file is removed when empty)."""
        if self._journal is not None:
            self.fold()
            self._journal.close()
            self._journal = None

    def fold(self) -> None:
        """Write the journal's results to the database in one transaction, then empty it."""
        self._folded = time.monotonic()
        if not self._pending:
            return
        con = self._connection()
        try:
            self._insert(con, self._pending)  # one statement per table for the whole batch
            con.commit()
        except BaseException:
            con.rollback()
            raise
        self._journal.clear()
        self._pending = []

    @contextlib.contextmanager
    def bulk(self):
        """Write many rows in one transaction (an import, a benchmark's synthetic store): all or
        nothing -- committed when the block ends, rolled back if it raises (Ctrl-C included).
        Not for the engine's results: those go through the results journal (durable one by one)."""
        con = self._connection()
        self._bulk = True
        try:
            yield self
        except BaseException:
            con.rollback()
            raise
        else:
            con.commit()
        finally:
            self._bulk = False
