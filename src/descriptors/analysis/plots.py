"""Figures of an analysis (matplotlib, Agg backend), each written as PNG (and SVG on request:
``plot_all(svg=True)``, ``no3rr analyze --svg``, ``svg = true`` in ``[analysis]``):

- ``scaling_<descriptor>``: every fitted intermediate against the descriptor, catalysts labelled,
  with the fitted line, its equation, R^2 and MAE;
- ``volcano_<descriptor>``: U_L against the descriptor from the scaling relations, every step's
  limiting line, the computed catalysts as labelled points and the apex;
- ``volcano_2d``: U_L as a heat map over two descriptors with the catalysts;
- ``fed_<catalyst>``: free-energy diagram of the best route at U = 0 and at U = U_L;
- ``product_map_<name>``: favoured product over two descriptors (productmap.py).

Every point shows the quality of its data (figtext.QUALITY_STYLE: valid, unconverged, flagged,
each with a legend entry); every figure of a low-fidelity calculator carries its warning; an apex
outside the range of the computed catalysts is drawn hollow and labelled "extrapolated".
Labels are placed so that no two texts overlap (figtext.place_labels; tests check it).
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from descriptors.analysis.figlist import figure_jobs  # noqa: E402
from descriptors.analysis.figtext import (  # noqa: E402
    QUALITY_STYLE,
    _share_mathtext_cache,
    catalyst_quality,
    footer,
    place_labels,
    point_quality,
    scatter_by_quality,
    tex,
)
from descriptors.analysis.volcano import apex_extrapolated  # noqa: E402

__all__ = ["plot_all", "plot_scaling", "plot_volcano_1d", "plot_volcano_2d", "plot_free_energy_diagram",
           "plot_product_map", "draw_all", "apex_extrapolated", "catalyst_quality"]

# Laid out at the resolution the PNG is written at, so the text measured for the layout (label
# placement, tight boxes) is the text drawn, and mathtext parsed once serves both.
_share_mathtext_cache()  # one cache of parsed mathtext for every figure of this process (figtext.py)
plt.rcParams.update({"font.size": 11, "axes.labelsize": 12, "axes.titlesize": 12, "legend.fontsize": 9,
                     "savefig.dpi": 200, "figure.dpi": 200})


_tex = tex  # the name other modules used


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")


def _save(fig, out: Path, stem: str, svg: bool = False) -> dict[str, Path]:
    # The tight box once for every format (savefig's bbox_inches="tight" lays the figure out once
    # more per format); the layout is fixed (figtext.footer), so no draw is needed before it.  The
    # SVG, which lays out every text again (a quarter of the drawing time), only on request.
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
    paths = {f"{stem}.png": out / f"{stem}.png"}
    _write_png(fig, box, paths[f"{stem}.png"])
    if svg:
        paths[f"{stem}.svg"] = out / f"{stem}.svg"
        fig.savefig(paths[f"{stem}.svg"], bbox_inches=box)
    plt.close(fig)
    return paths


def _write_png(fig, box, path: Path) -> None:
    """The figure inside ``box`` as PNG: drawn by Agg, written as RGB (the figure is opaque; a fourth
    of the bytes to compress less) with fast zlib (level 1: a third of level 6's time, ~10 % more
    bytes).  Compressing is a fifth of the drawing time."""
    import io

    from PIL import Image, PngImagePlugin

    fig.savefig(io.BytesIO(), format="raw", bbox_inches=box)  # draws; the pixels stay in the canvas
    rgba = np.asarray(fig.canvas.buffer_rgba())
    im = Image.fromarray(rgba[..., :3] if rgba[..., 3].min() == 255 else rgba)
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    im.save(path, format="png", compress_level=1, dpi=(fig.dpi, fig.dpi), pnginfo=info)


def _flag_note(res) -> str:
    n = sum(1 for c in res.dataset.flagged if res.dataset.flagged[c])
    if not n:
        return ""
    return (f"{n} catalyst(s) use geometry-flagged energies (use_flagged): marked X; see 'flagged_used' in "
            "analysis_summary.csv")


def plot_scaling(res, descriptor: str, out: Path, save: bool = True, svg: bool = False):
    fits = {t: f for t, f in res.fits.get(descriptor, {}).items() if not f.identity}
    if not fits:
        return {}
    n = len(fits)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    # One x axis for the grid (every panel's x is the descriptor): its tick labels and title only under
    # the lowest panel of each column, at most 5 ticks on either axis.  A text layout costs ~1 ms and
    # every tick label is laid out in each pass; the grids were half of the drawing time.
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.6 * nrow), squeeze=False, sharex=True)
    for k, (ax, (t, f)) in enumerate(zip(axes.flat, fits.items())):
        lowest = k + ncol >= n  # no panel below it
        ax.tick_params(labelbottom=lowest)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        x = f.x[:, 0]
        q = [point_quality(res.dataset, c, [descriptor, t])[0] for c in f.labels]
        scatter_by_quality(ax, x, f.y, q, size=28)
        xx = np.linspace(x.min() - 0.2, x.max() + 0.2, 50)
        ax.plot(xx, f.predict(xx), color="C3", lw=1.5)
        ci = f.slopes_ci[0]
        ax.set_title(f"{tex(t)}: slope {f.slopes[0]:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]", fontsize=10)
        ax.text(0.03, 0.97, f"$y$ = {f.slopes[0]:.2f}$x$ {f.intercept:+.2f}\n$R^2$ = {f.r2:.2f}, MAE = {f.mae:.2f} eV",
                transform=ax.transAxes, va="top", fontsize=8, bbox=dict(fc="white", ec="0.8", alpha=0.8))
        if lowest:
            ax.set_xlabel(f"$\\Delta G$({tex(descriptor)}) / eV", fontsize=10)
        ax.set_ylabel(f"$\\Delta G$({tex(t)}) / eV", fontsize=10)
        pad = 0.12 * (np.ptp(f.y) or 1.0)
        ax.set_ylim(f.y.min() - pad, f.y.max() + 2.5 * pad)  # room for the equation box
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles = {st.label: plt.Line2D([], [], ls="", marker=st.marker, color=st.face, mec="k")
               for k, st in QUALITY_STYLE.items()
               if any(point_quality(res.dataset, c, [descriptor, t])[0] == k for t, f in fits.items() for c in f.labels)}
    h = fig.get_figheight()
    fig.legend(handles.values(), handles.keys(), loc="upper right", bbox_to_anchor=(0.995, 1 - 0.3 / h), fontsize=8,
               frameon=False, ncol=len(handles))
    fig.suptitle(f"Scaling relations against {tex(descriptor)} ({int(100 * res.settings.confidence)}% CI of slope)",
                 x=0.01, y=1 - 0.05 / h, ha="left", va="top")
    footer(fig, res, _flag_note(res), margins=(0.8, 0.15, 0.95, 0.55), gaps=(0.95, 0.4))
    for ax, (t, f) in zip(axes.flat, fits.items()):
        place_labels(ax, f.x[:, 0], f.y, list(f.labels), fontsize=7)
    return _save(fig, out, f"scaling_{_slug(descriptor)}", svg) if save else fig


def _finite(y) -> np.ndarray:
    """``y`` with non-finite values as NaN, which matplotlib draws as gaps."""
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y), y, np.nan)


def plot_volcano_1d(res, descriptor: str, out: Path, save: bool = True, svg: bool = False):
    v = res.volcanoes_1d.get(descriptor)
    if v is None:
        return {}
    fig, ax = plt.subplots(figsize=(10.0, 5.4))
    cmap = plt.get_cmap("tab20")
    for i, (lab, line) in enumerate(v.lines.items()):
        ax.plot(v.x, _finite(line), lw=0.9, ls=("--", "-.", ":")[i % 3], color=cmap(i % 20), alpha=0.8, label=tex(lab))
    ul = _finite(v.U_L)  # -inf where every route is closed (an uphill chemical step): drawn as a gap
    gap = " (gaps: no open route)" if np.isnan(ul).any() else ""
    ax.plot(v.x, ul, color="k", lw=2.2, label=f"$U_L$ (best path){gap}")
    pts = [(c, g[descriptor], res.pathways[c].U_L) for c, g in res.dataset.g_ads.items()
           if descriptor in g and res.pathways[c].U_L is not None]
    if pts:
        scatter_by_quality(ax, [p[1] for p in pts], [p[2] for p in pts], [catalyst_quality(res, p[0])[0] for p in pts])
    extra = apex_extrapolated(res, descriptor)
    xs = [g[descriptor] for g in res.dataset.g_ads.values() if descriptor in g]
    what = (f" EXTRAPOLATED (data: {min(xs):.2f} to {max(xs):.2f} eV)" if extra else "") + \
        (" at range edge" if v.apex_on_edge else "")
    ax.plot([v.apex_x], [v.apex_U_L], marker="*", ms=15, color="none" if extra else "gold", mec="k", mew=1.2,
            zorder=6, ls="", label=f"apex: {v.apex_x:.2f} eV, {v.apex_U_L:.2f} V{what}")
    if xs:
        ax.axvspan(min(xs), max(xs), color="0.85", alpha=0.4, zorder=0, label="range of the computed catalysts")
    lo = min(np.nanmin(ul) if np.isfinite(ul).any() else 0.0, min((p[2] for p in pts), default=0)) - 0.3
    hi = max(v.apex_U_L, max((p[2] for p in pts), default=0)) + 0.4
    ax.set_ylim(lo, hi)
    ax.set_xlim(v.x[0], v.x[-1])
    ax.set_xlabel(f"$\\Delta G$({tex(descriptor)}) / eV")
    ax.set_ylabel("Limiting potential $U_L$ / V vs RHE")
    ax.set_title(f"NO$_3^-$RR volcano in $\\Delta G$({tex(descriptor)})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    missing = sorted(c for c, pw in res.pathways.items() if pw.U_L is None)
    gone = (f"not shown: {len(missing)} of {len(res.pathways)} catalysts have no U_L (no complete route; reasons in "
            f"analysis_summary.csv): {', '.join(missing)}" if missing else "")
    footer(fig, res, "\n".join(p for p in (_notes(_flag_note(res), _r2_note(res, f"1D volcano in {descriptor}:")),
                                            gone) if p), margins=(0.8, 0.2, 0.4, 0.6))
    if pts:
        place_labels(ax, [p[1] for p in pts], [p[2] for p in pts], [p[0] for p in pts],
                     avoid_markers=[(v.apex_x, v.apex_U_L, 15)])
    return _save(fig, out, f"volcano_{_slug(descriptor)}", svg) if save else fig


def plot_volcano_2d(res, out: Path, save: bool = True, svg: bool = False):
    v = res.volcano_2d
    if v is None:
        return {}
    d1, d2 = v.descriptors
    fig, ax = plt.subplots(figsize=(7.4, 5.6))
    vmin = max(float(v.U_L.min()), v.apex_U_L - 3.0)
    cs = ax.contourf(v.x, v.y, np.clip(v.U_L, vmin, None), levels=24, cmap="viridis")
    ax.contour(v.x, v.y, v.U_L, levels=8, colors="white", linewidths=0.4, alpha=0.6)
    cb = fig.colorbar(cs, ax=ax)
    cb.set_label("Limiting potential $U_L$ / V vs RHE")
    pts = [(c, g[d1], g[d2]) for c, g in res.dataset.g_ads.items() if d1 in g and d2 in g]
    if pts:
        scatter_by_quality(ax, [p[1] for p in pts], [p[2] for p in pts], [catalyst_quality(res, p[0])[0] for p in pts],
                           size=30, valid_face="white")
    extra = apex_extrapolated(res, (d1, d2))
    ax.plot([v.apex[0]], [v.apex[1]], marker="*", ms=15, color="none" if extra else "gold", mec="k", mew=1.2,
            ls="", zorder=6, label="apex" + (" (EXTRAPOLATED beyond the data)" if extra else "")
            + (" (range edge)" if v.apex_on_edge else ""))
    ax.set_xlabel(f"$\\Delta G$({tex(d1)}) / eV")
    ax.set_ylabel(f"$\\Delta G$({tex(d2)}) / eV")
    ax.set_title(f"2D volcano; apex ({v.apex[0]:.2f}, {v.apex[1]:.2f}) eV, $U_L$ = {v.apex_U_L:.2f} V", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    footer(fig, res, _notes(_flag_note(res), _r2_note(res, "2D volcano:")), margins=(0.8, 0.9, 0.4, 0.9))
    if pts:
        place_labels(ax, [p[1] for p in pts], [p[2] for p in pts], [p[0] for p in pts], color="white",
                     bbox=dict(fc="black", alpha=0.45, pad=1, ec="none"), avoid_markers=[(*v.apex, 15)])
    return _save(fig, out, "volcano_2d", svg) if save else fig


def plot_free_energy_diagram(res, catalyst: str, out: Path, save: bool = True, svg: bool = False):
    pw = res.pathways[catalyst]
    if pw.U_L is None or pw.best is None:
        return {}
    fig, ax = plt.subplots(figsize=(10.0, 4.8))
    w = 0.6
    prof0 = _route_profile(pw, 0.0)
    names = [n for n, _ in prof0]
    profiles = [(0.0, "C0", prof0), (pw.U_L, "C3", _route_profile(pw, pw.U_L))]
    # A first step that dwarfs the rest (e.g. NO3-(aq) -> *NO3 on EMT) would flatten the diagram: the
    # axis then covers the other states and the first level is drawn at the edge with its value.
    rest = [g for _, _, p in profiles for _, g in p[1:]]
    span = (max(rest) - min(rest)) if rest else 1.0
    steps0 = [abs(prof0[k][1] - prof0[k - 1][1]) for k in range(1, len(prof0))]
    off_scale = len(steps0) > 2 and steps0[0] > max(1.5, 3 * max(steps0[1:]))
    lo, hi = (min(rest) - 0.15 * span - 0.1, max(rest) + 0.25 * span + 0.1) if off_scale else (None, None)
    clo, chi = (lo + 0.04 * (hi - lo), hi - 0.04 * (hi - lo)) if off_scale else (None, None)  # inside the frame
    for U, color, prof in profiles:
        for i, (name, g) in enumerate(prof):
            gd = float(np.clip(g, clo, chi)) if off_scale else g
            ax.plot([i - w / 2, i + w / 2], [gd, gd], color=color, lw=2.4, ls="--" if (off_scale and gd != g) else "-")
            if i:
                gp = float(np.clip(prof[i - 1][1], clo, chi)) if off_scale else prof[i - 1][1]
                ax.plot([i - 1 + w / 2, i - w / 2], [gp, gd], color=color, lw=0.8, ls=":")
        ax.plot([], [], color=color, lw=2.4, label=f"U = {U:+.2f} V vs RHE" + (" ($U_L$)" if U else ""))
    if off_scale:
        ax.set_ylim(lo, hi)
        ax.plot([], [], color="0.3", lw=2.4, ls="--", label=f"{tex(names[0])}: off scale, G = {prof0[0][1]:+.2f} eV\n"
                f"(first step $\\Delta G$ = {prof0[1][1] - prof0[0][1]:+.2f} eV)")
    a, b = pw.PDS.split("->")
    i = 1 + [st.label for st in pw.best.steps].index(pw.PDS)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([tex(n) for n in names], fontsize=9)
    ax.set_ylabel("Free energy $G$ / eV")
    ax.set_xlabel("Reaction coordinate")
    ax.axhline(0, color="0.7", lw=0.5)
    q, why = catalyst_quality(res, catalyst)
    bound = " (upper bound: averaged 2e step)" if pw.best.upper_bound else ""
    prod = f"; favoured at $U_L$: {tex(pw.at_U_L.product)}" if pw.at_U_L and pw.at_U_L.product else ""
    ax.set_title(f"{catalyst}: {pw.branch or '-'} branch, $U_L$ = {pw.U_L:.2f} V vs RHE{bound}{prod}"
                 + ("  [FLAGGED data]" if q == "flagged" else "  [unconverged data]" if q == "unconverged" else ""),
                 fontsize=10)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    used = res.dataset.flagged.get(catalyst) if q == "flagged" else None
    footer(fig, res, (f"{catalyst}: FLAGGED geometries used for {', '.join(used)} (reasons: analysis_summary.csv, "
                      "report.html)") if used else (f"{catalyst}: {why}" if why else ""), margins=(0.8, 0.2, 0.35, 0.75))
    # stagger long tick labels onto two rows if neighbours would touch
    r = fig.canvas.get_renderer()
    ax.xaxis.get_tightbbox(r)  # places and lays out the x tick labels (not the whole figure)
    ticks = ax.get_xticklabels()
    for k in range(1, len(ticks)):
        if ticks[k].get_window_extent(r).x0 < ticks[k - 1].get_window_extent(r).x1 + 2 and k % 2:
            ticks[k].set_y(-0.07)
    gi = float(np.clip(prof0[i][1], clo, chi)) if off_scale else prof0[i][1]
    per = f", {pw.dG_PDS / pw.best.PDS.n_e:+.2f} eV per e$^-$" if pw.best.PDS.n_e > 1 else ""
    place_labels(ax, [i], [gi], [f"PDS {tex(a)} → {tex(b)}\n$\\Delta G$ = {pw.dG_PDS:+.2f} eV{per}"], avoid_points=False,
                 bbox=dict(fc="white", ec="0.7", alpha=0.9, pad=2),
                 avoid_data=[(k - w / 2, float(np.clip(g, clo, chi)) if off_scale else g, k + w / 2,
                              float(np.clip(g, clo, chi)) if off_scale else g)
                             for _, _, p in profiles for k, (_, g) in enumerate(p)])
    return _save(fig, out, f"fed_{_slug(catalyst)}", svg) if save else fig


def _route_profile(pw, U: float) -> list[tuple[str, float]]:
    """(state, G) along the best route at potential U, starting from the reactant at 0."""
    first = pw.best.steps[0].label.split("->")[0]
    return [(first, 0.0)] + [(lab.split("->")[1], g) for lab, g in pw.best.profile(U)]


def _r2_note(res, prefix: str) -> str:
    """The R^2 warning of a volcano (compute.py), for the figure's footer ('' if there is none)."""
    return "; ".join("warning: " + w.removeprefix(prefix).strip()
                     for w in getattr(res, "volcano_warnings", []) if w.startswith(prefix))


def _notes(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def plot_product_map(res, name: str, out: Path, save: bool = True, svg: bool = False):
    """Favoured product over two descriptors (productmap.py): one colour per product group, the
    catalysts at their computed descriptors, coloured by their own computed product."""
    from matplotlib.colors import ListedColormap

    m = res.product_maps.get(name)
    if m is None:
        return {}
    groups = sorted(set(m.product.astype(str).ravel()) | {p[3] for p in m.points})
    idx = {g: i for i, g in enumerate(groups)}
    colors = [plt.get_cmap("tab10")(i % 10) for i in range(len(groups))]
    cmap = ListedColormap(colors)
    fig, ax = plt.subplots(figsize=(6.6, 5.0))
    z = np.vectorize(idx.get)(m.product.astype(str)).astype(float)
    ax.pcolormesh(m.x, m.y, z, cmap=cmap, vmin=-0.5, vmax=len(groups) - 0.5, shading="nearest", alpha=0.75)
    for c, x, y, p in m.points:
        ax.scatter([x], [y], s=40, color=colors[idx[p]], edgecolor="k", zorder=5)
    for g in groups:
        ax.scatter([], [], marker="s", s=60, color=colors[idx[g]], label=tex(g))
    ax.legend(title="favoured product at $U_L$", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    d1, d2 = m.descriptors
    ax.set_xlabel(f"$\\Delta G$({tex(d1)}) / eV")
    ax.set_ylabel(f"$\\Delta G$({tex(d2)}) / eV")
    ax.set_title(f"Product map over {tex(d1)}, {tex(d2)} (scaling relations; thermodynamic indicator)", fontsize=9)
    weak = ("weak relations (R² < 0.8): " + ", ".join(f"{t} {r:.2f}" for t, r in sorted(m.weak.items()))
            if m.weak else "")
    footer(fig, res, _notes(_flag_note(res), weak), margins=(0.8, 0.2, 0.35, 0.6))
    if m.points:
        place_labels(ax, [p[1] for p in m.points], [p[2] for p in m.points], [p[0] for p in m.points])
    return _save(fig, out, f"product_map_{_slug(name)}", svg) if save else fig


def draw_all(res, out: Path | None = None):
    """Every figure of an analysis as (stem, open Figure) pairs, not saved (the tests use it)."""
    figs = []
    for d in res.settings.descriptors:
        figs.append((f"scaling_{_slug(d)}", plot_scaling(res, d, out, save=False)))
        figs.append((f"volcano_{_slug(d)}", plot_volcano_1d(res, d, out, save=False)))
    figs.append(("volcano_2d", plot_volcano_2d(res, out, save=False)))
    for c in res.pathways:
        figs.append((f"fed_{_slug(c)}", plot_free_energy_diagram(res, c, out, save=False)))
    for name in getattr(res, "product_maps", {}):
        figs.append((f"product_map_{_slug(name)}", plot_product_map(res, name, out, save=False)))
    return [(s, f) for s, f in figs if not isinstance(f, dict)]


_RES = None  # the analysis the forked drawing processes inherit


def _draw_one(job) -> dict[str, Path]:
    kind, arg, fig_dir, svg = job
    if kind == "volcano_2d":
        return plot_volcano_2d(_RES, fig_dir, svg=svg)
    draw = {"scaling": plot_scaling, "volcano": plot_volcano_1d, "product_map": plot_product_map,
            "fed": plot_free_energy_diagram}[kind]
    return draw(_RES, arg, fig_dir, svg=svg)


def draw_in_worker(res, job) -> dict[str, Path]:
    """One figure of ``figlist.figure_jobs`` in a process of the caller's pool (outputs.py)."""
    global _RES
    _RES = res
    try:
        return _draw_one(job)
    finally:
        _RES = None


def warm_worker() -> int:
    """A pool worker's first drawing task: matplotlib imported (this module) and its fonts loaded,
    while the driver still computes the analysis."""
    fig = plt.figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "$^*$NO$_{3}$ 0.1")
    fig.canvas.draw()
    plt.close(fig)
    return __import__("os").getpid()


def plot_all(res, out: Path, workers: int | None = None, svg: bool = False) -> dict[str, Path]:
    """Every figure as PNG (and SVG if ``svg``), drawn by up to ``workers`` forked processes (default:
    the CPUs this process may use, at most 4); drawing and saving is most of an analysis' time.
    (outputs.write_outputs can hand the same jobs to the caller's process pool instead.)"""
    global _RES
    import os

    out = Path(out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    jobs = figure_jobs(res, fig_dir, svg)
    if workers is None:
        workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    paths: dict[str, Path] = {}
    _RES = res
    try:
        if workers > 1 and len(jobs) > 2 and "fork" in __import__("multiprocessing").get_all_start_methods():
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as ex:
                for p in ex.map(_draw_one, jobs):
                    paths.update(p)
        else:
            for j in jobs:
                paths.update(_draw_one(j))
    finally:
        _RES = None
    return paths
