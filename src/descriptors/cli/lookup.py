"""``no3rr lookup``: a stored adsorption energy with its site, settings and derived numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from descriptors.cli.common import err


def add_parser(sub) -> None:
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
    lk.set_defaults(func=run)


def _lookup_rows(store, args):
    q = {"kind": "adsorbate", "catalyst": args.catalyst}
    if args.adsorbate:
        from descriptors.geometry.adsorbates import get_adsorbate

        q["adsorbate"] = get_adsorbate(args.adsorbate).name
    if args.site:
        q["site"] = args.site
    if args.calculator:
        q["calc"] = args.calculator
    return [r for r in store.select(**q)]


def run(args) -> int:
    from descriptors.store import Store, best_rows, is_url, row_dict

    db = args.db if is_url(args.db) else Path(args.db)
    if not is_url(db) and not db.is_file():
        return err(f"--db {args.db}: no such database; give the screen.db of a screen (e.g. results/quickstart/screen.db)"
                    " or a postgresql:// URL")
    store = Store(db, readonly=True)
    try:
        rows = _lookup_rows(store, args)
    except ValueError as e:
        return err(f"--adsorbate: {e}")
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
    from descriptors.report.lookup import lookup_derived

    derived, derived_note = lookup_derived(db, args.catalyst, args.analysis)  # U_L, PDS of the catalyst
    for rec in out:
        rec["derived"] = derived
    if args.json:
        print(json.dumps(out if (args.all or len(out) != 1) else out[0], indent=2, default=str))
        return 0
    print(derived_note)
    shown_settings = None
    for r in out:
        e = "n/a" if r["E_ads_eV"] is None else f"{r['E_ads_eV']:+.3f} eV"
        flag = r.get("flag") or ""
        mark = (" [FLAGGED]" if "flagged" in flag else "") + (" [UNCONVERGED]" if "unconverged" in flag else "")
        moved = f" -> {r['site_final']}" if r.get("site_final") and r["site_final"] != r["site"] else ""
        print(f"{r['catalyst']}  *{r['adsorbate']}  site={r['site']}{moved} ({r['binding']}-bound)  E_ads = {e}{mark}")
        cs = r.get("calculator_settings") or {}
        block = (f"  calculator: {cs.get('name', r['calculator'])} {cs.get('version', '')} params={cs.get('params', {})}",
                 f"  relax: {r.get('relax')}  settings_hash={r['settings_hash']}",
                 f"  convention: {r['convention']}" if r.get("convention") else "")
        print(f"  bound to: {r.get('bound_to') or '-'}  anomaly: {r.get('anomaly') or 'none'}  "
              f"converged: {r.get('converged')}  job {r['job_id']} (db id {r.get('db_id')})")
        if flag:
            print(f"  flag: {flag}")
        if block != shown_settings:  # the calculator and convention block once per distinct setting
            print("\n".join(x for x in block if x))
            shown_settings = block
    return 0
