"""One self-contained HTML page of a screen or an analysis (``no3rr report OUT``).

Everything is inside the file: the figures as base64 PNG, a few lines of vanilla JavaScript that
sort the summary table by a click on its header, no network access.  The page shows the summary
(U_L, PDS, branch, product when the analysis gives one, HER margin, data quality), the figures,
every anomaly with its reason (flagged and unconverged values, missing species, volcano errors),
the calculator with its settings and fidelity, the conventions and the versions.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["write_report", "find_analysis", "SUMMARY_FIELDS"]

SUMMARY_FIELDS = [("catalyst", "Catalyst"), ("U_L_V", "U_L / V"), ("PDS", "PDS"), ("branch", "Branch"),
                  ("N_product", "Product"), ("product", "Product"), ("U_L_minus_U_L_HER_V", "U_L - U_L(HER) / V"),
                  ("favours", "Favours"), ("data_quality", "Data"), ("flagged_used", "Flagged species used"),
                  ("missing", "Missing")]

_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var tb = th.closest('table').tBodies[0], rows = Array.from(tb.rows);
    var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v, fx = parseFloat(x), fy = parseFloat(y);
      if (!isNaN(fx) && !isNaN(fy)) return dir * (fx - fy);
      if (x === '') return 1; if (y === '') return -1;
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { tb.appendChild(r); });
  });
});
"""

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:14px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#eee;cursor:pointer}tr.flagged td{background:#fde2e2}tr.unconverged td{background:#fff3d6}
.warn{background:#c00;color:#fff;padding:.6em 1em;font-weight:bold}.fig{max-width:100%;border:1px solid #ddd}
code{background:#f4f4f4}figure{margin:1em 0}
"""


def find_analysis(out: Path) -> Path | None:
    """The analysis directory of OUT (a screen output with analysis/, or an analysis itself)."""
    for d in (out, out / "analysis"):
        if (d / "analysis_summary.json").is_file():
            return d
    return None


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _read_csv(p: Path) -> list[dict]:
    if not p.is_file():
        return []
    with p.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("no3rr-descriptors", "ase", "numpy", "scipy", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _fidelity(calculator: str) -> str:
    import descriptors.calculators  # noqa: F401  (fills the registry)
    from descriptors.calculators.base import REGISTRY

    parts = []
    for name in str(calculator).split(","):
        info = REGISTRY.get(name.strip())
        parts.append(f"{name.strip()}: {info.fidelity} - {info.note}" if info else f"{name.strip()}: unknown fidelity")
    return "; ".join(parts)


def write_report(out: str | Path, dest: str | Path | None = None) -> Path:
    """Write ``report.html`` for the screen or analysis directory ``out``; return its path."""
    out = Path(out)
    an = find_analysis(out)
    screen_dir = out if (out / "adsorption_energies.csv").is_file() else (out.parent if an == out else out)
    if an is None and not (screen_dir / "adsorption_energies.csv").is_file():
        raise ValueError(f"{out}: no analysis_summary.json and no adsorption_energies.csv; give the output directory "
                         "of `no3rr screen` or `no3rr analyze`")
    summary = json.loads((an / "analysis_summary.json").read_text()) if an else {}
    calc = summary.get("calculator") or next((r.get("calculator") for r in _read_csv(screen_dir / "adsorption_energies.csv")), "")
    fid = _fidelity(calc) if calc else "unknown"
    body = [f"<h1>NO<sub>3</sub><sup>-</sup>RR screen report: {_e(out.resolve().name)}</h1>"]
    if "test-only" in fid or "semi-empirical" in fid or ": ml" in fid:
        body.append(f"<p class='warn'>Low-fidelity calculator: {_e(fid)}</p>")
    cats = summary.get("catalysts", [])
    if cats:
        fields = [(k, t) for k, t in SUMMARY_FIELDS if any(k in r for r in cats)]
        body.append("<h2>Summary</h2><p>Click a column header to sort. Rows on flagged data are red, on "
                    "unconverged data amber.</p><table class='sortable' id='summary'><thead><tr>"
                    + "".join(f"<th>{_e(t)}</th>" for _, t in fields) + "</tr></thead><tbody>")
        for r in cats:
            q = r.get("data_quality") or ("flagged" if r.get("flagged_used") else "valid")
            cells = []
            for k, _ in fields:
                v = r.get(k)
                shown = f"{v:+.3f}" if isinstance(v, float) else ("" if v is None else v)
                if k == "U_L_V" and v is not None and r.get("U_L_upper_bound"):
                    shown = f"{shown}*"  # as in the terminal: an averaged 2-electron step
                cells.append(f"<td data-v='{_e(v)}'>{_e(shown)}</td>")
            body.append(f"<tr class='{_e(q)}'>" + "".join(cells) + "</tr>")
        body.append("</tbody></table>")
        if any(r.get("U_L_upper_bound") and r.get("U_L_V") is not None for r in cats):
            body.append("<p>* upper bound: an averaged 2-electron step (its protonated intermediate not "
                        "computed)</p>")
    figs = sorted((an / "figures").glob("*.png")) if an else []
    index = an / "figures" / "index.json" if an else None
    if index is not None and index.is_file():  # only the figures of the current analysis
        listed = {Path(v).name for v in json.loads(index.read_text()).get("figures", {}).values()}
        figs = [p for p in figs if p.name in listed]
    if figs:
        body.append("<h2>Figures</h2>")
        for p in sorted(figs, key=lambda p: (not p.stem.startswith("volcano"), not p.stem.startswith("fed"), p.stem)):
            b64 = base64.b64encode(p.read_bytes()).decode()
            body.append(f"<figure><img class='fig' alt='{_e(p.stem)}' src='data:image/png;base64,{b64}'>"
                        f"<figcaption>{_e(p.name)}</figcaption></figure>")
    body.append("<h2>Anomalies</h2><ul id='anomalies'>")
    n_anom = 0
    for r in _read_csv(screen_dir / "adsorption_energies.csv"):
        why = r.get("flag") or ("" if r.get("valid", "True") == "True" else r.get("anomaly"))
        if why or r.get("anomaly"):
            n_anom += 1
            body.append(f"<li>{_e(r.get('catalyst'))} *{_e(r.get('adsorbate'))} (E_ads {_e(r.get('E_ads_eV'))} eV): "
                        f"{_e(why or r.get('anomaly'))}</li>")
    for r in cats:
        for k in ("flagged_used", "unconverged_used", "missing", "notes"):
            if r.get(k):
                n_anom += 1
                body.append(f"<li>{_e(r['catalyst'])}: {_e(k.replace('_', ' '))}: {_e(r[k])}</li>")
    for e in summary.get("volcano_errors", []):
        n_anom += 1
        body.append(f"<li>{_e(e)}</li>")
    for key, v in (summary.get("volcanoes_1d") or {}).items():
        if v.get("apex_extrapolated"):
            n_anom += 1
            body.append(f"<li>1D volcano in {_e(key)}: apex extrapolated beyond the computed catalysts</li>")
    if (summary.get("volcano_2d") or {}).get("apex_extrapolated"):
        n_anom += 1
        body.append("<li>2D volcano: apex extrapolated beyond the computed catalysts</li>")
    vsum = screen_dir / "verify_summary.json"  # one clean reference per catalyst at the verify level
    for g in (json.loads(vsum.read_text()).get("clean_references") or []) if vsum.is_file() else []:
        n_anom += 1
        body.append(f"<li>{_e(g['catalyst'])}: {g['clean_models']} relaxed clean models at {_e(g['calculator'])} "
                    f"differ by {g['spread_eV']:.3f} eV; its verify-level E_ads use the lowest "
                    f"(job {_e(g['reference_job'][:12])})</li>")
    if not n_anom:
        body.append("<li>none</li>")
    body.append("</ul>")
    settings = summary.get("settings", {})
    body.append("<h2>Calculator and settings</h2><table><tbody>"
                f"<tr><th>calculator</th><td>{_e(calc)}</td></tr><tr><th>fidelity</th><td>{_e(fid)}</td></tr>"
                f"<tr><th>corrections</th><td>{_e(summary.get('corrections'))}</td></tr>"
                + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in settings.items())
                + "</tbody></table>")
    readme = screen_dir / "README.txt"
    body.append("<h2>Conventions</h2>"
                f"<p>{_e(summary.get('convention', ''))}</p><p>Nitrate reference: {_e(summary.get('nitrate_reference', ''))}</p>"
                + (f"<pre>{_e(readme.read_text())}</pre>" if readme.is_file() else ""))
    body.append("<h2>Versions</h2><table><tbody>" + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>"
                                                          for k, v in _versions().items())
                + f"<tr><th>written</th><td>{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}</td></tr></tbody></table>")
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>NO3RR report {_e(out.name)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}<script>{_JS}</script></body></html>")
    dest = Path(dest) if dest else out / "report.html"
    dest.write_text(page)
    return dest
