"""A read-only reader of a SQLite store with the ``sqlite3`` module alone, for the fast reads
(``no3rr lookup``, ``status``, ``analyze`` of a db): no ``ase.db`` import (about 1.7 s: it pulls
in much of ASE and SciPy) and no ase.db row objects (their arrays are decoded on creation).

It reads ase.db's SQLite schema (version 9; ``ase/db/sqlite.py``): one ``systems`` row per
structure, its key-value pairs as JSON text in ``systems.key_value_pairs`` and, for queries,
copied into ``keys`` (which keys a row has), ``text_key_values`` and ``number_key_values``;
``systems.data`` is the data dict, either JSON text (older files) or ase.db's binary format
(an 8-byte little-endian offset, the array bytes, then JSON whose ``{"__ndarray__": [shape,
dtype, offset]}`` entries point into the bytes; ``ase.db.core.bytes_to_object``).

A :class:`StoredRow` answers what the code asks of an ase.db row: ``id``, ``energy``, ``natoms``,
``get(key)`` over the key-value pairs and columns, ``data`` (decoded on first use), and
``toatoms()``, which hands over to ase.db for that one row (structures are rarely read here).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterator

__all__ = ["StoredRow", "SQLiteReader", "decode_data"]

# systems columns read for a row (the blobs of the structure are left to toatoms())
_COLUMNS = ("id", "unique_id", "ctime", "mtime", "username", "calculator", "energy", "free_energy", "magmom",
            "natoms", "key_value_pairs")
# selection keys that are systems columns in ase.db (``SQLite3Database.create_select_statement``)
_SYSTEM_KEYS = {"id", "energy", "magmom", "ctime", "user", "calculator", "natoms", "unique_id", "fmax", "smax",
                "volume", "mass", "charge"}
_ALL_COLUMNS = {"calculator_parameters", "constraints", "data", "numbers", "positions", "cell", "pbc", "forces",
                *_COLUMNS}
_SELECT_OPTIONS = {"include_data", "limit", "offset", "sort", "columns", "explain", "verbosity", "filter"}


def _b2o(obj: Any, b: bytes) -> Any:
    """``ase.db.core.b2o``: JSON of the binary format back to Python, arrays from the bytes."""
    if isinstance(obj, (int, float, bool, str, type(None))):
        return obj
    if isinstance(obj, list):
        return [_b2o(v, b) for v in obj]
    if "__complex__" in obj:
        return complex(*obj["__complex__"])
    if "__ndarray__" in obj:
        import numpy as np

        shape, name, offset = obj["__ndarray__"]
        dtype = np.dtype(name)
        size = dtype.itemsize * int(np.prod(shape))
        a = np.frombuffer(b[offset:offset + size], dtype).reshape(shape)
        return a if np.little_endian else a.byteswap()
    dct = {k: _b2o(v, b) for k, v in obj.items()}
    if "__ase_objtype__" in dct:  # an ASE object (cell, band structure...): ASE rebuilds it
        from ase.db.core import bytes_to_object

        return bytes_to_object(b)
    return dct


def decode_data(raw) -> dict[str, Any]:
    """The data dict of a ``systems.data`` value, as ``AtomsRow.data`` decodes it."""
    if raw is None or raw == "null":
        return {}
    if isinstance(raw, str):  # JSON text (ase.db before its binary format): ASE's own decoder
        from ase.io.jsonio import decode

        return decode(raw)
    b = bytes(raw)
    offset = int.from_bytes(b[:8], "little", signed=True)
    return _b2o(json.loads(b[offset:].decode()), b)


class _Data(dict):
    """``AtomsRow.data``: a dict whose keys are attributes too."""

    def __getattr__(self, key):
        try:
            value = self[key]
        except KeyError:
            raise AttributeError(key) from None
        return _Data(value) if isinstance(value, dict) else value


class StoredRow:
    """One ``systems`` row: the key-value pairs as attributes (as ase.db's ``AtomsRow``), the
    scalar columns, ``data`` decoded on first use and ``toatoms()`` through ase.db."""

    def __init__(self, reader: SQLiteReader, values: tuple, raw_data=None):
        cols = dict(zip(_COLUMNS, values))
        kvp = json.loads(cols.pop("key_value_pairs") or "{}")
        self._reader = reader
        self._raw_data = raw_data
        self._data = None
        self._keys = list(kvp)
        self.__dict__.update(kvp)
        cols["user"] = cols.pop("username")
        self.__dict__.update({k: v for k, v in cols.items() if v is not None})  # columns win, as in AtomsRow

    def get(self, key: str, default=None):
        return getattr(self, key, default)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    @property
    def key_value_pairs(self) -> dict[str, Any]:
        return {k: self.get(k) for k in self._keys}

    @property
    def data(self) -> _Data:
        if self._data is None:
            self._data = decode_data(self._raw_data)
            self._raw_data = None
        return _Data(self._data)

    @property
    def calculator_parameters(self) -> dict[str, Any]:
        """The calculator's parameters as ase.db stored them (its own JSON encoding)."""
        raw = self._reader.column(self.id, "calculator_parameters")
        if raw is None:
            raise AttributeError("calculator_parameters")
        from ase.io.jsonio import decode

        return decode(raw)

    def toatoms(self, add_additional_information: bool = False):
        """The stored structure (and its single-point results), read by ase.db itself."""
        return self._reader.ase_row(self.id).toatoms(add_additional_information=add_additional_information)

    def __repr__(self) -> str:
        return f"<StoredRow id={self.id} keys={','.join(self._keys)}>"


class SQLiteReader:
    """Equality selections over a store's SQLite file, which it never creates or writes to (a file
    without ase.db's tables yet is an empty store)."""

    def __init__(self, path: str | Path, connection: sqlite3.Connection | None = None):
        self.path = Path(path)
        self._con = connection
        self._ase = None

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            # as the store's own read-only connection: a plain open (a file without write permission
            # opens read-only), never a write; mode=ro would refuse a WAL file in a read-only folder
            self._con = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        return self._con

    def _empty(self) -> bool:
        """True for a file without ase.db's tables yet (an empty store: no rows, nothing written)."""
        con = self._connection()
        return con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'systems'").fetchone() is None

    def _where(self, query: dict[str, Any]) -> tuple[str, list]:
        where, args = [], []
        for key, value in query.items():
            if key in _SELECT_OPTIONS:
                raise ValueError(f"select option {key!r} is not read by the SQLite reader")
            if value is None:
                raise ValueError(f"select {key}=None: not a value")
            if key in _SYSTEM_KEYS:
                where.append(f"systems.{'username' if key == 'user' else key} = ?")
                args.append(value)
            elif isinstance(value, str):
                where.append("systems.id IN (SELECT id FROM text_key_values WHERE key = ? AND value = ?)")
                args += [key, value]
            else:  # ase.db: every non-text value (bool included) compares as a number
                where.append("systems.id IN (SELECT id FROM number_key_values WHERE key = ? AND value = ?)")
                args += [key, float(value)]
        return (" WHERE " + " AND ".join(where)) if where else "", args

    def select(self, include_data: bool = True, **query) -> Iterator[StoredRow]:
        """Rows whose key-value pairs (or columns) equal ``query``, in id order."""
        where, args = self._where(query)
        if self._empty():
            return
        cols = ", ".join(f"systems.{c}" for c in _COLUMNS) + (", systems.data" if include_data else "")
        cur = self._connection().execute(f"SELECT {cols} FROM systems{where} ORDER BY systems.id", args)
        n = len(_COLUMNS)
        for values in cur.fetchall():
            yield StoredRow(self, values[:n], values[n] if include_data else None)

    def by_ids(self, row_ids, include_data: bool = True) -> dict[int, StoredRow]:
        """The rows of ``row_ids`` (systems.id), one query per 500 ids."""
        out: dict[int, StoredRow] = {}
        ids = sorted({int(i) for i in row_ids})
        if not ids or self._empty():
            return out
        cols = ", ".join(f"systems.{c}" for c in _COLUMNS) + (", systems.data" if include_data else "")
        n = len(_COLUMNS)
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            cur = self._connection().execute(
                f"SELECT {cols} FROM systems WHERE systems.id IN ({', '.join('?' * len(chunk))})", chunk)
            for values in cur.fetchall():
                out[int(values[0])] = StoredRow(self, values[:n], values[n] if include_data else None)
        return out

    def count(self, **query) -> int:
        where, args = self._where(query)
        if self._empty():
            return 0
        return int(self._connection().execute(f"SELECT count(*) FROM systems{where}", args).fetchone()[0])

    def column(self, row_id: int, name: str):
        """One column of one row (a name of ``systems``' schema)."""
        if name not in _ALL_COLUMNS:
            raise ValueError(f"no column {name!r} in systems")
        cur = self._connection().execute(f"SELECT {name} FROM systems WHERE id = ?", (row_id,))
        found = cur.fetchone()
        return None if found is None else found[0]

    def ase_row(self, row_id: int):
        """The ase.db row of ``row_id`` (imports ase.db: for structures only)."""
        if self._ase is None:
            import ase.db

            self._ase = ase.db.connect(str(self.path), append=True)
        return self._ase.get(id=row_id)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
