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

import numpy as np
from ase.constraints import FixAtoms
from ase.optimize import BFGS as _ASEBFGS

__all__ = ["FreeBFGS", "SoftBFGS", "OWN"]


class FreeBFGS(_ASEBFGS):
    """ASE's BFGS with its step solved on the free degrees of freedom only.

    A fixed atom (``FixAtoms``) has zero force and never moves, so every BFGS update leaves its
    rows and columns of the Hessian at their initial ``alpha`` times the identity, and its part of
    the step is zero: the eigen-decomposition of the free block gives the same step (in exact
    arithmetic; to round-off in floating point) at a fraction of the cost -- a quick-start slab
    has half its atoms fixed, so ``eigh`` works on a matrix half the size, 1/8 of the work.
    Anything else (cell filters, other constraints) takes ASE's own step.
    """

    _free: np.ndarray | None = None

    def _free_dofs(self, n: int) -> np.ndarray | None:
        """Indices of the free Cartesian components, or None (ASE's own step) unless every
        constraint is a FixAtoms and the optimizer works on the atoms' positions."""
        if self._free is not None:
            return self._free if self._n == n else None
        atoms = self.atoms
        cons = getattr(atoms, "constraints", None)
        if not cons or any(not isinstance(c, FixAtoms) for c in cons) or 3 * len(atoms) != n:
            return None
        mask = np.ones((len(atoms), 3), bool)
        for c in cons:
            mask[np.asarray(c.get_indices(), int)] = False
        self._free, self._n = np.flatnonzero(mask.ravel()), n
        return self._free

    def prepare_step(self, pos, gradient):
        pos = pos.ravel()
        gradient = gradient.ravel()
        free = self._free_dofs(len(gradient))
        if free is None:
            return super().prepare_step(pos, gradient)
        self.update(pos, -gradient, self.pos0, self.forces0)
        self.pos0 = pos
        self.forces0 = -gradient.copy()
        h = self.state.hessian[np.ix_(free, free)]
        omega, vectors = np.linalg.eigh(h)
        dpos = np.zeros_like(gradient)
        dpos[free] = -vectors @ (gradient[free] @ vectors / np.fabs(omega))
        steplengths = self.optimizable.gradient_norm(dpos)
        return dpos, steplengths


class SoftBFGS(FreeBFGS):
    """BFGS with a soft initial Hessian (alpha = 30 eV/A^2) and a 0.14 A step cap."""

    defaults = {**_ASEBFGS.defaults, "alpha": 30.0, "maxstep": 0.14}


# "BFGS" is ASE's BFGS with the step on the free degrees of freedom (FreeBFGS)
OWN: dict[str, type] = {"BFGS-soft": SoftBFGS, "BFGS": FreeBFGS}
