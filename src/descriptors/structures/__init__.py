"""Structures: metal slabs, graphene and g-C3N4 supports, SAC/DAC sites, gas molecules, and the
catalyst-type registry that turns ``[[catalysts]]`` blocks into buildable models.

Where things live:

* ``slabs.py``    bulk cells, metal slabs of any facet, single-atom alloys
* ``graphene.py`` graphene sheets (``ase.build.graphene``) and the helpers of every sheet model
* ``sac.py``      M-N4 single-atom sites and variants; ``gc3n4.py`` M1M2/g-C3N4; ``dac_n6.py`` M1M2-N6
* ``gas.py``      the gas-phase reference molecules
* ``registry.py`` ``CatalystModel``, ``CatalystType`` and the registry API below
* ``types/``      one module per catalyst type, each registering itself on import

Registry API::

    CATALYST_TYPES: dict[str, CatalystType]     # 'slab', 'saa', 'sac', 'dac-gc3n4', 'dac-n6'
    catalyst_type(name) -> CatalystType         # ValueError naming the known types
    register_catalyst_type(name, spec=..., expand=..., build=..., needs_lattice=False, metal_surface=False)
    expand_catalysts(spec) -> list[CatalystModel]
    build_model(recipe, a=None, c=None) -> Atoms
    is_metal_surface(kind) -> bool              # d-band job wanted ('slab', 'saa')

``CatalystType`` fields: ``name``, ``spec`` (pydantic model of the block; the spec's union is
generated from the registry), ``expand(block, index)``, ``build(recipe, a, c)``,
``needs_lattice`` (built on a metal lattice constant; 'relaxed' asks for a bulk EOS job first,
``CatalystModel.bulk``), ``metal_surface`` (gets a d-band job), ``description``.
``CatalystModel.catalyst_type`` gives a model's type and ``CatalystModel.unrelaxed_lattice()`` the
(a, c) to build it with when no bulk was relaxed (given, else experimental; (None, None) otherwise).

A new catalyst type is one new module in ``types/`` that defines its block model
(``type: Literal["name"]``), ``expand`` and ``build``, and calls ``register_catalyst_type``.
"""

from __future__ import annotations

from descriptors.structures import types as _types  # noqa: F401  (registers every catalyst type)
from descriptors.structures.dac_n6 import m1m2_n6_graphene
from descriptors.structures.gas import GAS_REFERENCES, gas_molecule
from descriptors.structures.gc3n4 import DAC_METALS, dac_pairs, gc3n4_sheet, m1m2_gc3n4
from descriptors.structures.graphene import (
                                        GRAPHENE_A,
                                        graphene_sheet,
                                        metal_image_distance,
)
from descriptors.structures.registry import (
                                        CATALYST_TYPES,
                                        CatalystModel,
                                        CatalystType,
                                        build_model,
                                        catalyst_type,
                                        expand_catalysts,
                                        is_metal_surface,
                                        register_catalyst_type,
)
from descriptors.structures.sac import mn4_graphene, parse_coordination
from descriptors.structures.slabs import (
                                        bulk_cell,
                                        crystal_structure,
                                        facet_label,
                                        metal_slab,
                                        parse_facet,
                                        reference_lattice,
                                        single_atom_alloy,
)

__all__ = [
    "CATALYST_TYPES", "CatalystModel", "CatalystType", "build_model", "catalyst_type", "expand_catalysts",
    "is_metal_surface", "register_catalyst_type",
    "GAS_REFERENCES", "gas_molecule",
    "DAC_METALS", "dac_pairs", "gc3n4_sheet", "m1m2_gc3n4", "m1m2_n6_graphene",
    "GRAPHENE_A", "graphene_sheet", "metal_image_distance", "mn4_graphene", "parse_coordination",
    "bulk_cell", "crystal_structure", "facet_label", "metal_slab", "parse_facet", "reference_lattice",
    "single_atom_alloy",
]
