"""Rows written in batches: the columns ase.db's own ``_write`` writes for each row (its SQLite
class, which its PostgreSQL class inherits), with one statement per table for a whole batch.

ase.db writes a row with one ``INSERT`` into ``systems``, a query for the new id and four
``INSERT``s into the key tables: six statements per row, each a round trip to a PostgreSQL
server.  Here the ids of a batch are reserved first (the ``systems_id_seq`` sequence on
PostgreSQL in one query; on SQLite the next values of its AUTOINCREMENT counter, which an
explicit id moves on as ase.db's own insert would), then each table gets one multi-row insert
(``execute_values`` on PostgreSQL, ``executemany`` on SQLite) and the earlier rows of the
batch's jobs one ``DELETE`` per table.  The values are computed by the same expressions as in
``ase.db.sqlite.SQLite3Database._write`` (ASE 3.23-3.25), so ase.db, ``ase db`` and
store/reader.py read the rows as before; tests/test_store_rows.py compares every column with
ase.db's own ``write`` on both backends.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from ase.data import atomic_numbers
from ase.db.core import now
from ase.db.row import AtomsRow

__all__ = ["write_rows"]


def _f(x):  # ase.db.sqlite.float_if_not_none
    return None if x is None else float(x)


def _systems_values(db, row: AtomsRow, data: Any, mtime: float) -> tuple:
    """The ``systems`` columns after the id, as ``SQLite3Database._write`` makes them."""
    encode, blob = db.encode, db.blob
    constraints = row._constraints
    if constraints:
        if isinstance(constraints, list):
            constraints = encode(constraints)
    else:
        constraints = None
    values = (row.unique_id, row.ctime, mtime, row.user, blob(row.numbers), blob(row.positions), blob(row.cell),
              int(np.dot(row.pbc, [1, 2, 4])), blob(row.get("initial_magmoms")), blob(row.get("initial_charges")),
              blob(row.get("masses")), blob(row.get("tags")), blob(row.get("momenta")), constraints)
    if "calculator" in row:
        values += (row.calculator, encode(row.calculator_parameters))
    else:
        values += (None, None)
    if not data:
        data = row._data
    if not isinstance(data, (str, bytes)):
        data = encode(data, binary=db.version >= 9)
    return values + (
        _f(row.get("energy")), _f(row.get("free_energy")), blob(row.get("forces")), blob(row.get("stress")),
        blob(row.get("dipole")), blob(row.get("magmoms")), row.get("magmom"), blob(row.get("charges")),
        encode(row.key_value_pairs), data, len(row.numbers), _f(row.get("fmax")), _f(row.get("smax")),
        _f(row.get("volume")), float(row.mass), float(row.charge),
    )


def _reserve_ids(cur, n: int, pg: bool) -> list[int]:
    if pg:
        cur.execute("SELECT nextval('systems_id_seq') FROM generate_series(1, %s)", (n,))
        return sorted(int(r[0]) for r in cur.fetchall())
    cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'systems'")
    seq = cur.fetchone()
    cur.execute("SELECT MAX(id) FROM systems")
    top = max(int(seq[0]) if seq and seq[0] is not None else 0, cur.fetchone()[0] or 0)
    return list(range(top + 1, top + 1 + n))


def write_rows(db, con, rows: list[tuple[AtomsRow, Any]], old: list[int], pg: bool) -> list[int]:
    """Insert ``rows`` (``(AtomsRow, data)``, in order; their key-value pairs are the row's) and
    delete the rows ``old`` in the open transaction of ``con`` (ase.db's connection: the
    ``psycopg2`` wrapper of ase_db_backends, or ``sqlite3``).  Returns the new row ids, in order."""
    raw = con.con if pg else con
    cur = raw.cursor()
    if old:  # first: a row folded again from the journal keeps its unique_id (a UNIQUE column)
        db._delete(con.cursor(), sorted(set(old)))
    if not rows:
        return []
    ids = _reserve_ids(cur, len(rows), pg)
    systems, species, text, number, keys = [], [], [], [], []
    for id, (row, data) in zip(ids, rows):
        systems.append((id, *_systems_values(db, row, data, now())))
        for symbol, n in row.count_atoms().items():
            species.append((atomic_numbers[symbol], n, id))
        for key, value in row.key_value_pairs.items():
            if isinstance(value, (numbers.Real, np.bool_)):
                number.append((key, float(value), id))
            else:
                assert isinstance(value, str)
                text.append((key, value, id))
            keys.append((key, id))
    tables = (("systems", systems), ("species", species), ("text_key_values", text),
              ("number_key_values", number), ("keys", keys))
    if pg:
        from psycopg2.extras import execute_values

        for table, values in tables:
            if values:
                execute_values(cur, f"INSERT INTO {table} VALUES %s", values, page_size=len(values))
    else:
        for table, values in tables:
            if values:
                cur.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values[0]))})", values)
    return ids
