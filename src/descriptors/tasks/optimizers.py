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
from ase import Atoms
from ase.constraints import FixAtoms
from ase.optimize import BFGS as _ASEBFGS
from scipy.linalg.lapack import dpotrf, dpotrs

__all__ = ["FreeBFGS", "SoftBFGS", "OWN", "run_free_bfgs", "runs_free"]


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

    def _block(self, n: int):
        """The free degrees of freedom as a slice when they are one contiguous range (a slab whose
        fixed atoms come first or last), else None."""
        free = self._free_dofs(n)
        if free is None or not len(free) or free[-1] - free[0] + 1 != len(free):
            return None
        return slice(int(free[0]), int(free[-1]) + 1)

    def update(self, pos, forces, pos0, forces0):
        """ASE's BFGS update on the free block of the Hessian only (in place, a view): the fixed
        components of the position and gradient changes are exactly zero, so the rest of the
        matrix stays alpha times the identity, as in ASE's update."""
        blk = None if self.state is None or pos0 is None else self._block(len(pos))
        if blk is None:
            return super().update(pos, forces, pos0, forces0)
        if np.abs(pos - pos0).max() < 1e-7:  # BFGSMethod.update: same configuration again
            return
        dpos = pos[blk] - pos0[blk]
        dgradient = -forces[blk] - -forces0[blk]
        h = self.state.hessian[blk, blk]
        a = dpos @ dgradient
        dg = h @ dpos
        b = dpos @ dg
        h += np.outer(dgradient, dgradient) / a - np.outer(dg, dg) / b

    def prepare_step(self, pos, gradient):
        pos = pos.ravel()
        gradient = gradient.ravel()
        free = self._free_dofs(len(gradient))
        if free is None:
            return super().prepare_step(pos, gradient)
        self.update(pos, -gradient, self.pos0, self.forces0)
        self.pos0 = pos
        self.forces0 = -gradient.copy()
        blk = self._block(len(gradient))
        h = self.state.hessian[blk, blk] if blk is not None else self.state.hessian[np.ix_(free, free)]
        dpos = np.zeros_like(gradient)
        # positive definite (the usual case): |omega| = omega, so ASE's step V (V^T g / |omega|) is
        # H^-1 g -- a Cholesky solve (LAPACK potrf/potrs as scipy's cho_factor/cho_solve call them,
        # without their checks), several times cheaper than eigh; else ASE's rule (|eigenvalues|)
        c, info = dpotrf(h, lower=1, clean=0)
        if info == 0:
            x, info = dpotrs(c, gradient[free], lower=1)
        if info == 0:
            dpos[free] = -x
        else:
            omega, vectors = np.linalg.eigh(h)
            dpos[free] = -vectors @ (gradient[free] @ vectors / np.fabs(omega))
        steplengths = self.optimizable.gradient_norm(dpos)
        return dpos, steplengths


def runs_free(dyn) -> bool:
    """Whether ``run_free_bfgs`` takes ``dyn``'s steps (a FreeBFGS on plain Atoms with FixAtoms only)."""
    atoms = getattr(dyn, "atoms", None)
    return (isinstance(dyn, FreeBFGS) and getattr(dyn.optimizable, "atoms", None) is atoms
            and dyn._free_dofs(3 * len(atoms)) is not None)


def run_free_bfgs(dyn, fmax: float, steps: int, write_start: bool, observers=()) -> bool | None:
    """``dyn.run(fmax, steps)`` without ASE's per-step machinery: the same steps (``prepare_step``,
    ``determine_step``), the same convergence test, the observers called at the same points
    (the start frame only when ``write_start``, as ASE does for an empty trajectory), but one
    ``get_forces`` per step instead of three, no logging or optimizer description per frame.
    Returns whether it converged, or None (nothing done) where ASE's own loop must run: another
    optimizer, a filter, or constraints other than FixAtoms.  ``dyn.nsteps`` counts the steps."""
    if not runs_free(dyn):
        return None
    atoms = dyn.atoms

    def converged(g: np.ndarray) -> bool:
        return bool(np.linalg.norm(g.reshape(-1, 3), axis=1).max() < fmax)

    g = -atoms.get_forces().ravel()
    if dyn.nsteps == 0 and write_start:
        for fn in observers:
            fn()
    conv = converged(g)
    last = dyn.nsteps + steps
    while not conv and dyn.nsteps < last:
        pos = atoms.get_positions().ravel()
        dpos, steplengths = dyn.prepare_step(pos, g)
        dpos = dyn.determine_step(dpos, steplengths)
        atoms.set_positions((pos + dpos).reshape(-1, 3))
        dyn.nsteps += 1
        g = -atoms.get_forces().ravel()
        for fn in observers:
            fn()
        conv = converged(g)
    return conv


class SoftBFGS(FreeBFGS):
    """BFGS with a soft initial Hessian (alpha = 30 eV/A^2) and a 0.14 A step cap."""

    defaults = {**_ASEBFGS.defaults, "alpha": 30.0, "maxstep": 0.14}


# "BFGS" is ASE's BFGS with the step on the free degrees of freedom (FreeBFGS)
OWN: dict[str, type] = {"BFGS-soft": SoftBFGS, "BFGS": FreeBFGS}


class ModelBFGS(FreeBFGS):
    """BFGS whose initial Hessian is Lindh's model Hessian of the start geometry
    (``tasks/hessian.py``) instead of alpha times the identity: stiff along bonds, soft along
    adsorbate translations and tilts; ASE's step cap (0.2 A).  Computed from the positions of the
    first update (the start geometry: on a restart, the trajectory's first frame), so the replayed
    Hessian is the same, bit for bit.  Measured (README "Issue 16, fifth round"): one-atom
    adsorbates on CHGNet 0.34x the force calls of ASE BFGS, at its minimum; NO and NO3 reach
    other minima with it (their soft rotations), so "auto" uses it for one-atom adsorbates only.
    Swept: the step cap 0.14 A (more calls: 0.2 A lets H leave a bridge site in fewer steps), a
    floor of 5 eV/A^2 (one O placement took 99 steps), the model scaled by 0.7, an added
    20-60 eV/A^2 on the adsorbate's atoms (no fewer other minima for NO3 on EMT)."""

    model_floor = 2.0  # eV/A^2 on the free diagonal
    model_scale = 1.0

    def update(self, pos, forces, pos0, forces0):
        atoms = self.atoms
        if self.state is None and isinstance(atoms, Atoms) and np.size(pos) == 3 * len(atoms):
            from descriptors.tasks.hessian import lindh_hessian

            self.H0 = lindh_hessian(atoms, np.asarray(pos).reshape(-1, 3), alpha=self.alpha,
                                    floor=self.model_floor, scale=self.model_scale)
        # (a cell filter's coordinates are not atoms' positions: alpha I, as ASE's BFGS)
        return super().update(pos, forces, pos0, forces0)


OWN["BFGS-model"] = ModelBFGS
