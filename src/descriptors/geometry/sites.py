"""Symmetry-unique adsorption sites on slabs and on atomically dispersed (SAC/DAC) models.

Two kinds of structure are handled:

* **Slabs** (``atoms.info`` has no non-empty ``'active'`` entry): ASE slabs with the vacuum along
  z and the adsorption side at the largest z.  Sites are found geometrically and then reduced by
  the symmetry of the slab (spglib), so chemical order (alloys, single-atom alloys) is respected.
  The algorithm (after CatKit's ``AdsorptionSites``), the surface-atom rule and its limits are
  described in :mod:`descriptors.geometry.slab_sites`.
* **Active-site models** (``atoms.info['active']`` lists atom indices, e.g. the Fe of Fe-N4
  graphene or the two metals of a dual-atom catalyst): the support atoms are never sites; the
  sites are the active atoms (top), pairs of close active atoms (bridge) and triples (hollow);
  see :mod:`descriptors.geometry.active_sites`.

This module is the public face of site finding; the work is done in

=================  ==========================================================================
``site_model``     :class:`Site`, :class:`SitePair`, :func:`site_position`, candidate records
``periodic``       minimum images and wrapping (on ``ase.geometry``)
``symmetry``       surface operations (spglib) and orbits of candidate sites
``slab_sites``     candidate sites of slabs (periodic Delaunay triangulation)
``active_sites``   candidate sites of SAC/DAC models
``site_finder``    :func:`find_sites`
``site_pairs``     :func:`find_site_pairs` (bidentate adsorbates)
=================  ==========================================================================
"""

from __future__ import annotations

from descriptors.geometry.active_sites import ACTIVE_BRIDGE_CUTOFF, SUPPORT_ENV_RADIUS  # noqa: F401 (old path)
from descriptors.geometry.site_finder import find_sites
from descriptors.geometry.site_model import Site, SitePair, site_position
from descriptors.geometry.site_pairs import find_site_pairs

__all__ = ["Site", "SitePair", "site_position", "find_sites", "find_site_pairs"]
