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
    from .spec import load_spec
    from .store import Store

    spec = load_spec(args.spec)
    if args.workers is not None and args.workers < 1:
        return _err("--workers must be >= 1")
    res = run_screen(spec, out=args.out, workers=args.workers, retry_failed=args.retry_failed or None,
                     progress=not args.no_progress, quiet=args.quiet)
    st = res.stats
    if not args.quiet:
        _print_matrix(best_rows(site_rows(Store(res.db), res.job_ids["adsorbate"])))
    print(f"computed {st['computed']} jobs, reused {st['reused']} from the store, "
          f"{st['failed']} failed now, {st['failed_reused']} failed earlier (not retried); "
          f"{st['wall_seconds']:.1f} s")
    for s in res.skipped:
        print(f"skipped: {s}")
    print(f"tables: {res.tables['adsorption_energies']}  (convention: {res.tables['readme']})")
    print(f"database: {res.db}")
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

    db = Path(args.db)
    if not db.is_file():
        return _err(f"--db {args.db}: no such database; give the screen.db of a screen (e.g. results/quickstart/screen.db)")
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
    chosen = sites if args.all else best_rows(sites)
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
    if args.json:
        print(json.dumps(out if (args.all or len(out) != 1) else out[0], indent=2, default=str))
        return 0
    for r in out:
        e = "n/a" if r["E_ads_eV"] is None else f"{r['E_ads_eV']:+.3f} eV"
        print(f"{r['catalyst']}  *{r['adsorbate']}  site={r['site']} ({r['binding']}-bound)  E_ads = {e}")
        cs = r.get("calculator_settings") or {}
        print(f"  calculator: {cs.get('name', r['calculator'])} {cs.get('version', '')} params={cs.get('params', {})}")
        print(f"  relax: {r.get('relax')}  settings_hash={r['settings_hash']}")
        print(f"  bound to: {r.get('bound_to') or '-'}  anomaly: {r.get('anomaly') or 'none'}  "
              f"converged: {r.get('converged')}  job {r['job_id']} (db id {r.get('db_id')})")
        if r.get("convention"):
            print(f"  convention: {r['convention']}")
    return 0


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
    from .calculators import REGISTRY

    if args.what == "adsorbates":
        for a in ADSORBATES.values():
            modes = "; ".join(f"{m.name}-bound on {'/'.join(m.sites)}" for m in a.modes)
            print(f"{a.name:7s} {modes:55s} {a.description}")
    else:
        for c in REGISTRY.values():
            print(f"{c.name:9s} {c.description} [{c.fidelity}] version {c.version()}; params: {sorted(c.allowed)}")
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
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--quiet", action="store_true", help="only the final summary")
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
    lk.set_defaults(func=cmd_lookup)

    b = sub.add_parser("build", help="write the catalyst models of a spec as extxyz with metadata",
                       description="Build (no calculation) every catalyst model of a spec into --out.")
    b.add_argument("spec")
    b.add_argument("--out", default="structures/generated", help="directory for the .extxyz files")
    b.set_defaults(func=cmd_build)

    ls = sub.add_parser("list", help="list adsorbates or calculators", description="List the built-in libraries.")
    ls.add_argument("what", choices=["adsorbates", "calculators"])
    ls.set_defaults(func=cmd_list)
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
