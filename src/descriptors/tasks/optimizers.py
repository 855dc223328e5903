"""Optimizers of our own, selectable by name in ``[relax] optimizer`` beside ASE's.

``BFGS-soft``: ASE's BFGS (same update, same step rule, same trajectory and restart behaviour)
with a softer initial Hessian, 30 eV/A^2 times the identity instead of 70, and a maximum atomic
step of 0.14 A instead of 0.2.  Chosen by measurement (the 38 placed EMT configurations of the
quick start's Cu(100)/Cu(111) of ``python -m benchmarks --only relax``): 0.70x the force calls of
ASE BFGS, all 38 at ASE BFGS's minimum (energy within 0.01 eV, same site) from clean slabs relaxed
with BFGS; 0.74x with 2 of 38 bidentate NO3 in another minimum (one 0.24 eV lower, one 0.50 eV
higher) from clean slabs relaxed with BFGS-soft itself -- so it is selectable, not the default.  Swept: the initial
Hessian 20-70 eV/A^2 with the step cap 0.08-0.2 A (0.56-0.89x, 0-5 other minima, all in
bidentate NO3 on flat valleys), BFGS with the Exp preconditioner as initial Hessian (0.48-0.66x, but 7
of 38 NO3 configurations in another minimum: its single length scale makes the N-O bonds far too
soft) and of a first-step curvature rescaling (0.64-0.73x, 2-3 other minima) is in the issue-16
notes of README.md.  A soft start takes longer first steps along soft modes (adsorbate
translation and tilt, the expensive part of a placement's relaxation); the cap keeps them from
jumping to another site.
"""

from __future__ import annotations

from ase.optimize import BFGS

__all__ = ["SoftBFGS", "OWN"]


class SoftBFGS(BFGS):
    """BFGS with a soft initial Hessian (alpha = 30 eV/A^2) and a 0.14 A step cap."""

    defaults = {**BFGS.defaults, "alpha": 30.0, "maxstep": 0.14}


OWN: dict[str, type] = {"BFGS-soft": SoftBFGS}
