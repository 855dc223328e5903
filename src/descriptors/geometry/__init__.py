"""The geometry layer: periodic helpers, adsorption sites and site pairs, adsorbates and their
placement, and the geometry checks of relaxed structures.

Depends only on numpy, scipy, ASE and spglib (and ``descriptors.identity`` / ``convention``);
every other layer may import from here, e.g. ``from descriptors.geometry import find_sites``.
"""

from __future__ import annotations

from descriptors.geometry.adsorbates import (
                                             ADSORBATES,
                                             ALIASES,
                                             Adsorbate,
                                             BindingMode,
                                             adsorbate_formula_counts,
                                             get_adsorbate,
                                             place,
                                             place_bidentate,
)
from descriptors.geometry.anomalies import (
                                             BOND_SCALE,
                                             EXCLUDING_FLAGS,
                                             INFORMATIVE_FLAGS,
                                             INTERCALATION_DEPTH,
                                             INTRA_SCALE,
                                             METAL_MAX_HEIGHT,
                                             MIN_DISTANCE,
                                             RECONSTRUCTION_LATERAL,
                                             RECONSTRUCTION_VERTICAL,
                                             CleanReference,
                                             adsorbate_fields,
                                             bonded_partners,
                                             check_adsorbate,
                                             check_relaxed,
                                             clean_reference,
                                             flags,
                                             is_excluded,
                                             too_close_pairs,
)
from descriptors.geometry.site_finder import find_sites
from descriptors.geometry.site_model import Site, SitePair, site_position
from descriptors.geometry.site_pairs import find_site_pairs

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
