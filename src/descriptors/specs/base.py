"""What every spec table shares: the strict base model, the element check and ``SpecError``.

``StrictModel`` and ``check_element`` are defined in :mod:`descriptors.structures.registry` (the
catalyst-type blocks are spec tables too, and structures/ sits below specs/); they are re-exported here.
"""

from __future__ import annotations

from descriptors.structures.registry import StrictModel, check_element

__all__ = ["SpecError", "StrictModel", "check_element"]


class SpecError(ValueError):
    """A spec that cannot run; the message names the field and the fix."""
