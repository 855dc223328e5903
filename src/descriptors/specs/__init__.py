"""The TOML screening spec, one module per table; validation only (nothing here runs a calculation).

* ``spec.py``        the ``Spec`` model, ``parse_spec``, ``load_spec`` (the catalyst blocks come from
                     the catalyst-type registry of descriptors.structures)
* ``base.py``        ``SpecError``, the strict base model, the element check
* ``calculator.py``  ``[calculator]``; ``relax.py`` ``[relax]``; ``placement.py`` ``[placement]``;
  ``verify.py``      ``[verify]``; ``finetune.py`` ``[finetune]``; ``execution.py`` ``[execution]`` and ``[engine]``;
  ``analysis.py``    ``[analysis]`` = ``AnalysisSettings``, the settings of every analysis run
"""

from __future__ import annotations

from descriptors.specs.analysis import (
    CORRECTION_MODES,
    AnalysisSettings,
    AnalysisSpec,
    species_name,
)
from descriptors.specs.base import SpecError, StrictModel, check_element
from descriptors.specs.calculator import CalculatorSpec
from descriptors.specs.execution import EngineSpec, ExecutionSpec
from descriptors.specs.finetune import FinetuneSpec
from descriptors.specs.placement import PlacementSpec
from descriptors.specs.relax import RelaxSpec
from descriptors.specs.spec import (
    Catalysts,
    Spec,
    finetune_split,
    load_spec,
    parse_spec,
)
from descriptors.specs.verify import VerifySpec

__all__ = [
    "Spec", "SpecError", "load_spec", "parse_spec", "Catalysts", "StrictModel", "check_element",
    "CalculatorSpec", "FinetuneSpec", "finetune_split", "RelaxSpec", "PlacementSpec", "VerifySpec", "ExecutionSpec", "EngineSpec",
    "AnalysisSettings", "AnalysisSpec", "CORRECTION_MODES", "species_name",
]
