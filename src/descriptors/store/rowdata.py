"""The row of a job as ase.db writes it: key-value pairs made fit for ase.db (``_kvp``), checked as
ase.db checks them (``_checked``), and the ``AtomsRow`` of a structure with its energy and forces
(``_row``), handed to the backend's own row writer by ``Store.write``."""

from __future__ import annotations

import json
import numbers
import os
import uuid
import warnings
from typing import Any

import numpy as np
from ase import Atoms
from ase.db.core import now
from ase.db.row import AtomsRow

from descriptors.identity import never_a_number, text_hash

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



_CHECKED_KEYS: set[str] = set()


def _checked(kvp: dict[str, Any]) -> dict[str, Any]:
    """ase.db's ``check`` of key-value pairs, with the key names (a handful, the same on every row)
    checked once per process: a text value that reads as a number or a boolean is refused as
    ase.db refuses it."""
    from ase.db.core import check, convert_str_to_int_float_bool_or_str

    new = {k: 0 for k in kvp if k not in _CHECKED_KEYS}
    if new:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a key that is also a formula: ase.db only warns
            check(new)
        _CHECKED_KEYS.update(new)
    for k, v in kvp.items():
        if isinstance(v, str):
            if v in ("True", "False") or not never_a_number(v) and not isinstance(
                    convert_str_to_int_float_bool_or_str(v), str):
                raise ValueError(f"Value {v} of {k!r} is put in as string but reads as a number or a boolean")
        elif not isinstance(v, (numbers.Real, np.bool_)):
            raise ValueError(f"Bad value for {k!r}: {v}")
    return kvp


def _row(atoms: Atoms, kvp: dict[str, Any], energy, forces, calculator, parameters) -> AtomsRow:
    """The ``AtomsRow`` ase.db's ``write`` makes of ``atoms`` with a single-point calculator
    (ase.db.row.atoms2dict), made directly from the arrays."""
    dct: dict[str, Any] = {"numbers": atoms.numbers.copy(), "positions": atoms.positions.copy(),
                           "unique_id": uuid.uuid4().hex}
    if atoms.pbc.any():
        dct["pbc"] = atoms.pbc.copy()
    if atoms.cell.any():
        dct["cell"] = atoms.cell.array.copy()
    for name, getter in (("initial_magmoms", atoms.get_initial_magnetic_moments),
                         ("initial_charges", atoms.get_initial_charges), ("masses", atoms.get_masses),
                         ("tags", atoms.get_tags), ("momenta", atoms.get_momenta)):
        if atoms.has(name):
            dct[name] = getter()
    if atoms.constraints:
        dct["constraints"] = [c.todict() for c in atoms.constraints]
    if energy is not None:
        dct["calculator"] = (calculator or "unknown").lower()
        dct["calculator_parameters"] = {k: (v.todict() if hasattr(v, "todict") else v)
                                        for k, v in dict(parameters or {}).items()} if calculator else {}
        dct["energy"] = float(energy)
        if forces is not None:
            dct["forces"] = np.array(forces, dtype=float)
    dct["key_value_pairs"] = kvp
    row = AtomsRow(dct)
    row.ctime = now()
    row.user = os.getenv("USER")
    return row
