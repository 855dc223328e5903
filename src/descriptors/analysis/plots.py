"""Figures of an analysis (matplotlib, Agg backend), each written as PNG and SVG:

- ``scaling_<descriptor>``: every fitted intermediate against the descriptor, catalysts labelled,
  with the fitted line, its equation, R^2 and MAE;
- ``volcano_<descriptor>``: U_L against the descriptor from the scaling relations, every step's
  limiting line, the computed catalysts as labelled points and the apex;
- ``volcano_2d``: U_L as a heat map over two descriptors with the catalysts;
- ``fed_<catalyst>``: free-energy diagram of the best route at U = 0 and at U = U_L;
- ``product_map_<name>``: favoured product over two descriptors (productmap.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_all", "plot_scaling", "plot_volcano_1d", "plot_volcano_2d", "plot_free_energy_diagram",
           "plot_product_map"]

plt.rcParams.update({"font.size": 11, "axes.labelsize": 12, "axes.titlesize": 12, "legend.fontsize": 9,
                     "savefig.dpi": 200, "figure.dpi": 100})


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")


def _tex(species: str) -> str:
    """'*NH2OH' -> '*NH$_2$OH' for labels."""
    return re.sub(r"(?<=[A-Za-z)])(\d+)", r"$_{\1}$", species)


def _save(fig, out: Path, stem: str) -> dict[str, Path]:
    paths = {}
    for ext in ("png", "svg"):
        p = out / f"{stem}.{ext}"
        fig.savefig(p, bbox_inches="tight")
        paths[f"{stem}.{ext}"] = p
    plt.close(fig)
    return paths


def _label_points(ax, xs, ys, labels, fontsize=8):
    for x, y, lab in zip(xs, ys, labels):
        ax.annotate(lab, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=fontsize)


def _footer(fig, res) -> None:
    """Provenance line under the axes: calculator, corrections, conditions."""
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.text(0.01, 0.005, f"{res.dataset.calculator}; corrections: {res.dataset.corrections}; "
             f"pH {res.settings.pH:g}, {res.settings.temperature:g} K", fontsize=7, color="0.35", ha="left",
             va="bottom")


def plot_scaling(res, descriptor: str, out: Path) -> dict[str, Path]:
    fits = {t: f for t, f in res.fits.get(descriptor, {}).items() if not f.identity}
    if not fits:
        return {}
    n = len(fits)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.5 * nrow), squeeze=False)
    for ax, (t, f) in zip(axes.flat, fits.items()):
        x = f.x[:, 0]
        ax.scatter(x, f.y, s=28, color="C0", zorder=3)
        _label_points(ax, x, f.y, f.labels, fontsize=7)
        xx = np.linspace(x.min() - 0.2, x.max() + 0.2, 50)
        ax.plot(xx, f.predict(xx), color="C3", lw=1.5)
        ci = f.slopes_ci[0]
        ax.set_title(f"{_tex(t)}: slope {f.slopes[0]:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]", fontsize=10)
        ax.text(0.03, 0.97, f"$y$ = {f.slopes[0]:.2f}$x$ {f.intercept:+.2f}\n$R^2$ = {f.r2:.2f}, MAE = {f.mae:.2f} eV",
                transform=ax.transAxes, va="top", fontsize=8, bbox=dict(fc="white", ec="0.8", alpha=0.8))
        ax.set_xlabel(f"$\\Delta G$({_tex(descriptor)}) / eV")
        ax.set_ylabel(f"$\\Delta G$({_tex(t)}) / eV")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"Scaling relations against {_tex(descriptor)} ({int(100 * res.settings.confidence)}% CI of slope)",
                 y=1.0)
    _footer(fig, res)
    return _save(fig, out, f"scaling_{_slug(descriptor)}")


def plot_volcano_1d(res, descriptor: str, out: Path) -> dict[str, Path]:
    v = res.volcanoes_1d.get(descriptor)
    if v is None:
        return {}
    fig, ax = plt.subplots(figsize=(9.6, 5.0))
    cmap = plt.get_cmap("tab20")
    for i, (lab, line) in enumerate(v.lines.items()):
        ax.plot(v.x, line, lw=0.9, ls=("--", "-.", ":")[i % 3], color=cmap(i % 20), alpha=0.8,
                label=_tex(lab.replace("->", " → ")))
    ax.plot(v.x, v.U_L, color="k", lw=2.2, label="$U_L$ (best path)")
    pts = [(c, g[descriptor], res.pathways[c].U_L) for c, g in res.dataset.g_ads.items()
           if descriptor in g and res.pathways[c].U_L is not None]
    if pts:
        ax.scatter([p[1] for p in pts], [p[2] for p in pts], s=36, color="C3", edgecolor="k", zorder=5,
                   label="catalysts (computed $U_L$)")
        _label_points(ax, [p[1] for p in pts], [p[2] for p in pts], [p[0] for p in pts])
    ax.plot([v.apex_x], [v.apex_U_L], marker="*", ms=14, color="gold", mec="k", zorder=6,
            label=f"apex: {v.apex_x:.2f} eV, {v.apex_U_L:.2f} V" + (" (range edge)" if v.apex_on_edge else ""))
    lo = min(v.U_L.min(), min((p[2] for p in pts), default=0)) - 0.3
    hi = max(v.apex_U_L, max((p[2] for p in pts), default=0)) + 0.4
    ax.set_ylim(lo, hi)
    ax.set_xlim(v.x[0], v.x[-1])
    ax.set_xlabel(f"$\\Delta G$({_tex(descriptor)}) / eV")
    ax.set_ylabel("Limiting potential $U_L$ / V vs RHE")
    ax.set_title(f"NO$_3$RR volcano in $\\Delta G$({_tex(descriptor)})")
    _r2_note(ax, res, f"1D volcano in {descriptor}:")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    _footer(fig, res)
    return _save(fig, out, f"volcano_{_slug(descriptor)}")


def plot_volcano_2d(res, out: Path) -> dict[str, Path]:
    v = res.volcano_2d
    if v is None:
        return {}
    d1, d2 = v.descriptors
    fig, ax = plt.subplots(figsize=(6.2, 5.0))
    vmin = max(float(v.U_L.min()), v.apex_U_L - 3.0)
    cs = ax.contourf(v.x, v.y, np.clip(v.U_L, vmin, None), levels=24, cmap="viridis")
    ax.contour(v.x, v.y, v.U_L, levels=8, colors="white", linewidths=0.4, alpha=0.6)
    cb = fig.colorbar(cs, ax=ax)
    cb.set_label("Limiting potential $U_L$ / V vs RHE")
    pts = [(c, g[d1], g[d2]) for c, g in res.dataset.g_ads.items() if d1 in g and d2 in g]
    if pts:
        ax.scatter([p[1] for p in pts], [p[2] for p in pts], s=30, color="white", edgecolor="k", zorder=5)
        for c, x, y in pts:
            ax.annotate(c, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=8, color="white",
                        bbox=dict(fc="black", alpha=0.35, pad=1, ec="none"))
    ax.plot([v.apex[0]], [v.apex[1]], marker="*", ms=15, color="gold", mec="k", zorder=6)
    ax.set_xlabel(f"$\\Delta G$({_tex(d1)}) / eV")
    ax.set_ylabel(f"$\\Delta G$({_tex(d2)}) / eV")
    _r2_note(ax, res, "2D volcano:")
    ax.set_title(f"2D volcano; apex ({v.apex[0]:.2f}, {v.apex[1]:.2f}) eV, $U_L$ = {v.apex_U_L:.2f} V"
                 + (" (range edge)" if v.apex_on_edge else ""), fontsize=11)
    _footer(fig, res)
    return _save(fig, out, "volcano_2d")


def _r2_note(ax, res, prefix: str) -> None:
    """The R^2 warning of the volcano (compute.py), in red under the axes, where there is one."""
    import textwrap

    for w in getattr(res, "volcano_warnings", []):
        if w.startswith(prefix):
            ax.text(0.0, -0.14, textwrap.fill("warning: " + w.removeprefix(prefix).strip(), 100),
                    transform=ax.transAxes, va="top", fontsize=7, color="C3")


def plot_free_energy_diagram(res, catalyst: str, out: Path) -> dict[str, Path]:
    pw = res.pathways[catalyst]
    if pw.U_L is None or pw.best is None:
        return {}
    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    w = 0.6
    first = pw.best.steps[0].label.split("->")[0]
    for U, color in ((0.0, "C0"), (pw.U_L, "C3")):
        prof = [(first, 0.0)] + [(lab.split("->")[1], g) for lab, g in pw.best.profile(U)]
        for i, (name, g) in enumerate(prof):
            ax.plot([i - w / 2, i + w / 2], [g, g], color=color, lw=2.4)
            if i:
                ax.plot([i - 1 + w / 2, i - w / 2], [prof[i - 1][1], g], color=color, lw=0.8, ls=":")
        ax.plot([], [], color=color, lw=2.4, label=f"U = {U:+.2f} V vs RHE" + (" ($U_L$)" if U else ""))
    prof0 = [(first, 0.0)] + [(lab.split("->")[1], g) for lab, g in pw.best.profile(0.0)]
    names = [n for n, _ in prof0]
    i = 1 + [s.label for s in pw.best.steps].index(pw.PDS)
    a, b = pw.PDS.split("->")
    per = f", {pw.dG_PDS / pw.best.PDS.n_e:+.2f} eV per e$^-$" if pw.best.PDS.n_e > 1 else ""
    ax.annotate(f"PDS {_tex(a)} → {_tex(b)}\n$\\Delta G$ = {pw.dG_PDS:+.2f} eV{per}", xy=(i, prof0[i][1]),
                xytext=(0, 28), textcoords="offset points", ha="center", fontsize=8,
                arrowprops=dict(arrowstyle="->", lw=0.8))
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([_tex(n) for n in names], rotation=35, ha="right")
    ax.set_ylabel("Free energy $G$ / eV")
    ax.set_xlabel("Reaction coordinate")
    ax.axhline(0, color="0.7", lw=0.5)
    bound = " (upper bound: averaged 2e step)" if pw.best.upper_bound else ""
    prod = f"; favoured at $U_L$: {_tex(pw.at_U_L.product)}" if pw.at_U_L and pw.at_U_L.product else ""
    ax.set_title(f"{catalyst}: {pw.branch or '-'} branch, $U_L$ = {pw.U_L:.2f} V vs RHE{bound}{prod}", fontsize=10)
    ax.legend(frameon=False, loc="best")
    _footer(fig, res)
    return _save(fig, out, f"fed_{_slug(catalyst)}")


def plot_product_map(res, name: str, out: Path) -> dict[str, Path]:
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
        ax.annotate(c, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=8)
    for g in groups:
        ax.scatter([], [], marker="s", s=60, color=colors[idx[g]], label=_tex(g))
    ax.legend(title="favoured product at $U_L$", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    d1, d2 = m.descriptors
    ax.set_xlabel(f"$\\Delta G$({_tex(d1)}) / eV")
    ax.set_ylabel(f"$\\Delta G$({_tex(d2)}) / eV")
    ax.set_title(f"Product map over {_tex(d1)}, {_tex(d2)} (scaling relations; thermodynamic indicator)", fontsize=9)
    if m.weak:
        import textwrap

        txt = "weak relations (R² < 0.8): " + ", ".join(f"{t} {r:.2f}" for t, r in sorted(m.weak.items()))
        ax.text(0.0, -0.16, textwrap.fill(txt, 80), transform=ax.transAxes, va="top", fontsize=7, color="C3")
    _footer(fig, res)
    return _save(fig, out, f"product_map_{_slug(name)}")


def plot_all(res, out: Path) -> dict[str, Path]:
    out = Path(out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for d in res.settings.descriptors:
        paths.update(plot_scaling(res, d, fig_dir))
        paths.update(plot_volcano_1d(res, d, fig_dir))
    paths.update(plot_volcano_2d(res, fig_dir))
    for c in res.pathways:
        paths.update(plot_free_energy_diagram(res, c, fig_dir))
    for name in getattr(res, "product_maps", {}):
        paths.update(plot_product_map(res, name, fig_dir))
    return paths
