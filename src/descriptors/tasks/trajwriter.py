"""An ASE trajectory writer that writes a relaxation's frames at a fraction of the cost.

The file is ASE's own ``.traj`` (ulm) format, read by ``ase.io.read``, ``ase gui`` and our
``read_trajectory`` like any other.  A relaxation frame with its energy and forces given
(``write(atoms, energy=..., forces=...)``: the optimizer step's own results) is written here as
ASE would write it, without ASE's per-frame costs:

* the first frame of a new file: the same bytes as ASE's writer (ulm header, header data --
  version, pbc, numbers, constraints --, positions, cell, tags, ..., the calculator's name,
  parameters, energy and forces, info), in three writes instead of ulm's generic bookkeeping;
* every later frame: positions, cell, tags, momenta, magnetic moments, charges, the calculator's
  name, energy and forces, info, one ulm item with its entry in the offsets table -- without
  ASE's comparison of the header that encodes the constraints, the calculator's parameters (a
  relaxation does not change them; the first frame has them), ``info`` encoded again at every
  frame (it is the first frame's, encoded once) and the JSON encoder (the item's JSON is put
  together from its parts: the same text).

Any other frame (another header -- numbers, pbc, masses, constraints --, other ``atoms.info`` than
the first frame's, no energy and forces given, a file reopened for appending) is written by ASE's
own writer.  About 0.05 ms a frame instead of 0.6 (40 atoms).  Each frame's item is written
first, then its offset and the item count in place, so a kill before them leaves the item
uncounted, as in ulm.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np
from ase import __version__ as ase_version
from ase.io.jsonio import encode
from ase.io.trajectory import TrajectoryWriter, get_header_data
from ase.io.ulm import N1

__all__ = ["LeanTrajectoryWriter"]


def _same_info(info: dict, first: dict | None) -> bool:
    if first is None or info.keys() != first.keys():
        return False
    try:
        return all(v is first[k] or bool(v == first[k]) for k, v in info.items())
    except Exception:  # arrays and other values without a plain truth value
        return False


def _encodable_info(info: dict) -> dict:
    """``info`` as ASE's writer stores it: the values it cannot encode left out."""
    kept = {}
    for key, value in info.items():
        try:
            encode(value)
        except TypeError:
            continue
        kept[key] = value
    return kept


def _info_json(info: dict) -> str | None:
    kept = _encodable_info(info)
    return encode(kept) if kept else None


# little-endian machine with pwrite: the lean writes (else every frame is ASE's)
_CAN = bool(np.little_endian and hasattr(os, "pwrite"))


def _int64(n: int) -> bytes:
    return struct.pack("<q", n)


def _pad(pos: int) -> int:
    return -pos % 8


_ENTRIES: dict = {}


def _entry(name: str, shape: tuple, dtype) -> str:
    """The start of an array's JSON entry in a ulm item, up to its file offset:
    ``"positions.": {"ndarray": [[37, 3], "float64", `` (cached: numpy's ``dtype.name`` is slow)."""
    key = (name, shape, dtype)
    entry = _ENTRIES.get(key)
    if entry is None:
        dims = ", ".join(str(int(s)) for s in shape)
        entry = _ENTRIES[key] = f'"{name}.": {{"ndarray": [[{dims}], "{np.dtype(dtype).name}", '
    return entry


# what ase.io.trajectory.write_atoms writes after positions and cell, when the Atoms have them
_OPTIONAL = (("tags", "tags"), ("momenta", "momenta"), ("initial_magmoms", "magmoms"), ("initial_charges", "charges"))


def _energy_json(energy) -> str | None:
    """The energy as ulm's JSON has it (``repr`` of a finite float), None when it is not a plain one."""
    if isinstance(energy, np.generic):
        energy = energy.item()
    if type(energy) is float and math.isfinite(energy):
        return repr(energy)
    return None


class LeanTrajectoryWriter(TrajectoryWriter):
    _head: tuple | None = None
    _info: dict | None = None
    _info_enc: str | None = None
    _end: int | None = None  # the file's end, where the next lean item goes (None: ask the file)
    _cell: tuple[bytes, str] | None = None  # the last cell and its JSON
    _name: tuple[str, str] = ("", '""')  # the last calculator name and its JSON

    # -- which frames are lean --------------------------------------------------------------------
    def _plain(self, atoms, kwargs) -> bool:
        b = self.backend
        return (len(kwargs) == 2 and "energy" in kwargs and "forces" in kwargs and atoms.calc is not None
                and _CAN and not b.data and not b.nmissing and b.hasfileno and "masses" not in atoms.arrays
                and _energy_json(kwargs["energy"]) is not None)

    def _lean(self, atoms, kwargs) -> bool:
        """The frame has the first frame's header (numbers, pbc, constraints; compared as bytes and
        objects: anything else goes to ASE's writer, which compares values) and info."""
        h = self._head
        return (h is not None and not self.multiple_headers and not self.backend.header and self._plain(atoms, kwargs)
                and atoms.constraints == h[2] and atoms.arrays["numbers"].tobytes() == h[0]
                and atoms._pbc.tobytes() == h[1] and (not atoms.info or _same_info(atoms.info, self._info)))

    def _lean_first(self, atoms, kwargs) -> bool:
        """A new, empty file (ulm's header not written yet) and a frame ASE would write in full."""
        b = self.backend
        return (self.header_data is None and b.nitems == 0 and bool(b.header) and not self.description
                and self._plain(atoms, kwargs) and hasattr(atoms.calc, "todict")
                and all(hasattr(c, "todict") for c in atoms.constraints))

    def _write_atoms(self, atoms, **kwargs):
        if self._lean_first(atoms, kwargs) and self._write_first(atoms, kwargs):
            pass
        elif self.header_data is not None and self._lean(atoms, kwargs):
            self._write_frame(atoms, kwargs)
        else:
            if self._end is not None:  # lean items went in with pwrite: ulm continues at the file's end
                self.backend.fd.seek(0, 2)
                self._end = None
            super()._write_atoms(atoms, **kwargs)
            if not self.multiple_headers:
                self._remember(atoms)

    def _remember(self, atoms, info_json: str | None | bool = False) -> None:
        self._head = (atoms.arrays["numbers"].tobytes(), atoms._pbc.tobytes(), list(atoms.constraints))
        self._info = dict(atoms.info)
        self._info_enc = _info_json(atoms.info) if info_json is False else info_json

    # -- writing ---------------------------------------------------------------------------------
    def _arrays(self, atoms, forces, start: int, first: bool) -> tuple[list[bytes], list[str], int, str]:
        """The frame's arrays as ulm lays them out from file position ``start`` (each 8-byte
        aligned): their bytes, their JSON entries (``"name.": {"ndarray": ...}``) in ASE's order
        before the calculator, the end position and the forces' entry."""
        chunks: list[bytes] = []
        entries: list[str] = []
        pos = start

        def add(name: str, a) -> str:
            nonlocal pos
            if not a.flags.c_contiguous:
                a = np.ascontiguousarray(a)
            pad = -pos % 8
            if pad:
                chunks.append(b"#" * pad)
                pos += pad
            data = a.tobytes()
            chunks.append(data)
            entry = _entry(name, a.shape, a.dtype) + f"{pos}]}}"
            pos += len(data)
            return entry

        if first:
            entries.append(add("numbers", atoms.numbers))
        entries.append(add("positions", atoms.positions))
        for key, name in _OPTIONAL:
            if key in atoms.arrays:
                entries.append(add(name, atoms.arrays[key]))
        f = add("forces", forces)
        return chunks, entries, pos, f

    def _cell_json(self, atoms) -> str:
        cell = atoms.cell.array
        key = cell.tobytes()
        if self._cell is None or self._cell[0] != key:
            self._cell = (key, encode(cell.tolist()))
        return self._cell[1]

    def _name_json(self, name: str) -> str:
        if name != self._name[0]:
            self._name = (name, encode(name))
        return self._name[1]

    def _write_first(self, atoms, kwargs) -> bool:
        """The first frame of a new file, byte for byte as ASE's writer and ulm write it: the ulm
        header (item count 0), the arrays, the item's JSON (the same dict, encoded once), then its
        offset and the item count.  False (nothing written) when ``info`` holds a value ASE's
        writer would leave out (with a warning): then ASE's writer writes the frame."""
        try:
            info_json = encode(atoms.info) if atoms.info else None
        except TypeError:
            return False
        b = self.backend
        header = b.header
        start = len(header)
        chunks, entries, pos, forces_entry = self._arrays(atoms, kwargs["forces"], start, True)
        # ASE's order: version, ase_version, pbc, numbers, constraints, positions, cell, tags...,
        # calculator (name, parameters, energy, forces), info
        parts = ['"version": 1', '"ase_version": ' + encode(ase_version), '"pbc": ' + encode(atoms.pbc.tolist()),
                 entries[0]]
        if atoms.constraints:
            parts.append('"constraints": ' + encode(encode(atoms.constraints)))
        parts.append(entries[1])
        parts.append('"cell": ' + self._cell_json(atoms))
        parts.extend(entries[2:])
        calc = atoms.calc
        parts.append('"calculator.": {"name": ' + encode(calc.name) + ', "parameters": ' + encode(calc.todict())
                     + ', "energy": ' + _energy_json(kwargs["energy"]) + ", " + forces_entry + "}")
        if info_json is not None:
            parts.append('"info": ' + info_json)
        item = ("{" + ", ".join(parts) + "}").encode()
        pad = _pad(pos)
        no = b.fd.fileno()
        os.pwrite(no, header + b"".join(chunks) + b"#" * pad + _int64(len(item)) + item, 0)
        i = pos + pad
        b.header = b""
        b.offsets[0] = i
        os.pwrite(no, _int64(i), b.pos0)
        b.nitems = 1
        os.pwrite(no, _int64(1), 32)
        self._end = i + 8 + len(item)
        self.header_data = get_header_data(atoms)
        self._remember(atoms, info_json)
        return True

    def _write_frame(self, atoms, kwargs) -> None:
        """A relaxation step's frame: its item at the file's end, then (once it is there) its offset
        in the table and the item count, each in place."""
        b = self.backend
        no = b.fd.fileno()
        end = self._end
        if end is None:
            end = self._end = b.fd.tell()
        chunks, entries, pos, forces_entry = self._arrays(atoms, kwargs["forces"], end, False)
        s = ("{" + entries[0] + ', "cell": ' + self._cell_json(atoms) + "".join(", " + e for e in entries[1:])
             + ', "calculator.": {"name": ' + self._name_json(atoms.calc.name) + ', "energy": '
             + _energy_json(kwargs["energy"]) + ", " + forces_entry + "}")
        if self._info_enc is not None:
            s += ', "info": ' + self._info_enc
        item = (s + "}").encode()
        pad = _pad(pos)
        i = pos + pad
        chunks.append(b"#" * pad + _int64(len(item)) + item)
        pos = i + 8 + len(item)
        n = len(b.offsets)
        if b.nitems >= n:  # the table is full: a new one N1 times larger after this item
            offsets = np.zeros(n * N1, np.int64)
            offsets[:n] = b.offsets
            offsets[b.nitems] = i
            pad = _pad(pos)
            pos0 = pos + pad
            chunks.append(b"#" * pad + offsets.tobytes())
            os.pwrite(no, b"".join(chunks), end)
            b.offsets, b.pos0 = offsets, pos0
            b.nitems += 1
            # the item count and the new table's position together (bytes 32-48 of the header)
            os.pwrite(no, _int64(b.nitems) + _int64(pos0), 32)
            self._end = pos0 + len(offsets) * 8
            return
        os.pwrite(no, b"".join(chunks), end)
        b.offsets[b.nitems] = i
        os.pwrite(no, _int64(i), b.pos0 + b.nitems * 8)
        b.nitems += 1
        os.pwrite(no, _int64(b.nitems), 32)
        self._end = pos
