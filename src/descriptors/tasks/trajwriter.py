"""An ASE trajectory writer that writes a relaxation's frames at a fraction of the cost.

The file is ASE's own ``.traj`` (ulm) format, read by ``ase.io.read``, ``ase gui`` and our
``read_trajectory`` like any other.  The first frame, and any frame that is not a plain
relaxation step (another header -- numbers, pbc, masses, constraints --, other ``atoms.info``
than the first frame's, no energy and forces given), is
written by ASE's own writer.  A relaxation step with its energy and forces given
(``write(atoms, energy=..., forces=...)``: the optimizer step's own results) is written here as
ASE would write it -- positions, cell, tags, momenta, magnetic moments, charges, the calculator's name, energy and forces, info, one
ulm item with its entry in the offsets table --, without ASE's per-frame costs: a comparison of
the header that encodes the constraints, the calculator's parameters (a relaxation does not
change them; the first frame has them), ``info`` encoded again at every frame (it is the first
frame's, encoded once) and ulm's generic array bookkeeping.  About 0.15 ms a frame instead of
0.6 (40 atoms).
"""

from __future__ import annotations

import os
import struct

import numpy as np
from ase.io.jsonio import encode
from ase.io.trajectory import TrajectoryWriter
from ase.io.ulm import N1, align

__all__ = ["LeanTrajectoryWriter"]


def _same_info(info: dict, first: dict | None) -> bool:
    if first is None or info.keys() != first.keys():
        return False
    try:
        return all(v is first[k] or bool(v == first[k]) for k, v in info.items())
    except Exception:  # arrays and other values without a plain truth value
        return False


def _info_json(info: dict) -> str | None:
    """``info`` as ASE's writer stores it (values it cannot encode left out), encoded; None if empty."""
    kept = {}
    for key, value in info.items():
        try:
            encode(value)
        except TypeError:
            continue
        kept[key] = value
    return encode(kept) if kept else None


_DTYPE = {np.dtype(t): np.dtype(t).name for t in (np.float64, np.int64, np.int32, np.float32)}


def _int64(n: int) -> bytes:
    return struct.pack("<q", n)


class LeanTrajectoryWriter(TrajectoryWriter):
    _head: tuple | None = None
    _info: dict | None = None
    _info_enc: str | None = None

    def _lean(self, atoms, kwargs) -> bool:
        h, b = self._head, self.backend
        return (h is not None and not self.multiple_headers and set(kwargs) == {"energy", "forces"}
                and atoms.calc is not None and np.little_endian and not b.data and not b.header
                and not b.nmissing and b.hasfileno and hasattr(os, "pwrite")
                and not atoms.has("masses")
                and atoms.constraints == h[2] and np.array_equal(atoms.numbers, h[0])
                and np.array_equal(atoms.pbc, h[1]) and (not atoms.info or _same_info(atoms.info, self._info)))

    def _write_atoms(self, atoms, **kwargs):
        if self.header_data is None or not self._lean(atoms, kwargs):
            super()._write_atoms(atoms, **kwargs)
            if not self.multiple_headers:
                self._head = (atoms.numbers.copy(), atoms.pbc.copy(), list(atoms.constraints))
                self._info = dict(atoms.info)
                self._info_enc = _info_json(atoms.info)
            return
        b = self.backend
        fd = b.fd

        def array(d: dict, name: str, a) -> None:  # ulm's add_array + fill
            a = np.ascontiguousarray(a)
            d[name + "."] = {"ndarray": (a.shape, _DTYPE.get(a.dtype) or a.dtype.name, align(fd))}
            fd.write(a.tobytes())

        data: dict = {}
        array(data, "positions", atoms.positions)
        data["cell"] = atoms.cell.array.tolist()
        for key, name in (("tags", "tags"), ("momenta", "momenta"), ("initial_magmoms", "magmoms"),
                          ("initial_charges", "charges")):  # what ase.io.trajectory.write_atoms writes
            if atoms.has(key):
                array(data, name, atoms.arrays[key])
        energy = kwargs["energy"]
        calc = data["calculator."] = {"name": atoms.calc.name,
                                      "energy": energy.item() if isinstance(energy, np.generic) else energy}
        array(calc, "forces", kwargs["forces"])
        s = encode(data)
        if self._info_enc is not None:
            s = s[:-1] + ', "info": ' + self._info_enc + "}"
        item = s.encode()
        # ulm's sync: the item, its offset in the table, the item count in the header -- the two
        # numbers written in place (pwrite) once the item is in the file, so a kill before them
        # leaves the item uncounted, as in ulm; the file position stays at the end
        i = fd.tell()
        fd.write(_int64(len(item)) + item)
        n = len(b.offsets)
        grown = b.nitems >= n
        if grown:  # the table is full: a new one N1 times larger after this item
            offsets = np.zeros(n * N1, np.int64)
            offsets[:n] = b.offsets
            b.pos0 = align(fd)
            fd.write(offsets.tobytes())
            b.offsets = offsets
        fd.flush()
        no = fd.fileno()
        if grown:
            os.pwrite(no, _int64(b.pos0), 40)
        b.offsets[b.nitems] = i
        os.pwrite(no, _int64(i), b.pos0 + b.nitems * 8)
        b.nitems += 1
        os.pwrite(no, _int64(b.nitems), 32)
