"""Optimizers of our own, selectable by name in ``[relax] optimizer`` beside ASE's."""

from __future__ import annotations

OWN: dict[str, type] = {}
