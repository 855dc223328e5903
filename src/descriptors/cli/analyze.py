"""``no3rr analyze DB|CSV``: free energies, U_L, PDS, scaling relations and volcanoes."""

from __future__ import annotations

from pathlib import Path

from descriptors.cli.common import err


def add_parser(sub) -> None:
    an = sub.add_parser("analyze", help="free energies, U_L, PDS, scaling relations, volcanoes from a db or CSV",
                        description="Analyse a screen database or a CSV (catalyst,species,E_ads_eV or "
                                    "catalyst,species,G_eV); write tables and figures to --out.")
    an.add_argument("input", help="screen.db of a screen, or a CSV file")
    an.add_argument("--out", required=True, help="output directory")
    an.add_argument("--potential", type=float, default=0.0, help="U in V vs RHE for the dG(U) columns (default 0)")
    an.add_argument("--pH", type=float, default=0.0, help="pH (RHE scale; enters the nitrate reference)")
    an.add_argument("--temperature", type=float, default=298.15, help="K (default 298.15)")
    an.add_argument("--descriptor", action="append", help="volcano descriptor species, once or twice (default *N and "
                    "*NO3), e.g. --descriptor '*N' --descriptor '*O'")
    an.add_argument("--corrections", help="computed (db default) | table | none | path to a table JSON")
    an.add_argument("--nitrate-reference", default="equilibrium", choices=["equilibrium", "hno3"])
    an.add_argument("--use-flagged", action="store_true", help="db: also use sites flagged by the geometry checks")
    an.add_argument("--level", default="screen", choices=["screen", "verify"],
                    help="db: analyse the screen's own energies (default) or those of its [verify] level")
    an.add_argument("--network", metavar="FILE", help="reaction network file (TOML, the format of the package's "
                    "src/descriptors/analysis/data/networks.toml); default: the package's")
    an.add_argument("--reaction", default="NO3RR", metavar="NAME",
                    help="network of the file to analyse: NO3RR (default), NO2RR, NORR, HER, or one of --network FILE")
    an.add_argument("--no-plots", action="store_true", help="tables only")
    an.add_argument("--svg", action="store_true", help="also write every figure as SVG (default: PNG only)")
    an.set_defaults(func=run)


_OPTION = {"network_file": "--network", "network": "--reaction", "descriptors": "--descriptor", "pH": "--pH",
           "potential": "--potential", "temperature": "--temperature", "corrections": "--corrections"}


def run(args) -> int:
    """``no3rr analyze``: exit 2 on bad input, 1 if no catalyst got a limiting potential, else 0."""
    from pydantic import ValidationError

    from descriptors.specs.analysis import CORRECTION_MODES, AnalysisSettings
    from descriptors.workflows.analyze import analyze
    from descriptors.workflows.outdir import check_out

    src = Path(args.input)
    if not src.is_file():
        return err(f"{args.input}: no such file; give a screen.db or a CSV (catalyst,species,E_ads_eV|G_eV)")
    check_out(Path(args.out))  # a file, or under a file, or not writable: SpecError, exit 2
    is_csv = src.suffix.lower() == ".csv"
    corr = args.corrections or ("computed" if not is_csv else "none")
    try:
        settings = AnalysisSettings(potential=args.potential, pH=args.pH, temperature=args.temperature,
                                    corrections=corr, nitrate_reference=args.nitrate_reference,
                                    descriptors=list(args.descriptor or ("*N", "*NO3")),
                                    use_flagged=args.use_flagged, level=args.level, network=args.reaction,
                                    network_file=args.network, svg=args.svg)
        if corr not in CORRECTION_MODES and not Path(corr).is_file():
            raise ValueError(f"--corrections {corr!r}: use computed, table, none or the path of a table JSON")
        res, paths = analyze(src, settings, args.out, corrections_given=args.corrections is not None or not is_csv,
                             plots=not args.no_plots)
    except ValidationError as e:  # one line naming the option, not pydantic's report
        first = e.errors()[0]
        opt = _OPTION.get(str(first["loc"][0]) if first["loc"] else "", str(first["loc"]))
        return err(f"{opt}: {first['msg'].removeprefix('Value error, ')}")
    except ValueError as e:
        return err(str(e))
    import sys

    from descriptors.analysis.checks import convention_warnings
    from descriptors.analysis.volcano import apex_note

    for line in convention_warnings(res.dataset, res.x_ref):  # before the table, so they are seen
        print(f"warning: {line}", file=sys.stderr)
    rows = res.summary_rows()
    w = max([len(r["catalyst"]) for r in rows] + [8])
    print(f"{'catalyst'.ljust(w)}  {'U_L/V':>7s}  {'PDS':18s} {'branch':6s} {'dG_H/eV':>8s} favours  "
          f"{'product@U_L':12s} {'product@U':12s} missing")
    for r in rows:
        ul = "--" if r["U_L_V"] is None else f"{r['U_L_V']:+.3f}" + ("*" if r["U_L_upper_bound"] else "")
        gh = "--" if r["dG_H_eV"] is None else f"{r['dG_H_eV']:+.3f}"
        print(f"{r['catalyst'].ljust(w)}  {ul:>7s}  {r['PDS'] or '--':18s} {r['branch'] or '--':6s} {gh:>8s} "
              f"{r['favours'] or '--':8s} {r['product_at_U_L'] or '--':12s} {r['product_at_U'] or '--':12s} "
              f"{r['missing'] or '-'}")
    if any(r["U_L_upper_bound"] for r in rows):
        print("* upper bound: an averaged 2-electron step (its protonated intermediate not computed)")
    for d, v in res.volcanoes_1d.items():
        print(f"volcano in {d}: apex at {v.apex_x:+.3f} eV, U_L = {v.apex_U_L:+.3f} V vs RHE{apex_note(res, d)}, "
              f"limited by {', '.join(v.apex_steps)}")
    if res.volcano_2d is not None:
        v = res.volcano_2d
        print(f"2D volcano in {', '.join(v.descriptors)}: apex at ({v.apex[0]:+.3f}, {v.apex[1]:+.3f}) eV, "
              f"U_L = {v.apex_U_L:+.3f} V vs RHE{apex_note(res, tuple(v.descriptors))}")
    for e in res.volcano_errors + res.volcano_warnings:
        print(f"note: {e}")
    print(f"calculator: {res.dataset.calculator}; corrections: {res.dataset.corrections}")
    print(f"nitrate reference: {res.reference_text}")
    print(f"summary: {paths['summary_csv']}  figures: {Path(args.out) / 'figures'}")
    return 0 if any(pw.U_L is not None for pw in res.pathways.values()) else 1
