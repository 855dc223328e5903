"""The figures of an analysis as a list of drawing jobs (plots.py draws them; outputs.py hands them
to forked processes or to the caller's pool): no matplotlib here."""

from __future__ import annotations

from pathlib import Path

__all__ = ["figure_jobs"]


def figure_jobs(res, fig_dir: Path, svg: bool = False) -> list[tuple]:
    """(kind, argument, figure folder, svg) of every figure, the largest (the scaling grids) first,
    so that no worker is left with one at the end."""
    jobs = [("scaling", d) for d in res.settings.descriptors] + [("volcano", d) for d in res.settings.descriptors]
    jobs += [("volcano_2d", None)] + [("fed", c) for c in res.pathways]
    jobs += [("product_map", name) for name in getattr(res, "product_maps", {})]
    return [(kind, arg, fig_dir, svg) for kind, arg in jobs]
