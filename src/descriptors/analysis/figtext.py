"""Text and markers of the analysis figures: typeset species, point labels placed without
overlaps, the markers of flagged and unconverged data, the provenance and fidelity footer, and the
check that no two texts of a figure overlap (``text_overlaps``, used by the tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn (plots.py), not by the tables
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

__all__ = ["tex", "place_labels", "text_overlaps", "footer", "fidelity_warning", "point_quality", "QUALITY_STYLE",
           "catalyst_quality"]


def tex(species: str) -> str:
    """Mathtext for species: '*NH2OH' -> '*NH$_{2}$OH', 'NO3-(aq)' -> 'NO$_{3}^{-}$(aq)', '->' -> arrow."""
    s = species.replace("->", " → ")
    s = re.sub(r"(?<=[A-Za-z)])(\d+)([+-])(?=$|[\s(,])", r"$_{\1}^{\2}$", s)
    s = re.sub(r"(?<=[A-Za-z)])([+-])(?=$|[\s(,])", r"$^{\1}$", s)
    s = re.sub(r"(?<=[A-Za-z)])(\d+)", r"$_{\1}$", s)
    return s.replace("  ", " ")


# -- mathtext: one cache of parsed species labels per process (plots.py's figures) ---------------

def _share_mathtext_cache(size: int = 4096) -> None:
    """Matplotlib caches a parsed mathtext string per parser object in an LRU of 50 entries;
    every renderer (one per savefig) has its own parser, and a figure of ours has ~75 species
    labels, so most strings were parsed again (pyparsing: ~20 ms each, a fifth of all drawing
    time).  One cache of ``size`` entries per output type (vector or raster) serves them all;
    the parse is a pure function of its arguments.  Left alone if matplotlib's internals differ."""
    import functools
    import os

    from matplotlib.mathtext import MathTextParser

    cached = getattr(MathTextParser, "_parse_cached", None)
    parse = getattr(cached, "__wrapped__", None)
    if parse is None or getattr(cached, "_no3rr_shared", False):
        return
    parsers: dict[str, MathTextParser] = {}

    @functools.lru_cache(size)
    def shared(output_type, s, dpi, prop, antialiased, load_glyph_flags):
        return parse(parsers[output_type], s, dpi, prop, antialiased, load_glyph_flags)

    def _parse_cached(self, s, dpi, prop, antialiased, load_glyph_flags):
        parsers.setdefault(self._output_type, self)
        return shared(self._output_type, s, dpi, prop, antialiased, load_glyph_flags)

    _parse_cached._no3rr_shared = True
    MathTextParser._parse_cached = _parse_cached
    if hasattr(os, "register_at_fork"):  # parses hold the parent's fonts, which matplotlib reopens in a
        os.register_at_fork(after_in_child=shared.cache_clear)  # forked child (shared file offsets)
        os.register_at_fork(after_in_child=parsers.clear)



# -- data quality: the markers ------------------------------------------------------------------

@dataclass(frozen=True)
class Style:
    marker: str
    face: str
    label: str


QUALITY_STYLE = {
    "valid": Style("o", "C0", "valid (converged, unflagged)"),
    "unconverged": Style("^", "orange", "unconverged relaxation (fmax not reached)"),
    "flagged": Style("X", "red", "FLAGGED geometry (used on request: use_flagged)"),
}


def point_quality(ds, catalyst: str, species: list[str]) -> tuple[str, str]:
    """('valid'|'unconverged'|'flagged', reason) of the data behind one point of a figure."""
    prov = ds.provenance.get(catalyst, {})
    flagged = [f"{s}: {prov.get(s, {}).get('flagged') or 'flagged'}" for s in species
               if s in ds.flagged.get(catalyst, [])]
    if flagged:
        return "flagged", "; ".join(flagged)
    unconv = [s for s in species if prov.get(s, {}).get("converged") is False]
    if unconv:
        return "unconverged", "unconverged: " + ", ".join(unconv)
    return "valid", ""


def catalyst_quality(res, catalyst: str) -> tuple[str, str]:
    """Quality of everything a catalyst's pathway used (its states present in the dataset)."""
    return point_quality(res.dataset, catalyst, list(res.dataset.g_ads.get(catalyst, {})))


def scatter_by_quality(ax, xs, ys, qualities, size=36, zorder=5, edge="k", valid_face=None):
    """One scatter per quality class, each with its legend label."""
    xs, ys, q = np.asarray(xs, float), np.asarray(ys, float), np.asarray(qualities)
    for key, st in QUALITY_STYLE.items():
        m = q == key
        if m.any():
            face = valid_face if (key == "valid" and valid_face) else st.face
            ax.scatter(xs[m], ys[m], s=size * (1.5 if key != "valid" else 1), marker=st.marker, color=face,
                       edgecolor=edge, linewidth=0.8, zorder=zorder, label=st.label)


# -- labels placed without overlaps -------------------------------------------------------------

_DIRS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]


def _overlap(a: Bbox, b: Bbox, pad: float = 1.0) -> bool:
    return a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad


def _texts(fig) -> list[Text]:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t.figure is fig]


def place_labels(ax, xs, ys, labels, fontsize=8, color="k", bbox=None, avoid_points=True, avoid_data=(),
                 avoid_markers=()):
    """Annotate each point with its label at the nearest offset where the label overlaps no other
    text, no other point, no rectangle of ``avoid_data``, no marker of ``avoid_markers`` ((x, y,
    size in points) in data coordinates, e.g. a volcano's apex star) and stays inside the axes (a
    leader line when it had to move away).

    Call after the layout is final (``footer`` does the layout): positions are in pixels.  Candidate
    boxes are computed from the measured label size, so only the chosen annotation is created.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    r = fig.canvas.get_renderer()
    axbox = ax.get_window_extent(r)
    # the boxes of the figure's texts, measured once per figure and renderer (a grid calls this per
    # panel; the layout does not change in between, and the labels placed are added as they are made)
    cache = getattr(fig, "_no3rr_text_boxes", None)
    if cache is None or cache[0] is not r:
        cache = (r, {})
        fig._no3rr_text_boxes = cache
    boxes = cache[1]
    for t in _non_tick_texts(fig):
        if id(t) not in boxes:
            boxes[id(t)] = (t, t.get_window_extent(r))  # (the text kept alive: its id stays its own)
    obstacles = [b for _, b in boxes.values() if _overlap(b, axbox)]
    leg = ax.get_legend()
    if leg is not None:
        obstacles.append(leg.get_window_extent(r))
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    pts = ax.transData.transform(np.c_[xs, ys]) if len(xs) else np.zeros((0, 2))
    px_per_pt = fig.dpi / 72
    for x0, y0, x1, y1 in avoid_data:  # data-space rectangles (e.g. the levels of a diagram)
        (a0, b0), (a1, b1) = ax.transData.transform([(x0, y0), (x1, y1)])
        lw = 2.0 * px_per_pt  # half a thick line and a gap
        obstacles.append(Bbox.from_extents(min(a0, a1), min(b0, b1) - lw, max(a0, a1), max(b0, b1) + lw))
    for mx, my, size in avoid_markers:
        (a, b), half = ax.transData.transform((mx, my)), 0.5 * size * px_per_pt
        obstacles.append(Bbox.from_extents(a - half, b - half, a + half, b + half))
    dot = 5.5 * px_per_pt  # a marker of the scatter (s ~ 50 pt^2) with its edge
    pboxes = [Bbox.from_extents(px - dot, py - dot, px + dot, py + dot) for px, py in pts]
    pad = 2.5 * px_per_pt if bbox else 0.5
    made = []
    for i in (np.argsort(pts[:, 0]) if len(pts) else []):
        probe = ax.text(0, 0, labels[i], fontsize=fontsize)
        wb = probe.get_window_extent(r)
        probe.remove()
        w, h = wb.width + 2 * pad, wb.height + 2 * pad
        best, best_cost = None, None
        for dist in (5, 9, 14, 20, 28, 38, 50, 64, 80):
            for dx, dy in _DIRS:
                ox, oy = dx * dist * px_per_pt, dy * dist * 0.8 * px_per_pt
                ax0 = pts[i, 0] + ox - (0 if dx > 0 else w if dx < 0 else w / 2)
                ay0 = pts[i, 1] + oy - (0 if dy > 0 else h if dy < 0 else h / 2)
                bb = Bbox.from_bounds(ax0 - pad, ay0 - pad, w, h)  # the text's box with its frame
                inside = axbox.x0 <= bb.x0 and bb.x1 <= axbox.x1 and axbox.y0 <= bb.y0 and bb.y1 <= axbox.y1
                hits = sum(_overlap(bb, o) for o in obstacles)
                if avoid_points:
                    hits += sum(_overlap(bb, p, 0) for j, p in enumerate(pboxes) if j != i)
                cost = hits * 10 + (0 if inside else 5) + dist / 100
                if best_cost is None or cost < best_cost:
                    best, best_cost = (dist, dx, dy, bb), cost
            if best_cost < 1:
                break
        dist, dx, dy, bb = best
        a = ax.annotate(labels[i], (xs[i], ys[i]), xytext=(dx * dist, dy * dist * 0.8), textcoords="offset points",
                        fontsize=fontsize, color=color, ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
                        va="bottom" if dy > 0 else ("top" if dy < 0 else "center"), bbox=bbox, zorder=7,
                        arrowprops=dict(arrowstyle="-", lw=0.5, color="0.4") if dist > 14 else None)
        obstacles.append(bb)
        made.append(a)
    return made


def _non_tick_texts(fig) -> list[Text]:
    """The visible texts of ``fig`` other than tick labels (``_texts`` without the ticks), found
    without asking the axes for their ticks (which runs every tick locator: most of the time of
    placing the labels of a 10-panel figure)."""
    from matplotlib.axis import Axis, Tick
    from matplotlib.text import Text

    out = []

    def walk(artist):
        if isinstance(artist, Tick):
            return
        if isinstance(artist, Text):
            out.append(artist)
        children = [artist.label, artist.offsetText] if isinstance(artist, Axis) else artist.get_children()
        for child in children:
            walk(child)

    walk(fig)
    return [t for t in out if t.get_visible() and t.get_text().strip() and t.figure is fig]


def _tick_label_ids(fig) -> set[int]:
    ids = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ids.update((id(tick.label1), id(tick.label2)))
    return ids


def _drawn_texts(fig) -> list[Text]:
    """Texts a draw renders: tick labels only for ticks inside their axis' view interval."""
    inview = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(1.0, abs(hi - lo))
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if lo - eps <= tick.get_loc() <= hi + eps:
                    inview.update((id(tick.label1), id(tick.label2)))
    ticks = _tick_label_ids(fig)
    return [t for t in _texts(fig) if id(t) not in ticks or id(t) in inview]


def text_overlaps(fig, pad: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` whose rendered boxes overlap (after a draw)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    items = [(t.get_text(), t.get_window_extent(r)) for t in _drawn_texts(fig)]
    out = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            a, b = items[i][1], items[j][1]
            if a.width and b.width and a.x0 < b.x1 - pad and b.x0 < a.x1 - pad and a.y0 < b.y1 - pad and b.y0 < a.y1 - pad:
                out.append((items[i][0], items[j][0]))
    return out


# -- footer: provenance and fidelity ------------------------------------------------------------

def fidelity_warning(calculator: str) -> str | None:
    """The warning a figure must carry for a low-fidelity calculator (EMT, xtb, ML), else None."""
    notes = []
    for name in [c.strip() for c in str(calculator).split(",")]:
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):  # 'unknown (user-supplied ...)': no registry name
            continue  # (and no import of every calculator backend, ~1.5 s, in each drawing process)
        from descriptors.calculators.base import REGISTRY

        info = REGISTRY.get(name)
        if info is None:
            try:  # the registry fills when the backends are imported
                import descriptors.calculators  # noqa: F401
                info = REGISTRY.get(name)
            except Exception:  # pragma: no cover - a broken optional backend must not stop a figure
                info = None
        if info is not None and info.fidelity != "dft":
            what = "NOT CHEMISTRY" if info.fidelity == "test-only" else f"{info.fidelity} level, not DFT"
            notes.append(f"{name} ({info.fidelity}): {what}. {info.note}")
    return " ".join(notes) or None


def footer(fig, res, extra: str = "", margins=(0.85, 0.25, 0.4, 0.6), gaps=(0.0, 0.0)) -> None:
    """Lay the figure out, then write under it the provenance line and, in red, the fidelity
    warning and the flagged-data note.

    The layout is fixed margins in inches (left, right, top, bottom above the footer lines; ``gaps``:
    between the columns and rows of a grid), not ``tight_layout``: that measures every tick label
    of every axes twice (a fifth of a figure's time, half a second for a 10-panel grid).  Text
    reaching past the figure's edge (a legend beside the axes) is kept by the tight box the figure
    is saved with (plots._save); the margins keep the labels clear of the footer and each other
    (the tests check every pair of texts)."""
    lines = [(f"{res.dataset.calculator}; corrections: {res.dataset.corrections}; pH {res.settings.pH:g}, "
              f"{res.settings.temperature:g} K", "0.35")]
    warn = fidelity_warning(res.dataset.calculator)
    if warn:
        lines.append((warn, "red"))
    lines += [(part, "red") for part in extra.split("\n") if part]  # one footer line per note line
    w, h = fig.get_size_inches()
    left, right, top, bottom = margins
    gs = fig.axes[0].get_subplotspec().get_gridspec() if fig.axes and fig.axes[0].get_subplotspec() else None
    nrow, ncol = gs.get_geometry() if gs is not None else (1, 1)
    aw = (w - left - right - (ncol - 1) * gaps[0]) / ncol  # the axes' size, for matplotlib's relative spaces
    ah = (h - top - bottom - (0.12 + 0.14 * len(lines)) - (nrow - 1) * gaps[1]) / nrow
    fig.subplots_adjust(left=left / w, right=1 - right / w, top=1 - top / h,
                        bottom=(0.12 + 0.14 * len(lines) + bottom) / h, wspace=gaps[0] / aw, hspace=gaps[1] / ah)
    from matplotlib.transforms import blended_transform_factory

    tr = blended_transform_factory(fig.transFigure, fig.dpi_scale_trans)
    for k, (text, color) in enumerate(reversed(lines)):
        fig.text(0.01, 0.03 + 0.14 * k, text, fontsize=7, color=color, ha="left", va="bottom", transform=tr,
                 wrap=False)
