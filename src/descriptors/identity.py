"""Identities: the deterministic hashes that name jobs, structures and settings.

A job's id is the SHA-256 of its canonical recipe, so the same recipe always gives the same id
and a job already stored is never computed again.  Nothing else of the package is imported here:
every layer may use these functions, and changing one changes every stored identity.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

__all__ = ["canonical", "job_id", "structure_hash", "settings_digest", "text_hash"]


def canonical(obj: Any) -> str:
    """The one JSON text of ``obj`` that every hash is taken of (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def text_hash(h: str) -> str:
    """A hex digest that ase.db keeps as text: one that reads as a number (all digits, or digits
    around one 'e', e.g. '05024405718e3685') is refused by ase.db, so its first character becomes 'x'.
    Every other digest is unchanged, so existing identities stay valid."""
    try:
        float(h)
    except ValueError:
        return h
    return "x" + h[1:]


def job_id(recipe: dict[str, Any]) -> str:
    """24 hex characters of the SHA-256 of the canonical recipe."""
    return text_hash(hashlib.sha256(canonical(recipe).encode()).hexdigest()[:24])


def settings_digest(obj: Any) -> str:
    """16 hex characters of the SHA-256 of ``json.dumps(obj, sort_keys=True)`` (calculator and
    relaxation settings; the spacing differs from :func:`canonical` and is part of stored ids)."""
    blob = json.dumps(obj, sort_keys=True, default=str)
    return text_hash(hashlib.sha256(blob.encode()).hexdigest()[:16])


def structure_hash(atoms, decimals: int = 4) -> str:
    """Hash of numbers, positions, cell, pbc and fixed atoms (rounded to 1e-4 A)."""
    fixed: list[int] = []
    for c in atoms.constraints:
        if c.__class__.__name__ == "FixAtoms":
            fixed += [int(i) for i in c.get_indices()]
    blob = {
        "numbers": atoms.numbers.tolist(),
        "positions": np.round(atoms.positions, decimals).tolist(),
        "cell": np.round(atoms.cell.array, decimals).tolist(),
        "pbc": atoms.pbc.tolist(),
        "fixed": sorted(fixed),
    }
    return hashlib.sha256(canonical(blob).encode()).hexdigest()[:24]
