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

import math

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
    _work: tuple | None = None  # (hessian, its free block, two buffers for the update's products)

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
        free = self._free
        # one contiguous range (a slab whose fixed atoms come first or last): a slice
        self._slice = (slice(int(free[0]), int(free[-1]) + 1)
                       if len(free) and free[-1] - free[0] + 1 == len(free) else None)
        return self._free

    def _block(self, n: int):
        """The free degrees of freedom as a slice when they are one contiguous range (a slab whose
        fixed atoms come first or last), else None."""
        return None if self._free_dofs(n) is None else self._slice

    def _hessian_block(self, blk: slice):
        """The free block of the Hessian (a view) and two buffers of its shape for the update."""
        w = self._work
        hessian = self.state.hessian
        if w is None or w[0] is not hessian:
            h = hessian[blk, blk]
            w = self._work = (hessian, h, np.empty(h.shape), np.empty(h.shape))
        return w[1], w[2], w[3]

    def _start_hessian(self) -> None:
        """The initial Hessian, on the first step of ``free_step`` (as ``update`` sets it there)."""
        _ASEBFGS.update(self, None, None, None, None)

    def update(self, pos, forces, pos0, forces0):
        """ASE's BFGS update on the free block of the Hessian only (in place, a view): the fixed
        components of the position and gradient changes are exactly zero, so the rest of the
        matrix stays alpha times the identity, as in ASE's update."""
        blk = None if self.state is None or pos0 is None else self._block(len(pos))
        if blk is None:
            return super().update(pos, forces, pos0, forces0)
        self._update_free(pos[blk] - pos0[blk], -forces[blk] - -forces0[blk], blk)

    def _update_free(self, dpos: np.ndarray, dgradient: np.ndarray, blk: slice) -> None:
        """``BFGSMethod.update`` on the free block: the same floating-point operations, the outer
        products written into two buffers instead of new matrices."""
        if np.abs(dpos).max() < 1e-7:  # BFGSMethod.update: same configuration again
            return
        h, w1, w2 = self._hessian_block(blk)
        a = dpos @ dgradient
        dg = h @ dpos
        b = dpos @ dg
        # h += np.outer(dgradient, dgradient) / a - np.outer(dg, dg) / b
        np.multiply(dgradient[:, None], dgradient[None, :], out=w1)
        np.divide(w1, a, out=w1)
        np.multiply(dg[:, None], dg[None, :], out=w2)
        np.divide(w2, b, out=w2)
        np.subtract(w1, w2, out=w1)
        h += w1

    def _solve_free(self, h: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The step on the free block, before the step-length cap: ``-H^-1 g`` when ``h`` is positive
        definite, else ASE's ``-V (V^T g / |omega|)``."""
        # positive definite (the usual case): |omega| = omega, so ASE's step V (V^T g / |omega|) is
        # H^-1 g -- a Cholesky solve (LAPACK potrf/potrs as scipy's cho_factor/cho_solve call them,
        # without their checks), several times cheaper than eigh; else ASE's rule (|eigenvalues|)
        c, info = dpotrf(h, lower=1, clean=0)
        if info == 0:
            x, info = dpotrs(c, g, lower=1)
            if info == 0:
                return np.negative(x, out=x)
        omega, vectors = np.linalg.eigh(h)
        return -vectors @ (g @ vectors / np.fabs(omega))

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
        dpos[free] = self._solve_free(h, gradient[free])
        steplengths = self.optimizable.gradient_norm(dpos)
        return dpos, steplengths

    def free_step(self, pos: np.ndarray, g: np.ndarray, pos0: np.ndarray | None, g0: np.ndarray | None,
                  blk: slice) -> np.ndarray:
        """``prepare_step`` and ``determine_step`` on the free block ``blk`` alone (``run_free_bfgs``'s
        step): ``pos``, ``g`` the free positions and gradient, ``pos0``, ``g0`` the previous step's
        (None: no update, as ASE's first step).  Returns the free part of the step, capped as ASE
        caps it; the same floating-point operations as ``prepare_step`` + ``determine_step`` (the
        fixed components of those are zeros, which change no maximum)."""
        if self.state is None:
            self._start_hessian()
        elif pos0 is not None:
            self._update_free(pos - pos0, g - g0, blk)
        h = self._hessian_block(blk)[0]
        dpos = self._solve_free(h, g)
        d3 = dpos.reshape(-1, 3)
        # gradient_norm: max over atoms of |step| (sqrt of the largest square: sqrt is monotonic)
        steplength = math.sqrt(np.add.reduce(d3 * d3, axis=1).max())
        if steplength >= self.maxstep:  # BFGS.determine_step
            dpos *= self.maxstep / steplength
        return dpos


def runs_free(dyn) -> bool:
    """Whether ``run_free_bfgs`` takes ``dyn``'s steps (a FreeBFGS on plain Atoms with FixAtoms only)."""
    atoms = getattr(dyn, "atoms", None)
    return (isinstance(dyn, FreeBFGS) and getattr(dyn.optimizable, "atoms", None) is atoms
            and dyn._free_dofs(3 * len(atoms)) is not None)


def _max_norm(v: np.ndarray) -> float:
    """``np.linalg.norm(v.reshape(-1, 3), axis=1).max()``, the same number (sqrt is monotonic)."""
    v3 = v.reshape(-1, 3)
    return math.sqrt(np.add.reduce(v3 * v3, axis=1).max())


def run_free_bfgs(dyn, fmax: float, steps: int, write_start: bool, observers=()) -> bool | None:
    """``dyn.run(fmax, steps)`` without ASE's per-step machinery: the same steps (``prepare_step``,
    ``determine_step``), the same convergence test, the observers called at the same points
    (the start frame only when ``write_start``, as ASE does for an empty trajectory), but one
    ``get_forces`` per step instead of three, no logging or optimizer description per frame.
    Returns whether it converged, or None (nothing done) where ASE's own loop must run: another
    optimizer, a filter, or constraints other than FixAtoms.  ``dyn.nsteps`` counts the steps;
    ``dyn.fmax_now`` is the largest (constrained) force of the current geometry when the
    observers are called."""
    if not runs_free(dyn):
        return None
    atoms = dyn.atoms
    blk = dyn._block(3 * len(atoms))
    if blk is None:
        return _run_free_any(dyn, fmax, steps, write_start, observers)
    # the free degrees of freedom are one range: the step, the positions update and the forces on
    # it alone (FixAtoms: the fixed positions stay as they are, the fixed forces are zeros)
    calc = atoms.calc
    positions = atoms.arrays["positions"]

    def gradient() -> np.ndarray:
        f = calc.get_property("forces", atoms)  # what atoms.get_forces() asks (then FixAtoms: zeros)
        return np.negative(f.reshape(-1)[blk])

    g = gradient()
    if g.dtype != np.float64:  # (ML codes: float32) ASE's step is taken in that precision: whole vectors
        return _run_free_any(dyn, fmax, steps, write_start, observers)
    dyn.fmax_now = _max_norm(g)
    if dyn.nsteps == 0 and write_start:
        for fn in observers:
            fn()
    conv = dyn.fmax_now < fmax
    last = dyn.nsteps + steps
    if conv or dyn.nsteps >= last:
        return conv
    pos0 = None if dyn.pos0 is None else dyn.pos0[blk]
    g0 = None if dyn.forces0 is None else -dyn.forces0[blk]
    pos = positions.reshape(-1)[blk].copy()
    while True:
        dpos = dyn.free_step(pos, g, pos0, g0, blk)
        pos0, g0 = pos, g
        pos = pos + dpos
        positions.reshape(-1)[blk] = pos  # Atoms.set_positions: the fixed atoms keep theirs
        dyn.nsteps += 1
        g = gradient()
        dyn.fmax_now = _max_norm(g)
        for fn in observers:
            fn()
        conv = dyn.fmax_now < fmax
        if conv or dyn.nsteps >= last:
            break
    # the optimizer's state as prepare_step leaves it (a run continued by ASE's loop or a replay)
    full = positions.reshape(-1).copy()
    full[blk] = pos0
    forces0 = np.zeros(len(full))
    forces0[blk] = -g0
    dyn.pos0, dyn.forces0 = full, forces0
    return conv


def _run_free_any(dyn, fmax: float, steps: int, write_start: bool, observers=()) -> bool:
    """``run_free_bfgs`` for free atoms that are not one range of indices: ``prepare_step`` on the
    whole vectors."""
    atoms = dyn.atoms

    def converged(g: np.ndarray) -> bool:
        m = np.linalg.norm(g.reshape(-1, 3), axis=1).max()  # in the forces' precision, as ASE's test
        dyn.fmax_now = float(m)
        return bool(m < fmax)

    g = -atoms.get_forces().ravel()
    conv = converged(g)
    if dyn.nsteps == 0 and write_start:
        for fn in observers:
            fn()
    last = dyn.nsteps + steps
    while not conv and dyn.nsteps < last:
        pos = atoms.get_positions().ravel()
        dpos, steplengths = dyn.prepare_step(pos, g)
        dpos = dyn.determine_step(dpos, steplengths)
        atoms.set_positions((pos + dpos).reshape(-1, 3))
        dyn.nsteps += 1
        g = -atoms.get_forces().ravel()
        conv = converged(g)
        for fn in observers:
            fn()
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

    def _start_hessian(self) -> None:
        """``free_step``'s first step: the model Hessian of the current (start) positions, the
        positions ``update`` would be given there (run_free_bfgs runs on plain Atoms only)."""
        self.update(self.atoms.get_positions().ravel(), None, None, None)


OWN["BFGS-model"] = ModelBFGS
