"""The anomaly flags of a relaxed structure and which of them exclude it from the minima (what
each flag means: :mod:`descriptors.geometry.anomalies`).  No imports, so the table readers
(``no3rr lookup``, ``status``) can judge a stored row without loading the geometry code."""

from __future__ import annotations

__all__ = ["EXCLUDING_FLAGS", "INFORMATIVE_FLAGS", "flags", "is_excluded"]

EXCLUDING_FLAGS = ("desorbed", "dissociated", "intercalated", "reconstructed", "metal-pulled-out", "too-close")
INFORMATIVE_FLAGS = ("moved", "rebound", "off-active-site")


def flags(anomaly: str | None) -> list[str]:
    """The flag names of an ``anomaly`` string ('dissociated,moved' -> ['dissociated', 'moved'])."""
    return [f.strip() for f in (anomaly or "").split(",") if f.strip()]


def is_excluded(anomaly: str | None) -> bool:
    """True if the anomaly string holds a flag that excludes the row from minima."""
    return any(f in EXCLUDING_FLAGS for f in flags(anomaly))
