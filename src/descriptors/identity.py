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

__all__ = ["canonical", "job_id", "structure_hash", "settings_digest", "text_hash", "never_a_number"]


def _canonical_encoder():
    """``json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)`` without building an
    encoder per call: the C encoder made once (as ``JSONEncoder.iterencode`` makes it on every
    call), checked against ``json.dumps`` on a probe; ``JSONEncoder.encode`` where there is none.
    Planning a 100,000-job screen hashes every recipe: this halves the time of the JSON text."""
    enc = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
    try:
        from json.encoder import c_make_encoder, encode_basestring_ascii

        c = c_make_encoder(None, str, encode_basestring_ascii, None, ":", ",", True, False, True)
        probe = {"b": [1.5, None, True, float("nan"), -0.0, 10**20], "a": "\u00e9\n\"", "c": {"z": 1, "y": object},
                 "d": np.float64(0.1), "e": np.int64(3), "f": (1, "x")}
        if "".join(c(probe, 0)) == json.dumps(probe, sort_keys=True, separators=(",", ":"), default=str):
            return lambda obj: "".join(c(obj, 0))
    except Exception:  # another Python's json module: the public encoder
        pass
    return enc.encode


_canonical = _canonical_encoder()


def canonical(obj: Any) -> str:
    """The one JSON text of ``obj`` that every hash is taken of (sorted keys, no spaces)."""
    return _canonical(obj)


# every character float() accepts in an ASCII string (digits, sign, point, exponent, '_',
# whitespace, 'inf'/'infinity'/'nan' in either case)
_FLOAT_CHARS = frozenset("0123456789.+-_eE \t\n\r\x0b\x0ciInNfFtTyYaA")


def never_a_number(text: str) -> bool:
    """True when ``float(text)`` (and so ``int(text)``) certainly fails: an ASCII text with a
    character neither accepts.  False means "maybe": ask ``float`` itself."""
    return text.isascii() and not _FLOAT_CHARS.issuperset(text)


def text_hash(h: str) -> str:
    """A hex digest that ase.db keeps as text: one that reads as a number (all digits, or digits
    around one 'e', e.g. '05024405718e3685') is refused by ase.db, so its first character becomes 'x'.
    Every other digest is unchanged, so existing identities stay valid."""
    if never_a_number(h):
        return h  # a character float() never accepts (b, c, d of a hex digest): not a number
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
