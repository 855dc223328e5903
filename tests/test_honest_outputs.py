"""Outputs that never mislead: flagged and unconverged values marked in tables, lookups and
figures; figures whose texts do not overlap; fidelity warnings and extrapolated apexes in the image."""

import shutil
from pathlib import Path

import pytest

from descriptors.analysis import load_csv, load_store, run_analysis
from descriptors.analysis import plots as P
from descriptors.analysis.figtext import (
    catalyst_quality,
    fidelity_warning,
    tex,
    text_overlaps,
)
from descriptors.cli import main
from descriptors.specs.analysis import AnalysisSettings
from descriptors.store import Store, best_rows, site_rows

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "tests" / "fixtures" / "store_v0.1.0"
EXAMPLE = ROOT / "workflows" / "examples" / "emt_free_energies.csv"


@pytest.fixture
def old_db(tmp_path):
    d = tmp_path / "screen"
    shutil.copytree(OLD, d)
    return d / "screen.db"


def test_species_are_typeset_as_ions_and_subscripts():
    assert tex("NO3-(aq)") == "NO$_{3}^{-}$(aq)"
    assert tex("*NH2OH") == "*NH$_{2}$OH"
    assert tex("*NO3->*NO2") == "*NO$_{3}$ → *NO$_{2}$"
    assert tex("NH3(g)") == "NH$_{3}$(g)"


def test_flagged_row_enters_an_analysis_only_when_asked_and_is_marked(old_db):
    # Cu(111) *H of the fixture: its lowest site (fcc, -0.49 eV) desorbed, flagged; the top site
    # (-0.44 eV) is intact.  Unasked, the analysis takes the intact one ...
    s = AnalysisSettings(corrections="none", descriptors=("*O",))
    ds = load_store(old_db, s)
    assert ds.g_ads["Cu(111)"]["*H"] == pytest.approx(-0.4383)
    assert not ds.flagged
    res = run_analysis(ds, s)
    assert catalyst_quality(res, "Cu(111)")[0] == "valid"
    # ... asked, it is used and every output says so
    s2 = AnalysisSettings(corrections="none", descriptors=("*O",), use_flagged=True)
    ds2 = load_store(old_db, s2)
    assert ds2.g_ads["Cu(111)"]["*H"] == pytest.approx(-0.4927)
    assert ds2.flagged == {"Cu(111)": ["*H"]}
    res2 = run_analysis(ds2, s2)
    q, why = catalyst_quality(res2, "Cu(111)")
    assert q == "flagged" and "desorbed" in why


def test_tables_csv_and_console_mark_flagged_values(old_db, capsys):
    best = best_rows(site_rows(Store(old_db)), include_flagged=True)
    h = next(r for r in best if r["adsorbate"] == "H")
    o = next(r for r in best if r["adsorbate"] == "O")
    assert h["flag"] == "flagged: desorbed" and o["flag"] == ""
    from descriptors.report.tables import format_matrix

    lines = format_matrix(best)
    row = next(ln for ln in lines if ln.startswith("Cu(111)"))
    assert "-0.49!" in row and "-0.83 " in row
    assert any(ln.startswith("legend: !") for ln in lines)
    assert any("Cu(111) *H: flagged: desorbed" in ln for ln in lines)
    # lookup marks the value and says whether the analysis used flagged data
    assert main(["lookup", "--db", str(old_db), "--catalyst", "Cu(111)", "--include-flagged"]) == 0
    out = capsys.readouterr().out
    assert "[FLAGGED]" in out and out.count("calculator: emt") == 1  # the settings block once, not per row
    assert main(["analyze", str(old_db), "--out", str(old_db.parent / "analysis"), "--corrections", "none",
                 "--descriptor", "*O", "--use-flagged", "--no-plots"]) in (0, 1)  # 1: no U_L (3 species)
    capsys.readouterr()
    assert main(["lookup", "--db", str(old_db), "--catalyst", "Cu(111)", "--adsorbate", "O"]) == 0
    out = capsys.readouterr().out
    assert "USES FLAGGED DATA (*H" in out


def test_fidelity_warning_for_low_fidelity_calculators_only():
    assert "NOT CHEMISTRY" in fidelity_warning("emt")
    assert "not DFT" in fidelity_warning("gfn2-xtb")
    assert fidelity_warning("gpaw") is None
    assert fidelity_warning("unknown (user-supplied energies in CSV)") is None


@pytest.fixture(scope="module")
def example_result():
    s = AnalysisSettings(descriptors=("*N", "*NO3"))
    res = run_analysis(load_csv(EXAMPLE, s), s)
    res.dataset.calculator = "emt"  # these numbers are EMT's: the figures must say so
    return res


def test_no_text_of_any_figure_overlaps_and_each_carries_its_warning(example_result):
    import matplotlib.pyplot as plt

    figs = P.draw_all(example_result)
    stems = {s for s, _ in figs}
    assert {"scaling_N", "volcano_N", "volcano_2d", "fed_Cu_100"} <= stems
    for stem, fig in figs:
        assert text_overlaps(fig) == [], stem
        texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
        assert "NOT CHEMISTRY" in texts, stem
        plt.close(fig)


def test_extrapolated_apex_is_drawn_and_labelled(example_result):
    import matplotlib.pyplot as plt

    v = example_result.volcanoes_1d["*N"]
    xs = [g["*N"] for g in example_result.dataset.g_ads.values()]
    outside = not (min(xs) <= v.apex_x <= max(xs))
    assert P.apex_extrapolated(example_result, "*N") == outside
    fig = P.plot_volcano_1d(example_result, "*N", None, save=False)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert any(("EXTRAPOLATED" in lab) == outside for lab in labels if lab.startswith("apex"))
    plt.close(fig)


def test_flagged_points_get_their_own_marker_and_legend_entry(example_result):
    import matplotlib.pyplot as plt

    ds = example_result.dataset
    ds.flagged["Cu(100)"] = ["*N"]
    ds.provenance["Cu(100)"]["*N"]["flagged"] = "dissociated"
    try:
        fig = P.plot_volcano_1d(example_result, "*N", None, save=False)
        labels = fig.axes[0].get_legend_handles_labels()[1]
        assert any(lab.startswith("FLAGGED") for lab in labels)
        assert text_overlaps(fig) == []
        plt.close(fig)
        fig = P.plot_free_energy_diagram(example_result, "Cu(100)", None, save=False)
        assert "FLAGGED" in fig.axes[0].get_title()
        plt.close(fig)
    finally:
        ds.flagged.pop("Cu(100)")
        ds.provenance["Cu(100)"]["*N"]["flagged"] = ""


def test_first_step_that_dwarfs_the_rest_keeps_the_diagram_readable(example_result):
    import matplotlib.pyplot as plt

    # EMT: NO3-(aq) -> *NO3 is about -8.8 eV, the other steps below 1.2 eV
    fig = P.plot_free_energy_diagram(example_result, "Cu(100)", None, save=False)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    assert hi < -3 and hi - lo < 11  # the axis spans the rest of the path, not 0 and the 8.8 eV drop
    assert any("off scale" in lab for lab in ax.get_legend_handles_labels()[1])
    plt.close(fig)


def test_values_in_another_convention_are_warned_with_the_expected_range(tmp_path, capsys):
    p = tmp_path / "e.csv"
    p.write_text("catalyst,species,E_ads_eV\nX,*NO3,1.2\nX,*N,0.5\nZ,*NO3,60\nOK,*NO3,6.0\n")
    main(["analyze", str(p), "--corrections", "none", "--out", str(tmp_path / "an"), "--no-plots"])
    err = capsys.readouterr().err
    assert "X: G(*NO3) = +1.20 eV makes NO3-(aq) -> *NO3 a step of -5.19 eV" in err and "expect +3.9 to +8.9 eV" in err
    assert "Z: values up to 60.0 look like kJ/mol" in err
    # beyond 100 eV a value is refused (issue 12), with the same hint
    (tmp_path / "y.csv").write_text("catalyst,species,E_ads_eV\nY,*NO3,-300\n")
    assert main(["analyze", str(tmp_path / "y.csv"), "--corrections", "none", "--out", str(tmp_path / "an2")]) == 2
    assert "looks like a total energy per cell" in capsys.readouterr().err
    assert "OK:" not in err


def test_figures_an_analysis_cannot_draw_any_more_are_removed(tmp_path):
    from descriptors.analysis.outputs import write_outputs

    one = tmp_path / "one.csv"  # one catalyst: its free-energy diagram, no volcano
    one.write_text("".join(ln for ln in EXAMPLE.read_text().splitlines(keepends=True)
                           if ln.startswith(("catalyst,", "Cu(100),"))))
    s = AnalysisSettings(descriptors=("*N",))
    res = run_analysis(load_csv(one, s), s)
    out = tmp_path / "an"
    (out / "figures").mkdir(parents=True)
    stale = out / "figures" / "volcano_NH2OH.png"  # e.g. drawn earlier from flagged data
    stale.write_bytes(b"old")
    paths = write_outputs(res, out)
    assert not stale.exists() and (out / "figures" / "fed_Cu_100.png").exists()
    assert all(p.exists() for k, p in paths.items() if k.endswith(".png"))


def test_status_tells_a_running_screen_from_a_stopped_one(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from descriptors.report.status import format_status, summarize
    from descriptors.store.plan import PLAN_NAME, Plan

    out = tmp_path / "screen"
    out.mkdir()
    shutil.copy(OLD / "screen.db", out / "screen.db")
    plan = Plan(out / PLAN_NAME, str(out / "screen.db"), name="t")
    plan.add([], "bulk")
    plan.save()
    # this test process wrote the plan (a live process whose command line names no3rr/descriptors)
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; sys.argv=['no3rr']; time.sleep(30)",
                              "descriptors"])
    try:
        data = json.loads((out / PLAN_NAME).read_text())
        data["pid"] = child.pid
        (out / PLAN_NAME).write_text(json.dumps(data))
        text = format_status(summarize(out))
        assert "RUNNING (pid" in text and "re-run" not in text
    finally:
        child.kill()
        child.wait()
    text = format_status(summarize(out))  # the process is gone: stopped
    assert "RUNNING" not in text and "re-run `no3rr screen SPEC`" in text
    assert os.getpid() != child.pid


def test_validate_warns_gamma_only_on_small_cells_and_prints_a_rough_cost(small_spec_dict, tmp_path):
    from descriptors.specs import parse_spec
    from descriptors.specs.cost import (
        ADSORBATE_ATOMS,
        CALLS_PER_RELAXATION,
        SITES_PER_ADSORBATE,
        calibration,
        estimate_cost,
        gamma_only_warnings,
    )
    from descriptors.structures import expand_catalysts

    emt = parse_spec(small_spec_dict)
    models = expand_catalysts(emt)
    assert gamma_only_warnings(emt, models) == []  # EMT has no k-points to miss
    jobs, sec, line = estimate_cost(emt, models)
    # from the measured table (benchmarks/costcal.py), t = a N^b per model size, and it says so
    table = calibration()
    e = table["calculators"]["emt"]
    t = lambda n: e["a"] * n ** e["b"]  # noqa: E731
    n_ads = len(emt.adsorbate_names())
    want = 5 * CALLS_PER_RELAXATION * t(8) + sum(
        CALLS_PER_RELAXATION * (t(len(m.build())) + n_ads * SITES_PER_ADSORBATE * t(len(m.build()) + ADSORBATE_ATOMS))
        for m in models)
    assert jobs > 2 * 3 and sec == pytest.approx(want)
    assert "estimate" in line and "measured for emt" in line and e.get("measured", table["measured"]) in line
    xtb = parse_spec({**small_spec_dict, "calculator": {"name": "gfn1-xtb"}})
    warns = gamma_only_warnings(xtb, expand_catalysts(xtb))
    # one line for the level, naming every model that is too small (2 here), not a line per model
    assert len(warns) == 1 and "Gamma point only" in warns[0] and "catalysts.size" in warns[0]
    assert "2 of 2 catalyst model(s)" in warns[0] and all(m.name in warns[0] for m in models)
    # a class without a measurement (DFT) says its number is a stated value
    dft = parse_spec({**small_spec_dict, "calculator": {"name": "gpaw"}})
    line = estimate_cost(dft, models)[2]
    assert "stated value for the dft class, not measured" in line
    # the user's own stored jobs of the calculator come first: 2 s per call on 20 atoms
    from ase.build import fcc111

    from descriptors.store import Store

    db = tmp_path / "screen.db"
    st = Store(db)
    slab = fcc111("Cu", (2, 2, 5), vacuum=5.0)  # 20 atoms
    for i in range(3):
        st.write(slab, {"job_id": f"j{i}", "kind": "adsorbate", "calc": "emt", "status": "ok", "steps": 9,
                        "seconds": 20.0 * (1 + 0.1 * i)}, energy=-1.0)
    st.close()
    jobs2, sec2, line2 = estimate_cost(emt, models, db=db)
    assert "your own 3 stored emt jobs" in line2 and jobs2 == jobs
    a_own = 22.0 / 10 / 20 ** e["b"]  # median of seconds / (steps + 1) / N^b
    assert sec2 == pytest.approx(want * a_own / e["a"])


def test_volcano_with_closed_routes_is_drawn_with_gaps(example_result):
    """Where every route is closed (an uphill chemical step), U_L is -inf: the figure draws a gap and
    says so, instead of failing on infinite axis limits (the quick start met this)."""
    import matplotlib.pyplot as plt
    import numpy as np

    v = example_result.volcanoes_1d["*N"]
    saved = np.array(v.U_L, copy=True)
    try:
        v.U_L[:10] = -np.inf
        fig = P.plot_volcano_1d(example_result, "*N", None, save=False)
        texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
        assert "gaps: no open route" in texts and text_overlaps(fig) == []
        lo, hi = fig.axes[0].get_ylim()
        assert np.isfinite(lo) and np.isfinite(hi)
        plt.close(fig)
    finally:
        v.U_L[:] = saved


def test_apex_line_of_the_console_says_extrapolated_exactly_when_it_is(example_result):
    """The screen's and `analyze`'s one-line volcano report carries the same mark as the figure."""
    import dataclasses

    from descriptors.analysis.volcano import apex_note

    v = example_result.volcanoes_1d["*N"]
    xs = [g["*N"] for g in example_result.dataset.g_ads.values() if "*N" in g]
    try:
        for apex, outside in (((min(xs) + max(xs)) / 2, False), (max(xs) + 0.5, True), (min(xs) - 0.5, True)):
            example_result.volcanoes_1d["*N"] = dataclasses.replace(v, apex_x=apex)
            assert ("EXTRAPOLATED" in apex_note(example_result, "*N")) == outside
        edge = dataclasses.replace(v, apex_x=float(v.x[-1]))
        example_result.volcanoes_1d["*N"] = edge
        assert "edge of the scanned range" in apex_note(example_result, "*N")
    finally:
        example_result.volcanoes_1d["*N"] = v


def test_cost_estimate_counts_the_verify_level_and_warns_about_its_gamma_only_cells(small_spec_dict):
    """An EMT pre-screen verified by GFN1-xTB: the expensive level is most of the cost, so the
    estimate adds it (hand-counted here) and its Gamma-only sampling of small cells is warned about."""
    from descriptors.specs import parse_spec
    from descriptors.specs.cost import (
        ADSORBATE_ATOMS,
        SITES_PER_ADSORBATE,
        calibration,
        estimate_cost,
        gamma_only_warnings,
    )
    from descriptors.structures import expand_catalysts

    base = parse_spec(small_spec_dict)
    models = expand_catalysts(base)
    jobs0, sec0, _ = estimate_cost(base, models)
    x = calibration()["calculators"]["gfn1-xtb"]
    t = lambda n: x["a"] * n ** x["b"]  # noqa: E731
    n_ads = len(base.adsorbate_names())
    for all_, picks in ((False, 1), (True, SITES_PER_ADSORBATE)):
        spec = parse_spec({**small_spec_dict, "verify": {"calculator": {"name": "gfn1-xtb"}, "top_k": 1,
                                                          "mode": "single-point", "all": all_}})
        jobs, sec, line = estimate_cost(spec, models)
        want = 4 * t(8) + sum(t(len(m.build())) + n_ads * picks * t(len(m.build()) + ADSORBATE_ATOMS) for m in models)
        assert sec - sec0 == pytest.approx(want)
        assert jobs - jobs0 == round(4 + sum(1 + n_ads * picks for _ in models))
        assert "verify level" in line and "gfn1-xtb" in line and "estimated total" in line
    warns = gamma_only_warnings(spec, models)
    assert len(warns) == 1 and warns[0].startswith("verify level: ")
    assert f"{len(models)} of {len(models)} catalyst model(s)" in warns[0]


def test_volcano_labels_clear_the_apex_and_missing_catalysts_are_named(example_result):
    """No catalyst label covers the apex star (the quick start's Pd(100) label sat on it), and a
    catalyst without U_L (no complete route) is named under the 1D volcano instead of vanishing."""
    import dataclasses

    import matplotlib.pyplot as plt

    res = example_result
    v = res.volcanoes_1d["*N"]
    # put the apex exactly on a catalyst's point: its label must move off the star
    c0 = next(c for c, g in res.dataset.g_ads.items() if "*N" in g and res.pathways[c].U_L is not None)
    res.volcanoes_1d["*N"] = dataclasses.replace(v, apex_x=res.dataset.g_ads[c0]["*N"], apex_U_L=res.pathways[c0].U_L)
    pw = res.pathways[c0]
    try:
        fig = P.plot_volcano_1d(res, "*N", None, save=False)
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        ax = fig.axes[0]
        sx, sy = ax.transData.transform((res.pathways[c0].U_L and res.dataset.g_ads[c0]["*N"], pw.U_L))
        half = 7.5 * fig.dpi / 72
        labels = [t for t in ax.texts if t.get_text() in res.dataset.g_ads]
        assert labels
        for t in labels:
            b = t.get_window_extent(r)
            assert not (b.x0 < sx + half and sx - half < b.x1 and b.y0 < sy + half and sy - half < b.y1), t.get_text()
        texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
        assert "not shown" not in texts  # every catalyst of the example has U_L
        plt.close(fig)
        # a catalyst without U_L is named in the footer
        res.pathways[c0] = dataclasses.replace(pw, U_L=None)
        fig = P.plot_volcano_1d(res, "*N", None, save=False)
        texts = " ".join(t.get_text() for t in fig.findobj(plt.Text))
        n = len(res.pathways)
        assert f"not shown: 1 of {n} catalysts have no U_L" in texts and c0 in texts
        assert text_overlaps(fig) == []
        plt.close(fig)
    finally:
        res.volcanoes_1d["*N"] = v
        res.pathways[c0] = pw
