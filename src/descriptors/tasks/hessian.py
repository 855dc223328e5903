"""A model Hessian from the geometry alone, as the initial Hessian of BFGS (``BFGS-model``).

Lindh's model Hessian (R. Lindh, A. Bernhardsson, G. Karlstrom, P.-A. Malmqvist, Chem. Phys. Lett.
241, 423 (1995)): every pair of atoms is a bond stretch with force constant k_r rho_ij, every pair
of bonds with a common atom a bend with k_phi rho_ij rho_jk, where

    rho_ij = exp(alpha_ij (r_ref,ij^2 - r_ij^2))    (r in bohr)

and alpha, r_ref depend on the periodic-table rows of i and j (their Table 1; rows beyond the third
take the third row's values, as their paper does for heavier atoms).  k_r = 0.45 Hartree/bohr^2,
k_phi = 0.15 Hartree/rad^2.  The torsion term (k_tau = 0.005) is left out: it is two orders of
magnitude softer than the bends, and what matters for a start Hessian is which directions are
stiff (bonds, N-O and N-H stretches, Cu-Cu springs) and which soft (adsorbate translation and tilt).
Periodic images enter through ASE's neighbour list.

The Hessian is a function of positions, cell, numbers and constraints only, so a restarted
relaxation recomputes the same matrix, to the bit, from its first trajectory frame.  Fixed atoms
(``FixAtoms``) get ``alpha`` times the identity and no coupling to free atoms -- ASE's BFGS leaves
those rows at the initial value, and the step on the free atoms uses the free block only -- and a
floor ``floor`` times the identity is added to the free block so that free translations and
rotations (a gas molecule, an adsorbate far from any atom) stay bounded: the step cap does the rest.
"""

from __future__ import annotations

import numpy as np

__all__ = ["lindh_hessian", "HARTREE_PER_BOHR2"]

BOHR = 0.529177210903  # A (CODATA 2018, as ase.units)
HARTREE = 27.211386245988  # eV (CODATA 2018)
HARTREE_PER_BOHR2 = HARTREE / BOHR**2  # eV/A^2
K_R, K_PHI = 0.45, 0.15  # Hartree/bohr^2, Hartree/rad^2 (Lindh et al. 1995)
# Table 1 of Lindh et al. 1995, rows 1-3 of the periodic table (r_ref in bohr, alpha in bohr^-2)
_ALPHA = np.array([[1.0000, 0.3949, 0.3949], [0.3949, 0.2800, 0.2800], [0.3949, 0.2800, 0.2800]])
_RREF = np.array([[1.35, 2.10, 2.53], [2.10, 2.87, 3.40], [2.53, 3.40, 3.40]])
RHO_MIN = 1e-3  # pairs with rho below this are left out (their force constant is < 5e-4 Ha/bohr^2)


def _row(numbers: np.ndarray) -> np.ndarray:
    """0, 1, 2 for periodic-table rows 1, 2, >=3."""
    z = np.asarray(numbers)
    return np.where(z <= 2, 0, np.where(z <= 10, 1, 2))


def _cutoff() -> float:
    """Distance (A) beyond which every pair has rho < RHO_MIN."""
    r2 = _RREF**2 - np.log(RHO_MIN) / _ALPHA
    return float(np.sqrt(r2.max())) * BOHR


def lindh_hessian(atoms, positions: np.ndarray | None = None, alpha: float = 70.0, floor: float = 2.0,
                  scale: float = 1.0) -> np.ndarray:
    """Lindh's model Hessian (eV/A^2, 3N x 3N) of ``atoms`` at ``positions`` (default: its own),
    times ``scale``, plus ``floor`` on the free diagonal; fixed atoms' rows and columns ``alpha`` I."""
    from ase.constraints import FixAtoms
    from ase.neighborlist import neighbor_list

    n = len(atoms)
    work = atoms.copy()
    work.constraints = []
    if positions is not None:
        work.positions = np.asarray(positions, dtype=float).reshape(n, 3)
    rows = _row(work.numbers)
    i, j, d = neighbor_list("ijD", work, _cutoff(), self_interaction=False)
    r = np.linalg.norm(d, axis=1)
    rb = r / BOHR
    rho = np.exp(_ALPHA[rows[i], rows[j]] * (_RREF[rows[i], rows[j]] ** 2 - rb**2))
    keep = rho >= RHO_MIN
    i, j, d, r, rho = i[keep], j[keep], d[keep], r[keep], rho[keep]
    h = np.zeros((3 * n, 3 * n))
    # stretches: each unordered pair appears twice in the list (i->j and j->i), hence 1/2
    u = d / r[:, None]
    k = 0.5 * K_R * HARTREE_PER_BOHR2 * rho
    blocks = k[:, None, None] * u[:, :, None] * u[:, None, :]
    _add(h, i, i, blocks)
    _add(h, j, j, blocks)
    _add(h, i, j, -blocks)
    _add(h, j, i, -blocks)
    # bends at each centre c between its neighbours a and b (a < b in the centre's list)
    order = np.argsort(i, kind="stable")
    i, j, d, r, rho, u = i[order], j[order], d[order], r[order], rho[order], u[order]
    starts = np.searchsorted(i, np.arange(n + 1))
    ea, eb = [], []
    for c in range(n):
        lo, hi = starts[c], starts[c + 1]
        if hi - lo < 2:
            continue
        p, q = np.triu_indices(hi - lo, 1)
        ea.append(lo + p)
        eb.append(lo + q)
    if ea:
        ea, eb = np.concatenate(ea), np.concatenate(eb)
        kb = K_PHI * HARTREE * rho[ea] * rho[eb]
        cos = np.einsum("ij,ij->i", u[ea], u[eb])
        ok = (kb >= K_PHI * HARTREE * RHO_MIN) & (np.abs(cos) < np.cos(np.radians(5.0)))  # not (near) linear
        ea, eb, kb, cos = ea[ok], eb[ok], kb[ok], cos[ok]
        sin = np.sqrt(1.0 - cos**2)
        ga = (cos[:, None] * u[ea] - u[eb]) / (r[ea] * sin)[:, None]  # d theta / d r_a (rad/A)
        gb = (cos[:, None] * u[eb] - u[ea]) / (r[eb] * sin)[:, None]
        gc = -(ga + gb)
        atoms3 = (j[ea], j[eb], i[ea])
        grads = (ga, gb, gc)
        for x, gx in zip(atoms3, grads):
            for y, gy in zip(atoms3, grads):
                _add(h, x, y, kb[:, None, None] * gx[:, :, None] * gy[:, None, :])
    h = 0.5 * (h + h.T) * scale
    free = np.ones(n, bool)
    for con in atoms.constraints:
        if isinstance(con, FixAtoms):
            free[np.asarray(con.get_indices(), int)] = False
    fixed = np.flatnonzero(~np.repeat(free, 3))
    h[fixed, :] = 0.0
    h[:, fixed] = 0.0
    h[fixed, fixed] = alpha
    f = np.flatnonzero(np.repeat(free, 3))
    h[f, f] += floor
    return h


def _add(h: np.ndarray, a: np.ndarray, b: np.ndarray, blocks: np.ndarray) -> None:
    """h[3a:3a+3, 3b:3b+3] += blocks, for every (a, b, block), repeated pairs summed."""
    if not len(a):
        return
    ra = (3 * a)[:, None, None] + np.arange(3)[None, :, None]
    cb = (3 * b)[:, None, None] + np.arange(3)[None, None, :]
    np.add.at(h, (np.broadcast_to(ra, blocks.shape), np.broadcast_to(cb, blocks.shape)), blocks)
