"""An ASE trajectory writer that writes a relaxation's frames at a fraction of the cost.

The file is ASE's own ``.traj`` (ulm) format, read by ``ase.io.read``, ``ase gui`` and our
``read_trajectory`` like any other: the first frame, and any frame whose header (numbers, pbc,
masses, constraints) is not the first one's, is written by ASE itself.  A later frame with its
energy and forces given (``write(atoms, energy=..., forces=...)``: the optimizer step's own
results) is written here: positions, cell, the per-atom arrays ASE writes, the calculator's name
and the energy and forces -- what ASE writes, less a per-frame comparison of the header by
encoding the constraints, the calculator's parameters (which a relaxation does not change; the
first frame has them) and an ``encode`` test of ``atoms.info`` when it is the first frame's.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase.io.jsonio import encode
from ase.io.trajectory import TrajectoryWriter, write_atoms

__all__ = ["LeanTrajectoryWriter"]


def _same_info(info: dict, first: dict | None) -> bool:
    if first is None or info.keys() != first.keys():
        return False
    try:
        return all(v is first[k] or bool(v == first[k]) for k, v in info.items())
    except Exception:  # arrays and other values without a plain truth value
        return False


def _encodable(info: dict) -> bool:
    try:
        encode(info)
        return True
    except TypeError:
        return False


class LeanTrajectoryWriter(TrajectoryWriter):
    _head: tuple | None = None
    _info: dict | None = None

    def _same_header(self, atoms) -> bool:
        h = self._head
        return (h is not None and not self.multiple_headers and not atoms.has("masses")
                and atoms.constraints == h[2] and np.array_equal(atoms.numbers, h[0])
                and np.array_equal(atoms.pbc, h[1]))

    def _write_atoms(self, atoms, **kwargs):
        calc = atoms.calc
        if (self.header_data is None or set(kwargs) != {"energy", "forces"} or calc is None
                or not hasattr(calc, "get_property") or not self._same_header(atoms)):
            super()._write_atoms(atoms, **kwargs)
            if not self.multiple_headers and not atoms.has("masses"):
                self._head = (atoms.numbers.copy(), atoms.pbc.copy(), list(atoms.constraints))
                self._info = dict(atoms.info) if _encodable(atoms.info) else None
            return
        b = self.backend
        write_atoms(b, atoms, write_header=False)
        c = b.child("calculator")
        c.write(name=calc.name)
        c.write("energy", kwargs["energy"])
        c.write("forces", kwargs["forces"])
        if atoms.info:
            if _same_info(atoms.info, self._info):  # what the first frame wrote (already filtered)
                b.write(info=atoms.info)
            else:
                info = {}
                for key, value in atoms.info.items():
                    try:
                        encode(value)
                    except TypeError:
                        warnings.warn(f'Skipping "{key}" info.')
                    else:
                        info[key] = value
                if info:
                    b.write(info=info)
        b.sync()
