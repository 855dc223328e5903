"""Identities are unchanged by the faster canonical text and digest check (identity.py): the same
JSON text as ``json.dumps(sort_keys, separators, default=str)`` and the same 'x' rule as
``float()``, so every stored job keeps its id."""

import hashlib
import json
import random

import numpy as np
import pytest

from descriptors.identity import (
    canonical,
    job_id,
    never_a_number,
    settings_digest,
    text_hash,
)


def _reference_canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _reference_text_hash(h):
    try:
        float(h)
    except ValueError:
        return h
    return "x" + h[1:]


def _recipes():
    rng = np.random.default_rng(7)
    geometry = np.round(rng.normal(size=(3, 3)), 4).tolist()
    common = {"calculator": {"name": "emt", "version": "3.23", "params": {"cut": 2.5, "flag": None}},
              "relax": {"optimizer": "BFGS-soft", "fmax": 0.05, "steps": 300}, "code": "descriptors"}
    yield {"kind": "adsorbate", "parent": "a1b2", "adsorbate": "NO3", "binding": "bidentate-O,O",
           "site": "bridge+bridge", "site_indices": [3, 7], "geometry": geometry, **common}
    yield {"kind": "clean", "model": {"type": "slab", "metals": ["Cu"], "facet": "111", "size": (2, 2)},
           "lattice": {"lattice": "given", "a": 3.61}, **common}
    yield {"kind": "gas", "molecule": "H2O", "structure_hash": "0" * 24, "e": 1e-300, "big": 10**30,
           "nan": float("nan"), "inf": float("-inf"), "neg0": -0.0, "np": [np.float64(0.1), np.int64(3), np.bool_(True)],
           "text": "Cu(111) *NO3 \u00e9\u00e8 \"quoted\" \\ back\nline\ttab \u2603", "unsorted": {"b": 1, "a": 2, "10": 3, "9": 4}}
    yield {"bench": "store-scale", "i": 12345}
    yield [1, "two", None, {"z": [{}], "y": []}]
    yield "plain text"


def test_canonical_text_and_job_ids_equal_json_dumps():
    for r in _recipes():
        assert canonical(r) == _reference_canonical(r)
        if isinstance(r, dict):
            ref = _reference_text_hash(hashlib.sha256(_reference_canonical(r).encode()).hexdigest()[:24])
            assert job_id(r) == ref
    obj = {"calculator": {"name": "emt"}, "relax": {"fmax": 0.05}}
    assert settings_digest(obj) == _reference_text_hash(
        hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16])


def test_text_hash_marks_exactly_what_float_reads():
    rng = random.Random(3)
    cases = ["05024405718e3685", "0123456789", "1e5", "e5", "1e", "1e5e6", "deadbeef", "ff", "abc", "nan", "inf",
             "1_000", "1.5", "-3", " 12 ", "infinity", "NaN", "x123", "\u0661\u0662", "12\u00a0", ""]
    # hex digests that are all digits / digits and one 'e' (about 1 in 100 at 16 characters)
    cases += ["".join(rng.choice("0123456789e" if k % 2 else "0123456789abcdef") for _ in range(16))
              for k in range(4000)]
    for h in cases:
        assert text_hash(h) == _reference_text_hash(h), h
        if never_a_number(h):  # the shortcut ase.db's key check takes too (store/rowdata.py)
            for parse in (float, int):
                with pytest.raises(ValueError):
                    parse(h)
    assert sum(text_hash(h) != h for h in cases) > 10  # the numeric-looking case is exercised
