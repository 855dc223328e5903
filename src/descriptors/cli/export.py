"""``no3rr export``: stored structures as POSCAR/CIF/extxyz, energies as a CatMAP energies file."""

from __future__ import annotations

from pathlib import Path

from descriptors.cli.common import err


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write stored structures (POSCAR, CIF, extxyz) or a CatMAP energies file",
                       description="Export from a screen database: structures with ase.io, energies for CatMAP.")
    p.add_argument("what", choices=["poscar", "cif", "extxyz", "catmap"], help="output format")
    p.add_argument("--db", required=True, help="screen database, e.g. results/quickstart/screen.db")
    p.add_argument("--to", required=True, help="directory for structures; file for catmap (e.g. energies.txt)")
    p.add_argument("--kind", default="adsorbate", choices=["adsorbate", "clean", "bulk", "gas"],
                   help="which structures (default adsorbate)")
    p.add_argument("--catalyst", help='only this catalyst, e.g. "Cu(100)"')
    p.add_argument("--adsorbate", help="only this adsorbate, e.g. NO3")
    p.add_argument("--job", help="only this job id")
    p.add_argument("--include-flagged", action="store_true", help="catmap: also flagged best sites (marked)")
    p.set_defaults(func=run)


def run(args) -> int:
    from descriptors.report.export import export_structures, write_catmap
    from descriptors.store import Store, is_url

    if not is_url(args.db) and not Path(args.db).is_file():
        return err(f"--db {args.db}: no such database; give the screen.db of a screen")
    store = Store(args.db if is_url(args.db) else Path(args.db))
    if args.what == "catmap":
        path, n = write_catmap(store, args.to, include_flagged=args.include_flagged)
        print(f"catmap energies: {path} ({n} adsorbate rows)")
        return 0
    paths = export_structures(store, args.what, args.to, kind=args.kind, catalyst=args.catalyst,
                              adsorbate=args.adsorbate, job_id=args.job)
    if not paths:
        return err(f"no stored {args.kind} structure matches (catalyst={args.catalyst!r}, adsorbate={args.adsorbate!r})")
    print(f"wrote {len(paths)} {args.what} files to {args.to}")
    return 0
