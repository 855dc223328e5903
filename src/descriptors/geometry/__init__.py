"""The geometry layer: periodic helpers, adsorption sites and site pairs, adsorbates and their
placement, and the geometry checks of relaxed structures.

Depends only on numpy, scipy, ASE and spglib (and ``descriptors.identity`` / ``convention``);
every other layer may import from here, e.g. ``from descriptors.geometry import find_sites``.
The names below are loaded on first use (PEP 562), so that importing one light module of this
folder (``geometry.flags`` for ``no3rr lookup``) does not load SciPy and the site finder.
"""

from __future__ import annotations

from descriptors.lazy import lazy_exports

_EXPORTS = {
    "adsorbates": ("ADSORBATES", "ALIASES", "Adsorbate", "BindingMode", "adsorbate_formula_counts", "get_adsorbate",
                   "place", "place_bidentate"),
    "anomalies": ("BOND_SCALE", "INTRA_SCALE", "MIN_DISTANCE", "INTERCALATION_DEPTH", "RECONSTRUCTION_LATERAL",
                  "RECONSTRUCTION_VERTICAL", "METAL_MAX_HEIGHT", "CleanReference", "adsorbate_fields",
                  "bonded_partners", "check_adsorbate", "check_relaxed", "clean_reference", "too_close_pairs"),
    "flags": ("EXCLUDING_FLAGS", "INFORMATIVE_FLAGS", "flags", "is_excluded"),
    "site_finder": ("find_sites",),
    "site_model": ("Site", "SitePair", "site_position"),
    "site_pairs": ("find_site_pairs",),
}

__all__ = [
    # sites
    "Site", "SitePair", "site_position", "find_sites", "find_site_pairs",
    # adsorbates
    "ADSORBATES", "ALIASES", "Adsorbate", "BindingMode", "get_adsorbate", "place", "place_bidentate",
    "adsorbate_formula_counts",
    # anomaly checks
    "BOND_SCALE", "INTRA_SCALE", "MIN_DISTANCE", "INTERCALATION_DEPTH", "RECONSTRUCTION_LATERAL",
    "RECONSTRUCTION_VERTICAL", "METAL_MAX_HEIGHT", "EXCLUDING_FLAGS", "INFORMATIVE_FLAGS",
    "check_adsorbate", "bonded_partners", "too_close_pairs", "CleanReference", "clean_reference",
    "check_relaxed", "adsorbate_fields", "flags", "is_excluded",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__, globals())
