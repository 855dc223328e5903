"""Command line: ``no3rr screen|lookup|validate|build|list``.

Exit codes: 0 success, 1 screen ran but some jobs failed or a lookup found nothing,
2 bad input (spec, arguments) -- nothing computed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__

EXIT_BAD_INPUT = 2


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_validate(args) -> int:
    from .catalysts import expand_catalysts
    from .spec import load_spec

    spec = load_spec(args.spec)
    models = expand_catalysts(spec)
    print(f"{args.spec}: valid; {len(models)} catalyst models, {len(spec.adsorbate_names())} adsorbates, "
          f"calculator {spec.calculator.setting().label()}")
    return 0


def cmd_screen(args) -> int:
    from .report import best_rows, site_rows
    from .screen import run_screen
    from .executors import EngineError
    from .spec import load_spec
    from .store import Store

    spec = load_spec(args.spec)
    if args.workers is not None and args.workers < 1:
        return _err("--workers must be >= 1")
    if args.db and "://" in args.db and not args.db.startswith(("postgresql://", "postgres://")):
        return _err(f"--db {args.db}: give a file path (SQLite) or a postgresql://user:password@host/dbname URL")
    try:
        res = run_screen(spec, out=args.out, workers=args.workers, retry_failed=args.retry_failed or None,
                         progress=not args.no_progress, quiet=args.quiet, include_flagged=args.include_flagged,
                         engine=args.engine, db=args.db)
    except EngineError as e:  # e.g. --engine slurm on a machine without sbatch: nothing was computed
        return _err(str(e))
    st = res.stats
    if not args.quiet:
        _print_matrix(best_rows(site_rows(Store(res.db), res.job_ids["adsorbate"]),
                                include_flagged=args.include_flagged))
    print(f"computed {st['computed']} jobs, reused {st['reused']} from the store, "
          f"{st['failed']} failed now, {st['failed_reused']} failed earlier (not retried); "
          f"{st['wall_seconds']:.1f} s")
    for s in res.skipped:
        print(f"skipped: {s}")
    print(f"tables: {res.tables['adsorption_energies']}  (convention: {res.tables['readme']})")
    print(f"database: {res.db}")
    if res.verify is not None:
        from .verify import format_summary

        for line in format_summary(res.verify):
            print(line)
        print(f"verify tables: {res.tables['verify_best']}, {res.tables['verify_summary']}")
    return 1 if (st["failed"] or res.skipped) else 0


def _print_matrix(best) -> None:
    """E_ads (eV) of the best site, catalysts as rows and adsorbates as columns."""
    cats = list(dict.fromkeys(r["catalyst"] for r in best))
    ads = list(dict.fromkeys(r["adsorbate"] for r in best))
    val = {(r["catalyst"], r["adsorbate"]): r["E_ads_eV"] for r in best}
    w = max([len(c) for c in cats] + [8])
    print("E_ads / eV (lowest site)".ljust(w) + "".join(f"{a:>8s}" for a in ads))
    for c in cats:
        cells = []
        for a in ads:
            v = val.get((c, a))
            cells.append(f"{v:8.2f}" if isinstance(v, (int, float)) else f"{'--':>8s}")
        print(c.ljust(w) + "".join(cells))


def _lookup_rows(store, args):
    q = {"kind": "adsorbate", "catalyst": args.catalyst}
    if args.adsorbate:
        from .adsorbates import get_adsorbate

        q["adsorbate"] = get_adsorbate(args.adsorbate).name
    if args.site:
        q["site"] = args.site
    if args.calculator:
        q["calc"] = args.calculator
    return [r for r in store.select(**q)]


def cmd_lookup(args) -> int:
    from .report import row_dict, best_rows
    from .store import Store

    from .store import is_url

    db = args.db if is_url(args.db) else Path(args.db)
    if not is_url(db) and not db.is_file():
        return _err(f"--db {args.db}: no such database; give the screen.db of a screen (e.g. results/quickstart/screen.db)"
                    " or a postgresql:// URL")
    store = Store(db)
    try:
        rows = _lookup_rows(store, args)
    except ValueError as e:
        return _err(f"--adsorbate: {e}")
    if not rows:
        known = sorted({r.get("catalyst") for r in store.select(kind="adsorbate")})
        print(f"nothing stored for catalyst={args.catalyst!r} adsorbate={args.adsorbate!r}"
              f"{' site=' + repr(args.site) if args.site else ''}; catalysts in this db: {', '.join(known)}",
              file=sys.stderr)
        return 1
    sites = [row_dict(r) for r in rows]
    chosen = sites if args.all else best_rows(sites, include_flagged=args.include_flagged)
    by_job = {r.get("job_id"): r for r in rows}
    out = []
    for c in chosen:
        row = by_job.get(c.get("job_id"))
        rec = dict(c)
        if row is not None:
            rec["relax"] = row.data.get("relax")
            rec["calculator_settings"] = row.data.get("calculator")
            rec["convention"] = row.data.get("convention")
            rec["db_id"] = row.id
        out.append(rec)
    from .analysis import lookup_derived

    derived, derived_note = lookup_derived(db, args.catalyst, args.analysis)  # U_L, PDS of the catalyst
    for rec in out:
        rec["derived"] = derived
    if args.json:
        print(json.dumps(out if (args.all or len(out) != 1) else out[0], indent=2, default=str))
        return 0
    print(derived_note)
    for r in out:
        e = "n/a" if r["E_ads_eV"] is None else f"{r['E_ads_eV']:+.3f} eV"
        moved = f" -> {r['site_final']}" if r.get("site_final") and r["site_final"] != r["site"] else ""
        print(f"{r['catalyst']}  *{r['adsorbate']}  site={r['site']}{moved} ({r['binding']}-bound)  E_ads = {e}")
        cs = r.get("calculator_settings") or {}
        print(f"  calculator: {cs.get('name', r['calculator'])} {cs.get('version', '')} params={cs.get('params', {})}")
        print(f"  relax: {r.get('relax')}  settings_hash={r['settings_hash']}")
        print(f"  bound to: {r.get('bound_to') or '-'}  anomaly: {r.get('anomaly') or 'none'}  "
              f"converged: {r.get('converged')}  job {r['job_id']} (db id {r.get('db_id')})")
        if r.get("convention"):
            print(f"  convention: {r['convention']}")
    return 0


def cmd_status(args) -> int:
    from .status import format_status, summarize

    try:
        s = summarize(args.out, args.db)
    except FileNotFoundError as e:
        return _err(str(e))
    if args.json:
        print(json.dumps(s, indent=2, default=str))
    else:
        print(format_status(s, show=args.show))
    return 1 if (s["failed"] or s["pending"] or not s["complete"]) else 0


def cmd_analyze(args) -> int:
    from .analysis import cli_analyze

    return cli_analyze(args, _err)


def cmd_build(args) -> int:
    from ase.io import write

    from .catalysts import expand_catalysts
    from .slabs import reference_lattice
    from .spec import load_spec

    spec = load_spec(args.spec)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for m in expand_catalysts(spec):
        a = c = None
        if m.kind in ("slab", "saa"):
            if isinstance(m.lattice, float):
                a = m.lattice
            else:  # built (unrelaxed) structures use the experimental lattice
                a, c = reference_lattice(m.recipe["metal"], m.recipe["structure"])
        atoms = m.build(a, c)
        fname = out / (m.name.replace("/", "_").replace("(", "_").replace(")", "") + ".extxyz")
        info = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in atoms.info.items()}
        atoms.info = info
        write(fname, atoms, format="extxyz")
        print(f"{fname}  {atoms.get_chemical_formula()}  ({len(atoms)} atoms)")
    return 0


def cmd_list(args) -> int:
    from .adsorbates import ADSORBATES

    if args.what == "adsorbates":
        for a in ADSORBATES.values():
            modes = "; ".join(f"{m.name}-bound on {'/'.join(m.sites)}" for m in a.modes)
            print(f"{a.name:7s} {modes:55s} {a.description}")
    else:
        args.json = getattr(args, "json", False)
        return cmd_calculators(args)
    return 0


def cmd_calculators(args) -> int:
    """Every registered calculator: fidelity, usable here or what to install, elements."""
    from .calculators import describe_calculators

    rows = describe_calculators()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'name':9s} {'fidelity':15s} {'usable':7s} {'version':13s} elements")
    for r in rows:
        print(f"{r['name']:9s} {r['fidelity']:15s} {'yes' if r['usable'] else 'NO':7s} {r['version']:13s} "
              f"{r['elements_text']}")
        print(f"{'':9s} {r['description']}; params: {', '.join(r['params']) or '-'}")
        if not r["usable"]:
            print(f"{'':9s} missing: {r['missing']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="no3rr", description="Descriptor screening for electrochemical nitrate reduction.")
    p.add_argument("--version", action="version", version=f"no3rr-descriptors {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("screen", help="run a screening spec (resumes: stored jobs are not recomputed)",
                       description="Run every job of a TOML spec not yet in the store; write tables.")
    s.add_argument("spec", help="path to a TOML spec, e.g. workflows/quickstart.toml")
    s.add_argument("--out", help="output directory (default: the spec's 'output')")
    s.add_argument("--workers", type=int, help="local worker processes (default: spec execution.workers)")
    s.add_argument("--retry-failed", action="store_true", help="recompute jobs stored as failed")
    s.add_argument("--engine", choices=["local", "slurm", "serial"],
                   help="where jobs run (default: the spec's [engine] type, 'local' = Parsl workers on this machine)")
    s.add_argument("--db", help="result database: SQLite path or postgresql://user:pw@host/db (default: OUT/screen.db)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--quiet", action="store_true", help="only the final summary")
    s.add_argument("--include-flagged", action="store_true",
                   help="let rows flagged by the anomaly checks (desorbed, dissociated, ...) be the lowest site")
    s.set_defaults(func=cmd_screen)

    v = sub.add_parser("validate", help="check a spec without computing anything",
                       description="Validate a spec; exit 2 with the field and the fix if it is wrong.")
    v.add_argument("spec")
    v.set_defaults(func=cmd_validate)

    lk = sub.add_parser("lookup", help="print a stored adsorption energy with its site and settings",
                        description="Look up the lowest-energy stored site (or all with --all).")
    lk.add_argument("--db", required=True, help="screen database, e.g. results/quickstart/screen.db")
    lk.add_argument("--catalyst", required=True, help='e.g. "Cu(100)" or "Fe-N4/graphene"')
    lk.add_argument("--adsorbate", help="e.g. NO3 (all adsorbates if omitted)")
    lk.add_argument("--site", help="only this site label")
    lk.add_argument("--calculator", help="only rows from this calculator name")
    lk.add_argument("--all", action="store_true", help="every site, not only the lowest")
    lk.add_argument("--json", action="store_true", help="machine-readable output")
    lk.add_argument("--include-flagged", action="store_true",
                    help="let rows flagged by the anomaly checks be the lowest site")
    lk.add_argument("--analysis", help="analysis_summary.json to read U_L/PDS from (default: next to the db)")
    lk.set_defaults(func=cmd_lookup)

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
    an.add_argument("--no-plots", action="store_true", help="tables only")
    an.set_defaults(func=cmd_analyze)

    b = sub.add_parser("build", help="write the catalyst models of a spec as extxyz with metadata",
                       description="Build (no calculation) every catalyst model of a spec into --out.")
    b.add_argument("spec")
    b.add_argument("--out", default="structures/generated", help="directory for the .extxyz files")
    b.set_defaults(func=cmd_build)

    ls = sub.add_parser("list", help="list adsorbates or calculators", description="List the built-in libraries.")
    ls.add_argument("what", choices=["adsorbates", "calculators"])
    ls.set_defaults(func=cmd_list)

    ca = sub.add_parser("calculators", help="registered calculators: fidelity, usable here (or what to install), elements",
                        description="List every registered calculator, whether it is usable on this machine "
                                    "(and if not, what to install), its fidelity and the elements it treats.")
    ca.add_argument("--json", action="store_true", help="machine-readable output")
    ca.set_defaults(func=cmd_calculators)

    st = sub.add_parser("status", help="done / failed (with reasons) / pending jobs of a screen",
                        description="Summarize a screen's output directory: done, failed grouped by reason, pending.")
    st.add_argument("out", help="output directory of a screen, e.g. results/quickstart")
    st.add_argument("--db", help="database, if not the one the screen recorded in OUT/plan.json")
    st.add_argument("--show", type=int, default=10, help="list at most this many jobs per group")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .spec import SpecError

    try:
        return int(args.func(args) or 0)
    except SpecError as e:  # bad spec: reported before anything is computed
        return _err(str(e))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
