"""Result store: an ASE database (SQLite by default, PostgreSQL by URL) keyed by job identity.

Every row is a relaxed (or, for failures, the initial) structure with key-value pairs so that
``ase db`` works on it, e.g. ``ase db results/quickstart/screen.db kind=adsorbate,catalyst=Cu(100)``.
Only the process that runs the screen writes; workers return results to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import ase.db
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from descriptors.identity import text_hash

__all__ = ["Store", "StoreError", "STATUS_OK", "STATUS_FAILED", "STATUS_UNCONVERGED", "is_url", "redact", "pg_dsn"]

STATUS_OK = "ok"
STATUS_UNCONVERGED = "unconverged"  # optimizer hit its step limit; energy kept, flagged
STATUS_FAILED = "failed"  # exception: no energy

_RESERVED = {"id", "unique_id", "ctime", "mtime", "user", "calculator", "energy", "natoms", "formula",
             "charge", "fmax", "smax", "magmom", "mass", "volume", "pbc", "age", "key_value_pairs", "data"}


def _kvp(meta: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in meta.items():
        if v is None:
            continue
        if k in _RESERVED:
            k = f"{k}_"
        if isinstance(v, bool):
            out[k] = v
        elif isinstance(v, str) and k.endswith("hash"):
            out[k] = text_hash(v)  # any digest-valued key: ase.db refuses numeric-looking text
        elif isinstance(v, (int, float, str)):
            out[k] = v
        else:
            out[k] = json.dumps(v, sort_keys=True, default=str)
    return out


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
        if not path.is_file():
            raise StoreError(f"database {path} not found; give the output directory of a screen or --db PATH")
    elif path.parent.exists() and not path.parent.is_dir():
        raise StoreError(f"database {path}: {path.parent} is a file, not a directory")
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"database {path}: cannot create its directory ({err.strerror})") from None
    db = ase.db.connect(str(path), append=True)
    if path.is_file() and path.stat().st_size > 0:
        import sqlite3

        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"database {path} is not a readable SQLite database ({err}); it is damaged or "
                             "not a screen's store: restore it, or give another --out / --db") from None
    return db


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
    """Thin wrapper over ``ase.db`` with job-identity lookups (SQLite file or PostgreSQL URL)."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.location = str(path)
        self.is_url = is_url(path)
        self.path = None if self.is_url else Path(path)
        self.readonly = readonly
        self.db = connect(path, readonly=readonly)

    def __str__(self) -> str:
        return redact(self.location)

    def statuses(self) -> dict[str, str]:
        """job_id -> status of every stored job, in one pass (no data blobs read)."""
        out: dict[str, str] = {}
        for r in self.db.select(include_data=False):
            jid = r.get("job_id")
            if jid is not None:
                out[jid] = r.get("status")
        return out

    # -- lookups -----------------------------------------------------------------
    def get(self, job_id: str):
        rows = list(self.db.select(job_id=job_id))
        if not rows:
            return None
        return max(rows, key=lambda r: r.id)

    def status(self, job_id: str) -> str | None:
        row = self.get(job_id)
        return None if row is None else row.get("status")

    def atoms(self, job_id: str) -> Atoms:
        row = self.get(job_id)
        if row is None:
            raise KeyError(job_id)
        return row.toatoms(add_additional_information=True)

    def select(self, **query) -> Iterator:
        return self.db.select(**query)

    def count(self, **query) -> int:
        return self.db.count(**query)

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
    ) -> int:
        """Write one job row, replacing an earlier row of the same job (e.g. a retried failure)."""
        job_id = meta["job_id"]
        old = [r.id for r in self.db.select(job_id=job_id)]
        a = atoms.copy()
        a.info = {}
        if energy is not None:
            calc = SinglePointCalculator(a, energy=energy, forces=forces)
            if calculator:
                calc.name = calculator
                calc.parameters = dict(calculator_parameters or {})
            a.calc = calc
        with self.db:
            row_id = self.db.write(a, key_value_pairs=_kvp(meta), data=data or {})
            if old:
                self.db.delete(old)
        return row_id
